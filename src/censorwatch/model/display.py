"""Text from measurements, made safe to show to people (pages, reports, CSV cells, feeds).

Measurement data is written by whoever ran the probe, and by the networks it measured: a target can be
``x.com\\u202emoc.elgoog`` and display as another domain, a CSV cell can be a spreadsheet formula.
What is *shown* is neutralised here; what is *stored* (the raw bytes, the evidence log) and what the
JSON API returns stay exactly as measured.

- ``visible``: every bidirectional control character (and the deprecated format characters next to
  them) is replaced by a visible ``[U+202E]``, so it can neither reorder the text around it nor hide.
- ``csv_cell``: a cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) gets a leading ``'``, which spreadsheets show as text; then
  ``visible``.
"""

from __future__ import annotations

from typing import Final

#: Unicode's bidirectional formatting characters (UAX #9: explicit embeddings, overrides and isolates,
#: the implicit marks) and the deprecated format characters U+206A-U+206F that can also disturb display
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f"
)
_VISIBLE: Final = {ord(c): f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS}
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def visible(text: str) -> str:
    """``text`` with every bidirectional control shown as ``[U+XXXX]``."""
    if text.isascii():
        return text
    return text.translate(_VISIBLE)


def csv_cell(text: str) -> str:
    """A CSV cell's text that no spreadsheet runs as a formula, bidi controls made visible."""
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return visible(text)
