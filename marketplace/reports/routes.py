"""The market-engagement report for an exercise: JSON, CSV or a printable HTML page with charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from marketplace.accounts.auth import spend_budget, staff
from marketplace.db import pooled
from marketplace.http import (
    NEEDS_KEY,
    REPORT_MEDIA,
    ActorDep,
    Conn,
    Ctx,
    Id,
    ReportFormat,
    RouteDoc,
    errors_doc,
    negotiate_report,
    report_response,
)
from marketplace.reports import service
from marketplace.reports.models import SUITABLE_SCORE, FrozenReportSummary, Report
from marketplace.reports.render import csv_sections, to_csv_bytes, to_html, to_xlsx
from marketplace.types import NoBody

DOC = RouteDoc(tags=["reports"], security=NEEDS_KEY, guards=[staff])
REPORT_PATH = "/exercises/{exercise_id}/report"
XLSX = REPORT_MEDIA["xlsx"]
FROZEN_PATH = "/reports/{report_id:int}"
EXTRA_MEDIA_TYPES = {
    REPORT_PATH: ["text/csv", "text/html", XLSX],
    "/reports/{report_id}": ["text/csv", "text/html", XLSX],
}
"""The report's other representations, added to the OpenAPI document (see marketplace.openapi)."""
Threshold = Annotated[
    float, Parameter(ge=0, le=1, description="Score at or above which a provider is suitably experienced")
]


async def render(state: State, report: Report, fmt: str) -> Response[Any]:
    renderers: dict[str, Callable[[Report], bytes | str]] = {
        "json": msgspec.json.encode,
        "csv": to_csv_bytes,
        "html": to_html,
        "xlsx": to_xlsx,
    }
    body = await service.in_turn(state.report_builds, renderers[fmt], report)
    return report_response(body, fmt, f"market-report-{report.exercise.id}")


@get(
    "/exercises/{exercise_id:int}/report",
    summary="Market-engagement report: depth, gaps, concentration and options evidence",
    description=(
        "Computed from stored match runs only (each need's newest made with the weights in force and ranked deep "
        "enough: a what-if run with other weights does not replace it): reading it never matches or stores anything. "
        "A need with no stored run deep enough to count the market is listed as not matched yet (`freshness`); a "
        "need changed after its run was made is marked stale with the fields that changed (`needs[].stale_run`). "
        "POST /exercises/{id}/match refreshes every need's run. Market concentration per need and per (need, area) "
        "cell: the Herfindahl-Hirschman index and the largest provider's share of suitable capacity, banded as "
        "the method says. `format` (or the Accept header) chooses JSON (the full structure), CSV (a row per need, "
        "per (need, area) cell and per suitable provider with every criterion's score), xlsx (the CSV's rows a sheet "
        "per row type, and the report's other sections a sheet each, numbers as numbers) or a printable, "
        "self-contained HTML page with SVG charts. POST /exercises/{id}/reports freezes it. Commissioners and admins."
    ),
    responses=errors_doc(400, 403, 404, 406, 422),
    **DOC,
)
async def exercise_report(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    state: State,
    ctx: Ctx,
    actor: ActorDep,
    format: ReportFormat = None,
    threshold: Threshold = SUITABLE_SCORE,
) -> Response[Report]:
    fmt = format or negotiate_report(request.headers.get("accept"))
    spend_budget(state, actor.caller)  # once the request is valid and answerable: see spend_budget
    report = await service.make_report(ctx, state.pool, exercise_id, threshold=threshold)
    return await render(state, report, fmt)


@post(
    "/exercises/{exercise_id:int}/reports",
    summary="Freeze the report: store it once, in every format, for good",
    status_code=201,
    responses=errors_doc(400, 403, 404, 422),
    description=(
        "Computes the report as GET /exercises/{id}/report does (from stored runs only) and stores its JSON, HTML "
        "and CSV bytes with the match run ids, the threshold and the data snapshot time (the newest run's); "
        "GET /reports/{id}?format=json|html|csv returns those same bytes for ever after. The frozen report names "
        "itself (`frozen`). Every need must have a stored run (422 naming those that have none: "
        "POST /exercises/{id}/match first); a stale run is frozen marked stale. Recorded in the audit log."
    ),
    **DOC,
)
async def freeze_report(
    exercise_id: Id,
    state: State,
    ctx: Ctx,
    actor: ActorDep,
    threshold: Threshold = SUITABLE_SCORE,
    data: JSONBody[NoBody | None] = None,
) -> Response[FrozenReportSummary]:
    spend_budget(state, actor.caller)
    frozen = await service.freeze_report(ctx, state.pool, actor, exercise_id, threshold=threshold)
    return Response(frozen, status_code=201, headers={"Location": f"/reports/{frozen.id}"})


@get(
    "/exercises/{exercise_id:int}/reports",
    summary="An exercise's frozen reports, newest first",
    responses=errors_doc(400, 403, 404),
    **DOC,
)
async def list_frozen_reports(exercise_id: Id, conn: Conn) -> list[FrozenReportSummary]:
    return await service.list_frozen(conn, exercise_id)


@get(
    FROZEN_PATH,
    summary="A frozen report, byte for byte as it was stored",
    description="The stored bytes of the report in the format asked for (`format`, else the Accept header; JSON "
    "without either), the same on every request. The xlsx is made from the stored CSV and JSON on each request (the "
    "same workbook every time), so it counts against the key's limit on expensive requests as GET "
    "/exercises/{id}/report does (429 with Retry-After past it); the stored formats, read as they are, do not. "
    "Commissioners and admins.",
    responses=errors_doc(400, 403, 404, 406, 429),
    **DOC,
)
async def get_frozen_report(
    request: Request[Any, Any, Any], report_id: Id, state: State, actor: ActorDep, format: ReportFormat = None
) -> Response[Report]:
    fmt = format or negotiate_report(request.headers.get("accept"))
    if fmt == "xlsx":
        spend_budget(state, actor.caller)  # once the request is valid and answerable: see spend_budget
        frozen, body = await service.frozen_workbook(
            state.pool, state.report_builds, report_id, held_by_csv=csv_sections
        )
    else:
        async with pooled(state.pool) as conn:
            frozen, body = await service.get_frozen(conn, report_id, fmt)
    return report_response(body, fmt, f"market-report-{frozen.exercise_id}-frozen-{frozen.id}")


ROUTES = [exercise_report, freeze_report, list_frozen_reports, get_frozen_report]
