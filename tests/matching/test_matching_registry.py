"""The criteria registry: each criterion defined once, everything else derived from it and read by name."""

from __future__ import annotations

import inspect
import math
import pickle
import random

import matching_factories as f
import msgspec
import numpy as np
import pytest
from test_matching_open_vocabulary import random_candidates, random_need

from matching import (
    CRITERIA,
    DEFAULT_CRITERION_WEIGHTS,
    DEFAULT_WEIGHTS,
    SOCIAL_VALUE_ACCREDITATIONS,
    CandidatePool,
    InvalidWeights,
    Need,
    Ranking,
    Weights,
    rank,
)
from matching import criteria as registry
from matching.explain import EvidenceContext
from matching.needs import compile_need
from matching.ranking import criterion_scores
from matching.scoring import ComponentColumn, CriterionColumn, ScoringInput, scoring_input
from matching.screening import screen
from matching.weights import WeightsBase, effective_weights

TREE = f.tree()


def test_every_criterion_is_one_registry_entry() -> None:
    names = [c.name for c in registry.REGISTRY]
    assert len(set(names)) == len(names) == 9
    assert tuple(names) == CRITERIA
    assert dict(DEFAULT_CRITERION_WEIGHTS) == {c.name: c.default_weight for c in registry.REGISTRY}
    assert list(DEFAULT_CRITERION_WEIGHTS) == names
    for c in registry.REGISTRY:
        assert c.default_weight >= 0 and math.isfinite(c.default_weight)
        assert callable(c.score) and len(inspect.signature(c.score).parameters) == 1
        assert callable(c.evidence) and len(inspect.signature(c.evidence).parameters) == 5
        assert registry.BY_NAME[c.name] is c
    # one function each, none shared between criteria
    assert len({c.score for c in registry.REGISTRY}) == len({c.evidence for c in registry.REGISTRY}) == 9
    assert registry.LOCAL_PRIORITIES in CRITERIA


def test_weights_are_generated_from_the_registry() -> None:
    fields = msgspec.structs.fields(Weights)
    assert tuple(fd.name for fd in fields) == CRITERIA
    assert {fd.name: fd.default for fd in fields} == dict(DEFAULT_CRITERION_WEIGHTS)
    assert DEFAULT_WEIGHTS.as_dict() == dict(DEFAULT_CRITERION_WEIGHTS)
    assert DEFAULT_WEIGHTS.values() == tuple(DEFAULT_CRITERION_WEIGHTS.values())
    assert Weights.__name__ == "Weights" and Weights.__module__ == "matching.weights"
    assert issubclass(Weights, WeightsBase) and Weights.__doc__ and "criterion" in Weights.__doc__


def test_weights_keep_their_public_behaviour() -> None:
    w = Weights(coverage=0.3, quality=0)
    assert w.coverage == 0.3 and w.pathway_fit == 0.2 and w.as_dict()["quality"] == 0.0
    assert Weights.from_mapping({"coverage": 0.3, "quality": 0}) == w
    assert Weights.from_mapping({"capacity": 1.0}, base=w).as_dict() == {**w.as_dict(), "capacity": 1.0}
    assert msgspec.json.encode(DEFAULT_WEIGHTS) == (
        b'{"pathway_fit":0.2,"coverage":0.15,"capacity":0.1,"financial_viability":0.1,"quality":0.15,'
        b'"local_priorities":0.1,"added_value":0.05,"social_value":0.1,"sustainability":0.05}'
    )
    assert msgspec.json.decode(b'{"coverage": 2}', type=Weights) == Weights(coverage=2.0)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"popularity": 2}', type=Weights)
    with pytest.raises(InvalidWeights):
        msgspec.json.decode(b'{"coverage": -2}', type=Weights)
    with pytest.raises(TypeError):
        Weights(popularity=1.0)
    with pytest.raises(AttributeError):
        w.coverage = 1.0  # type: ignore[misc]  # frozen
    assert pickle.loads(pickle.dumps(w)) == w  # noqa: S301 - our own bytes
    assert hash(w) == hash(Weights(coverage=0.3, quality=0))
    assert repr(DEFAULT_WEIGHTS).startswith("Weights(pathway_fit=0.2, coverage=0.15,")
    normalised = Weights(**dict.fromkeys(CRITERIA, 1.0)).normalised()
    assert isinstance(normalised, Weights) and all(math.isclose(v, 1 / 9) for v in normalised.values())


def _columns_of(need: Need, pool: CandidatePool) -> tuple[ScoringInput, dict[str, CriterionColumn]]:
    """Every criterion's column computed straight from the registry's score functions."""
    cn = compile_need(need, TREE)
    s = screen(pool.columns, cn)
    inputs = scoring_input(pool, cn, s, as_of=f.AS_OF, social_value_accreditations=SOCIAL_VALUE_ACCREDITATIONS)
    return inputs, registry.score_columns(inputs)


def _close(a: float | None, b: float) -> bool:
    return (a is None and not math.isfinite(b)) or a == b


@pytest.mark.parametrize("seed", range(3))
def test_each_criterions_explanation_is_its_own_column(seed: int) -> None:
    """The numbers in an explanation are the criterion's column (looked up by name) for every criterion,
    and its words are what the criterion's own evidence function says about that column."""
    rng = random.Random(seed)
    cands = random_candidates(rng, 120)
    pool = CandidatePool.build(cands, TREE)
    checked = 0
    for k in range(8):
        need = random_need(rng, k)
        r: Ranking = rank(need, pool, areas=TREE, as_of=f.AS_OF)
        inputs, columns = _columns_of(need, pool)
        position = {int(pid): j for j, pid in enumerate(pool.provider_id[inputs.idx].tolist())}
        for sc in r.scored:
            j = position[sc.provider_id]
            assert [c.criterion for c in sc.criteria] == list(CRITERIA)
            for cs in sc.criteria:
                col = columns[cs.criterion]
                assert cs.score == float(col.score[j])
                assert [(c.name, c.weight) for c in cs.components] == [(c.name, c.weight) for c in col.components]
                assert all(_close(c.raw, float(cc.raw[j])) for c, cc in zip(cs.components, col.components, strict=True))
                assert [c.score for c in cs.components] == [float(cc.score[j]) for cc in col.components]
                assert cs.weight == r.weights.as_dict()[cs.criterion]
                checked += 1
    assert checked > 100


def _context(need: Need, pool: CandidatePool) -> EvidenceContext:
    cn = compile_need(need, TREE)
    s = screen(pool.columns, cn)
    return EvidenceContext(
        pool.columns,
        cn,
        TREE.within_mask(cn.area_nodes),
        f.AS_OF,
        SOCIAL_VALUE_ACCREDITATIONS,
        None,
        qualifying=s.qualifying,
        touching=s.touching,
        qualifying_owner=pool.columns.services.owner[s.qualifying],
    )


def test_permuting_the_registry_permutes_the_explanation_consistently() -> None:
    cands = random_candidates(random.Random(5), 60)
    pool = CandidatePool.build(cands, TREE)
    need = f.need(areas=(f.WEST_MERCIA,), required_accreditations=(), cohorts=("ADULTS",))
    inputs, columns = _columns_of(need, pool)
    assert inputs.m > 5
    weights = effective_weights(DEFAULT_WEIGHTS, None, has_priorities=True).as_dict()
    contributions = {name: weights[name] * col.score for name, col in columns.items()}
    shuffled = list(registry.REGISTRY)
    random.Random(1).shuffle(shuffled)
    assert shuffled != list(registry.REGISTRY)
    # score functions read only their inputs: any order gives the same columns
    again = registry.score_columns(inputs, shuffled)
    assert list(again) == [c.name for c in shuffled]
    for name, col in again.items():
        assert np.array_equal(col.score, columns[name].score)
    ctx = _context(need, pool)
    for j, i in enumerate(inputs.idx.tolist()):
        cand = pool.candidates[i]
        straight = criterion_scores(ctx, cand, i, j, weights, columns, contributions)
        permuted = criterion_scores(ctx, cand, i, j, weights, again, contributions, shuffled)
        assert [c.criterion for c in permuted] == [c.name for c in shuffled]
        assert {c.criterion: c for c in permuted} == {c.criterion: c for c in straight}


def test_evidence_reads_the_column_it_is_given() -> None:
    """Each evidence function states its own column's numbers: given a column whose scores are all 0.37,
    every score it shows is 0.37 (or a fixed 0 / 1 for facts that are not scores)."""
    cands = [f.candidate(1), f.candidate(2, founded_year=None, last_confirmed=None, service_changes={"capacity": None})]
    pool = CandidatePool.build(cands, TREE)
    need = f.need()
    inputs, columns = _columns_of(need, pool)
    ctx = _context(need, pool)
    for c in registry.REGISTRY:
        col = columns[c.name]
        fake = CriterionColumn(
            tuple(ComponentColumn(x.name, x.weight, x.raw, np.full(inputs.m, 0.37)) for x in col.components),
            np.full(inputs.m, 0.37),
            col.measures,
        )
        scores = []
        for j, i in enumerate(inputs.idx.tolist()):
            real = c.evidence(ctx, col, pool.candidates[i], i, j)
            shown = c.evidence(ctx, fake, pool.candidates[i], i, j)
            assert len(real) == len(shown)
            scores += [line.rsplit(" -> ", 1)[1] for line in shown if " -> " in line]
        assert set(scores) <= {"0.37", "0.00", "1.00"}, (c.name, scores)
        assert "0.37" in scores, (c.name, scores)
