"""The names for people the store learned from measurements (tables network_names and target_inputs),
as a ``model.names.Names``. Stores written before those tables existed give empty maps."""

from __future__ import annotations

import duckdb

from censorwatch.model.names import Names
from censorwatch.model.targets import PLATFORM_TESTS, VPN_PROTOCOLS

#: targets whose label needs their test and input (the others are host names, shown as they are)
_NAMED_TESTS = sorted(PLATFORM_TESTS | set(VPN_PROTOCOLS))


def names(con: duckdb.DuckDBPyConnection) -> Names:
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name IN ('network_names', 'target_inputs')").fetchall()}
    networks: dict[str, str] = {}
    targets: dict[str, tuple[str, str | None]] = {}
    if "network_names" in have:
        networks = dict(con.execute("SELECT asn, name FROM network_names").fetchall())
    if "target_inputs" in have:
        targets = {d: (t, i) for d, t, i in con.execute(
            "SELECT domain, test_name, input FROM target_inputs WHERE list_contains(?, test_name)",
            [_NAMED_TESTS]).fetchall()}
    return Names(networks, targets)
