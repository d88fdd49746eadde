"""Stable measurement uids: OONI's when the measurement has one, else derived from its content.

The derived uid hashes a canonical serialisation of the decoded object (keys sorted, compact), so
the same measurement gets the same uid whether it was read from a pretty-printed ``.json``, a line
of a ``.jsonl`` or either one gzipped.
"""

from __future__ import annotations

import orjson

from censorwatch.model.measurement import Measurement, derive_uid


def canonical_bytes(obj: object) -> bytes:
    """Compact JSON with sorted keys: equal objects give equal bytes, whatever their layout."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def stable_uid(m: Measurement) -> str:
    """``m.measurement_uid`` when OONI gave one, else ``derive_uid`` over the canonical bytes."""
    if m.measurement_uid:
        return m.measurement_uid
    return derive_uid(m.measurement_start_time, m.probe_cc, m.test_name, canonical_bytes(m.raw))
