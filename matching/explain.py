"""Human-readable evidence for the candidates shown in a ranking: one evidence function per criterion.

The functions are listed, with each criterion's name, default weight and score function, in the
registry (:mod:`matching.criteria`); each is given its own criterion's column.

Numbers come from the vectorised score columns (so explanations always agree
with the ranking); this module only adds the words: which services, which cohorts,
which areas, which accreditations, which priority matched which snippet. Which
services qualified is read from the ranking's screening (service rows), and their
words from the candidate's own services with those ids.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import Columns
from .errors import MatchingError
from .models import Candidate, OutcomeRecord, Service
from .needs import CompiledNeed
from .priorities import PriorityReader
from .scoring import CAPACITY, PATHWAY_BASE, SELF_DECLARED_FACTOR, UNKNOWN_CAPACITY, UNKNOWN_FINANCE, CriterionColumn
from .text import counted, shorten
from .thesaurus import EMPTY_THESAURUS, Thesaurus
from .vocab import GENDERS, age_phrase, pathway_label, pathway_name

_MAX_LISTED = 8

STRENGTH_MIN_SCORE: Final = 0.7
"""A weighted criterion scoring at least this (out of 1) is a strength of the candidate."""
WEAKNESS_BELOW: Final = 0.4
"""A weighted criterion scoring below this (out of 1) is a weakness; between the two, neither."""


@dataclass(frozen=True, slots=True, eq=False)
class EvidenceContext:
    cols: Columns
    """The columns of the pool ranked."""
    cn: CompiledNeed
    inside: npt.NDArray[np.bool_]
    """Area nodes inside the need's areas."""
    as_of: date
    social_value_accreditations: Set[str]
    pathway_names: Mapping[str, str] | None
    qualifying: npt.NDArray[np.int64]
    """The qualifying service rows of the ranking (ascending, so grouped by candidate)."""
    touching: npt.NDArray[np.bool_]
    """Whether each of ``qualifying`` covers (some of) one of the need's areas."""
    qualifying_owner: npt.NDArray[np.signedinteger[Any]]
    """The candidate row of each of ``qualifying`` (ascending)."""
    thesaurus: Thesaurus = EMPTY_THESAURUS
    """Equivalent terms used in matching local priorities."""
    need_people: npt.NDArray[np.float64] | None = None
    """Per area node: the people of the need's areas it covers (:meth:`AreaTree.people_in`); computed on first use."""
    memo: dict[str, str | None] = field(default_factory=dict)
    """Normalised form of each word seen while explaining this ranking (see ``text.word_forms``)."""
    covered: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    """Each explained row's :func:`covered_leaves`, found once per explanation."""
    services: dict[int, list[tuple[Service, bool, int]]] = field(default_factory=dict)
    """Each explained row's qualifying services (see :func:`qualifying`), found once per explanation."""
    reader: PriorityReader | None = None
    """The need's priorities, read for each explained candidate (see :meth:`priority_reader`)."""
    need_words: NeedWords | None = None
    """What every explained candidate's words repeat about the need (see :meth:`words`)."""
    rows: dict[int, tuple[list[int], list[bool]]] = field(default_factory=dict)
    """Each explained row's :meth:`rows_of`, found once per explanation."""
    premises: dict[int, list[str]] = field(default_factory=dict)
    """Each explained row's premises in the need's areas (see :func:`_premises_labels`), found once per explanation."""
    # Found once per explanation too: fields not copied by ``dataclasses.replace`` (``init=False``), so each copy of
    # the context made for an explanation starts them empty.
    lists: dict[int, tuple[npt.NDArray[np.float64], list[float]]] = field(init=False, default_factory=dict)
    """An array's id -> (the array, kept so that the id stays its own; its values as a list), see :meth:`floats`."""
    known_lists: dict[int, tuple[npt.NDArray[np.float64], list[float | None]]] = field(init=False, default_factory=dict)
    """As :attr:`lists`, for :meth:`known`."""
    named: dict[int, tuple[CriterionColumn, dict[str, list[float]], dict[str, list[float]]]] = field(
        init=False, default_factory=dict
    )
    """A criterion column's id -> (the column; its components' scores and raw values by name), see :meth:`scores`."""
    parts: dict[int, tuple[CriterionColumn, list[tuple[Any, ...]]]] = field(init=False, default_factory=dict)
    """A criterion column's id -> (the column; at each position, its components as the ranking states them: see
    ``ranking._components``)."""
    accreditations: dict[int, tuple[list[tuple[str, list[Service], bool]], int]] = field(
        init=False, default_factory=dict
    )
    """Each explained row's :func:`quality_accreditations`."""
    shares: dict[int, tuple[float, float, float]] = field(init=False, default_factory=dict)
    """Each service row's :func:`service_share`."""
    covering: dict[tuple[int, ...], tuple[tuple[str, ...], tuple[str, ...]]] = field(init=False, default_factory=dict)
    """:func:`_covered` of each set of area nodes seen (providers often cover the same areas)."""
    reach: dict[tuple[int, ...], str] = field(init=False, default_factory=dict)
    """What a service covering each set of area nodes seen covers of the need's areas, in words (:func:`coverage`)."""

    def people_inside(self) -> npt.NDArray[np.float64]:
        """:attr:`need_people`, computed once."""
        people = self.need_people
        if people is None:
            people = self.cols.areas.people_in(self.cn.area_nodes)
            object.__setattr__(self, "need_people", people)
        return people

    def priority_reader(self) -> PriorityReader:
        """:attr:`reader`, made on first use (sharing :attr:`memo`)."""
        reader = self.reader
        if reader is None:
            reader = PriorityReader(self.cn.priorities, self.thesaurus, self.memo)
            object.__setattr__(self, "reader", reader)
        return reader

    def words(self) -> NeedWords:
        """:attr:`need_words`, found on first use."""
        words = self.need_words
        if words is None:
            words = _need_words(self)
            object.__setattr__(self, "need_words", words)
        return words

    def floats(self, values: npt.NDArray[np.float64]) -> list[float]:
        """``values`` (a column of the scored candidates) as Python floats, converted once per explanation: a list
        item is cheaper to read, and to format, than a numpy scalar (and formats the same)."""
        known = self.lists.get(id(values))
        if known is None:  # as float(values[j]) reads them, whatever the array's dtype
            known = self.lists[id(values)] = (values, np.asarray(values, dtype=np.float64).tolist())
        return known[1]

    def known(self, values: npt.NDArray[np.float64]) -> list[float | None]:
        """:meth:`floats` with ``None`` for the values that are not finite (:func:`finite_or_none`)."""
        known = self.known_lists.get(id(values))
        if known is None:
            objects = np.asarray(values, dtype=np.float64).astype(object)
            objects[~np.isfinite(values)] = None
            known = self.known_lists[id(values)] = (values, objects.tolist())
        return known[1]

    def scores(self, col: CriterionColumn) -> dict[str, list[float]]:
        """Each component of ``col`` by name -> its scores (:meth:`floats`): one look-up for an evidence function's
        every component."""
        return self._named(col)[1]

    def raws(self, col: CriterionColumn) -> dict[str, list[float]]:
        """As :meth:`scores`, for the components' raw values."""
        return self._named(col)[2]

    def _named(self, col: CriterionColumn) -> tuple[CriterionColumn, dict[str, list[float]], dict[str, list[float]]]:
        known = self.named.get(id(col))
        if known is None:
            scores = {c.name: self.floats(c.score) for c in col.components}
            known = self.named[id(col)] = (col, scores, {c.name: self.floats(c.raw) for c in col.components})
        return known

    def rows_of(self, i: int) -> tuple[list[int], list[bool]]:
        """Candidate ``i``'s qualifying service rows and whether each covers one of the need's areas."""
        known = self.rows.get(i)
        if known is None:
            owner = self.qualifying_owner  # searched for keys of its own dtype (else numpy converts all of it)
            lo, hi = np.searchsorted(owner, np.array((i, i + 1), dtype=owner.dtype)).tolist()
            known = self.rows[i] = (self.qualifying[lo:hi].tolist(), self.touching[lo:hi].tolist())
        return known


@dataclass(frozen=True, slots=True)
class NeedWords:
    """What the explanation of every candidate says or reads about the need, found once per explanation."""

    pathway_label: str
    """The need's pathway, as :func:`~matching.vocab.pathway_label` shows it."""
    pathway_name: str
    """The need's pathway's name, lower-cased, for summaries."""
    whom: str
    """:func:`_whom`."""
    people_note: str
    """:func:`people_note` of the area tree."""
    need_leaves: int
    """Local areas in the need's areas."""
    as_of: str
    """The assessment date, ISO."""
    contract: str
    """The contract's value in words (:func:`financial_viability`)."""
    volume: str
    """The need's annual volume, as the capacity criterion's words show it."""
    offered: str
    """What :func:`pathway_fit`'s first line says after the services, the same for every candidate."""
    inside: frozenset[int]
    """Area nodes inside the need's areas (:attr:`EvidenceContext.inside`)."""
    people: list[float]
    """Per area node: its people (:attr:`AreaTree.people`)."""
    people_inside: list[float]
    """Per area node: the people of the need's areas it covers (:meth:`EvidenceContext.people_inside`)."""


def _need_words(ctx: EvidenceContext) -> NeedWords:
    need, tree = ctx.cn.need, ctx.cols.areas
    return NeedWords(
        pathway_label=pathway_label(need.pathway, ctx.pathway_names),
        pathway_name=(pathway_name(need.pathway, ctx.pathway_names) or need.pathway).lower(),
        whom=_whom(ctx),
        people_note=people_note(tree),
        need_leaves=sum(int(tree.leaf_counts[a]) for a in ctx.cn.area_nodes),
        as_of=ctx.as_of.isoformat(),
        contract=(
            f"annual contract value {_money(need.annual_budget)} "
            f"({_money(need.annual_budget * need.contract_years)} over {_how_many(need.contract_years, 'year')})"
        ),
        volume=f"{need.annual_volume:,.0f}",
        offered=f" (earns the fixed {PATHWAY_BASE:g} share of this criterion){_s(1.0)}",
        inside=frozenset(np.flatnonzero(ctx.inside).tolist()),
        people=tree.people.tolist(),
        people_inside=ctx.people_inside().tolist(),
    )


def qualifying(ctx: EvidenceContext, c: Candidate, i: int) -> list[tuple[Service, bool, int]]:
    """Candidate ``c`` (row ``i``)'s qualifying services for the need, in their order: (service, whether it
    covers one of the need's areas, its row), found among ``c``'s own services by the ids of the rows.

    Raises :class:`MatchingError` when ``c`` lacks one (the details do not describe the pool's row).
    """
    known = ctx.services.get(i)
    if known is not None:
        return known
    rows, touching = ctx.rows_of(i)
    by_id = {s.service_id: s for s in c.services or ()}
    out: list[tuple[Service, bool, int]] = []
    for row, touches in zip(rows, touching, strict=True):
        found = by_id.get(int(ctx.cols.services.service_id[row]))
        if found is None:
            raise MatchingError(f"the details given for provider {c.provider_id} do not describe the pool's row")
        out.append((found, touches, row))
    ctx.services[i] = out
    return out


def service_label(s: Service) -> str:
    return f'"{s.name}"' if s.name else f"service {s.service_id}"


def _services_listing(services: list[Service]) -> str:
    return _listing([service_label(s) for s in services])


def _listing(values: list[str]) -> str:
    if len(values) <= _MAX_LISTED:
        return ", ".join(values)
    return ", ".join(values[:_MAX_LISTED]) + f" and {len(values) - _MAX_LISTED} more"


def _s(x: float) -> str:
    return f" -> {x:.2f}"


def _money(x: float) -> str:
    return f"£{x:,.0f}"


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _antichain(ctx: EvidenceContext, nodes: set[int]) -> list[int]:
    """Area nodes, ascending, with the nodes inside another dropped."""
    sizes = ctx.cols.areas.sizes
    out: list[int] = []
    for nd in sorted(nodes):
        if out and nd < out[-1] + int(sizes[out[-1]]):
            continue
        out.append(nd)
    return out


def covered_leaves(ctx: EvidenceContext, i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(leaf codes within the need's areas covered by candidate ``i``'s qualifying services together, one
    evidence line per need area)."""
    known = ctx.covered.get(i)
    if known is None:
        rows, _ = ctx.rows_of(i)
        nodes = tuple(_antichain(ctx, {nd for r in rows for nd in ctx.cols.services.areas.of(r)}))
        known = ctx.covering.get(nodes)
        if known is None:
            known = ctx.covering[nodes] = _covered(ctx, nodes)
        ctx.covered[i] = known
    return known


def _people(x: float) -> str:
    return f"{x:,.0f} people"


def people_note(tree: AreaTree) -> str:
    """Where the population figures come from, to end a sentence (``""`` when unnamed)."""
    if not tree.has_population:
        return "; no population figures were given, so each local area counts the same"
    return f"; population: {tree.population_source}" if tree.population_source else ""


def _covered(ctx: EvidenceContext, nodes: Sequence[int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(covered leaf codes within the need's areas, one evidence line per need area) of an antichain of nodes."""
    tree = ctx.cols.areas
    people = ctx.words().people

    def who(x: float) -> str:
        return f", {_people(x)}" if tree.has_population else ""

    covered: set[int] = set()
    lines: list[str] = []
    for a in ctx.cn.area_nodes:
        code = tree.code(a)
        total = int(tree.leaf_counts[a])
        whole = float(people[a])
        via = [nd for nd in nodes if tree.within_index(a, nd)]
        if via:
            leaves = tree.leaf_indices_under(a)
            covered.update(leaves)
            how = "directly" if via[0] == a else f"via {tree.label(tree.code(via[0]))}"
            lines.append(f"{tree.label(code)}: fully covered {how} ({total} of {total} local areas{who(whole)})")
            continue
        leaves_here: list[int] = []
        for nd in nodes:
            if tree.within_index(nd, a):
                leaves_here.extend(tree.leaf_indices_under(nd))
        covered.update(leaves_here)
        k = len(leaves_here)
        mine = float(sum(float(people[x]) for x in leaves_here))
        if k == total:
            lines.append(f"{tree.label(code)}: fully covered ({total} of {total} local areas{who(whole)})")
        elif k:
            names = [tree.label(tree.code(x)) for x in sorted(leaves_here)]
            counted = f", {mine:,.0f} of {_people(whole)}" if tree.has_population else ""
            lines.append(f"{tree.label(code)}: {k} of {total} local areas covered{counted} ({_listing(names)})")
        else:
            lines.append(f"{tree.label(code)}: not covered")
    return tuple(map(tree.codes.__getitem__, sorted(covered))), tuple(lines)


# -- one evidence function per criterion (the registry, matching.criteria, names them) -------------
# Each gets its own criterion's column (``col``), the candidate, its row ``i`` in the pool and its
# position ``j`` among the scored candidates.


def _whom(ctx: EvidenceContext) -> str:
    """The need's people, when it says (``"women, ages 18 to 25"``), else ``""``."""
    cn, need = ctx.cn, ctx.cn.need
    parts = ([GENDERS[cn.gender]] if cn.gender else []) + [age_phrase(need.min_age, need.max_age)]
    return ", ".join(p for p in parts if p)


def ages_served(
    min_age: float | None, max_age: float | None, services: Sequence[Service]
) -> tuple[tuple[float | None, float | None], ...] | None:
    """The parts of the need's age range (``min_age`` to ``max_age``, an open end ``None``) that ``services`` serve
    together, in order, when that is less than all of it; ``None`` when they serve all of it (or the need states no
    ages). Ages are whole years: services for 10 to 15 and 16 to 17 together serve 10 to 17. Screening already keeps
    only services overlapping the need's range, so a qualifying service serves at least one age of it."""
    if min_age is None and max_age is None:
        return None
    lo, hi = -math.inf if min_age is None else min_age, math.inf if max_age is None else max_age
    parts: list[list[float]] = []
    for a, b in sorted(
        (max(lo, -math.inf if s.min_age is None else s.min_age), min(hi, math.inf if s.max_age is None else s.max_age))
        for s in services
    ):
        if a > b:
            continue
        if parts and a <= parts[-1][1] + 1:
            parts[-1][1] = max(parts[-1][1], b)
        else:
            parts.append([a, b])
    if parts == [[lo, hi]]:
        return None
    return tuple((None if math.isinf(a) else a, None if math.isinf(b) else b) for a, b in parts)


def ages_listing(parts: Sequence[tuple[float | None, float | None]]) -> str:
    """``"ages 16 to 17"``, ``"ages 10 to 12 and 16 to 17"``: the parts :func:`ages_served` gives, in words."""
    return "ages " + " and ".join(age_phrase(a, b, "").strip() for a, b in parts) if parts else "none of its ages"


def _part_of_the_ages(ctx: EvidenceContext, services: Sequence[Service]) -> str:
    """``""`` when ``services`` serve every age of the need's range, else what they serve of it, in words."""
    need = ctx.cn.need
    parts = ages_served(need.min_age, need.max_age, services)
    return "" if parts is None else ages_listing(parts)


def pathway_fit(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    need, cn = ctx.cn.need, ctx.cn
    services = [s for s, _, _ in qualifying(ctx, c, i)]
    whom = ctx.words().whom
    part = _part_of_the_ages(ctx, services)
    serving = (
        f" serving only some of the need's people ({whom}): those of {part}"
        if part
        else f" serving the need's people ({whom})"
        if whom
        else ""
    )
    out = [
        f"offers {ctx.words().pathway_label} through {counted(len(services), 'service')}{serving}"
        + f": {_services_listing(services)}{ctx.words().offered}"
    ]
    overlap = ctx.scores(col)["cohort_overlap"][j]
    if cn.cohort_count:
        by: dict[str, list[Service]] = {code: [s for s in services if code in (s.cohorts or ())] for code in cn.cohorts}
        served = [f"{code} ({_services_listing(by[code])})" for code in cn.cohorts if by[code]]
        missing = tuple(code for code in cn.cohorts if not by[code])
        text = (
            f"serves {len(served)} of {cn.cohort_count} need cohorts in {need.pathway}: {', '.join(served) or 'none'}"
        )
        if missing:
            text += f"; not served: {', '.join(missing)}"
        out.append(text + f" ({1 - PATHWAY_BASE:g} share){_s(overlap)}")
    else:
        out.append("the need names no cohorts, so cohort fit is full" + _s(overlap))
    return tuple(out)


def coverage(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    _, lines = covered_leaves(ctx, i)
    share = ctx.floats(col.score)[j]
    tree = ctx.cols.areas
    whole = ctx.cn.coverage_whole
    if ctx.cn.need.area_volumes is not None:
        first = (
            f"its services together reach {share:.0%} of the need's expected service users "
            f"({share * whole:,.0f} of {whole:,.0f} a year, by the need's own volumes per area){_s(share)}"
        )
    else:
        first = (
            f"its services together reach {share:.0%} of the people in the need's areas "
            f"({share * whole:,.0f} of {_people(whole)}{ctx.words().people_note}){_s(share)}"
            if tree.has_population
            else f"its services together reach {share:.0%} of the need's local areas "
            f"({share * whole:,.0f} of {whole:,.0f}{ctx.words().people_note}){_s(share)}"
        )
    out = [first, *lines]
    areas = ctx.cols.services.areas
    for s, touches, row in qualifying(ctx, c, i):
        what = _reach(ctx, tuple(areas.of(row))) if touches else "none of the need's areas"
        out.append(f"service {service_label(s)} covers {what}")
    return tuple(out)


def _reach(ctx: EvidenceContext, nodes: tuple[int, ...]) -> str:
    """What a service covering the area ``nodes`` covers of the need's areas, in words; found once per explanation
    for each set of nodes."""
    known = ctx.reach.get(nodes)
    if known is None:
        tree, inside, leaves = ctx.cols.areas, ctx.words().inside, ctx.words().need_leaves
        mine = sorted({x for nd in nodes for x in tree.leaf_indices_under(nd) if x in inside})
        known = ctx.reach[nodes] = (
            f"{len(mine)} of the need's {counted(leaves, 'local area')}: "
            + _listing([tree.label(tree.code(x)) for x in mine])
            if mine
            else "none of the need's areas"
        )
    return known


def service_share(ctx: EvidenceContext, row: int) -> tuple[float, float, float]:
    """(people of service row ``row``'s areas in the need's areas, people of all its areas, share), found once per
    explanation."""
    known = ctx.shares.get(row)
    if known is None:
        nodes = ctx.cols.services.areas.of(row)
        inside, people = ctx.words().people_inside, ctx.words().people
        mine = float(sum(inside[nd] for nd in nodes))
        whole = float(sum(people[nd] for nd in nodes))
        known = ctx.shares[row] = (mine, whole, (min(mine / whole, 1.0) if whole > 0 else 0.0))
    return known


def capacity(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    vol = ctx.cn.need.annual_volume
    score = ctx.floats(col.score)[j]
    services = qualifying(ctx, c, i)
    counted = [(s, row) for s, touches, row in services if touches]
    elsewhere = [s for s, touches, _ in services if not touches]
    stated: list[str] = []
    shared: list[str] = []
    for s, row in counted:
        if s.capacity is None:
            continue
        mine, whole, share = service_share(ctx, row)
        if share < 1.0:
            stated.append(f"{service_label(s)} {s.capacity * share:,.0f} of its {s.capacity:,.0f}")
            shared.append(
                f"{service_label(s)} covers more areas than the need, so its capacity of {s.capacity:,.0f} a year is "
                f"shared across them: {share:.0%} of the people it covers live in the need's areas "
                f"({_people(mine)} of {_people(whole)}), so {s.capacity * share:,.0f} a year are counted for this need"
            )
        else:
            stated.append(f"{service_label(s)} {s.capacity:,.0f}")
    unstated = [service_label(s) for s, _ in counted if s.capacity is None]
    notes = []
    partly = [
        f"{service_label(s)} ({part})"
        for s, _ in counted
        if s.capacity is not None and (part := _part_of_the_ages(ctx, [s]))
    ]
    if partly:  # capacity is never split by age: no figure says how many of the need's people are of which age
        need = ctx.cn.need
        notes.append(
            f"serving only part of the need's {age_phrase(need.min_age, need.max_age)}, yet counted for all of them: "
            + _listing(partly)
        )
    if unstated:
        notes.append(f"not stated by {_listing(unstated)}")
    if elsewhere:
        notes.append(f"{_services_listing(elsewhere)} outside the need's areas, not counted")
    note = f" ({'; '.join(notes)})" if notes else ""
    total = ctx.floats(col.measures[CAPACITY])[j]
    if math.isnan(total):
        return (
            f"capacity not stated by its services in the need's areas; scored as unknown ({UNKNOWN_CAPACITY:g}) "
            f"against {ctx.words().volume} service users/yr{note}",
        )
    return (
        f"capacity {total:,.0f} service users/yr from its services in the need's areas "
        f"({', '.join(stated)}) vs need volume {ctx.words().volume}/yr: ratio {total / vol:.2f}{_s(score)}{note}",
        *shared,
    )


def financial_viability(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    need = ctx.cn.need
    scores = ctx.scores(col)
    dep, res = scores["budget_share_of_income"][j], scores["reserves_months"][j]
    contract = ctx.words().contract
    if c.annual_income is None:
        first = f"{contract}; annual income not stated, scored as unknown ({UNKNOWN_FINANCE:g})"
    elif c.annual_income <= 0:
        first = f"{contract}; annual income recorded as £0, so the contract would be its entire income{_s(dep)}"
    else:
        first = (
            f"{contract} is {need.annual_budget / c.annual_income:.0%} of annual income "
            f"{_money(c.annual_income)} (50% halves this score){_s(dep)}"
        )
    if c.reserves_months is None:
        second = f"reserves not stated; scored as unknown ({UNKNOWN_FINANCE:g})"
    else:
        second = f"{c.reserves_months:g} months of reserves (6 or more scores full){_s(res)}"
    return (first, second)


def _record(r: OutcomeRecord) -> str:
    """An outcomes record in words: ``Tenancies sustained: % at 12 months 82 (2024; 40 people; independently
    evaluated, verified)``, or ``(...; self-declared)`` for the provider's own unverified figures."""
    head = r.outcome + (f": {r.measure}" if r.measure else "") + (f" {r.value:g}" if r.value is not None else "")
    details = [x for x in (r.period, f"{r.people:,} people" if r.people is not None else "") if x]
    if r.source == "self_declared":  # the provider's own figures: verified, or just self-declared
        details.append(_strength(r.verified))
    else:  # who the provider says measured it; unverified until an admin has seen it
        details.append(f"{r.source.replace('_', ' ')}, {'verified' if r.verified else 'unverified'}")
    text = f"{head} ({'; '.join(details)})"
    return text + (f' "{shorten(r.note)}"' if r.note and r.value is None else "")


def _strength(verified: bool) -> str:
    """How strong a piece of evidence is, in the words explanations use."""
    return "verified" if verified else "self-declared"


def quality_accreditations(
    c: Candidate, services: list[Service], sv: Set[str]
) -> tuple[list[tuple[str, list[Service], bool]], int]:
    """The distinct quality accreditations of ``c`` and its ``services`` (code, the services holding it when the
    organisation does not, whether it is verified), sorted by code; and how many are verified."""
    own = set(c.accreditations or ()) - sv
    verified = set(c.verified_accreditations or ()) & own
    through: dict[str, list[Service]] = {}
    for s in services:
        codes = set(s.accreditations or ()) - sv
        for code in sorted(codes - own):
            through.setdefault(code, []).append(s)
        verified |= set(s.verified_accreditations or ()) & codes
    out = [(code, [] if code in own else through[code], code in verified) for code in sorted(own | set(through))]
    return out, sum(1 for _, _, v in out if v)


def _quality_accreditations(
    ctx: EvidenceContext, c: Candidate, i: int
) -> tuple[list[tuple[str, list[Service], bool]], int]:
    """:func:`quality_accreditations` of candidate ``c`` (row ``i``) and its qualifying services, found once per
    explanation (do not change the list)."""
    known = ctx.accreditations.get(i)
    if known is None:
        services = [s for s, _, _ in qualifying(ctx, c, i)]
        known = ctx.accreditations[i] = quality_accreditations(c, services, ctx.social_value_accreditations)
    return known


def desired_met(ctx: EvidenceContext, services: list[Service]) -> list[tuple[str, bool | None]]:
    """Each of the need's desired outcomes (its name, or its code) and whether a record of ``services`` naming it
    is verified (``True``), only self-declared ones name it (``False``) or none does (``None``)."""
    out: list[tuple[str, bool | None]] = []
    for d in ctx.cn.desired:
        named = [r.verified for s in services for r in s.outcomes or () if d.code in (r.desired_outcomes or ())]
        out.append((d.name or d.code, (True in named) if named else None))
    return out


def quality(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    pathway = ctx.cn.need.pathway
    scores = ctx.scores(col)
    services = [s for s, _, _ in qualifying(ctx, c, i)]
    held, n_verified = _quality_accreditations(ctx, c, i)
    accs = [
        f"{code} ({(_services_listing(through) + '; ') if through else ''}{_strength(v)})" for code, through, v in held
    ]
    first = (
        f"{_how_many(len(accs), 'quality accreditation')}, {n_verified} verified: {_listing(accs)}"
        + (f" (self-declared ones count {SELF_DECLARED_FACTOR:.0%})" if n_verified < len(accs) else "")
        if accs
        else "no quality accreditations"
    ) + _s(scores["quality_accreditations"][j])
    records = [(s, r) for s in services for r in s.outcomes or ()]
    verified = [(s, r) for s, r in records if r.verified]
    if records:
        s, r = (verified or records)[0]
        more = len(records) - 1
        second = (
            f"outcomes evidence for {pathway}: {counted(len(records), 'record')}, {len(verified)} verified"
            + ("" if verified else f" (self-declared records count {SELF_DECLARED_FACTOR:.0%})")
            + f"; {service_label(s)}: {_record(r)}"
            + (f" and {counted(more, 'more record')}" if more else "")
        )
    else:
        second = f"no outcomes records for {pathway} in its services"
    if ctx.cn.desired:
        met = desired_met(ctx, services)
        found = [f"{name} ({_strength(v)})" for name, v in met if v is not None]
        missing = [name for name, v in met if v is None]
        second += f"; evidences {len(found)} of the {len(met)} desired outcomes" + (
            f": {_listing(found)}" if found else ""
        )
        second += f"; none for {_listing(missing)}" if missing else ""
    second += _s(scores["outcomes_evidence"][j])
    years = ctx.raws(col)["years_in_pathway"][j]
    longest = [s for s in services if s.years_experience == years]
    third = (
        f"{_experience(years)} in {pathway}"
        + (f" ({_services_listing(longest[:1])})" if longest and years else "")
        + f" (3 years = half credit){_s(scores['years_in_pathway'][j])}"
    )
    return (first, second, third)


def local_priorities(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    if not ctx.cn.priorities:
        return ("the need sets no local priorities, so this criterion is not applied (weight 0)",)
    out = []
    services = [s for s, _, _ in qualifying(ctx, c, i)]
    evidence = ctx.priority_reader().explain(services)
    for pr, comp, ev in zip(ctx.cn.priorities, col.components, evidence, strict=True):  # one component each
        head = f'"{pr.text}" (weight {pr.weight:g})'
        score = ctx.floats(comp.score)[j]
        if not ev.matches:
            out.append(f"{head}: no matching words in its qualifying services' descriptions and outcomes{_s(score)}")
            continue
        pairs = ", ".join(
            m.word + ("" if m.word == m.matched else f"~{m.matched} {m.similarity:.0%}") for m in ev.matches
        )
        text = f"{head}: {len(ev.matches)} of {ev.word_count} words matched ({pairs})"
        if ev.read_as:
            read = ", ".join(f'"{term}" as "{alt}"' for term, alt in ev.read_as)
            text += f" (read with the domain thesaurus: {read})"
        if ev.snippet:
            text += f" in {ev.snippet}"
        out.append(text + _s(score))
    return tuple(out)


def _premises_labels(ctx: EvidenceContext, i: int) -> list[str]:
    """Labels of candidate ``i``'s premises in the need's areas (found once per explanation: do not change the list)."""
    known = ctx.premises.get(i)
    if known is None:
        tree, inside = ctx.cols.areas, ctx.words().inside
        known = ctx.premises[i] = [tree.label(tree.code(nd)) for nd in ctx.cols.premises.of(i) if nd in inside]
    return known


def _distinct(values: tuple[str, ...]) -> list[str]:
    """Distinct non-blank entries, case-insensitively (first spelling kept), sorted."""
    seen: dict[str, str] = {}
    for v in values:
        if v.strip():
            seen.setdefault(v.strip().casefold(), v.strip())
    return [seen[k] for k in sorted(seen)]


def added_value(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    scores = ctx.scores(col)
    mf, vol = scores["match_funding_to_budget"][j], scores["volunteers"][j]
    prem, part = scores["premises_in_need_areas"][j], scores["partner_organisations"][j]
    budget = ctx.cn.need.annual_budget
    funding = float(ctx.cols.match_funding[i])
    premises = _premises_labels(ctx, i)
    partners = _distinct(c.partner_organisations or ())
    return (
        (
            f"match funding {_money(funding)}/yr = {funding / budget:.0%} of the annual budget (10% = half credit)"
            if funding > 0
            else "no match funding offered"
        )
        + _s(mf),
        f"{ctx.cols.volunteers[i]:,.0f} volunteers (10 = half credit){_s(vol)}",
        (f"premises in the need's areas: {_listing(premises)}" if premises else "no premises in the need's areas")
        + _s(prem),
        (
            f"{counted(len(partners), 'partner organisation')}: {_listing(partners)}"
            if partners
            else "no partner organisations listed"
        )
        + _s(part),
    )


def social_value(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    out = []
    scores = ctx.scores(col)
    if "sector_preference" in scores:  # weight 0 (so left out) when the need sets no sector preference
        pref = scores["sector_preference"][j]
        out.append(f"sector {c.sector}: commissioner's preference {pref:g}{_s(pref)}")
    else:
        out.append(f"sector {c.sector}: the need sets no sector preference, so it is not applied")
    commitments = sorted(set(c.social_value or ()) | (set(c.accreditations or ()) & ctx.social_value_accreditations))
    out.append(
        (
            f"{counted(len(commitments), 'social value commitment')}: {_listing(commitments)}"
            if commitments
            else "no social value commitments"
        )
        + _s(scores["social_value_commitments"][j])
    )
    premises = _premises_labels(ctx, i)
    out.append(
        (
            f"local presence: premises in {_listing(premises)}"
            if premises
            else "no local presence (no premises in the need's areas)"
        )
        + _s(scores["local_presence"][j])
    )
    return tuple(out)


def sustainability(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> tuple[str, ...]:
    scores, raws = ctx.scores(col), ctx.raws(col)
    operating, funding, fresh = scores["years_operating"], scores["funding_sources"], scores["months_since_confirmed"]
    as_of = ctx.words().as_of
    first = (
        f"operating {raws['years_operating'][j]:g} years as of {as_of} (founded {c.founded_year}; 5 years = half "
        f"credit){_s(operating[j])}"
        if c.founded_year is not None
        else f"founding year not stated{_s(0.0)}"
    )
    sources = _distinct(c.funding_sources or ())
    second = (
        f"{counted(len(sources), 'distinct funding source')}: {_listing(sources)}"
        if sources
        else "no funding sources listed"
    ) + _s(funding[j])
    third = (
        f"profile last confirmed {c.last_confirmed.isoformat()}, {raws['months_since_confirmed'][j]:.1f} months "
        f"before {as_of} (full credit up to 6 months, then halving yearly){_s(fresh[j])}"
        if c.last_confirmed is not None
        else f"profile never confirmed{_s(0.0)}"
    )
    return (first, second, third)


# -- one plain-English sentence per criterion (the registry names them too) ------------------------
# Each reads its own criterion's column, like the evidence functions, and says in words a lay reader can
# follow what the score means for this need.


def _pct(x: float) -> str:
    return f"{x:.0%}"


def pathway_fit_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    name, ages = ctx.words().pathway_name, _only_ages(ctx, c, i)
    if not ctx.cn.cohort_count:
        return f"It offers services in the {name} pathway, and the need names no particular groups of people.{ages}"
    served, named = round(ctx.raws(col)["cohort_overlap"][j] * ctx.cn.cohort_count), ctx.cn.cohort_count
    if named == 1:
        serves = "serves the one group of people" if served else "does not serve the one group of people"
    else:
        serves = f"serves {'all' if served == named else served} of the {named} groups of people"
    return f"It offers services in the {name} pathway and {serves} the need names.{ages}"


def _only_ages(ctx: EvidenceContext, c: Candidate, i: int) -> str:
    """`` Its services serve only ages 16 to 17 of the need's ages 12 to 17.`` when they serve part of its range."""
    part = _part_of_the_ages(ctx, [s for s, _, _ in qualifying(ctx, c, i)])
    need = ctx.cn.need
    return f" Its services serve only {part} of the need's {age_phrase(need.min_age, need.max_age)}." if part else ""


def coverage_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    share = ctx.floats(col.score)[j]
    tree = ctx.cols.areas
    if ctx.cn.need.area_volumes is not None:
        return f"Its services reach {_pct(share)} of the service users the commissioner expects in the need's areas."
    if not tree.has_population:
        return f"Its services reach {_pct(share)} of the need's local areas (no population figures were given)."
    return f"Its services reach {_pct(share)} of the people living in the need's areas."


def capacity_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    volume = ctx.words().volume
    total = ctx.floats(col.measures[CAPACITY])[j]
    if math.isnan(total):
        return f"It has not said how many people a year its services here can take (the need is for {volume})."
    shared = any(
        touches and s.capacity is not None and service_share(ctx, row)[2] < 1.0
        for s, touches, row in qualifying(ctx, c, i)
    )
    return f"Its services can take about {total:,.0f} people a year in the need's areas against the {volume} needed" + (
        ", counting only its share of capacity it also offers elsewhere." if shared else "."
    )


def financial_viability_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    budget = ctx.cn.need.annual_budget
    if c.annual_income is None or c.annual_income <= 0:
        first = "Its annual income is not known"
    else:
        first = f"The contract would be {budget / c.annual_income:.0%} of its annual income"
    second = (
        "its reserves are not known"
        if c.reserves_months is None
        else f"it holds {c.reserves_months:g} months of reserves"
    )
    return f"{first}, and {second}."


def quality_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    services = [s for s, _, _ in qualifying(ctx, c, i)]
    held, n_verified = _quality_accreditations(ctx, c, i)
    records = [r for s in services for r in s.outcomes or ()]
    if not records:
        outcomes = "has no recorded outcomes for this kind of service"
    elif any(r.verified for r in records):
        outcomes = "has verified outcomes records for this kind of service"
    else:
        outcomes = "has only self-declared outcomes records for this kind of service"
    if ctx.cn.desired:
        met = desired_met(ctx, services)
        found = [v for _, v in met if v is not None]
        strength = "" if not found else "; verified" if all(found) else "; self-declared" if not any(found) else ""
        outcomes += f" (evidencing {len(found)} of the {len(met)} desired outcomes{strength})"
    years = ctx.raws(col)["years_in_pathway"][j]
    return (
        f"It holds {_how_many(len(held), 'quality accreditation')}"
        + (f" ({n_verified} verified)" if held else "")
        + f", {outcomes}, and has {_experience(years)} in it."
    )


def local_priorities_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    if not ctx.cn.priorities:
        return "The need sets no local priorities, so none are judged."
    scores = [ctx.floats(comp.score)[j] for comp in col.components]
    clear = sum(1 for s in scores if s >= STRENGTH_MIN_SCORE)
    partly = sum(1 for s in scores if 0 < s < STRENGTH_MIN_SCORE)
    if len(scores) == 1:
        how = "clearly address" if clear else "partly address" if partly else "do not address"
        return f"Its own descriptions of these services {how} the need's local priority."
    of = f"of the need's {len(scores)} local priorities"
    if clear:
        how = f"clearly address {clear} {of}" + (f" and partly address {partly} more" if partly else "")
    else:
        how = f"partly address {partly} {of} and clearly address none" if partly else f"address none {of}"
    return f"Its own descriptions of these services {how}."


def added_value_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    funding = float(ctx.cols.match_funding[i])
    vols = float(ctx.cols.volunteers[i])
    return (
        f"It brings {'£' + format(funding, ',.0f') + ' a year of match funding' if funding > 0 else 'no match funding'}"
        f", {vols:,.0f} volunteers and {counted(int(ctx.cols.partner_count[i]), 'partner organisation')}."
    )


def social_value_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    raws = ctx.raws(col)
    commitments = int(raws["social_value_commitments"][j])
    local = bool(raws["local_presence"][j])
    return (
        f"It makes {counted(commitments, 'social value commitment')} and "
        f"{'has' if local else 'has no'} premises in the need's areas."
    )


def sustainability_summary(ctx: EvidenceContext, col: CriterionColumn, c: Candidate, i: int, j: int) -> str:
    raws = ctx.raws(col)
    operating, fresh = raws["years_operating"], raws["months_since_confirmed"]
    years = (
        f"has operated for {counted(operating[j], 'year')}" if c.founded_year is not None else "gives no founding year"
    )
    confirmed = (
        f"its profile was last confirmed {counted(round(fresh[j]), 'month')} ago"
        if c.last_confirmed is not None
        else "its profile has never been confirmed"
    )
    return f"It {years} and {confirmed}."


def _how_many(n: float, thing: str) -> str:
    """`n` of `thing` as a sentence says it: "no quality accreditations", "1 quality accreditation", "2.5 years"."""
    return f"no {thing}s" if n == 0 else counted(n, thing)


def _experience(years: float) -> str:
    """ "no experience", "1 year's experience", "2.5 years' experience"."""
    return (
        "no experience"
        if years == 0
        else f"{years:g} year's experience"
        if years == 1
        else f"{years:g} years' experience"
    )
