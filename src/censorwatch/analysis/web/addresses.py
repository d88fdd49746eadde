"""One spelling per address, remembered: a corpus repeats the same addresses many times."""

from __future__ import annotations

from functools import lru_cache

from censorwatch.analysis.netaddr import canonical_ip as _canonical_ip

canonical_ip = lru_cache(maxsize=65536)(_canonical_ip)
