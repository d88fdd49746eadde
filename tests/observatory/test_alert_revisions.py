"""Alerts while detection revises incidents as data arrives: a revised incident (new id, same kind,
country and target, overlapping) is not a new one; one that disappears is withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from censorwatch.model.events import Incident
from censorwatch.store import alerts
from censorwatch.store.db import Store
from censorwatch.store.detection import replace_incidents

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _inc(start_s: int, end_s: int | None = None, confidence: str = "suspected", kind: str = "outage",
         target: str | None = None) -> Incident:
    return Incident(kind=kind, cc="PK", target=target, asns=["AS24499"], methods=["outage"],  # type: ignore[arg-type]
                    start=T + timedelta(seconds=start_s), end=None if end_s is None else T + timedelta(seconds=end_s),
                    confidence=confidence, confidence_rule="inc.suspected", confidence_reason="one network, short",  # type: ignore[arg-type]
                    event_ids=[], evidence=[], measurements=3)


def _events(store: Store, later: float = 0.0) -> list[tuple[str, str, str | None]]:
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=later)
    return [(e.event, e.incident_id, e.replaces) for e in alerts.diff_incidents(store.con, now=now)]


def test_a_revised_incident_alerts_as_the_same_one_and_a_vanished_one_is_withdrawn() -> None:
    with Store(":memory:") as store:
        first = _inc(90)
        replace_incidents(store.con, "PK", [first])
        assert _events(store) == [("started", first.id, None)]
        # a late measurement moves the start: a new id, the same outage; no second "started"
        revised = _inc(100)
        replace_incidents(store.con, "PK", [revised])
        assert revised.id != first.id and _events(store) == []
        # it ends and its confidence changes: alerted under the new id, saying which it replaces
        done = _inc(100, 140, confidence="likely")
        assert done.id == revised.id
        replace_incidents(store.con, "PK", [done])
        assert _events(store) == [("confidence_changed", done.id, None), ("ended", done.id, None)]
        # gone for one pass, back the next: nothing to say
        replace_incidents(store.con, "PK", [])
        assert _events(store) == []
        replace_incidents(store.con, "PK", [done])
        assert _events(store, later=120) == []
        # a block of another target elsewhere in time is a new incident; the outage gone for good is
        # withdrawn once it stayed gone a minute
        block = _inc(300, kind="blocking", target="x.com")
        replace_incidents(store.con, "PK", [block])
        assert _events(store) == [("started", block.id, None)]
        assert _events(store, later=30) == []
        assert _events(store, later=61) == [("withdrawn", done.id, None)]
        assert _events(store, later=200) == []


def test_withdrawn_payloads_carry_no_link() -> None:
    import orjson

    from censorwatch.pipeline.alerts import payload

    with Store(":memory:") as store:
        inc = _inc(0)
        replace_incidents(store.con, "PK", [inc])
        alerts.diff_incidents(store.con)
        replace_incidents(store.con, "PK", [])
        assert alerts.diff_incidents(store.con) == []
        (ev,) = alerts.diff_incidents(store.con, now=datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=2))
        body = orjson.loads(payload(ev, "http://dash"))
        assert body["event"] == "withdrawn" and body["url"] is None and body["incident"]["id"] == inc.id
