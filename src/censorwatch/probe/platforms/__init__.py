"""The platform catalogue (data: ``catalogue.yaml``) and its loader.

``load()`` validates the YAML and returns ``{name: Platform}``; errors name the platform, the endpoint
index and the key. ``{a..b}`` in a ``tcp`` host expands to one endpoint per number (WhatsApp's
``e1..e16``). ``hostnames()`` is every name the catalogue measures: what a lab world must serve.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

PARTS: Final = ("web", "api", "media", "app")
_RANGE: Final = re.compile(r"\{(\d+)\.\.(\d+)\}")


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PlatformEndpoint:
    id: str
    part: str
    kind: str  # "url" | "tcp"
    target: str  # URL or host:port
    key: str | None = None  # OONI per-endpoint key prefix (facebook_messenger)

    @property
    def host(self) -> str:
        if self.kind == "url":
            return (urlsplit(self.target).hostname or "").lower()
        return self.target.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        if self.kind == "url":
            u = urlsplit(self.target)
            return u.port or (443 if u.scheme == "https" else 80)
        return int(self.target.rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    title: str
    ooni_test: str | None
    endpoints: tuple[PlatformEndpoint, ...]

    @property
    def test_name(self) -> str:
        return self.ooni_test or "platform"

    def parts(self) -> list[str]:
        return [p for p in PARTS if any(e.part == p for e in self.endpoints)]


def _expand(template: str) -> list[str]:
    m = _RANGE.search(template)
    if not m:
        return [template]
    lo, hi = int(m.group(1)), int(m.group(2))
    return [template[: m.start()] + str(n) + template[m.end() :] for n in range(lo, hi + 1)]


def _endpoint(pname: str, i: int, raw: Any) -> list[PlatformEndpoint]:
    where = f"platforms.{pname}.endpoints[{i}]"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a mapping")
    unknown = set(raw) - {"part", "url", "tcp", "key"}
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    part = raw.get("part")
    if part not in PARTS:
        raise CatalogueError(f"{where}.part: must be one of {', '.join(PARTS)}, got {part!r}")
    if ("url" in raw) == ("tcp" in raw):
        raise CatalogueError(f"{where}: give exactly one of url or tcp")
    if "url" in raw:
        u = urlsplit(str(raw["url"]))
        if u.scheme not in ("http", "https") or not u.hostname:
            raise CatalogueError(f"{where}.url: not an http(s) URL: {raw['url']!r}")
        return [PlatformEndpoint(f"{pname}:{part}:{raw['url']}", part, "url", str(raw["url"]), raw.get("key"))]
    out = []
    for target in _expand(str(raw["tcp"])):
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CatalogueError(f"{where}.tcp: expected host:port, got {target!r}")
        out.append(PlatformEndpoint(f"{pname}:{part}:{target}", part, "tcp", target, raw.get("key")))
    return out


def parse(doc: Any) -> dict[str, Platform]:
    if not isinstance(doc, dict) or not isinstance(doc.get("platforms"), dict):
        raise CatalogueError("catalogue: expected a mapping with 'platforms'")
    out: dict[str, Platform] = {}
    for name, raw in doc["platforms"].items():
        if not isinstance(raw, dict) or not isinstance(raw.get("endpoints"), list) or not raw["endpoints"]:
            raise CatalogueError(f"platforms.{name}: expected a mapping with a non-empty 'endpoints' list")
        eps = [e for i, r in enumerate(raw["endpoints"]) for e in _endpoint(name, i, r)]
        out[name] = Platform(name, str(raw.get("name") or name), raw.get("ooni_test"), tuple(eps))
    return out


def load(path: Path | None = None) -> dict[str, Platform]:
    """The shipped catalogue, or the one at ``path``."""
    try:
        if path is None:
            text = resources.files("censorwatch.probe.platforms").joinpath("catalogue.yaml").read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise CatalogueError(f"{path or 'catalogue.yaml'}: {e}") from None
    return parse(doc)


def hostnames(catalogue: dict[str, Platform] | None = None) -> list[str]:
    cat = catalogue or load()
    return sorted({e.host for p in cat.values() for e in p.endpoints if not _is_ip(e.host)})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
