"""Lead-provider + partners proposals for an exercise with several needs.

Cells
    Each need contributes one cell per leaf area under its areas holding some of its service users
    (:func:`~matching.needs.need_leaves`: with ``area_volumes``, only those where some are expected):
    ``Cell(need_id, pathway, leaf_area)``. A ranked (i.e. eligible, shortlisted)
    provider offers the cells of that need inside its ``covered_areas``, at its
    total score for that need.

Method (greedy weighted set cover)
    1. Lead candidates are ordered by reach: the gain ``sum over their cells of
       (1 + score)``, then name, then provider_id.
    2. For each of the first few lead candidates, the lead is fixed and partners
       are added greedily, each time taking the provider with the largest gain
       over still-uncovered cells (ties: name, provider_id), until every
       coverable cell is covered. A cell therefore counts 1 for being covered
       plus at most 1 for quality: covering more cells dominates, score breaks
       near-ties. Partners made redundant by later picks are then dropped.
    3. The lead delivers every cell it covers; each remaining cell goes to the
       highest-scoring partner covering it (ties: name, provider_id).
    4. Options with the same set of organisations are merged; options are
       ordered by (number of organisations, -total score, lead name, lead id).

Greedy set cover is not guaranteed optimal (it is within a ln(cells) factor of
the fewest organisations) but it is fast, deterministic and explainable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from .areas import AreaTree
from .errors import InvalidNeed
from .models import Need
from .needs import need_leaves
from .results import Ranking
from .text import counted
from .version import ALGORITHM_VERSION

PARTNERSHIP_METHOD: Final = "greedy weighted set cover, gain = sum over new cells of (1 + score)"


class Cell(msgspec.Struct, frozen=True, gc=False):
    need_id: int | str
    pathway: str
    area: str


class Offer(msgspec.Struct, frozen=True, gc=False):
    """A provider's offer for one need: the need's leaf areas it covers, at a score."""

    provider_id: int
    name: str
    need_id: int | str
    score: float
    areas: tuple[str, ...]


class Member(msgspec.Struct, frozen=True, gc=False):
    provider_id: int
    name: str
    role: str
    """"lead" or "partner"."""
    cells: tuple[Cell, ...]
    """Cells this organisation is proposed to deliver."""
    score_sum: float
    mean_score: float
    reason: str


class PartnershipOption(msgspec.Struct, frozen=True, gc=False):
    rank: int
    lead: Member
    partners: tuple[Member, ...]
    organisation_count: int
    covered_cell_count: int
    total_score: float
    """Sum over covered cells of the delivering organisation's score for that need."""
    mean_score: float
    explanation: tuple[str, ...]


class PartnershipPlan(msgspec.Struct, frozen=True, gc=False):
    algorithm_version: str
    method: str
    cells: tuple[Cell, ...]
    coverable_count: int
    uncovered: tuple[Cell, ...]
    """Cells no shortlisted eligible provider covers."""
    options: tuple[PartnershipOption, ...]
    """Best first; each option has a different lead."""


class _Org:
    __slots__ = ("cells", "name", "pid")

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self.name = name
        self.cells: dict[Cell, float] = {}

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.pid)

    def gain(self, uncovered: set[Cell]) -> float:
        return sum(1.0 + s for c, s in self.cells.items() if c in uncovered)


def offers_from_rankings(rankings: Iterable[Ranking]) -> list[Offer]:
    return [Offer(sc.provider_id, sc.name, r.need_id, sc.total, sc.covered_areas) for r in rankings for sc in r.scored]


def propose_partnerships(
    needs: Sequence[Need], rankings: Iterable[Ranking | Offer], *, areas: AreaTree, max_options: int = 3
) -> PartnershipPlan:
    """Propose up to ``max_options`` lead + partners combinations covering the needs' cells.

    ``rankings`` are the :class:`Ranking` results for the needs (their scored,
    shortlisted candidates are the organisations considered) and/or explicit
    :class:`Offer` records.
    """
    if max_options < 1:
        raise InvalidNeed("max_options", "must be >= 1")
    need_by_id: dict[int | str, Need] = {}
    cells: list[Cell] = []
    for need in needs:
        if need.id in need_by_id:
            raise InvalidNeed("id", f"duplicate need id {need.id!r}")
        need_by_id[need.id] = need
        cells.extend(Cell(need.id, need.pathway, leaf) for leaf in need_leaves(need, areas))
    cell_set = set(cells)

    orgs: dict[int, _Org] = {}
    items = list(rankings)
    offers = [o for o in items if isinstance(o, Offer)] + offers_from_rankings(
        r for r in items if isinstance(r, Ranking)
    )
    for offer in offers:
        target = need_by_id.get(offer.need_id)
        if target is None:
            raise InvalidNeed("rankings", f"ranking or offer for unknown need {offer.need_id!r}")
        org = orgs.setdefault(offer.provider_id, _Org(offer.provider_id, offer.name))
        for leaf in offer.areas:
            if leaf in areas:
                for sub in areas.leaves_under(leaf):
                    cell = Cell(target.id, target.pathway, sub)
                    if cell in cell_set:
                        org.cells[cell] = max(org.cells.get(cell, 0.0), offer.score)
    org_list = sorted((o for o in orgs.values() if o.cells), key=lambda o: o.key)
    coverable = set().union(*(o.cells for o in org_list)) if org_list else set()
    uncovered = tuple(c for c in cells if c not in coverable)

    leads = sorted(org_list, key=lambda o: (-o.gain(coverable), o.key))
    options: list[tuple[list[_Org], dict[Cell, _Org]]] = []
    seen: set[frozenset[int]] = set()
    for lead in leads:
        if len(options) >= max_options:
            break
        team = _greedy(lead, org_list, coverable)
        members = frozenset(o.pid for o in team)
        if members in seen:
            continue
        seen.add(members)
        options.append((team, _assign(team, coverable)))

    built = [_option(team, assignment, leads, len(coverable), cells, areas) for team, assignment in options]
    built.sort(key=lambda o: (o.organisation_count, -o.total_score, o.lead.name, o.lead.provider_id))
    return PartnershipPlan(
        algorithm_version=ALGORITHM_VERSION,
        method=PARTNERSHIP_METHOD,
        cells=tuple(cells),
        coverable_count=len(coverable),
        uncovered=uncovered,
        options=tuple(msgspec.structs.replace(o, rank=k + 1) for k, o in enumerate(built)),
    )


def _greedy(lead: _Org, orgs: list[_Org], coverable: set[Cell]) -> list[_Org]:
    team = [lead]
    remaining = coverable - lead.cells.keys()
    while remaining:
        best = min((o for o in orgs if o not in team), key=lambda o: (-o.gain(remaining), o.key))
        team.append(best)
        remaining -= best.cells.keys()
    # drop partners whose cells are all covered by the rest (latest picks first)
    for org in reversed(team[1:]):
        rest = set().union(*(o.cells.keys() for o in team if o is not org))
        if coverable <= rest:
            team.remove(org)
    return team


def _assign(team: list[_Org], coverable: set[Cell]) -> dict[Cell, _Org]:
    lead, partners = team[0], team[1:]
    out: dict[Cell, _Org] = {}
    for cell in coverable:
        if cell in lead.cells:
            out[cell] = lead
        else:
            out[cell] = min((o for o in partners if cell in o.cells), key=lambda o: (-o.cells[cell], o.key))
    return out


def _describe_cells(cells: list[Cell], areas: AreaTree) -> str:
    by_need: dict[tuple[int | str, str], list[str]] = {}
    for c in cells:
        by_need.setdefault((c.need_id, c.pathway), []).append(areas.label(c.area))
    parts = []
    for (need_id, pathway), labels in by_need.items():
        shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
        parts.append(f"{pathway} (need {need_id}) in {shown}")
    return "; ".join(parts)


def _option(
    team: list[_Org],
    assignment: dict[Cell, _Org],
    leads: list[_Org],
    n_coverable: int,
    cells: list[Cell],
    areas: AreaTree,
) -> PartnershipOption:
    order = {c: k for k, c in enumerate(cells)}
    members: list[Member] = []
    for k, org in enumerate(team):
        mine = sorted((c for c, o in assignment.items() if o is org), key=order.__getitem__)
        score_sum = sum(org.cells[c] for c in mine)
        mean = score_sum / len(mine) if mine else 0.0
        if k == 0:
            reach = leads.index(org) + 1
            reason = (
                f"covers {len(org.cells)} of {n_coverable} coverable cells on its own; ranked {_ordinal(reach)} "
                f"of {len(leads)} ranked providers by reach (each cell counts 1 + its score); "
                f"delivers every cell it covers, mean score {mean:.2f}"
            )
        else:
            reason = (
                f"delivers {counted(len(mine), 'cell')} the lead does not cover, "
                f"mean score {mean:.2f}: {_describe_cells(mine, areas)}"
            )
        members.append(Member(org.pid, org.name, "lead" if k == 0 else "partner", tuple(mine), score_sum, mean, reason))
    total = sum(m.score_sum for m in members)
    covered = len(assignment)
    explanation = [f"{m.role.capitalize()} {m.name}: {m.reason}" for m in members]
    explanation.append(
        f"{counted(len(members), 'organisation')} {'covers' if len(members) == 1 else 'cover'} {covered} of "
        f"{len(cells)} cells "
        f"({len(cells) - covered} not coverable by any ranked provider); total score {total:.2f}"
    )
    return PartnershipOption(
        rank=0,
        lead=members[0],
        partners=tuple(members[1:]),
        organisation_count=len(members),
        covered_cell_count=covered,
        total_score=total,
        mean_score=total / covered if covered else 0.0,
        explanation=tuple(explanation),
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
