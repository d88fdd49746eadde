"""DuckDB schema: the single source of every table's shape.

Areas add tables here (additively) so that writers (pipeline, collector) and readers (web, report)
agree. Times are ``TIMESTAMP`` holding UTC. Lists are DuckDB ``VARCHAR[]``; free-form facts ``JSON``.
"""

from __future__ import annotations

SCHEMA_VERSION = 3

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
        measurement_uid VARCHAR PRIMARY KEY,
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
        raw_row INTEGER
    )
    """,
    # One flat row per network step (OONI pipeline style): kind in dns|tcp|tls|http|event.
    """
    CREATE TABLE IF NOT EXISTS observations (
        measurement_uid VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        idx INTEGER NOT NULL,
        hostname VARCHAR,
        query_type VARCHAR,
        engine VARCHAR,
        resolver VARCHAR,
        ip VARCHAR,
        port INTEGER,
        server_name VARCHAR,
        url VARCHAR,
        status_code INTEGER,
        body_length BIGINT,
        answers VARCHAR[],
        operation VARCHAR,
        num_bytes BIGINT,
        failure VARCHAR,
        t0 DOUBLE,
        t DOUBLE
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS verdicts (
        measurement_uid VARCHAR PRIMARY KEY,
        rules_version VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        method VARCHAR,
        rule VARCHAR NOT NULL,
        explanation VARCHAR,
        fingerprint_id VARCHAR,
        fingerprint_scope VARCHAR,
        blocking VARCHAR,            -- 'false' | 'dns' | 'tcp_ip' | 'http-failure' | 'http-diff' | NULL
        accessible BOOLEAN,
        dns_consistency VARCHAR,
        body_length_match BOOLEAN,
        body_proportion DOUBLE,
        status_code_match BOOLEAN,
        headers_match BOOLEAN,
        title_match BOOLEAN,
        test_name VARCHAR NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        input VARCHAR,
        domain VARCHAR,
        measurement_start_time TIMESTAMP NOT NULL,
        details JSON
    )
    """,
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
    # What the aggregates were last computed from: (uid, status, method) per verdict. The verdicts
    # that differ from it (new, re-classified, deleted) mark the hours to recompute.
    """
    CREATE TABLE IF NOT EXISTS detect_seen (
        measurement_uid VARCHAR PRIMARY KEY,
        probe_cc VARCHAR NOT NULL,
        probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        method VARCHAR
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

ALL = CORE + DETECTION + WEB

#: statements that bring a store written by an earlier schema version up to this one (idempotent)
MIGRATIONS = [
    # version 2: raw bytes moved to the raw parts (store/rawstore.py)
    "ALTER TABLE measurements ADD COLUMN IF NOT EXISTS raw_part INTEGER",
    "ALTER TABLE measurements ADD COLUMN IF NOT EXISTS raw_row INTEGER",
    "ALTER TABLE measurements ALTER COLUMN raw DROP NOT NULL",
    # version 3: verdicts of tests that measure no censorship (speed tests, diagnostics) counted apart
    *(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS measured INTEGER DEFAULT 0"
      for t in ("agg_hourly", "agg_daily", "agg_hourly_cc", "agg_daily_cc")),
    # what an alerted incident was, so that one revised under another id (a live detector moved its
    # start) is recognised, and one that disappeared is withdrawn (store/alerts.py)
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS kind VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS cc VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS target VARCHAR",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS start_time TIMESTAMP",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS end_time TIMESTAMP",
    "ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS gone_since TIMESTAMP",
]
