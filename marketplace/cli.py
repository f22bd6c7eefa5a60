"""The `marketplace` command: serve, migrate, seed, db-url, keys, match, match-exercise, report, appraisal-report,
import.

Each command is a thin caller of the same use cases the API runs (the rooms' service modules), acting as
the system (`Actor.system`): what it writes is audited like any other write."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, get_args

import asyncpg
import msgspec

from marketplace import audit, db, memory
from marketplace.accounts import service as accounts
from marketplace.accounts.models import key_request
from marketplace.app import preload_views
from marketplace.appraisals import render as appraisal_render
from marketplace.appraisals import service as appraisals
from marketplace.clock import Clock
from marketplace.context import Context
from marketplace.errors import DomainError, Unprocessable
from marketplace.exercises import service as exercises
from marketplace.exercises.models import ExerciseMatched, MatchRun, Need
from marketplace.exercises.pools import MatchPools
from marketplace.formatting import plural
from marketplace.imports import service as imports
from marketplace.imports.models import CommitRequest, ImportRun
from marketplace.migrate import MigrationError, migrate, reset_schema
from marketplace.reports import service as reports
from marketplace.reports.models import SUITABLE_SCORE
from marketplace.reports.render import to_csv_bytes, to_html, to_xlsx
from marketplace.seed import SeedData, SeedError, load_seed, write_seed
from marketplace.settings import Settings, SettingsError
from marketplace.taxonomy import service as taxonomy
from marketplace.types import ONE_OF, Actor, Role

T = TypeVar("T")


def _prepare(settings: Settings, *, do_seed: bool, reset: bool = False) -> tuple[str, int, int]:
    """Check the seed files, find or start the database, migrate it, and seed it. (dsn, applied, loaded)"""
    data = load_seed(settings.seed_dir) if do_seed else None  # bad files fail before anything is touched
    urls = db.database_urls(settings)
    applied, loaded = asyncio.run(_migrate_and_seed(urls.owner, settings, data, reset=reset))
    return urls.app, applied, loaded


async def _migrate_and_seed(dsn: str, settings: Settings, data: SeedData | None, *, reset: bool) -> tuple[int, int]:
    conn = await db.connect(dsn)
    try:
        if reset:
            await reset_schema(conn)
        applied = await migrate(conn, settings.schema_dir)
        await audit.ensure_partitions(conn, Clock().today())
        loaded = await write_seed(conn, data) if data is not None else 0
        return len(applied), loaded
    finally:
        await conn.close()


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[tuple[Context, db.Pool]]:
    """The database (migrated), a pool, and the context the use cases read: as the API's lifespan builds them. An
    embedded database must be there already: a command run from another folder makes none there (`seed` does)."""
    if settings.database_url is None and not (settings.data_dir / "pg").is_dir():
        raise SeedError(
            f"there is no database in {settings.data_dir.resolve()}: run the command from the project's folder (where "
            "`make run` keeps its database), or set DATABASE_URL; `marketplace seed` makes a database here"
        )
    urls = db.database_urls(settings)
    conn = await db.connect(urls.owner)
    try:
        await migrate(conn, settings.schema_dir)
    finally:
        await conn.close()
    pool = await db.create_pool(urls.app, settings)
    try:
        ctx = Context(
            settings=settings, clock=Clock(), taxonomy=await taxonomy.load(pool), secret=accounts.load_secret(settings)
        )
        if not ctx.taxonomy.pathways:  # e.g. run from another folder: a new, empty embedded database there
            where = "DATABASE_URL" if settings.database_url else str(settings.data_dir.resolve())
            raise SeedError(
                f"the database ({where}) has no taxonomies yet: run `marketplace seed` first, or run the command "
                "from the project's folder (its embedded database is ./.marketplace there)"
            )
        yield ctx, pool
    finally:
        await pool.close()


def _run(settings: Settings, work: Callable[[Context, db.Pool], Awaitable[T]]) -> T:
    async def session() -> T:
        async with _session(settings) as (ctx, pool):
            return await work(ctx, pool)

    return asyncio.run(session())


def _run_on_conn(settings: Settings, work: Callable[[Context, db.Connection], Awaitable[T]]) -> T:
    """`_run` with one connection from the pool."""

    async def on_pool(ctx: Context, pool: db.Pool) -> T:
        async with pool.acquire() as conn:
            return await work(ctx, conn)

    return _run(settings, on_pool)


def _pools(ctx: Context, pool: db.Pool) -> MatchPools:
    return MatchPools(
        pool, ctx.taxonomy.matching_areas, slots=ctx.settings.match_slots, pathway_names=ctx.taxonomy.codes("pathways")
    )


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _, applied, _ = _prepare(settings, do_seed=False)
    print(f"applied {plural(applied, 'migration')}")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    _, applied, loaded = _prepare(settings, do_seed=True, reset=args.reset)
    print(
        f"applied {plural(applied, 'migration')}; taxonomies up to date; loaded {plural(loaded, 'demo provider')}"
        + ("" if loaded or args.reset else " (directory not empty: use --reset to reload)")
    )
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.role == "provider" and args.provider is None:
        raise Unprocessable("--provider is needed for a provider key: the id of the provider it acts for")
    if args.role != "provider" and args.provider is not None:
        raise Unprocessable(f"--provider goes with --role provider only: {ONE_OF[args.role]} key acts for no provider")
    request = key_request(args.role, args.name, args.provider)
    actor = Actor.system("marketplace keys create")
    made = _run_on_conn(settings, lambda ctx, conn: accounts.create_key(ctx, conn, actor, request))
    print(
        f"key id {made.api_key.id} ({made.api_key.role}"
        f"{f', provider {args.provider}' if args.provider else ''}): {args.name}"
    )
    print("the key is shown once; keep it somewhere safe:")
    print(made.key)
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    keys = _run_on_conn(settings, lambda ctx, conn: accounts.list_keys(conn))
    print(
        f"{'id':>4}  {'role':<12} {'provider':>8}  {'hint':<11} {'created':<16} {'last used':<16} {'revoked':<16} name"
    )

    def when(t: Any) -> str:
        return t.strftime("%Y-%m-%d %H:%M") if t else "-"

    for k in keys:
        print(
            f"{k.id:>4}  {k.role:<12} {k.provider_id or '-':>8}  {k.hint + '…':<11} {when(k.created_at):<16} "
            f"{when(k.last_used_at):<16} {when(k.revoked_at):<16} {k.name}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    actor = Actor.system(f"marketplace keys revoke {args.key_id}")
    key, revoked = _run_on_conn(
        settings, lambda ctx, conn: accounts.revoke_key(conn, actor, args.key_id, at=ctx.clock.now())
    )
    if revoked:
        print(f"revoked key {key.id} ({key.role}): {key.name}")
    else:
        print(f"key {key.id} ({key.role}) was already revoked at {key.revoked_at:%Y-%m-%d %H:%M} UTC: {key.name}")
    return 0


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    async def work(ctx: Context, pool: db.Pool) -> tuple[Need, MatchRun]:
        run, _, _ = await exercises.match_need(
            ctx,
            pool,
            _pools(ctx, pool),
            Actor.system(f"marketplace match {args.need_id}"),
            args.need_id,
            limit=ctx.settings.match_store_limit,
        )
        return run.need, run

    need, run = _run(settings, work)
    print(format_match(need, run, top=args.top))
    return 0


def format_match(need: Need, run: MatchRun, *, top: int) -> str:
    """A readable ranked table: total, then the three criteria contributing most, per provider."""
    lines = [
        f"Match run {run.id} for need {need.id}: {need.title}",
        f"  pathway {need.pathway}, areas {', '.join(need.areas)}, {need.annual_volume} service users a year"
        + (f" ({', '.join(f'{a} {v}' for a, v in need.area_volumes.items())})" if need.area_volumes else "")
        + f", £{need.annual_budget:,} a year",
        f"  {run.directory_size} published providers; {run.candidate_count} assessed; {run.eligible_count} eligible; "
        f"excluded by reason: " + (", ".join(f"{k} {v}" for k, v in run.excluded_by_reason.items()) or "none"),
        "  weights, as percentages of the score: "
        + ", ".join(f"{k.replace('_', ' ')} {v:g}%" for k, v in run.weights_percent.items()),
        "",
        f"{'#':>3}  {'provider':<44} {'total':>6}  strongest criteria (contribution)",
        f"{'-' * 3}  {'-' * 44} {'-' * 6}  {'-' * 48}",
    ]
    for s in run.ranking[:top]:
        best = sorted(s.criteria, key=lambda c: -c.contribution)[:3]
        lines.append(
            f"{s.rank:>3}  {s.name[:44]:<44} {s.total:>6.3f}  "
            + ", ".join(f"{c.criterion} {c.contribution:.3f}" for c in best)
        )
    if not run.ranking:
        lines.append("     (no eligible provider: a gap in the market)")
    return "\n".join(lines)


def cmd_match_exercise(args: argparse.Namespace, settings: Settings) -> int:
    def progress(i: int, n: int, title: str) -> None:
        print(f"matching need {i}/{n}: {title}", file=sys.stderr, flush=True)

    async def work(ctx: Context, pool: db.Pool) -> ExerciseMatched:
        actor = Actor.system(f"marketplace match-exercise {args.exercise_id}")
        return await exercises.match_exercise(ctx, pool, _pools(ctx, pool), actor, args.exercise_id, progress)

    done = _run(settings, work)
    print(f"Exercise {done.exercise_id}: {plural(done.stored, 'match run')} stored, {done.reused} reused")
    for n in done.needs:
        best = f"best {n.best} ({n.best_total:.3f})" if n.best is not None and n.best_total is not None else "none"
        print(
            f"  need {n.need_id}: run {n.match_run_id} ({'reused' if n.reused else 'stored'}), "
            f"{n.eligible_count} eligible, {best}: {n.title}"
        )
    return 0


def _pretty_json(value: Any) -> str:
    return msgspec.json.format(msgspec.json.encode(value)).decode() + "\n"


def _write(output: str | None, data: str | bytes) -> bool:
    """`data` to the file `output` (text as UTF-8, its line endings as they are), or to standard output when it is
    None or "-"; whether it went to a file."""
    if output is None or output == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return False
    try:
        if isinstance(data, bytes):
            Path(output).write_bytes(data)
        else:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.write(data)
    except OSError as exc:  # said as the file's problem, not the database's
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return True


class OutputError(Exception):
    """A file the command was to write could not be written."""


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    async def work(ctx: Context, pool: db.Pool) -> Any:
        return await reports.make_report(ctx, pool, args.exercise_id, threshold=args.threshold)

    report = _run(settings, work)
    fresh = report.freshness
    if fresh is not None and not fresh.current:
        if fresh.not_matched:
            print(
                "not matched yet: " + ", ".join(f"need {n.need_id} ({n.detail})" for n in fresh.not_matched),
                file=sys.stderr,
            )
        if fresh.stale_need_ids:
            print(
                "stale runs (the need, or the weights it would be matched with now, changed since): needs "
                + ", ".join(map(str, fresh.stale_need_ids)),
                file=sys.stderr,
            )
        print(f"to refresh: marketplace match-exercise {args.exercise_id}", file=sys.stderr)
    render: dict[str, Callable[[Any], str | bytes]] = {
        "json": _pretty_json,
        "csv": to_csv_bytes,  # the API's bytes: a byte-order mark, so a spreadsheet reads it as UTF-8
        "html": to_html,
        "xlsx": to_xlsx,  # bytes: a sheet per section
    }
    if _write(args.output, render[args.format](report)):
        runs = report.method.match_run_ids
        cited = f"match runs {', '.join(map(str, runs))}" if runs else "no match run"
        print(
            f"wrote {args.format} report for exercise {args.exercise_id} to {args.output} "
            f"({plural(len(report.needs), 'need')}, {cited})",
            file=sys.stderr,
        )
    return 0


def cmd_appraisal_report(args: argparse.Namespace, settings: Settings) -> int:
    """An options appraisal's report (HTML, JSON, CSV or xlsx) to a file or standard output."""

    async def work(ctx: Context, pool: db.Pool) -> Any:
        return await appraisals.report_data(ctx, pool, args.appraisal_id)

    data = _run(settings, work)
    render: dict[str, Callable[[Any], str | bytes]] = {
        "json": _pretty_json,
        "csv": appraisal_render.to_csv_bytes,
        "html": appraisal_render.to_html,
        "xlsx": appraisal_render.to_xlsx,  # bytes: a sheet per row type, then the appraisal
    }
    if _write(args.output, render[args.format](data)):
        print(f"wrote {args.format} report of appraisal {args.appraisal_id} to {args.output}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    actor = Actor.system(f"marketplace import {path.name}" + (" --commit" if args.commit else ""))

    async def work(ctx: Context, conn: db.Connection) -> ImportRun:
        run = await imports.dry_run(ctx, conn, actor, data, path.name, progress)
        if args.commit and run.summary.new:
            committed = await imports.commit(ctx, conn, actor, run.id, CommitRequest(accept="new"), progress)
            run = msgspec.structs.replace(run, commit=committed)
        return run

    run = _run_on_conn(settings, work)
    s = run.summary
    print(
        f"import {run.id} ({run.format}): {s.rows} organisations, {s.services} services: {s.new} new, "
        f"{s.duplicate} duplicate, {s.ambiguous} ambiguous, {s.bad} bad"
    )
    for row in run.rows:
        if row.verdict == "duplicate":
            print(f"  row {row.row}: duplicate of provider {row.provider_id} ({'; '.join(row.reasons)}): {row.name}")
        elif row.verdict == "ambiguous":
            names = ", ".join(
                (f"provider {c.provider_id}" if c.row is None else f"row {c.row} of the file") + f" ({c.score:.2f})"
                for c in row.candidates
            )
            print(f"  row {row.row}: ambiguous, may be {names}: {row.name}")
        elif row.verdict == "bad":
            for p in row.problems:
                where = f"{p.file} " if p.file else ""
                print(f"  row {row.row}: bad: {where}row {p.row}, column {p.column}: {p.problem}")
    if run.commit is not None:
        created = [r for r in run.commit.results if r.outcome == "created"]
        print(f"committed: {len(created)} pending profiles created ({', '.join(str(r.provider_id) for r in created)})")
    elif args.commit:
        print("nothing to commit: no new row")
    else:
        print(f"dry run only: POST /imports/{run.id}/commit, or run again with --commit to create the new rows")
    return 0


def cmd_audit_partitions(args: argparse.Namespace, settings: Settings) -> int:
    """As the owner: the audit log's partitions a year ahead, and with --drop-expired the months past retention."""

    async def work() -> list[str]:
        conn = await db.connect(db.database_urls(settings).owner)
        try:
            await migrate(conn, settings.schema_dir)
            today = Clock().today()
            await audit.ensure_partitions(conn, today)
            if not args.drop_expired:
                return []
            actor = Actor.system("marketplace audit-partitions --drop-expired")
            return await audit.drop_expired(conn, actor, today, retention_months=settings.audit_retention_months)
        finally:
            await conn.close()

    dropped = asyncio.run(work())
    print(
        "audit log partitions made for the next 12 months"
        + (
            f"; dropped {len(dropped)} past the retention of {settings.audit_retention_months} months"
            if args.drop_expired
            else ""
        )
    )
    for name in dropped:
        print(f"dropped {name}")
    return 0


def cmd_db_url(args: argparse.Namespace, settings: Settings) -> int:
    urls = db.database_urls(settings)
    print(urls.owner if args.owner else urls.app)
    return 0


class ServeError(Exception):
    pass


def claim_port(host: str, port: int) -> None:
    """Refuse a port something already listens on. The server's workers share their port (SO_REUSEPORT), so a
    second server on a busy port would otherwise start and quietly take half the connections."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"cannot serve on {host}:{port}: {exc.strerror} (is another server running there?)"
            ) from None


def claim_data_dir(data_dir: Path) -> int:
    """One server per embedded database: an exclusive lock on <data dir>/serve.lock, held until the server exits
    (its workers inherit it). Returns the lock's file descriptor."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise ServeError(f"{data_dir} is already served by {holder}: one server per embedded database") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"marketplace serve (pid {os.getpid()})\n".encode(), 0)
    return fd


async def _role_problem(dsn: str) -> str | None:
    conn = await db.connect(dsn)
    try:
        return await db.role_problem(conn)
    finally:
        await conn.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    claim_port(args.host, args.port)
    if not settings.database_url:
        claim_data_dir(settings.data_dir)
    dsn, applied, loaded = _prepare(settings, do_seed=True)
    print(
        f"database ready: {plural(applied, 'migration')} applied, "
        + (f"{plural(loaded, 'demo provider')} loaded" if loaded else "existing data kept"),
        flush=True,
    )
    if problem := asyncio.run(_role_problem(dsn)):
        raise ServeError(
            f"the API must not be able to rewrite its own history, but {problem}: connect it (DATABASE_URL) as a role"
            " that owns nothing, such as marketplace_app (schema/0008_app_role.sql), and run migrations as the owner"
            " (MARKETPLACE_OWNER_DATABASE_URL)"
        )
    os.environ["DATABASE_URL"] = dsn  # the workers attach to the same database
    memory.configure_server()  # the workers (forked or spawned) inherit the allocator settings
    started = time.perf_counter()
    views = preload_views(Settings.from_env())  # the workers' settings; they are forked from here and inherit these
    print(
        f"directory views built in {time.perf_counter() - started:.1f} s "
        f"({views.search_index.live_rows()} providers searchable, "
        f"{sum(len(p.provider_id) for p in views.match_parts)} matchable)",
        flush=True,
    )
    print(f"serving on http://{args.host}:{args.port}  (OpenAPI: /schema, /schema/openapi.json)", flush=True)
    Granian(
        args.app,
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        log_access=args.access_log,
        respawn_failed_workers=True,  # a worker that dies (killed, out of memory) is replaced; the others serve on
        respawn_interval=1.0,
    ).serve()
    return 0


def _score(text: str) -> float:
    """A score from 0 to 1 (argparse's type), as the API's `threshold` takes it: `--threshold 1.5` made a report
    whose providers could never reach it."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give a score from 0 to 1, e.g. 0.6") from None
    if not 0 <= x <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"must be a score from 0 to 1, e.g. 0.6, not {text}")
    return x


def _at_least_one(text: str) -> int:
    """A count of at least 1 (argparse's type): `--top 0` printed an empty table and succeeded."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketplace", description="Provision provider marketplace")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, seed an empty database, and serve the API")
    serve.add_argument("--app", default="marketplace.app:app_from_env", help=argparse.SUPPRESS)  # bench's reference
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(func=cmd_migrate)

    seed_p = sub.add_parser("seed", help="load taxonomies, and the demo providers into an empty directory")
    seed_p.add_argument(
        "--reset",
        action="store_true",
        help="rebuild the database from scratch (all data and history go) and reload the demo data",
    )
    seed_p.set_defaults(func=cmd_seed)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it (once)")
    create.add_argument(
        "--role", required=True, choices=get_args(Role), help="auditor: reads what admins read, changes nothing"
    )
    create.add_argument("--provider", type=int, help="the provider a provider key acts for")
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.set_defaults(func=cmd_keys_create)
    keys.add_parser("list", help="list keys (never the keys themselves)").set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(func=cmd_keys_revoke)

    match = sub.add_parser("match", help="match the directory against a need, store the run, print the ranking")
    match.add_argument("need_id", type=int)
    match.add_argument("--top", type=_at_least_one, default=10, help="how many providers to print (default 10)")
    match.set_defaults(func=cmd_match)

    match_all = sub.add_parser(
        "match-exercise", help="match every need of an exercise and store the runs (what the report reads)"
    )
    match_all.add_argument("exercise_id", type=int)
    match_all.set_defaults(func=cmd_match_exercise)

    report = sub.add_parser("report", help="the market-engagement report of an exercise, from stored runs")
    report.add_argument("exercise_id", type=int)
    report.add_argument("--format", choices=["html", "json", "csv", "xlsx"], default="html")
    report.add_argument(
        "--threshold",
        type=_score,
        default=SUITABLE_SCORE,
        help=f"score for 'suitably experienced' (default {SUITABLE_SCORE:g})",
    )
    report.add_argument("-o", "--output", help="file to write (default: standard output)")
    report.set_defaults(func=cmd_report)

    appraisal = sub.add_parser(
        "appraisal-report", help="an options appraisal's report (weighted scores, costs, sensitivity)"
    )
    appraisal.add_argument("appraisal_id", type=int)
    appraisal.add_argument("--format", choices=["html", "json", "csv", "xlsx"], default="html")
    appraisal.add_argument("-o", "--out", "--output", dest="output", help="file to write (default: standard output)")
    appraisal.set_defaults(func=cmd_appraisal_report)

    imp = sub.add_parser("import", help="import organisations and services from a CSV, xlsx or HSDS package (zip)")
    imp.add_argument("file", help="a flat CSV or xlsx sheet (the export's columns), or an HSDS tabular package")
    imp.add_argument("--commit", action="store_true", help="create every new row as a pending profile")
    imp.set_defaults(func=cmd_import)

    parts = sub.add_parser(
        "audit-partitions", help="make the audit log's monthly partitions a year ahead (as the tables' owner)"
    )
    parts.add_argument(
        "--drop-expired",
        action="store_true",
        help="also drop the months that ended longer ago than MARKETPLACE_AUDIT_RETENTION_MONTHS (default 84)",
    )
    parts.set_defaults(func=cmd_audit_partitions)

    url = sub.add_parser("db-url", help='print the URL the API connects with (psql "$(marketplace db-url)")')
    url.add_argument("--owner", action="store_true", help="the URL migrations run with (the tables' owner)")
    url.set_defaults(func=cmd_db_url)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        code: int = args.func(args, settings)
        return code
    except (MigrationError, SeedError, SettingsError, DomainError, ServeError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped reading (`| head`): nothing is wrong, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so flushing at exit raises no more
        return 1
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"error: cannot use the database: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
