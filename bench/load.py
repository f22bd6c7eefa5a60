"""Building the benchmark database: a fresh database, migrated, taxonomies loaded, N generated providers and
their services COPYed in, derived search columns refreshed, keys and a commissioning exercise made.

Used by bench/run.py; every step is timed by the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from marketplace import db
from marketplace.accounts.models import key_request
from marketplace.accounts.service import make_key
from marketplace.clock import Clock
from marketplace.exercises.models import ExerciseIn, LocalPriority, NeedIn, SectorPreference
from marketplace.exercises.queries import insert_exercise, insert_need
from marketplace.migrate import migrate
from marketplace.providers.models import NewProvider
from marketplace.providers.queries import own_columns, service_columns
from marketplace.seed import load_taxonomy
from marketplace.settings import PROJECT_ROOT
from marketplace.taxonomy.queries import upsert_taxonomy

try:  # bench/ is not a package: run.py puts it on sys.path
    import generate as gen
except ImportError:  # pragma: no cover - imported as bench.load
    from bench import generate as gen

PROVIDER_COLUMNS = (
    "id",
    "name",
    "legal_form",
    "description",
    "website",
    "founded_year",
    "contact_name",
    "contact_email",
    "contact_phone",
    "volunteers",
    "match_funding_per_year",
    "other_funding_sources",
    "partner_organisations",
    "annual_income",
    "reserves_months",
    "accounts_year_end",
    "accounts_scrutiny",
    "status",
    "is_sample",
    "created_at",
    "updated_at",
    "last_confirmed_at",
)
SERVICE_COLUMNS = (
    "id",
    "provider_id",
    "pathway_code",
    "name",
    "description",
    "status",
    "min_age",
    "max_age",
    "gender",
    "capacity_per_year",
    "places_available",
    "places_as_of",
    "delivery_modes",
    "complexity_levels",
    "cost_amount",
    "cost_unit",
    "years_delivering",
    "position",
    "last_confirmed_at",
    "created_at",
    "updated_at",
)
"""The service row: its id (given here, so its child rows can name it), provider, service_columns(), the rest."""
CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    "provider_identifier": ("identifier", "provider_id"),
    "provider_premises": ("provider_id", "area_code", "description"),
    "provider_accreditation": ("provider_id", "accreditation_code"),
    "provider_social_value": ("provider_id", "commitment_code"),
    "service": SERVICE_COLUMNS,
    "service_area": ("service_id", "area_code"),
    "service_cohort": ("service_id", "cohort_code"),
    "service_accreditation": ("service_id", "accreditation_code"),
    "service_outcome": (
        "service_id",
        "position",
        "outcome",
        "measure",
        "value",
        "period",
        "people",
        "source",
        "reference",
        "note",
    ),
}
"""COPY order: a table after those it refers to."""
MAX_SERVICES = 8
"""Service ids are (provider id - 1) * MAX_SERVICES + position + 1: disjoint per provider, so every worker can
number its own services."""
TABLES = ("provider", *CHILD_COLUMNS)
SERVICE_TABLES = tuple(t for t in TABLES if t.startswith("service"))


# --- the database --------------------------------------------------------------------------------


def dsn_for(server_dsn: str, database: str) -> str:
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def server_dsn(data_dir: Path) -> str:
    """BENCH_DATABASE_URL's server when set; else the embedded PostgreSQL under data_dir (started if need be)."""
    return os.environ.get("BENCH_DATABASE_URL") or db.start_embedded(data_dir)


async def create_database(server: str, label: str = "bench") -> tuple[str, str]:
    """A new, empty database on `server` named provision_<label>_<random>: (its name, its DSN)."""
    name = f"provision_{label}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    return name, dsn_for(server, name)


async def drop_database(server: str, name: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


async def prepare_schema(dsn: str, seed_dir: Path) -> None:
    """Migrations, then the taxonomies exactly as `marketplace seed` loads them (no demo providers)."""
    conn = await db.connect(dsn)
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        async with conn.transaction():
            await upsert_taxonomy(conn, load_taxonomy(seed_dir))
    finally:
        await conn.close()


# --- records for COPY ----------------------------------------------------------------------------

Records = dict[str, list[tuple]]


def records_of(profiles: Sequence[NewProvider], start: int, seed: int, now: dt.datetime) -> Records:
    """COPY rows for providers start+1.. (profile k is provider id start+k+1), published, and their services."""
    out: Records = {t: [] for t in TABLES}
    provider, ident, prem, acc, sv, service, s_area, s_cohort, s_acc, s_outcome = (out[t] for t in TABLES)
    created = now - dt.timedelta(days=800)
    for k, p in enumerate(profiles):
        i = start + k
        pid = i + 1
        days = gen.last_confirmed_days_ago(i, seed)
        confirmed = None if days is None else now - dt.timedelta(days=days)
        provider.append((pid, *own_columns(p), "published", False, created, created, confirmed))
        ident.extend((x, pid) for x in p.identifiers)
        prem.extend((pid, pm.area, pm.description) for pm in p.resources.premises)
        acc.extend((pid, a) for a in p.accreditations)
        sv.extend((pid, s) for s in p.social_value)
        if len(p.services) > MAX_SERVICES:
            raise ValueError(f"provider {pid} has more than {MAX_SERVICES} services")
        for n, x in enumerate(p.services):
            sid = (pid - 1) * MAX_SERVICES + n + 1
            service.append((sid, pid, *service_columns(x), n, confirmed, created, created))
            s_area.extend((sid, a) for a in x.areas)
            s_cohort.extend((sid, c) for c in x.cohorts)
            s_acc.extend((sid, a) for a in x.accreditations)
            s_outcome.extend(
                (sid, j, o.outcome, o.measure, o.value, o.period, o.people, o.source, o.reference, o.note)
                for j, o in enumerate(x.outcomes)
            )
    return out


class SliceResult(NamedTuple):
    rows: dict[str, int]
    generate_s: float
    copy_s: float
    processes: int = 1


def load_slice(dsn: str, start: int, stop: int, seed: int, now: dt.datetime) -> SliceResult:
    """In a worker process: generate providers start..stop-1, then COPY them (provider rows first, then the
    child tables). Workers load disjoint id ranges, so they never wait for each other."""
    t0 = time.perf_counter()
    records = records_of(gen.generate_range(start, stop, seed), start, seed, now)
    t1 = time.perf_counter()
    asyncio.run(copy_records(dsn, records))
    return SliceResult({t: len(records[t]) for t in TABLES}, t1 - t0, time.perf_counter() - t1)


def generate_and_copy(dsn: str, n: int, seed: int, *, workers: int, now: dt.datetime) -> SliceResult:
    """Generate and COPY the N providers in `workers` processes (one id range each). Returns the row counts
    and the generate / COPY time of the slowest worker (the phases run side by side in every worker)."""
    step = max(gen.CHUNK, -(-n // max(1, workers) // gen.CHUNK) * gen.CHUNK)
    ranges = [(s, min(s + step, n)) for s in range(0, n, step)]
    if workers <= 1 or len(ranges) == 1:
        parts = [load_slice(dsn, s, e, seed, now) for s, e in ranges]
    else:
        # spawn, not fork: the caller may have an event loop running, and each worker runs its own
        with ProcessPoolExecutor(max_workers=len(ranges), mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(
                pool.map(
                    load_slice,
                    [dsn] * len(ranges),
                    *zip(*ranges, strict=True),
                    [seed] * len(ranges),
                    [now] * len(ranges),
                )
            )
    rows = {t: sum(p.rows[t] for p in parts) for t in TABLES}
    return SliceResult(rows, max(p.generate_s for p in parts), max(p.copy_s for p in parts), len(parts))


# --- loading -------------------------------------------------------------------------------------


async def copy_records(dsn: str, records: Records) -> None:
    """COPY provider rows, then the child tables (in an order that respects the foreign keys)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("provider", records=records["provider"], columns=list(PROVIDER_COLUMNS))
        for table, columns in CHILD_COLUMNS.items():
            if records[table]:
                await conn.copy_records_to_table(table, records=records[table], columns=list(columns))
    finally:
        await conn.close()


FOREIGN_KEYS_SQL = """
select conrelid::regclass::text as table_name, conname as name, pg_get_constraintdef(oid) as definition
from pg_constraint where contype = 'f' and conrelid = any($1::regclass[])
order by conrelid::regclass::text, conname
"""

SECONDARY_INDEXES_SQL = """
select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
from pg_index i join pg_class c on c.oid = i.indexrelid
where i.indrelid = 'provider'::regclass
  and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
order by c.relname
"""


class Dropped(NamedTuple):
    foreign_keys: list[tuple[str, str, str]]  # (table, name, definition)
    indexes: list[tuple[str, str]]  # (name, definition)


async def drop_for_bulk_load(dsn: str) -> Dropped:
    """PostgreSQL's advice for populating a database: drop the foreign keys of the child tables and provider's
    secondary indexes (search GINs, trigram, name btree) before loading; restore_after_bulk_load() puts back
    exactly what was there (their definitions are read from the catalogue, not restated here)."""
    conn = await asyncpg.connect(dsn)
    try:
        fks = [
            (r["table_name"], r["name"], r["definition"])
            for r in await conn.fetch(FOREIGN_KEYS_SQL, list(CHILD_COLUMNS))
        ]
        indexes = [(r["name"], r["definition"]) for r in await conn.fetch(SECONDARY_INDEXES_SQL)]
        async with conn.transaction():
            for table, name, _ in fks:
                await conn.execute(f'alter table {table} drop constraint "{name}"')
            for name, _ in indexes:
                await conn.execute(f'drop index "{name}"')
        return Dropped(fks, indexes)
    finally:
        await conn.close()


async def restore_foreign_keys(dsn: str, dropped: Dropped) -> None:
    """Re-add (and so validate, one join per key) the child tables' foreign keys."""
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("provider", "service"):
            await conn.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))")
        await conn.execute("set maintenance_work_mem = '256MB'")
        for table, name, definition in dropped.foreign_keys:
            await conn.execute(f'alter table {table} add constraint "{name}" {definition}')
    finally:
        await conn.close()


async def restore_indexes(dsn: str, dropped: Dropped, *, parallel: int = 2) -> None:
    """Recreate provider's secondary indexes from their definitions, `parallel` at a time."""
    queue = list(reversed(dropped.indexes))

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("set maintenance_work_mem = '256MB'")
            while queue:
                _, definition = queue.pop()
                await conn.execute(definition)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, parallel))))


async def schema_fingerprint(dsn: str) -> list[str]:
    """Every index and constraint definition of the provider tables: equal before and after a bulk load."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) as d
               from pg_constraint where conrelid = any($1::regclass[])
               union all
               select pg_get_indexdef(indexrelid) from pg_index where indrelid = any($1::regclass[])
               order by 1""",
            list(TABLES),
        )
        return [r["d"] for r in rows]
    finally:
        await conn.close()


async def refresh_search(
    dsn: str, n: int, *, batch: int = 5000, parallel: int = 2, progress: Callable[[int], None] | None = None
) -> None:
    """`select refresh_provider_search($1::bigint[])` over ids 1..n in batches, `parallel` connections sharing them."""
    queue: asyncio.Queue[list[int]] = asyncio.Queue()
    for s in range(1, n + 1, batch):
        queue.put_nowait(list(range(s, min(s + batch, n + 1))))
    done = 0

    async def worker() -> None:
        nonlocal done
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("set synchronous_commit = off")
            while not queue.empty():
                ids = queue.get_nowait()
                await conn.execute("select refresh_provider_search($1::bigint[])", ids)
                done += len(ids)
                if progress:
                    progress(done)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, parallel))))


async def vacuum_analyze(dsn: str, tables: Sequence[str] = TABLES, *, vacuum: bool = True, parallel: int = 1) -> None:
    """The refresh rewrote every provider and service row: vacuum (dead rows, visibility map) and analyze. Before
    the refresh, analyze alone (the service tables): planned without their statistics, one batch of the refresh ran
    for minutes instead of seconds. `parallel` connections take the tables in turn (each table's VACUUM is one
    backend's work), largest first."""
    queue = list(tables)

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            while queue:
                table = queue.pop(0)
                await conn.execute(f"vacuum (analyze) {table}" if vacuum else f"analyze {table}")
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(parallel, len(queue))))))


async def checkpoint(dsn: str) -> bool:
    """Flush the load's dirty pages now rather than during the measurements (needs superuser or
    pg_checkpoint; skipped, returning False, without)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("checkpoint")
        return True
    except asyncpg.InsufficientPrivilegeError:
        return False
    finally:
        await conn.close()


# --- keys and the commissioning exercise ----------------------------------------------------------

NARROW = NeedIn(
    title="Debt and money advice in the Malvern Hills (benchmark)",
    pathway="FINANCE",
    areas=[gen.MALVERN_HILLS],
    annual_volume=80,
    annual_budget=90_000,
    cohorts=["ADULTS", "FAMILIES"],
    contract_years=2,
    required_accreditations=["advice_quality_standard"],
    min_years_experience=2,
    local_priorities=[
        LocalPriority(text="debt advice in rural villages", weight=2),
        LocalPriority(text="Universal Credit claims", weight=1),
    ],
    sector_preference=SectorPreference(third_sector=0.8, co_operative=0.5, social_enterprise=0.5),
)
BROAD = NeedIn(
    title="Accommodation across West Mercia (benchmark)",
    pathway="ACCOM",
    areas=[gen.WEST_MERCIA],
    annual_volume=600,
    annual_budget=1_500_000,
    cohorts=["ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS"],
    contract_years=3,
    local_priorities=[
        LocalPriority(text="tenancy sustainment", weight=2),
        LocalPriority(text="supported housing for care leavers", weight=1),
        LocalPriority(text="rural outreach in Herefordshire", weight=1),
    ],
    sector_preference=SectorPreference(third_sector=0.7, social_enterprise=0.5, co_operative=0.5),
)


async def make_keys_and_exercise(dsn: str, secret: bytes, *, provider_keys: int) -> dict:
    """An admin and a commissioner key, provider keys for providers 1..provider_keys (each edits its own
    profile in the PATCH scenario), and an exercise with the narrow and the broad need."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            admin = await make_key(conn, secret, key_request("admin", "bench admin", None), created_by=None)
            commissioner = await make_key(
                conn, secret, key_request("commissioner", "bench commissioner", None), created_by=None
            )
            providers = {}
            for pid in range(1, provider_keys + 1):
                made = await make_key(
                    conn, secret, key_request("provider", f"bench provider {pid}", pid), created_by=None
                )
                providers[pid] = made.key
            made_at = Clock().now()
            exercise_id = await insert_exercise(
                conn,
                ExerciseIn(
                    title="Provision benchmark exercise",
                    commissioning_body="Benchmark commissioning body",
                    description="Made by bench/run.py",
                    status="engagement_open",
                ),
                created_by=commissioner.api_key.id,
                at=made_at,
            )
            narrow = await insert_need(conn, exercise_id, NARROW, at=made_at)
            broad = await insert_need(conn, exercise_id, BROAD, at=made_at)
        return {
            "admin": admin.key,
            "commissioner": commissioner.key,
            "providers": providers,
            "exercise_id": exercise_id,
            "narrow_need": narrow,
            "broad_need": broad,
        }
    finally:
        await conn.close()


# --- the whole load --------------------------------------------------------------------------------


class Built(NamedTuple):
    split: dict[str, float]
    """Seconds per step."""
    sliced: SliceResult
    total: float
    """Generate + load, seconds."""
    checkpointed: bool


def build_directory(dsn: str, n: int, seed: int, *, workers: int) -> Built:
    """N generated providers into a migrated database with its taxonomies (prepare_schema), as a bulk load:
    foreign keys and secondary indexes dropped first and restored from the catalogue's own definitions after
    (checked identical), derived search columns refreshed, VACUUM ANALYZE, CHECKPOINT. Prints its progress."""
    fingerprint = asyncio.run(schema_fingerprint(dsn))
    dropped = asyncio.run(drop_for_bulk_load(dsn))
    split: dict[str, float] = {}
    t_load = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    sliced = generate_and_copy(dsn, n, seed, workers=workers, now=now)
    split["generate_and_copy_wall"] = time.perf_counter() - t_load
    split["generate"], split["copy"] = sliced.generate_s, sliced.copy_s
    t = time.perf_counter()
    asyncio.run(restore_foreign_keys(dsn, dropped))
    split["foreign_keys"] = time.perf_counter() - t
    print(
        f"generated and COPYed {n:,} providers in {split['generate_and_copy_wall']:.1f} s "
        f"({sliced.processes} process(es); generate {sliced.generate_s:.1f} s, COPY {sliced.copy_s:.1f} s); "
        f"foreign keys validated in {split['foreign_keys']:.1f} s",
        flush=True,
    )
    t = time.perf_counter()
    asyncio.run(vacuum_analyze(dsn, SERVICE_TABLES, vacuum=False, parallel=workers))  # plans that know the sizes
    analyze_before = time.perf_counter() - t
    t = time.perf_counter()
    last_print = [t]

    def progress(done: int) -> None:
        if time.perf_counter() - last_print[0] > 10:
            last_print[0] = time.perf_counter()
            print(f"  refresh_provider_search: {done:,}/{n:,} ({last_print[0] - t:.0f} s)", flush=True)

    asyncio.run(refresh_search(dsn, n, batch=5000, parallel=workers, progress=progress))
    split["refresh"] = time.perf_counter() - t
    t = time.perf_counter()
    asyncio.run(vacuum_analyze(dsn, ["provider", "service"], parallel=workers))
    vacuum_provider = time.perf_counter() - t
    t = time.perf_counter()
    asyncio.run(restore_indexes(dsn, dropped, parallel=workers))
    split["indexes"] = time.perf_counter() - t
    t = time.perf_counter()
    asyncio.run(vacuum_analyze(dsn, parallel=workers))
    split["analyze"] = time.perf_counter() - t + vacuum_provider + analyze_before
    t = time.perf_counter()
    checkpointed = asyncio.run(checkpoint(dsn))
    split["checkpoint"] = time.perf_counter() - t
    total = time.perf_counter() - t_load
    if asyncio.run(schema_fingerprint(dsn)) != fingerprint:
        raise RuntimeError("the provider tables' indexes and constraints differ from the migrated schema after loading")
    return Built(split, sliced, total, checkpointed)
