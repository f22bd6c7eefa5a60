"""Market engagement: publishing an exercise's public notice, questions, responses, clarifications, finding open
exercises, the market-response figures, and the OCDS release package.

Time is the app's clock (`ctx.clock`); deadlines are in Europe/London (`deadline_of`). A response is a series of
append-only revisions (schema/0015): each submission, revision or withdrawal adds one, with the provider's profile
and services as they were. Who sees what: a provider its own response and its own clarification questions,
commissioners everything, anyone the public notice of a published exercise."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import msgspec

import matching
from marketplace import audit
from marketplace.clock import LOCAL_ZONE, FixedClock, deadline_of
from marketplace.concurrency import check_if_match, etag, locked, require_if_match
from marketplace.context import Context
from marketplace.db import Connection, read_only
from marketplace.engagement import queries
from marketplace.engagement.models import (
    BARRIERS,
    DEADLINE_RULE,
    DEFAULT_WORD_LIMIT,
    INTERESTED,
    Answer,
    AnswerGiven,
    AnswerIn,
    AnswerValue,
    AreaCapacity,
    Barrier,
    BudgetShown,
    CellResponse,
    Clarification,
    ClarificationIn,
    Consortium,
    ConsortiumPartner,
    CostRange,
    CpvEntry,
    DesiredOutcomeShown,
    MarketResponse,
    NeedMarketResponse,
    NeedResponse,
    NonResponder,
    NotCounted,
    Notice,
    NoticeNeed,
    NoticeRevision,
    NoticeScreening,
    OcdsPackage,
    OpenExercise,
    Partner,
    Publication,
    PublicClarification,
    PublishIn,
    Question,
    QuestionIn,
    QuestionMove,
    QuestionSummary,
    Response,
    ResponseIn,
    ResponsePage,
    ResponseRevision,
    ResponseStatus,
    SampleEngagement,
)
from marketplace.errors import Conflict, FieldProblem, NotFound, Unprocessable
from marketplace.exercises import service as exercises
from marketplace.exercises.models import Exercise, ExercisePatch, ExerciseSummary, Need, ReportRun
from marketplace.formatting import and_list, figure, iso_utc, plural, shorten
from marketplace.providers import service as providers
from marketplace.settings import PROJECT_ROOT
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import ANONYMOUS, PLAIN, TEXT, Actor, Caller, fold, nfc

SUITABLE_SCORE = matching.SUITABLE_SCORE
"""The report's default threshold: a provider scoring at least this in a need's match run is suitable."""

# --- time ---------------------------------------------------------------------------------------------


def opens_at(opens_on: dt.date) -> dt.datetime:
    """The start of `opens_on` in Europe/London."""
    return dt.datetime.combine(opens_on, dt.time(0), tzinfo=LOCAL_ZONE)


def state_at(exercise: ExerciseSummary, now: dt.datetime) -> str:
    if exercise.opens_on is None or exercise.closes_on is None:
        return "closed"
    if now < opens_at(exercise.opens_on):
        return "not_yet_open"
    return "open" if now < deadline_of(exercise.closes_on) else "closed"


def _deadline_text(closes_on: dt.date) -> str:
    return f"{deadline_of(closes_on).isoformat()} (the end of {closes_on.isoformat()}, Europe/London)"


# --- publishing -------------------------------------------------------------------------------------


async def _published(conn: Connection, exercise_id: int) -> tuple[Exercise, Publication]:
    """The exercise and its publication; 404 when it is not published (to anyone who is not staff, an unpublished
    exercise does not exist)."""
    publication = await queries.fetch_publication(conn, exercise_id)
    if publication is None:
        raise NotFound(f"exercise {exercise_id} is not published for engagement")
    return await exercises.get_exercise(conn, exercise_id), publication


async def is_published(conn: Connection, exercise_id: int) -> bool:
    """Whether the exercise is published for engagement (a report reads its market response only then)."""
    return await queries.fetch_publication(conn, exercise_id) is not None


async def publish(
    ctx: Context, conn: Connection, actor: Actor, exercise_id: int, if_match: str | None, data: PublishIn
) -> Notice:
    """Open the exercise for engagement: its notice becomes public. It needs its dates (closing today or later) and
    at least one need; the exercise's status becomes `engagement_open`. If-Match: the exercise's ETag."""
    require_if_match(if_match)
    async with conn.transaction():
        await exercises.get_exercise(conn, exercise_id, with_needs=False)  # 404 first
        # a question added or removed meanwhile is in the notice returned, or refused (409)
        await queries.lock_questions(conn, exercise_id)
        # and a need or field of the exercise changed meanwhile too (read again once locked)
        exercise = await exercises.lock_exercise(conn, exercise_id)
        check_if_match(if_match, exercise.version)
        if await queries.fetch_publication(conn, exercise_id) is not None:
            raise Conflict(f"exercise {exercise_id} is already published")
        if problems := publish_problems(exercise, ctx.clock.now()):
            raise Unprocessable.from_problems(problems)
        await queries.insert_publication(
            conn, exercise_id, data.budget_visibility, ctx.clock.now(), actor.caller.key_id
        )
        if exercise.status != "engagement_open":  # published: the one way an exercise opens for engagement
            opened = ExercisePatch(status="engagement_open")
            await exercises.update_exercise(ctx, conn, actor, exercise_id, etag(exercise.version), opened, status=201)
        await audit.record(conn, actor, status=201, detail=f"published exercise {exercise_id} for market engagement")
        return await notice(ctx, conn, exercise_id)


def publish_problems(exercise: Exercise, now: dt.datetime) -> list[FieldProblem]:
    """What keeps an exercise from being published at `now` (none: it may be): it needs its dates, closing today or
    later, and at least one need."""
    problems = []
    if exercise.opens_on is None:
        problems.append(FieldProblem(field="opens_on", problem="the exercise needs an opening date to publish"))
    if exercise.closes_on is None:
        problems.append(FieldProblem(field="closes_on", problem="the exercise needs a closing date to publish"))
    elif deadline_of(exercise.closes_on) <= now:
        problems.append(
            FieldProblem(field="closes_on", problem=f"the deadline {_deadline_text(exercise.closes_on)} has passed")
        )
    if not exercise.needs:
        problems.append(FieldProblem(field="needs", problem="the exercise has no needs to engage the market on"))
    return problems


BUDGET_BANDS: tuple[int, ...] = (0, *(int(m * 10**k) for k in range(4, 11) for m in (1, 1.5, 2.5, 4, 6)))
"""The edges of the bands a range budget is shown as (£0, £10,000, £15,000, £25,000, £40,000, £60,000, £100,000, ...):
fixed, not drawn from the figure, so a band says which band the budget is in and nothing more. (A range of the
figure less and more 20% had the figure as its middle, and the notice's per-head cost was that middle over the
volume: a hidden budget, given away.)"""


def budget_band(amount: int) -> tuple[int, int]:
    """The band of BUDGET_BANDS `amount` is in: at least its lower edge, below its upper one."""
    i = bisect.bisect_right(BUDGET_BANDS, amount) - 1
    return BUDGET_BANDS[i], BUDGET_BANDS[i + 1] if i + 1 < len(BUDGET_BANDS) else BUDGET_BANDS[i] * 10


def budget_shown(need: Need, visibility: str) -> BudgetShown:
    if visibility == "shown":
        return BudgetShown(
            visibility="shown",
            amount=need.annual_budget,
            per_service_user=round(need.annual_budget / need.annual_volume),
        )
    if visibility == "range":
        low, high = budget_band(need.annual_budget)
        return BudgetShown(visibility="range", minimum=low, maximum=high)
    return BudgetShown(visibility="hidden")


async def notice(ctx: Context, conn: Connection, exercise_id: int) -> Notice:
    """The public notice of a published exercise (anyone may read it)."""
    exercise, publication = await _published(conn, exercise_id)
    assert exercise.opens_on is not None and exercise.closes_on is not None  # publishing needs them
    tax = ctx.taxonomy
    areas, pathways, desired = tax.codes("areas"), tax.codes("pathways"), tax.codes("desired_outcomes")
    cohorts, accreditations = tax.codes("cohorts"), tax.codes("accreditations")
    return Notice(
        exercise_id=exercise.id,
        title=exercise.title,
        description=exercise.description,
        commissioning_body=exercise.commissioning_body,
        opens_on=exercise.opens_on,
        closes_on=exercise.closes_on,
        deadline=deadline_of(exercise.closes_on),
        deadline_rule=DEADLINE_RULE,
        state=state_at(exercise, ctx.clock.now()),
        published_at=publication.published_at,
        needs=[
            NoticeNeed(
                id=n.id,
                title=n.title,
                pathway=n.pathway,
                pathway_name=pathways.get(n.pathway, n.pathway),
                areas=list(n.areas),
                area_names=[areas.get(a, a) for a in n.areas],
                annual_volume=n.annual_volume,
                contract_years=n.contract_years,
                cohorts=list(n.cohorts),
                budget=budget_shown(n, publication.budget_visibility),
                desired_outcomes=[DesiredOutcomeShown(code=c, name=desired.get(c, c)) for c in n.desired_outcomes],
                cohort_names=[cohorts.get(c, c) for c in n.cohorts],
                screening=NoticeScreening(
                    eligibility=n.eligibility,
                    min_years_experience=n.min_years_experience,
                    required_accreditations=list(n.required_accreditations),
                    required_accreditation_names=[accreditations.get(a, a) for a in n.required_accreditations],
                ),
            )
            for n in exercise.needs
        ],
        questions=await queries.fetch_questions(conn, exercise_id),
        clarifications=await public_clarifications(conn, exercise_id),
    )


# --- questions --------------------------------------------------------------------------------------


async def list_questions(conn: Connection, caller: Caller, exercise_id: int) -> list[Question]:
    """Anyone's once published; before that, staff only (to others the exercise does not exist)."""
    if caller.is_staff:
        await exercises.get_exercise(conn, exercise_id)
    else:
        await _published(conn, exercise_id)
    return await queries.fetch_questions(conn, exercise_id)


CHOICE_KINDS = ("single_choice", "multiple_choice")


def trimmed_choice(choice: str) -> str:
    """A choice as it is kept and compared: outer spaces removed, in Unicode NFC (as names are): " a " is "a"."""
    return nfc(choice)


def question_problems(q: QuestionIn, prefix: str = "") -> list[FieldProblem]:
    """What makes a question unanswerable as set, each problem named where it was sent (`choices[1]`; `prefix`:
    where the question is, as `questions[0].`). Choices are compared as they are kept (`trimmed_choice`): "a" and
    " a " are one choice given twice, which a provider could not tell apart."""
    found = []
    if q.kind in CHOICE_KINDS:
        first: dict[str, int] = {}
        per_choice = []
        for j, choice in enumerate(q.choices):
            kept = trimmed_choice(choice)
            if not kept:
                per_choice.append(FieldProblem(field=f"{prefix}choices[{j}]", problem="a choice cannot be blank"))
            elif "\n" in kept or "\r" in kept:  # a form lists the choices one a line
                problem = "a choice is one line: it cannot hold a line break"
                per_choice.append(FieldProblem(field=f"{prefix}choices[{j}]", problem=problem))
            elif kept in first:
                spaces = "" if choice == q.choices[first[kept]] else " (spaces around a choice do not count)"
                problem = f"the same choice as choices[{first[kept]}]{spaces}"
                per_choice.append(FieldProblem(field=f"{prefix}choices[{j}]", problem=problem))
            else:
                first[kept] = j
        if len(first) < 2:
            found.append(
                FieldProblem(field=f"{prefix}choices", problem="a choice question needs at least two different choices")
            )
        found += per_choice
    elif q.choices:
        found.append(
            FieldProblem(field=f"{prefix}choices", problem=f"only choice questions have choices, not {q.kind}")
        )
    if q.word_limit is not None and q.kind != "text":
        found.append(
            FieldProblem(field=f"{prefix}word_limit", problem=f"only text questions have a word limit, not {q.kind}")
        )
    if q.kind != "number":
        found += [
            FieldProblem(field=f"{prefix}{name}", problem=f"only number questions have this setting, not {q.kind}")
            for name, given in (("minimum", q.minimum), ("maximum", q.maximum), ("whole_number", q.whole_number))
            if given is not None and given is not False  # a minimum of 0 is given
        ]
    elif q.minimum is not None and q.maximum is not None and q.minimum > q.maximum:
        found.append(FieldProblem(field=f"{prefix}maximum", problem=f"below the minimum ({figure(q.minimum)})"))
    elif (
        q.whole_number
        and q.minimum is not None
        and q.maximum is not None
        and math.floor(q.maximum) < math.ceil(q.minimum)
    ):
        found.append(
            FieldProblem(
                field=f"{prefix}maximum",
                problem=f"no whole number lies between {figure(q.minimum)} and {figure(q.maximum)}",
            )
        )
    return found


async def add_question(conn: Connection, actor: Actor, exercise_id: int, data: QuestionIn) -> Question:
    """Questions are set before publishing: once providers can answer, they are fixed (409). Choices are kept
    trimmed (`trimmed_choice`)."""
    data = _checked_question(data)
    async with conn.transaction():
        await _questions_open(conn, exercise_id)
        question = await queries.insert_question(conn, exercise_id, data)
        await audit.record(conn, actor, status=201, detail=f"added question {question.id} to exercise {exercise_id}")
        return question


async def change_question(
    conn: Connection, actor: Actor, exercise_id: int, question_id: int, if_match: str | None, data: QuestionIn
) -> Question:
    """A question replaced whole (its kind, text and settings; its place among the questions kept), under If-Match
    (its version): before publishing only, as questions are added (409 after). Given as it is, nothing changes, its
    version neither."""
    require_if_match(if_match)
    data = _checked_question(data)
    async with conn.transaction():
        await _questions_open(conn, exercise_id)
        what = f"exercise {exercise_id}'s question {question_id}"
        current = queries.question_of(
            await locked(queries.lock_question(conn, exercise_id, question_id), what, if_match)
        )
        if _as_set(current) == data:
            return current
        question = await queries.update_question(conn, question_id, data)
        await audit.record(conn, actor, status=200, detail=f"changed question {question_id} of exercise {exercise_id}")
        return question


async def move_question(
    conn: Connection, actor: Actor, exercise_id: int, question_id: int, data: QuestionMove
) -> list[Question]:
    """A question put at another place among the exercise's questions (`position`, 1 the first), the others keeping
    their order; before publishing only (409 after), as questions are changed; with `from_position`, only if it is at
    that place now (409 otherwise). The questions are numbered 1, 2, ... again; no question's version changes (its
    content does not). Moved to its own place, nothing changes. Returns the questions in their new order."""
    async with conn.transaction():
        await _questions_open(conn, exercise_id)
        questions = await queries.fetch_questions(conn, exercise_id)
        ids = [q.id for q in questions]
        if question_id not in ids:
            raise NotFound(f"exercise {exercise_id} has no question {question_id}")
        if data.from_position is not None and (now := ids.index(question_id) + 1) != data.from_position:
            raise Conflict(
                f"question {question_id} is question {now} of exercise {exercise_id} now, not "
                f"{data.from_position}: the questions have changed since they were listed; nothing was moved"
            )
        if data.position > len(ids):
            problem = f"must be {len(ids)} or less: exercise {exercise_id} has {plural(len(ids), 'question')}"
            raise Unprocessable.from_problems([FieldProblem(field="position", problem=problem)])
        order = [i for i in ids if i != question_id]
        order.insert(data.position - 1, question_id)
        if order == ids:
            return questions
        await queries.renumber_questions(conn, exercise_id, order)
        await audit.record(
            conn,
            actor,
            status=200,
            detail=f"moved question {question_id} of exercise {exercise_id} to place {data.position} of {len(ids)}",
        )
        by_id = {q.id: q for q in questions}  # as the statement numbered them
        return [msgspec.structs.replace(by_id[i], position=n) for n, i in enumerate(order, start=1)]


async def remove_question(conn: Connection, actor: Actor, exercise_id: int, question_id: int) -> None:
    async with conn.transaction():
        await _questions_open(conn, exercise_id)
        if not await queries.delete_question(conn, exercise_id, question_id):
            raise NotFound(f"exercise {exercise_id} has no question {question_id}")
        await audit.record(conn, actor, status=204, detail=f"removed question {question_id} of exercise {exercise_id}")


def _checked_question(data: QuestionIn) -> QuestionIn:
    """A question as it is stored (its text and choices trimmed, a text question's word limit DEFAULT_WORD_LIMIT
    unless given), once `question_problems` finds none (422 otherwise)."""
    if problems := question_problems(data):
        raise Unprocessable.from_problems(problems)
    limit = (data.word_limit or DEFAULT_WORD_LIMIT) if data.kind == "text" else None
    choices = [trimmed_choice(c) for c in data.choices]
    return msgspec.structs.replace(data, text=data.text.strip(), choices=choices, word_limit=limit)


def _as_set(q: Question) -> QuestionIn:
    """A stored question as it was set (its word limit as stored)."""
    return QuestionIn(**{f: getattr(q, f) for f in QuestionIn.__struct_fields__})


async def _questions_open(conn: Connection, exercise_id: int) -> None:
    """The exercise's questions, locked for a change (inside the caller's transaction), while they may change:
    404 for no such exercise, 409 once it is published (providers answer the questions its notice shows)."""
    await exercises.get_exercise(conn, exercise_id)
    await queries.lock_questions(conn, exercise_id)
    if await queries.fetch_publication(conn, exercise_id) is not None:
        raise Conflict(f"exercise {exercise_id} is published: its questions are fixed")


# --- responses --------------------------------------------------------------------------------------


def _check_open(exercise: Exercise, now: dt.datetime, what: str) -> None:
    assert exercise.opens_on is not None and exercise.closes_on is not None
    if now < opens_at(exercise.opens_on):
        raise Conflict(f"exercise {exercise.id} opens for {what} on {exercise.opens_on.isoformat()} (Europe/London)")
    if now >= deadline_of(exercise.closes_on):
        raise Conflict(
            f"the deadline {_deadline_text(exercise.closes_on)} has passed: {what} are closed and responses read-only"
        )


def _word_count(text: str) -> int:
    return len(text.split())


def _unknown_id(field: str, problem: str, ids: Iterable[int]) -> FieldProblem:
    """An id that is not one of `ids` (which the problem lists)."""
    return FieldProblem(field=field, problem=problem, allowed=list(ids))


K = TypeVar("K")


def _each_once(
    ids: list[int], known: Mapping[int, K], field: str, unknown: str, twice: str, found: list[FieldProblem]
) -> Iterator[tuple[int, K]]:
    """The position and the item of each of `ids` that names one of `known` for the first time; for any other id, a
    problem added to `found` as it is met (`field`: the id's field, its position as {}; `unknown`, `twice`: the
    problems)."""
    seen: set[int] = set()
    for i, key in enumerate(ids):
        item = known.get(key)
        if item is None:
            found.append(_unknown_id(field.format(i), unknown, known))
        elif key in seen:
            found.append(FieldProblem(field=field.format(i), problem=twice))
        else:
            seen.add(key)
            yield i, item


ANSWER_MAX_CHARS = 20_000
"""The longest text answer (a word limit, default 500, usually stops it well before)."""
ANSWER_MAX_NUMBER = 1e12
"""A number answer's largest size either way (staff, places, pounds: nothing a provider states comes near)."""


def choice_of(q: Question, value: str) -> str | None:
    """The question's choice `value` names (None: none), as trimmed as choices are kept (`trimmed_choice`): " a "
    answers the choice "a", and the answer is kept as the choice is."""
    if value in q.choices:
        return value
    kept = trimmed_choice(value)
    return next((c for c in q.choices if trimmed_choice(c) == kept), None)


def as_asked(questions: list[Question], data: ResponseIn) -> ResponseIn:
    """A checked response with each choice answered as the question has it (`choice_of`), so that what is kept, and
    compared with the response as it stands, is the choice and not the way it was typed."""
    by_id = {q.id: q for q in questions}

    def kept(a: Answer) -> Answer:
        q = by_id.get(a.question_id)
        if q is None or q.kind not in CHOICE_KINDS:
            return a
        if isinstance(a.value, str):
            return Answer(question_id=a.question_id, value=choice_of(q, a.value) or a.value)
        if isinstance(a.value, list):
            return Answer(question_id=a.question_id, value=[choice_of(q, c) or c for c in a.value])
        return a

    return msgspec.structs.replace(data, answers=[kept(a) for a in data.answers])


def answer_problems(questions: list[Question], answers: list[Answer]) -> list[FieldProblem]:
    by_id = {q.id: q for q in questions}
    found: list[FieldProblem] = []
    ids = [a.question_id for a in answers]
    unknown = "not a question of this exercise"
    for i, q in _each_once(ids, by_id, "answers[{}].question_id", unknown, "answered twice", found):
        v, f = answers[i].value, f"answers[{i}].value"
        if q.kind == "text":
            if not isinstance(v, str):
                found.append(FieldProblem(field=f, problem="expected text"))
            elif len(v) > ANSWER_MAX_CHARS:
                found.append(FieldProblem(field=f, problem=f"must be {ANSWER_MAX_CHARS:,} characters or fewer"))
            elif not re.fullmatch(TEXT, v):
                found.append(FieldProblem(field=f, problem=PLAIN[TEXT][0]))
            elif q.word_limit is not None and _word_count(v) > q.word_limit:
                found.append(FieldProblem(field=f, problem=f"{_word_count(v)} words, over the limit of {q.word_limit}"))
            elif not v.strip() and q.required:
                found.append(FieldProblem(field=f, problem="this question needs an answer"))
        elif q.kind == "yes_no":
            if not isinstance(v, bool):
                found.append(FieldProblem(field=f, problem="expected true or false"))
        elif q.kind == "number":
            least = -ANSWER_MAX_NUMBER if q.minimum is None else q.minimum
            most = ANSWER_MAX_NUMBER if q.maximum is None else q.maximum
            if isinstance(v, bool) or not isinstance(v, float | int):
                found.append(FieldProblem(field=f, problem=f"expected {q.number_rule}"))
            elif not least <= v <= most:  # told the bounds that hold, the question's or the answers' own
                bounded = msgspec.structs.replace(q, minimum=least, maximum=most)
                found.append(FieldProblem(field=f, problem=f"must be {bounded.number_rule}; got {figure(v)}"))
            elif q.whole_number and not float(v).is_integer():
                found.append(FieldProblem(field=f, problem=f"must be {q.number_rule}; got {figure(v)}"))
        elif q.kind == "single_choice":
            if not isinstance(v, str) or choice_of(q, v) is None:
                found.append(FieldProblem(field=f, problem="not one of the choices", allowed=q.choices))
        elif q.kind == "multiple_choice":
            if not isinstance(v, list):
                found.append(FieldProblem(field=f, problem="expected a list of choices", allowed=q.choices))
            elif bad := [c for c in v if choice_of(q, c) is None]:
                found.append(
                    FieldProblem(field=f, problem=f"not among the choices: {', '.join(bad)}", allowed=q.choices)
                )
            elif len({choice_of(q, c) for c in v}) != len(v):
                found.append(FieldProblem(field=f, problem="a choice appears twice"))
            elif q.required and not v:
                found.append(FieldProblem(field=f, problem="this question needs at least one choice"))
    found += [
        FieldProblem(field="answers", problem=f"question {q.id} needs an answer: {shorten(q.text, 80)}")
        for q in questions
        if q.required and q.id not in ids
    ]
    return found


async def response_problems(
    ctx: Context,
    conn: Connection,
    caller: Caller,
    exercise: Exercise,
    provider_id: int,
    data: ResponseIn,
    questions: list[Question],
) -> list[FieldProblem]:
    """Everything a response says checked against the exercise, the provider's own services, the directory and the
    exercise's `questions`."""
    tree = ctx.taxonomy.matching_areas
    area_codes, pathways = ctx.taxonomy.codes("areas"), ctx.taxonomy.codes("pathways")
    needs = {n.id: n for n in exercise.needs}
    services = {s.id: s for s in await providers.list_services(ctx, conn, caller, provider_id)}
    once: dict[int, str] | None = None  # the services its profile held when it responded before (read when needed)
    found: list[FieldProblem] = []
    ids = [r.need_id for r in data.needs]
    twice = "this need is answered twice"
    for i, need in _each_once(ids, needs, "needs[{}].need_id", "not a need of this exercise", twice, found):
        r, p = data.needs[i], f"needs[{i}]"
        if r.intent == "not_interested":
            given = [n for n in ("service_ids", "capacity", "partners") if getattr(r, n)]
            given += ["unit_cost"] if r.unit_cost is not None else []
            found += [FieldProblem(field=f"{p}.{n}", problem="leave this out when not interested") for n in given]
            continue
        if not r.service_ids:
            found.append(
                FieldProblem(field=f"{p}.service_ids", problem="name at least one of your services to deliver with")
            )
        fitting = [k for k, s in services.items() if s.status == "active" and s.pathway == need.pathway]
        named = []
        for j, sid in enumerate(r.service_ids):
            s = services.get(sid)
            if s is None:
                if once is None:
                    once = await queries.services_once_held(conn, exercise.id, provider_id)
                if sid in once:  # named before, since removed from the profile: say so
                    found.append(
                        _unknown_id(
                            f"{p}.service_ids[{j}]",
                            f"service {sid} ({once[sid]}) has been removed from your profile since you last "
                            "responded: take it out of this need's services, or add it to your profile again and "
                            "name it by its new number",
                            fitting,
                        )
                    )
                else:
                    found.append(_unknown_id(f"{p}.service_ids[{j}]", "not one of your services", services))
            elif s.status != "active":
                found.append(FieldProblem(field=f"{p}.service_ids[{j}]", problem="this service is not active"))
            elif s.pathway != need.pathway:
                found.append(
                    _unknown_id(
                        f"{p}.service_ids[{j}]",
                        f"this service is in the {pathways.get(s.pathway, s.pathway)} pathway, and the need is for "
                        f"{pathways.get(need.pathway, need.pathway)}: name your active services in that pathway "
                        "(add one to your profile first if you have none)",
                        fitting,
                    )
                )
            else:
                named.append(s)
        if len(set(r.service_ids)) != len(r.service_ids):
            found.append(FieldProblem(field=f"{p}.service_ids", problem="a service appears twice"))
        delivered = sorted({a for s in named for a in s.areas})  # where the services named deliver
        areas_seen: set[str] = set()
        for j, c in enumerate(r.capacity):
            f = f"{p}.capacity[{j}].area"
            if c.area not in area_codes:
                found.append(FieldProblem(field=f, problem="unknown area code"))
            elif not any(tree.is_within(c.area, a) for a in need.areas):
                found.append(FieldProblem(field=f, problem="not within the need's areas", allowed=list(need.areas)))
            elif c.area in areas_seen:
                found.append(FieldProblem(field=f, problem="this area appears twice"))
            elif named and not _overlaps(ctx.taxonomy, delivered, [c.area]):
                found.append(
                    FieldProblem(
                        field=f,
                        problem="none of the services named for this need covers any of this area: capacity is "
                        "stated where those services deliver",
                        allowed=delivered,
                    )
                )
            elif named and not covers_whole(ctx.taxonomy, delivered, c.area):
                parts = covered_areas(ctx.taxonomy, delivered, [c.area])
                found.append(
                    FieldProblem(
                        field=f,
                        problem=f"the services named for this need cover only part of {area_codes[c.area]}: "
                        f"{and_list(area_codes.get(a, a) for a in parts)}. A figure for an area is counted across "
                        "all of it, so state "
                        f"capacity for {'that area' if len(parts) == 1 else 'each of those areas'} instead",
                        allowed=parts,
                    )
                )
            areas_seen.add(c.area)
        partners_seen: set[int | str] = set()
        for j, partner in enumerate(r.partners):
            f = f"{p}.partners[{j}]"
            key = partner.provider_id if partner.provider_id is not None else (partner.name or "").strip().casefold()
            if (partner.provider_id is None) == (partner.name is None):
                found.append(FieldProblem(field=f, problem="give either provider_id (a directory provider) or name"))
            elif key in partners_seen:
                found.append(FieldProblem(field=f, problem="this partner appears twice"))
            elif partner.name is not None and await providers.is_named(conn, provider_id, partner.name):
                found.append(FieldProblem(field=f"{f}.name", problem="that is your own organisation"))
            elif partner.name is not None and (listed := await providers.published_named(conn, partner.name)):
                # a directory provider named as if outside the directory: the report would count it as outside
                pid, pname = listed
                found.append(
                    FieldProblem(
                        field=f"{f}.name",
                        problem=f"that is the name of a provider in the directory, {pname} (provider {pid}): give its "
                        f"directory number, {pid}, instead of its name",
                        suggestion=str(pid),
                    )
                )
            elif partner.provider_id is not None:
                if partner.provider_id == provider_id:
                    found.append(FieldProblem(field=f"{f}.provider_id", problem="that is your own organisation"))
                else:
                    try:
                        await providers.profile_json(ctx, conn, ANONYMOUS, partner.provider_id)
                    except NotFound:
                        found.append(
                            FieldProblem(field=f"{f}.provider_id", problem="no published provider has this id")
                        )
            partners_seen.add(key)
        if len(set(r.barriers)) != len(r.barriers):
            found.append(FieldProblem(field=f"{p}.barriers", problem="a barrier appears twice", allowed=list(BARRIERS)))
    found += answer_problems(questions, data.answers)
    return found


async def check_response(
    ctx: Context, conn: Connection, caller: Caller, exercise_id: int, provider_id: int, data: ResponseIn
) -> list[FieldProblem]:
    """What submitting or revising `data` as the provider's response would be refused for by its rules
    (`response_problems`: every problem at once; the deadline and the revision aside), changing nothing: a form
    shows them with those its own boxes have (marketplace.console). The caller's permission is the caller's to have
    checked."""
    exercise, _ = await _published(conn, exercise_id)
    questions = await queries.fetch_questions(conn, exercise_id)
    return await response_problems(ctx, conn, caller, exercise, provider_id, data, questions)


def _as_sets(data: ResponseIn) -> object:
    """What a response says, its set-like lists each in one order: its needs (by need) and its answers (by
    question); in each need its services, its capacity (by area), its partners and its barriers; a multiple-choice
    answer's choices. Each of those holds a thing once (`response_problems`), and their order says nothing: two
    responses that differ only in it say the same."""
    needs = [
        msgspec.structs.replace(
            n,
            service_ids=sorted(n.service_ids),
            capacity=sorted(n.capacity, key=lambda c: c.area),
            partners=sorted(n.partners, key=lambda p: (p.provider_id or 0, p.name or "")),
            barriers=sorted(n.barriers),
        )
        for n in sorted(data.needs, key=lambda n: n.need_id)
    ]
    answers = [
        Answer(question_id=a.question_id, value=sorted(a.value) if isinstance(a.value, list) else a.value)
        for a in sorted(data.answers, key=lambda a: a.question_id)
    ]
    return msgspec.to_builtins(ResponseIn(needs=needs, answers=answers))


def _same_response(current: Response, data: ResponseIn) -> bool:
    """Whether `data` says what the response `current` says (its sets in any order: `_as_sets`)."""
    return _as_sets(ResponseIn(needs=current.needs, answers=current.answers)) == _as_sets(data)


async def profile_status(conn: Connection, provider_id: int) -> str | None:
    """The provider's profile status now (None: no such provider): what a page offering to respond or ask asks first,
    in one statement. A pending profile's response would be refused (`refuse_if_pending`); an archived one's key may
    neither respond nor ask a clarification question (`providers.refuse_if_archived`)."""
    return (await queries.provider_statuses(conn, [provider_id])).get(provider_id)


async def refuse_if_pending(conn: Connection, provider_id: int) -> None:
    """Only a provider in the directory responds: a pending profile (self-registered, or created by an import, and
    not yet checked by an admin) is refused (409) until an admin publishes it, since a response counts in the
    commissioner's market-response figures. Withdrawing stays open to it, and so does asking a clarification
    question, which counts in no figure."""
    if await profile_status(conn, provider_id) == "pending":
        raise Conflict(
            f"provider {provider_id}'s profile is pending: it must be published before it can respond, because a "
            "response counts in the commissioner's market-response figures and only providers an admin has checked "
            "and published are counted. Ask an admin to publish your profile, then respond"
        )


async def _write_revision(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    exercise_id: int,
    provider_id: int,
    if_match: str | None,
    data: ResponseIn | None,
    *,
    first: bool,
) -> Response:
    """The one way a response changes: a new revision (submitted `data`, or withdrawn when None), with the
    provider's profile and services as they are now, checked and recorded in one transaction. The submitted response
    sent again as it stands is no change: it is given back as it is, with no new revision."""
    caller = actor.caller
    if not first:
        require_if_match(if_match)
    async with conn.transaction():
        exercise, _ = await _published(conn, exercise_id)
        what = "responses" if data is not None or first else "withdrawals"
        _check_open(exercise, ctx.clock.now(), what)
        await queries.lock_response(conn, exercise_id, provider_id)
        current = await queries.current_revision(conn, exercise_id, provider_id)
        if first and current is not None:
            raise Conflict(
                f"provider {provider_id} has already responded to exercise {exercise_id}: revise it with "
                f"PUT /exercises/{exercise_id}/responses/{provider_id} (If-Match: its ETag)"
            )
        if not first:
            if current is None:
                raise NotFound(f"provider {provider_id} has no response to exercise {exercise_id}")
            check_if_match(if_match, current[0])
        previous = None if first else await queries.fetch_response(conn, exercise_id, provider_id)
        if data is None:
            assert previous is not None
            if previous.status == "withdrawn":
                raise Conflict("this response is already withdrawn")
            body = ResponseIn(needs=previous.needs, answers=previous.answers)
            status, code = "withdrawn", 200
        else:
            await providers.refuse_if_archived_now(conn, actor, provider_id)
            await refuse_if_pending(conn, provider_id)
            questions = await queries.fetch_questions(conn, exercise_id)
            if problems := await response_problems(ctx, conn, caller, exercise, provider_id, data, questions):
                raise Unprocessable.from_problems(problems)
            data = as_asked(questions, data)
            if previous is not None and previous.status == "submitted" and _same_response(previous, data):
                return previous  # the response as it stands, sent again: nothing to revise, nothing to record
            body, status, code = data, "submitted", 201 if first else 200
        snapshot, _ = await providers.profile_json(ctx, conn, caller, provider_id)
        revision = 1 if current is None else current[0] + 1
        await queries.insert_revision(
            conn,
            exercise_id=exercise_id,
            provider_id=provider_id,
            revision=revision,
            status=status,
            body=body,
            snapshot=snapshot,
            at=ctx.clock.now(),
            by=caller.key_id,
        )
        verb = {"withdrawn": "withdrew", "submitted": "submitted" if first else "revised"}[status]
        await audit.record(
            conn,
            actor,
            status=code,
            provider_id=provider_id,
            detail=f"{verb} the response to exercise {exercise_id} (revision {revision})",
        )
        found = await queries.fetch_response(conn, exercise_id, provider_id)
        assert found is not None
        return found


async def submit_response(ctx: Context, conn: Connection, actor: Actor, exercise_id: int, data: ResponseIn) -> Response:
    provider_id = actor.caller.provider_id
    assert provider_id is not None  # the route admits provider keys only
    return await _write_revision(ctx, conn, actor, exercise_id, provider_id, None, data, first=True)


async def revise_response(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    exercise_id: int,
    provider_id: int,
    if_match: str | None,
    data: ResponseIn,
) -> Response:
    return await _write_revision(ctx, conn, actor, exercise_id, provider_id, if_match, data, first=False)


async def withdraw_response(
    ctx: Context, conn: Connection, actor: Actor, exercise_id: int, provider_id: int, if_match: str | None
) -> Response:
    return await _write_revision(ctx, conn, actor, exercise_id, provider_id, if_match, None, first=False)


async def get_response(conn: Connection, exercise_id: int, provider_id: int) -> Response:
    """One provider's response (the route admits staff and that provider only)."""
    await exercises.get_exercise(conn, exercise_id)
    found = await queries.fetch_response(conn, exercise_id, provider_id)
    if found is None:
        raise NotFound(f"provider {provider_id} has no response to exercise {exercise_id}")
    return found


async def list_revisions(conn: Connection, exercise_id: int, provider_id: int) -> list[ResponseRevision]:
    await get_response(conn, exercise_id, provider_id)
    return await queries.fetch_revisions(conn, exercise_id, provider_id)


async def list_responses(
    conn: Connection, caller: Caller, exercise_id: int, *, page: int, per_page: int
) -> ResponsePage:
    """Staff: every current response; a provider: its own only (never another's)."""
    if caller.is_staff:
        await exercises.get_exercise(conn, exercise_id)
        only = None
    else:
        await _published(conn, exercise_id)
        only = caller.provider_id
        assert only is not None  # the route admits staff and provider keys only
    total, items = await queries.fetch_responses(
        conn, exercise_id, provider_id=only, limit=per_page, offset=(page - 1) * per_page
    )
    return ResponsePage(total=total, page=page, per_page=per_page, items=items)


# --- clarifications ---------------------------------------------------------------------------------


async def public_clarifications(conn: Connection, exercise_id: int) -> list[PublicClarification]:
    return [
        PublicClarification(
            id=c.id, question=c.published_question or c.question, answer=c.answer, answered_at=c.answered_at
        )
        for c in await queries.fetch_clarifications(conn, exercise_id, answered_or_asked_by=None, everything=False)
        if c.answer is not None and c.answered_at is not None
    ]


async def ask(ctx: Context, conn: Connection, actor: Actor, exercise_id: int, data: ClarificationIn) -> Clarification:
    provider_id = actor.caller.provider_id
    assert provider_id is not None  # the route admits provider keys only
    async with conn.transaction():
        exercise, _ = await _published(conn, exercise_id)
        _check_open(exercise, ctx.clock.now(), "clarification questions")
        await providers.refuse_if_archived_now(conn, actor, provider_id)
        asked = await queries.insert_clarification(
            conn, exercise_id, provider_id, data.question, ctx.clock.now(), actor.caller.key_id
        )
        await audit.record(
            conn,
            actor,
            status=201,
            provider_id=provider_id,
            detail=f"asked clarification {asked.id} of exercise {exercise_id}",
        )
        return asked


async def answer(
    ctx: Context, conn: Connection, actor: Actor, exercise_id: int, clarification_id: int, data: AnswerIn
) -> Clarification:
    """Answer a clarification and publish it, with the question as `published_question` words it (the commissioner
    always says what is published: reworded to leave out who asked, or as asked), to everyone; never naming who
    asked. Answered once (409 after)."""
    async with conn.transaction():
        await _published(conn, exercise_id)
        found = await queries.lock_clarification(conn, exercise_id, clarification_id)
        if found is None:
            raise NotFound(f"exercise {exercise_id} has no clarification {clarification_id}")
        if found.answer is not None:
            raise Conflict(f"clarification {clarification_id} is already answered and published")
        done = await queries.answer_clarification(
            conn, clarification_id, data.published_question, data.answer, ctx.clock.now(), actor.caller.key_id
        )
        await audit.record(
            conn,
            actor,
            status=200,
            detail=f"answered and published clarification {clarification_id} of exercise {exercise_id}",
        )
        return done


async def list_clarifications(conn: Connection, caller: Caller, exercise_id: int) -> list[Clarification]:
    """Staff: every clarification, with who asked. A provider: the published ones (anonymised) and its own. Anyone
    else: the published ones, anonymised."""
    if caller.is_staff:
        await exercises.get_exercise(conn, exercise_id)
        return await queries.fetch_clarifications(conn, exercise_id, answered_or_asked_by=None, everything=True)
    await _published(conn, exercise_id)
    own = caller.provider_id if caller.role == "provider" else None
    found = await queries.fetch_clarifications(conn, exercise_id, answered_or_asked_by=own, everything=False)
    return [
        c
        if own is not None and c.provider_id == own
        else msgspec.structs.replace(c, provider_id=None, question=c.published_question or c.question)
        for c in found
    ]


# --- finding open exercises ---------------------------------------------------------------------------


def covers_whole(tax: Taxonomy, service_areas: Iterable[str], area: str) -> bool:
    """Whether the services' areas together cover all of `area`: one of them holds it, or those inside it hold
    every one of its smallest areas (a county's districts)."""
    tree = tax.matching_areas
    if area not in tree:
        return False
    known = [s for s in service_areas if s in tree]
    if any(tree.is_within(area, s) for s in known):
        return True
    covered = {leaf for s in known if tree.is_within(s, area) for leaf in tree.leaves_under(s)}
    return covered.issuperset(tree.leaves_under(area))


def covered_areas(tax: Taxonomy, service_areas: Iterable[str], within: Iterable[str]) -> list[str]:
    """The areas a response may state capacity for, of `within` (a need's areas): each of them one of the services'
    areas holds, else the services' areas inside it (Redditch and Worcester for a Worcestershire need when the
    services cover those districts), in the order of `within` (the districts inside each in the area tree's order,
    one nested in another given once)."""
    tree = tax.matching_areas
    known = [s for s in service_areas if s in tree]
    found: list[str] = []
    for a in within:
        if a not in tree:
            continue
        if any(tree.is_within(a, s) for s in known):
            parts = [a]
        else:
            parts = [tree.code(i) for i in tree.reduce(s for s in known if tree.is_within(s, a))]
        found += [x for x in parts if x not in found]
    return found


def _overlaps(tax: Taxonomy, service_areas: list[str], need_areas: list[str]) -> bool:
    """A service area inside a need's area, or a need's area inside a service area."""
    tree = tax.matching_areas
    return any(
        tree.is_within(s, n) or tree.is_within(n, s)
        for s in service_areas
        for n in need_areas
        if s in tree and n in tree
    )


async def open_exercises(ctx: Context, conn: Connection, caller: Caller, provider_id: int) -> list[OpenExercise]:
    """Published exercises open now with a need in a pathway of one of the provider's active services, in an area
    that service covers (an area inside the need's area counts); newest publication first."""
    services = [s for s in await providers.list_services(ctx, conn, caller, provider_id) if s.status == "active"]
    statuses = await queries.provider_response_statuses(conn, provider_id)
    now = ctx.clock.now()
    found = []
    for exercise_id, published_at in await queries.published_exercise_ids(conn):
        exercise = await exercises.get_exercise(conn, exercise_id)
        if state_at(exercise, now) != "open":
            continue
        need_ids, service_ids = [], []
        for n in exercise.needs:
            matching = [s.id for s in services if s.pathway == n.pathway and _overlaps(ctx.taxonomy, s.areas, n.areas)]
            if matching:
                need_ids.append(n.id)
                service_ids += [s for s in matching if s not in service_ids]
        if need_ids:
            assert exercise.closes_on is not None
            found.append(
                OpenExercise(
                    exercise_id=exercise.id,
                    title=exercise.title,
                    commissioning_body=exercise.commissioning_body,
                    published_at=published_at,
                    closes_on=exercise.closes_on,
                    deadline=deadline_of(exercise.closes_on),
                    need_ids=need_ids,
                    service_ids=sorted(service_ids),
                    responded=statuses.get(exercise.id) == "submitted",
                    response_status=cast(ResponseStatus | None, statuses.get(exercise.id)),
                )
            )
    return found


# --- market response --------------------------------------------------------------------------------


def _whole(values: list[float]) -> list[int]:
    """Areas' figures as whole numbers adding up to theirs, rounded (largest remainder: 675 and six areas of 112.5
    read 675 + 6 x 112 = 1,347 against 1,350 rounded one by one)."""
    return matching.largest_remainder(values, round(math.fsum(values))) or [round(v) for v in values]


NOT_COUNTED = {
    "archived": "archived since it responded: out of the directory, so its response is not counted",
    "pending": "its profile is pending (not checked and published by an admin), so its response is not counted",
}
"""Why a submitted response is left out of the market-response figures, by its provider's status now."""


def _member_key(m: ConsortiumPartner) -> tuple[str, int | str]:
    return ("provider", m.provider_id) if m.provider_id is not None else ("named", fold(m.name))


def consortia_of(declared: Sequence[tuple[Response, NeedResponse, list[ConsortiumPartner]]]) -> list[Consortium]:
    """The partnerships the responses to one need declare (each response, its answer for the need and its partners):
    one per set of organisations, however many of its members declare it (two providers naming each other are one
    consortium, declared by both), led by a member whose response says `lead`, else `either`, else the first to
    declare it (`lead_declared` false). In the order first declared."""
    groups: dict[frozenset[tuple[str, int | str]], list[tuple[Response, NeedResponse, list[ConsortiumPartner]]]] = {}
    for r, n, members in declared:
        whole = [ConsortiumPartner(name=r.provider_name, provider_id=r.provider_id), *members]
        groups.setdefault(frozenset(map(_member_key, whole)), []).append((r, n, whole))
    out = []
    for group in groups.values():
        by_intent = {intent: next((x for x in group if x[1].intent == intent), None) for intent in ("lead", "either")}
        leading = by_intent["lead"] or by_intent["either"] or group[0]
        lead = leading[0]
        seen: dict[tuple[str, int | str], ConsortiumPartner] = {}
        for _, _, whole in group:
            for m in whole:
                seen.setdefault(_member_key(m), m)
        others = [m for k, m in seen.items() if k != ("provider", lead.provider_id)]
        out.append(
            Consortium(
                lead_provider_id=lead.provider_id,
                lead_name=lead.provider_name,
                partners=[m.name if m.provider_id is None else f"{m.name} (provider {m.provider_id})" for m in others],
                members=others,
                declared_by=[r.provider_id for r, _, _ in group],
                lead_declared=leading[1].intent in ("lead", "either"),
            )
        )
    return out


def leaf_share(tree: matching.AreaTree, area: str, leaf: str) -> float:
    """The share of what is offered for `area` that falls in its local area `leaf`: by population, as the report's
    grid spreads the service users it expects (and the capacity criterion a service's capacity); evenly when the
    areas have no population figures."""
    whole = float(tree.people[tree.index(area)])
    if whole > 0:
        return float(tree.people[tree.index(leaf)]) / whole
    return 1 / tree.leaf_count(area)


def answer_words(value: AnswerValue) -> str:
    """An answer as the report shows it: "yes" or "no", a number as a person writes it (`figure`: 12, 12.5), choices
    joined by "; "."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return figure(value)
    if isinstance(value, list):
        return "; ".join(value)
    return value


def question_summaries(questions: Sequence[Question], responses: Sequence[Response]) -> list[QuestionSummary]:
    """Each question with what `responses` (the counted ones) answered to it (`QuestionSummary`), by provider name."""
    out = []
    for q in questions:
        given = sorted(
            ((r, a.value) for r in responses for a in r.answers if a.question_id == q.id),
            key=lambda x: (fold(x[0].provider_name), x[0].provider_id),
        )
        counts: dict[str, int] = {}
        numbers: list[float] = []
        if q.kind == "yes_no":
            counts = {"yes": sum(v is True for _, v in given), "no": sum(v is False for _, v in given)}
        elif q.kind in ("single_choice", "multiple_choice"):
            picked = Counter(
                c for _, v in given for c in ([v] if isinstance(v, str) else v if isinstance(v, list) else [])
            )
            counts = {c: picked.get(c, 0) for c in q.choices}
        elif q.kind == "number":
            numbers = sorted(float(v) for _, v in given if isinstance(v, int | float) and not isinstance(v, bool))
        out.append(
            QuestionSummary(
                question_id=q.id,
                position=q.position,
                text=q.text,
                kind=q.kind,
                answered=len(given),
                counts=counts,
                minimum=numbers[0] if numbers else None,
                median=statistics.median(numbers) if numbers else None,
                maximum=numbers[-1] if numbers else None,
                answers=[AnswerGiven(r.provider_id, r.provider_name, answer_words(v)) for r, v in given],
            )
        )
    return out


async def market_response(
    ctx: Context,
    conn: Connection,
    exercise_id: int,
    *,
    threshold: float = SUITABLE_SCORE,
    runs: Mapping[int, ReportRun] | None = None,
) -> MarketResponse:
    """Per need: the responses, their intent, the capacity offered against the volume (and per area), indicative
    costs against the budget per service user, declared consortia, barriers, and the suitable providers (from the
    run a report reads of the need) that did not respond. Only responses from providers in the directory now count:
    one from a provider archived since (or pending) is listed in `not_counted`, with why, and counted in nothing.
    What the report's market-response section and the options appraisal read. Reads only. `runs`: the runs a report
    reads, already read (`exercises.service.report_runs`), so a report does not read them twice; needs not among
    them are read here."""
    exercise = await exercises.get_exercise(conn, exercise_id)
    publication = await queries.fetch_publication(conn, exercise_id)
    _, responses = await queries.fetch_responses(conn, exercise_id)
    submitted = [r for r in responses if r.status == "submitted"]
    statuses = await queries.provider_statuses(conn, [r.provider_id for r in submitted])
    current = [r for r in submitted if statuses.get(r.provider_id) == "published"]  # counted: in the directory now
    not_counted = [
        NotCounted(
            provider_id=r.provider_id,
            name=r.provider_name,
            status=statuses.get(r.provider_id, "removed"),
            reason=NOT_COUNTED.get(statuses.get(r.provider_id, ""), "no longer in the directory"),
            submitted_at=r.submitted_at,
        )
        for r in submitted
        if statuses.get(r.provider_id) != "published"
    ]
    tree = ctx.taxonomy.matching_areas
    names = ctx.taxonomy.codes("areas")
    directory_names: dict[int, str] = {}
    newest = dict(runs or {})  # the run a report reads of each need
    newest |= await exercises.report_runs(
        conn, exercise, ctx.settings.match_store_limit, [need.id for need in exercise.needs if need.id not in newest]
    )
    needs = []
    for need in exercise.needs:
        answers = [(r, n) for r in current for n in r.needs if n.need_id == need.id]
        interested = [(r, n) for r, n in answers if n.intent in INTERESTED]
        intent = Counter(n.intent for _, n in answers)
        offered = sum(c.service_users_per_year for _, n in interested for c in n.capacity)
        costs = sorted(float(n.unit_cost) for _, n in interested if n.unit_cost is not None)
        per_user = need.annual_budget / need.annual_volume
        median = statistics.median(costs) if costs else None
        offers = [(r.provider_id, c) for r, n in interested for c in n.capacity]
        leaves = sorted({leaf for a in need.areas for leaf in tree.leaves_under(a)})
        in_leaf = [[(pid, c) for pid, c in offers if leaf in tree.leaves_under(c.area)] for leaf in leaves]
        spread = [
            sum(c.service_users_per_year * leaf_share(tree, c.area, leaf) for _, c in here)
            for leaf, here in zip(leaves, in_leaf, strict=True)
        ]
        cells = [
            CellResponse(
                area=leaf,
                area_name=names.get(leaf, leaf),
                responses=len({pid for pid, _ in here}),
                offered_capacity=capacity,
            )
            for leaf, here, capacity in zip(leaves, in_leaf, _whole(spread), strict=True)
        ]
        declared: list[tuple[Response, NeedResponse, list[ConsortiumPartner]]] = []
        for r, n in interested:
            if not n.partners:
                continue
            members = []
            for p in n.partners:
                if p.provider_id is not None:
                    if p.provider_id not in directory_names:
                        directory_names[p.provider_id] = await _provider_name(ctx, conn, p.provider_id)
                    members.append(ConsortiumPartner(name=directory_names[p.provider_id], provider_id=p.provider_id))
                else:
                    members.append(ConsortiumPartner(name=p.name or ""))
            declared.append((r, n, members))
        consortia = consortia_of(declared)
        barriers: Counter[str] = Counter(b for _, n in answers for b in n.barriers)
        run = newest.get(need.id)
        run_id = run.id if run is not None else None
        non_responders: list[NonResponder] = []
        if run is not None:  # a provider whose response is not counted still responded
            responders = {r.provider_id for r in submitted for n in r.needs if n.need_id == need.id}
            non_responders = [
                NonResponder(provider_id=s.provider_id, name=s.name, score=round(s.total, 4))
                for s in run.ranking[: ctx.settings.match_store_limit]
                if s.total >= threshold and s.provider_id not in responders
            ]
        needs.append(
            NeedMarketResponse(
                need_id=need.id,
                title=need.title,
                pathway=need.pathway,
                annual_volume=need.annual_volume,
                annual_budget=need.annual_budget,
                responses=len(interested),
                not_interested=intent.get("not_interested", 0),
                intent={k: intent.get(k, 0) for k in ("lead", "partner", "either", "not_interested")},
                offered_capacity=offered,
                capacity_to_volume=round(offered / need.annual_volume, 4) if need.annual_volume else None,
                costs=CostRange(
                    responses=len(costs),
                    minimum=costs[0] if costs else None,
                    median=median,
                    maximum=costs[-1] if costs else None,
                    budget_per_service_user=round(per_user, 2),
                    median_to_budget=round(median / per_user, 4) if median is not None and per_user else None,
                ),
                cells=cells,
                consortia=consortia,
                barriers={b: barriers.get(b, 0) for b in BARRIERS},
                barrier_notes=[n.barriers_text for _, n in answers if n.barriers_text.strip()],
                suitable_non_responders=non_responders,
                match_run_id=run_id,
            )
        )
    return MarketResponse(
        exercise_id=exercise_id,
        published=publication is not None,
        deadline=deadline_of(exercise.closes_on) if exercise.closes_on else None,
        responses=len(current),
        withdrawn=sum(1 for r in responses if r.status == "withdrawn"),
        threshold=threshold,
        needs=needs,
        clarifications=await public_clarifications(conn, exercise_id) if publication is not None else [],
        not_counted=not_counted,
        questions=question_summaries(await queries.fetch_questions(conn, exercise_id), current),
    )


async def _provider_name(ctx: Context, conn: Connection, provider_id: int) -> str:
    try:
        raw, _ = await providers.profile_json(ctx, conn, ANONYMOUS, provider_id)
    except NotFound:
        return f"provider {provider_id}"
    name: str = json.loads(raw).get("name", f"provider {provider_id}")
    return name


# --- OCDS ---------------------------------------------------------------------------------------------


@cache
def cpv_table(path: Path = PROJECT_ROOT / "seed_data" / "cpv.json") -> dict[str, CpvEntry]:
    """Pathway -> its CPV code and name (seed_data/cpv.json, the project's own copy)."""
    return {e.pathway: e for e in msgspec.json.decode(path.read_bytes(), type=list[CpvEntry])}


UK_EXTENSION = "https://raw.githubusercontent.com/cabinetoffice/ocds_uk_extension/main/extension.json"
LOCATION_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_location_extension/master/extension.json"
)
OCDS_EXTENSIONS = [UK_EXTENSION, LOCATION_EXTENSION]
"""Declared as Find a Tender declares them: the UK extension (Document.noticeType, the marketEngagementNotice
document type) and the location extension it depends on (Item.deliveryLocations)."""
GSS_URI = "http://statistics.data.gov.uk/id/statistical-geography/"


def _gbp(amount: float) -> dict[str, object]:
    return {"amount": round(amount, 2), "currency": "GBP"}


@dataclasses.dataclass(frozen=True, slots=True)
class _Step:
    """One release of a notice: made `at`, showing `closes_on`, with the amendments made up to it (each a move of
    the closing date)."""

    at: dt.datetime
    closes_on: dt.date
    amendments: tuple[dict[str, object], ...]


def _release_id(ocid: str, at: dt.datetime) -> str:
    at = at.astimezone(dt.UTC)
    return f"{ocid}-uk2-{at:%Y%m%dT%H%M%S}" + (f".{at:%f}" if at.microsecond else "") + "Z"


def release_steps(
    ocid: str,
    published_at: dt.datetime,
    closes_on: dt.date,
    revisions: list[NoticeRevision],
    revised_at: dt.datetime | None,
    now: dt.datetime,
) -> list[_Step]:
    """Every release the notice has had by `now`, oldest first, each dated (and named) by when what it shows changed:
    its publication, each move of its closing date (`revisions`, from the change history: an amendment each, and
    the amendments before it) and each deadline passing before the next move (its milestone is then met). Drawn from
    what is stored alone, so a release, once made, reads the same byte for byte whenever it is asked for.
    `closes_on` and `revised_at`: the exercise's now. When the change history does not hold its last revision (one
    made before the history was kept), the earlier releases cannot be drawn again: the notice has the one release it
    shows now, its amendment saying only the new date."""
    if revisions and (revisions[-1].at != revised_at or revisions[-1].after != closes_on):
        revisions = []
    start, closes = published_at, revisions[0].before if revisions else closes_on
    amendments: tuple[dict[str, object], ...] = ()
    if revised_at is not None and not revisions:  # a move the history does not hold
        amendment: dict[str, object] = {
            "id": "1",
            "date": iso_utc(revised_at),
            "rationale": f"closing date moved to {closes_on.isoformat()} (the earlier date is not on record)",
            "releaseID": _release_id(ocid, revised_at),
        }
        start, amendments = revised_at, (amendment,)
    steps: list[_Step] = []
    for moved in [*revisions, None]:
        steps.append(_Step(start, closes, amendments))
        due = deadline_of(closes)
        if start < due and (due < moved.at if moved is not None else due <= now):
            steps.append(_Step(due, closes, amendments))  # the deadline passed: the milestone is met
        if moved is not None:
            amendment = {
                "id": str(len(amendments) + 1),
                "date": iso_utc(moved.at),
                "rationale": f"closing date moved from {moved.before.isoformat()} to {moved.after.isoformat()}",
                "description": f"Responses are due by {deadline_of(moved.after).isoformat()} (the end of "
                f"{moved.after.isoformat()}, Europe/London), no longer by {deadline_of(moved.before).isoformat()}.",
                "amendsReleaseID": _release_id(ocid, steps[-1].at),
                "releaseID": _release_id(ocid, moved.at),
            }
            start, closes, amendments = moved.at, moved.after, (*amendments, amendment)
    return steps


async def ocds(ctx: Context, conn: Connection, exercise_id: int, *, base_url: str) -> OcdsPackage:
    """The published notice as an OCDS 1.1 release package shaped like Find a Tender's UK2 (preliminary market
    engagement) notice, holding every release it has had (`release_steps`): the first tagged `planning`, each after
    it `planningUpdate`, a move of the closing date with its amendment in `tender.amendments` (the release schema's
    one place for amendments before an award). Holds the notice only: never match runs or responses. A release is
    dated, and named, by when what it shows changed (OCDS: a release id is unique within its ocid, and names one set
    of information), so the package's `publishedDate` is its newest release's date."""
    releases = await _releases(ctx, conn, exercise_id, base_url=base_url)
    return {**_package(f"{base_url.rstrip('/')}/exercises/{exercise_id}/ocds", releases), "releases": releases}


def _package(uri: str, releases: list[dict[str, Any]]) -> OcdsPackage:
    """What a release package and a record package say of themselves."""
    return {
        "uri": uri,
        "version": "1.1",
        "extensions": OCDS_EXTENSIONS,
        "publishedDate": releases[-1]["date"],
        "publisher": {"name": "Provision marketplace"},
    }


async def ocds_record(ctx: Context, conn: Connection, exercise_id: int, *, base_url: str) -> OcdsPackage:
    """The notice's OCDS record package: one record holding every release (embedded, oldest first, as `ocds` gives
    them) and the compiled release, the releases merged as OCDS merges them (`compile_releases`)."""
    releases = await _releases(ctx, conn, exercise_id, base_url=base_url)
    base = base_url.rstrip("/")
    return {
        **_package(f"{base}/exercises/{exercise_id}/ocds/record", releases),
        "packages": [f"{base}/exercises/{exercise_id}/ocds"],
        "records": [{"ocid": releases[0]["ocid"], "releases": releases, "compiledRelease": compile_releases(releases)}],
    }


def _merged(earlier: object, later: object) -> object:
    """OCDS's merge of one field: objects field by field; an array of objects that all have an `id`, object by id
    (new ids appended); anything else, the later value whole."""
    if isinstance(earlier, dict) and isinstance(later, dict):
        out = dict(earlier)
        for k, v in later.items():
            out[k] = _merged(out[k], v) if k in out else v
        return out
    if (
        isinstance(earlier, list)
        and isinstance(later, list)
        and all(isinstance(x, dict) and "id" in x for x in [*earlier, *later])
    ):
        by_id: dict[object, object] = {x["id"]: x for x in earlier}
        for x in later:
            by_id[x["id"]] = _merged(by_id[x["id"]], x) if x["id"] in by_id else x
        return list(by_id.values())
    return later


def compile_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release of `releases` (oldest first): merged in date order, without the fields OCDS leaves out
    when merging (`id`, `date`, `tag`), then tagged `compiled`, dated by the newest and named by its ocid and that
    date, as OCDS's reference merge (ocdsmerge) names it."""
    compiled: dict[str, Any] = {}
    for release in releases:
        fields = {k: v for k, v in release.items() if k not in ("id", "date", "tag")}
        compiled = cast(dict[str, Any], _merged(compiled, fields))
    date = releases[-1]["date"]
    return {
        "ocid": compiled.pop("ocid"),
        "id": f"{releases[-1]['ocid']}-{date}",
        "date": date,
        "tag": ["compiled"],
        **compiled,
    }


async def _releases(ctx: Context, conn: Connection, exercise_id: int, *, base_url: str) -> list[dict[str, Any]]:
    """Every release of the published notice, oldest first (`release_steps`), read in one snapshot."""
    async with read_only(conn):
        exercise, publication = await _published(conn, exercise_id)
        revised_at = await exercises.notice_revised_at(conn, exercise_id)
        revisions = await queries.notice_revisions(conn, exercise_id) if revised_at is not None else []
    assert exercise.opens_on is not None and exercise.closes_on is not None
    ocid = f"{ctx.settings.ocid_prefix}-{exercise.id}"
    steps = release_steps(ocid, publication.published_at, exercise.closes_on, revisions, revised_at, ctx.clock.now())
    return [
        _release(ctx, exercise, publication, ocid, step, first=i == 0, base_url=base_url)
        for i, step in enumerate(steps)
    ]


def _release(
    ctx: Context, exercise: Exercise, publication: Publication, ocid: str, step: _Step, *, first: bool, base_url: str
) -> dict[str, Any]:
    """The release made at `step`: what the notice showed then (all of it fixed at publishing, but the closing date)."""
    names, cpv = ctx.taxonomy.codes("areas"), cpv_table()
    buyer = {"id": f"{ocid}-buyer", "name": exercise.commissioning_body}
    visibility = publication.budget_visibility
    due = deadline_of(step.closes_on)
    items = []
    for n in exercise.needs:
        entry = cpv.get(n.pathway)
        item: dict[str, object] = {
            "id": str(n.id),
            "description": n.title,
            "quantity": n.annual_volume,
            "unit": {"name": "service user a year"},
            "deliveryLocations": [{"description": names.get(a, a), "uri": GSS_URI + a} for a in n.areas],
        }
        if entry is not None:
            item["classification"] = {"scheme": "CPV", "id": entry.cpv.partition("-")[0], "description": entry.name}
        shown = budget_shown(n, visibility)
        if visibility == "shown" and shown.per_service_user is not None:
            item["unit"] = {"name": "service user a year", "value": _gbp(n.annual_budget / n.annual_volume)}
        items.append(item)
    tender: dict[str, object] = {
        "id": f"{ocid}-tender",
        "title": exercise.title,
        "description": exercise.description or exercise.title,
        "status": "planning",
        "items": items,
    }
    if exercise.needs:  # the term the value is over (the longest need's contract: each need's value is its own term's)
        tender["contractPeriod"] = {"durationInDays": round(max(n.contract_years for n in exercise.needs) * 365)}
    if visibility != "hidden":  # the estimated whole-contract value: each need's annual budget over its years
        shown_needs = [budget_shown(n, visibility) for n in exercise.needs]
        if visibility == "shown":
            tender["value"] = _gbp(sum(n.annual_budget * n.contract_years for n in exercise.needs))
        else:
            tender["minValue"] = _gbp(
                sum((b.minimum or 0) * n.contract_years for b, n in zip(shown_needs, exercise.needs, strict=True))
            )
            tender["value"] = _gbp(
                sum((b.maximum or 0) * n.contract_years for b, n in zip(shown_needs, exercise.needs, strict=True))
            )
    if step.amendments:
        tender["amendments"] = list(step.amendments)
    return {
        "ocid": ocid,
        "id": _release_id(ocid, step.at),
        "date": iso_utc(step.at),
        "tag": ["planning"] if first else ["planningUpdate"],
        "initiationType": "tender",
        "language": "en",
        "parties": [{**buyer, "roles": ["buyer"]}],
        "buyer": buyer,
        "planning": {
            **({"rationale": exercise.description} if exercise.description else {}),
            "milestones": [
                {
                    "id": "engagement",
                    "title": "Preliminary market engagement: responses due",
                    "type": "engagement",
                    "dueDate": due.isoformat(),
                    "status": "scheduled" if step.at < due else "met",
                }
            ],
            "documents": [
                {
                    "id": f"{ocid}-uk2",
                    "documentType": "marketEngagementNotice",
                    "noticeType": "UK2",
                    "title": f"Preliminary market engagement notice: {exercise.title}",
                    "url": f"{base_url.rstrip('/')}/exercises/{exercise.id}/notice",
                    "datePublished": iso_utc(publication.published_at),
                    "format": "application/json",
                    "language": "en",
                }
            ],
        },
        "tender": tender,
    }


# --- the sample -------------------------------------------------------------------------------------

SAMPLE_BARRIERS: tuple[tuple[Barrier, ...], ...] = (
    ("payment_by_results",),
    ("contract_size", "tupe"),
    ("geography",),
    (),
    ("insurance", "timescale"),
)


async def load_samples(ctx: Context, conn: Connection, sample: SampleEngagement) -> None:
    """The sample exercise published, with its questions, a clarification answered and responses from the first
    `respondents_per_need` providers whose active services fit each need (the others stay silent), all through the
    use cases above with the clock set inside the engagement window. Only into a database with no publication yet
    (inside the caller's transaction)."""
    exercise_id = await queries.sample_exercise_id(conn, sample.exercise_title)
    if exercise_id is None or await queries.any_publication(conn):
        return
    exercise = await exercises.get_exercise(conn, exercise_id)
    if exercise.opens_on is None or exercise.closes_on is None:
        return

    opening = exercise.opens_on

    def at(days: int, hour: int) -> Context:
        moment = dt.datetime.combine(opening + dt.timedelta(days=days), dt.time(hour), tzinfo=LOCAL_ZONE)
        return dataclasses.replace(ctx, clock=FixedClock(moment))

    system = Actor.seed("sample market engagement")
    for q in sample.questions:
        await add_question(conn, system, exercise_id, q)
    await publish(
        at(sample.published_days_after_opening, 9),
        conn,
        system,
        exercise_id,
        etag(exercise.version),
        PublishIn(budget_visibility=sample.budget_visibility),
    )
    questions = await queries.fetch_questions(conn, exercise_id)
    by_provider: dict[int, list[NeedResponse]] = {}
    k = 0
    for need in exercise.needs:
        fitting: dict[int, list[asyncpg.Record]] = {}
        for s in await queries.pathway_services(conn, need.pathway):
            if _overlaps(ctx.taxonomy, list(s["areas"]), need.areas):
                fitting.setdefault(s["provider_id"], []).append(s)
        for provider_id, services in list(fitting.items())[: sample.respondents_per_need]:
            areas = covered_areas(ctx.taxonomy, services[0]["areas"], need.areas)
            per_user = need.annual_budget / need.annual_volume
            cost = (
                services[0]["cost"]
                if services[0]["cost_unit"] == "per_service_user"
                else per_user * (0.85 + 0.1 * (k % 4))
            )
            by_provider.setdefault(provider_id, []).append(
                NeedResponse(
                    need_id=need.id,
                    intent=("lead", "partner", "either")[k % 3],
                    service_ids=[s["id"] for s in services],
                    capacity=[
                        AreaCapacity(
                            area=a, service_users_per_year=max(5, (services[0]["capacity"] or 20) // len(areas))
                        )
                        for a in areas
                    ],
                    unit_cost=round(cost),
                    partners=[Partner(name="Local youth work network")] if k % 3 == 0 else [],
                    barriers=list(SAMPLE_BARRIERS[k % len(SAMPLE_BARRIERS)]),
                    barriers_text="Mobilisation in under three months would be hard." if k % 4 == 1 else "",
                )
            )
            k += 1
    for n, (provider_id, needs) in enumerate(by_provider.items()):
        provider = msgspec.structs.replace(system, caller=Caller(role="system", provider_id=provider_id, name="seed"))
        await _write_revision(
            at(sample.responses_days_after_opening, 10 + n % 8),
            conn,
            provider,
            exercise_id,
            provider_id,
            None,
            ResponseIn(needs=needs, answers=_sample_answers(questions, n)),
            first=True,
        )
    asker = next(iter(by_provider), None)
    for c in sample.clarifications if asker is not None else []:
        provider = msgspec.structs.replace(system, caller=Caller(role="system", provider_id=asker, name="seed"))
        asked = await ask(at(3, 11), conn, provider, exercise_id, ClarificationIn(question=c.question))
        await answer(
            at(5, 15),
            conn,
            system,
            exercise_id,
            asked.id,
            AnswerIn(answer=c.answer, published_question=c.published_question),
        )


def _sample_answers(questions: list[Question], n: int) -> list[Answer]:
    out = []
    for q in questions:
        value: str | bool | float | list[str]
        if q.kind == "text":
            value = "We have delivered similar services for young people in West Mercia for several years."
        elif q.kind == "yes_no":
            value = n % 3 != 2
        elif q.kind == "number":
            value = float(4 + n % 9)
        elif q.kind == "single_choice":
            value = q.choices[n % len(q.choices)]
        else:
            value = q.choices[: 1 + n % len(q.choices)]
        out.append(Answer(question_id=q.id, value=value))
    return out
