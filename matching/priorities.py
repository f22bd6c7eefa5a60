"""Local-priority matching with rapidfuzz.

For each priority, its normalised words are compared (``rapidfuzz.fuzz.ratio``,
cutoff 80) with the normalised words of a candidate's text for the need: the
descriptions and outcomes records (outcome, measure, note) of its qualifying
services, and its organisation's resources text. A candidate's match for a priority is the mean, over the
priority's words, of the best similarity (0-1) of that word to any of the
candidate's words - i.e. "what share of the priority is evidenced, allowing for
spelling/inflection". Words without a counterpart contribute 0.

Only the candidates that pass the need's hard filters are scanned (with a ranking
limit, only those that could still be shown; see ``ranking._could_reach_top``), and
only when the need has priorities (:mod:`matching.wordscan` does the scanning,
vectorised).
The criterion score is the priority-weighted mean of the matches. The same
numbers are used for ranking and explanation; the explanation additionally
names the matched words and the best evidence snippet (computed only for the
candidates shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from .models import Candidate, Priority, Service
from .pool import Pool
from .text import WORD_CUTOFF, shorten, snippets, word_forms, words


def priority_matches(
    pool: Pool,
    priorities: tuple[Priority, ...],
    idx: npt.NDArray[np.int64],
    services: npt.NDArray[np.int64],
    service_pos: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Match share in [0, 1] of each priority (rows) for each candidate in ``idx`` (columns), against its
    resources text and the text of the service rows ``services`` (``service_pos``: each one's column)."""
    m = len(idx)
    out = np.zeros((len(priorities), m))
    p_words = [words(p.text) for p in priorities]
    query = sorted({w for ws in p_words for w in ws})
    if not query or m == 0:
        return out
    best = pool.text_matches(idx, services, service_pos, query)
    qpos = {w: k for k, w in enumerate(query)}
    for r, ws in enumerate(p_words):
        if ws:
            out[r] = best[[qpos[w] for w in ws]].mean(axis=0)
    return out


class WordMatch(NamedTuple):
    word: str
    """The priority's word as written (lower-cased)."""
    matched: str
    """The provider's word as written (lower-cased)."""
    similarity: float
    word_norm: str
    matched_norm: str


class PriorityEvidence(NamedTuple):
    matches: tuple[WordMatch, ...]
    word_count: int
    snippet: str | None
    """Best evidence: the service description / outcomes record / resources sentence containing most matched
    words."""


def explain_priorities(
    candidate: Candidate,
    services: Sequence[Service],
    priorities: tuple[Priority, ...],
    memo: dict[str, str | None] | None = None,
) -> list[PriorityEvidence]:
    """Which of each priority's words matched which provider word, and the best snippet, in the text of
    ``services`` (the candidate's qualifying services) and the candidate's resources text.

    Uses the same normalisation and similarity as :func:`priority_matches`; among
    equally similar provider words the first in text order is named, and among
    equally good snippets the first (services first, each its description then its
    outcomes records, then resources).
    """
    sources: list[tuple[str, str]] = []
    for service in services:
        label = f'service "{service.name}"' if service.name else f"service {service.service_id}"
        sources.extend((label, s) for s in snippets(service.description))
        for r in service.outcomes or ():
            text = ". ".join(x for x in (r.outcome, r.measure, r.note) if x)
            sources.extend((f"{label} outcomes", s) for s in snippets(text))
    sources.extend(("resources", s) for s in snippets(candidate.resources_text))
    per_source = [word_forms(text, memo) for _, text in sources]
    source_words = [set(ws) for ws in per_source]
    surface: dict[str, str] = {}
    for ws in per_source:
        for w, raw in ws.items():
            surface.setdefault(w, raw)
    vocab = list(surface)
    forms = [word_forms(priority.text, memo) for priority in priorities]
    best: dict[str, tuple[str, float]] = {}
    if vocab:
        query = list(dict.fromkeys(w for p_words in forms for w in p_words))
        # one cdist per candidate; argmax takes the first best word, as process.extractOne does
        sim = process.cdist(query, vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64)
        pick = sim.argmax(axis=1)
        for w, k, score in zip(query, pick.tolist(), sim[np.arange(len(query)), pick].tolist(), strict=True):
            if score > 0:
                best[w] = (vocab[k], score)
    out = []
    for p_words in forms:
        matches = [
            WordMatch(raw, surface[best[w][0]], best[w][1] / 100.0, w, best[w][0])
            for w, raw in p_words.items()
            if w in best
        ]
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
