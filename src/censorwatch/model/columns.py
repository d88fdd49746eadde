"""A column of a flat table row, in a type vocabulary the store maps to Arrow and to SQL.

The rows the store keeps per network step (``model/observations.py``) and per verdict
(``model/verdict.py``) are defined once as tuples of ``Column``; ``store/rows.py`` derives the Arrow
schemas and ``store/schema.py`` the SQL tables from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ColumnType = Literal["str", "int32", "int64", "float64", "bool", "timestamp", "str[]", "json"]
TYPES: Final[tuple[str, ...]] = ("str", "int32", "int64", "float64", "bool", "timestamp", "str[]", "json")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    #: one line for the reader of the SQL schema
    doc: str = ""
