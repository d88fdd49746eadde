"""Per-step timeouts (seconds). OONI's defaults: DNS 4, TCP 10, TLS 10, HTTP 10, test helper 30."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timeouts:
    dns: float = 4.0
    tcp: float = 10.0
    tls: float = 10.0
    #: from sending the request to the end of the response headers
    http_headers: float = 10.0
    #: for the whole body of one response
    http_body: float = 10.0
    #: one test-helper (control) call
    control: float = 30.0

    @classmethod
    def uniform(cls, seconds: float) -> Timeouts:
        return cls(seconds, seconds, seconds, seconds, seconds, seconds)
