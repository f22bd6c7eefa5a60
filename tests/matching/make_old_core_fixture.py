"""Writes ``old_core_rankings.json``: rankings made by the matching core as it was before services.

Kept for the record: it ran once, in the commit that added it (the core then still had ``Candidate.expertise``,
``coverage`` and ``capacity``; commit fa8c1e9 and before), and refuses to run against a core that reads
services. To make the fixture again, check that commit out and run ``.venv/bin/python
tests/matching/make_old_core_fixture.py``.

The fixture holds the candidates in their old shape (each with one expertise line, its coverage and its
capacity), the needs, and each ranking's numbers: counts, weights, every scored provider's total, criteria,
components and covered areas, and every exclusion's codes and details. ``test_matching_services.py`` ranks
each candidate turned into one service that says the same and checks that it scores exactly so.

Outcomes evidence is drawn from words that match no priority word: in the new core a service's outcomes
records count as text for local priorities (the old core did not read outcomes evidence as text).
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

import matching_factories as f

import matching

OUT = Path(__file__).with_name("old_core_rankings.json")
AS_OF = f.AS_OF
SEED = 20261101

PRIORITY_WORDS = ["housing", "tenancy", "support", "care", "leavers", "rural", "outreach", "mentoring", "women"]
OTHER_WORDS = ["hostel", "staffed", "worcester", "employment", "drugs", "recovery", "families", "the", "and"]
OUTCOME_WORDS = ["residents", "sustained", "evaluation", "percent", "months", "independently", "measured", "cohort"]
PATHWAYS = ["ACCOM", "ETE", "DRUGS"]
COHORTS = ["ADULTS", "YOUNG_ADULTS", "WOMEN", "CARE_LEAVERS"]
ACCREDITATIONS = ["iso_9001", "matrix_standard", "living_wage_employer", "trusted_charity"]


def text(rng: random.Random, words: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi))).capitalize()


def candidate(rng: random.Random, pid: int, codes: list[str]) -> dict[str, Any]:
    return {
        "provider_id": pid,
        "name": rng.choice(["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]) + f" {rng.randint(1, 4)}",
        "sector": rng.choice(["third_sector", "co_operative", "social_enterprise", "private"]),
        "legal_form": "charitable_company",
        "founded_year": rng.choice([None, rng.randint(1950, 2026)]),
        "expertise": [
            {
                "pathway": rng.choice([*PATHWAYS, "ACCOM"]),
                "cohorts": rng.sample(COHORTS, rng.randint(0, 3)),
                "years_experience": rng.choice([0, 1, 2, 3, 5, 8, 12.5]),
                "description": text(rng, PRIORITY_WORDS + OTHER_WORDS, 3, 12),
                "outcomes_evidence": rng.choice([None, "", text(rng, OUTCOME_WORDS, 3, 8)]),
            }
        ],
        "coverage": rng.sample(codes, rng.randint(0, 3)) + rng.choice([[], [f.WEST_MERCIA], [f.WORCESTERSHIRE]]),
        "capacity": rng.choice([None, 0, 20, 60, 100, 150, 400]),
        "annual_income": rng.choice([None, 0, 90_000, 500_000, 4_000_000]),
        "reserves_months": rng.choice([None, -1, 2, 6.5]),
        "accreditations": rng.sample(ACCREDITATIONS, rng.randint(0, 4)),
        "volunteers": rng.randint(0, 40),
        "premises_areas": rng.sample(codes, rng.randint(0, 2)),
        "match_funding_per_year": rng.choice([0, 5_000, 30_000]),
        "funding_sources": rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)),
        "partner_organisations": rng.sample(["P", "Q", "R"], rng.randint(0, 2)),
        "social_value": rng.sample(["lived_experience_staff", "local_supply_chain"], rng.randint(0, 2)),
        "resources_text": text(rng, PRIORITY_WORDS + OTHER_WORDS, 0, 10),
        "last_confirmed": rng.choice([None, (AS_OF - timedelta(days=rng.randint(0, 900))).isoformat()]),
    }


def need(rng: random.Random, k: int, codes: list[str]) -> dict[str, Any]:
    return {
        "id": f"need-{k}",
        "pathway": rng.choice(["ACCOM", "ACCOM", "ETE", "DRUGS"]),
        "areas": rng.sample(codes, rng.randint(1, 3)),
        "annual_volume": rng.choice([10, 60, 120, 400]),
        "annual_budget": rng.choice([50_000, 250_000, 1_000_000]),
        "cohorts": rng.sample(COHORTS, rng.randint(0, 2)),
        "contract_years": rng.choice([1, 3]),
        "required_accreditations": rng.sample(["iso_9001", "matrix_standard"], rng.choice([0, 0, 1])),
        "min_years_experience": rng.choice([0, 0, 0, 2]),
        "local_priorities": [
            {"text": text(rng, PRIORITY_WORDS, 1, 4), "weight": rng.choice([1, 2])} for _ in range(rng.randint(0, 2))
        ],
        "sector_preference": rng.choice([{}, {"third_sector": 1.0, "co_operative": 0.5}]),
    }


def project(r: matching.Ranking) -> dict[str, Any]:
    """The ranking's numbers, compactly: per scored provider its rank, id, total, covered areas and, per
    criterion, its score and components (name, raw, score); contributions are the weights times the scores."""
    return {
        "candidate_count": r.candidate_count,
        "eligible_count": r.eligible_count,
        "excluded_count": r.excluded_count,
        "excluded_by_reason": r.excluded_by_reason,
        "weights": r.weights.as_dict(),
        "scored": [
            {
                "rank": s.rank,
                "provider_id": s.provider_id,
                "total": s.total,
                "covered_areas": list(s.covered_areas),
                "criteria": {
                    c.criterion: [c.score, [[x.name, x.raw, x.score] for x in c.components]] for c in s.criteria
                },
            }
            for s in r.scored
        ],
        "excluded": [[e.provider_id, [[x.code, list(x.detail)] for x in e.reasons]] for e in r.excluded],
    }


def main() -> None:
    if "expertise" not in matching.Candidate.__struct_fields__:
        raise SystemExit("this script records the core before services (see its docstring)")
    rng = random.Random(SEED)
    tree = f.tree()
    codes = list(tree.codes)
    cands = [candidate(rng, pid, codes) for pid in range(1, 49)]
    decoded = [msgspec.convert(c, matching.Candidate) for c in cands]
    cases = []
    for k in range(12):
        n = need(rng, k, codes)
        limit = rng.choice([None, 5, 8])
        ranking = matching.rank(
            msgspec.convert(n, matching.Need), decoded, areas=tree, as_of=AS_OF, limit=limit, excluded_limit=None
        )
        cases.append({"need": n, "limit": limit, "ranking": project(ranking)})
    doc = {"made_with": "the matching core at commit fa8c1e9", "as_of": AS_OF.isoformat(), "candidates": cands}
    doc["cases"] = cases
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(cands)} candidates, {len(cases)} rankings, {OUT.stat().st_size:,} bytes")
    assert date.fromisoformat(doc["as_of"]) == AS_OF  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
