"""The ledger's schema, as numbered migrations applied in order at open (`schema_migrations`):
data, one entry per change, never edited once released."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE hosts (
            host_id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            hostname TEXT NOT NULL,
            kind TEXT NOT NULL,
            model TEXT, os TEXT, site TEXT, department TEXT, manufactured TEXT,
            cpus INTEGER, memory_bytes BIGINT, tags TEXT NOT NULL DEFAULT '{}',
            first_seen DOUBLE PRECISION NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL,
            last_state TEXT NOT NULL,
            last_report_at DOUBLE PRECISION NOT NULL)""",
            """CREATE TABLE processed (
            source TEXT NOT NULL, entity TEXT NOT NULL, seq BIGINT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (source, entity, seq))""",
            "CREATE INDEX processed_received ON processed (received_at)",
            """CREATE TABLE host_days (
            host_id TEXT NOT NULL, day TEXT NOT NULL, state TEXT NOT NULL,
            seconds DOUBLE PRECISION NOT NULL,
            wh_measured DOUBLE PRECISION NOT NULL,
            wh_modelled DOUBLE PRECISION NOT NULL,
            wh_attributed DOUBLE PRECISION NOT NULL,
            kgco2e DOUBLE PRECISION NOT NULL,
            carbon_basis TEXT NOT NULL,
            PRIMARY KEY (host_id, day, state))""",
            "CREATE INDEX host_days_day ON host_days (day)",
            """CREATE TABLE fleet_days (
            day TEXT NOT NULL, site TEXT NOT NULL, department TEXT NOT NULL,
            kind TEXT NOT NULL, hosts INTEGER NOT NULL,
            wh DOUBLE PRECISION NOT NULL, kgco2e DOUBLE PRECISION NOT NULL,
            embodied_kgco2e DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (day, site, department, kind))""",
        ],
    ),
    (
        2,
        [
            """CREATE TABLE host_periods (
            host_id TEXT NOT NULL, period_start DOUBLE PRECISION NOT NULL,
            period_end DOUBLE PRECISION NOT NULL, day TEXT NOT NULL,
            period_kind TEXT NOT NULL, calendar TEXT NOT NULL, site TEXT NOT NULL,
            department TEXT NOT NULL, kind TEXT NOT NULL,
            on_s DOUBLE PRECISION NOT NULL, excused_s DOUBLE PRECISION NOT NULL,
            covered_s DOUBLE PRECISION NOT NULL, wasted_wh DOUBLE PRECISION NOT NULL,
            eur DOUBLE PRECISION NOT NULL, kgco2e DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (host_id, period_start))""",
            "CREATE INDEX host_periods_end ON host_periods (period_end)",
            "CREATE INDEX host_periods_day ON host_periods (day)",
            """CREATE TABLE period_blockers (
            host_id TEXT NOT NULL, period_start DOUBLE PRECISION NOT NULL,
            app TEXT NOT NULL, what TEXT NOT NULL,
            PRIMARY KEY (host_id, period_start, app, what))""",
        ],
    ),
    (
        3,
        [
            """CREATE TABLE meters (
            meter TEXT PRIMARY KEY, dev_eui TEXT NOT NULL, site TEXT NOT NULL,
            datacenter TEXT, role TEXT NOT NULL, host TEXT, profile TEXT NOT NULL,
            field TEXT NOT NULL, estimated INTEGER NOT NULL)""",
            """CREATE TABLE meter_state (
            meter TEXT PRIMARY KEY, value DOUBLE PRECISION, time DOUBLE PRECISION,
            suspect DOUBLE PRECISION)""",
            """CREATE TABLE meter_hours (
            meter TEXT NOT NULL, hour_start DOUBLE PRECISION NOT NULL,
            wh DOUBLE PRECISION NOT NULL, covered_s DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (meter, hour_start))""",
            """CREATE TABLE lora_gateway_days (
            gateway TEXT NOT NULL, day TEXT NOT NULL,
            rx_received BIGINT NOT NULL, rx_ok BIGINT NOT NULL, tx_emitted BIGINT NOT NULL,
            online_s DOUBLE PRECISION NOT NULL, wh DOUBLE PRECISION NOT NULL,
            uplinks BIGINT NOT NULL, PRIMARY KEY (gateway, day))""",
        ],
    ),
    (
        4,
        [
            # ISO/IEC 30134-2 measurement category of IT meters (1 UPS out, 2 PDU out, 3 IT in)
            "ALTER TABLE meters ADD COLUMN category INTEGER",
        ],
    ),
    (
        5,
        [
            # the room (zone) a meter belongs to, for partial PUE
            "ALTER TABLE meters ADD COLUMN room TEXT",
        ],
    ),
    (
        6,
        [
            # the physical server a PDU outlet feeds (VM attribution from measured power)
            "ALTER TABLE meters ADD COLUMN server TEXT",
            # an outlet with a role of its own, carved out of the total of this role (`it`)
            "ALTER TABLE meters ADD COLUMN part_of TEXT",
            # a physical server's power per outlet, integrated from polled watts per hour
            """CREATE TABLE server_hours (
            server TEXT NOT NULL, outlet TEXT NOT NULL, hour_start DOUBLE PRECISION NOT NULL,
            wh DOUBLE PRECISION NOT NULL, covered_s DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (server, outlet, hour_start))""",
        ],
    ),
    (
        7,
        [
            # reports an agent dropped at its spool bound (the running total it reports)
            "ALTER TABLE hosts ADD COLUMN spool_dropped BIGINT NOT NULL DEFAULT 0",
            # one row rewritten to tell "the ledger is down" from "this batch cannot be stored"
            "CREATE TABLE ledger_probe (id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL)",
        ],
    ),
    (
        8,
        [
            # one bearer token per agent (its SHA-256 only), bound to the agent id
            """CREATE TABLE agent_credentials (
            agent_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, hostname TEXT,
            enrolled_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)""",
        ],
    ),
    (
        9,
        [
            # what each stream (incarnation) of a host covered: one agent id, two timelines
            # are counted once (collector/identity.py)
            """CREATE TABLE host_spans (
            host_id TEXT NOT NULL, stream TEXT NOT NULL, start DOUBLE PRECISION NOT NULL,
            "end" DOUBLE PRECISION NOT NULL)""",
            "CREATE INDEX host_spans_host ON host_spans (host_id, stream)",
            # seconds cut from this host's reports because another timeline had them
            "ALTER TABLE hosts ADD COLUMN duplicate_s DOUBLE PRECISION NOT NULL DEFAULT 0",
        ],
    ),
    (
        10,
        [
            # the off-hours policy (collector/policy/): whether and how the machine can be
            # woken (the report's `wake`, JSON), what the agents did, counted per local day
            # of the off-hours period, and each action with the period it fell in
            "ALTER TABLE hosts ADD COLUMN wake TEXT",
            """CREATE TABLE policy_events (
            host_id TEXT NOT NULL, day TEXT NOT NULL, mode TEXT NOT NULL, event TEXT NOT NULL,
            site TEXT NOT NULL, department TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (host_id, day, mode, event))""",
            """CREATE TABLE policy_actions (
            host_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, mode TEXT NOT NULL,
            action TEXT NOT NULL, period_start DOUBLE PRECISION, day TEXT NOT NULL,
            site TEXT NOT NULL, department TEXT NOT NULL,
            PRIMARY KEY (host_id, at, mode))""",
        ],
    ),
    (
        11,
        [
            # the asset register (collector/inventory/): one row per asset of each source,
            # kept when it leaves the register (removed_at) so retirements stay counted
            """CREATE TABLE inventory_assets (
            asset_key TEXT PRIMARY KEY, source TEXT NOT NULL, source_id TEXT NOT NULL,
            kind TEXT NOT NULL, name TEXT NOT NULL, serial TEXT, uuid TEXT,
            macs TEXT NOT NULL DEFAULT '[]', model TEXT, manufacturer TEXT, type TEXT,
            state TEXT, location TEXT, buy_date TEXT, delivery_date TEXT, use_date TEXT,
            warranty_end TEXT, decommission_date TEXT, embodied_kgco2e DOUBLE PRECISION,
            lifetime_years DOUBLE PRECISION, date_mod TEXT, deleted INTEGER NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}', seen_at DOUBLE PRECISION NOT NULL,
            removed_at DOUBLE PRECISION)""",
            "CREATE INDEX inventory_assets_serial ON inventory_assets (serial)",
            # each source's last sync: GLPI's watermark (its date_mod clock) and counts
            """CREATE TABLE inventory_sources (
            source TEXT PRIMARY KEY, watermark TEXT NOT NULL, synced_at DOUBLE PRECISION NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}')""",
            # what an agent says of its hardware, for matching it to the register
            "ALTER TABLE hosts ADD COLUMN hardware TEXT",
        ],
    ),
]
