"""Validation of a :class:`Need` and its compiled form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .errors import InvalidNeed
from .models import DesiredOutcome, Need, Priority
from .vocab import GENDERS, is_code

MAX_REQUIRED_ACCREDITATIONS: Final = 32


@dataclass(frozen=True, slots=True, eq=False)
class CompiledNeed:
    need: Need
    pathway: str
    cohorts: tuple[str, ...]
    """The need's distinct cohort codes, in the need's order."""
    area_nodes: tuple[int, ...]
    """Need areas as an antichain of node indices (an area nested in another listed area is dropped)."""
    required: tuple[str, ...]
    min_age: float
    """The need's youngest age (0 when open)."""
    max_age: float
    """The need's oldest age (infinity when open)."""
    gender: int
    """Index in :data:`~matching.vocab.GENDERS` (0, ``both``: anyone)."""
    priorities: tuple[Priority, ...]
    desired: tuple[DesiredOutcome, ...]
    """The need's desired outcomes, each code once (first kept), in the need's order."""
    sector_preference: dict[str, float]
    has_sector_preference: bool
    coverage_weight: npt.NDArray[np.float64]
    """Per area node: the people (or, with ``area_volumes``, the expected service users) of the need it covers."""
    coverage_whole: float
    """The people (or expected service users) of the need's areas."""
    users_under: npt.NDArray[np.bool_] | None
    """With ``area_volumes``: per area node, whether some of the need's expected service users are under it
    (``coverage_weight`` above 0: an area given a volume above 0, a local area of one holding some of its people,
    or an area containing one); a service must cover one of these to reach the need (``no_area_coverage``).
    ``None`` without: any area in, above or below the need's areas will do."""
    user_areas: tuple[str, ...]
    """The areas the need's service users are in: the codes of ``area_volumes`` with a volume above 0, in the
    need's order (its ``areas`` without ``area_volumes``)."""

    @property
    def cohort_count(self) -> int:
        return len(self.cohorts)

    @property
    def has_ages(self) -> bool:
        return self.min_age > 0 or self.max_age < math.inf


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def compile_need(need: Need, areas: AreaTree) -> CompiledNeed:
    """Validate ``need`` against the area tree; raise :class:`InvalidNeed`.

    Pathway, cohort and sector codes may be any non-empty strings: the core has no
    fixed list of them (a code no candidate uses simply matches nobody).
    """
    if not isinstance(need, Need):
        raise InvalidNeed("*", "expected a Need")
    if not is_code(need.pathway):
        raise InvalidNeed("pathway", f"pathway must be a non-empty code, got {need.pathway!r}")
    for code in need.cohorts:
        if not is_code(code):
            raise InvalidNeed("cohorts", f"cohorts must be non-empty codes, got {code!r}")
    if not need.areas:
        raise InvalidNeed("areas", "at least one area is required")
    for code in need.areas:
        if code not in areas:
            raise InvalidNeed("areas", f"unknown area code {code!r}")
    for field in ("annual_volume", "annual_budget", "contract_years"):
        value = getattr(need, field)
        if not _finite(value) or value <= 0:
            raise InvalidNeed(field, "must be a finite number > 0")
    if not _finite(need.min_years_experience) or need.min_years_experience < 0:
        raise InvalidNeed("min_years_experience", "must be a finite number >= 0")
    for field in ("min_age", "max_age"):
        value = getattr(need, field)
        if value is not None and (not _finite(value) or value < 0):
            raise InvalidNeed(field, "must be None or a finite number >= 0")
    if need.min_age is not None and need.max_age is not None and need.min_age > need.max_age:
        raise InvalidNeed("max_age", "must not be below min_age")
    if need.gender not in GENDERS:
        raise InvalidNeed("gender", f"must be one of {', '.join(GENDERS)}, got {need.gender!r}")
    for pr in need.local_priorities:
        if not isinstance(pr, Priority) or not isinstance(pr.text, str) or not pr.text.strip():
            raise InvalidNeed("local_priorities", "each priority needs non-empty text")
        if not _finite(pr.weight) or pr.weight <= 0:
            raise InvalidNeed("local_priorities", f"priority {pr.text!r} needs a finite weight > 0")
    desired: dict[str, DesiredOutcome] = {}
    for d in need.desired_outcomes:
        if not isinstance(d, DesiredOutcome) or not is_code(d.code):
            raise InvalidNeed("desired_outcomes", "each desired outcome needs a non-empty code")
        desired.setdefault(d.code, d)
    required = tuple(dict.fromkeys(need.required_accreditations))
    if len(required) > MAX_REQUIRED_ACCREDITATIONS:
        raise InvalidNeed("required_accreditations", f"at most {MAX_REQUIRED_ACCREDITATIONS} may be required")
    pref: dict[str, float] = {}
    for sector, value in need.sector_preference.items():
        if not is_code(sector):
            raise InvalidNeed("sector_preference", f"sectors must be non-empty codes, got {sector!r}")
        if not _finite(value) or not 0.0 <= value <= 1.0:
            raise InvalidNeed("sector_preference", f"preference for {sector!r} must be in [0, 1]")
        pref[sector] = float(value)
    area_nodes = areas.reduce(need.areas)
    weight, whole = _coverage_weights(need, areas, area_nodes)
    return CompiledNeed(
        need=need,
        pathway=need.pathway,
        cohorts=tuple(dict.fromkeys(need.cohorts)),
        area_nodes=area_nodes,
        required=required,
        min_age=0.0 if need.min_age is None else float(need.min_age),
        max_age=math.inf if need.max_age is None else float(need.max_age),
        gender=GENDERS.index(need.gender),
        priorities=tuple(need.local_priorities),
        desired=tuple(desired.values()),
        sector_preference=pref,
        has_sector_preference=any(v > 0 for v in pref.values()),  # a preference of 0 for every sector is none
        coverage_weight=weight,
        coverage_whole=whole,
        users_under=None if need.area_volumes is None else weight > 0,
        user_areas=tuple(need.areas)
        if need.area_volumes is None
        else tuple(code for code, volume in need.area_volumes.items() if volume > 0),
    )


def need_leaves(need: Need, areas: AreaTree) -> tuple[str, ...]:
    """The local areas (leaves) under the need's areas that hold some of its service users, in tree order: with
    ``area_volumes``, those with a share of an area's volume above 0 (as coverage weighs them: a local area under
    no area given a volume holds none); without, every one. These are the need's cells in a market grid and in
    partnership proposals. Raises :class:`InvalidNeed` for an unknown area code or ``area_volumes`` breaking
    :func:`compile_need`'s rules."""
    return tuple(expected_users(need, areas))


def expected_users(need: Need, areas: AreaTree) -> dict[str, float]:
    """The need's annual volume spread over its local areas holding service users (:func:`need_leaves`, in tree
    order), as coverage weighs them: with ``area_volumes``, each area's volume spread over its local areas by
    population; without, the whole volume by population. The figures add up to the annual volume (but for
    rounding). Raises as :func:`need_leaves` does."""
    for code in need.areas:
        if code not in areas:
            raise InvalidNeed("areas", f"unknown area code {code!r}")
    area_nodes = areas.reduce(need.areas)
    weight, whole = _coverage_weights(need, areas, area_nodes)
    leaves = sorted({leaf for a in area_nodes for leaf in areas.leaf_indices_under(a)})
    if need.area_volumes is not None:
        leaves = [leaf for leaf in leaves if weight[leaf] > 0]
    return {areas.code(leaf): need.annual_volume * float(weight[leaf]) / whole if whole > 0 else 0.0 for leaf in leaves}


def _coverage_weights(
    need: Need, areas: AreaTree, area_nodes: tuple[int, ...]
) -> tuple[npt.NDArray[np.float64], float]:
    """(per node: the people of the need it covers, the people of the need), by population or by the need's
    ``area_volumes`` (each spread over its leaves by population)."""
    if need.area_volumes is None:
        return areas.people_in(area_nodes), float(sum(float(areas.people[a]) for a in area_nodes))
    if not need.area_volumes:
        raise InvalidNeed("area_volumes", "give at least one area's volume, or none at all")
    leaf = np.zeros(len(areas))
    inside = areas.within_mask(area_nodes)
    given: list[int] = []
    for code, volume in need.area_volumes.items():
        if code not in areas:
            raise InvalidNeed("area_volumes", f"unknown area code {code!r}")
        a = areas.index(code)
        if not inside[a]:
            raise InvalidNeed("area_volumes", f"{code!r} is not one of the need's areas or within them")
        if not _finite(volume) or volume < 0:
            raise InvalidNeed("area_volumes", f"the volume of {code!r} must be a finite number >= 0")
        if any(areas.within_index(a, b) or areas.within_index(b, a) for b in given):
            raise InvalidNeed("area_volumes", f"{code!r} overlaps another area given a volume")
        given.append(a)
        leaves = np.asarray(areas.leaf_indices_under(a), dtype=np.int64)
        people = areas.people[leaves]
        total = float(people.sum())
        leaf[leaves] = volume * people / total if total > 0 else volume / len(leaves)
    whole = float(leaf.sum())
    if whole <= 0:
        raise InvalidNeed("area_volumes", "at least one volume must be above 0")
    cs = np.concatenate(([0.0], np.cumsum(leaf)))
    idx = np.arange(len(areas))
    weight = np.maximum(cs[idx + areas.sizes] - cs[idx], 0.0)  # the volume of the need under each node
    return weight, whole
