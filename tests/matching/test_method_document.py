"""METHOD.md is kept true: every keyed number in it equals the code's, and every number the code has a key for is in
it. The keyed rows are table rows whose first cell is a key in backticks (`| `weight.quality` | 15 | ... |`).
Component weights are read from a real ranking (what a match run records), the half-life of each h curve from the
components' raw values and scores, so a change to a literal in the scoring code fails here too."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matching_factories as f
import pytest

import matching
from marketplace.reports import build
from marketplace.reports.models import NOTES_PER_CANDIDATE, SUITABLE_SCORE, Thresholds
from matching import curves, explain, priorities, scoring, text, thesaurus, wordscan
from matching.weights import PERCENT_TOLERANCE

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "METHOD.md"
ROW = re.compile(r"^\|\s*`([a-z0-9_.]+)`\s*\|\s*([^|]+?)\s*\|")


def keyed(document: str) -> dict[str, str]:
    """{key: value as written} for every keyed table row (a key written twice fails)."""
    found: dict[str, str] = {}
    for line in document.splitlines():
        if m := ROW.match(line):
            assert m.group(1) not in found, f"{m.group(1)} twice in METHOD.md"
            found[m.group(1)] = m.group(2)
    return found


def number(value: str) -> float | str:
    value = value.strip()
    if value.startswith("`") and value.endswith("`"):
        return value.strip("`")
    return float(value.replace(",", ""))


def ranked(**need_changes: object) -> matching.ScoredCandidate:
    """A provider with something of everything, so every component has a raw value above 0."""
    cand = f.candidate(1)
    return matching.rank(f.need(**need_changes), [cand], areas=f.people_tree(), as_of=f.AS_OF).scored[0]


def components(s: matching.ScoredCandidate, prefix: str = "component") -> dict[str, float]:
    return {
        f"{prefix}.{c.criterion}.{k.name}": k.weight
        for c in s.criteria
        if c.criterion != "local_priorities"  # its components are the need's priorities, not the method's
        for k in c.components
    }


HALF_LIFE = {  # (criterion, component) read through h(x, half)
    ("quality", "quality_accreditations"),
    ("quality", "years_in_pathway"),
    ("added_value", "match_funding_to_budget"),
    ("added_value", "volunteers"),
    ("added_value", "premises_in_need_areas"),
    ("added_value", "partner_organisations"),
    ("social_value", "social_value_commitments"),
    ("sustainability", "years_operating"),
    ("sustainability", "funding_sources"),
}


def halves(s: matching.ScoredCandidate) -> dict[str, float]:
    """The half of each h curve, solved from a component's raw value and score: score = 1 - 2^(-raw/half)."""
    out: dict[str, float] = {}
    for c in s.criteria:
        for k in c.components:
            if (c.criterion, k.name) in HALF_LIFE:
                assert k.raw is not None and k.raw > 0 and 0 < k.score < 1, (c.criterion, k)
                out[f"half.{c.criterion}.{k.name}"] = -k.raw / math.log2(1 - k.score)
    return out


def code_values() -> dict[str, float | str]:
    population = json.loads((ROOT / "seed_data" / "population.json").read_text())
    groups = json.loads((ROOT / "seed_data" / "thesaurus.json").read_text())["groups"]
    rounded_to = 1000 if all(v % 1000 == 0 for v in population["areas"].values()) else 1
    t = Thresholds(suitable_score=SUITABLE_SCORE)
    with_preference = ranked(sector_preference={"third_sector": 1.0})
    no_preference = ranked(sector_preference={})
    values: dict[str, float | str] = {
        "algorithm.version": matching.ALGORITHM_VERSION,
        **{f"weight.{k}": v * 100 for k, v in matching.DEFAULT_CRITERION_WEIGHTS.items()},
        "weights.percent_tolerance": PERCENT_TOLERANCE,
        **components(with_preference),
        **{
            k.replace("component.social_value.", "component.social_value.no_preference."): v
            for k, v in components(no_preference).items()
            if k.startswith("component.social_value.")
        },
        **halves(with_preference),
        "capacity.at_volume": curves.CAPACITY_AT_VOLUME,
        "capacity.full_at_ratio": full_capacity_ratio(),
        "capacity.unknown": scoring.UNKNOWN_CAPACITY,
        "finance.dependency_half": curves.DEPENDENCY_HALF,
        "finance.reserves_full_months": curves.RESERVES_FULL_MONTHS,
        "finance.unknown": scoring.UNKNOWN_FINANCE,
        "priorities.word_cutoff": text.WORD_CUTOFF,
        "priorities.together_share": priorities.TOGETHER_SHARE,
        "priorities.phrase_exponent": priorities.PHRASE_EXPONENT,
        "priorities.max_variants": thesaurus.MAX_VARIANTS,
        "priorities.min_word_length": text.MIN_WORD_LENGTH,
        "priorities.sentence_bits": wordscan.SENTENCE_BITS,
        "sustainability.fresh_months": curves.FRESH_MONTHS,
        "sustainability.stale_half_life_months": curves.STALE_HALF_LIFE_MONTHS,
        "strength.min_score": explain.STRENGTH_MIN_SCORE,
        "weakness.below": explain.WEAKNESS_BELOW,
        "report.suitable_score": t.suitable_score,
        "report.limited_market_max": t.limited_market_max,
        "report.stale_after_months": t.stale_after_months,
        "report.top_candidates": build.TOP_CANDIDATES,
        "report.notes_per_candidate": NOTES_PER_CANDIDATE,
        "hhi.unconcentrated_below": matching.market.HHI_UNCONCENTRATED_BELOW,
        "hhi.highly_concentrated_above": matching.market.HHI_HIGHLY_CONCENTRATED_ABOVE,
        "data.population.year": population["year"],
        "data.population.rounded_to": rounded_to,
        "data.thesaurus.groups": len(groups),
        "evidence.self_declared_factor": scoring.SELF_DECLARED_FACTOR,
        "evidence.desired_outcomes_share": scoring.DESIRED_OUTCOMES_SHARE,
    }
    return values


def full_capacity_ratio() -> float:
    """The capacity / volume ratio at which the capacity curve first reaches 1 (found on a fine grid)."""
    ratios = [k / 100 for k in range(1001)]
    return next(r for r in ratios if float(curves.capacity_curve(r)) >= 1.0)


def test_every_keyed_number_in_the_method_is_the_code_s_and_every_one_is_there() -> None:
    written = {k: number(v) for k, v in keyed(DOCUMENT.read_text()).items()}
    expected = code_values()
    assert sorted(set(expected) - set(written)) == [], "numbers the code has and METHOD.md does not"
    assert sorted(set(written) - set(expected)) == [], "numbers METHOD.md has and the test does not know"
    for key, value in expected.items():
        if isinstance(value, str):
            assert written[key] == value, key
        else:
            assert written[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_the_component_weights_of_each_criterion_add_up_to_one_in_the_document_too() -> None:
    written = {k: number(v) for k, v in keyed(DOCUMENT.read_text()).items()}
    sums: dict[str, float] = {}
    for k, v in written.items():
        if k.startswith("component.") and isinstance(v, float):
            group = k.rsplit(".", 1)[0]
            sums[group] = sums.get(group, 0.0) + v
    assert sums and all(s == pytest.approx(1.0) for s in sums.values()), sums


def test_the_default_percentages_sum_to_100_and_the_document_says_what_a_need_without_priorities_uses() -> None:
    doc = DOCUMENT.read_text()
    written = keyed(doc)
    assert sum(float(written[f"weight.{c}"]) for c in matching.CRITERIA) == pytest.approx(100)
    without = matching.weights.effective_weights(matching.DEFAULT_WEIGHTS, None, has_priorities=False)
    assert f"pathway fit then counts {without.percentages()['pathway_fit']:.1f} %" in doc


def test_the_document_fails_when_a_number_changes(tmp_path: Path) -> None:
    """The check can fail: a document with one number changed, or one row gone, does not pass."""
    doc = DOCUMENT.read_text()
    changed = doc.replace("| `capacity.at_volume` | 0.85 |", "| `capacity.at_volume` | 0.8 |")
    assert changed != doc
    assert number(keyed(changed)["capacity.at_volume"]) != pytest.approx(code_values()["capacity.at_volume"])
    gone = "\n".join(line for line in doc.splitlines() if "`weakness.below`" not in line)
    assert "weakness.below" not in keyed(gone)


def test_the_readme_links_the_method() -> None:
    assert "(METHOD.md)" in (ROOT / "README.md").read_text()
    assert "METHOD.md" in (ROOT / "matching" / "README.md").read_text()
