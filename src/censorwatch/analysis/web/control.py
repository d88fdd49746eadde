"""A typed, tolerant view of the test helper's answer (``test_keys.control``, methodology §4).

Old helpers lack ``tls_handshake``/``ip_info``; failed calls leave ``{}`` or null. Lengths and codes
of ``-1`` mean "failed" and are kept as given; nothing here raises.

The ``*_outcome`` methods answer "what did the control see at this step?" in the convention of the
facts (``analysis/web/facts.py``): ``None`` the control has no record of it, ``""`` it worked, else
the canonical failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from censorwatch.analysis.netaddr import parse_ip, split_endpoint
from censorwatch.analysis.web.addresses import canonical_ip
from censorwatch.model import failures

#: The TH's spellings of NXDOMAIN (current, legacy Python helper, measurement-kit).
TH_NXDOMAIN = frozenset({"dns_name_error", "dns_nxdomain_error", "dns_lookup_error"})

IP_FLAG_RESOLVED_BY_PROBE = 1
IP_FLAG_RESOLVED_BY_TH = 2
IP_FLAG_BOGON = 4
IP_FLAG_VALID_FOR_DOMAIN = 8


@dataclass(slots=True)
class ControlEndpoint:
    ip: str
    port: int | None
    ok: bool
    failure: str | None


@dataclass(slots=True)
class ControlTLS:
    ip: str
    port: int | None
    server_name: str | None
    ok: bool
    failure: str | None


@dataclass(slots=True)
class ControlHTTP:
    failure: str | None = None
    raw_failure: str | None = None
    status_code: int | None = None
    body_length: int | None = None
    title: str | None = None
    header_names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Control:
    """The control's answer. DNS and HTTP are read at once; the per-endpoint maps (which can hold
    hundreds of entries in newer measurements) are parsed on first use."""

    present: bool = False
    dns_present: bool = False
    dns_failure: str | None = None
    dns_raw_failure: str | None = None
    dns_addrs: list[str] = field(default_factory=list)
    #: the IP addresses among ``dns_addrs`` (old helpers also list CNAME targets there)
    dns_ips: list[str] = field(default_factory=list)
    http: ControlHTTP | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    _tcp: dict[str, ControlEndpoint] | None = None
    _tls: dict[str, ControlTLS] | None = None
    _ip_asn: dict[str, int] | None = None
    _ip_flags: dict[str, int] | None = None

    @property
    def dns_failed(self) -> bool:
        """The control got no usable address: a DNS failure, or only names (a dangling CNAME)."""
        return self.dns_present and (self.dns_failure is not None or not self.dns_ips)

    @property
    def dns_nxdomain(self) -> bool:
        """NXDOMAIN for the control; also a dangling CNAME whose fetch then failed with NXDOMAIN."""
        if self.dns_raw_failure in TH_NXDOMAIN or self.dns_failure == failures.DNS_NXDOMAIN:
            return True
        return (
            self.dns_present and self.dns_failure is None and not self.dns_ips and self.http is not None
            and self.http.failure == failures.DNS_NXDOMAIN
        )

    def dns_outcome(self) -> str | None:
        """The control's own lookup of the URL's host: ``""`` addresses, else why not (NXDOMAIN for a
        dangling CNAME whose fetch failed with NXDOMAIN, ``dns_no_answer`` for an empty answer)."""
        if not self.dns_present:
            return None
        if self.dns_ips and self.dns_failure is None:
            return ""
        if self.dns_nxdomain:
            return failures.DNS_NXDOMAIN
        if self.dns_failure is not None:
            return self.dns_failure
        return "" if self.dns_ips else failures.DNS_NO_ANSWER

    def http_outcome(self) -> str | None:
        """The control's fetch of the URL (redirects followed): ``""`` a page, else its failure."""
        if self.http is None:
            return None
        return self.http.failure or ""

    def _entry(self, key: str, ip: str, port: int | None) -> dict[str, Any] | None:
        """The helper's own record for ``ip:port`` (it spells IPv6 in brackets), looked up directly."""
        raw = self.raw.get(key)
        if not isinstance(raw, dict):
            return None
        v = raw.get(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
        return v if isinstance(v, dict) else None

    def tcp_outcome(self, ip: str, port: int | None) -> str | None:
        """The control's connect to ``ip:port`` (canonical ``ip``)."""
        v = self._entry("tcp_connect", ip, port)
        if v is None:
            c = self.tcp.get(f"{ip}:{port}")  # another spelling of the address
            if c is None:
                return None
            return "" if c.ok else (c.failure or failures.unknown("control connect failed"))
        return "" if v.get("status") is True else (failures.normalize(v.get("failure"))
                                                   or failures.unknown("control connect failed"))

    def tls_outcome(self, ip: str, port: int | None, server_name: str | None) -> str | None:
        """The control's handshake on ``ip:port`` with the same SNI (another SNI says nothing)."""
        v = self._entry("tls_handshake", ip, port)
        if v is None:
            c = self.tls.get(f"{ip}:{port}")  # another spelling of the address
            if c is None:
                return None
            ok, failure, sn = c.ok, c.failure, c.server_name
        else:
            ok, failure = v.get("status") is True, failures.normalize(v.get("failure"))
            sn = v.get("server_name") if isinstance(v.get("server_name"), str) else None
        if server_name and sn and sn.lower() != server_name.lower():
            return None
        return "" if ok else (failure or failures.unknown("control handshake failed"))

    @property
    def tcp(self) -> dict[str, ControlEndpoint]:
        """TCP results keyed by canonical ``ip:port``."""
        if self._tcp is None:
            self._tcp = {}
            raw = self.raw.get("tcp_connect")
            if isinstance(raw, dict):
                for ep, v in raw.items():
                    if isinstance(v, dict) and isinstance(ep, str):
                        ip, port = split_endpoint(ep)
                        ip = canonical_ip(ip)
                        self._tcp[f"{ip}:{port}"] = ControlEndpoint(
                            ip, port, v.get("status") is True, failures.normalize(v.get("failure"))
                        )
        return self._tcp

    @property
    def tls(self) -> dict[str, ControlTLS]:
        if self._tls is None:
            self._tls = {}
            raw = self.raw.get("tls_handshake")
            if isinstance(raw, dict):
                for ep, v in raw.items():
                    if isinstance(v, dict) and isinstance(ep, str):
                        ip, port = split_endpoint(ep)
                        ip = canonical_ip(ip)
                        sn = v.get("server_name")
                        self._tls[f"{ip}:{port}"] = ControlTLS(
                            ip, port, sn if isinstance(sn, str) else None, v.get("status") is True,
                            failures.normalize(v.get("failure")),
                        )
        return self._tls

    def _parse_ip_info(self) -> None:
        self._ip_asn, self._ip_flags = {}, {}
        info = self.raw.get("ip_info")
        if isinstance(info, dict):
            for ip, v in info.items():
                if not isinstance(v, dict) or not isinstance(ip, str):
                    continue
                ip = canonical_ip(ip)
                asn, flags = v.get("asn"), v.get("flags")
                if isinstance(asn, int) and not isinstance(asn, bool):
                    self._ip_asn[ip] = asn
                if isinstance(flags, int) and not isinstance(flags, bool):
                    self._ip_flags[ip] = flags

    def asn_of(self, ip: str) -> int:
        """The control's ASN for ``ip`` (0 when unknown); a direct lookup, no full parse of ``ip_info``."""
        info = self.raw.get("ip_info")
        if isinstance(info, dict):
            v = info.get(ip)
            if isinstance(v, dict):
                asn = v.get("asn")
                if isinstance(asn, int) and not isinstance(asn, bool):
                    return asn
        return 0

    @property
    def ip_asn(self) -> dict[str, int]:
        if self._ip_asn is None:
            self._parse_ip_info()
        return self._ip_asn  # type: ignore[return-value]

    @property
    def ip_flags(self) -> dict[str, int]:
        if self._ip_flags is None:
            self._parse_ip_info()
        return self._ip_flags  # type: ignore[return-value]

    @classmethod
    def from_raw(cls, raw: Any) -> Control:
        if not isinstance(raw, dict) or not raw:
            return cls()
        c = cls(present=True, raw=raw)
        dns = raw.get("dns")
        if isinstance(dns, dict):
            c.dns_present = True
            rf = dns.get("failure")
            c.dns_raw_failure = rf if isinstance(rf, str) else None
            c.dns_failure = failures.normalize(rf)
            addrs = dns.get("addrs")
            if isinstance(addrs, list):
                c.dns_addrs = [canonical_ip(a) for a in addrs if isinstance(a, str)]
                c.dns_ips = [a for a in c.dns_addrs if parse_ip(a) is not None]
        http = raw.get("http_request")
        if isinstance(http, dict) and http:
            headers = http.get("headers")
            code = http.get("status_code")
            blen = http.get("body_length")
            title = http.get("title")
            rf = http.get("failure")
            c.http = ControlHTTP(
                failure=failures.normalize(rf),
                raw_failure=rf if isinstance(rf, str) else None,
                status_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                body_length=blen if isinstance(blen, int) and not isinstance(blen, bool) else None,
                title=title if isinstance(title, str) else None,
                header_names=list(headers) if isinstance(headers, dict) else [],  # JSON keys are strings
            )
        return c
