"""Stable measurement uids: OONI's when the measurement has one, else derived from its content.

The derived uid hashes a canonical serialisation of the decoded object (keys sorted, compact), so
the same measurement gets the same uid whether it was read from a pretty-printed ``.json``, a line
of a ``.jsonl`` or either one gzipped.
"""

from __future__ import annotations

import orjson

from censorwatch.model.measurement import Measurement, derive_uid

#: nesting levels canonical JSON can have: the most orjson writes (it reads 1,024)
MAX_DEPTH = 254
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels: it cannot be written back as canonical JSON"


class NoUid(ValueError):
    """No uid can be derived for this measurement (the message says why)."""


def canonical_bytes(obj: object) -> bytes:
    """Compact JSON with sorted keys: equal objects give equal bytes, whatever their layout.
    ``NoUid`` for what orjson cannot write (nesting deeper than ``MAX_DEPTH``)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise NoUid(TOO_DEEP) from None


def stable_uid(m: Measurement) -> str:
    """``m.measurement_uid`` when OONI gave one, else ``derive_uid`` over the canonical bytes
    (``NoUid`` when there are none)."""
    if m.measurement_uid:
        return m.measurement_uid
    return derive_uid(m.measurement_start_time, m.probe_cc, m.test_name, canonical_bytes(m.raw))
