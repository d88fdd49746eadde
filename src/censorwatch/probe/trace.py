"""Timing and network events of one measurement, in OONI's ``network_events`` shape.

All times are seconds since the measurement started (``t0``/``t`` as OONI records them). Every step
emits a ``*_start`` event when it begins and a ``*_done`` event (with ``failure``) when it ends:
the started/complete/failed trace of each step. Byte-level ``read``/``write`` events carry
``num_bytes`` so slow reads (throttling) can be analysed later.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from censorwatch.probe import errors


@dataclass
class StepResult:
    """Filled in by ``Trace.step``: the failure (or None) and the times of the step."""

    t0: float = 0.0
    t: float = 0.0
    failure: str | None = None
    raw: str | None = None


@dataclass
class Trace:
    start: float = field(default_factory=time.monotonic)
    network_events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def now(self) -> float:
        return round(time.monotonic() - self.start, 6)

    def transaction_id(self) -> int:
        return next(self._ids)

    def event(
        self,
        operation: str,
        *,
        address: str | None = None,
        num_bytes: int | None = None,
        failure: str | None = None,
        t0: float | None = None,
        proto: str | None = None,
        transaction_id: int | None = None,
        **extra: Any,
    ) -> None:
        t = self.now()
        ev: dict[str, Any] = {
            "operation": operation,
            "address": address,
            "failure": failure,
            "num_bytes": num_bytes,
            "proto": proto,
            "t0": t if t0 is None else t0,
            "t": t,
            "transaction_id": transaction_id,
        }
        ev.update(extra)
        self.network_events.append(ev)

    @contextmanager
    def step(
        self, name: str, *, address: str | None = None, proto: str | None = None, tid: int | None = None
    ) -> Iterator[StepResult]:
        """Run one step: emit ``<name>_start``, then ``<name>_done`` with the mapped failure.

        Exceptions in ``errors.CAUGHT`` are mapped and swallowed (the caller reads ``result.failure``);
        anything else (cancellation, programming errors) propagates after the done event.
        """
        res = StepResult(t0=self.now())
        self.event(f"{name}_start", address=address, proto=proto, transaction_id=tid, t0=res.t0)
        try:
            yield res
        except errors.CAUGHT as exc:
            res.failure, res.raw = errors.failure_of(exc)
        except BaseException:
            res.t = self.now()
            self.event(f"{name}_done", address=address, proto=proto, transaction_id=tid,
                       failure="interrupted", t0=res.t0)
            raise
        res.t = self.now()
        self.event(f"{name}_done", address=address, proto=proto, transaction_id=tid,
                   failure=res.failure, t0=res.t0)
