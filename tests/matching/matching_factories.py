"""Shared test data for the matching core: the West Mercia area tree and builders."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from matching import AreaTree, Candidate, Need, OutcomeRecord, Priority, ScoredCandidate, Service
from matching.results import CriterionScore

AS_OF = date(2026, 11, 1)

WEST_MERCIA = "E23000016"
WORCESTERSHIRE = "E10000034"
WORCS_DISTRICTS = ("E07000234", "E07000235", "E07000236", "E07000237", "E07000238", "E07000239")
HEREFORDSHIRE = "E06000019"
SHROPSHIRE = "E06000051"
TELFORD = "E06000020"
WEST_MIDLANDS = "E23000014"
BIRMINGHAM = "E08000025"
COVENTRY = "E08000026"

NAMES = {
    WEST_MERCIA: "West Mercia",
    WORCESTERSHIRE: "Worcestershire",
    "E07000234": "Bromsgrove",
    "E07000235": "Malvern Hills",
    "E07000236": "Redditch",
    "E07000237": "Worcester",
    "E07000238": "Wychavon",
    "E07000239": "Wyre Forest",
    HEREFORDSHIRE: "Herefordshire",
    SHROPSHIRE: "Shropshire",
    TELFORD: "Telford and Wrekin",
    WEST_MIDLANDS: "West Midlands",
    BIRMINGHAM: "Birmingham",
    COVENTRY: "Coventry",
}


def parent_map() -> dict[str, str | None]:
    parents: dict[str, str | None] = {WEST_MERCIA: None, WORCESTERSHIRE: WEST_MERCIA}
    parents.update(dict.fromkeys(WORCS_DISTRICTS, WORCESTERSHIRE))
    parents.update({HEREFORDSHIRE: WEST_MERCIA, SHROPSHIRE: WEST_MERCIA, TELFORD: WEST_MERCIA})
    parents.update({WEST_MIDLANDS: None, BIRMINGHAM: WEST_MIDLANDS, COVENTRY: WEST_MIDLANDS})
    return parents


def crit(sc: ScoredCandidate, name: str) -> CriterionScore:
    """A scored candidate's score on one criterion."""
    return next(c for c in sc.criteria if c.criterion == name)


def tree() -> AreaTree:
    return AreaTree(parent_map(), names=NAMES)


def need(**changes: Any) -> Need:
    base = Need(
        id="need-1",
        pathway="ACCOM",
        cohorts=("ADULTS", "CARE_LEAVERS"),
        areas=(WORCESTERSHIRE,),
        annual_volume=100,
        annual_budget=250_000,
        contract_years=3,
        local_priorities=(Priority("supported housing for care leavers", 2.0), Priority("rural outreach", 1.0)),
        sector_preference={"third_sector": 1.0, "co_operative": 0.8, "social_enterprise": 0.8},
    )
    return msgspec.structs.replace(base, **changes)


def outcome(**changes: Any) -> OutcomeRecord:
    base = OutcomeRecord(
        outcome="Tenancies sustained",
        measure="share of residents at 12 months",
        value=82,
        period="2024",
        people=60,
        source="independently_evaluated",
        note="82% of residents sustained tenancies at 12 months (2024 evaluation).",
    )
    return msgspec.structs.replace(base, **changes)


def service(**changes: Any) -> Service:
    base = Service(
        service_id=1,
        pathway="ACCOM",
        name="Supported housing",
        cohorts=("ADULTS", "CARE_LEAVERS"),
        areas=(WEST_MERCIA,),
        capacity=150,
        years_experience=8,
        description="Supported housing and tenancy sustainment for care leavers and adults leaving prison.",
        outcomes=(outcome(),),
    )
    return msgspec.structs.replace(base, **changes)


def candidate(provider_id: int = 1, *, service_changes: dict[str, Any] | None = None, **changes: Any) -> Candidate:
    """A provider with one service (``service_changes`` change that service; ``services=`` replaces it)."""
    base = Candidate(
        provider_id=provider_id,
        name=f"Provider {provider_id:04d}",
        sector="third_sector",
        legal_form="charitable_company",
        founded_year=2005,
        services=(service(**(service_changes or {})),),
        annual_income=1_200_000,
        reserves_months=5,
        accreditations=("trusted_charity", "iso_9001", "living_wage_employer"),
        volunteers=25,
        premises_areas=("E07000237",),
        match_funding_per_year=20_000,
        funding_sources=("National Lottery", "Local authority grant", "Trust fund"),
        partner_organisations=("Worcester Foodbank", "Shelter"),
        social_value=("lived_experience_staff", "local_supply_chain"),
        resources_text="Staffed hostel in Worcester; outreach van covering rural Wychavon and Malvern.",
        last_confirmed=date(2026, 9, 1),
    )
    return msgspec.structs.replace(base, **changes)


def services(*changes: dict[str, Any]) -> tuple[Service, ...]:
    """Services numbered 1, 2, ... from the default one, each with its changes."""
    return tuple(service(service_id=k, **c) for k, c in enumerate(changes, start=1))


def tree_without_west_midlands() -> AreaTree:
    parents = {k: v for k, v in parent_map().items() if k not in (WEST_MIDLANDS, BIRMINGHAM, COVENTRY)}
    return AreaTree(parents, names=NAMES)


POPULATION = {
    "E07000234": 101_000,
    "E07000235": 80_000,
    "E07000236": 87_000,
    "E07000237": 104_000,
    "E07000238": 134_000,
    "E07000239": 102_000,
    HEREFORDSHIRE: 188_000,
    SHROPSHIRE: 326_000,
    TELFORD: 187_000,
    BIRMINGHAM: 1_157_000,
    COVENTRY: 351_000,
}
"""People per leaf area (rounded ONS mid-2022 estimates, as in seed_data/population.json)."""


def people_tree(population: dict[str, float] | None = None) -> AreaTree:
    """The test tree weighted by people."""
    return AreaTree(
        parent_map(), names=NAMES, population=POPULATION if population is None else population, population_source="test"
    )
