"""Test fixture (not production code): a small analysed store written row by row with the real DDL.

It stands in for ``ingest`` + ``analyze`` output: measurements with zstd raw JSON, their verdicts,
aggregates computed with SQL from the verdicts, events and incidents. One measurement carries a hostile
blockpage (script tag, onerror image, javascript: link) for the XSS tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import zstandard

from censorwatch.store import schema

T0 = datetime(2024, 2, 14, 0, 0, 0)
BLOCK_AT = T0 + timedelta(days=2)
HOSTILE_UID = "20240216120000.000001_PK_webconnectivity_hostile0000001"
XSS_BODY = (
    '<html><head><title>Blocked</title><script>window.__xss = 1; alert("xss")</script></head>'
    '<body><img src="x" onerror="window.__xss = 2; alert(2)">'
    '<a href="javascript:window.__xss=3;alert(3)">appeal</a>'
    "<svg onload=\"window.__xss=4\"></svg></body></html>"
)
NETS = {"PK": ["AS1001", "AS1002"], "IR": ["AS2001"]}
TARGETS = ["x.com", "example.org"]
INCIDENT_PK = "inc-pk-x.com-20240216"
INCIDENT_IR = "inc-ir-example.org-20240215"
INCIDENT_OUTAGE = "inc-pk-outage-AS1002-20240215"


def _raw(uid: str, t: datetime, cc: str, asn: str, url: str, body: str, blocked_dns: bool) -> dict[str, Any]:
    host = url.split("/")[2]
    return {
        "measurement_uid": uid,
        "report_id": f"{t:%Y%m%dT%H%M%SZ}_webconnectivity_{cc}_{asn[2:]}_n1_fixture",
        "test_name": "web_connectivity",
        "test_version": "0.4.3",
        "data_format_version": "0.2.0",
        "software_name": "censorwatch-fixture",
        "software_version": "0.1.0",
        "probe_cc": cc,
        "probe_asn": asn,
        "input": url,
        "measurement_start_time": t.strftime("%Y-%m-%d %H:%M:%S"),
        "test_start_time": t.strftime("%Y-%m-%d %H:%M:%S"),
        "annotations": {},
        "test_keys": {
            "queries": [{
                "hostname": host, "query_type": "A", "engine": "system", "resolver_address": "",
                "failure": "dns_nxdomain_error" if blocked_dns else None,
                "answers": [] if blocked_dns else [{"answer_type": "A", "ipv4": "198.18.0.10"}],
            }],
            "tcp_connect": [] if blocked_dns else [{"ip": "198.18.0.10", "port": 443, "status": {"success": True, "failure": None}}],
            "requests": [] if blocked_dns else [{
                "request": {"url": url, "method": "GET", "headers": {}},
                "failure": None,
                "response": {"code": 200, "headers": {"Content-Type": "text/html", "X-Evil": "<b>h</b>"}, "body": body},
            }],
            "blocking": "dns" if blocked_dns else False,
        },
    }


def build(path: Path) -> dict[str, Any]:
    """Write the fixture store at ``path``; return facts the tests assert against."""
    con = duckdb.connect(str(path))
    for ddl in schema.ALL:
        con.execute(ddl)
    zc = zstandard.ZstdCompressor()
    mrows, vrows = [], []
    n = 0
    for cc, asns in NETS.items():
        for asn in asns:
            for target in TARGETS:
                for h in range(0, 96, 2):
                    t = T0 + timedelta(hours=h, minutes=7)
                    n += 1
                    uid = f"{t:%Y%m%d%H%M%S}.{n:06d}_{cc}_webconnectivity_{n:016x}"
                    url = f"https://{target}/"
                    status, method, rule, body, dns = "ok", None, "wc.ok", "<html>fine</html>", False
                    if cc == "PK" and target == "x.com" and t >= BLOCK_AT:
                        if asn == "AS1001":
                            status, method, rule, body = "confirmed", "http.blockpage", "wc.http.blockpage", XSS_BODY
                        else:
                            status, method, rule, dns = "anomaly", "dns.nxdomain", "wc.dns.nxdomain", True
                    if cc == "IR" and target == "example.org" and T0 + timedelta(days=1) <= t < T0 + timedelta(days=2):
                        status, method, rule, dns = "anomaly", "dns.nxdomain", "wc.dns.nxdomain", True
                    if cc == "PK" and asn == "AS1001" and target == "x.com" and h == 60:
                        uid = HOSTILE_UID
                    raw = orjson.dumps(_raw(uid, t, cc, asn, url, body, dns))
                    mrows.append((uid, None, "web_connectivity", url, target, cc, asn, t, "censorwatch-fixture",
                                  "0.1.0", False, "fixture", t, len(raw), zc.compress(raw)))
                    expl = f"{status}: {method or 'no interference'} <img src=x onerror=alert(9)>"
                    vrows.append((uid, "fixture-1", status, method, rule, expl, None, None, None, status == "ok",
                                  None, None, None, None, None, None, "web_connectivity", cc, asn, url, target, t, "{}"))
    # inline zstd raw (the schema-1 layout, still read): no raw parts needed for a fixture
    con.executemany("INSERT INTO measurements (measurement_uid, report_id, test_name, input, domain, probe_cc, "
                    "probe_asn, measurement_start_time, software_name, software_version, is_lab, source, "
                    "ingested_at, raw_size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", mrows)
    con.executemany(
        """INSERT INTO verdicts (measurement_uid, rules_version, status, method, rule, explanation, fingerprint_id,
           fingerprint_scope, blocking, accessible, dns_consistency, body_length_match, body_proportion,
           status_code_match, headers_match, title_match, test_name, probe_cc, probe_asn, input, domain,
           measurement_start_time, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        vrows,
    )
    for table, _col, trunc in (("agg_hourly", "hour", "hour"), ("agg_daily", "day", "day")):
        cast = "CAST(date_trunc('day', measurement_start_time) AS DATE)" if trunc == "day" else "date_trunc('hour', measurement_start_time)"
        con.execute(f"""INSERT INTO {table} SELECT probe_cc, probe_asn, domain, {cast}, count(*),
            count(*) FILTER (status = 'ok'), count(*) FILTER (status = 'anomaly'), count(*) FILTER (status = 'confirmed'),
            count(*) FILTER (status = 'down'), count(*) FILTER (status = 'failure'),
            count(*) FILTER (status = 'measured'), NULL
            FROM verdicts GROUP BY ALL""")
    con.execute("""INSERT INTO volume_hourly SELECT probe_cc, probe_asn, date_trunc('hour', measurement_start_time),
                   count(*), count(*) FILTER (status <> 'down') FROM verdicts GROUP BY ALL""")
    pk_ev = [r[0] for r in con.execute(
        "SELECT measurement_uid FROM verdicts WHERE probe_cc='PK' AND domain='x.com' AND status <> 'ok'").fetchall()]
    ir_ev = [r[0] for r in con.execute(
        "SELECT measurement_uid FROM verdicts WHERE probe_cc='IR' AND status <> 'ok'").fetchall()]
    now = T0 + timedelta(days=4)
    con.execute("INSERT INTO events VALUES (?, 'blocking', 'bayes', 'PK', 'AS1001', ['AS1001'], 'x.com', ?, NULL, "
                "'http.blockpage', 'confirmed', ?, ?, '{}')", ["ev-pk-1001", BLOCK_AT, len(pk_ev) // 2, pk_ev[: len(pk_ev) // 2]])
    con.execute("INSERT INTO events VALUES (?, 'blocking', 'bayes', 'PK', 'AS1002', ['AS1002'], 'x.com', ?, NULL, "
                "'dns.nxdomain', 'likely', ?, ?, '{}')", ["ev-pk-1002", BLOCK_AT, len(pk_ev) // 2, pk_ev[len(pk_ev) // 2:]])
    con.execute("INSERT INTO events VALUES (?, 'outage', 'bayes', 'PK', 'AS1002', ['AS1002'], NULL, ?, ?, "
                "'outage', 'likely', 10, [], '{}')", ["ev-pk-outage", T0 + timedelta(hours=30), T0 + timedelta(hours=34)])
    con.execute(
        """INSERT INTO incidents VALUES (?, 'PK', 'x.com', 'blocking', ['AS1001', 'AS1002'], ['http.blockpage', 'dns.nxdomain'],
           ?, NULL, 'confirmed', 'inc.confirmed.fingerprint', 'a known blockpage <b>fingerprint</b> on AS1001', ['ev-pk-1001', 'ev-pk-1002'],
           ?, ?, ?, '{}')""",
        [INCIDENT_PK, BLOCK_AT, pk_ev, len(pk_ev), now],
    )
    con.execute(
        """INSERT INTO incidents VALUES (?, 'IR', 'example.org', 'blocking', ['AS2001'], ['dns.nxdomain'],
           ?, ?, 'likely', 'inc.likely.persistent', 'NXDOMAIN on every measurement for 24 hours', [], ?, ?, ?, '{}')""",
        [INCIDENT_IR, T0 + timedelta(days=1), T0 + timedelta(days=2), ir_ev, len(ir_ev), now],
    )
    con.execute(
        """INSERT INTO incidents VALUES (?, 'PK', NULL, 'outage', ['AS1002'], ['outage'], ?, ?, 'likely',
           'inc.likely.outage', 'measurement volume fell to zero on AS1002', ['ev-pk-outage'], [], 10, ?, '{}')""",
        [INCIDENT_OUTAGE, T0 + timedelta(hours=30), T0 + timedelta(hours=34), now],
    )
    con.close()
    return {"measurements": n, "pk_evidence": len(pk_ev), "ir_evidence": len(ir_ev)}
