"""The arithmetic of an options appraisal (pure: plain values in, plain values out; no I/O, no clock).

Conventions (stated once, here; the README and the report's method repeat them):

- **Weights** are relative: non-negative, not all zero, normalised to shares summing to 1.
- **Scores** are on each criterion's own scale (0-5 or 0-10) and normalised to 0-1 by dividing by the scale's top.
  The score an option takes on a criterion is the moderated (agreed) score when there is one, else the mean of the
  assessors' scores. An option missing a score on a criterion with a weight above 0 has no weighted score and is
  neither ranked nor preferred (the appraisal lists what is missing).
- **Weighted score** of an option: the sum over criteria of share x normalised score, 0-1.
- **Ranking**: highest weighted score first; ties (within `TIE`) by the lower net present cost (unknown costs last),
  then by the options' order in the appraisal.
- **Net present cost** (HM Treasury Green Book): contract year 1 is year 0, "now", undiscounted; contract year y is
  discounted by 1 / (1 + r)^(y - 1). Default r = 3.5 %.
- **Affordability**: an option is affordable when its net present cost is at most the present value of the budget
  (the annual budget in every contract year, discounted the same way). Without a budget affordability is not assessed.
  Each contract year whose cost is above the annual budget is flagged too (`years_over_budget`), without changing
  affordability: a one-off set-up cost can put year 1 over while the term is affordable.
- **Preferred option**: the highest-ranked option among those known to be affordable when there is a budget (an
  option with no costs entered is not known to be affordable, so it is not preferred: choosing it needs reasons, as
  choosing an over-budget one does), else the highest-ranked option.
- **Weight sensitivity** for a criterion: its share t is varied from 0 to 1 with the other criteria's shares rescaled
  in proportion (their ratios kept; equivalently, its raw weight varied with the others' raw weights fixed). The
  range [low, high] around its share is where the preferred option still scores at least as high as every other
  option competing with it (with a budget, the options known to be affordable: weights never change affordability);
  at a reported switching point the preferred option and the named other option tie, and beyond it the other scores
  higher. A rival that only ties with it at 0 or 1 switches there when the ranking's tie-breaks put it first (the
  range then ends at 0 or 1 with that rival named), as the ranking at that weight would have it.
- **Cost switch** (only with a budget): costs are not a scored criterion here (financial viability is scored by the
  assessors), so costs decide the preferred option through affordability alone. `increase`: the rise in the
  preferred option's net present cost beyond which it is no longer affordable (its headroom), and the option then
  preferred. `decrease`: the smallest fall in the net present cost of an option ranked above the preferred one
  but over budget that would make it affordable, and so preferred. Options with no costs entered ranked above the
  preferred one are counted in the note: costs, not a fall in them, would decide whether they are affordable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from marketplace.appraisals.models import CostSwitch, OptionResult, Spread, WeightRange
from marketplace.formatting import plural

GREEN_BOOK_RATE = 0.035
"""HM Treasury Green Book social time preference rate for the first 30 years."""
TIE = 1e-12
"""Weighted scores closer than this are a tie (decided by the tie-breaks)."""
EDGE = 1e-9
"""A rival overtaking only within this of 0 (going down) or of 1 (going up) never switches: they tie at the end."""


class AppraisalError(ValueError):
    """Inputs the arithmetic cannot use; `field` names the input."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    weight: float
    scale_max: int = 5


@dataclass(frozen=True, slots=True)
class Score:
    option: str
    criterion: str
    assessor: str
    score: float


@dataclass(frozen=True, slots=True)
class Moderated:
    option: str
    criterion: str
    score: float


@dataclass(frozen=True, slots=True)
class CostLine:
    option: str
    year: int
    category: str
    amount: float


@dataclass(frozen=True, slots=True)
class Inputs:
    options: Sequence[str]
    criteria: Sequence[Criterion]
    scores: Sequence[Score] = ()
    moderated: Sequence[Moderated] = ()
    costs: Sequence[CostLine] = ()
    years: int = 3
    discount_rate: float = GREEN_BOOK_RATE
    annual_budget: float | None = None


@dataclass(frozen=True, slots=True)
class Result:
    shares: dict[str, float]
    spreads: list[Spread]
    options: list[OptionResult]
    ranking: list[str]
    """Options with a weighted score, best first."""
    preferred: str | None
    budget_present_value: float | None
    cost_switch: CostSwitch
    sensitivity: list[WeightRange] = field(default_factory=list)


# --- the pieces ---------------------------------------------------------------------------------------


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Shares summing to 1. Weights must be finite and non-negative, and not all zero."""
    for key, w in weights.items():
        if not math.isfinite(w) or w < 0:
            raise AppraisalError(f"criteria.{key}.weight", "must be a non-negative number")
    total = math.fsum(weights.values())
    if total <= 0:
        raise AppraisalError("criteria", "the weights are all zero: give at least one criterion a weight above 0")
    return {key: w / total for key, w in weights.items()}


def discount_factor(year: int, rate: float) -> float:
    """Contract year `year` (1 = now, undiscounted) at `rate`: 1 / (1 + rate)^(year - 1)."""
    if year < 1:
        raise AppraisalError("year", "contract years start at 1")
    if rate <= -1:
        raise AppraisalError("discount_rate", "must be above -100 %")
    return float(1.0 / (1.0 + rate) ** (year - 1))


def net_present_cost(lines: Sequence[tuple[int, float]], rate: float) -> float:
    """The sum of (year, amount) lines, each discounted to year 1."""
    return math.fsum(amount * discount_factor(year, rate) for year, amount in lines)


def budget_present_value(annual_budget: float, years: int, rate: float) -> float:
    """The annual budget in each of `years` contract years, discounted as costs are."""
    return net_present_cost([(y, annual_budget) for y in range(1, years + 1)], rate)


def years_over(annual_costs: Sequence[float], annual_budget: float | None, costed: bool = True) -> list[int]:
    """The contract years (1 = the first) in which the cost is above the annual budget (none without a budget, or
    when the option has no costs entered, `costed` False). Affordability is judged on the term's present value, so a
    one-off year-1 cost spread over the term can be affordable while year 1 alone is over: this says which years are."""
    if annual_budget is None or not costed:
        return []
    return [y for y, cost in enumerate(annual_costs, start=1) if cost > annual_budget]


def normalise_score(score: float, scale_max: int) -> float:
    if not 0 <= score <= scale_max:
        raise AppraisalError("score", f"must be between 0 and {scale_max}")
    return score / scale_max


def weighted_score(values: Mapping[str, float], shares: Mapping[str, float]) -> float:
    """Sum of share x normalised score over the criteria (every criterion with a share must have a value)."""
    return math.fsum(shares[c] * values[c] for c in shares if shares[c] > 0)


def spreads(inputs: Inputs) -> list[Spread]:
    """The assessors' scores of each option on each criterion that has scores or a moderated score (on the
    criterion's scale), in option then criterion order."""
    by_cell: dict[tuple[str, str], list[float]] = {}
    for s in inputs.scores:
        by_cell.setdefault((s.option, s.criterion), []).append(s.score)
    agreed = {(m.option, m.criterion): m.score for m in inputs.moderated}
    out = []
    for o in inputs.options:
        for c in inputs.criteria:
            given, mod = by_cell.get((o, c.key), []), agreed.get((o, c.key))
            if not given and mod is None:
                continue
            mean = math.fsum(given) / len(given) if given else float(mod or 0.0)
            low = min(given) if given else float(mod or 0.0)
            high = max(given) if given else float(mod or 0.0)
            out.append(
                Spread(
                    option=o,
                    criterion=c.key,
                    assessors=len(given),
                    low=low,
                    high=high,
                    mean=mean,
                    range=high - low,
                    moderated=mod,
                    used=mod if mod is not None else mean,
                )
            )
    return out


def rank(totals: Mapping[str, float], npc: Mapping[str, float | None], order: Sequence[str]) -> list[str]:
    """Options (those in `totals`) best first: weighted score, then lower net present cost
    (unknown last), then the order given. Scores within TIE of the best of a group count as equal."""
    pos = {o: k for k, o in enumerate(order)}
    keys = [o for o in order if o in totals]

    def key(o: str) -> tuple[float, float, int]:
        cost = npc.get(o)
        return (-totals[o], math.inf if cost is None else cost, pos[o])

    ordered = sorted(keys, key=key)
    # fold near-ties: stable re-sort of each run of scores within TIE of its first by the tie-breaks
    out: list[str] = []
    i = 0
    while i < len(ordered):
        j = i + 1
        while j < len(ordered) and totals[ordered[i]] - totals[ordered[j]] <= TIE:
            j += 1
        out.extend(sorted(ordered[i:j], key=lambda o: key(o)[1:]))
        i = j
    return out


def preferred_of(ranking: Sequence[str], affordable: Mapping[str, bool | None] | None) -> str | None:
    """The first ranked option known to be affordable (`affordable` True); without a budget (`affordable` None),
    the first ranked option. An option whose costs are unknown (None) is not known to be affordable."""
    if affordable is None:
        return ranking[0] if ranking else None
    return next((o for o in ranking if affordable.get(o) is True), None)


# --- sensitivity ---------------------------------------------------------------------------------------


def shares_at(shares: Mapping[str, float], criterion: str, t: float) -> dict[str, float]:
    """The shares with `criterion`'s set to t and the others rescaled in proportion (equally if all were 0)."""
    rest = 1.0 - shares[criterion]
    others = [c for c in shares if c != criterion]
    out = {}
    for c in shares:
        if c == criterion:
            out[c] = t
        elif rest > 0:
            out[c] = shares[c] * (1.0 - t) / rest
        else:
            out[c] = (1.0 - t) / len(others)
    return out


def weight_range(
    values: Mapping[str, Mapping[str, float]],
    shares: Mapping[str, float],
    raw: Mapping[str, float],
    criterion: str,
    preferred: str,
    rivals: Sequence[str],
    ahead_on_ties: Callable[[str], bool] = lambda _: False,
) -> WeightRange:
    """How far `criterion`'s share can move, the others rescaled in proportion, before a rival outscores
    `preferred`. Every score along the way is linear in the share t: S_o(t) = b_o + t (a_o - b_o), with a_o the
    option's score on the criterion and b_o its score on the others at their rescaled shares. A rival that only
    ties with it at an end (0 or 1) takes its place there when `ahead_on_ties` says the ranking's tie-breaks put it
    first (a lower net present cost): then the range ends at that end with that rival named, as the ranking at that
    weight would have it."""
    share = shares[criterion]
    at_one = shares_at(shares, criterion, 0.0)  # the others' shares when the criterion has none

    def line(o: str) -> tuple[float, float]:
        a = values[o].get(criterion, 0.0)
        b = math.fsum(at_one[c] * values[o].get(c, 0.0) for c in shares if c != criterion)
        return b, a - b

    bp, mp = line(preferred)
    below: list[tuple[float, float, str]] = []  # (root, steepness, rival): the rival wins below the root
    above: list[tuple[float, float, str]] = []  # ... above the root
    for o in rivals:
        if o == preferred:
            continue
        bo, mo = line(o)
        c0, c1 = bp - bo, mp - mo  # preferred minus rival: D(t) = c0 + c1 t
        if abs(c1) <= TIE:  # parallel: the rival never crosses
            continue
        root = -c0 / c1
        # a rival that would win only below 0 or above 1 (crossing past that end) never switches; one tying at the
        # end switches there only if the tie-breaks put it first
        if c1 > 0 and (root > EDGE or (root > -EDGE and ahead_on_ties(o))):
            below.append((root if root > EDGE else 0.0, c1, o))
        elif c1 < 0 and (root < 1 - EDGE or (root < 1 + EDGE and ahead_on_ties(o))):
            above.append((root if root < 1 - EDGE else 1.0, -c1, o))
    low = min(max([0.0, *(r for r, _, _ in below)]), share)
    high = max(min([1.0, *(r for r, _, _ in above)]), share)
    low_to = max(((s, o) for r, s, o in below if r >= low - TIE), default=None)
    high_to = max(((s, o) for r, s, o in above if r <= high + TIE), default=None)
    rest = math.fsum(w for c, w in raw.items() if c != criterion)

    def as_raw(t: float) -> float | None:
        if t >= 1.0:
            return None if rest > 0 else raw[criterion]
        return t * rest / (1.0 - t) if rest > 0 else None

    return WeightRange(
        criterion=criterion,
        share=share,
        low=low,
        high=high,
        low_switches_to=low_to[1] if low_to is not None else None,
        high_switches_to=high_to[1] if high_to is not None else None,
        low_weight=as_raw(low),
        high_weight=as_raw(high),
    )


def _no_switch(note: str) -> CostSwitch:
    return CostSwitch(increase=None, increase_switches_to=None, decrease=None, decrease_option=None, note=note)


def cost_switch(
    results: Mapping[str, OptionResult], ranking: Sequence[str], preferred: str | None, budget_pv: float | None
) -> CostSwitch:
    if budget_pv is None:
        return _no_switch("no budget: costs do not decide the preferred option")
    if not ranking:
        return _no_switch("no option has a weighted score yet")
    stop = ranking.index(preferred) if preferred is not None else len(ranking)
    above = ranking[:stop]  # every ranked option when none is preferred
    uncosted = [o for o in above if results[o].headroom is None]
    if preferred is None:
        # no option is known to be affordable: how far the highest-scoring costed one's cost must fall to be so
        costed = [o for o in ranking if results[o].headroom is not None]
        top = costed[0] if costed else None
        if not uncosted:
            note = "no option is affordable within the budget"
        elif costed:
            note = (
                f"no option is known to be affordable within the budget: {plural(len(uncosted), 'scored option')} "
                f"{_have(len(uncosted))} no costs entered"
            )
        else:
            note = "no scored option has costs entered, so none is known to be affordable within the budget"
        over = results[top].headroom if top is not None else None
        return CostSwitch(
            increase=None,
            increase_switches_to=None,
            decrease=-over if over is not None else None,
            decrease_option=top if over is not None else None,
            note=note,
        )
    p = results[preferred]
    assert p.headroom is not None  # preferred with a budget: known to be affordable
    after = [o for o in ranking if o != preferred]
    next_option = preferred_of(after, {o: results[o].affordable for o in after})
    decreases = [(-h, o) for o in above if (h := results[o].headroom) is not None]
    decrease, option = min(decreases) if decreases else (None, None)
    note = (
        f"{plural(len(uncosted), 'option')} scoring higher than the preferred option {_have(len(uncosted))} no costs "
        f"entered, so {'it is' if len(uncosted) == 1 else 'they are'} not known to be affordable"
        if uncosted
        else ""
    )
    return CostSwitch(
        increase=p.headroom, increase_switches_to=next_option, decrease=decrease, decrease_option=option, note=note
    )


def _have(n: int) -> str:
    return "has" if n == 1 else "have"


# --- the whole appraisal -------------------------------------------------------------------------------


def appraise(inputs: Inputs) -> Result:
    """Every figure of the appraisal from its inputs."""
    if inputs.years < 1:
        raise AppraisalError("years", "at least 1")
    raw = {c.key: c.weight for c in inputs.criteria}
    shares = normalise_weights(raw)
    scales = {c.key: c.scale_max for c in inputs.criteria}
    cells = spreads(inputs)
    values: dict[str, dict[str, float]] = {o: {} for o in inputs.options}
    for s in cells:
        values[s.option][s.criterion] = normalise_score(s.used, scales[s.criterion])
    budget_pv = (
        budget_present_value(inputs.annual_budget, inputs.years, inputs.discount_rate)
        if inputs.annual_budget is not None
        else None
    )
    results: dict[str, OptionResult] = {}
    for o in inputs.options:
        lines = [c for c in inputs.costs if c.option == o]
        annual = [0.0] * inputs.years
        by_category: dict[str, float] = {}
        for c in lines:
            if not 1 <= c.year <= inputs.years:
                raise AppraisalError("costs.year", f"must be between 1 and {inputs.years}")
            annual[c.year - 1] += c.amount
            by_category[c.category] = by_category.get(c.category, 0.0) + c.amount
        npc = net_present_cost([(c.year, c.amount) for c in lines], inputs.discount_rate) if lines else None
        missing = [c for c in shares if shares[c] > 0 and c not in values[o]]
        headroom = budget_pv - npc if budget_pv is not None and npc is not None else None
        results[o] = OptionResult(
            option=o,
            label=o,  # the key: the service names the option
            rank=None,  # set once every option is scored
            values=values[o],
            contributions={c: shares[c] * v for c, v in values[o].items()},
            weighted_score=None if missing else weighted_score(values[o], shares),
            missing=missing,
            annual_costs=annual,
            costs_by_category=by_category,
            net_present_cost=npc,
            affordable=None if headroom is None else headroom >= 0,
            headroom=headroom,
            years_over_budget=years_over(annual, inputs.annual_budget, costed=bool(lines)),
        )
    totals = {o: r.weighted_score for o, r in results.items() if r.weighted_score is not None}
    npcs = {o: r.net_present_cost for o, r in results.items()}
    ranking = rank(totals, npcs, inputs.options)
    for k, o in enumerate(ranking):
        results[o].rank = k + 1
    affordable = {o: r.affordable for o, r in results.items()} if budget_pv is not None else None
    preferred = preferred_of(ranking, affordable)
    sensitivity = []
    if preferred is not None:
        rivals = [o for o in ranking if affordable is None or affordable[o] is True]
        first = {o: k for k, o in enumerate(rank(dict.fromkeys(ranking, 0.0), npcs, inputs.options))}

        def ahead(o: str) -> bool:  # ranked before the preferred option when their scores tie
            return first[o] < first[preferred]

        sensitivity = [weight_range(values, shares, raw, c, preferred, rivals, ahead) for c in shares]
    return Result(
        shares=shares,
        spreads=cells,
        options=list(results.values()),
        ranking=ranking,
        preferred=preferred,
        budget_present_value=budget_pv,
        sensitivity=sensitivity,
        cost_switch=cost_switch(results, ranking, preferred, budget_pv),
    )
