"""Commissioning exercises, their needs (lots), match runs and partnership proposals.

Every match run, whoever asks for it (the API, the command line, a report), goes through `match_need`:
the directory is ranked off the event loop by the process's `MatchPools`, holding no connection or
transaction while it ranks, and the run is stored, with its audit row, in one short transaction.
Stored runs never change (schema/0004: a trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

import asyncpg
import msgspec

import matching
from marketplace import audit, formatting
from marketplace.clock import deadline_of
from marketplace.concurrency import locked, require_if_match
from marketplace.context import Context
from marketplace.db import Connection, Pool, pooled
from marketplace.errors import Conflict, FieldProblem, NotFound, Unprocessable
from marketplace.exercises import queries
from marketplace.exercises.models import (
    MAX_NEEDS,
    CriteriaWeights,
    Exercise,
    ExerciseIn,
    ExerciseMatched,
    ExercisePage,
    ExercisePatch,
    MatchRun,
    MatchRunBody,
    MatchRunSummary,
    Need,
    NeedIn,
    NeedMatched,
    NeedPatch,
    PartnershipRun,
    PartnershipRunBody,
    ProviderFacts,
    ReportRun,
    RunStored,
    SeedExercise,
    StoredWeights,
    in_force,
    need_problems,
    same_weights,
    weights_changed,
    weights_now,
)
from marketplace.exercises.pools import MatchPools, Ranked
from marketplace.taxonomy.checks import check_dates
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import Actor, merge, project

METHOD = (
    "A provider qualifies for the need through its qualifying services: active, in the need's pathway, whose age "
    "range overlaps the need's (when it states one) and which serve its men or women (when it says; services for "
    "both count). Published providers with a service in the pathway in, above or below the need's areas were "
    "assessed by the matching core; the rest are counted as excluded for not offering the pathway or not covering an "
    "area. Assessed providers are excluded, with reasons, when no service in the pathway serves the need's ages or "
    "its men or women, when their qualifying services cover none of the need's areas, or when they fail a hard "
    "requirement (required accreditations, held by the organisation or a qualifying service; minimum years of "
    "experience, the most of a qualifying service). The others are scored 0-1 on each criterion, reading the "
    "qualifying services together (the areas they cover, the cohorts they serve, their outcomes records and text; "
    "capacity is what those covering the need's areas state, added up, each service covering areas outside the "
    "need counting only the share of its people who live in the need's), and ranked by the weighted total: each "
    "criterion counts for its percentage of the score (`weights_percent`; `weights` are the same divided by 100), "
    "a need without local priorities sharing that criterion's percentage among the others in proportion; each "
    "explanation names the services. The method in full: METHOD.md."
)


# --- rules ------------------------------------------------------------------------------------------


def checked_weights(given: CriteriaWeights | StoredWeights | None, field: str) -> matching.Weights | None:
    """The weights a table of percentages stands for (None when none are given); 422 naming the field when they do
    not sum to 100, with the percentages they would come to (`models.WEIGHTS_RULE`)."""
    try:
        return given.table() if given is not None else None
    except matching.InvalidWeights as exc:
        name = f"{field}.{exc.field}" if exc.field != "*" else field
        raise Unprocessable.from_problems([FieldProblem(field=name, problem=exc.problem)]) from None


def weights_for(exercise: Exercise, need: Need, request: CriteriaWeights | None = None) -> matching.Weights:
    """The weights a need is matched with now: the request's, else the need's overrides, else the exercise's
    default weights, else the core's defaults."""
    checked_weights(request, "weights")
    checked_weights(need.weight_overrides, "need.weight_overrides")
    checked_weights(exercise.default_weights, "exercise.default_weights")
    return in_force(exercise.default_weights, need.weight_overrides, request)


def as_request(stored: StoredWeights | CriteriaWeights) -> CriteriaWeights:
    """Stored weights as a request gives them (the same numbers)."""
    return CriteriaWeights(**stored.given())


def check_need(n: NeedIn, tax: Taxonomy) -> None:
    problems = need_problems(n, tax)
    if problems:
        raise Unprocessable.from_problems(problems)
    checked_weights(n.weight_overrides, "weight_overrides")


def check_exercise(x: ExerciseIn) -> None:
    checked_weights(x.default_weights, "default_weights")
    if problems := check_dates(opens_on=x.opens_on, closes_on=x.closes_on):
        raise Unprocessable.from_problems(problems)
    if x.opens_on and x.closes_on and x.closes_on < x.opens_on:
        raise Unprocessable.from_problems([FieldProblem(field="closes_on", problem="before opens_on")])


def core_need(need: Need, desired_names: Mapping[str, str] | None = None) -> matching.Need:
    """A need as the matching core reads it (its weights are resolved apart: `weights_for`; `desired_names`: the
    desired outcomes' names, for its explanations)."""
    return matching.Need(
        id=need.id,
        pathway=need.pathway,
        areas=tuple(need.areas),
        annual_volume=need.annual_volume,
        annual_budget=need.annual_budget,
        cohorts=tuple(need.cohorts),
        contract_years=need.contract_years,
        required_accreditations=tuple(need.required_accreditations),
        min_years_experience=need.min_years_experience,
        local_priorities=tuple(matching.Priority(p.text, p.weight) for p in need.local_priorities),
        desired_outcomes=tuple(
            matching.DesiredOutcome(code, (desired_names or {}).get(code, "")) for code in need.desired_outcomes
        ),
        sector_preference=msgspec.structs.asdict(need.sector_preference),
        min_age=need.eligibility.min_age,
        max_age=need.eligibility.max_age,
        gender=need.eligibility.gender,
        area_volumes=dict(need.area_volumes) if need.area_volumes is not None else None,
    )


# --- exercises and needs ----------------------------------------------------------------------------


async def list_exercises(conn: Connection, *, page: int, per_page: int) -> ExercisePage:
    total, items = await queries.list_exercises(conn, limit=per_page, offset=(page - 1) * per_page)
    return ExercisePage(total=total, page=page, per_page=per_page, items=items)


async def get_exercise(conn: Connection, exercise_id: int, *, with_needs: bool = True) -> Exercise:
    """The exercise; `with_needs=False`: its `needs` left empty (one statement instead of two)."""
    exercise = await queries.fetch_exercise(conn, exercise_id, with_needs=with_needs)
    if exercise is None:
        raise NotFound(f"exercise {exercise_id} not found")
    return exercise


async def get_need(conn: Connection, need_id: int) -> Need:
    need = await queries.fetch_need(conn, need_id)
    if need is None:
        raise NotFound(f"need {need_id} not found")
    return need


async def create_exercise(ctx: Context, conn: Connection, actor: Actor, data: ExerciseIn) -> Exercise:
    check_exercise(data)
    _check_status(None, "draft", data, None, ctx.clock.now())
    async with conn.transaction():
        exercise_id = await queries.insert_exercise(conn, data, created_by=actor.caller.key_id, at=ctx.clock.now())
        await audit.record(conn, actor, status=201, detail=f"created exercise {exercise_id}")
        return await get_exercise(conn, exercise_id)


def _check_status(
    exercise_id: int | None,
    was: str,
    updated: ExerciseIn,
    published: dt.datetime | None,
    now: dt.datetime,
    *,
    closed_on: dt.date | None = None,
) -> None:
    """An exercise's status says what its publication and dates do: it opens for engagement only by being published
    (POST /exercises/{id}/publish), a published one never goes back to draft, closes no sooner than its deadline,
    and, once marked closed, keeps its deadline unless it opens again (422 for a status its publication does not
    allow yet, 409 for one it rules out). `was` and `closed_on`: its status and closing date before the change."""
    if updated.status == was:
        if published is not None and was == "closed" and updated.closes_on != closed_on:
            raise Conflict.field(
                "closes_on",
                "the exercise is closed: a later closing date would take responses again; give status "
                "engagement_open with it to open it again",
            )
        return
    publish = f"POST /exercises/{exercise_id}/publish" if exercise_id is not None else "POST /exercises/{id}/publish"
    if updated.status == "engagement_open" and published is None:
        raise Unprocessable.field("status", f"an exercise opens for market engagement when it is published: {publish}")
    if updated.status == "draft" and published is not None:
        said = f"the exercise was published on {formatting.date(published.date())}: it cannot go back to draft"
        raise Conflict.field("status", said)
    deadline = deadline_of(updated.closes_on) if updated.closes_on is not None else None
    if updated.status == "closed" and published is not None and deadline is not None and now < deadline:
        raise Conflict.field(
            "status",
            f"its notice takes responses until {deadline.isoformat()} (the end of {updated.closes_on}, "
            "Europe/London): it closes then, and its closing date may move later, never earlier",
        )
    if updated.status == "engagement_open" and deadline is not None and deadline <= now:
        raise Conflict.field(
            "status", f"its deadline, {deadline.isoformat()}, has passed: move closes_on later to open it again"
        )


def _overrides_as_stored(overrides: CriteriaWeights | None) -> CriteriaWeights | None:
    """A need's weight overrides as they are stored: none given (`{}`) is null, as a new need's are."""
    return None if same_weights(overrides, None) else overrides


R = TypeVar("R", Exercise, Need)

NOTICE_EXERCISE_FIELDS = ("title", "commissioning_body", "description", "opens_on")
"""What an exercise's public notice shows, fixed once it is published (its closing date may only move later)."""
NOTICE_NEED_FIELDS = (
    "title",
    "pathway",
    "areas",
    "annual_volume",
    "annual_budget",
    "cohorts",
    "contract_years",
    "desired_outcomes",
)
"""What the notice shows of each need, fixed once it is published: providers answered the market engagement on
these, so the needs evaluated stay the needs engaged on. The commissioner's own evaluation settings (weights,
local priorities, accreditations and experience required, eligibility, sector preference, and area volumes, which
the notice does not show and which still add up to the published volume) may still change."""


def _published_problem(published: dt.datetime, field: str) -> FieldProblem:
    return FieldProblem(
        field=field,
        problem=f"the exercise's notice was published on {formatting.date(published.date())}, and what it shows "
        "cannot change: tell providers in a published clarification instead",
    )


def _notice_changes(
    published: dt.datetime, fields: tuple[str, ...], before: msgspec.Struct, after: msgspec.Struct, prefix: str = ""
) -> list[FieldProblem]:
    return [
        _published_problem(published, prefix + f)
        for f in fields
        if msgspec.to_builtins(getattr(before, f)) != msgspec.to_builtins(getattr(after, f))
    ]


async def _refuse_if_published(
    conn: Connection, exercise_id: int, problems: Callable[[dt.datetime], list[FieldProblem]]
) -> dt.datetime | None:
    """When the exercise was published (None: it is not), after refusing (409) the `problems` that publishing it
    makes of the change."""
    published = await queries.published_on(conn, exercise_id)
    if published is not None:
        found = problems(published)
        if found:
            raise Conflict.from_problems(found)
    return published


async def _update(
    conn: Connection,
    actor: Actor,
    what: str,
    record_id: int,
    if_match: str | None,
    lock: Callable[[Connection, int], Awaitable[asyncpg.Record | None]],
    change: Callable[[], Awaitable[bool]],
    read: Callable[[Connection, int], Awaitable[R]],
    status: int = 200,
) -> R:
    """The one shape of a versioned update: lock the row, check If-Match against its version, make the change
    (which validates and writes, and says whether there was anything to write), record it (`status`: what the
    request answers), and return the record as it now is. A change that changes nothing writes nothing: the version
    (and ETag) stays, no audit row."""
    require_if_match(if_match)
    async with conn.transaction():
        await locked(lock(conn, record_id), f"{what} {record_id}", if_match)
        if await change():
            await audit.record(conn, actor, status=status, detail=f"updated {what} {record_id}")
        return await read(conn, record_id)


async def update_exercise(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    exercise_id: int,
    if_match: str | None,
    patch: ExercisePatch,
    *,
    status: int = 200,
) -> Exercise:
    """The exercise changed at the app's clock's time. Once it is published only its closing date may move (later)
    of what its notice shows; that change is the notice's revision (`notice_revised_at`, which dates the OCDS
    release). `status`: what the request answers, for the audit row (publishing an exercise is a 201)."""

    async def change() -> bool:
        current = project(await get_exercise(conn, exercise_id), ExerciseIn)
        current.default_weights = as_request(current.default_weights)  # so a patch's table replaces it whole
        updated = merge(current, patch)
        check_exercise(updated)
        if same_weights(updated.default_weights, current.default_weights):  # said another way: kept as it is
            updated.default_weights = current.default_weights

        def notice_problems(published: dt.datetime) -> list[FieldProblem]:
            found = _notice_changes(published, NOTICE_EXERCISE_FIELDS, current, updated)
            if current.closes_on is not None and (updated.closes_on is None or updated.closes_on < current.closes_on):
                found.append(
                    FieldProblem(
                        field="closes_on",
                        problem=f"the exercise's notice was published on {formatting.date(published.date())}: its "
                        f"closing date may move later, never earlier than {formatting.date(current.closes_on)}",
                    )
                )
            return found

        published = await _refuse_if_published(conn, exercise_id, notice_problems)
        _check_status(exercise_id, current.status, updated, published, ctx.clock.now(), closed_on=current.closes_on)
        if queries.exercise_columns(updated) == queries.exercise_columns(current):
            return False
        revised = published is not None and updated.closes_on != current.closes_on  # the rest is refused above
        await queries.update_exercise(conn, exercise_id, updated, at=ctx.clock.now(), notice_revised=revised)
        return True

    lock = queries.lock_exercise
    return await _update(conn, actor, "exercise", exercise_id, if_match, lock, change, get_exercise, status)


async def lock_exercise(conn: Connection, exercise_id: int) -> Exercise:
    """The exercise, locked for update until the transaction ends (404 when there is none): publishing holds it so
    that no need or exercise field changes between reading what the notice shows and committing it. FOR NO KEY
    UPDATE: it waits for a need being changed (which holds the exercise FOR SHARE, `queries.lock_need`), but not for
    rows merely referring to the exercise (a question added under the questions' lock, which publishing takes
    first)."""
    if await queries.lock_exercise(conn, exercise_id, key=False) is None:
        raise NotFound(f"exercise {exercise_id} not found")
    return await get_exercise(conn, exercise_id)


async def create_need(ctx: Context, conn: Connection, actor: Actor, exercise_id: int, data: NeedIn) -> Need:
    check_need(data, ctx.taxonomy)
    data = msgspec.structs.replace(data, weight_overrides=_overrides_as_stored(data.weight_overrides))
    async with conn.transaction():
        if await queries.lock_exercise(conn, exercise_id) is None:
            raise NotFound(f"exercise {exercise_id} not found")
        await _refuse_if_published(conn, exercise_id, lambda published: [_published_problem(published, "needs")])
        if (count := await queries.count_needs(conn, exercise_id)) >= MAX_NEEDS:
            raise Unprocessable.field(
                "needs",
                f"exercise {exercise_id} has {count} needs, and an exercise may have at most {MAX_NEEDS}: give a "
                "need several areas, or make another exercise",
            )
        need_id = await queries.insert_need(conn, exercise_id, data, at=ctx.clock.now())
        await audit.record(conn, actor, status=201, detail=f"created need {need_id}")
        return await get_need(conn, need_id)


async def list_needs(conn: Connection, exercise_id: int) -> list[Need]:
    return (await get_exercise(conn, exercise_id)).needs


async def update_need(
    ctx: Context, conn: Connection, actor: Actor, need_id: int, if_match: str | None, patch: NeedPatch
) -> Need:
    async def change() -> bool:
        need = await get_need(conn, need_id)
        current = project(need, NeedIn)
        if current.weight_overrides is not None:  # so a patch's table replaces it whole
            current.weight_overrides = as_request(current.weight_overrides)
        updated = merge(current, patch)
        # what a published notice shows is refused first, whatever it is changed to: a volume changed alone is told
        # that it cannot change, not that the area volumes no longer add up to it
        await _refuse_if_published(
            conn, need.exercise_id, lambda published: _notice_changes(published, NOTICE_NEED_FIELDS, current, updated)
        )
        check_need(updated, ctx.taxonomy)
        if same_weights(updated.weight_overrides, current.weight_overrides):  # `{}` for null, a 0 for one left out
            updated.weight_overrides = current.weight_overrides
        else:
            updated.weight_overrides = _overrides_as_stored(updated.weight_overrides)
        if queries.need_as_written(updated) == queries.need_as_written(current):
            return False
        await queries.update_need(conn, need_id, updated, at=ctx.clock.now())
        return True

    return await _update(conn, actor, "need", need_id, if_match, queries.lock_need, change, get_need)


async def delete_need(conn: Connection, actor: Actor, need_id: int, if_match: str | None) -> None:
    """Only a need without stored runs: runs are kept as evidence."""
    require_if_match(if_match)
    async with conn.transaction():
        row = await locked(queries.lock_need(conn, need_id), f"need {need_id}", if_match)
        await _refuse_if_published(conn, row["exercise_id"], lambda published: [_published_problem(published, "needs")])
        if appraisals := await queries.appraisals_naming_need(conn, need_id):
            named = ", ".join(map(str, appraisals))
            raise Conflict(
                f"need {need_id} is named by an option of options appraisal {named}: take it out of the options' "
                "need_ids first (a decided appraisal keeps it for good)",
                problems=[FieldProblem(field="need_ids", problem=f"named by appraisal {named}")],
            )
        if not await queries.delete_need(conn, need_id):
            raise Conflict(f"need {need_id} has stored match runs, which are kept as evidence")
        await audit.record(conn, actor, status=204, detail=f"deleted need {need_id}")


# --- match runs -------------------------------------------------------------------------------------


async def match_need(
    ctx: Context,
    db: Pool,
    pools: MatchPools,
    actor: Actor,
    need_id: int,
    *,
    weights: CriteriaWeights | None = None,
    limit: int,
) -> tuple[MatchRun, bool, bytes]:
    """Match the current directory against a need and store the run (the best `limit` explained), or give back
    the stored run made from the same inputs over an unchanged directory (then True); and the run's JSON, as
    encoding the `MatchRun` gives it (`queries.run_json`).
    Weights (`weights_for`): `weights`, else the need's overrides, else the exercise's defaults, else the core's."""
    async with pooled(db) as conn:
        need = await get_need(conn, need_id)
        exercise = await get_exercise(conn, need.exercise_id, with_needs=False)  # only its default weights are read
        chosen = weights_for(exercise, need, weights)
        found = await _stored_run(ctx, conn, need, chosen, limit)
    return await _match(ctx, db, pools, actor, need, chosen, limit=limit, found=found)


def _digest(*inputs: object) -> str:
    """What a stored run was made from, besides the directory: equal digests, equal inputs."""
    return hashlib.sha256(msgspec.json.encode(inputs)).hexdigest()


Found = tuple[dt.date, str, asyncpg.Record | None]
"""(the date a run is made as of, the digest of its inputs, the stored run made from them over an unchanged
directory if there is one): what `_stored_run` finds."""


async def _stored_run(ctx: Context, conn: Connection, need: Need, weights: matching.Weights, limit: int) -> Found:
    as_of = ctx.clock.today()
    digest = _digest(
        matching.ALGORITHM_VERSION, as_of, need, weights.as_dict(), limit, ctx.settings.match_excluded_limit
    )
    return as_of, digest, await queries.reusable_match_run(conn, need.id, digest)


async def _match(
    ctx: Context,
    db: Pool,
    pools: MatchPools,
    actor: Actor,
    need: Need,
    weights: matching.Weights,
    *,
    limit: int,
    found: Found | None = None,
) -> tuple[MatchRun, bool, bytes]:
    """The run, whether it is a stored one reused: the same inputs (the need as stored, the weights, the
    limits, the date, the algorithm) over a directory nobody has written to since that run, and its JSON.
    `found`: what `_stored_run` gave for these inputs, when the caller has looked already."""
    if found is None:
        async with pooled(db) as conn:
            found = await _stored_run(ctx, conn, need, weights, limit)
    as_of, digest, stored = found
    excluded_limit = ctx.settings.match_excluded_limit
    if stored is not None:
        run, text = await asyncio.to_thread(queries.match_run_and_json_of, stored)
        return run, True, text
    try:
        ranked = await pools.rank(
            core_need(need, ctx.taxonomy.codes("desired_outcomes")),
            weights,
            as_of=as_of,
            limit=limit,
            excluded_limit=excluded_limit,
        )
    except matching.InvalidNeed as exc:  # e.g. a need stored before volumes and budgets had to be positive
        raise Unprocessable.from_problems([FieldProblem(field=f"need.{exc.field}", problem=exc.problem)]) from None
    except matching.InvalidWeights as exc:  # the weights in force (the body's, the exercise's, the need's) together
        problem = f"{exc.problem} (the weights in force: the request's, else the need's, else the exercise's)"
        raise Unprocessable.from_problems([FieldProblem(field=f"weights.{exc.field}", problem=problem)]) from None
    body, document, compressed = await asyncio.to_thread(_body_and_document, ranked, need)
    async with pooled(db) as conn, conn.transaction():
        row = await queries.insert_match_run(
            conn,
            need_id=need.id,
            exercise_id=need.exercise_id,
            created_by=actor.caller.key_id,
            algorithm_version=body.algorithm_version,
            candidate_count=body.candidate_count,
            compressed=compressed,
            inputs_digest=digest,
            directory_snapshot=ranked.snapshot,
            at=ctx.clock.now(),
        )
        await audit.record(conn, actor, status=201, detail=f"match run {row['id']} for need {need.id}")
    stored_as = RunStored(row["id"], need.id, need.exercise_id, row["created_at"], actor.caller.key_id)
    run = MatchRun(**msgspec.structs.asdict(body), **msgspec.structs.asdict(stored_as))
    return run, False, queries.run_json(document, stored_as)


def _body_and_document(ranked: Ranked, need: Need) -> tuple[MatchRunBody, bytes, bytes]:
    """The run's body, its JSON, and that JSON compressed as it is stored."""
    body = _run_body(ranked, need)
    document = msgspec.json.encode(body)
    return body, document, queries.compress_document(document)


def _run_body(ranked: Ranked, need: Need) -> MatchRunBody:
    ranking, counts = ranked.ranking, ranked.directory
    facts = [ProviderFacts.of(ranked.details[s.provider_id], s) for s in ranking.scored]
    return MatchRunBody(
        algorithm_version=ranking.algorithm_version,
        as_of=ranking.as_of,
        need=need,
        weights=ranking.weights.as_dict(),
        weights_percent=dict(ranking.weights_percent),
        directory_size=counts.directory_size,
        candidate_count=ranking.candidate_count,
        eligible_count=ranking.eligible_count,
        excluded_count=counts.excluded_count,
        excluded_by_reason={k: v for k, v in sorted(counts.excluded_by_reason.items()) if v},
        ranking=list(ranking.scored),
        excluded=list(ranking.excluded),
        method=METHOD,
        providers=facts,
    )


async def list_match_runs(conn: Connection, need_id: int) -> list[MatchRunSummary]:
    await get_need(conn, need_id)
    return [MatchRunSummary(**dict(r)) for r in await queries.list_match_runs(conn, need_id)]


async def get_match_run(conn: Connection, run_id: int, *, limit: int) -> MatchRun:
    """A stored run exactly as it was made (its first `limit` ranked providers)."""
    row = await queries.fetch_match_run(conn, run_id)
    if row is None:
        raise NotFound(f"match run {run_id} not found")
    run = await asyncio.to_thread(queries.match_run_of, row)
    return msgspec.structs.replace(run, ranking=run.ranking[:limit], providers=run.providers[:limit])


def deep_enough(run: MatchRun | ReportRun | queries.RunHead, depth: int) -> bool:
    """A run ranked deep enough to count the market from: every eligible provider, or at least `depth` of them
    (`POST /needs/{id}/match-runs?limit=10` stores a short list of ten, which is not)."""
    return len(run.ranking) >= min(run.eligible_count, depth)


REPORT_LOOKBACK = 20
"""Runs of a need looked at, newest first, for one a report can read (`report_runs`)."""


async def report_runs(
    conn: Connection, exercise: Exercise, depth: int, need_ids: Iterable[int] | None = None
) -> dict[int, ReportRun]:
    """The run a report reads for each need of the exercise (of `need_ids`) that has one, by need id, decoded as
    reports read it (`ReportRun`): the newest made with the weights in force now (`weights_now`: the need's overrides,
    else the exercise's defaults) and ranked deep enough to count the market (`deep_enough`), so a what-if run with
    other weights or a short list made since does not replace it; when none of the newest `REPORT_LOOKBACK` is, the
    newest (which the report marks stale, or too short to count from). Each run is decoded in a worker thread while
    the next is read, so the database's work and the decoding overlap."""
    wanted = None if need_ids is None else set(need_ids)
    async with asyncio.TaskGroup() as decoding:
        tasks = []
        for need in exercise.needs:
            if wanted is not None and need.id not in wanted:
                continue
            row = newest = await queries.run_document_before(conn, need.id)
            weights = weights_now(exercise, need)
            for _ in range(REPORT_LOOKBACK):
                if row is None:
                    break
                head = queries.run_head_of(row)
                if not weights_changed(head.weights, weights) and deep_enough(head, depth):
                    break
                row = await queries.run_document_before(conn, need.id, row["id"])
            else:
                row = None
            if (chosen := row or newest) is not None:
                tasks.append(decoding.create_task(asyncio.to_thread(queries.report_run_of, chosen)))
    runs = [t.result() for t in tasks]
    return {run.need_id: run for run in runs}


async def match_exercise(
    ctx: Context,
    db: Pool,
    pools: MatchPools,
    actor: Actor,
    exercise_id: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> ExerciseMatched:
    """Match every need of the exercise with `match_store_limit` ranked (deep enough for a report), each run stored
    with its audit row, or the stored run given back as `match_need` does (same inputs, unchanged directory).
    Weights: each need's overrides, else the exercise's defaults (`weights_for`)."""
    async with pooled(db) as conn:
        exercise = await get_exercise(conn, exercise_id)
    if not exercise.needs:
        raise Unprocessable.from_problems([FieldProblem(field="needs", problem="the exercise has no needs to match")])
    depth = ctx.settings.match_store_limit
    done: list[NeedMatched] = []
    for i, need in enumerate(exercise.needs, 1):
        if progress:
            progress(i, len(exercise.needs), need.title)
        weights = weights_for(exercise, need)
        run, reused, _ = await _match(ctx, db, pools, actor, need, weights, limit=depth)
        best = run.ranking[0] if run.ranking else None
        done.append(
            NeedMatched(
                need_id=need.id,
                title=need.title,
                match_run_id=run.id,
                reused=reused,
                created_at=run.created_at,
                eligible_count=run.eligible_count,
                ranked=len(run.ranking),
                best=best.name if best else None,
                best_total=best.total if best else None,
            )
        )
    reused_count = sum(1 for d in done if d.reused)
    return ExerciseMatched(exercise_id=exercise.id, stored=len(done) - reused_count, reused=reused_count, needs=done)


# --- partnerships -----------------------------------------------------------------------------------


async def propose_partnerships(
    ctx: Context, db: Pool, pools: MatchPools, actor: Actor, exercise_id: int
) -> tuple[PartnershipRun, bool]:
    """Match every need (each run stored, or reused as `match_need` does), then propose lead + partner combinations
    covering every (need, area) cell with as few organisations and as high a total score as possible; the stored
    proposal made from the same match runs is given back instead (then True)."""
    async with pooled(db) as conn:
        exercise = await get_exercise(conn, exercise_id)
    if not exercise.needs:
        raise Unprocessable.from_problems([FieldProblem(field="needs", problem="the exercise has no needs to cover")])
    depth = ctx.settings.match_store_limit
    runs = [(await _match(ctx, db, pools, actor, n, weights_for(exercise, n), limit=depth))[0] for n in exercise.needs]
    as_of = ctx.clock.today()
    suitable = matching.SUITABLE_SCORE  # as the report counts the market: a partner below it is no market
    digest = _digest(matching.ALGORITHM_VERSION, as_of, [r.id for r in runs], suitable)
    async with pooled(db) as conn:
        stored = await queries.reusable_partnership_run(conn, exercise.id, digest)
    if stored is not None:  # the same match runs (so the same needs and directory): the same plan
        return queries.partnership_run_of(stored), True
    offers = [
        matching.Offer(
            provider_id=s.provider_id, name=s.name, need_id=run.need_id, score=s.total, areas=s.covered_areas
        )
        for run in runs
        for s in run.ranking
        if s.total >= suitable
    ]
    plan = await asyncio.to_thread(
        matching.propose_partnerships,
        [core_need(n) for n in exercise.needs],
        offers,
        areas=ctx.taxonomy.matching_areas,
        max_options=3,
    )
    body = PartnershipRunBody(
        algorithm_version=matching.ALGORITHM_VERSION,
        as_of=as_of,
        match_run_ids=[r.id for r in runs],
        plan=plan,
        suitable_score=suitable,
    )
    async with pooled(db) as conn, conn.transaction():
        row = await queries.insert_partnership_run(
            conn,
            exercise_id=exercise.id,
            created_by=actor.caller.key_id,
            algorithm_version=matching.ALGORITHM_VERSION,
            match_run_ids=body.match_run_ids,
            document=msgspec.json.encode(body),
            inputs_digest=digest,
        )
        from_runs = formatting.and_list(map(str, body.match_run_ids))
        detail = f"partnership run {row['id']} for exercise {exercise_id}, from match runs {from_runs}"
        await audit.record(conn, actor, status=201, detail=detail)
    run = PartnershipRun(
        **msgspec.structs.asdict(body),
        id=row["id"],
        exercise_id=exercise.id,
        created_at=row["created_at"],
        created_by=actor.caller.key_id,
    )
    return run, False


async def get_partnership_run(conn: Connection, run_id: int) -> PartnershipRun:
    row = await queries.fetch_partnership_run(conn, run_id)
    if row is None:
        raise NotFound(f"partnership run {run_id} not found")
    return queries.partnership_run_of(row)


async def load_samples(conn: Connection, samples: list[SeedExercise], *, at: dt.datetime) -> None:
    """The demo exercises, made `at`, when there are no exercises yet (inside the caller's transaction)."""
    if await queries.any_exercise(conn):
        return
    for x in samples:
        exercise_id = await queries.insert_exercise(conn, x, created_by=None, at=at, is_sample=True)
        for n in x.needs:
            await queries.insert_need(conn, exercise_id, n, at=at)


async def notice_revised_at(conn: Connection, exercise_id: int) -> dt.datetime | None:
    """When what the exercise's published notice shows last changed (its closing date moved), if it has since it
    was published."""
    return await queries.notice_revised_at(conn, exercise_id)
