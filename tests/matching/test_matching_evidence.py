"""Evidence strength and desired outcomes (issue 12, items 4 and 5): verified evidence counts in full,
self-declared at ``SELF_DECLARED_FACTOR``; a need's desired outcomes are matched against the outcomes records that
name them; the explanation says which evidence is which."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import matching_factories as f
import msgspec
from hypothesis import given
from hypothesis import strategies as st
from matching_factories import crit
from test_matching_properties import SETTINGS, TREE, candidate_lists, needs

from matching import (
    Candidate,
    CandidatePool,
    DesiredOutcome,
    Need,
    OutcomeRecord,
    Priority,
    Ranking,
    ScoredCandidate,
    Service,
    compact,
    rank,
    shortlist,
)
from matching.scoring import DESIRED_OUTCOMES_SHARE, SELF_DECLARED_FACTOR
from matching.vocab import SOCIAL_VALUE_ACCREDITATIONS

replace = msgspec.structs.replace


def comp(sc: ScoredCandidate, criterion: str, component: str) -> float:
    return next(c.raw for c in crit(sc, criterion).components if c.name == component)  # type: ignore[return-value]


def ranked(need: Need, cands: list[Candidate]) -> Ranking:
    return rank(need, cands, areas=TREE, as_of=f.AS_OF, limit=None, excluded_limit=0)


def totals(r: Ranking) -> dict[int, float]:
    return {s.provider_id: s.total for s in r.scored}


def verify_all(c: Candidate) -> Candidate:
    services = tuple(
        replace(
            s, verified_accreditations=s.accreditations, outcomes=tuple(replace(o, verified=True) for o in s.outcomes)
        )
        for s in c.services
    )
    return replace(c, verified_accreditations=c.accreditations, services=services)


# -- the numbers -------------------------------------------------------------------------------------


def test_verified_evidence_counts_in_full_and_self_declared_at_the_discount() -> None:
    plain = f.candidate(1, accreditations=("iso_9001",), social_value=())
    checked = verify_all(replace(plain, provider_id=2, name="Checked"))
    r = ranked(f.need(), [plain, checked])
    by = {s.provider_id: s for s in r.scored}
    assert comp(by[1], "quality", "quality_accreditations") == SELF_DECLARED_FACTOR
    assert comp(by[2], "quality", "quality_accreditations") == 1.0
    assert comp(by[1], "quality", "outcomes_evidence") == SELF_DECLARED_FACTOR
    assert comp(by[2], "quality", "outcomes_evidence") == 1.0
    assert by[2].total > by[1].total
    assert [s.provider_id for s in r.scored] == [2, 1]


def test_a_verification_of_a_code_not_held_counts_for_nothing() -> None:
    cand = f.candidate(1, accreditations=("iso_9001",), verified_accreditations=("matrix_standard",), social_value=())
    sc = ranked(f.need(), [cand]).scored[0]
    assert comp(sc, "quality", "quality_accreditations") == SELF_DECLARED_FACTOR


def test_an_accreditation_verified_on_a_service_is_verified_for_the_organisation_holding_it_too() -> None:
    cand = f.candidate(
        1,
        accreditations=("iso_9001",),
        social_value=(),
        service_changes={"accreditations": ("iso_9001",), "verified_accreditations": ("iso_9001",)},
    )
    sc = ranked(f.need(), [cand]).scored[0]
    assert comp(sc, "quality", "quality_accreditations") == 1.0
    assert "1 quality accreditation, 1 verified: iso_9001 (verified)" in crit(sc, "quality").evidence[0]


def test_desired_outcomes_are_matched_against_the_records_naming_them() -> None:
    need = f.need(
        desired_outcomes=(
            DesiredOutcome("ACC_OBTAIN", "obtains suitable accommodation"),
            DesiredOutcome("ACC_KEEP", "keeps accommodation"),
            DesiredOutcome("ACC_HOMELESS", "prevented from becoming homeless"),
        )
    )
    records = (
        f.outcome(desired_outcomes=("ACC_OBTAIN",), verified=True),
        f.outcome(outcome="Tenancies kept", desired_outcomes=("ACC_KEEP", "NOT_ASKED")),
    )
    sc = ranked(need, [f.candidate(1, service_changes={"outcomes": records})]).scored[0]
    met = (1.0 + SELF_DECLARED_FACTOR + 0.0) / 3
    expected = (1 - DESIRED_OUTCOMES_SHARE) * 1.0 + DESIRED_OUTCOMES_SHARE * met
    assert abs(comp(sc, "quality", "outcomes_evidence") - expected) < 1e-12
    line = crit(sc, "quality").evidence[1]
    assert "2 records, 1 verified" in line
    assert (
        "evidences 2 of the 3 desired outcomes: obtains suitable accommodation (verified), keeps accommodation "
        "(self-declared); none for prevented from becoming homeless"
    ) in line
    assert "evidencing 2 of the 3 desired outcomes" in crit(sc, "quality").summary
    none = ranked(need, [f.candidate(1)]).scored[0]  # records naming none of them: half the outcomes evidence
    assert comp(none, "quality", "outcomes_evidence") == (1 - DESIRED_OUTCOMES_SHARE) * SELF_DECLARED_FACTOR
    assert "evidences 0 of the 3 desired outcomes; none for" in crit(none, "quality").evidence[1]


def test_the_three_kinds_of_pool_agree_on_verification_and_desired_outcomes() -> None:
    need = f.need(desired_outcomes=(DesiredOutcome("ACC_OBTAIN"), DesiredOutcome("ACC_KEEP")))
    cands = [
        f.candidate(1, service_changes={"outcomes": (f.outcome(desired_outcomes=("ACC_OBTAIN",), verified=True),)}),
        f.candidate(2, verified_accreditations=("iso_9001",)),
        f.candidate(3, service_changes={"outcomes": (f.outcome(desired_outcomes=("ACC_KEEP",)),)}),
    ]
    listed = msgspec.json.encode(ranked(need, cands))
    full = rank(need, CandidatePool.build(cands, TREE), areas=TREE, as_of=f.AS_OF, limit=None, excluded_limit=0)
    assert msgspec.json.encode(full) == listed
    short = shortlist(need, compact.build_compact(cands, TREE), areas=TREE, as_of=f.AS_OF, limit=None, excluded_limit=0)
    assert msgspec.json.encode(short.explain({c.provider_id: c for c in cands})) == listed


# -- properties --------------------------------------------------------------------------------------


@st.composite
def one_verified(draw: st.DrawFn, cands: list[Candidate]) -> tuple[int, Candidate]:
    """A candidate of ``cands`` with one more of its accreditations or outcomes records verified."""
    k = draw(st.integers(0, len(cands) - 1))
    c = cands[k]
    choices: list[str] = ["org"] if c.accreditations else []
    choices += [f"acc{i}" for i, s in enumerate(c.services) if s.accreditations]
    choices += [f"out{i}" for i, s in enumerate(c.services) if s.outcomes]
    if not choices:
        return k, c
    which = draw(st.sampled_from(choices))
    if which == "org":
        code = draw(st.sampled_from(c.accreditations))
        return k, replace(c, verified_accreditations=(*c.verified_accreditations, code))
    i = int(which[3:])
    s = c.services[i]
    if which.startswith("acc"):
        s = replace(s, verified_accreditations=(*s.verified_accreditations, draw(st.sampled_from(s.accreditations))))
    else:
        j = draw(st.integers(0, len(s.outcomes) - 1))
        s = replace(s, outcomes=tuple(replace(o, verified=True) if n == j else o for n, o in enumerate(s.outcomes)))
    return k, replace(c, services=(*c.services[:i], s, *c.services[i + 1 :]))


@SETTINGS
@given(need=needs, cands=candidate_lists().filter(bool), data=st.data())
def test_verifying_a_record_never_lowers_any_providers_score(
    need: Need, cands: list[Candidate], data: st.DataObject
) -> None:
    k, verified = data.draw(one_verified(cands))
    before = ranked(need, cands)
    after = ranked(need, [*cands[:k], verified, *cands[k + 1 :]])
    was, now = totals(before), totals(after)
    assert was.keys() == now.keys()  # verification is no hard filter
    for pid, total in was.items():
        assert now[pid] >= total
        if pid != verified.provider_id:
            assert now[pid] == total
    # the verified provider's own quality, found by its id (verifying may move it in the ranking: paired by position,
    # a hypothesis example compared it with the provider that took its place)
    now_by_id = {s.provider_id: s for s in after.scored}
    for b in before.scored:
        if b.provider_id == verified.provider_id:
            assert crit(now_by_id[b.provider_id], "quality").score >= crit(b, "quality").score


ACCREDITATION = re.compile(r"([a-z0-9_]+) \((?:[^()]*; )?(verified|self-declared)\)")


@SETTINGS
@given(need=needs, cands=candidate_lists())
def test_the_explanation_names_verified_and_self_declared_evidence_correctly(
    need: Need, cands: list[Candidate]
) -> None:
    sv = SOCIAL_VALUE_ACCREDITATIONS
    by_id = {c.provider_id: c for c in cands}
    for sc in ranked(need, cands).scored:
        c = by_id[sc.provider_id]
        services = [s for s in c.services if s.service_id in sc.service_ids]
        held: dict[str, bool] = {a: a in c.verified_accreditations for a in c.accreditations if a not in sv}
        for s in services:
            for a in s.accreditations:
                if a not in sv:
                    held[a] = held.get(a, False) or a in s.verified_accreditations
        line, outcomes = crit(sc, "quality").evidence[:2]
        named = dict(ACCREDITATION.findall(line.split(": ", 1)[1])) if held else {}
        assert named == {a: "verified" if v else "self-declared" for a, v in held.items()}
        records = [o for s in services for o in s.outcomes]
        if records:
            n = len(records)
            assert f"{n} record{'' if n == 1 else 's'}, {sum(o.verified for o in records)} verified" in outcomes
        summary = crit(sc, "quality").summary
        assert f"({sum(held.values())} verified)" in summary if held else "holds no quality accreditations," in summary
        if records and not any(o.verified for o in records):
            assert "only self-declared outcomes records" in summary


# -- a commissioner's judgement ------------------------------------------------------------------------------

STUFFED = (
    "Tenancy sustainment for care leavers and prison leavers. Supported housing for care leavers. Rural outreach "
    "in Worcestershire. Tenancy sustainment, supported housing, rural outreach, care leavers."
)


def market() -> tuple[Need, list[Candidate]]:
    """A need for tenancy sustainment in Worcestershire and two fictional providers: a CIC a year old whose
    description repeats the need's words and whose only outcomes are its own "internal monitoring", and an
    established housing trust whose accreditation and outcomes the marketplace has verified."""
    need = f.need(
        areas=(f.WORCESTERSHIRE,),
        annual_volume=80,
        annual_budget=160_000,
        local_priorities=(Priority("tenancy sustainment for care leavers", 2.0), Priority("rural outreach", 1.0)),
        desired_outcomes=(
            DesiredOutcome("ACC_OBTAIN", "obtains suitable accommodation"),
            DesiredOutcome("ACC_KEEP", "keeps suitable accommodation"),
        ),
    )
    # what the two have alike: the service's pathway, cohorts, areas and capacity; the size, finances and premises
    same_service: dict[str, Any] = {
        "pathway": "ACCOM",
        "cohorts": ("ADULTS", "CARE_LEAVERS"),
        "areas": (f.WORCESTERSHIRE,),
        "capacity": 90,
    }
    same_provider: dict[str, Any] = {
        "annual_income": 400_000,
        "reserves_months": 4,
        "volunteers": 10,
        "premises_areas": ("E07000237",),
        "funding_sources": ("Grant", "Trading"),
        "last_confirmed": date(2026, 10, 1),
    }
    cic = Candidate(
        provider_id=1,
        name="Brightpath Tenancy CIC",
        sector="social_enterprise",
        legal_form="cic",
        founded_year=2025,
        services=(
            Service(
                service_id=1,
                name="Tenancy sustainment",
                years_experience=1,
                description=STUFFED,
                outcomes=(
                    OutcomeRecord(
                        outcome="Tenancies sustained",
                        measure="internal monitoring",
                        value=95,
                        period="2025-26",
                        people=12,
                        desired_outcomes=("ACC_OBTAIN", "ACC_KEEP"),
                    ),
                ),
                **same_service,
            ),
        ),
        accreditations=("iso_9001", "matrix_standard"),
        **same_provider,
    )
    trust = Candidate(
        provider_id=2,
        name="Severn Vale Housing Trust",
        sector="third_sector",
        legal_form="charitable_company",
        founded_year=1998,
        services=(
            Service(
                service_id=1,
                name="Housing support",
                years_experience=6,
                description="Housing support for people leaving prison and young people leaving care.",
                outcomes=(
                    OutcomeRecord(
                        outcome="Tenancies kept at 12 months",
                        measure="share of residents housed at 12 months",
                        value=0.81,
                        period="2024-25",
                        people=140,
                        source="independently_evaluated",
                        verified=True,
                        desired_outcomes=("ACC_OBTAIN", "ACC_KEEP"),
                    ),
                ),
                accreditations=("matrix_standard",),
                verified_accreditations=("matrix_standard",),
                **same_service,
            ),
        ),
        accreditations=("iso_9001",),
        verified_accreditations=("iso_9001",),
        **same_provider,
    )
    return need, [cic, trust]


def test_a_new_cic_with_self_declared_outcomes_and_stuffed_words_ranks_below_a_verified_established_provider() -> None:
    need, cands = market()
    r = ranked(need, cands)
    assert [s.name for s in r.scored] == ["Severn Vale Housing Trust", "Brightpath Tenancy CIC"]
    cic, trust = sorted(r.scored, key=lambda s: s.provider_id)
    assert crit(cic, "local_priorities").score > crit(trust, "local_priorities").score  # the words still count
    assert crit(trust, "quality").score > crit(cic, "quality").score
    assert "only self-declared outcomes records" in crit(cic, "quality").summary
    assert "internal monitoring" in crit(cic, "quality").evidence[1]
    assert "self-declared" in crit(cic, "quality").evidence[1]
    assert "(2 verified)" in crit(trust, "quality").summary
    # had everything counted as verified (as before algorithm 2026.12-2), the CIC would have come first
    everything = ranked(need, [verify_all(c) for c in cands])
    assert [s.name for s in everything.scored] == ["Brightpath Tenancy CIC", "Severn Vale Housing Trust"]


def test_the_pathway_sentence_counts_the_groups_served_as_a_person_would() -> None:
    """ "serves 1 of the 1 groups" read oddly: one group is the one group, and every group is all of them."""
    one = f.need(cohorts=("ADULTS",))
    served = crit(ranked(one, [f.candidate(1)]).scored[0], "pathway_fit").summary
    assert served.endswith("pathway and serves the one group of people the need names."), served
    both = crit(ranked(f.need(), [f.candidate(1)]).scored[0], "pathway_fit").summary
    assert both.endswith("serves all of the 2 groups of people the need names."), both
    some = f.need(cohorts=("ADULTS", "WOMEN"))
    half = crit(ranked(some, [f.candidate(1, service_changes={"cohorts": ("ADULTS",)})]).scored[0], "pathway_fit")
    assert half.summary.endswith("serves 1 of the 2 groups of people the need names."), half.summary
