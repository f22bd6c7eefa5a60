"""Benchmark for the matching core (not a test).

Run from the repo root:  python bench/rank_bench.py [--sizes 10000 20000 200000] [--repeat 5] [--impl DIR]

Generates synthetic candidates deterministically (seeded ``random.Random``) over
a synthetic national area tree that embeds West Mercia, in two shapes:

* (a) "plausible": every candidate offers the need's pathway and covers one of
  its areas - what the API gets after SQL pre-filtering on pathway + area. The
  need still requires an accreditation and 2 years' experience, so about half
  are eligible; "(a) all eligible" drops those two filters (worst case: every
  candidate is scored and its text scanned).
* (b) "mixed": a realistic mix where about 15% pass every hard filter.

and prints median timings of ``rank`` end-to-end from a plain ``list[Candidate]``
(what the API does per need), then, on the mixed data, of the whole directory as
one ``CompactPool`` (what each server worker keeps: its build, the memory it retains,
directory-mode rankings of a narrow and a broad need with the best 50 explained, and
``replace_rows``), of building a ``CandidatePool`` and ranking against it, JSON
encoding, and ``propose_partnerships`` on a small exercise.

``--impl DIR`` benchmarks the ``matching`` package found in DIR instead of this
checkout's (for before/after comparisons; only ``rank``, ``shortlist``, ``compact``,
``CandidatePool`` and ``propose_partnerships`` are used).
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
_parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 200_000])
_parser.add_argument("--repeat", type=int, default=5)
_parser.add_argument("--impl", type=Path, default=Path(__file__).resolve().parents[1])
_parser.add_argument("--skip-pool", action="store_true", help="only the plain-list scenarios")
_parser.add_argument("--skip-lists", action="store_true", help="only the CandidatePool scenarios")
_parser.add_argument("--skip-compact", action="store_true", help="no CompactPool (whole directory) scenarios")
ARGS = _parser.parse_args()
sys.path.insert(0, str(ARGS.impl.resolve()))

import msgspec  # noqa: E402

import matching  # noqa: E402
from matching import (  # noqa: E402
    AreaTree,
    Candidate,
    CandidatePool,
    Need,
    OutcomeRecord,
    Priority,
    Service,
    compact,
    propose_partnerships,
    rank,
    shortlist,
)

T = TypeVar("T")
AS_OF = date(2026, 11, 1)
_THESAURUS_FILE = Path(__file__).resolve().parents[1] / "seed_data" / "thesaurus.json"
EXTRA: dict[str, object] = (
    {"thesaurus": matching.Thesaurus(msgspec.json.decode(_THESAURUS_FILE.read_bytes())["groups"])}
    if hasattr(matching, "Thesaurus") and _THESAURUS_FILE.exists()
    else {}
)
"""The domain thesaurus, as the API passes it, when the core benchmarked takes one."""
WEST_MERCIA = "E23000016"
WORCESTERSHIRE = "E10000034"
WORCS = ("E07000234", "E07000235", "E07000236", "E07000237", "E07000238", "E07000239")
UNITARIES = ("E06000019", "E06000051", "E06000020")

DOMAIN_WORDS = [
    "accommodation",
    "housing",
    "tenancy",
    "hostel",
    "supported",
    "move-on",
    "homelessness",
    "prevention",
    "rough",
    "sleeping",
    "employment",
    "training",
    "education",
    "skills",
    "apprenticeship",
    "work",
    "placement",
    "CV",
    "interview",
    "volunteering",
    "mentoring",
    "health",
    "mental",
    "wellbeing",
    "GP",
    "registration",
    "counselling",
    "trauma",
    "informed",
    "psychology",
    "therapy",
    "drugs",
    "alcohol",
    "recovery",
    "substance",
    "misuse",
    "harm",
    "reduction",
    "detox",
    "rehab",
    "peer",
    "support",
    "finance",
    "debt",
    "benefits",
    "budgeting",
    "bank",
    "account",
    "money",
    "advice",
    "universal",
    "credit",
    "families",
    "children",
    "parenting",
    "relationships",
    "visits",
    "kinship",
    "carers",
    "young",
    "people",
    "thinking",
    "behaviour",
    "attitudes",
    "cognitive",
    "programme",
    "desistance",
    "motivation",
    "women",
    "abuse",
    "domestic",
    "violence",
    "coercive",
    "control",
    "refuge",
    "safety",
    "exploitation",
    "sex",
    "work",
    "restorative",
    "justice",
    "victims",
    "mediation",
    "conference",
    "harm",
    "repair",
    "youth",
    "diversion",
    "prevention",
    "outreach",
    "detached",
    "street",
    "sport",
    "arts",
    "care",
    "leavers",
    "rural",
    "county",
    "lines",
    "gangs",
    "prison",
    "release",
    "resettlement",
    "through",
    "the",
    "gate",
    "community",
    "local",
    "partnership",
    "coordination",
    "case",
    "management",
    "key",
    "work",
    "assessment",
]

# Taxonomies are data: the bench draws from its own lists (the matching core has none).
PATHWAYS = (
    "ACCOM",
    "ETE",
    "HEALTH",
    "DRUGS",
    "FINANCE",
    "FAMILIES",
    "ATB",
    "WOMEN_ABUSE",
    "WOMEN_SEXWORK",
    "RJ_VICTIMS",
    "YOUTH_DIVERSION",
)
COHORTS = ("ADULTS", "YOUNG_ADULTS", "CYP", "WOMEN", "FAMILIES", "VICTIMS", "CARE_LEAVERS")
SECTOR_WEIGHTS = (("third_sector", 55), ("social_enterprise", 15), ("co_operative", 5), ("private", 20), ("public", 5))
ACCREDITATIONS = (
    "trusted_charity",
    "matrix_standard",
    "investors_in_people",
    "cyber_essentials",
    "living_wage_employer",
    "disability_confident",
    "safer_recruitment",
)
SUFFIXES = ("Trust", "CIC", "Co-op", "Ltd", "Project")
SOCIAL_VALUE = ("lived_experience_staff", "local_supply_chain", "apprenticeships", "carbon_reduction_plan")


def build_tree(rng: random.Random, regions: int = 40) -> tuple[AreaTree, list[str]]:
    parents: dict[str, str | None] = {WEST_MERCIA: None, WORCESTERSHIRE: WEST_MERCIA}
    parents.update(dict.fromkeys(WORCS, WORCESTERSHIRE))
    parents.update(dict.fromkeys(UNITARIES, WEST_MERCIA))
    for r in range(regions):
        root = f"E239{r:05d}"
        parents[root] = None
        for c in range(3):
            county = f"E109{r:03d}{c:02d}"
            parents[county] = root
            for d in range(6):
                parents[f"E079{r:03d}{c}{d}"] = county
        for u in range(2):
            parents[f"E069{r:03d}{u:02d}"] = root
    return AreaTree(parents), sorted(parents)


def roots(tree: AreaTree) -> tuple[str, ...]:
    return tuple(code for code in tree.codes if tree.parent(code) is None)


def pseudo_words(rng: random.Random, n: int) -> list[str]:
    letters = string.ascii_lowercase
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def sentence(rng: random.Random, rare: list[str], lo: int, hi: int) -> str:
    out = [rng.choice(rare) if rng.random() < 0.3 else rng.choice(DOMAIN_WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(out).capitalize() + "."


def make_candidates(n: int, seed: int, codes: list[str], *, plausible: bool) -> list[Candidate]:
    """``plausible``: all offer NEED's pathway in one of its areas; else ~15% end up eligible for NEED.

    Each candidate has 1 to 4 services (2.5 on average), each in one pathway, in one to three areas of its
    own (around the organisation's patch), with its own cohorts, capacity (85% state one), years, description,
    outcomes records (half have one or two) and, for some, an age range, men or women only, accreditations.
    """
    rng = random.Random(seed)
    rare = pseudo_words(rng, 20_000)
    west_mercia = [WEST_MERCIA, WORCESTERSHIRE, *WORCS, *UNITARIES]
    need_areas = [WEST_MERCIA, WORCESTERSHIRE, *WORCS, "E06000019"]  # each covers some of NEED's areas
    sectors = [s for s, w in SECTOR_WEIGHTS for _ in range(w)]
    out = []
    for i in range(n):
        local = rng.random() < 0.25
        patch = [rng.choice(west_mercia if local else codes) for _ in range(rng.randint(1, 3))]
        services = []
        for k in range(rng.choice((1, 1, 2, 2, 3, 3, 4, 4))):
            lo = rng.choice((None, None, None, 16, 18, 25))
            services.append(
                Service(
                    service_id=10 * i + k,
                    pathway=rng.choice(PATHWAYS),
                    name=f"{rng.choice(DOMAIN_WORDS).capitalize()} {rng.choice(rare)}",
                    cohorts=tuple(rng.sample(COHORTS, rng.randint(1, 3))),
                    areas=tuple(rng.sample(patch, rng.randint(1, len(patch)))),
                    capacity=rng.randint(5, 300) if rng.random() < 0.85 else None,
                    min_age=lo,
                    max_age=rng.choice((None, None, 25, 64)) if lo is None or lo < 25 else None,
                    gender=rng.choice(("both", "both", "both", "both", "men", "women")),
                    years_experience=rng.randint(0, 20),
                    description=sentence(rng, rare, 8, 20),
                    outcomes=tuple(
                        OutcomeRecord(outcome=sentence(rng, rare, 2, 4), measure="share", value=rng.randint(30, 90))
                        for _ in range(rng.choice((0, 0, 1, 2)))
                    ),
                    accreditations=("matrix_standard",) if rng.random() < 0.1 else (),
                )
            )
        offers = plausible or rng.random() < 0.45
        if offers and all(s.pathway != NEED.pathway for s in services):
            services[0] = msgspec.structs.replace(services[0], pathway=NEED.pathway)
        elif not offers:
            services = [s for s in services if s.pathway != NEED.pathway] or [
                msgspec.structs.replace(services[0], pathway="ETE")
            ]
        if plausible or rng.random() < 0.6:
            first = next(k for k, s in enumerate(services) if s.pathway == NEED.pathway or not offers)
            services[first] = msgspec.structs.replace(
                services[first], areas=(rng.choice(need_areas), *services[first].areas[1:])
            )
        accreditations = rng.sample(ACCREDITATIONS, rng.randint(0, 3))
        if rng.random() < 0.6:
            accreditations.insert(rng.randint(0, len(accreditations)), "iso_9001")
        out.append(
            Candidate(
                provider_id=i + 1,
                name=" ".join(
                    (rng.choice(rare).capitalize(), rng.choice(DOMAIN_WORDS).capitalize(), rng.choice(SUFFIXES))
                ),
                sector=rng.choice(sectors),
                founded_year=rng.randint(1950, 2025) if rng.random() < 0.9 else None,
                services=tuple(services),
                annual_income=rng.randint(50_000, 20_000_000) if rng.random() < 0.9 else None,
                reserves_months=round(rng.uniform(-1, 12), 1) if rng.random() < 0.8 else None,
                accreditations=tuple(accreditations),
                volunteers=rng.randint(0, 200),
                premises_areas=tuple(rng.choice(west_mercia if local else codes) for _ in range(rng.randint(0, 2))),
                match_funding_per_year=rng.choice((0, 0, 5_000, 20_000, 50_000)),
                funding_sources=tuple(
                    rng.sample(("lottery", "council", "trusts", "nhs", "pcc", "donations"), rng.randint(0, 4))
                ),
                partner_organisations=tuple(rng.choice(rare).capitalize() for _ in range(rng.randint(0, 4))),
                social_value=tuple(rng.sample(SOCIAL_VALUE, rng.randint(0, 3))),
                resources_text=sentence(rng, rare, 10, 30),
                last_confirmed=AS_OF - timedelta(days=rng.randint(0, 1000)) if rng.random() < 0.9 else None,
            )
        )
    return out


NEED = Need(
    id="bench-accom",
    pathway="ACCOM",
    cohorts=("ADULTS", "CARE_LEAVERS"),
    areas=(WORCESTERSHIRE, "E06000019"),
    annual_volume=120,
    annual_budget=300_000,
    contract_years=3,
    required_accreditations=("iso_9001",),
    min_years_experience=2,
    local_priorities=(
        Priority("supported housing for care leavers", 2),
        Priority("rural outreach", 1),
        Priority("trauma informed mental health", 1),
    ),
    sector_preference={"third_sector": 1.0, "co_operative": 0.8, "social_enterprise": 0.8},
)


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result  # type: ignore[return-value]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_lists(n: int, repeat: int, tree: AreaTree, codes: list[str]) -> list[Candidate]:
    """rank() end-to-end from a plain list of candidates; returns the mixed list."""
    open_need = msgspec.structs.replace(NEED, id="bench-open", required_accreditations=(), min_years_experience=0)
    mixed: list[Candidate] = []
    for label, plausible in (("(a) plausible", True), ("(b) mixed", False)):
        if ARGS.skip_lists and plausible:
            continue
        t0 = time.perf_counter()
        cands = make_candidates(n, seed=20261101 + n + plausible, codes=codes, plausible=plausible)
        if ARGS.skip_lists:
            return cands
        print(f"\n== {n:,} candidates, {label} (generated in {time.perf_counter() - t0:.1f} s, not timed)")
        needs = [(NEED, "")] + ([(open_need, " all eligible")] if plausible else [])
        for need, tag in needs:
            for xl in (50, None):
                t, r = timed(
                    lambda n=need, c=cands, x=xl: rank(
                        n, c, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=x
                    ),
                    repeat,
                )
                print(
                    f"  rank(list, limit=50, excluded_limit={xl!s:4}){tag:13} {ms(t)}  "
                    f"eligible {r.eligible_count:,} ({r.eligible_count / n:.0%}), excluded {r.excluded_count:,}"
                )
        if not plausible:
            mixed = cands
    return mixed


def bench_pool(cands: list[Candidate], repeat: int, tree: AreaTree) -> CandidatePool:
    n = len(cands)
    print(f"\n== {n:,} candidates, (b) mixed, as a prebuilt CandidatePool")
    t_pool, pool = timed(lambda: CandidatePool.build(cands, tree), max(1, repeat // 2))
    print(f"  CandidatePool.build                       {ms(t_pool)}  (once per snapshot)")
    t_rank, ranking = timed(lambda: rank(NEED, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50), repeat)
    print(
        f"  rank(pool, limit=50)                      {ms(t_rank)}  "
        f"eligible {ranking.eligible_count:,}, excluded {ranking.excluded_count:,} (all listed)"
    )
    t_rank2, _ = timed(lambda: rank(NEED, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=50), repeat)
    print(f"  rank(pool, limit=50, excluded_limit=50)   {ms(t_rank2)}")
    broad = msgspec.structs.replace(
        NEED, id="bench-broad", areas=roots(tree), required_accreditations=(), min_years_experience=0
    )
    t_first, wide = timed(lambda: rank(broad, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=50), 1)
    t_broad, wide = timed(
        lambda: rank(broad, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=50), repeat
    )
    print(
        f"  rank(pool, limit=50, excluded_limit=50)   {ms(t_broad)}  national need, no accreditation/experience "
        f"filter: eligible {wide.eligible_count:,} (first call {ms(t_first).strip()}: may index the pool's text)"
    )
    t_json, blob = timed(lambda: msgspec.json.encode(ranking), repeat)
    print(f"  msgspec.json.encode(ranking)              {ms(t_json)}  ({len(blob) / 1e6:.1f} MB)")
    top = ranking.scored[0]
    print(f"  top: {top.name!r} total {top.total:.4f}")
    return pool


def bench_partnerships(pool: CandidatePool, tree: AreaTree, repeat: int) -> None:
    needs = [
        msgspec.structs.replace(NEED, id="accom", areas=(WEST_MERCIA,)),
        msgspec.structs.replace(NEED, id="ete", pathway="ETE", areas=(WORCESTERSHIRE, "E06000051")),
        msgspec.structs.replace(
            NEED, id="drugs", pathway="DRUGS", areas=("E06000019", "E06000020"), required_accreditations=()
        ),
        msgspec.structs.replace(NEED, id="women", pathway="WOMEN_ABUSE", cohorts=("WOMEN",), areas=(WEST_MERCIA,)),
    ]
    t_rank, rankings = timed(
        lambda: [rank(nd, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=0) for nd in needs], repeat
    )
    t_plan, plan = timed(lambda: propose_partnerships(needs, rankings, areas=tree, max_options=3), repeat)
    print(f"\n== partnerships: {len(needs)} needs, {len(plan.cells)} cells, shortlists of 50 from {len(pool):,}")
    print(f"  rank x{len(needs)} (limit=50)                     {ms(t_rank)}")
    print(f"  propose_partnerships                      {ms(t_plan)}")
    for opt in plan.options:
        print(
            f"  option {opt.rank}: lead {opt.lead.name!r} + {len(opt.partners)} partner(s), "
            f"{opt.covered_cell_count}/{len(plan.cells)} cells, total {opt.total_score:.2f}"
        )
    print(f"  uncovered cells: {len(plan.uncovered)}")


def bench_compact(cands: list[Candidate], repeat: int, tree: AreaTree) -> None:
    """The whole directory as one CompactPool, as each server worker keeps it (marketplace/exercises/pools.py):
    built in parts of 10,000 and concatenated; ranked in directory mode, the best 50 explained; rows replaced."""
    n = len(cands)
    print(f"\n== {n:,} candidates, (b) mixed, as one CompactPool (the whole directory)")

    def build() -> compact.CompactPool:
        parts = [compact.build_compact(cands[k : k + 10_000], tree) for k in range(0, n, 10_000)]
        return compact.concat(parts, tree)

    t_build, pool = timed(build, 1)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    again = build()
    size = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del again
    print(f"  build_compact x{-(-n // 10_000)} + concat              {ms(t_build)}  retained {size / 2**20:.1f} MiB")
    details = {c.provider_id: c for c in cands}
    broad = msgspec.structs.replace(
        NEED, id="bench-broad", areas=roots(tree), required_accreditations=(), min_years_experience=0
    )
    for label, need in (("narrow", NEED), ("broad", broad)):

        def run(need: Need = need) -> tuple[float, float, int]:
            t0 = time.perf_counter()
            short = shortlist(
                need, pool, areas=tree, as_of=AS_OF, **EXTRA, limit=50, excluded_limit=200, directory=True
            )
            t1 = time.perf_counter()
            ranking = short.explain({pid: details[pid] for pid in short.provider_ids})
            return t1 - t0, time.perf_counter() - t1, ranking.eligible_count

        runs = [run() for _ in range(repeat)]
        t_short = statistics.median(r[0] for r in runs)
        t_explain = statistics.median(r[1] for r in runs)
        t_all = statistics.median(r[0] + r[1] for r in runs)
        print(
            f"  shortlist(directory) + explain 50, {label:6} {ms(t_all)}  (shortlist {ms(t_short).strip()}, "
            f"explain {ms(t_explain).strip()}; assessed eligible {runs[0][2]:,})"
        )
    rng = random.Random(3)
    changed = [
        msgspec.structs.replace(c, resources_text=c.resources_text + " tenancy sustainment")
        for c in rng.sample(cands, 20)
    ]
    t_replace, _ = timed(lambda: compact.replace_rows(pool, [c.provider_id for c in changed], changed), repeat)
    print(f"  replace_rows (20 providers changed)       {ms(t_replace)}")


def main() -> None:
    tree, codes = build_tree(random.Random(7))
    print(f"matching from {ARGS.impl.resolve()}")
    print(f"area tree: {len(tree)} areas; need {NEED.pathway} in {', '.join(NEED.areas)}; 3 local priorities")
    print(f"median of {ARGS.repeat} runs")
    mixed = [bench_lists(n, ARGS.repeat, tree, codes) for n in ARGS.sizes]
    if not ARGS.skip_compact:
        for cands in mixed:
            bench_compact(cands, ARGS.repeat, tree)
    if ARGS.skip_pool:
        return
    pools = [bench_pool(cands, ARGS.repeat, tree) for cands in mixed]
    bench_partnerships(pools[0], tree, ARGS.repeat)


if __name__ == "__main__":
    main()
