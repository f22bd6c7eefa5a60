"""Commissioning exercises and needs (commissioners and admins), and explainable match runs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
import msgspec
from litestar import Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader, State
from litestar.params import HeaderParameter, JSONBody, Parameter

import matching
from marketplace.accounts import queries as account_queries
from marketplace.auth import ActorDep, CallerDep, require
from marketplace.errors import Conflict, FieldProblem, InvalidInput, NotFound, Unprocessable
from marketplace.exercises import pools, queries
from marketplace.exercises.models import (
    CriteriaWeights,
    Exercise,
    ExerciseIn,
    ExercisePatch,
    MatchRequest,
    MatchRun,
    MatchRunSummary,
    Need,
    NeedIn,
    NeedPatch,
    PartnershipRun,
    need_problems,
)
from marketplace.http import NEEDS_KEY, Conn, check_if_match, errors_doc, etag, pooled
from marketplace.taxonomy.models import Taxonomy

STAFF = ("admin", "commissioner")
Id = Annotated[int, Parameter(ge=1, le=999_999_999_999)]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False, description='The ETag, e.g. "v3"; required')]
RankingLimit = Annotated[int, Parameter(ge=0, le=500, description="How many of the stored ranked providers to return")]
MatchLimit = Annotated[int, Parameter(ge=0, le=500, description="How many ranked providers to explain, return and store")]
ETAG = [ResponseHeader(name="ETag", description='The version, e.g. "v3"', documentation_only=True)]
DOC = dict(tags=["exercises and matching"], security=NEEDS_KEY)


class ExercisePage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[Exercise]


def weights_of(given: CriteriaWeights, field: str, base: matching.Weights | None = None) -> matching.Weights:
    try:
        return matching.Weights.from_mapping(given.given(), base=base)
    except matching.InvalidWeights as exc:
        name = f"{field}.{exc.field}" if exc.field != "*" else field
        raise InvalidInput.field(name, exc.problem) from None


def _check_need(n: NeedIn, tax: Taxonomy) -> None:
    problems = need_problems(n, tax)
    if problems:
        raise Unprocessable.from_problems(problems)
    if n.weight_overrides is not None:
        weights_of(n.weight_overrides, "weight_overrides")


def _check_exercise(x: ExerciseIn) -> None:
    weights_of(x.default_weights, "default_weights")
    if x.opens_on and x.closes_on and x.closes_on < x.opens_on:
        raise Unprocessable.from_problems([FieldProblem(field="closes_on", problem="before opens_on")])


async def _exercise(conn: Conn, exercise_id: int) -> Exercise:
    exercise = await queries.fetch_exercise(conn, exercise_id)
    if exercise is None:
        raise NotFound(f"exercise {exercise_id} not found")
    return exercise


async def _need(conn: Conn, need_id: int) -> Need:
    need = await queries.fetch_need(conn, need_id)
    if need is None:
        raise NotFound(f"need {need_id} not found")
    return need


def _merge(current: msgspec.Struct, patch: msgspec.Struct, into: type) -> msgspec.Struct:
    values = {f: getattr(current, f) for f in into.__struct_fields__}
    values.update({f: v for f in patch.__struct_fields__ if (v := getattr(patch, f)) is not msgspec.UNSET})
    return into(**values)


@get("/exercises", summary="Commissioning exercises, newest first", responses=errors_doc(400, 403), **DOC)
async def list_exercises(conn: Conn, caller: CallerDep, page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
                         per_page: Annotated[int, Parameter(ge=1, le=100)] = 20) -> ExercisePage:
    require(caller, *STAFF)
    total, items = await queries.list_exercises(conn, limit=per_page, offset=(page - 1) * per_page)
    return ExercisePage(total=total, page=page, per_page=per_page, items=items)


@post("/exercises", summary="Start a commissioning exercise", status_code=201, response_headers=ETAG,
      responses=errors_doc(400, 403, 422), **DOC)
async def create_exercise(data: JSONBody[ExerciseIn], conn: Conn, actor: ActorDep) -> Response[Exercise]:
    require(actor.caller, *STAFF)
    _check_exercise(data)
    async with conn.transaction():
        exercise_id = await queries.insert_exercise(conn, data, created_by=actor.caller.key_id)
        await account_queries.insert_audit(conn, actor=actor, status=201, outcome="write", detail=f"created exercise {exercise_id}")
        exercise = await _exercise(conn, exercise_id)
    return Response(exercise, status_code=201, headers={"ETag": etag(exercise.version)})


@get("/exercises/{exercise_id:int}", summary="An exercise with its needs", response_headers=ETAG,
     responses=errors_doc(400, 403, 404), **DOC)
async def get_exercise(exercise_id: Id, conn: Conn, caller: CallerDep) -> Response[Exercise]:
    require(caller, *STAFF)
    exercise = await _exercise(conn, exercise_id)
    return Response(exercise, headers={"ETag": etag(exercise.version)})


@patch("/exercises/{exercise_id:int}", summary="Update an exercise (partial; If-Match)", response_headers=ETAG,
       responses=errors_doc(400, 403, 404, 412, 422, 428), **DOC)
async def patch_exercise(exercise_id: Id, data: JSONBody[ExercisePatch], conn: Conn, actor: ActorDep,
                         if_match: IfMatch = None) -> Response[Exercise]:
    require(actor.caller, *STAFF)
    check_if_match(if_match)
    async with conn.transaction():
        locked = await queries.lock_exercise(conn, exercise_id)
        if locked is None:
            raise NotFound(f"exercise {exercise_id} not found")
        check_if_match(if_match, locked["version"])
        current = await _exercise(conn, exercise_id)
        updated = _merge(current, data, ExerciseIn)
        _check_exercise(updated)
        await queries.update_exercise(conn, exercise_id, updated)
        await account_queries.insert_audit(conn, actor=actor, status=200, outcome="write", detail=f"updated exercise {exercise_id}")
        exercise = await _exercise(conn, exercise_id)
    return Response(exercise, headers={"ETag": etag(exercise.version)})


@post("/exercises/{exercise_id:int}/needs", summary="Add a need (lot) to an exercise", status_code=201,
      response_headers=ETAG, responses=errors_doc(400, 403, 404, 422), **DOC)
async def create_need(exercise_id: Id, data: JSONBody[NeedIn], conn: Conn, state: State, actor: ActorDep) -> Response[Need]:
    require(actor.caller, *STAFF)
    _check_need(data, state.taxonomy)
    async with conn.transaction():
        if await queries.lock_exercise(conn, exercise_id) is None:
            raise NotFound(f"exercise {exercise_id} not found")
        need_id = await queries.insert_need(conn, exercise_id, data)
        await account_queries.insert_audit(conn, actor=actor, status=201, outcome="write", detail=f"created need {need_id}")
        need = await _need(conn, need_id)
    return Response(need, status_code=201, headers={"ETag": etag(need.version)})


@get("/exercises/{exercise_id:int}/needs", summary="An exercise's needs", responses=errors_doc(400, 403, 404), **DOC)
async def list_needs(exercise_id: Id, conn: Conn, caller: CallerDep) -> list[Need]:
    require(caller, *STAFF)
    return (await _exercise(conn, exercise_id)).needs


@get("/needs/{need_id:int}", summary="A need", response_headers=ETAG, responses=errors_doc(400, 403, 404), **DOC)
async def get_need(need_id: Id, conn: Conn, caller: CallerDep) -> Response[Need]:
    require(caller, *STAFF)
    need = await _need(conn, need_id)
    return Response(need, headers={"ETag": etag(need.version)})


@patch("/needs/{need_id:int}", summary="Update a need (partial; If-Match)", response_headers=ETAG,
       responses=errors_doc(400, 403, 404, 412, 422, 428), **DOC)
async def patch_need(need_id: Id, data: JSONBody[NeedPatch], conn: Conn, state: State, actor: ActorDep,
                     if_match: IfMatch = None) -> Response[Need]:
    require(actor.caller, *STAFF)
    check_if_match(if_match)
    async with conn.transaction():
        locked = await queries.lock_need(conn, need_id)
        if locked is None:
            raise NotFound(f"need {need_id} not found")
        check_if_match(if_match, locked["version"])
        updated = _merge(await _need(conn, need_id), data, NeedIn)
        _check_need(updated, state.taxonomy)
        await queries.update_need(conn, need_id, updated)
        await account_queries.insert_audit(conn, actor=actor, status=200, outcome="write", detail=f"updated need {need_id}")
        need = await _need(conn, need_id)
    return Response(need, headers={"ETag": etag(need.version)})


@delete("/needs/{need_id:int}", summary="Remove a need that has no stored runs (If-Match)", status_code=204,
        responses=errors_doc(400, 403, 404, 409, 412, 428), **DOC)
async def delete_need(need_id: Id, conn: Conn, actor: ActorDep, if_match: IfMatch = None) -> None:
    require(actor.caller, *STAFF)
    check_if_match(if_match)
    async with conn.transaction():
        locked = await queries.lock_need(conn, need_id)
        if locked is None:
            raise NotFound(f"need {need_id} not found")
        check_if_match(if_match, locked["version"])
        if not await queries.delete_need(conn, need_id):
            raise Conflict(f"need {need_id} has stored match runs, which are kept as evidence")
        await account_queries.insert_audit(conn, actor=actor, status=204, outcome="write", detail=f"deleted need {need_id}")


def _limited(run: MatchRun, limit: int) -> MatchRun:
    return msgspec.structs.replace(run, ranking=run.ranking[:limit], providers=run.providers[:limit])


@post("/needs/{need_id:int}/match-runs", summary="Match the current directory against a need, and store the run",
      status_code=201, responses=errors_doc(400, 403, 404), **DOC,
      description="Every published provider is either excluded with its reasons (counted by reason) or scored 0-1 on "
      "each criterion with its weight, raw values, contribution and evidence. The run is stored as it is returned "
      "(the best `limit` providers, each explained, and the first excluded ones by name with their reasons); "
      "GET /match-runs/{id} gives it back unchanged. Weights: the body's, else the exercise's defaults, else the "
      "core's defaults; the need's overrides apply on top.")
async def create_match_run(need_id: Id, state: State, actor: ActorDep,
                           data: JSONBody[MatchRequest | None] = None, limit: MatchLimit = 50) -> Response[MatchRun]:
    require(actor.caller, *STAFF)
    async with pooled(state) as conn:
        need = await _need(conn, need_id)
        exercise = await _exercise(conn, need.exercise_id)
    weights = weights_of(exercise.default_weights, "default_weights")
    if data is not None and data.weights is not None:
        weights = weights_of(data.weights, "weights", base=weights)

    async def audit(conn: asyncpg.Connection, run_id: int) -> None:
        await account_queries.insert_audit(conn, actor=actor, status=201, outcome="write",
                                           detail=f"match run {run_id} for need {need_id}")

    run, _ = await pools.run_and_store(state, need, weights, as_of=dt.date.today(), created_by=actor.caller.key_id,
                                       limit=limit, excluded_limit=state.settings.match_excluded_limit, audit=audit)
    return Response(run, status_code=201)


@get("/needs/{need_id:int}/match-runs", summary="A need's stored match runs, newest first",
     responses=errors_doc(400, 403, 404), **DOC)
async def list_match_runs(need_id: Id, conn: Conn, caller: CallerDep) -> list[MatchRunSummary]:
    require(caller, *STAFF)
    await _need(conn, need_id)
    return [MatchRunSummary(**dict(r)) for r in await queries.list_match_runs(conn, need_id)]


@get("/match-runs/{run_id:int}", summary="A stored match run, exactly as it was made", responses=errors_doc(400, 403, 404), **DOC)
async def get_match_run(run_id: Id, conn: Conn, caller: CallerDep, limit: RankingLimit = 50) -> MatchRun:
    require(caller, *STAFF)
    row = await queries.fetch_match_run(conn, run_id)
    if row is None:
        raise NotFound(f"match run {run_id} not found")
    return _limited(queries.match_run_of(row), limit)


@post("/exercises/{exercise_id:int}/partnerships", summary="Propose lead-provider partnerships covering the exercise",
      status_code=201, responses=errors_doc(400, 403, 404, 422), **DOC,
      description="Matches every need afresh (each run stored), then proposes lead + partner combinations covering every "
      "(need, area) cell with as few organisations and as high a total score as possible, and lists cells nobody covers.")
async def create_partnerships(exercise_id: Id, state: State, actor: ActorDep) -> Response[PartnershipRun]:
    require(actor.caller, *STAFF)
    async with pooled(state) as conn:
        exercise = await _exercise(conn, exercise_id)
    if not exercise.needs:
        raise Unprocessable.from_problems([FieldProblem(field="needs", problem="the exercise has no needs to cover")])
    weights = weights_of(exercise.default_weights, "default_weights")
    as_of = dt.date.today()

    async def no_audit(conn: asyncpg.Connection, run_id: int) -> None:  # the partnership run's audit row covers its match runs
        return None

    runs = [
        (await pools.run_and_store(state, need, weights, as_of=as_of, created_by=actor.caller.key_id,
                                   limit=state.settings.match_store_limit,
                                   excluded_limit=state.settings.match_excluded_limit, audit=no_audit))[0]
        for need in exercise.needs
    ]
    async with pooled(state) as conn, conn.transaction():
        run = await queries.store_partnerships(conn, exercise, runs, weights, taxonomy=state.taxonomy, as_of=as_of,
                                               created_by=actor.caller.key_id)
        await account_queries.insert_audit(conn, actor=actor, status=201, outcome="write",
                                           detail=f"partnership run {run.id} for exercise {exercise_id}")
    return Response(run, status_code=201)


@get("/partnership-runs/{run_id:int}", summary="A stored partnership run", responses=errors_doc(400, 403, 404), **DOC)
async def get_partnership_run(run_id: Id, conn: Conn, caller: CallerDep) -> PartnershipRun:
    require(caller, *STAFF)
    row = await queries.fetch_partnership_run(conn, run_id)
    if row is None:
        raise NotFound(f"partnership run {run_id} not found")
    return queries.partnership_run_of(row)


ROUTES = [list_exercises, create_exercise, get_exercise, patch_exercise, create_need, list_needs, get_need, patch_need,
          delete_need, create_match_run, list_match_runs, get_match_run, create_partnerships, get_partnership_run]
