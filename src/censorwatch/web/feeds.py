"""Atom feed of incidents (RFC 4287), filterable by country and target."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from censorwatch.model.names import add_names
from censorwatch.store import views
from censorwatch.web import data, params
from censorwatch.web.deps import cursor
from censorwatch.web.templating import templates

router = APIRouter(include_in_schema=True, tags=["feeds"])
FEED_SIZE = 50


@router.get("/feeds/incidents.atom", response_class=Response, summary="Atom feed of incidents (?cc=, ?target=)",
            responses={200: {"content": {"application/atom+xml": {}}}})
def incidents_feed(
    request: Request,
    con: Annotated[duckdb.DuckDBPyConnection, Depends(cursor)],
    cc: str | None = None,
    target: str | None = None,
) -> Response:
    c, t = params.cc(cc), params.target(target)
    page = views.incidents(con, cc=c, target=t, include_false_positives=False, limit=FEED_SIZE)
    base = str(request.base_url).rstrip("/")
    updated = max((i["updated_at"] for i in page.items), default=datetime(1970, 1, 1))
    title = "censorwatch incidents" + (f" in {c}" if c else "") + (f" about {t}" if t else "")
    xml = templates().get_template("feed.atom.xml").render(
        items=add_names(page.items, data.names_of(con)), base=base, self_url=str(request.url), updated=updated, title=title,
        feed_id=f"{base}/feeds/incidents.atom" + (f"?cc={c}" if c else "") + ((("&" if c else "?") + f"target={t}") if t else ""),
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
