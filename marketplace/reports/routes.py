"""The market-engagement report for an exercise: JSON, CSV or a printable HTML page with charts."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import Parameter

from marketplace.accounts.auth import expensive, staff
from marketplace.errors import NotAcceptable
from marketplace.http import NEEDS_KEY, ActorDep, Ctx, Id, errors_doc
from marketplace.reports import service
from marketplace.reports.models import Report
from marketplace.reports.render import to_csv_bytes, to_html

REPORT_PATH = "/exercises/{exercise_id}/report"
MEDIA = {"json": "application/json", "csv": "text/csv", "html": "text/html"}
EXTRA_MEDIA_TYPES = {REPORT_PATH: ["text/csv", "text/html"]}
"""The report's other representations, added to the OpenAPI document (see marketplace.openapi)."""
SERVED_BY = {
    "application/json": "json",
    "text/csv": "csv",
    "text/html": "html",
    "application/*": "json",
    "text/*": "html",
    "*/*": "json",
}
"""Each media range the report answers, and the format that answers it."""
PREFERENCE = ("json", "html", "csv")
"""Among formats the client likes equally."""
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",  # commercially sensitive, and made from data that changes
}


def negotiate(accept: str | None) -> str:
    """The format the Accept header prefers among JSON, CSV and HTML (JSON without one). Decided before any work:
    a range with an unreadable quality value counts for nothing, and a header naming none of the three (nor a
    wildcard) is a 406."""
    if accept is None or not accept.strip():
        return "json"
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (x.strip() for x in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = float(value) if re.fullmatch(r"(0(\.[0-9]{0,3})?|1(\.0{0,3})?)", value.strip()) else -1.0
        kind = SERVED_BY.get(media.lower())
        if kind is not None and q > 0:
            best[kind] = max(best.get(kind, 0.0), q)
    if not best:
        raise NotAcceptable(f"the report comes as {', '.join(m for m in MEDIA.values())}; Accept named none of them")
    return max(PREFERENCE, key=lambda kind: (best.get(kind, 0.0), -PREFERENCE.index(kind)))


async def render(report: Report, fmt: str) -> Response[Any]:
    if fmt == "json":
        body = await asyncio.to_thread(msgspec.json.encode, report)
        return Response(body, media_type=MEDIA["json"], headers=HEADERS)
    if fmt == "csv":  # with a byte-order mark, so spreadsheets read the pound signs right
        disposition = f'attachment; filename="market-report-{report.exercise.id}.csv"'
        body = await asyncio.to_thread(to_csv_bytes, report)
        return Response(body, media_type=MEDIA["csv"], headers={**HEADERS, "Content-Disposition": disposition})
    # the page needs nothing but its own inline styles, and is never framed: say so, as a second safeguard to escaping
    csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    page = await asyncio.to_thread(to_html, report)
    return Response(page, media_type=MEDIA["html"], headers={**HEADERS, "Content-Security-Policy": csp})


@get(
    "/exercises/{exercise_id:int}/report",
    summary="Market-engagement report: depth, gaps and options evidence",
    description=(
        "Computed from the newest stored match run of each need (a need never matched is matched now, and that run "
        "stored), so it can be reproduced. `format` (or the Accept header) chooses JSON (the full structure), CSV "
        "(one row per (need, area) cell and one per top candidate) or a printable, self-contained HTML page with "
        "SVG charts. Commissioners and admins."
    ),
    responses=errors_doc(400, 403, 404, 406, 422),
    tags=["reports"],
    security=NEEDS_KEY,
    guards=[staff, expensive],
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
    fmt = format or negotiate(request.headers.get("accept"))
    report = await service.make_report(ctx, state.pool, state.match_pools, actor, exercise_id, threshold=threshold)
    return await render(report, fmt)


ROUTES = [exercise_report]
