"""The ledger: exact accounting in SQL, on SQLite (embedded default) or PostgreSQL.

One small layer over both: the SQL is written once with `?` placeholders and portable
`INSERT … ON CONFLICT` upserts (SQLite ≥ 3.35, PostgreSQL ≥ 9.5). Exactly-once: a batch's
report keys are inserted into `processed` with `ON CONFLICT DO NOTHING RETURNING`; only the
reports whose key was new are accounted, in the same transaction. Several collectors sharing
one PostgreSQL ledger therefore count every report once, whoever received it.

Schema changes are numbered migrations applied at open (`schema_migrations`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.migrations import MIGRATIONS
from collector.quickinit import quick_init

log = logging.getLogger("energy_collector.ledger")


SPAN_JOIN_S = 120.0  # a report starting this close to a stream's span grows it


@quick_init
@dataclass(frozen=True, slots=True)
class DayRow:
    """One host's share of one state on one local day, ready to add to `host_days`."""

    host_id: str
    day: str
    state: str
    seconds: float
    wh_measured: float
    wh_modelled: float
    wh_attributed: float
    kgco2e: float
    carbon_basis: str


@quick_init
@dataclass(frozen=True, slots=True)
class HostRow:
    host_id: str
    source: str
    hostname: str
    kind: str
    model: str | None
    os: str | None
    site: str | None
    department: str | None
    manufactured: str | None
    cpus: int | None
    memory_bytes: int | None
    tags: dict[str, str]
    first_seen: float
    last_seen: float
    last_state: str
    last_report_at: float
    spool_dropped: int = 0
    wake: str | None = None  # the report's `wake` facts as JSON
    hardware: str | None = None  # serial, uuid, macs as JSON (matching to the inventory)


@quick_init
@dataclass(frozen=True, slots=True)
class Accounted:
    """Everything one report adds to the ledger, keyed for exactly-once."""

    source: str
    entity: str
    seq: int
    host: HostRow
    days: tuple[DayRow, ...]
    periods: tuple[Any, ...] = ()  # compliance.periods.PeriodRow
    blockers: tuple[Any, ...] = ()  # compliance.periods.BlockerRow
    span: tuple[str, float, float] | None = None  # (stream, start, end) the report covered
    overlap_s: float = 0.0  # seconds cut because another stream of the host had them
    policy_events: tuple[Any, ...] = ()  # policy.events.EventRow
    policy_actions: tuple[Any, ...] = ()  # policy.events.ActionRow


Key = tuple[str, str, int]  # (source, entity, seq): what `processed` holds for exactly-once


class Transaction:
    """One open ledger transaction: every writer (agents, SNMP, LoRaWAN, CSV readings) works
    through this, with SQL written once (`?` placeholders, `max(`/`min(` of two values); the
    dialect, the lock and the connection stay inside the ledger."""

    def __init__(self, ledger: Ledger, cur: Any) -> None:
        self._ledger = ledger
        self._cur = cur
        self.postgres = ledger.postgres

    @property
    def for_update(self) -> str:
        """A suffix that locks the rows a SELECT reads until the commit (PostgreSQL; SQLite's
        `BEGIN IMMEDIATE` already serialises writers)."""
        return " FOR UPDATE" if self.postgres else ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Transaction:
        self._cur.execute(self._ledger._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Transaction:
        self._cur.executemany(self._ledger._sql(sql), rows)
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._cur.fetchall()] if self._cur.description else []

    def load(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk-insert whole rows (COPY on PostgreSQL): benchmarks' and imports' fill."""
        if not rows:
            return
        if self.postgres:
            with self._cur.copy(f"COPY {table} FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
        else:
            marks = ",".join("?" * len(rows[0]))
            self._cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """The rows of the last statement, as a DB-API cursor gives them."""
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def claim(self, keys: Iterable[Key], received_at: float) -> set[Key]:
        """Insert the keys into `processed`; return those that were new (exactly-once: only
        they are accounted, in this same transaction)."""
        fresh: set[Key] = set()
        for chunk in _chunks(sorted(set(keys)), 300):
            values = ",".join(["(?,?,?,?)"] * len(chunk))
            params: list[Any] = []
            for k in chunk:
                params.extend((*k, received_at))
            self.execute(
                f"INSERT INTO processed (source, entity, seq, received_at) VALUES "
                f"{values} ON CONFLICT DO NOTHING RETURNING source, entity, seq",
                params,
            )
            fresh.update((s, e, int(q)) for s, e, q in self._cur.fetchall())
        return fresh


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._lock = threading.Lock()  # one connection; the HTTP status API reads through it
        self.conn: Any = self._connect()
        self.migrate()

    # -- connection and dialect --------------------------------------------------------------

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url, autocommit=False)
        path = self.url.removeprefix("sqlite:").removeprefix("//")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + synchronous=NORMAL: a committed batch survives a process crash (kill -9);
        # only a power cut can lose the last transactions, and then the agents' spools and
        # the broker's unacknowledged messages still hold them.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _sql(self, sql: str) -> str:
        if self.postgres:
            return sql.replace("?", "%s").replace("max(", "GREATEST(").replace("min(", "LEAST(")
        return sql

    def _begin(self) -> None:
        if not self.postgres:
            self.conn.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.conn.commit() if self.postgres else self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        self.conn.rollback() if self.postgres else self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A unit of work: committed when the block ends, rolled back if it raises. Effects
        outside the ledger (metrics, memory, answers) belong after the block, from what it
        committed, so a retried transaction never applies them twice."""
        with self._lock:
            cur = self.conn.cursor()
            self._begin()
            try:
                yield Transaction(self, cur)
                self._commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    self._rollback()
                raise

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read query (autocommitted) and return its rows."""
        with self._lock:
            cur = self.conn.cursor()
            cur.execute(self._sql(sql), tuple(params))
            rows = cur.fetchall() if cur.description else []
            if self.postgres:
                self.conn.commit()
            return [tuple(r) for r in rows]

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write in its own transaction; returns the rows it touched."""
        with self.transaction() as tx:
            return tx.execute(sql, params).rowcount

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        with self._lock:
            cur = self.conn.cursor()
            self._begin()
            try:
                if self.postgres:
                    # two collectors starting together must not both migrate
                    cur.execute("SELECT pg_advisory_xact_lock(804263)")
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                current = cur.fetchone()[0]
                for version, statements in MIGRATIONS:
                    if version <= current:
                        continue
                    for stmt in statements:
                        cur.execute(stmt)
                    cur.execute(
                        self._sql("INSERT INTO schema_migrations VALUES (?, ?)"),
                        (version, time.time()),
                    )
                    log.info("ledger: applied migration %d", version)
                self._commit()
            except Exception:
                self._rollback()
                raise

    def healthy(self) -> bool:
        """Can the ledger commit a write now? A committed one-row probe says; a broken
        connection is reopened first. Used to tell a ledger that is down (wait and retry)
        from a batch holding an item the ledger refuses (isolate it)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    with contextlib.suppress(Exception):
                        self._rollback()  # leave a failed transaction behind
                    cur = self.conn.cursor()
                    self._begin()
                    # write (and take back) one row in each table ingest writes, then commit:
                    # a missing table, a revoked grant, a full disk or a read-only standby
                    # all fail here, and are then "down", never blamed on the reports
                    for sql, params in _PROBES:
                        cur.execute(self._sql(sql), params)
                    cur.execute(
                        self._sql(
                            "INSERT INTO ledger_probe (id, at) VALUES (1, ?) "
                            "ON CONFLICT (id) DO UPDATE SET at = excluded.at"
                        ),
                        (time.time(),),
                    )
                    self._commit()
                    return True
                except Exception as exc:
                    log.debug("ledger: probe %d failed: %s", attempt, exc)
                    with contextlib.suppress(Exception):
                        self.conn.close()
                    try:
                        self.conn = self._connect()
                    except Exception as exc2:
                        log.debug("ledger: reconnect failed: %s", exc2)
                        return False
            return False

    def schema_version(self) -> int:
        return int(self.execute("SELECT MAX(version) FROM schema_migrations")[0][0])

    # -- accounting --------------------------------------------------------------------------

    def commit(self, items: Sequence[Accounted], received_at: float) -> set[tuple[str, str, int]]:
        """Account the items whose keys are new; return those keys. All or nothing."""
        if not items:
            return set()
        with self.transaction() as tx:
            fresh = tx.claim(((a.source, a.entity, a.seq) for a in items), received_at)
            # a key repeated inside one batch is accounted once
            seen: set[Key] = set()
            unique = []
            for a in items:
                k = (a.source, a.entity, a.seq)
                if k in fresh and k not in seen:
                    seen.add(k)
                    unique.append(a)
            self._write_hosts(tx, unique)
            self._write_days(tx, unique)
            self._write_periods(tx, unique)
            self._write_spans(tx, unique)
            self._write_policy(tx, unique)
        return fresh

    def _write_hosts(self, tx: Transaction, items: Iterable[Accounted]) -> None:
        latest: dict[str, HostRow] = {}
        first: dict[str, float] = {}
        for a in items:
            h = a.host
            first[h.host_id] = min(first.get(h.host_id, h.first_seen), h.first_seen)
            if h.host_id not in latest or h.last_seen >= latest[h.host_id].last_seen:
                latest[h.host_id] = h
        rows = []
        for hid in sorted(latest):
            h = latest[hid]
            rows.append(
                (
                    h.host_id,
                    h.source,
                    h.hostname,
                    h.kind,
                    h.model,
                    h.os,
                    h.site,
                    h.department,
                    h.manufactured,
                    h.cpus,
                    h.memory_bytes,
                    json.dumps(h.tags, sort_keys=True),
                    first[hid],
                    h.last_seen,
                    h.last_state,
                    h.last_report_at,
                    h.spool_dropped,
                    h.wake,
                    h.hardware,
                )
            )
        if not rows:
            return
        # facts follow the newest report; a late (out-of-order) report only widens first_seen
        newer = "excluded.last_seen >= hosts.last_seen"
        facts = ", ".join(
            f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE hosts.{c} END"
            for c in (
                "hostname",
                "kind",
                "model",
                "os",
                "site",
                "department",
                "manufactured",
                "cpus",
                "memory_bytes",
                "tags",
                "last_state",
            )
        )
        tx.executemany(
            (
                "INSERT INTO hosts (host_id, source, hostname, kind, model, os, site, department, "
                "manufactured, cpus, memory_bytes, tags, first_seen, last_seen, last_state, "
                "last_report_at, spool_dropped, wake, hardware) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                f"ON CONFLICT (host_id) DO UPDATE SET {facts}, "
                "first_seen = min(hosts.first_seen, excluded.first_seen), "
                "last_seen = max(hosts.last_seen, excluded.last_seen), "
                "last_report_at = max(hosts.last_report_at, excluded.last_report_at), "
                # the agent's running total; a new incarnation (lost state) starts it again
                f"spool_dropped = CASE WHEN {newer} THEN excluded.spool_dropped "
                "ELSE hosts.spool_dropped END, "
                f"wake = CASE WHEN {newer} AND excluded.wake IS NOT NULL THEN excluded.wake "
                "ELSE hosts.wake END, "
                f"hardware = CASE WHEN {newer} AND excluded.hardware IS NOT NULL "
                "THEN excluded.hardware ELSE hosts.hardware END"
            ),
            rows,
        )

    def _write_spans(self, tx: Transaction, items: Iterable[Accounted]) -> None:
        """Grow the host's span for the stream (reports of a stream are contiguous); a span
        that touches none of the stream's rows (out-of-order arrival) starts a new row.

        Worked out for the whole batch at once, with the same rule as one UPDATE per report
        (`start <= end + SPAN_JOIN_S AND "end" >= start - SPAN_JOIN_S` grows every row it
        matches, none matched inserts one, in the batch's order): the rows of the batch's
        hosts are read once (locked), then written back changed and new, one statement each."""
        dup: dict[str, float] = {}
        wanted: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for a in items:
            if a.overlap_s > 0:
                dup[a.host.host_id] = dup.get(a.host.host_id, 0.0) + a.overlap_s
            if a.span is None:
                continue
            stream, start, end = a.span
            wanted.setdefault((a.host.host_id, stream), []).append((start, end))
        if wanted:
            rowid = "ctid::text" if tx.postgres else "rowid"
            rows: dict[tuple[str, str], list[list[Any]]] = {}
            hosts = sorted({host for host, _ in wanted})
            for chunk in _chunks(hosts, 300):
                marks = ",".join(["?"] * len(chunk))
                tx.execute(
                    f'SELECT {rowid}, host_id, stream, start, "end" FROM host_spans '
                    f"WHERE host_id IN ({marks}){tx.for_update}",
                    chunk,
                )
                for rid, host, stream, start, end in tx.fetchall():
                    if (host, stream) in wanted:
                        rows.setdefault((host, stream), []).append(
                            [rid, float(start), float(end), float(start), float(end)]
                        )
            updates: list[tuple[float, float, Any]] = []
            inserts: list[tuple[str, str, float, float]] = []
            for (host, stream), spans in wanted.items():
                have = rows.get((host, stream), [])
                for start, end in spans:
                    lo, hi = start - SPAN_JOIN_S, end + SPAN_JOIN_S
                    grown = False
                    for r in have:
                        if r[3] <= hi and r[4] >= lo:
                            r[3], r[4] = min(r[3], start), max(r[4], end)
                            grown = True
                    if not grown:
                        have.append([None, start, end, start, end])
                for rid, start0, end0, start, end in have:
                    if rid is None:
                        inserts.append((host, stream, start, end))
                    elif start != start0 or end != end0:
                        updates.append((start, end, rid))
            if updates:
                where = "ctid = ?::tid" if tx.postgres else "rowid = ?"
                tx.executemany(f'UPDATE host_spans SET start = ?, "end" = ? WHERE {where}', updates)
            if inserts:
                tx.executemany(
                    'INSERT INTO host_spans (host_id, stream, start, "end") VALUES (?,?,?,?)',
                    inserts,
                )
        if dup:
            tx.executemany(
                ("UPDATE hosts SET duplicate_s = duplicate_s + ? WHERE host_id = ?"),
                [(v, k) for k, v in sorted(dup.items())],
            )

    def spans_of(self, host_ids: Iterable[str]) -> dict[str, list[tuple[str, float, float]]]:
        """(stream, start, end) spans per host, as committed."""
        out: dict[str, list[tuple[str, float, float]]] = {}
        ids = sorted(set(host_ids))
        for chunk in _chunks(ids, 300):
            marks = ",".join(["?"] * len(chunk))
            for host, stream, start, end in self.execute(
                f'SELECT host_id, stream, start, "end" FROM host_spans WHERE host_id IN ({marks})',
                chunk,
            ):
                out.setdefault(host, []).append((stream, float(start), float(end)))
        return out

    def _write_days(self, tx: Transaction, items: Iterable[Accounted]) -> None:
        sums: dict[tuple[str, str, str], list[Any]] = {}
        for a in items:
            for d in a.days:
                k = (d.host_id, d.day, d.state)
                s = sums.get(k)
                if s is None:
                    sums[k] = [
                        d.seconds,
                        d.wh_measured,
                        d.wh_modelled,
                        d.wh_attributed,
                        d.kgco2e,
                        d.carbon_basis,
                    ]
                else:
                    s[0] += d.seconds
                    s[1] += d.wh_measured
                    s[2] += d.wh_modelled
                    s[3] += d.wh_attributed
                    s[4] += d.kgco2e
                    if s[5] != d.carbon_basis:
                        s[5] = "mixed"
        rows = [(*k, *v) for k, v in sorted(sums.items())]
        if not rows:
            return
        tx.executemany(
            (
                "INSERT INTO host_days (host_id, day, state, seconds, wh_measured, wh_modelled, "
                "wh_attributed, kgco2e, carbon_basis) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (host_id, day, state) DO UPDATE SET "
                "seconds = host_days.seconds + excluded.seconds, "
                "wh_measured = host_days.wh_measured + excluded.wh_measured, "
                "wh_modelled = host_days.wh_modelled + excluded.wh_modelled, "
                "wh_attributed = host_days.wh_attributed + excluded.wh_attributed, "
                "kgco2e = host_days.kgco2e + excluded.kgco2e, "
                "carbon_basis = CASE WHEN host_days.carbon_basis = excluded.carbon_basis "
                "THEN host_days.carbon_basis ELSE 'mixed' END"
            ),
            rows,
        )

    def _write_periods(self, tx: Transaction, items: Iterable[Accounted]) -> None:
        sums: dict[tuple[str, float], list[Any]] = {}
        blockers: set[tuple[str, float, str, str]] = set()
        for a in items:
            for p in a.periods:
                k = (p.host_id, p.period_start)
                s = sums.get(k)
                if s is None:
                    sums[k] = [
                        p.period_end,
                        p.day,
                        p.period_kind,
                        p.calendar,
                        p.site,
                        p.department,
                        p.kind,
                        p.on_s,
                        p.excused_s,
                        p.covered_s,
                        p.wasted_wh,
                        p.eur,
                        p.kgco2e,
                    ]
                else:
                    for i, v in enumerate(
                        (p.on_s, p.excused_s, p.covered_s, p.wasted_wh, p.eur, p.kgco2e), start=7
                    ):
                        s[i] += v
            for b in a.blockers:
                blockers.add((b.host_id, b.period_start, b.app, b.what))
        if sums:
            tx.executemany(
                (
                    "INSERT INTO host_periods (host_id, period_start, period_end, day, "
                    "period_kind, calendar, site, department, kind, on_s, excused_s, covered_s, "
                    "wasted_wh, eur, kgco2e) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (host_id, period_start) DO UPDATE SET "
                    "on_s = host_periods.on_s + excluded.on_s, "
                    "excused_s = host_periods.excused_s + excluded.excused_s, "
                    "covered_s = host_periods.covered_s + excluded.covered_s, "
                    "wasted_wh = host_periods.wasted_wh + excluded.wasted_wh, "
                    "eur = host_periods.eur + excluded.eur, "
                    "kgco2e = host_periods.kgco2e + excluded.kgco2e"
                ),
                [(*k, *v) for k, v in sorted(sums.items())],
            )
        if blockers:
            tx.executemany(
                ("INSERT INTO period_blockers VALUES (?,?,?,?) ON CONFLICT DO NOTHING"),
                sorted(blockers),
            )

    def _write_policy(self, tx: Transaction, items: Iterable[Accounted]) -> None:
        counts: dict[tuple[str, str, str, str], list[Any]] = {}
        actions = set()
        for a in items:
            for e in a.policy_events:
                k = (e.host_id, e.day, e.mode, e.event)
                row = counts.setdefault(k, [e.site, e.department, 0])
                row[2] += e.n
            for x in a.policy_actions:
                actions.add(
                    (x.host_id, x.at, x.mode, x.action, x.period_start, x.day, x.site, x.department)
                )
        if counts:
            tx.executemany(
                (
                    "INSERT INTO policy_events (host_id, day, mode, event, site, department, n) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (host_id, day, mode, event) "
                    "DO UPDATE SET n = policy_events.n + excluded.n"
                ),
                [(*k, *v) for k, v in sorted(counts.items())],
            )
        if actions:
            tx.executemany(
                ("INSERT INTO policy_actions VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
                sorted(actions, key=lambda r: (r[0], r[1], r[2])),
            )

    # -- maintenance -------------------------------------------------------------------------

    def purge_processed(self, before: float) -> int:
        with self.transaction() as tx:
            return tx.execute("DELETE FROM processed WHERE received_at < ?", (before,)).rowcount

    def rollup_day(self, day: str, embodied_by_host: dict[str, float]) -> int:
        """(Re)compute `fleet_days` for one local day from `host_days` and the hosts table."""
        rows = self.execute(
            "SELECT h.host_id, COALESCE(h.site, ''), COALESCE(h.department, ''), h.kind, "
            "SUM(d.wh_measured + d.wh_modelled + d.wh_attributed), SUM(d.kgco2e) "
            "FROM host_days d JOIN hosts h ON h.host_id = d.host_id WHERE d.day = ? "
            "GROUP BY h.host_id, h.site, h.department, h.kind",
            (day,),
        )
        groups: dict[tuple[str, str, str], list[float]] = {}
        for hid, site, dept, kind, wh, kg in rows:
            g = groups.setdefault((site, dept, kind), [0, 0.0, 0.0, 0.0])
            g[0] += 1
            g[1] += wh or 0.0
            g[2] += kg or 0.0
            g[3] += embodied_by_host.get(hid, 0.0)
        with self.transaction() as tx:
            tx.execute("DELETE FROM fleet_days WHERE day = ?", (day,))
            tx.executemany(
                "INSERT INTO fleet_days VALUES (?,?,?,?,?,?,?,?)",
                [(day, *k, int(v[0]), v[1], v[2], v[3]) for k, v in groups.items()],
            )
        return len(groups)


_PROBE = "~probe"  # never a host id (agents send UUIDs, meters and devices names)
_PROBES: list[tuple[str, tuple[Any, ...]]] = [
    (
        "INSERT INTO processed (source, entity, seq, received_at) VALUES (?, ?, -1, 0)",
        (_PROBE, _PROBE),
    ),
    ("DELETE FROM processed WHERE source = ? AND entity = ?", (_PROBE, _PROBE)),
    (
        "INSERT INTO hosts (host_id, source, hostname, kind, tags, first_seen, last_seen, "
        "last_state, last_report_at) VALUES (?, ?, ?, ?, '{}', 0, 0, 'unknown', 0)",
        (_PROBE, _PROBE, _PROBE, _PROBE),
    ),
    ("DELETE FROM hosts WHERE host_id = ?", (_PROBE,)),
    (
        "INSERT INTO host_days VALUES (?, '0000-00-00', 'unknown', 0, 0, 0, 0, 0, ?)",
        (_PROBE, _PROBE),
    ),
    ("DELETE FROM host_days WHERE host_id = ?", (_PROBE,)),
    ("INSERT INTO meter_hours VALUES (?, -1, 0, 0)", (_PROBE,)),
    ("DELETE FROM meter_hours WHERE meter = ?", (_PROBE,)),
]


def _chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]
