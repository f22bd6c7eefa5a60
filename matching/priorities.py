"""Local-priority matching with rapidfuzz.

For each priority, its normalised words are compared (``rapidfuzz.process.cdist``,
``fuzz.ratio``, cutoff 80) with the pool's vocabulary of words drawn from
expertise descriptions and resources text. A candidate's match for a priority is
the mean, over the priority's words, of the best similarity (0-1) of that word
to any of the candidate's words - i.e. "what share of the priority is evidenced,
allowing for spelling/inflection". Words without a counterpart contribute 0.

The criterion score is the priority-weighted mean of the matches. The same
numbers are used for ranking and explanation; the explanation additionally
names the matched words and the best evidence snippet (computed only for the
candidates shown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from .models import Candidate, Priority
from .pool import CandidatePool
from .text import WORD_CUTOFF, shorten, snippets, word_forms, words


def priority_matches(
    pool: CandidatePool, priorities: tuple[Priority, ...], idx: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Match share in [0, 1] of each priority (rows) for each candidate in ``idx`` (columns)."""
    m = len(idx)
    out = np.zeros((len(priorities), m))
    p_words = [words(p.text) for p in priorities]
    query = sorted({w for ws in p_words for w in ws})
    if not query or not pool.vocabulary or m == 0:
        return out
    sim = process.cdist(
        query, pool.vocabulary, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64, workers=-1
    )
    cols = np.flatnonzero(sim.any(axis=0))
    if not len(cols):
        return out
    lut = np.full(len(pool.vocabulary), -1, dtype=np.int32)
    lut[cols] = np.arange(len(cols), dtype=np.int32)
    positions, owner_pos = pool.words.gather(idx)  # the eligible candidates' words, grouped by candidate
    local = lut[pool.words.item[positions]]
    hit = local >= 0
    local, owner_pos = local[hit], owner_pos[hit]
    best = np.zeros((len(query), m))
    if len(local):
        values = sim[:, cols][:, local]  # (query words, hits); hits are grouped by candidate
        starts = np.flatnonzero(np.r_[True, owner_pos[1:] != owner_pos[:-1]])
        best[:, owner_pos[starts]] = np.maximum.reduceat(values, starts, axis=1)
    best /= 100.0
    qpos = {w: k for k, w in enumerate(query)}
    for r, ws in enumerate(p_words):
        if ws:
            out[r] = best[[qpos[w] for w in ws]].mean(axis=0)
    return out


@dataclass(frozen=True, slots=True)
class WordMatch:
    word: str
    """The priority's word as written (lower-cased)."""
    matched: str
    """The provider's word as written (lower-cased)."""
    similarity: float
    word_norm: str
    matched_norm: str


@dataclass(frozen=True, slots=True)
class PriorityEvidence:
    matches: tuple[WordMatch, ...]
    word_count: int
    snippet: str | None
    """Best evidence: the expertise description / resources sentence containing most matched words."""


def explain_priorities(candidate: Candidate, priorities: tuple[Priority, ...]) -> list[PriorityEvidence]:
    """Which of each priority's words matched which provider word, and the best snippet.

    Uses the same normalisation and similarity as :func:`priority_matches`; among
    equally similar provider words the first in text order is named, and among
    equally good snippets the first (expertise lines first, then resources).
    """
    sources: list[tuple[str, str]] = []
    for e in candidate.expertise:
        sources.extend((f"{e.pathway} expertise", s) for s in snippets(e.description))
    sources.extend(("resources", s) for s in snippets(candidate.resources_text))
    per_source = [word_forms(text) for _, text in sources]
    source_words = [set(ws) for ws in per_source]
    surface: dict[str, str] = {}
    for ws in per_source:
        for w, raw in ws.items():
            surface.setdefault(w, raw)
    vocab = list(surface)
    out = []
    for priority in priorities:
        matches = []
        p_words = word_forms(priority.text)
        for w, raw in p_words.items():
            found = process.extractOne(w, vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF) if vocab else None
            if found is not None:
                matches.append(WordMatch(raw, surface[found[0]], found[1] / 100.0, w, found[0]))
        snippet = None
        if matches:
            matched = {m.matched_norm for m in matches}
            counts = [len(ws & matched) for ws in source_words]
            k = max(range(len(counts)), key=lambda i: (counts[i], -i))
            if counts[k]:
                label, text = sources[k]
                snippet = f'{label}: "{shorten(text)}"'
        out.append(PriorityEvidence(tuple(matches), len(p_words), snippet))
    return out
