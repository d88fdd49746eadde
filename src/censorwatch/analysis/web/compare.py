"""The final page against the control's (OONI's ``*_match`` keys and its http-diff algorithm)."""

from __future__ import annotations

from dataclasses import dataclass

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.web.control import Control
from censorwatch.model.observations import HTTPResponse


@dataclass(frozen=True, slots=True)
class Comparison:
    body_proportion: float | None = None
    body_length_match: bool | None = None
    status_code_match: bool | None = None
    headers_match: bool | None = None
    title_match: bool | None = None

    @property
    def page_matches(self) -> bool:
        """OONI's http-diff algorithm: no diff when the codes match and so does the body length, the
        uncommon headers or the title."""
        return bool(self.status_code_match) and bool(
            self.body_length_match or self.headers_match or self.title_match
        )


NOTHING = Comparison()


def compare(r: HTTPResponse | None, control: Control) -> Comparison:
    t = control.http
    if r is None or t is None or t.failure is not None:
        return NOTHING
    proportion = hc.body_proportion(r.body_length, t.body_length, r.body_is_truncated)
    return Comparison(
        body_proportion=proportion,
        body_length_match=hc.body_length_match(proportion),
        status_code_match=hc.status_code_match(r.code, t.status_code),
        headers_match=hc.headers_match(r.headers.keys(), t.header_names, r.code, t.status_code),
        title_match=hc.title_match(r.body, t.title, r.code, t.status_code, r.body_is_truncated),
    )
