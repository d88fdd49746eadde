"""The Jinja environment shared by reports and the dashboard: autoescaping on for every template, and
every value a template shows passed through ``model.display.visible`` (bidirectional controls from
measurement data shown as ``[U+202E]``, never obeyed), so no page, report or feed can be made to
display one domain as another."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader
from markupsafe import Markup

from censorwatch.model.display import visible
from censorwatch.model.networks import network_label
from censorwatch.report.charts import COLORS, cell_status


def ts(v: Any) -> str:
    """ISO 8601 UTC with ``Z`` (minutes precision kept to seconds); '' for None."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def safe_url(v: Any) -> str | None:
    """The URL if it is plain http(s) with a host, else None: only such URLs become links."""
    if not isinstance(v, str) or len(v) > 4096:
        return None
    s = v.strip()
    if any(ord(c) < 0x21 for c in s):
        return None
    try:
        parts = urlsplit(s)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return s


def shown(v: Any) -> Any:
    """Every ``{{ value }}`` of a template: text with its bidirectional controls made visible (markup
    stays markup: charts and macros are built from values that went through here already)."""
    if isinstance(v, Markup):
        return Markup(visible(str(v)))
    if isinstance(v, str):
        return visible(v)
    return v


def network(asn: Any, name: str | None = None) -> str:
    """``PTCL (AS17557)`` from an AS number and its name (``network_name`` of the data)."""
    return network_label(asn if isinstance(asn, str) else None, name)


def networks(asns: Any, names: Any = None) -> str:
    """``network`` of each AS number, joined; ``names`` is the data's ``network_names`` list."""
    asns = list(asns or [])
    names = list(names or [])
    return ", ".join(network(a, names[i] if i < len(names) else None) for i, a in enumerate(asns))


def pretty_json(v: Any) -> str:
    return json.dumps(v, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@cache
def environment(extra: tuple[BaseLoader, ...] = ()) -> Environment:
    env = Environment(
        loader=ChoiceLoader([*extra, PackageLoader("censorwatch.report", "templates")]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,
    )
    env.filters["ts"] = ts
    env.filters["safe_url"] = safe_url
    env.filters["pretty_json"] = pretty_json
    env.filters["network"] = network
    env.filters["networks"] = networks
    env.globals["COLORS"] = COLORS
    env.globals["cell_status"] = cell_status
    return env
