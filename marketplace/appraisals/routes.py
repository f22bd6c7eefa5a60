"""Options appraisals (commissioners and admins): delivery models on weighted criteria, costs, moderation, the
market evidence, the decision (which freezes the appraisal) and the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader, State
from litestar.handlers import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.serialization import decode_json

from marketplace.accounts.auth import spend_budget, staff
from marketplace.appraisals import service
from marketplace.appraisals.models import (
    Appraisal,
    AppraisalIn,
    AppraisalPage,
    AppraisalPatch,
    AppraisalReport,
    AppraisalSummary,
    CostsDoc,
    CriteriaDoc,
    DecisionIn,
    ModerationDoc,
    OptionsDoc,
    ScoresDoc,
)
from marketplace.appraisals.render import to_csv_bytes, to_html, to_xlsx
from marketplace.concurrency import etag
from marketplace.http import (
    NEEDS_KEY,
    REPORT_MEDIA,
    ActorDep,
    Conn,
    Ctx,
    Id,
    IfMatch,
    PageNumber,
    PerPage,
    ReportFormat,
    RouteDoc,
    errors_doc,
    if_match_first,
    negotiate_report,
    report_response,
    versioned,
)
from marketplace.reports import service as reports

ETAG = [ResponseHeader(name="ETag", description='The appraisal\'s version, e.g. "v3"', documentation_only=True)]
DOC = RouteDoc(tags=["options appraisals"], security=NEEDS_KEY, guards=[staff])


class PartDoc(RouteDoc):
    responses: dict[int, ResponseSpec]
    response_headers: list[ResponseHeader]


class CreateDoc(PartDoc):
    status_code: int


async def frozen_first(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard on every change of an appraisal (after the caller's role and If-Match's presence, `if_match_first`: a
    change without one is a 428 everywhere): a decided appraisal answers 409 before the body is checked against its
    schema or If-Match against its version, so "decided and frozen" is the answer whatever is sent (an empty list, a
    field of the wrong type, a stale version), as it is for a change that would otherwise be made. A body that is
    not JSON at all (malformed, not UTF-8, nested too deeply) stays the 400 it is on every endpoint."""
    if isinstance(connection, Request):
        try:
            decode_json(await connection.body() or b"null")  # JSON at all? (the body is kept for the handler)
        except Exception:  # untrusted bytes through the decoder: whatever it raises, the handler's decoding says why
            return
    decided = service.ALREADY_DECIDED if connection.scope["path"].endswith("/decision") else service.FROZEN
    await service.refuse_once_decided(connection.app.state.pool, connection.path_params["appraisal_id"], decided)


CHANGE = PartDoc(
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404, 409, 412, 422, 428),
    tags=DOC["tags"],
    security=DOC["security"],
    guards=[staff, if_match_first, frozen_first],
)
GET_ONE = PartDoc(response_headers=ETAG, responses=errors_doc(400, 403, 404), **DOC)
CREATE = CreateDoc(status_code=201, response_headers=ETAG, responses=errors_doc(400, 403, 404, 422), **DOC)
PUT_NOTE = (
    "Replaces the whole list (send it back with your change), under the appraisal's ETag (If-Match); the appraisal is "
    "checked as a whole (422 naming each field: unknown option or criterion keys, a score above its scale, "
    "duplicates...). 409 once the appraisal is decided: it is frozen, and refuses any change, whatever the body."
)


@get("/appraisals", summary="Options appraisals, newest first", responses=errors_doc(400, 403), **DOC)
async def list_appraisals(conn: Conn, page: PageNumber = 1, per_page: PerPage = 20) -> AppraisalPage:
    return await service.list_appraisals(conn, page=page, per_page=per_page)


@post(
    "/appraisals",
    summary="Start an options appraisal (of an exercise, or standing alone)",
    description="Criteria default to financial viability, performance impact, quality and sustainability, equally "
    "weighted and scored 0-5. Options, scores, moderated scores and costs may be given now or later (PUT each).",
    **CREATE,
)
async def create_appraisal(data: JSONBody[AppraisalIn], ctx: Ctx, conn: Conn, actor: ActorDep) -> Response[Appraisal]:
    made = await service.create_appraisal(ctx, conn, actor, data)
    return versioned(made, 201, location=f"/appraisals/{made.id}")


@get(
    "/exercises/{exercise_id:int}/appraisals",
    summary="An exercise's options appraisals",
    responses=errors_doc(400, 403, 404),
    **DOC,
)
async def list_exercise_appraisals(exercise_id: Id, conn: Conn) -> list[AppraisalSummary]:
    return await service.list_for_exercise(conn, exercise_id)


@post("/exercises/{exercise_id:int}/appraisals", summary="Start an options appraisal of this exercise", **CREATE)
async def create_exercise_appraisal(
    exercise_id: Id, data: JSONBody[AppraisalIn], ctx: Ctx, conn: Conn, actor: ActorDep
) -> Response[Appraisal]:
    made = await service.create_appraisal(ctx, conn, actor, data, exercise_id=exercise_id)
    return versioned(made, 201, location=f"/appraisals/{made.id}")


@get(
    "/appraisals/{appraisal_id:int}",
    summary="An appraisal: its inputs and results (weighted scores, ranking, sensitivity)",
    **GET_ONE,
)
async def get_appraisal(appraisal_id: Id, conn: Conn) -> Response[Appraisal]:
    return versioned(await service.get_appraisal(conn, appraisal_id))


@patch("/appraisals/{appraisal_id:int}", summary="Update an appraisal's settings (partial; If-Match)", **CHANGE)
async def patch_appraisal(
    appraisal_id: Id, data: JSONBody[AppraisalPatch], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> Response[Appraisal]:
    return versioned(await service.update_appraisal(ctx, conn, actor, appraisal_id, if_match, data))


D = TypeVar("D", bound=msgspec.Struct)


def _part(part: str, doc: type[D], read: str, replace: str) -> tuple[Any, Any]:
    """GET and PUT of the appraisal's sub-resource `part` (`doc` its body, e.g. `{"options": [...]}`; `read` and
    `replace` the operations' summaries): read with the appraisal's ETag, replaced whole under it."""
    path = f"/appraisals/{{appraisal_id:int}}/{part}"
    types = {"D": doc}  # the body's and the response's type, for the framework's signature model

    async def get_part(appraisal_id: Id, conn: Conn) -> Response[D]:
        a = await service.get_appraisal(conn, appraisal_id)
        return Response(doc(**{part: getattr(a, part)}), headers={"ETag": etag(a.version)})

    async def put_part(
        appraisal_id: Id, data: JSONBody[D], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
    ) -> Response[Appraisal]:
        return versioned(
            await service.replace_part(ctx, conn, actor, appraisal_id, if_match, part, getattr(data, part))
        )

    get_part.__name__ = get_part.__qualname__ = f"get_{part}"
    put_part.__name__ = put_part.__qualname__ = f"put_{part}"
    return (
        get(path, summary=read, signature_namespace=types, **GET_ONE)(get_part),
        put(path, summary=replace, description=PUT_NOTE, signature_namespace=types, **CHANGE)(put_part),
    )


PARTS = [
    *_part("options", OptionsDoc, "The options (delivery models)", "Replace the options"),
    *_part("criteria", CriteriaDoc, "The criteria and their weights", "Replace the criteria (add, rename, reweight)"),
    *_part("scores", ScoresDoc, "Every assessor's scores", "Replace the assessors' scores"),
    *_part("moderation", ModerationDoc, "The moderated (agreed) scores", "Replace the moderated scores"),
    *_part("costs", CostsDoc, "The cost lines per option and year", "Replace the cost lines"),
]


@post(
    "/appraisals/{appraisal_id:int}/decision",
    summary="Record the board's decision, and freeze the appraisal",
    status_code=201,
    description="The chosen option (its key) and who decided; `reasons` are required when it is not the preferred "
    "option (with a budget, the top weighted score among the options known to be affordable; without, the top): "
    "over budget, not costed, or affordable but lower scoring (422 naming `reasons`, saying which, and by how much "
    "it is over budget), and while the exercise's market engagement is still open (the 422 gives its deadline; the "
    "decision keeps it, `engagement_open_until`, and the report says so). Required reasons need at least 3 words "
    "and 15 characters, e.g. a board minute reference. Needs "
    "the appraisal's ETag (If-Match). The decision stores the results and the exercise's market evidence as they "
    "are now, freezes a market report when every need has a stored match run, and cites it and the match runs; the "
    "appraisal can then never change (the database refuses it; 409 here).",
    **CHANGE,
)
async def decide(
    appraisal_id: Id, data: JSONBody[DecisionIn], state: State, ctx: Ctx, actor: ActorDep, if_match: IfMatch = None
) -> Response[Appraisal]:
    spend_budget(state, actor.caller)  # it freezes a market report
    decided = await service.decide(ctx, state.pool, actor, appraisal_id, if_match, data)
    return versioned(decided, 201, location=f"/appraisals/{appraisal_id}")


@get(
    "/appraisals/{appraisal_id:int}/report",
    summary="The appraisal report: JSON, CSV or a printable HTML page",
    description="Weighted scores by option and criterion, the moderation spread, costs over the years and net "
    "present cost against the budget, the sensitivity tornado, and the exercise's market evidence beside the "
    "scores, with options that would buy a need with no market flagged. Once decided, the report reads only what "
    "was frozen with the decision (the market report it froze; `market_source`, `market_note` say which) and is "
    "dated then: the same bytes on every request. Before it, the evidence is drawn from the stored match runs now. "
    "`format` (or the Accept header) chooses the representation: xlsx is the CSV's rows a sheet per row type, then "
    "the appraisal itself.",
    responses=errors_doc(400, 403, 404, 406),
    **DOC,
)
async def appraisal_report(
    request: Request[Any, Any, Any],
    appraisal_id: Id,
    state: State,
    ctx: Ctx,
    actor: ActorDep,
    format: ReportFormat = None,
) -> Response[AppraisalReport]:
    fmt = format or negotiate_report(request.headers.get("accept"))
    spend_budget(state, actor.caller)  # once the request is valid and answerable: see spend_budget
    data = await service.report_data(ctx, state.pool, appraisal_id)
    renderers: dict[str, Callable[[AppraisalReport], bytes | str]] = {
        "json": msgspec.json.encode,
        "csv": to_csv_bytes,
        "html": to_html,
        "xlsx": to_xlsx,
    }
    body = await reports.in_turn(state.report_builds, renderers[fmt], data)  # one rendering at a time per worker
    return report_response(body, fmt, f"appraisal-{appraisal_id}")


EXTRA_MEDIA_TYPES = {"/appraisals/{appraisal_id}/report": ["text/csv", "text/html", REPORT_MEDIA["xlsx"]]}
"""The report's other representations, for the OpenAPI document."""

ROUTES = [
    list_appraisals,
    create_appraisal,
    list_exercise_appraisals,
    create_exercise_appraisal,
    get_appraisal,
    patch_appraisal,
    *PARTS,
    decide,
    appraisal_report,
]
