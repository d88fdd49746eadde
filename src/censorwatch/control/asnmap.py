"""An optional local address -> (ASN, country, AS name) map, so the control server can tell a probe
its network without asking a third party.

File format: CSV with the header ``network,asn,cc,as_name`` (``network`` is a CIDR, ``asn`` an
integer or ``AS123``); blank lines and lines starting with ``#`` are ignored. The most specific
network wins.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ASInfo:
    asn: int
    cc: str | None
    as_name: str | None


class ASNMap:
    def __init__(self, entries: list[tuple[Network, ASInfo]] | None = None) -> None:
        self._entries = sorted(entries or [], key=lambda e: e[0].prefixlen, reverse=True)

    @classmethod
    def load(cls, path: Path) -> ASNMap:
        """Parse the file; ValueError with ``path:line: reason`` on bad input."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read: {exc}") from exc
        rows = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")]
        if not rows:
            return cls()
        reader = csv.reader([ln for _, ln in rows])
        header = [h.strip().lower() for h in next(reader)]
        if header[:2] != ["network", "asn"]:
            raise ValueError(f"{path}:{rows[0][0]}: expected the header network,asn,cc,as_name")
        entries: list[tuple[Network, ASInfo]] = []
        for (lineno, _), row in zip(rows[1:], reader, strict=False):
            try:
                net = ipaddress.ip_network(row[0].strip(), strict=False)
                asn = int(row[1].strip().upper().removeprefix("AS"))
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from None
            cc = row[2].strip().upper() if len(row) > 2 and row[2].strip() else None
            name = row[3].strip() if len(row) > 3 and row[3].strip() else None
            entries.append((net, ASInfo(asn, cc, name)))
        return cls(entries)

    def lookup(self, ip: str) -> ASInfo | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, info in self._entries:
            if addr.version == net.version and addr in net:
                return info
        return None
