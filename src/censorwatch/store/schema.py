"""DuckDB schema: the single source of every table's shape.

Areas add tables here (additively) so that writers (pipeline, collector) and readers (web, report)
agree. Times are ``TIMESTAMP`` holding UTC. Lists are DuckDB ``VARCHAR[]``; free-form facts ``JSON``.
"""

from __future__ import annotations

from censorwatch.model.columns import Column
from censorwatch.model.observations import OBSERVATION_ROW
from censorwatch.model.verdict import VERDICT_ROW

SCHEMA_VERSION = 7  # 3: aggregates count measured verdicts apart; 4: measurements.probe_network_name,
#    network_names, target_inputs; 5: verdicts.fingerprints; 6: alert_state's incident description;
#    7: new stores' measurements and verdicts carry no primary-key index (UID_KEYED); detect_sums
#    (per hour) replaces detect_seen (per verdict)

#: SQL type of each column type of ``model/columns.py``
SQL_TYPES: dict[str, str] = {
    "str": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP", "str[]": "VARCHAR[]", "json": "JSON",
}


def table_ddl(name: str, row: tuple[Column, ...]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a row defined in ``model/`` (one column per ``Column``)."""
    lines = []
    for i, c in enumerate(row):
        line = f"        {c.name} {SQL_TYPES[c.type]}"
        if not c.nullable:
            line += " NOT NULL"
        if i < len(row) - 1:
            line += ","
        if c.doc:
            line += f"  -- {c.doc}"
        lines.append(line)
    body = "\n".join(lines)
    return f"\n    CREATE TABLE IF NOT EXISTS {name} (\n{body}\n    )\n"

#: Why the tables with a row per measurement have no PRIMARY KEY on ``measurement_uid``: DuckDB keeps the
#: parts of a primary-key index (an ART) that a lookup or an insert touched in memory, outside what it
#: can evict, so an index over every stored uid ends up resident. A 10M-measurement ingest with the
#: 256MB streaming budget stopped with DuckDB out of memory at 9,456,000 stored, and 200 lookups of
#: uids spread over that store's index pin 200 MB of it (``benchmarks/results/scale.md``). Each uid is
#: stored once because the store's single writer (``Store.write``) anti-joins every batch against
#: what is stored and refuses a batch that repeats a uid. Stores created before schema version 7 keep
#: their index and work as before.
UID_KEYED = ("measurements", "verdicts")

CORE = [
    """
    CREATE TABLE IF NOT EXISTS meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )
    """,
    # One row per measurement. Its bytes exactly as read live in the raw parts beside the database
    # (store/rawstore.py) at (raw_part, raw_row); `raw` (zstd-compressed bytes inline) is read when
    # set, for stores written before schema version 2.
    """
    CREATE TABLE IF NOT EXISTS measurements (
        measurement_uid VARCHAR NOT NULL,
        report_id VARCHAR,
        test_name VARCHAR NOT NULL,
        input VARCHAR,
        domain VARCHAR,
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        measurement_start_time TIMESTAMP NOT NULL,
        software_name VARCHAR,
        software_version VARCHAR,
        is_lab BOOLEAN DEFAULT FALSE,
        source VARCHAR,
        ingested_at TIMESTAMP NOT NULL,
        raw_size INTEGER NOT NULL,
        raw BLOB,
        raw_part INTEGER,
        raw_row INTEGER,
        probe_network_name VARCHAR
    )
    """,
    # Names for people (model/networks.py, model/targets.py), kept as measurements are written: the
    # latest name each network's measurements gave (probe_network_name), and one test name and input
    # per target (a VPN target is an address: its protocol and port come from the input).
    """
    CREATE TABLE IF NOT EXISTS network_names (
        asn VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        seen TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS target_inputs (
        domain VARCHAR PRIMARY KEY,
        test_name VARCHAR NOT NULL,
        input VARCHAR
    )
    """,
    # One flat row per network step (OONI pipeline style) and one row per verdict: derived from the
    # row definitions in model/ (see table_ddl)
    table_ddl("observations", OBSERVATION_ROW),
    table_ddl("verdicts", VERDICT_ROW),
]

DETECTION = [
    # (country, network, target) per hour; `methods` maps method -> count.
    """
    CREATE TABLE IF NOT EXISTS agg_hourly (
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        total INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        anomaly INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        down INTEGER NOT NULL,
        failure INTEGER NOT NULL,
        measured INTEGER NOT NULL DEFAULT 0,
        methods JSON,
        PRIMARY KEY (probe_cc, probe_asn, domain, hour)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS agg_daily (
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        day DATE NOT NULL,
        total INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        anomaly INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        down INTEGER NOT NULL,
        failure INTEGER NOT NULL,
        measured INTEGER NOT NULL DEFAULT 0,
        methods JSON,
        PRIMARY KEY (probe_cc, probe_asn, domain, day)
    )
    """,
    # Measurement volume per network per hour across all targets (outage detection input).
    """
    CREATE TABLE IF NOT EXISTS volume_hourly (
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        total INTEGER NOT NULL,
        reachable INTEGER NOT NULL,
        PRIMARY KEY (probe_cc, probe_asn, hour)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS events (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,           -- 'blocking' | 'outage'
        detector VARCHAR NOT NULL,       -- 'bayes' (ours) | 'cusum' (OONI baseline)
        cc VARCHAR NOT NULL,
        asn VARCHAR,                     -- one network, or NULL for country-wide events (see asns)
        asns VARCHAR[],
        target VARCHAR,                  -- domain; NULL for outages
        start_time TIMESTAMP NOT NULL,
        end_time TIMESTAMP,              -- NULL while ongoing
        method VARCHAR,
        confidence VARCHAR,
        measurements INTEGER NOT NULL,
        evidence VARCHAR[],              -- measurement uids
        details JSON
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS incidents (
        id VARCHAR PRIMARY KEY,          -- stable: derived from cc, target and first start
        cc VARCHAR NOT NULL,
        target VARCHAR,                  -- NULL for a network outage incident
        kind VARCHAR NOT NULL,           -- 'blocking' | 'outage'
        asns VARCHAR[] NOT NULL,
        methods VARCHAR[] NOT NULL,
        start_time TIMESTAMP NOT NULL,
        end_time TIMESTAMP,
        confidence VARCHAR NOT NULL,     -- 'suspected' | 'likely' | 'confirmed'
        confidence_rule VARCHAR NOT NULL,-- stable id of the rule that set the confidence
        confidence_reason VARCHAR NOT NULL,
        event_ids VARCHAR[] NOT NULL,
        evidence VARCHAR[] NOT NULL,
        measurements INTEGER NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        details JSON
    )
    """,
    # Per (country, target) aggregates, the same counts summed over the country's networks.
    """
    CREATE TABLE IF NOT EXISTS agg_hourly_cc (
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        total INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        anomaly INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        down INTEGER NOT NULL,
        failure INTEGER NOT NULL,
        measured INTEGER NOT NULL DEFAULT 0,
        methods JSON,
        PRIMARY KEY (probe_cc, domain, hour)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS agg_daily_cc (
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        day DATE NOT NULL,
        total INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        anomaly INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        down INTEGER NOT NULL,
        failure INTEGER NOT NULL,
        measured INTEGER NOT NULL DEFAULT 0,
        methods JSON,
        PRIMARY KEY (probe_cc, domain, day)
    )
    """,
    # What the aggregates were last computed from: per (cc, asn, target, hour), the number of verdicts
    # and the sum of a hash of each one's (uid, status, method). An hour whose verdicts now give
    # another row (new, re-classified or deleted measurements) is recomputed (store/detection.py).
    """
    CREATE TABLE IF NOT EXISTS detect_sums (
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        n BIGINT NOT NULL,
        sig HUGEINT NOT NULL
    )
    """,
    # Series (cc, asn, domain) whose aggregates changed since detection last ran over them.
    """
    CREATE TABLE IF NOT EXISTS detect_pending (
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        PRIMARY KEY (probe_cc, probe_asn, domain)
    )
    """,
]

WEB = [
    # Admin notes on an incident: kind is note | statement | court_filing | link | false_positive |
    # not_false_positive (the latest of the last two decides whether the incident is a false positive).
    """
    CREATE TABLE IF NOT EXISTS annotations (
        id BIGINT PRIMARY KEY,
        incident_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        text VARCHAR,
        url VARCHAR,
        created_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS webhooks (
        id BIGINT PRIMARY KEY,
        url VARCHAR NOT NULL,
        secret VARCHAR NOT NULL,         -- HMAC-SHA256 key, per webhook
        cc VARCHAR,                      -- filter: only incidents in this country (NULL = all)
        target VARCHAR,                  -- filter: only incidents about this domain (NULL = all)
        created_at TIMESTAMP NOT NULL,
        active BOOLEAN NOT NULL DEFAULT TRUE
    )
    """,
    # The last incident state alerts were computed for: a change against it is an alert event.
    """
    CREATE TABLE IF NOT EXISTS alert_state (
        incident_id VARCHAR PRIMARY KEY,
        confidence VARCHAR NOT NULL,
        ended BOOLEAN NOT NULL,
        seen_at TIMESTAMP NOT NULL
    )
    """,
    # One row per delivery (event x webhook); attempts and the outcome of the last one.
    """
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id BIGINT PRIMARY KEY,
        webhook_id BIGINT NOT NULL,
        incident_id VARCHAR NOT NULL,
        event VARCHAR NOT NULL,          -- 'started' | 'confidence_changed' | 'ended'
        payload VARCHAR NOT NULL,        -- the exact JSON bytes signed and sent
        created_at TIMESTAMP NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status VARCHAR NOT NULL,         -- 'pending' | 'delivered' | 'failed'
        last_attempt_at TIMESTAMP,
        next_attempt_at TIMESTAMP,
        last_status_code INTEGER,
        last_error VARCHAR
    )
    """,
]

ARCHIVE = [
    # Objects of a remote archive (OONI's S3 bucket) synced into this store: a row is written once
    # every record of the object is committed, so an object listed with the same ETag is not fetched
    # again. `measurements` counts the good records read (new or already stored), `bad` the others.
    """
    CREATE TABLE IF NOT EXISTS archive_objects (
        url VARCHAR PRIMARY KEY,         -- s3://bucket/key
        etag VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        measurements INTEGER NOT NULL,
        bad INTEGER NOT NULL,
        first_error VARCHAR,
        synced_at TIMESTAMP NOT NULL
    )
    """,
]

ALL = CORE + DETECTION + WEB + ARCHIVE

#: statements that bring a store written by an earlier schema version up to this one (idempotent)
MIGRATIONS = [
    # version 2: raw bytes moved to the raw parts (store/rawstore.py)
    "ALTER TABLE measurements ADD COLUMN IF NOT EXISTS raw_part INTEGER",
    "ALTER TABLE measurements ADD COLUMN IF NOT EXISTS raw_row INTEGER",
    "ALTER TABLE measurements ALTER COLUMN raw DROP NOT NULL",
    # version 3: verdicts of tests that measure no censorship (speed tests, diagnostics) counted apart
    *(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS measured INTEGER DEFAULT 0"
      for t in ("agg_hourly", "agg_daily", "agg_hourly_cc", "agg_daily_cc")),
    # version 4: names for people: the network name measurements give
    "ALTER TABLE measurements ADD COLUMN IF NOT EXISTS probe_network_name VARCHAR",
    # version 5: the fingerprint set each verdict read (staleness per family, analysis/registry.py)
    "ALTER TABLE verdicts ADD COLUMN IF NOT EXISTS fingerprints VARCHAR",
    # version 6: what an alerted incident was, so that one revised under another id (a live detector
    # moved its start) is recognised, and one that disappeared is withdrawn (store/alerts.py)
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS kind VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS cc VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS target VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS start_time TIMESTAMP",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS end_time TIMESTAMP",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS gone_since TIMESTAMP",
    # version 7: what the aggregates were computed from is kept per hour (detect_sums, filled by the
    # next analyze, which then recomputes every aggregate once)
    "DROP TABLE IF EXISTS detect_seen",
]
#: fills target_inputs of a store written before it existed (run when that table is empty)
BACKFILL_TARGETS = """INSERT INTO target_inputs SELECT domain, min(test_name), min(input) FROM measurements
    WHERE domain IS NOT NULL GROUP BY domain ON CONFLICT DO NOTHING"""
