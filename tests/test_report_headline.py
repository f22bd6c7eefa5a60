"""A top candidate's strengths and weaknesses (marketplace.reports.build._headline): the matching core's, structured;
for runs stored before the core gave them, the core's own rule and thresholds applied to the stored scores."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

import matching
from marketplace.reports.build import _headline
from marketplace.reports.models import CriterionNote, Headline
from matching.explain import STRENGTH_MIN_SCORE, WEAKNESS_BELOW


def crit(name: str, weight: float, score: float, *evidence: str, summary: str = "") -> matching.CriterionScore:
    return matching.CriterionScore(
        criterion=name,
        weight=weight,
        score=score,
        contribution=weight * score,
        components=(),
        evidence=evidence,
        summary=summary,
    )


def candidate(
    *criteria: matching.CriterionScore, strengths: tuple[str, ...] = (), weaknesses: tuple[str, ...] = ()
) -> matching.ScoredCandidate:
    return matching.ScoredCandidate(
        rank=1,
        provider_id=42,
        name="Acme Trust",
        total=sum(c.contribution for c in criteria),
        criteria=criteria,
        covered_areas=(),
        strengths=strengths,
        weaknesses=weaknesses,
    )


def test_the_report_takes_the_core_s_strengths_and_sentences() -> None:
    h = _headline(
        candidate(
            crit("coverage", 0.2, 1.0, "E1: covered", summary="Covers everyone in the need's areas."),
            crit("capacity", 0.1, 0.9, summary="Can take the whole volume."),
            crit("quality", 0.1, 0.1, summary="No accreditation."),
            crit("pathway_fit", 0.6, 0.5, summary="Serves half the cohorts."),
            strengths=("capacity", "coverage"),  # the core's order is kept
            weaknesses=("quality",),
        ),
        "third_sector",
    )
    assert [s.criterion for s in h.strengths] == ["capacity", "coverage"]
    assert [w.criterion for w in h.weaknesses] == ["quality"]
    assert h.strengths[1] == CriterionNote(
        criterion="coverage",
        score=1.0,
        weight=0.2,
        contribution=0.2,
        evidence=["E1: covered"],
        summary="Covers everyone in the need's areas.",
        weight_percent=20.0,
    )


def test_a_poorly_scored_criterion_is_never_a_strength_however_heavy() -> None:
    # a run stored before the core gave strengths; financial viability contributes most (0.6 * 0.35 = 0.21) but
    # scores below the core's weakness threshold; quality (0.5) is neither
    h = _headline(
        candidate(
            crit("financial_viability", 0.6, 0.35, "contract is 80% of income -> 0.35"),
            crit("coverage", 0.2, 1.0, "Herefordshire: fully covered", "mean share -> 1.00"),
            crit("quality", 0.1, 0.5, "iso_9001 -> 0.50"),
            crit("capacity", 0.1, 0.9, "ratio 2.0 -> 0.90"),
        ),
        "third_sector",
    )
    assert [s.criterion for s in h.strengths] == ["coverage", "capacity"]  # largest contribution first
    assert "financial_viability" not in {s.criterion for s in h.strengths}
    assert [w.criterion for w in h.weaknesses] == ["financial_viability"]
    assert h.strengths[0] == CriterionNote(
        criterion="coverage",
        score=1.0,
        weight=0.2,
        contribution=0.2,
        evidence=["Herefordshire: fully covered", "mean share -> 1.00"],
        weight_percent=20.0,
    )
    assert (h.provider_id, h.name, h.sector) == (42, "Acme Trust", "third_sector")


def test_weaknesses_lowest_score_first_at_most_three_and_weighted_only() -> None:
    h = _headline(
        candidate(
            crit("pathway_fit", 0.2, 0.3),
            crit("coverage", 0.2, 0.1),
            crit("capacity", 0.1, 0.39),
            crit("quality", 0.3, 0.3),  # the same score as pathway fit: the core's order (criterion code) breaks ties
            crit("local_priorities", 0.0, 0.0),  # no weight: not a weakness (nor a strength)
            crit("added_value", 0.3, 0.2),
        ),
        "private",
    )
    assert [w.criterion for w in h.weaknesses] == ["coverage", "added_value", "pathway_fit"]
    assert [w.score for w in h.weaknesses] == sorted(w.score for w in h.weaknesses)
    assert h.strengths == []


def test_a_criterion_without_weight_is_neither() -> None:
    h = _headline(candidate(crit("local_priorities", 0.0, 1.0), crit("coverage", 1.0, 0.7)), "public")
    assert [s.criterion for s in h.strengths] == ["coverage"] and h.weaknesses == []


def test_the_threshold_is_inclusive_for_strengths() -> None:
    h = _headline(
        candidate(crit("coverage", 0.5, STRENGTH_MIN_SCORE), crit("capacity", 0.5, WEAKNESS_BELOW - 1e-4)), ""
    )
    assert [s.criterion for s in h.strengths] == ["coverage"]
    assert [w.criterion for w in h.weaknesses] == ["capacity"]
    assert h.weaknesses[0].score == WEAKNESS_BELOW - 1e-4  # not rounded up to the threshold in the JSON


def test_headline_encodes_as_structured_json() -> None:
    h = _headline(candidate(crit("coverage", 0.5, 1.0, "all covered"), crit("quality", 0.5, 0.2, "none")), "")
    data = msgspec.json.decode(msgspec.json.encode(h))
    assert data["strengths"] == [
        {
            "criterion": "coverage",
            "score": 1.0,
            "weight": 0.5,
            "contribution": 0.5,
            "evidence": ["all covered"],
            "summary": "",
            "weight_percent": 50.0,
        }
    ]
    assert data["weaknesses"][0]["criterion"] == "quality"
    assert msgspec.json.decode(msgspec.json.encode(h), type=Headline) == h


NAMES = matching.CRITERIA


@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.3]), st.floats(0, 1)),
        min_size=len(NAMES),
        max_size=len(NAMES),
    )
)
def test_strengths_and_weaknesses_follow_their_definition(pairs: list[tuple[float, float]]) -> None:
    criteria = [crit(name, w, s) for name, (w, s) in zip(NAMES, pairs, strict=True)]
    h = _headline(candidate(*criteria), "")
    strong = [c for c in criteria if c.weight > 0 and c.score >= STRENGTH_MIN_SCORE]
    weak = [c for c in criteria if c.weight > 0 and c.score < WEAKNESS_BELOW]
    assert len(h.strengths) == min(3, len(strong)) and len(h.weaknesses) == min(3, len(weak))
    assert all(s.score >= STRENGTH_MIN_SCORE and s.weight > 0 for s in h.strengths)
    assert all(w.score < WEAKNESS_BELOW and w.weight > 0 for w in h.weaknesses)
    assert not {s.criterion for s in h.strengths} & {w.criterion for w in h.weaknesses}
    contributions = [s.contribution for s in h.strengths]
    assert contributions == sorted(contributions, reverse=True)
    assert min(contributions, default=1) >= max(sorted((c.contribution for c in strong), reverse=True)[3:], default=0)
    scores = [w.score for w in h.weaknesses]
    assert scores == sorted(scores)
    assert max(scores, default=0) <= min(sorted(c.score for c in weak)[3:], default=1)
