"""Watching a running observatory the way its users do: its incidents (the dashboard's API), the
alerts a webhook receives, the entries of its Atom feed. ``poll`` returns what is new since the last
call, so the demo can show each as it happens and the benchmarks can time them."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from censorwatch.observatory.client import Client, ServiceError
from censorwatch.observatory.receiver import Delivery, Receiver

ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(frozen=True, slots=True)
class News:
    kind: str  # incident | confidence | ended | withdrawn | webhook | feed
    at: float  # wall clock when it was seen
    incident: dict[str, Any]
    detail: str = ""
    delivery: Delivery | None = None


class Watcher:
    def __init__(self, client: Client, receiver: Receiver | None = None) -> None:
        self.client = client
        self.receiver = receiver
        self.incidents: dict[str, dict[str, Any]] = {}
        self.feed_ids: set[str] = set()
        self._deliveries = 0

    def poll(self) -> list[News]:
        now = time.time()
        out: list[News] = []
        try:
            current = {i["id"]: i for i in self.client.incidents()}
        except ServiceError:
            return []
        for iid, inc in current.items():
            old = self.incidents.get(iid)
            if old is None:
                out.append(News("incident", now, inc))
            else:
                if old["confidence"] != inc["confidence"]:
                    out.append(News("confidence", now, inc, f"{old['confidence']} -> {inc['confidence']}"))
                if old["end"] is None and inc["end"] is not None:
                    out.append(News("ended", now, inc))
            self.incidents[iid] = inc
        for iid in [i for i in self.incidents if i not in current]:
            out.append(News("withdrawn", now, self.incidents.pop(iid)))
        if self.receiver is not None:
            for d in self.receiver.since(self._deliveries):
                self._deliveries += 1
                inc = d.payload.get("incident") or {}
                out.append(News("webhook", d.received, inc, d.event, d))
        out += self._feed(now)
        return out

    def _feed(self, now: float) -> list[News]:
        try:
            xml = self.client.request("GET", "/feeds/incidents.atom").content
            root = ET.fromstring(xml)
        except (ServiceError, ET.ParseError):
            return []
        out = []
        for entry in root.iter(f"{ATOM}entry"):
            eid = (entry.findtext(f"{ATOM}id") or "").strip()
            if eid and eid not in self.feed_ids:
                self.feed_ids.add(eid)
                out.append(News("feed", now, {"id": eid}, (entry.findtext(f"{ATOM}title") or "").strip()))
        return out
