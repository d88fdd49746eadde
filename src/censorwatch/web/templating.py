"""The dashboard's Jinja environment: the report environment plus the web templates (autoescaped)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader

from censorwatch.report.render import environment


@cache
def templates() -> Environment:
    return environment((PackageLoader("censorwatch.web", "templates"),))
