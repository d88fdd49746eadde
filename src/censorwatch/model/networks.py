"""Networks by the names people know them by, not bare AS numbers (pure, standard library only).

A network's name comes from, first that knows it:

1. ``KNOWN``, a small table written by us: the networks of Pakistan and the largest networks of
   other countries often in the news for blocks and shutdowns, each under its common (brand) name,
   with the registry record (RDAP) where its holder can be checked;
2. the name the measurements gave (OONI's ``probe_network_name``; a lab world's network names reach
   the measurements the same way, through the control server's ASN map), as ``seen``;
3. nothing: the AS number alone.

Labels keep the number beside the name (``PTCL (AS17557)``): a journalist reads the name, a
researcher checks the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_ASN_RE: Final = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)
#: names longer than this (registry names can be long) are cut, with an ellipsis, in labels
LABEL_NAME_MAX: Final = 40


@dataclass(frozen=True, slots=True)
class KnownNetwork:
    asn: str  # "AS17557"
    name: str  # what people call it
    cc: str
    source: str  # the registry record of the AS number


def _row(asn: int, name: str, cc: str) -> KnownNetwork:
    return KnownNetwork(f"AS{asn}", name, cc, f"https://rdap.org/autnum/{asn}")


KNOWN: Final[dict[str, KnownNetwork]] = {n.asn: n for n in (
    # Pakistan
    _row(17557, "PTCL", "PK"),  # Pakistan Telecommunication Company Limited
    _row(45595, "PTCL", "PK"),  # PTCL's second AS
    _row(45669, "Jazz", "PK"),  # Pakistan Mobile Communications Limited (Mobilink)
    _row(23674, "Nayatel", "PK"),
    _row(59257, "Zong", "PK"),  # CMPak Limited
    _row(24499, "Telenor Pakistan", "PK"),
    _row(38264, "Wateen", "PK"),  # Wateen Telecom's WiMAX/IMS network
    _row(38193, "Transworld (TWA)", "PK"),  # Transworld Associates, international transit
    _row(9541, "Cybernet", "PK"),  # Cyber Internet Services (StormFiber)
    # Iran
    _row(197207, "MCI (Hamrah-e Avval)", "IR"),  # Mobile Communication Company of Iran
    _row(44244, "Irancell", "IR"),
    _row(58224, "TCI", "IR"),  # Iran Telecommunication Company
    _row(12880, "ITC (DCI)", "IR"),  # Information Technology Company, the international gateway
    _row(57218, "RighTel", "IR"),
    # Russia
    _row(12389, "Rostelecom", "RU"),
    _row(8359, "MTS", "RU"),
    _row(3216, "Beeline", "RU"),  # PJSC VimpelCom
    _row(31133, "MegaFon", "RU"),
    # Turkey
    _row(9121, "Türk Telekom", "TR"),
    _row(16135, "Turkcell", "TR"),
    _row(15897, "Vodafone Turkey", "TR"),
    # China
    _row(4134, "China Telecom", "CN"),
    _row(4837, "China Unicom", "CN"),
    _row(9808, "China Mobile", "CN"),
    # India
    _row(55836, "Reliance Jio", "IN"),
    _row(45609, "Airtel (mobile)", "IN"),
    _row(9498, "Airtel", "IN"),
    # Myanmar
    _row(9988, "MPT", "MM"),  # Myanma Posts and Telecommunications
    _row(136255, "Mytel", "MM"),
    # Ethiopia, Egypt, Bangladesh
    _row(24757, "Ethio Telecom", "ET"),
    _row(8452, "TE Data (WE)", "EG"),
    _row(36935, "Vodafone Egypt", "EG"),
    _row(24389, "Grameenphone", "BD"),
    _row(45245, "Banglalink", "BD"),
    # Venezuela, Belarus, Kazakhstan
    _row(8048, "CANTV", "VE"),
    _row(6697, "Beltelecom", "BY"),
    _row(9198, "Kazakhtelecom", "KZ"),
)}


def normal_asn(asn: str | int | None) -> str | None:
    """``AS123`` from ``AS123``, ``as123``, ``123``; None for anything else."""
    if asn is None or isinstance(asn, bool):
        return None
    m = _ASN_RE.match(str(asn).strip())
    return f"AS{int(m.group(1))}" if m else None


def _clean(name: str | None) -> str | None:
    """A measured name fit to show: one line of printable text, or None."""
    if not name:
        return None
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())
    if not text or normal_asn(text) is not None:
        return None
    return text if len(text) <= LABEL_NAME_MAX else text[:LABEL_NAME_MAX - 1].rstrip() + "…"


def network_name(asn: str | int | None, seen: str | None = None) -> str | None:
    """The name of ``asn`` (see the module doc), or None when only the number is known."""
    key = normal_asn(asn)
    known = KNOWN.get(key) if key else None
    return known.name if known else _clean(seen)


def network_label(asn: str | int | None, seen: str | None = None) -> str:
    """``PTCL (AS17557)``; the number alone when no name is known; ``""`` without a number."""
    key = normal_asn(asn)
    if key is None:
        return "" if asn is None else str(asn)
    name = network_name(key, seen)
    return f"{name} ({key})" if name else key
