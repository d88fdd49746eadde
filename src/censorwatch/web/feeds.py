"""Atom feed of incidents (RFC 4287), filterable by country and target."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

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
#: atom:id values when no public URL is configured: stable, never derived from a request
TAG_BASE = "tag:censorwatch.invalid,2024:"


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
    updated = max((i["updated_at"] for i in page.items), default=datetime(1970, 1, 1))
    title = "censorwatch incidents" + (f" in {c}" if c else "") + (f" about {t}" if t else "")
    query = urlencode({k: v for k, v in (("cc", c), ("target", t)) if v})
    path = "/feeds/incidents.atom" + (f"?{query}" if query else "")
    # Links never come from the request (its Host header is the client's to choose): the configured
    # public URL, else links relative to the feed's own address and tag: ids (RFC 4151).
    base = (request.app.state.base_url or "").rstrip("/")
    id_base = base or TAG_BASE
    xml = templates().get_template("feed.atom.xml").render(
        items=add_names(page.items, data.names_of(con)), base=base, id_base=id_base, self_url=base + path,
        updated=updated, title=title, feed_id=id_base + path,
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
