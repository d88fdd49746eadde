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
    #: False: keep no events (long-lived connections that are not part of a measurement)
    record: bool = True

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
        if not self.record:
            return
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

    def step(
        self, name: str, *, address: str | None = None, proto: str | None = None, tid: int | None = None
    ) -> _Step:
        """Run one step: emit ``<name>_start``, then ``<name>_done`` with the mapped failure.

        Exceptions in ``errors.CAUGHT`` are mapped and swallowed (the caller reads ``result.failure``);
        anything else (cancellation, programming errors) propagates after a done event that says
        ``interrupted``.
        """
        return _Step(self, name, address, proto, tid)


class _Step:
    """The context manager behind ``Trace.step`` (a class: it runs several times per URL)."""

    __slots__ = ("address", "name", "proto", "res", "tid", "trace")

    def __init__(self, trace: Trace, name: str, address: str | None, proto: str | None, tid: int | None) -> None:
        self.trace, self.name, self.address, self.proto, self.tid = trace, name, address, proto, tid
        self.res = StepResult()

    def __enter__(self) -> StepResult:
        self.res.t0 = self.trace.now()
        self.trace.event(f"{self.name}_start", address=self.address, proto=self.proto,
                         transaction_id=self.tid, t0=self.res.t0)
        return self.res

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        res = self.res
        swallow = False
        if exc is not None:
            if isinstance(exc, errors.CAUGHT):
                res.failure, res.raw = errors.failure_of(exc)
                swallow = True
            else:
                res.failure = "interrupted"
        res.t = self.trace.now()
        self.trace.event(f"{self.name}_done", address=self.address, proto=self.proto,
                         transaction_id=self.tid, failure=res.failure, t0=res.t0)
        if not swallow and exc is not None:
            res.failure = None
        return swallow
