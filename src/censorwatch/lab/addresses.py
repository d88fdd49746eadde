"""The lab's address plan. Everything lives in 198.18.0.0/15 (RFC 2544 benchmarking space).

- 198.18.0.0/16: the simulated public internet (one internet namespace holds all its hosts);
- 198.19.N.0/24: ISP network N (client .2, censor .1, the ISP's transparent proxy .3);
- 198.19.(100+N).0/30: the link from ISP N's censor (.2) to the internet (.1).
"""

from __future__ import annotations

import ipaddress
from typing import Final

LAB_NET: Final = ipaddress.ip_network("198.18.0.0/15")
INTERNET_NET: Final = ipaddress.ip_network("198.18.0.0/16")
ISP_NETS: Final = ipaddress.ip_network("198.19.0.0/17")
MAX_NETWORKS: Final = 100

BLOCKPAGE: Final = "198.18.66.66"
CONTROL: Final = "198.18.0.10"
COLLECTOR: Final = "198.18.0.80"  # the world's collector host (lab/relay.py)
PUBLIC_RESOLVERS: Final = ("198.18.0.53", "198.18.0.54")
BENCH: Final = "198.18.9.1"


def isp_client(n: int) -> str:
    return f"198.19.{n}.2"


def isp_gateway(n: int) -> str:
    return f"198.19.{n}.1"


def isp_proxy(n: int) -> str:
    return f"198.19.{n}.3"


def isp_resolver(n: int) -> str:
    return f"198.18.53.{n + 1}"


def uplink_inet(n: int) -> str:
    return f"198.19.{100 + n}.1"


def uplink_censor(n: int) -> str:
    return f"198.19.{100 + n}.2"


def in_lab(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr) in LAB_NET
    except ValueError:
        return False


def is_isp_client(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr) in ISP_NETS
    except ValueError:
        return False
