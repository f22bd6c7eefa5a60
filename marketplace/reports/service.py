"""The market-engagement report of an exercise, computed from stored match runs: each need's newest made with the
weights in force and ranked deep enough (`exercises.service.report_runs`).

Reading a report never matches and never writes: a need without a stored run deep enough to count the market is
listed as not matched yet (POST /exercises/{id}/match, `exercises.service.match_exercise`, matches them all), a
need changed since its run is marked stale, and one whose run's providers changed since is marked with them. A report
can be frozen (`freeze_report`): its three renderings are stored once (schema/0011, append-only) and returned
unchanged by `get_frozen`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from marketplace import audit
from marketplace.context import Context
from marketplace.db import Connection, Pool, pooled
from marketplace.engagement import service as engagement
from marketplace.errors import FieldProblem, NotFound, Unprocessable
from marketplace.exercises import service as exercises
from marketplace.reports import queries
from marketplace.reports.build import build_report
from marketplace.reports.models import Frozen, FrozenReportSummary, Report
from marketplace.reports.render import to_csv_bytes, to_html
from marketplace.sheets import report_workbook
from marketplace.types import Actor

FORMATS = ("json", "html", "csv")
T = TypeVar("T")


THRESHOLD_PLACES = 3
"""A threshold's decimal places at most: scores are shown to 3, so a finer threshold (0.6000000001) would be shown as
one (0.6) it is not, and leave out a provider shown scoring it."""


async def make_report(ctx: Context, db: Pool, exercise_id: int, *, threshold: float) -> Report:
    """The report from stored runs only (reads; never matches, never stores)."""
    if round(threshold, THRESHOLD_PLACES) != threshold:
        problem = f"at most {THRESHOLD_PLACES} decimal places, as scores are shown (e.g. 0.6 or 0.625)"
        raise Unprocessable.field("threshold", problem)
    async with pooled(db) as conn:
        exercise = await exercises.get_exercise(conn, exercise_id)
        runs = await exercises.report_runs(conn, exercise, ctx.settings.match_store_limit)
        ranked = sorted({s.provider_id for run in runs.values() for s in run.ranking})
        written = await queries.changed_since_runs(conn, [run.id for run in runs.values()], ranked)
        # the market response only when the report shows it (published), from the runs just read
        published = await engagement.is_published(conn, exercise_id)
        responses = (
            await engagement.market_response(ctx, conn, exercise_id, threshold=threshold, runs=runs)
            if published
            else None
        )
    report = await asyncio.to_thread(
        build_report,
        exercise,
        list(runs.values()),
        ctx.taxonomy,
        threshold=threshold,
        generated_at=ctx.clock.now(),
        depth=ctx.settings.match_store_limit,
        changed={
            run_id: [(r["provider_id"], r["name"], r["status"], r["offers_pathway"]) for r in rows]
            for run_id, rows in written.items()
        },
    )
    return msgspec.structs.replace(report, market_response=responses)


def rendered(report: Report) -> dict[str, bytes]:
    """The report's bytes in each format, exactly as the API returns them."""
    return {"json": msgspec.json.encode(report), "html": to_html(report).encode(), "csv": to_csv_bytes(report)}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A report ready to freeze (:func:`prepare_frozen`): its id, its bytes in every format, what it cites."""

    report_id: int
    exercise_id: int
    threshold: float
    report: Report
    data: dict[str, bytes]


async def prepare_frozen(ctx: Context, db: Pool, exercise_id: int, *, threshold: float) -> Prepared:
    """The report as it is now, rendered in every format, under the id it will be stored as; nothing stored (an id
    drawn and never stored leaves a gap). Every need must have a stored run deep enough to count the market (else 422
    naming them); stale runs are frozen marked stale."""
    report = await make_report(ctx, db, exercise_id, threshold=threshold)
    return await prepare(db, report)


def complete(report: Report) -> bool:
    """Whether the report can be frozen: every need of its exercise has a stored run to report from."""
    return report.freshness is None or not report.freshness.not_matched


def refusal(report: Report) -> Unprocessable | None:
    """Why `report` cannot be frozen (the 422 freezing it answers: an exercise with no needs, or the needs with no
    stored run and how to match them), or None when it can: so a page offering to freeze it can say so before anyone
    tries."""
    if not report.needs and (report.freshness is None or not report.freshness.not_matched):
        problem = (
            "the exercise has no needs: a report frozen now would hold nothing; add its needs and match them first"
        )
        return Unprocessable.from_problems([FieldProblem(field="needs", problem=problem)])
    if report.freshness is None or complete(report):
        return None
    missing = ", ".join(str(n.need_id) for n in report.freshness.not_matched)
    problem = f"needs {missing} have no stored match run to report from; {report.freshness.refresh}"
    return Unprocessable.from_problems([FieldProblem(field="needs", problem=problem)])


async def prepare(db: Pool, report: Report) -> Prepared:
    """`report` (made by :func:`make_report`) ready to freeze, as :func:`prepare_frozen` says: so a use case that reads
    the report itself (an appraisal's decision) freezes the very report it read."""
    if (refused := refusal(report)) is not None:
        raise refused
    async with pooled(db) as conn:  # the id first, so the stored report names itself
        report_id = await queries.next_frozen_report_id(conn)
    frozen = msgspec.structs.replace(report, frozen=Frozen(report_id=report_id, url=f"/reports/{report_id}"))
    data = await asyncio.to_thread(rendered, frozen)
    threshold = report.method.thresholds.suitable_score
    return Prepared(report_id=report_id, exercise_id=report.exercise.id, threshold=threshold, report=frozen, data=data)


async def store_frozen(conn: Connection, actor: Actor, prepared: Prepared) -> FrozenReportSummary:
    """Store a prepared report once and for ever, with its audit row, in the caller's transaction (so a use case
    refused after it stores nothing: an appraisal's decision freezes its report only if the decision is made)."""
    frozen = prepared.report
    row = await queries.insert_frozen_report(
        conn,
        report_id=prepared.report_id,
        exercise_id=prepared.exercise_id,
        created_by=actor.caller.key_id,
        match_run_ids=frozen.method.match_run_ids,
        threshold=prepared.threshold,
        data_snapshot_at=frozen.method.data_snapshot_to,
        generated_at=frozen.generated_at,
        data=prepared.data,
    )
    detail = f"froze report {prepared.report_id} of exercise {prepared.exercise_id}"
    await audit.record(conn, actor, status=201, detail=detail)
    return queries.summary_of(row)


async def freeze_report(
    ctx: Context, db: Pool, actor: Actor, exercise_id: int, *, threshold: float
) -> FrozenReportSummary:
    """Store the report as it is now, in every format, once and for ever (with its audit row): see
    :func:`prepare_frozen`."""
    prepared = await prepare_frozen(ctx, db, exercise_id, threshold=threshold)
    async with pooled(db) as conn, conn.transaction():
        return await store_frozen(conn, actor, prepared)


async def get_frozen(conn: Connection, report_id: int, fmt: str) -> tuple[FrozenReportSummary, bytes]:
    row = await queries.fetch_frozen_report(conn, report_id, fmt)
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return queries.summary_of(row), bytes(row["body"])


REPORT_BUILDS = 1
"""Reports rendered at once per worker (`in_turn`). A rendering is pure Python: in a thread it leaves the event loop
free between its turns, but threads share the interpreter lock, so each more at once slows every other request: four
frozen workbooks of a 300-need report built together took 38 s each and /health 1.3 s (one: a few ms)."""


async def in_turn(builds: asyncio.Semaphore, make: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`make(*args, **kwargs)` in a thread, once it is this one's turn (`builds`, REPORT_BUILDS at once). The caller
    holds no database connection while it waits: a queue of reports must not take the pool's connections."""
    async with builds:
        return await asyncio.to_thread(make, *args, **kwargs)


async def frozen_workbook(
    db: Pool, builds: asyncio.Semaphore, report_id: int, *, held_by_csv: Callable[[bytes], Collection[str]]
) -> tuple[FrozenReportSummary, bytes]:
    """A frozen report's xlsx, made from its stored CSV and JSON (so the same workbook every time), leaving out of
    the JSON's sheets what `held_by_csv` says the stored CSV holds; the stored bytes are read on a connection given
    back before the workbook is made (`in_turn`)."""
    async with pooled(db) as conn:
        frozen, csv_body = await get_frozen(conn, report_id, "csv")
        _, json_body = await get_frozen(conn, report_id, "json")
    held = held_by_csv(csv_body)
    return frozen, await in_turn(builds, report_workbook, csv_body, json_body, held_by_csv=held)


async def frozen_report(conn: Connection, report_id: int) -> Report:
    """A frozen report as stored (its JSON read back): what was frozen, never the runs as they are now."""
    _, body = await get_frozen(conn, report_id, "json")
    return msgspec.json.decode(body, type=Report)


async def list_frozen(conn: Connection, exercise_id: int) -> list[FrozenReportSummary]:
    await exercises.get_exercise(conn, exercise_id)
    return [queries.summary_of(r) for r in await queries.list_frozen_reports(conn, exercise_id)]
