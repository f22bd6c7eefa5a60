"""Commissioning exercises and needs (commissioners and admins), explainable match runs, partnerships."""

from __future__ import annotations

from typing import Annotated, cast

from litestar import MediaType, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader, State
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, Parameter

from marketplace.accounts.auth import spend_budget, staff
from marketplace.exercises import service
from marketplace.exercises.models import (
    MAX_NEEDS,
    WEIGHTS_RULE,
    Exercise,
    ExerciseIn,
    ExerciseMatched,
    ExercisePage,
    ExercisePatch,
    MatchRequest,
    MatchRun,
    MatchRunSummary,
    Need,
    NeedIn,
    NeedPatch,
    PartnershipRun,
)
from marketplace.http import (
    NEEDS_KEY,
    ActorDep,
    Conn,
    Ctx,
    Id,
    IfMatch,
    PageNumber,
    PerPage,
    RouteDoc,
    errors_doc,
    versioned,
)
from marketplace.types import NoBody

RankingLimit = Annotated[int, Parameter(ge=0, le=500, description="How many of the stored ranked providers to return")]
MatchLimit = Annotated[
    int, Parameter(ge=0, le=500, description="How many ranked providers to explain, return and store")
]
ETAG = [ResponseHeader(name="ETag", description='The version, e.g. "v3"', documentation_only=True)]
DOC = RouteDoc(tags=["exercises and matching"], security=NEEDS_KEY, guards=[staff])
NOTICE_FROZEN = (
    "Once the exercise is published for market engagement, what its notice shows cannot change "
    "(409 naming the fields): its title, body, description and opening date, and each need's title, pathway, "
    "areas, volume, budget, cohorts, contract years and desired outcomes. The closing date may move later (of "
    "an exercise marked closed, only with status engagement_open: it opens again). "
    "Weights, local priorities, area volumes (still adding up to the volume) and the other evaluation settings may "
    "change."
)
"""What PATCH of an exercise and of a need says about a published exercise (one rule, checked for both)."""
REUSED = "The stored run made from the same inputs over an unchanged directory, given back (Location: its URL)"
LIMITED = (
    "At most MARKETPLACE_EXPENSIVE_LIMIT (default 20) match runs, partnership proposals and reports a minute per key "
    "and server worker; beyond that 429 with Retry-After."
)


class PatchDoc(RouteDoc):
    description: str
    response_headers: list[ResponseHeader]
    responses: dict[int, ResponseSpec]


PATCH = PatchDoc(
    description=NOTICE_FROZEN, response_headers=ETAG, responses=errors_doc(400, 403, 404, 409, 412, 422, 428), **DOC
)
"""PATCH of an exercise and of a need: partial, under If-Match, and NOTICE_FROZEN once published."""


class StoreDoc(RouteDoc):
    status_code: int
    responses: dict[int, ResponseSpec]


def stores(kind: type, reused: str = REUSED) -> StoreDoc:
    """A costly POST that stores what it made (201), or gives back (200, `kind`) what it stored before from the
    same inputs. Costly: its handler charges the key's per-minute budget (settings.expensive_limit) once the request
    is valid (`spend_budget`)."""
    return StoreDoc(
        status_code=201,
        responses={**errors_doc(400, 403, 404, 422), 200: ResponseSpec(kind, description=reused)},
        **DOC,
    )


@get("/exercises", summary="Commissioning exercises, newest first", responses=errors_doc(400, 403), **DOC)
async def list_exercises(conn: Conn, page: PageNumber = 1, per_page: PerPage = 20) -> ExercisePage:
    return await service.list_exercises(conn, page=page, per_page=per_page)


@post(
    "/exercises",
    summary="Start a commissioning exercise",
    status_code=201,
    response_headers=ETAG,
    responses=errors_doc(400, 403, 422),
    **DOC,
)
async def create_exercise(data: JSONBody[ExerciseIn], ctx: Ctx, conn: Conn, actor: ActorDep) -> Response[Exercise]:
    made = await service.create_exercise(ctx, conn, actor, data)
    return versioned(made, 201, location=f"/exercises/{made.id}")


@get(
    "/exercises/{exercise_id:int}",
    summary="An exercise with its needs",
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404),
    **DOC,
)
async def get_exercise(exercise_id: Id, conn: Conn) -> Response[Exercise]:
    return versioned(await service.get_exercise(conn, exercise_id))


@patch("/exercises/{exercise_id:int}", summary="Update an exercise (partial; If-Match)", **PATCH)
async def patch_exercise(
    exercise_id: Id, data: JSONBody[ExercisePatch], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> Response[Exercise]:
    return versioned(await service.update_exercise(ctx, conn, actor, exercise_id, if_match, data))


@post(
    "/exercises/{exercise_id:int}/needs",
    summary="Add a need (lot) to an exercise",
    description=f"Not once the exercise is published for market engagement (409). An exercise has at most "
    f"{MAX_NEEDS} needs (422 naming `needs`): each is a match run in POST /exercises/{{id}}/match and a section of "
    "its report.",
    status_code=201,
    response_headers=ETAG,
    responses=errors_doc(400, 403, 404, 409, 422),
    **DOC,
)
async def create_need(exercise_id: Id, data: JSONBody[NeedIn], ctx: Ctx, conn: Conn, actor: ActorDep) -> Response[Need]:
    made = await service.create_need(ctx, conn, actor, exercise_id, data)
    return versioned(made, 201, location=f"/needs/{made.id}")


@get("/exercises/{exercise_id:int}/needs", summary="An exercise's needs", responses=errors_doc(400, 403, 404), **DOC)
async def list_needs(exercise_id: Id, conn: Conn) -> list[Need]:
    return await service.list_needs(conn, exercise_id)


@get("/needs/{need_id:int}", summary="A need", response_headers=ETAG, responses=errors_doc(400, 403, 404), **DOC)
async def get_need(need_id: Id, conn: Conn) -> Response[Need]:
    return versioned(await service.get_need(conn, need_id))


@patch("/needs/{need_id:int}", summary="Update a need (partial; If-Match)", **PATCH)
async def patch_need(
    need_id: Id, data: JSONBody[NeedPatch], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> Response[Need]:
    return versioned(await service.update_need(ctx, conn, actor, need_id, if_match, data))


@delete(
    "/needs/{need_id:int}",
    summary="Remove a need that has no stored runs (If-Match)",
    description="Not once the exercise is published for market engagement (409), nor a need with stored runs (409).",
    status_code=204,
    responses=errors_doc(400, 403, 404, 409, 412, 428),
    **DOC,
)
async def delete_need(need_id: Id, conn: Conn, actor: ActorDep, if_match: IfMatch = None) -> None:
    await service.delete_need(conn, actor, need_id, if_match)


@post(
    "/needs/{need_id:int}/match-runs",
    summary="Match the current directory against a need, and store the run",
    **stores(MatchRun),
    description="Every published provider is either excluded with its reasons (counted by reason) or scored 0-1 on "
    "each criterion with its weight, raw values, contribution and evidence, read through its qualifying services "
    "(active, in the need's pathway, serving the need's ages and men or women), which each ranked provider names "
    "(`service_ids`, with its `capacity` for the need). The run is stored as it is returned "
    "(the best `limit` providers, each explained, and the first excluded ones by name with their reasons); "
    "GET /match-runs/{id} gives it back unchanged. "
    + WEIGHTS_RULE
    + " The same request again, with nothing in the directory "
    "or the need written since, gives back the stored run (200) instead of storing a copy. " + LIMITED,
)
async def create_match_run(
    need_id: Id,
    state: State,
    ctx: Ctx,
    actor: ActorDep,
    data: JSONBody[MatchRequest | None] = None,
    limit: MatchLimit = 50,
) -> Response[MatchRun]:
    spend_budget(state, actor.caller)
    run, reused, text = await service.match_need(
        ctx,
        state.pool,
        state.match_pools,
        actor,
        need_id,
        weights=data.weights if data is not None else None,
        limit=limit,
    )
    # the run's JSON as encoding `run` gives it, made from its stored text (service.match_need): bytes are sent as
    # they are, and the annotation keeps the documented schema, the run's
    return Response(
        cast(MatchRun, text),
        media_type=MediaType.JSON,
        status_code=200 if reused else 201,
        headers={"Location": f"/match-runs/{run.id}"},
    )


@get(
    "/needs/{need_id:int}/match-runs",
    summary="A need's stored match runs, newest first",
    responses=errors_doc(400, 403, 404),
    **DOC,
)
async def list_match_runs(need_id: Id, conn: Conn) -> list[MatchRunSummary]:
    return await service.list_match_runs(conn, need_id)


@get(
    "/match-runs/{run_id:int}",
    summary="A stored match run, exactly as it was made",
    responses=errors_doc(400, 403, 404),
    **DOC,
)
async def get_match_run(run_id: Id, conn: Conn, limit: RankingLimit = 50) -> MatchRun:
    return await service.get_match_run(conn, run_id, limit=limit)


@post(
    "/exercises/{exercise_id:int}/partnerships",
    summary="Propose lead-provider partnerships covering the exercise",
    **stores(PartnershipRun),
    description="Matches every need (each run stored, or reused as POST /needs/{id}/match-runs does), then proposes "
    "lead + partner combinations of suitable providers (a total score of at least 0.6 for the need, as the report "
    "counts the market) covering every (need, area) cell with as few organisations and as high a total score "
    "as possible, and lists cells nobody suitable covers. From the same match runs, the stored proposal is given "
    "back (200). " + LIMITED,
)
async def create_partnerships(
    exercise_id: Id, state: State, ctx: Ctx, actor: ActorDep, data: JSONBody[NoBody | None] = None
) -> Response[PartnershipRun]:
    spend_budget(state, actor.caller)
    run, reused = await service.propose_partnerships(ctx, state.pool, state.match_pools, actor, exercise_id)
    return Response(run, status_code=200 if reused else 201, headers={"Location": f"/partnership-runs/{run.id}"})


@post(
    "/exercises/{exercise_id:int}/match",
    summary="Match every need of the exercise, and store the runs",
    **stores(ExerciseMatched, "Every need's stored run given back: nothing new stored"),
    description="Matches each need of the exercise as POST /needs/{id}/match-runs does, ranking "
    "up to 500 providers (deep enough for the report), with each need's weights (its `weight_overrides`, else "
    "the exercise's `default_weights`: percentages of the score summing to 100); each run is stored (with its "
    "audit row), or, where nothing in the need or the directory "
    "was written since, the stored run made from the same inputs is given back (`reused`). 201 when any run was "
    "stored, 200 when every one was reused. The report (GET /exercises/{id}/report) is computed from these stored "
    "runs only. " + LIMITED,
)
async def match_exercise(
    exercise_id: Id, state: State, ctx: Ctx, actor: ActorDep, data: JSONBody[NoBody | None] = None
) -> Response[ExerciseMatched]:
    spend_budget(state, actor.caller)
    done = await service.match_exercise(ctx, state.pool, state.match_pools, actor, exercise_id)
    return Response(done, status_code=201 if done.stored else 200)


@get("/partnership-runs/{run_id:int}", summary="A stored partnership run", responses=errors_doc(400, 403, 404), **DOC)
async def get_partnership_run(run_id: Id, conn: Conn) -> PartnershipRun:
    return await service.get_partnership_run(conn, run_id)


ROUTES = [
    list_exercises,
    create_exercise,
    get_exercise,
    patch_exercise,
    create_need,
    list_needs,
    get_need,
    patch_need,
    delete_need,
    create_match_run,
    list_match_runs,
    get_match_run,
    match_exercise,
    create_partnerships,
    get_partnership_run,
]
