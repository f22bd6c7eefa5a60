"""Synthetic provider profiles for the HTTP benchmark (bench/run.py), deterministic from a seed.

    generate(n, seed) -> list[NewProvider]       # provider i (0-based) becomes provider id i + 1

Profiles crowd the eleven West Mercia areas of seed_data/areas.json with realistic mixes: 1 to 4 services
each (most have one or two; a few larger organisations run the same pathway twice, in different areas),
pathways (accommodation and employment common, sex-work exiting rare), where the organisation works (one
district, a county, a few unitaries, the whole region) and, within it, each service's own areas, sizes
(capacity split between the services, income, volunteers from micro to large), legal forms and so sectors,
accreditations that follow the pathways (advice quality for debt advice, Leading Lights for domestic
abuse...), cohorts and who is served (youth services 10-17, young adults 18-25, women's services for women),
delivery modes, complexity levels, indicative costs in the units commissioners see (per place per year for
housing, per session, per hour, per service user), structured outcomes records on about half the services,
and text built from word banks (housing, tenancy, mentoring, county lines, care leavers, rural outreach, debt
advice, real place names) so that free-text search and the local priorities of a need have something real to
find.

Each chunk of CHUNK providers has its own random stream (seeded from the seed and the chunk number),
so any slice can be generated on its own (generate_range) and in parallel, with identical output.
Every profile passes `profile_problems(profile, taxonomy, today=dt.date(2026, 12, 31))` and msgspec's own validation
(tests/test_bench_smoke.py checks a sample).
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import TypeVar

from marketplace.providers.models import (
    AccountsScrutiny,
    Complexity,
    Contact,
    Cost,
    CostUnit,
    DeliveryMode,
    Eligibility,
    EvidenceSource,
    Finances,
    NewProvider,
    OutcomeRecord,
    Premises,
    Resources,
    ServiceCapacity,
    ServiceIn,
)

T = TypeVar("T")
YEAR = 2026
CHUNK = 1000

WEST_MERCIA = "E23000016"
WORCESTERSHIRE = "E10000034"
BROMSGROVE, MALVERN_HILLS, REDDITCH, WORCESTER, WYCHAVON, WYRE_FOREST = (
    "E07000234",
    "E07000235",
    "E07000236",
    "E07000237",
    "E07000238",
    "E07000239",
)
HEREFORDSHIRE, SHROPSHIRE, TELFORD = "E06000019", "E06000051", "E06000020"
WORCS_DISTRICTS = (BROMSGROVE, MALVERN_HILLS, REDDITCH, WORCESTER, WYCHAVON, WYRE_FOREST)
UNITARIES = (HEREFORDSHIRE, SHROPSHIRE, TELFORD)
LEAVES = WORCS_DISTRICTS + UNITARIES

# Leaf areas with rough population weights, and their towns.
LEAF_WEIGHTS = {
    BROMSGROVE: 10,
    MALVERN_HILLS: 8,
    REDDITCH: 9,
    WORCESTER: 11,
    WYCHAVON: 13,
    WYRE_FOREST: 10,
    HEREFORDSHIRE: 19,
    SHROPSHIRE: 32,
    TELFORD: 19,
}
TOWNS = {
    BROMSGROVE: ("Bromsgrove", "Rubery", "Hagley", "Alvechurch", "Wythall", "Catshill"),
    MALVERN_HILLS: ("Malvern", "Upton-upon-Severn", "Tenbury Wells", "Martley", "Colwall"),
    REDDITCH: ("Redditch", "Matchborough", "Winyates", "Batchley", "Headless Cross"),
    WORCESTER: ("Worcester", "St John's", "Warndon", "Ronkswood", "Barbourne"),
    WYCHAVON: ("Evesham", "Pershore", "Droitwich Spa", "Broadway", "Ombersley"),
    WYRE_FOREST: ("Kidderminster", "Stourport-on-Severn", "Bewdley", "Cookley"),
    HEREFORDSHIRE: ("Hereford", "Leominster", "Ross-on-Wye", "Ledbury", "Kington", "Bromyard"),
    SHROPSHIRE: ("Shrewsbury", "Oswestry", "Ludlow", "Bridgnorth", "Market Drayton", "Whitchurch", "Church Stretton"),
    TELFORD: ("Telford", "Wellington", "Madeley", "Oakengates", "Newport", "Donnington"),
}
AREA_NAMES = {
    WEST_MERCIA: "West Mercia",
    WORCESTERSHIRE: "Worcestershire",
    BROMSGROVE: "Bromsgrove",
    MALVERN_HILLS: "the Malvern Hills",
    REDDITCH: "Redditch",
    WORCESTER: "Worcester",
    WYCHAVON: "Wychavon",
    WYRE_FOREST: "Wyre Forest",
    HEREFORDSHIRE: "Herefordshire",
    SHROPSHIRE: "Shropshire",
    TELFORD: "Telford and Wrekin",
}

PATHWAY_WEIGHTS = {
    "ACCOM": 16,
    "ETE": 16,
    "HEALTH": 12,
    "DRUGS": 11,
    "FINANCE": 8,
    "FAMILIES": 8,
    "ATB": 12,
    "WOMEN_ABUSE": 6,
    "WOMEN_SEXWORK": 2,
    "RJ_VICTIMS": 4,
    "YOUTH_DIVERSION": 8,
}
PATHWAY_COHORTS = {
    "ACCOM": ("ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS", "WOMEN"),
    "ETE": ("ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS", "CYP"),
    "HEALTH": ("ADULTS", "YOUNG_ADULTS", "WOMEN"),
    "DRUGS": ("ADULTS", "YOUNG_ADULTS", "WOMEN"),
    "FINANCE": ("ADULTS", "FAMILIES", "WOMEN"),
    "FAMILIES": ("FAMILIES", "CYP", "WOMEN"),
    "ATB": ("ADULTS", "YOUNG_ADULTS", "CYP"),
    "WOMEN_ABUSE": ("WOMEN", "VICTIMS", "FAMILIES"),
    "WOMEN_SEXWORK": ("WOMEN",),
    "RJ_VICTIMS": ("VICTIMS", "ADULTS", "CYP"),
    "YOUTH_DIVERSION": ("CYP", "YOUNG_ADULTS", "CARE_LEAVERS"),
}
SERVICES = {
    "ACCOM": (
        "supported housing",
        "move-on flats",
        "tenancy sustainment",
        "floating support",
        "hostel bedspaces",
        "rough sleeping outreach",
        "housing options casework",
        "homelessness prevention",
        "shared houses",
        "a rent deposit scheme",
        "landlord liaison",
        "accommodation for prison leavers",
    ),
    "ETE": (
        "employment support",
        "job coaching",
        "CV and interview preparation",
        "apprenticeships with local employers",
        "functional skills",
        "work placements",
        "employability courses",
        "volunteering into paid work",
        "construction skills training",
        "digital skills",
        "education and training for care leavers",
    ),
    "HEALTH": (
        "mental health support",
        "counselling",
        "GP registration",
        "trauma-informed key work",
        "wellbeing groups",
        "neurodiversity screening",
        "learning disability support",
        "physical health checks",
    ),
    "DRUGS": (
        "substance misuse recovery",
        "harm reduction",
        "naloxone training",
        "alcohol support",
        "peer-led recovery groups",
        "detox aftercare",
        "recovery housing",
    ),
    "FINANCE": (
        "debt advice",
        "benefits and welfare rights",
        "money advice",
        "budgeting courses",
        "bank account opening",
        "Universal Credit claims",
        "financial capability workshops",
    ),
    "FAMILIES": (
        "parenting programmes",
        "family ties work",
        "prison visits support",
        "support for kinship carers",
        "work with children of prisoners",
        "family mediation",
    ),
    "ATB": (
        "mentoring",
        "peer mentoring",
        "through-the-gate mentoring",
        "cognitive behavioural programmes",
        "desistance work",
        "anger management",
        "thinking skills groups",
    ),
    "WOMEN_ABUSE": (
        "domestic abuse support",
        "a women's centre",
        "coercive control recovery groups",
        "IDVA casework",
        "refuge places",
        "sexual violence counselling",
        "trauma recovery",
    ),
    "WOMEN_SEXWORK": (
        "outreach to women in sex work",
        "exiting support",
        "sexual exploitation casework",
        "drop-in sessions",
        "street outreach",
    ),
    "RJ_VICTIMS": (
        "restorative justice conferencing",
        "victim support",
        "mediation",
        "victim-offender dialogue",
        "neighbourhood resolution panels",
    ),
    "YOUTH_DIVERSION": (
        "youth diversion",
        "county lines prevention",
        "early help",
        "detached youth work",
        "out of court disposals",
        "exploitation prevention",
        "sport and arts programmes",
        "rural outreach",
    ),
}
COHORT_WORDS = {
    "ADULTS": "adults on probation",
    "YOUNG_ADULTS": "young adults",
    "CYP": "children and young people",
    "WOMEN": "women",
    "FAMILIES": "families",
    "VICTIMS": "victims of crime",
    "CARE_LEAVERS": "care leavers",
}
CROSS_CUTTING = (
    "rural outreach",
    "lived experience",
    "people leaving prison",
    "care leavers",
    "county lines",
    "trauma-informed practice",
    "veterans",
    "Gypsy, Roma and Traveller communities",
    "Black and minoritised communities",
    "people with no fixed abode",
    "young women at risk of exploitation",
    "approved premises residents",
    "evening and weekend drop-ins",
    "home visits in rural villages",
)
OUTCOMES = (
    "moved into settled accommodation",
    "sustained their tenancy at six months",
    "started paid work",
    "completed a training course",
    "reduced their drug or alcohol use",
    "cleared or reduced priority debts",
    "did not reoffend within twelve months",
    "re-engaged with education",
    "reported feeling safer",
    "attended their first probation appointment",
    "registered with a GP",
)
EVALUATORS = (
    "Severnside Evidence Partnership",
    "Greyfriars Social Research",
    "the University of Worcester",
    "Harper Adams University",
    "an independent evaluation",
    "internal case reviews",
)

LANDSCAPE = (
    "Severn",
    "Teme",
    "Wye",
    "Lugg",
    "Malvern",
    "Clee",
    "Wrekin",
    "Stiperstones",
    "Long Mynd",
    "Bredon",
    "Abberley",
    "Clent",
    "Lickey",
    "Wyre",
    "Arrow",
    "Avon",
    "Corve",
    "Onny",
    "Hergest",
    "Ironbridge",
    "Marches",
    "Mercia",
    "Lenches",
    "Dinmore",
    "Stour",
    "Salwarpe",
    "Arden",
    "Clun",
    "Kemble",
    "Worfe",
    "Perry",
    "Rea",
    "Hadley",
    "Frome",
    "Leadon",
    "Monnow",
    "Titterstone",
    "Brown Clee",
    "Caynham",
    "Wenlock",
)
THEMES = (
    "Bridges",
    "Pathways",
    "Horizons",
    "Lantern",
    "Compass",
    "Harbour",
    "Threshold",
    "Keystone",
    "Open Door",
    "Fresh Start",
    "New Leaf",
    "Second Chance",
    "Steps",
    "Anchor",
    "Oak",
    "Beacon",
    "Hearth",
    "Waymark",
    "Crossroads",
    "Kindred",
    "Haven",
    "Lighthouse",
    "Springboard",
    "Turning Point",
    "Way Forward",
    "Cornerstone",
    "Footprints",
    "Rising",
    "Roots",
    "Connect",
)
KINDS = {
    "ACCOM": ("Housing", "Homes", "Shelter"),
    "ETE": ("Employment", "Skills", "Works"),
    "HEALTH": ("Wellbeing", "Minds"),
    "DRUGS": ("Recovery",),
    "FINANCE": ("Advice", "Money Advice"),
    "FAMILIES": ("Families", "Family Links"),
    "ATB": ("Mentoring", "Mentors"),
    "WOMEN_ABUSE": ("Women's Aid", "Women's Centre"),
    "WOMEN_SEXWORK": ("Outreach",),
    "RJ_VICTIMS": ("Restorative", "Mediation"),
    "YOUTH_DIVERSION": ("Youth", "Young People's Project"),
}
SUFFIXES = {
    "registered_charity": ("Trust", "Foundation", "", "Project"),
    "cio": ("CIO", "Trust", ""),
    "company_limited_by_guarantee": ("Ltd", "Partnership", "Network"),
    "unincorporated_association": ("Group", "Association", ""),
    "cic": ("CIC",),
    "public_service_mutual": ("Mutual", "Services"),
    "co_operative_society": ("Co-operative", "Co-op"),
    "community_benefit_society": ("Community Benefit Society", "Society"),
    "private_company": ("Ltd", "Services Ltd"),
    "public_body": ("Service",),
}
LEGAL_FORM_WEIGHTS = {
    "registered_charity": 30,
    "cio": 15,
    "company_limited_by_guarantee": 12,
    "unincorporated_association": 6,
    "cic": 14,
    "public_service_mutual": 3,
    "co_operative_society": 3,
    "community_benefit_society": 4,
    "private_company": 10,
    "public_body": 3,
}
THIRD_SECTOR = {"registered_charity", "cio", "company_limited_by_guarantee", "unincorporated_association"}
FUNDING = (
    "National Lottery Community Fund",
    "Police and Crime Commissioner grant",
    "local authority contract",
    "Commissioned Rehabilitative Services subcontract",
    "charitable trusts and foundations",
    "NHS integrated care board",
    "housing benefit",
    "corporate sponsorship",
    "individual donations",
    "trading income",
    "HMPPS dynamic framework",
    "Youth Endowment Fund",
    "Shared Prosperity Fund",
)
PREMISES_KINDS = (
    "Drop-in centre",
    "Head office",
    "Community hub",
    "Hostel",
    "Training kitchen",
    "Women's centre",
    "Recovery café",
    "Outreach base",
    "Shared house",
    "Advice centre",
    "Youth club",
    "Workshop",
)
# (size class weight, capacity range, income range, volunteers range)
SIZES = (
    (40, (10, 80), (8_000, 150_000), (0, 25)),
    (35, (50, 400), (100_000, 1_000_000), (3, 60)),
    (18, (200, 1_500), (1_000_000, 5_000_000), (10, 150)),
    (7, (1_000, 8_000), (5_000_000, 40_000_000), (20, 400)),
)
COMMON_ACCREDITATIONS = (
    ("cyber_essentials", 0.20),
    ("living_wage_employer", 0.15),
    ("investors_in_people", 0.10),
    ("iso_9001", 0.07),
)
PATHWAY_ACCREDITATIONS = {
    "ETE": ("matrix_standard", 0.35),
    "FINANCE": ("advice_quality_standard", 0.40),
    "WOMEN_ABUSE": ("leading_lights", 0.35),
    "RJ_VICTIMS": ("rsq", 0.40),
    "ATB": ("approved_provider_mentoring", 0.30),
}
SOCIAL_VALUE = (
    "lived_experience_staff",
    "local_supply_chain",
    "ex_offender_employment",
    "volunteering_pathway",
    "carbon_reduction",
    "community_reinvestment",
    "peer_mentoring",
    "accessible_services",
)
COUNTIES = (WORCESTERSHIRE, HEREFORDSHIRE, SHROPSHIRE, TELFORD)
WOMEN_PATHWAYS = ("WOMEN_ABUSE", "WOMEN_SEXWORK")
COMPLEXITY: tuple[Complexity, ...] = ("low", "medium", "high")
DELIVERY_MODES: dict[str, tuple[DeliveryMode, ...]] = {
    "ACCOM": ("residential", "outreach", "in_person"),
    "DRUGS": ("in_person", "outreach", "residential", "remote"),
    "HEALTH": ("in_person", "remote", "outreach"),
    "WOMEN_ABUSE": ("in_person", "outreach", "remote", "residential"),
    "WOMEN_SEXWORK": ("outreach", "in_person"),
    "YOUTH_DIVERSION": ("outreach", "in_person"),
}
DELIVERY_MODES.update({p: ("in_person", "outreach", "remote") for p in PATHWAY_WEIGHTS if p not in DELIVERY_MODES})
COST_UNITS: dict[str, tuple[CostUnit, ...]] = dict.fromkeys(
    PATHWAY_WEIGHTS, ("per_service_user", "per_service_user", "per_session", "per_hour")
)
COST_UNITS["YOUTH_DIVERSION"] = ("per_service_user", "per_session", "per_session")
COST_UNITS["ACCOM"] = ("per_service_user",)  # floating support; a residential service is costed per place
COST_RANGES = {
    "per_service_user": (150, 3_500),
    "per_place_per_year": (6_000, 48_000),
    "per_hour": (18, 95),
    "per_session": (15, 650),
}
PLACES_AS_OF = dt.date(YEAR, 11, 1)
ACCOUNT_YEAR_ENDS = tuple(dt.date(y, m, d) for y, m, d in ((2026, 3, 31),) * 5 + ((2025, 12, 31), (2025, 3, 31)))
CONTACTS = ("Referrals team", "Partnerships manager", "Service manager", "Chief executive", "Operations lead", "Office")


def _choice(rng: random.Random, seq: Sequence[T]) -> T:
    """rng.choice, in a quarter of the time (one random() call, no rejection sampling)."""
    return seq[int(rng.random() * len(seq))]


def _randint(rng: random.Random, a: int, b: int) -> int:
    return a + int(rng.random() * (b - a + 1))


def _sample(rng: random.Random, seq: Sequence[T], k: int) -> list[T]:
    """k distinct items (rng.sample without its checks: most of the generator's time went there)."""
    pool = list(seq)
    return [pool.pop(int(rng.random() * len(pool))) for _ in range(k)]


class _Picker:
    """Weighted choice by bisecting cumulative weights (faster than rng.choices for one item)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.items = list(weights)
        self.cum = list(accumulate(weights.values()))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> str:
        return self.items[bisect(self.cum, rng.random() * self.total)]


_PATHWAY = _Picker(PATHWAY_WEIGHTS)
_LEAF = _Picker(LEAF_WEIGHTS)
_LEGAL_FORM = _Picker(LEGAL_FORM_WEIGHTS)
_SIZE = _Picker({str(i): s[0] for i, s in enumerate(SIZES)})
_SERVICE_COUNT = _Picker({"1": 42, "2": 31, "3": 18, "4": 9})
SOURCES: tuple[EvidenceSource, ...] = (
    ("self_declared",) * 15 + ("independently_evaluated",) * 3 + ("commissioner_reported",) * 2
)
_COVERAGE_KIND = _Picker({"leaf": 45, "several": 18, "county": 15, "region": 12, "county_plus": 5, "unitaries": 5})


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _identifiers(rng: random.Random, i: int, legal_form: str) -> list[str]:
    """Unique per provider index (a different number range per scheme), matching the legal form's schemes."""
    chc, coh = f"GB-CHC-{1_000_000 + i}", f"GB-COH-{10_000_000 + i}"
    mpr = f"GB-MPR-RS{100_000 + i}" if i < 900_000 else None
    if legal_form == "registered_charity":
        return [chc, coh] if rng.random() < 0.4 else [chc]
    if legal_form == "cio":
        return [chc]
    if legal_form == "company_limited_by_guarantee":
        return [coh, chc] if rng.random() < 0.5 else [coh]
    if legal_form == "unincorporated_association":
        return [chc] if rng.random() < 0.5 else []
    if legal_form in ("cic", "private_company"):
        return [coh]
    if legal_form == "public_service_mutual":
        return [coh, mpr] if mpr and rng.random() < 0.3 else [coh]
    if legal_form in ("co_operative_society", "community_benefit_society"):
        return [mpr] if mpr else []
    return [f"GB-NHS-{_base36(46_656 + i)}"] if i < 60_000_000 else []  # public_body


def _coverage(rng: random.Random) -> list[str]:
    kind = _COVERAGE_KIND(rng)
    if kind == "leaf":
        return [_LEAF(rng)]
    if kind == "several":
        first = _LEAF(rng)
        pool = WORCS_DISTRICTS if first in WORCS_DISTRICTS else LEAVES
        return list(dict.fromkeys([first, *_sample(rng, pool, _randint(rng, 1, 2))]))
    if kind == "county":
        return [WORCESTERSHIRE]
    if kind == "region":
        return [WEST_MERCIA]
    if kind == "county_plus":
        return [WORCESTERSHIRE, _choice(rng, UNITARIES)]
    return _sample(rng, UNITARIES, _randint(rng, 2, 3))


def _leaves_of(coverage: list[str]) -> list[str]:
    out: list[str] = []
    for a in coverage:
        if a == WEST_MERCIA:
            out.extend(LEAVES)
        elif a == WORCESTERSHIRE:
            out.extend(WORCS_DISTRICTS)
        else:
            out.append(a)
    return out


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _service_areas(rng: random.Random, coverage: list[str]) -> list[str]:
    """A service's own areas within where the organisation works: often all of it, else a part (a county or some
    unitaries of the region, some districts of a county, some of several districts)."""
    if (len(coverage) == 1 and coverage[0] in LEAVES) or rng.random() < 0.45:
        return coverage
    if coverage == [WEST_MERCIA]:
        return _sample(rng, COUNTIES, _randint(rng, 1, 2))
    if coverage == [WORCESTERSHIRE]:
        return _sample(rng, WORCS_DISTRICTS, _randint(rng, 1, 3))
    return _sample(rng, coverage, _randint(rng, 1, len(coverage)))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` shared out between `parts` unevenly (a main service and smaller ones), each at least 1."""
    weights = [rng.uniform(0.3, 1.0) * (2.0 if k == 0 else 1.0) for k in range(parts)]
    whole = sum(weights)
    return [max(1, round(total * w / whole)) for w in weights]


def _eligibility(rng: random.Random, pathway: str, cohorts: list[str]) -> Eligibility:
    """Whom a service is for: women's services for women, youth services 10-17, young adults 18-25, adults 18+."""
    if pathway in WOMEN_PATHWAYS or cohorts == ["WOMEN"]:
        return Eligibility(min_age=_choice(rng, (16, 18)), gender="women")
    if "CYP" in cohorts:
        return Eligibility(min_age=10, max_age=_choice(rng, (17, 17, 18, 21, 25)) if len(cohorts) > 1 else 17)
    if cohorts == ["YOUNG_ADULTS"] or cohorts == ["YOUNG_ADULTS", "CARE_LEAVERS"]:
        return Eligibility(min_age=18, max_age=25)
    if "ADULTS" in cohorts and rng.random() < 0.7:
        return Eligibility(min_age=18, gender="men" if pathway == "ATB" and rng.random() < 0.1 else "both")
    return Eligibility()


def _outcomes(rng: random.Random, size: int, towns: list[str]) -> list[OutcomeRecord]:
    out = []
    for _ in range(_choice(rng, (1, 1, 2))):
        people = _randint(rng, 12, 60 * (size + 1) ** 2)
        source = _choice(rng, SOURCES)
        out.append(
            OutcomeRecord(
                outcome=_choice(rng, OUTCOMES),
                measure="% of people supported",
                period=_choice(rng, ("2024", "2025", "2025/26")),
                value=float(_randint(rng, 35, 92)),
                people=people,
                source=source,
                reference=f"{_choice(rng, EVALUATORS)}, {_choice(rng, towns)} ({_choice(rng, (2024, 2025))})"
                if source == "independently_evaluated"
                else "the commissioner's contract returns"
                if source == "commissioner_reported"
                else None,
            )
        )
    return out


def _service(
    rng: random.Random,
    pathway: str,
    areas: list[str],
    capacity: int | None,
    founded: int | None,
    size: int,
    accreditations: list[str],
) -> ServiceIn:
    options = PATHWAY_COHORTS[pathway]
    cohorts = _sample(rng, options, _randint(rng, 1, len(options)))
    offers = _sample(rng, SERVICES[pathway], min(len(SERVICES[pathway]), _randint(rng, 2, 3)))
    towns = [t for a in _leaves_of(areas) for t in TOWNS[a][:3]]
    who = _join([COHORT_WORDS[c] for c in cohorts])
    offer = _join(offers)
    text = (
        f"{offer[0].upper()}{offer[1:]} for {who} in {_choice(rng, towns)}"
        f"{' and ' + _choice(rng, towns) if len(towns) > 1 and rng.random() < 0.5 else ''}, "
        f"with a focus on {_choice(rng, CROSS_CUTTING)}."
    )
    if rng.random() < 0.5:
        text += (
            " Referrals from probation, the local authority and self-referral; "
            f"our plans cover {_choice(rng, CROSS_CUTTING)}."
        )
    name = f"{offers[0][0].upper()}{offers[0][1:]} — {_join([AREA_NAMES[a] for a in areas]).removeprefix('the ')}"
    modes = _sample(rng, DELIVERY_MODES[pathway], _randint(rng, 1, len(DELIVERY_MODES[pathway])))
    low = _randint(rng, 0, 2)
    complexity = list(COMPLEXITY[low : _randint(rng, low + 1, 3)]) if rng.random() < 0.85 else []
    cost = None
    if rng.random() < 0.75:
        unit: CostUnit = "per_place_per_year" if "residential" in modes else _choice(rng, COST_UNITS[pathway])
        low_cost, high_cost = COST_RANGES[unit]
        cost = Cost(amount=float(_randint(rng, low_cost, high_cost)), unit=unit)
    places = None
    if capacity and rng.random() < 0.2:
        places = ServiceCapacity(
            service_users_per_year=capacity,
            places_available=_randint(rng, 0, max(1, capacity // 10)),
            places_as_of=PLACES_AS_OF - dt.timedelta(days=_randint(rng, 0, 90)),
        )
    max_years = 40 if founded is None else min(40, YEAR - founded + 1)
    return ServiceIn(
        pathway=pathway,
        name=name[:200],
        description=text,
        cohorts=cohorts,
        areas=areas,
        eligibility=_eligibility(rng, pathway, cohorts),
        capacity=places or ServiceCapacity(service_users_per_year=capacity),
        delivery_modes=modes,
        complexity_levels=complexity,
        cost=cost,
        years_delivering=_randint(rng, 0, max_years),
        outcomes=_outcomes(rng, size, towns) if rng.random() < 0.4 + 0.1 * size else [],
        accreditations=[a for a in accreditations if PATHWAY_ACCREDITATIONS.get(pathway, ("",))[0] == a],
    )


def _one(rng: random.Random, i: int) -> NewProvider:
    legal_form = _LEGAL_FORM(rng)
    size = int(_SIZE(rng))
    _, cap_range, income_range, vol_range = SIZES[size]
    coverage = _coverage(rng)
    leaves = _leaves_of(coverage)
    towns = [t for a in dict.fromkeys(leaves) for t in TOWNS[a][:3]]
    home = _choice(rng, TOWNS[_choice(rng, leaves)])

    # The services: their pathways (sometimes one pathway twice, in different areas) and their own areas.
    plan: list[tuple[str, list[str]]] = []
    for _ in range(int(_SERVICE_COUNT(rng))):
        areas = _service_areas(rng, coverage)
        same = [p for p, a in plan if a != areas]
        pathway = _choice(rng, same) if same and rng.random() < 0.15 else _PATHWAY(rng)
        if not any(p == pathway and a == areas for p, a in plan):
            plan.append((pathway, areas))
    pathways = list(dict.fromkeys(p for p, _ in plan))

    main = pathways[0]
    suffix = _choice(rng, SUFFIXES[legal_form])
    if legal_form == "public_body":
        kind = _choice(rng, ("Youth Justice", "Community Safety", "Early Help", "Public Health"))
        name = f"{AREA_NAMES[_choice(rng, leaves)].removeprefix('the ')} {kind} Service"
    else:
        first = _choice(rng, LANDSCAPE) if rng.random() < 0.6 else home
        theme = _choice(rng, THEMES) if rng.random() < 0.5 else ""
        name = " ".join(w for w in (first, theme, _choice(rng, KINDS[main]), suffix) if w)
    founded = YEAR - min(int(rng.expovariate(1 / 16)), 120) if rng.random() < 0.92 else None

    area_words = _join([AREA_NAMES[a] for a in coverage])
    headline = _sample(rng, SERVICES[main], 2) + [_choice(rng, SERVICES[p]) for p in pathways[1:3]]
    description = (
        f"{name} is based in {home} and works with people on probation and their families across {area_words}, "
        f"offering {_join(headline)}."
    )
    if rng.random() < 0.6:
        description += f" We specialise in {_choice(rng, CROSS_CUTTING)} and {_choice(rng, CROSS_CUTTING)}."
    if rng.random() < 0.4:
        description += f" Most of our staff and volunteers live in {_choice(rng, towns)} and the surrounding villages."

    premises = [
        Premises(area=a, description=f"{_choice(rng, PREMISES_KINDS)}, {_choice(rng, TOWNS[a])}")
        for a in (_choice(rng, leaves) for _ in range(_choice(rng, (0, 1, 1, 1, 2, 2, 3))))
    ]
    accreditations = [code for code, p in COMMON_ACCREDITATIONS if rng.random() < p * (1 + 0.5 * size)]
    if legal_form in THIRD_SECTOR and rng.random() < 0.12:
        accreditations.append("trusted_charity")
    for p in pathways:
        if p in PATHWAY_ACCREDITATIONS:
            code, chance = PATHWAY_ACCREDITATIONS[p]
            if rng.random() < chance:
                accreditations.append(code)
    capacities: list[int | None] = [None] * len(plan)
    if rng.random() < 0.9:
        capacities = list(_split(rng, _randint(rng, *cap_range), len(plan)))
        if len(plan) > 1 and rng.random() < 0.15:
            capacities[-1] = None  # one service's capacity not given
    services = [
        _service(rng, pathway, areas, cap, founded, size, accreditations)
        for (pathway, areas), cap in zip(plan, capacities, strict=True)
    ]
    slug = "-".join(name.lower().replace("'", "").replace(",", "").split())[:60]
    income = _randint(rng, *income_range) if rng.random() < 0.92 else None
    year_end = ACCOUNT_YEAR_ENDS[_randint(rng, 0, len(ACCOUNT_YEAR_ENDS) - 1)] if income is not None else None
    return NewProvider(
        name=name,
        legal_form=legal_form,
        identifiers=_identifiers(rng, i, legal_form),
        description=description,
        website=f"https://{slug}-{i}.example.org" if rng.random() < 0.85 else None,
        founded_year=founded,
        contact=Contact(
            name=_choice(rng, CONTACTS),
            email=f"referrals@{slug}-{i}.example.org",
            phone=f"01632 {960000 + _randint(rng, 0, 999):06d}",
        )
        if rng.random() < 0.9
        else Contact(),
        resources=Resources(
            volunteers=_randint(rng, *vol_range),
            premises=premises,
            match_funding_per_year=_choice(rng, (0, 0, 0, 5_000, 10_000, 25_000, 50_000)) * (size + 1),
            other_funding_sources=_sample(rng, FUNDING, _randint(rng, 0, 2 + size)),
            partner_organisations=[
                f"{_choice(rng, LANDSCAPE)} {_choice(rng, THEMES)}" for _ in range(_randint(rng, 0, 4))
            ],
        ),
        finances=Finances(
            annual_income=income,
            reserves_months=round(rng.uniform(0, 9), 1) if income is not None and rng.random() < 0.85 else None,
            accounts_year_end=year_end,
            accounts_scrutiny=_scrutiny(rng, legal_form, income) if year_end is not None else None,
        ),
        accreditations=list(dict.fromkeys(accreditations)),
        social_value=_sample(rng, SOCIAL_VALUE, _choice(rng, (0, 0, 1, 1, 2, 3, 4))),
        services=services,
    )


def _scrutiny(rng: random.Random, legal_form: str, income: int | None) -> AccountsScrutiny:
    """Audited above £1m (charities) or for public bodies, independently examined below, mostly."""
    if legal_form == "public_body" or (income or 0) > 1_000_000:
        return "audited"
    if legal_form in THIRD_SECTOR or legal_form in ("co_operative_society", "community_benefit_society"):
        return "independently_examined" if (income or 0) > 25_000 or rng.random() < 0.5 else "unscrutinised"
    return "unscrutinised" if rng.random() < 0.7 else "independently_examined"


def _rng(seed: int, chunk: int) -> random.Random:
    return random.Random(seed * 1_000_003 + chunk)


def generate_range(start: int, stop: int, seed: int) -> list[NewProvider]:
    """Providers with indices start..stop-1 (ids start+1..stop); start must be a multiple of CHUNK."""
    if start % CHUNK:
        raise ValueError(f"start must be a multiple of {CHUNK}")
    out: list[NewProvider] = []
    for chunk_start in range(start, stop, CHUNK):
        rng = _rng(seed, chunk_start // CHUNK)
        out.extend(_one(rng, i) for i in range(chunk_start, min(chunk_start + CHUNK, stop)))
    return out


def generate(n: int, seed: int = 1) -> list[NewProvider]:
    return generate_range(0, n, seed)


def last_confirmed_days_ago(i: int, seed: int) -> int | None:
    """How long ago provider index i last confirmed its profile (None: never); about 15% are over a year (stale)."""
    h = random.Random(seed * 7_919 + i).random()
    if h < 0.05:
        return None
    return int((h - 0.05) / 0.95 * 500)


# The benchmarks' searches over the generated directory (bench/run.py over HTTP, bench/index_bench.py on the index
# alone): filters over the eleven West Mercia areas; typo'd free text that the vocabulary should correct.
FILTERS = [
    "pathway=ACCOM&area=E07000237",
    "pathway=ETE&area=E06000051",
    "pathway=FINANCE&area=E10000034",
    "pathway=DRUGS&area=E06000020&sector=third_sector",
    "pathway=WOMEN_ABUSE&area=E06000019",
    "pathway=YOUTH_DIVERSION&area=E06000051&cohort=CYP",
    "pathway=HEALTH&area=E07000239",
    "pathway=ATB&area=E07000236&accreditation=approved_provider_mentoring",
    "pathway=FAMILIES&area=E07000235",
    "pathway=RJ_VICTIMS&area=E23000016",
]
TYPO_QUERIES = [
    "q=acommodation&area=E07000237",
    "q=herefrodshire%20mentoring&pathway=ATB",
    "q=tenancy%20sustainmnet&pathway=ACCOM&area=E06000020",
    "q=debt%20advise&area=E06000019",
    "q=county%20lnes&pathway=YOUTH_DIVERSION",
    "q=care%20leavrs&pathway=ETE&area=E10000034",
    "q=rurl%20outreach&area=E06000051",
    "q=shrewsbry%20housing&pathway=ACCOM",
    "q=emploment%20kidderminster&area=E07000239",
    "q=domestc%20abuse&pathway=WOMEN_ABUSE",
]


if __name__ == "__main__":  # python bench/generate.py [N] [SEED]: print a few, with timing
    import sys
    import time

    import msgspec

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    t0 = time.perf_counter()
    profiles = generate(n, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    dt_ = time.perf_counter() - t0
    for p in profiles[:3]:
        print(msgspec.json.format(msgspec.json.encode(p)).decode())
    print(f"{n} profiles in {dt_:.2f} s", file=sys.stderr)
