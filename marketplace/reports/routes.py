"""The market-engagement report for an exercise: JSON, CSV or a printable HTML page with charts."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import Parameter

from marketplace.accounts.auth import staff
from marketplace.http import NEEDS_KEY, ActorDep, Ctx, Id, errors_doc
from marketplace.reports import service
from marketplace.reports.models import Report
from marketplace.reports.render import to_csv_bytes, to_html

REPORT_PATH = "/exercises/{exercise_id}/report"
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}
EXTRA_MEDIA_TYPES = {REPORT_PATH: ["text/csv", "text/html"]}
"""The report's other representations, added to the OpenAPI document (see marketplace.openapi)."""


def negotiate(accept: str | None) -> str:
    """json unless the Accept header prefers CSV or HTML."""
    best, best_q = "json", -1.0
    for part in (accept or "").split(","):
        media, _, params = part.strip().partition(";")
        q_match = re.search(r"q=([0-9.]+)", params)
        q = float(q_match.group(1)) if q_match else 1.0
        kind = {"text/csv": "csv", "text/html": "html", "application/json": "json"}.get(media.strip().lower())
        if kind and q > best_q:
            best, best_q = kind, q
    return best


async def render(report: Report, fmt: str) -> Response[Any]:
    if fmt == "json":
        return Response(await asyncio.to_thread(msgspec.json.encode, report), media_type=MEDIA["json"])
    if fmt == "csv":  # with a byte-order mark, so spreadsheets read the pound signs right
        return Response(
            await asyncio.to_thread(to_csv_bytes, report),
            media_type=MEDIA["csv"],
            headers={"Content-Disposition": f'attachment; filename="market-report-{report.exercise.id}.csv"'},
        )
    # the page needs nothing but its own inline styles: say so, as a second safeguard to escaping
    return Response(
        await asyncio.to_thread(to_html, report),
        media_type=MEDIA["html"],
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@get(
    "/exercises/{exercise_id:int}/report",
    summary="Market-engagement report: depth, gaps and options evidence",
    description=(
        "Computed from the newest stored match run of each need (a need never matched is matched now, and that run "
        "stored), so it can be reproduced. `format` (or the Accept header) chooses JSON (the full structure), CSV "
        "(one row per (need, area) cell and one per top candidate) or a printable, self-contained HTML page with "
        "SVG charts. Commissioners and admins."
    ),
    responses=errors_doc(400, 403, 404),
    tags=["reports"],
    security=NEEDS_KEY,
    guards=[staff],
)
async def exercise_report(
    request: Request[Any, Any, Any],
    exercise_id: Id,
    state: State,
    ctx: Ctx,
    actor: ActorDep,
    format: Annotated[
        Literal["json", "csv", "html"] | None, Parameter(description="Overrides the Accept header")
    ] = None,
    threshold: Annotated[
        float, Parameter(ge=0, le=1, description="Score at or above which a provider is suitably experienced")
    ] = 0.6,
) -> Response[Report]:
    report = await service.make_report(ctx, state.pool, state.match_pools, actor, exercise_id, threshold=threshold)
    return await render(report, format or negotiate(request.headers.get("accept")))


ROUTES = [exercise_report]
