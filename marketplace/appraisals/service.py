"""Options appraisals: use cases (the API and the command line call these).

An appraisal's inputs are validated as a whole on every change (a sub-resource replaced by PUT is checked against
the rest) and written under the appraisal's one version (If-Match). The figures come from the pure arithmetic in
`marketplace.appraisals.calc`. The market evidence is drawn from the exercise's market report (stored match runs
only: `reports.service.make_report`). The decision freezes the appraisal: its row, with every input, the results
and the market evidence as they were, can no longer change (schema/0016: a trigger refuses it); the market report it
read is frozen with it, and the appraisal's report reads that from then on (`report_data`)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Hashable, Sequence
from typing import Any

import msgspec

from marketplace import audit
from marketplace.appraisals import calc, queries
from marketplace.appraisals.models import (
    GOES_TO_MARKET,
    MODEL_LABELS,
    Appraisal,
    AppraisalIn,
    AppraisalPage,
    AppraisalPatch,
    AppraisalReport,
    AppraisalSummary,
    Decision,
    DecisionIn,
    MarketEvidence,
    MarketSource,
    NeedEvidence,
    OptionIn,
    OptionMarket,
    Results,
    SeedAppraisal,
)
from marketplace.appraisals.render import departure, engagement_open_note
from marketplace.concurrency import check_if_match, require_if_match
from marketplace.context import Context
from marketplace.db import Connection, Pool, pooled
from marketplace.engagement.models import NeedMarketResponse
from marketplace.errors import Conflict, FieldProblem, NotFound, Unprocessable
from marketplace.exercises import service as exercises
from marketplace.formatting import and_list, closing_day, date, plural, uk_when
from marketplace.reports import service as reports
from marketplace.reports.models import LIMITED_MARKET, NO_MARKET, Report
from marketplace.types import Actor, project

THRESHOLD = 0.6
"""The market report's suitability threshold the evidence is read at (the report's default)."""
METHOD = [
    "Weights are relative (non-negative, not all zero) and normalised to shares summing to 1.",
    "Scores are on each criterion's scale (0-5 or 0-10), normalised to 0-1; an option's score on a criterion is the "
    "moderated (agreed) score when there is one, else the mean of the assessors' scores.",
    "Weighted score = sum of share x normalised score (0-1). Ranking: highest first; ties by lower net present cost, "
    "then the options' order.",
    "Net present cost (HM Treasury Green Book): contract year 1 is now, undiscounted; year y is discounted by "
    "1/(1+r)^(y-1).",
    "Affordable: net present cost at most the budget's present value (the annual budget each year, discounted the "
    "same way). Each contract year whose cost is above the annual budget is flagged as well (affordability is "
    "judged over the term, so a one-off cost can put one year over while the term is within the budget).",
    "The preferred option is the top weighted score among the options known to be affordable: an option with no "
    "costs entered is not known to be affordable, so it is not preferred, and choosing it needs reasons, as choosing "
    "an over-budget one does. Without a budget, the preferred option is the top weighted score.",
    "Weight sensitivity: one criterion's share moves from 0 to 1, the others rescaled in proportion (the same as "
    "changing its raw weight alone); the range is where the preferred option still scores at least as high as "
    "every other option known to be affordable (without a budget, every other option), and the switching points "
    "name the option that overtakes it beyond them.",
    "Cost switch (with a budget): the rise in the preferred option's net present cost beyond which it is "
    "unaffordable, and the fall in a higher-scoring but unaffordable option's net present cost that would make it "
    "affordable and so preferred. Costs are not a scored criterion: they act through affordability only.",
]


# --- validation --------------------------------------------------------------------------------------


def _same_person(name: str) -> str:
    """An assessor's name as names are compared: "Ann", "ann" and "Ann " are one assessor, not three."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def _repeats(keys: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Each repeated key as (where it was first, where it is again): the positions in `keys`, every repeat named."""
    first: dict[Hashable, int] = {}
    out = []
    for j, key in enumerate(keys):
        if key in first:
            out.append((first[key], j))
        else:
            first[key] = j
    return out


async def check(conn: Connection, a: AppraisalIn) -> None:
    """Every rule the schema cannot state, across all the parts; 422 naming each field."""
    problems: list[FieldProblem] = []

    def bad(field: str, problem: str, allowed: list[str] | None = None) -> None:
        problems.append(FieldProblem(field=field, problem=problem, allowed=allowed))

    need_ids: set[int] = set()
    if a.exercise_id is not None:
        try:
            exercise = await exercises.get_exercise(conn, a.exercise_id)
        except NotFound:
            bad("exercise_id", f"no exercise {a.exercise_id}")
        else:
            need_ids = {n.id for n in exercise.needs}
    options = [o.key for o in a.options]
    criteria = {c.key: c for c in a.criteria}
    for i, j in _repeats(options):
        bad(f"options[{j}].key", f"the key {options[j]!r} is already used by options[{i}]")
    for i, j in _repeats([c.key for c in a.criteria]):
        bad(f"criteria[{j}].key", f"the key {a.criteria[j].key!r} is already used by criteria[{i}]")
    for i, o in enumerate(a.options):
        if o.model == "hosted" and not o.partner:
            bad(f"options[{i}].partner", "a hosted option names its partner organisation")
        if o.model == "custom" and not o.label:
            bad(f"options[{i}].label", "a custom option needs a label")
        if o.need_ids is not None:
            if a.exercise_id is None:
                bad(f"options[{i}].need_ids", "the appraisal belongs to no exercise")
            elif not o.need_ids:
                bad(
                    f"options[{i}].need_ids",
                    "name at least one of the exercise's needs, or leave it out for all of them",
                )
            for j, n in enumerate(o.need_ids):
                if a.exercise_id is not None and n not in need_ids:
                    bad(f"options[{i}].need_ids[{j}]", f"need {n} is not one of the exercise's needs")
    for i, c in enumerate(a.criteria):
        if c.anchors and len(c.anchors) != c.scale + 1:
            bad(f"criteria[{i}].anchors", f"one description per level: {c.scale + 1} for a 0-{c.scale} scale")
    if not any(c.weight > 0 for c in a.criteria):
        bad("criteria", "the weights are all zero: give at least one criterion a weight above 0")

    def refs(part: str, i: int, option: str, criterion: str | None, score: float | None) -> None:
        if option not in options:
            bad(f"{part}[{i}].option", f"no option {option!r}", sorted(options))
        if criterion is not None:
            found = criteria.get(criterion)
            if found is None:
                bad(f"{part}[{i}].criterion", f"no criterion {criterion!r}", sorted(criteria))
            elif score is not None and score > found.scale:
                bad(f"{part}[{i}].score", f"{found.name} is scored from 0 to {found.scale}")

    for i, s in enumerate(a.scores):
        refs("scores", i, s.option, s.criterion, s.score)
    for i, j in _repeats([(s.option, s.criterion, _same_person(s.assessor)) for s in a.scores]):
        first, again = a.scores[i], a.scores[j]
        written = "" if first.assessor == again.assessor else f", written {first.assessor!r} there"
        bad(
            f"scores[{j}]",
            f"{again.assessor} has already scored {again.option} on {again.criterion} in scores[{i}]{written} "
            "(an assessor's name is compared ignoring case and spaces)",
        )
    for i, m in enumerate(a.moderation):
        refs("moderation", i, m.option, m.criterion, m.score)
    for i, j in _repeats([(m.option, m.criterion) for m in a.moderation]):
        m = a.moderation[j]
        bad(f"moderation[{j}]", f"{m.option} on {m.criterion} already has a moderated score in moderation[{i}]")
    for i, line in enumerate(a.costs):
        refs("costs", i, line.option, None, None)
        if line.year > a.years:
            bad(f"costs[{i}].year", f"the appraisal runs for {plural(a.years, 'contract year')}")
    if problems:
        raise Unprocessable.from_problems(problems)


# --- results -----------------------------------------------------------------------------------------


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def label_of(o: OptionIn) -> str:
    return o.label or (f"Hosted by {o.partner}" if o.model == "hosted" and o.partner else MODEL_LABELS[o.model])


def results_of(a: Appraisal | AppraisalIn) -> Results:
    """The appraisal's figures (calc.AppraisalError, e.g. all weights zero, when there are none)."""
    inputs = calc.Inputs(
        options=[o.key for o in a.options],
        criteria=[calc.Criterion(c.key, c.weight, c.scale) for c in a.criteria],
        scores=[calc.Score(s.option, s.criterion, s.assessor, s.score) for s in a.scores],
        moderated=[calc.Moderated(m.option, m.criterion, m.score) for m in a.moderation],
        costs=[calc.CostLine(c.option, c.year, c.category, c.amount) for c in a.costs],
        years=a.years,
        discount_rate=a.discount_rate,
        annual_budget=a.annual_budget,
    )
    r = calc.appraise(inputs)
    labels = {o.key: label_of(o) for o in a.options}
    return Results(
        shares={k: round(v, 6) for k, v in r.shares.items()},
        options=[
            msgspec.structs.replace(
                o,
                label=labels[o.option],
                weighted_score=_r(o.weighted_score),
                contributions={k: round(v, 6) for k, v in o.contributions.items()},
                values={k: round(v, 6) for k, v in o.values.items()},
                annual_costs=[round(x, 2) for x in o.annual_costs],
                costs_by_category={k: round(v, 2) for k, v in o.costs_by_category.items()},
                net_present_cost=_r(o.net_present_cost, 2),
                headroom=_r(o.headroom, 2),
            )
            for o in r.options
        ],
        ranking=r.ranking,
        top=r.ranking[0] if r.ranking else None,
        preferred=r.preferred,
        budget_present_value=_r(r.budget_present_value, 2),
        spreads=[msgspec.structs.replace(s, mean=round(s.mean, 6), used=round(s.used, 6)) for s in r.spreads],
        sensitivity=[
            msgspec.structs.replace(
                w,
                share=round(w.share, 6),
                low=round(w.low, 6),
                high=round(w.high, 6),
                low_weight=_r(w.low_weight),
                high_weight=_r(w.high_weight),
            )
            for w in r.sensitivity
        ],
        cost_switch=msgspec.structs.replace(
            r.cost_switch, increase=_r(r.cost_switch.increase, 2), decrease=_r(r.cost_switch.decrease, 2)
        ),
        method=METHOD,
    )


def with_results(a: Appraisal) -> Appraisal:
    if a.decision is not None:
        return msgspec.structs.replace(a, results=_years_over(a.decision.results, a.annual_budget))
    try:
        return msgspec.structs.replace(a, results=results_of(a))
    except calc.AppraisalError as exc:
        return msgspec.structs.replace(a, problems=[str(exc)])


def _years_over(res: Results, annual_budget: int | None) -> Results:
    """Results as decided with each option's years over the annual budget, derived from the costs per year stored
    with them (a decision stored before the flag was kept has none; the same figures give the same years)."""
    options = [
        msgspec.structs.replace(
            o, years_over_budget=calc.years_over(o.annual_costs, annual_budget, o.net_present_cost is not None)
        )
        for o in res.options
    ]
    return msgspec.structs.replace(res, options=options)


# --- market evidence ---------------------------------------------------------------------------------


def market_evidence(a: Appraisal, report: Report) -> MarketEvidence:
    """The exercise's figures per need (from its market report), and per option the needs it would buy and which
    of them have no market (flagged) or a limited one. When the exercise was published for market engagement, each
    need also carries what providers answered (the report's market-response section): the interested responses,
    intent to bid (lead, partner or either), those that answered not interested, the indicative unit-cost range and
    the declared consortia."""
    answered = {n.need_id: n for n in report.market_response.needs} if report.market_response else {}
    needs = [
        _with_responses(
            NeedEvidence(
                need_id=n.need_id,
                title=n.title,
                pathway=n.pathway,
                pathway_name=n.pathway_name,
                annual_budget=n.annual_budget,
                match_run_id=n.match_run_id,
                suitable=n.suitable,
                verdict=n.verdict,
                hhi=n.market.hhi,
                largest_share=n.market.largest_share,
                concentration=n.market.band,
                stale=n.stale_run is not None,
            ),
            answered.get(n.need_id),
        )
        for n in report.needs
    ]
    verdicts = {n.need_id: n.verdict for n in needs}
    not_matched = [n.need_id for n in report.freshness.not_matched] if report.freshness else []
    all_needs = sorted([n.need_id for n in needs] + not_matched)  # every need, matched yet or not
    options = []
    for o in a.options:
        to_market = o.goes_to_market if o.goes_to_market is not None else GOES_TO_MARKET[o.model]
        bought = o.need_ids if o.need_ids is not None else all_needs
        options.append(
            OptionMarket(
                option=o.key,
                goes_to_market=to_market,
                need_ids=list(bought),
                no_market_need_ids=[n for n in bought if to_market and verdicts.get(n) == NO_MARKET],
                limited_market_need_ids=[n for n in bought if to_market and verdicts.get(n) == LIMITED_MARKET],
            )
        )
    return MarketEvidence(
        exercise_id=report.exercise.id,
        exercise_title=report.exercise.title,
        generated_at=report.generated_at,
        match_run_ids=report.method.match_run_ids,
        not_matched_need_ids=not_matched,
        needs=needs,
        options=options,
        engagement="attached" if report.market_response is not None else "not available",
    )


def _with_responses(need: NeedEvidence, answered: NeedMarketResponse | None) -> NeedEvidence:
    """A need's evidence with what providers answered in market engagement, when they were asked."""
    if answered is None:
        return need
    return msgspec.structs.replace(
        need,
        responses=answered.responses,
        intending_to_bid=sum(answered.intent.get(k, 0) for k in ("lead", "partner", "either")),
        indicative_cost_low=answered.costs.minimum,
        indicative_cost_high=answered.costs.maximum,
        consortia=[c.in_words for c in answered.consortia],
        not_interested=answered.not_interested,
    )


async def evidence_for(ctx: Context, db: Pool, a: Appraisal) -> MarketEvidence | None:
    """The market evidence of the appraisal's exercise now (None when it stands alone): its market report, made
    from stored runs only, with the market-engagement responses when the exercise was published."""
    if a.exercise_id is None:
        return None
    report = await reports.make_report(ctx, db, a.exercise_id, threshold=THRESHOLD)
    return market_evidence(a, report)


# --- use cases -----------------------------------------------------------------------------------------


async def get_appraisal(conn: Connection, appraisal_id: int) -> Appraisal:
    found = await queries.fetch(conn, appraisal_id)
    if found is None:
        raise NotFound(f"appraisal {appraisal_id} not found")
    return with_results(found)


async def list_appraisals(conn: Connection, *, page: int, per_page: int) -> AppraisalPage:
    total, items = await queries.list_page(conn, limit=per_page, offset=(page - 1) * per_page)
    return AppraisalPage(total=total, page=page, per_page=per_page, items=items)


async def list_for_exercise(conn: Connection, exercise_id: int) -> list[AppraisalSummary]:
    await exercises.get_exercise(conn, exercise_id)
    return await queries.list_for_exercise(conn, exercise_id)


async def create_appraisal(
    ctx: Context, conn: Connection, actor: Actor, data: AppraisalIn, *, exercise_id: int | None = None
) -> Appraisal:
    """A new appraisal (`exercise_id`: from the path, which the body may repeat but not contradict), made at the app's
    clock's time."""
    return await _create(conn, actor, data, at=ctx.clock.now(), exercise_id=exercise_id)


async def _create(
    conn: Connection,
    actor: Actor,
    data: AppraisalIn,
    *,
    at: dt.datetime,
    exercise_id: int | None = None,
    is_sample: bool = False,
) -> Appraisal:
    if exercise_id is not None:
        await exercises.get_exercise(conn, exercise_id)  # 404
        if data.exercise_id not in (None, exercise_id):
            raise Unprocessable.field("exercise_id", f"the path names exercise {exercise_id}")
        data = msgspec.structs.replace(data, exercise_id=exercise_id)
    await check(conn, data)
    async with conn.transaction():
        appraisal_id = await queries.insert(conn, data, created_by=actor.caller.key_id, at=at, is_sample=is_sample)
        await audit.record(conn, actor, status=201, detail=f"created appraisal {appraisal_id}")
        return await get_appraisal(conn, appraisal_id)


async def _locked(conn: Connection, appraisal_id: int, if_match: str | None, decided: str) -> None:
    """Lock the appraisal's row in the caller's transaction: 404 when there is none, 409 (the appraisal `decided`)
    once it is decided, 412 when `if_match` does not name its version."""
    row = await queries.lock(conn, appraisal_id)
    if row is None:
        raise NotFound(f"appraisal {appraisal_id} not found")
    if row["decided_at"] is not None:
        raise Conflict(f"appraisal {appraisal_id} {decided}")
    check_if_match(if_match, row["version"])


FROZEN = "is decided and frozen: it can no longer change"
ALREADY_DECIDED = "is already decided"


async def refuse_once_decided(db: Pool, appraisal_id: int, decided: str) -> None:
    """409 (the appraisal `decided`) when the appraisal is decided, before anything else about the request is read:
    a decided appraisal refuses every change, whatever its body or headers (routes' guard `frozen_first`). The change
    itself checks again under its lock (`_locked`): decided meanwhile, it is refused there."""
    async with pooled(db) as conn:
        decided_already = await queries.is_decided(conn, appraisal_id)
    if decided_already:
        raise Conflict(f"appraisal {appraisal_id} {decided}")


async def _change(
    ctx: Context,
    conn: Connection,
    actor: Actor,
    appraisal_id: int,
    if_match: str | None,
    what: str,
    changes: dict[str, Any],
) -> Appraisal:
    """The one shape of a change: lock the row; 404, 409 once decided, 412 on a stale version; apply `changes` to
    the inputs, check them all together, write, audit, and return the appraisal as it now is. A change that changes
    nothing writes nothing: the appraisal as it is, its version (and ETag) unmoved, no audit row."""
    require_if_match(if_match)
    async with conn.transaction():
        await _locked(conn, appraisal_id, if_match, FROZEN)
        current = await queries.fetch(conn, appraisal_id)
        assert current is not None
        before = project(current, AppraisalIn)
        updated = msgspec.structs.replace(before, **changes)
        await check(conn, updated)
        if msgspec.to_builtins(updated) == msgspec.to_builtins(before):
            return with_results(current)
        await queries.update(conn, appraisal_id, updated, at=ctx.clock.now())
        await audit.record(conn, actor, status=200, detail=f"updated appraisal {appraisal_id}: {what}")
        return await get_appraisal(conn, appraisal_id)


async def update_appraisal(
    ctx: Context, conn: Connection, actor: Actor, appraisal_id: int, if_match: str | None, patch: AppraisalPatch
) -> Appraisal:
    changes = {f: v for f in patch.__struct_fields__ if (v := getattr(patch, f)) is not msgspec.UNSET}
    return await _change(ctx, conn, actor, appraisal_id, if_match, ", ".join(changes) or "nothing", changes)


async def replace_part(
    ctx: Context, conn: Connection, actor: Actor, appraisal_id: int, if_match: str | None, part: str, value: list[Any]
) -> Appraisal:
    """Replace one sub-resource (options, criteria, scores, moderation, costs) whole."""
    assert part in queries.PARTS
    return await _change(ctx, conn, actor, appraisal_id, if_match, part, {part: value})


async def decide(
    ctx: Context, db: Pool, actor: Actor, appraisal_id: int, if_match: str | None, data: DecisionIn
) -> Appraisal:
    """Record the board's decision and freeze the appraisal. The chosen option must have a weighted score; reasons
    are required (`REASONS_RULE`) when it is not the preferred one (over budget, not costed, or not the top weighted
    score among the options known to be affordable; without a budget, not the top), the 422 saying which and by how
    much, and when the exercise's market engagement is still open (the decision records its deadline). With an
    exercise, the market evidence is drawn as it is now, a market report is frozen (when every need has a stored
    run) and both are cited with the match runs."""
    require_if_match(if_match)
    async with pooled(db) as conn:
        current = await get_appraisal(conn, appraisal_id)
    if current.decision is not None:
        raise Conflict(f"appraisal {appraisal_id} {ALREADY_DECIDED}")
    check_if_match(if_match, current.version)
    results = current.results
    if results is None or not results.ranking:
        problem = "; ".join(current.problems) or "no option has a score on every weighted criterion yet"
        raise Unprocessable.field("scores", f"nothing to decide between: {problem}")
    if data.option not in results.ranking:
        keys = [o.key for o in current.options]
        problem = (
            "not an option"
            if data.option not in keys
            else "is not yet scored on every weighted criterion: score it on each before choosing it"
        )
        raise Unprocessable.field("option", problem, allowed=results.ranking)
    market, report_id, prepared, open_until = None, None, None, None
    if current.exercise_id is None:
        _check_reasons(results, data, "reasons")
    else:
        report = await reports.make_report(ctx, db, current.exercise_id, threshold=THRESHOLD)
        open_until = engagement_open_until(report, ctx.clock.now())
        _check_reasons(results, data, "reasons", open_until=open_until, today=ctx.clock.today())
        if report.needs and reports.complete(report):  # frozen: the evidence stored is the report frozen with it
            prepared = await reports.prepare(db, report)
            report_id = prepared.report_id
            report = prepared.report
        market = msgspec.structs.replace(market_evidence(current, report), market_report_id=report_id)
    decision = Decision(
        option=data.option,
        decided_by=data.decided_by,
        reasons=data.reasons,
        decided_at=ctx.clock.now(),
        top=results.top,
        preferred=results.preferred,
        results=results,
        market=market,
        market_report_id=report_id,
        match_run_ids=market.match_run_ids if market is not None else [],
        engagement_open_until=open_until,
        recorded_by_key=actor.caller.key_id,
        recorded_by_name=actor.caller.name,
    )
    async with pooled(db) as conn, conn.transaction():  # refused here (decided meanwhile, changed): nothing stored
        await _locked(conn, appraisal_id, if_match, ALREADY_DECIDED)
        if prepared is not None:
            await reports.store_frozen(conn, actor, prepared)
        await _record_decision(conn, actor, appraisal_id, decision)
        return await get_appraisal(conn, appraisal_id)


async def _record_decision(conn: Connection, actor: Actor, appraisal_id: int, decision: Decision) -> None:
    """Store the decision, which freezes the appraisal, and audit it (in the caller's transaction): the API's
    decisions and the seeded sample's alike."""
    await queries.decide(conn, appraisal_id, decision)
    await audit.record(conn, actor, status=201, detail=f"decided appraisal {appraisal_id}: {decision.option} (frozen)")


REASONS_WORDS = 3
REASONS_CHARACTERS = 15
REASONS_RULE = (
    f"at least {REASONS_WORDS} words and {REASONS_CHARACTERS} characters, e.g. a board minute reference "
    '("YJMB minute 2027/14") or a sentence saying why'
)
"""What reasons must hold when they are required: a placeholder ("x", "n/a", "tbc") is refused."""


def substantial(reasons: str) -> bool:
    """Whether `reasons` meet `REASONS_RULE`: words are runs of letters or digits; characters are counted with runs
    of spaces as one, the ends trimmed."""
    return len(re.findall(r"\w+", reasons)) >= REASONS_WORDS and len(" ".join(reasons.split())) >= REASONS_CHARACTERS


def engagement_open_until(report: Report, now: dt.datetime) -> dt.datetime | None:
    """The exercise's response deadline when it was published for market engagement and the deadline is still to
    come at `now` (the app's clock), else None."""
    mr = report.market_response
    if mr is None or not mr.published or mr.deadline is None or now >= mr.deadline:
        return None
    return mr.deadline


def _check_reasons(
    results: Results,
    data: DecisionIn,
    field: str,
    *,
    open_until: dt.datetime | None = None,
    today: dt.date | None = None,
) -> None:
    """Reasons are required (422 naming `field`, saying why) when the option chosen is not the preferred one (over
    budget, not costed, or affordable but not the top weighted score among the options known to be affordable), and
    when the decision is taken while the market engagement is still open (`open_until`, its deadline; `today`, the
    app's clock's date). Required reasons must meet `REASONS_RULE`."""
    needed = []
    against = departure(results, data.option, {o.option: o.label for o in results.options})  # named as set
    if against is not None:
        needed.append(against)
    if open_until is not None:
        day = f" (today, {date(today)})" if today is not None else ""
        needed.append(
            f"the market engagement closes at the end of {date(closing_day(open_until))}, UK time, and any response "
            f"made or changed after this decision{day} will not be in the evidence frozen with it"
        )
    if not needed:
        return
    why = "; and ".join(needed)
    say = (
        "say why"
        if open_until is None
        else ("say why the decision cannot wait" if against is None else "say why, and why the decision cannot wait")
    )
    if not data.reasons.strip():
        raise Unprocessable.field(field, f"required: {why}; {say}")
    if not substantial(data.reasons):
        raise Unprocessable.field(field, f"too short to say why: give {REASONS_RULE}. Required because {why}")


async def report_data(ctx: Context, db: Pool, appraisal_id: int) -> AppraisalReport:
    """The appraisal with its results and the market evidence. Once decided, only what was frozen with the decision:
    the market report it froze (read back as stored), else the evidence it stored, else none (the seeded sample,
    decided before anything was matched); dated when it was decided, so the report never changes. Before the
    decision, the exercise's stored match runs now."""
    async with pooled(db) as conn:
        a = await get_appraisal(conn, appraisal_id)
        if a.decision is not None:
            return await _as_decided(conn, a, a.decision)
    market = await evidence_for(ctx, db, a)
    now = ctx.clock.now()
    if market is None:
        note = "This appraisal stands alone: no exercise, so no market evidence."
    else:
        note = (
            f"Market evidence drawn from the exercise's stored match runs now ({uk_when(market.generated_at)}): the "
            "appraisal is not decided, so it follows the exercise's runs and responses until the decision freezes it."
        )
    return AppraisalReport(
        appraisal=a,
        market=market,
        market_as_decided=False,
        generated_at=now,
        market_source="live" if market is not None else "none",
        market_note=note,
    )


async def _as_decided(conn: Connection, a: Appraisal, d: Decision) -> AppraisalReport:
    """A decided appraisal's report: what was frozen with the decision, nothing read from the runs or responses as
    they are now."""
    frozen = f"as frozen with the decision on {uk_when(d.decided_at)}"
    market: MarketEvidence | None
    source: MarketSource
    if d.market_report_id is not None:
        report = await reports.frozen_report(conn, d.market_report_id)
        market = msgspec.structs.replace(market_evidence(a, report), market_report_id=d.market_report_id)
        source = "frozen_report"
        runs = and_list([str(i) for i in market.match_run_ids])
        note = f"Market evidence {frozen}: frozen market report {d.market_report_id} (match runs {runs})."
    elif d.market is not None:
        market, source = d.market, "decision"
        missing = d.market.not_matched_need_ids
        why = (
            f"need{'s' if len(missing) > 1 else ''} {and_list([str(i) for i in missing])} had no stored match run"
            if missing
            else "the exercise had no need to report on"
        )
        note = f"Market evidence {frozen}, stored with the decision (no market report could be frozen: {why})."
    else:
        market, source = None, "none"
        note = (
            f"No market evidence was frozen with the decision on {uk_when(d.decided_at)}: none was stored then, so "
            "none is shown (the exercise's runs and responses since are not what the board decided on)."
            if a.exercise_id is not None
            else "This appraisal stands alone: no exercise, so no market evidence."
        )
    if d.engagement_open_until is not None:
        note = f"{note} {engagement_open_note(d.engagement_open_until, d.decided_at)}"
    return AppraisalReport(
        appraisal=a,
        market=market,
        market_as_decided=True,
        generated_at=d.decided_at,
        market_source=source,
        market_note=note,
    )


async def load_samples(conn: Connection, items: list[SeedAppraisal], *, at: dt.datetime) -> list[int]:
    """Sample appraisals on the seeded exercises (by title), made `at`, when there are no appraisals yet (inside the
    caller's transaction); decided ones frozen. The seed runs before anything is matched, so a sample's decision
    stores no market evidence, and its report shows none (it shows only what was frozen with the decision)."""
    if await queries.any_appraisal(conn):
        return []
    actor = Actor.seed("sample options appraisal")
    made = []
    for item in items:
        exercise_id = await conn.fetchval("select id from exercise where title = $1", item.exercise)
        if exercise_id is None:
            continue
        a = await _create(conn, actor, item.appraisal, at=at, exercise_id=exercise_id, is_sample=True)
        if item.decision is not None:
            results = results_of(a)
            if item.decision.option not in results.ranking:
                raise Unprocessable.field("decision.option", "not a ranked option of the sample appraisal")
            _check_reasons(results, item.decision, "decision.reasons")
            decision = Decision(
                option=item.decision.option,
                decided_by=item.decision.decided_by,
                reasons=item.decision.reasons,
                decided_at=a.created_at,
                top=results.top,
                preferred=results.preferred,
                results=results,
                market=None,
                market_report_id=None,
                match_run_ids=[],
            )
            await _record_decision(conn, actor, a.id, decision)
        made.append(a.id)
    return made
