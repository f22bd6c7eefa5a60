"""Local-priority matching: a priority is judged as a phrase against the provider's own words about the
service.

**The text**: the descriptions and outcomes records (outcome, measure, note) of the candidate's qualifying
services for the need, and nothing else: never the organisation's resources text, partner, funder or
premises names, never a service in another pathway.

**Words**: normalised as in :mod:`matching.text` (stop words dropped, light stemming); a priority word and
a provider word are similar by ``rapidfuzz.fuzz.ratio`` with cutoff 80 (0 below). Each word counts once,
however often it is repeated (only the distinct words of a sentence and of a text are read).

**A phrase**: for a priority whose distinct words are ``w_1..w_k``,

* ``anywhere`` = mean over its words of the best similarity to any word of the text;
* ``together`` = the best, over the sentences of the text (split at ``. ; ! ?`` and line ends; see
  :data:`matching.wordscan.SENTENCE_BITS`), of the mean over its words of the best similarity to a word of
  that one sentence;
* ``match = (TOGETHER_SHARE * together + (1 - TOGETHER_SHARE) * anywhere) ** PHRASE_EXPONENT``.

So all the words in one sentence score 1, the same words scattered over sentences score less, and half a
phrase scores a quarter (a priority is a phrase: matching its generic half is not half the meaning).
With a thesaurus (:class:`matching.thesaurus.Thesaurus`), the priority's phrasings are each matched and the
best counts. The criterion score is the priority-weighted mean of the matches. The same numbers are used
for ranking and explanation; the explanation additionally names the matched words and quotes the passage
(computed only for the candidates shown).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from .models import Priority, Service
from .pool import Pool
from .text import WORD_CUTOFF, normalise_word, raw_words, snippets
from .thesaurus import EMPTY_THESAURUS, Thesaurus

TOGETHER_SHARE: Final = 0.5
"""Weight of finding a priority's words together in one sentence (the rest: anywhere in the text)."""
PHRASE_EXPONENT: Final = 2.0
"""A priority's match is raised to this power: half of a phrase's words score a quarter."""


def phrase_score(anywhere: npt.NDArray[np.float64], together: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mixed: npt.NDArray[np.float64] = TOGETHER_SHARE * together + (1 - TOGETHER_SHARE) * anywhere
    return np.clip(mixed, 0.0, 1.0) ** PHRASE_EXPONENT


def priority_variants(priorities: Sequence[Priority], thesaurus: Thesaurus) -> list[tuple[tuple[str, ...], ...]]:
    """Each priority's phrasings as distinct normalised words (its own first)."""
    return [thesaurus.variants(p.text) for p in priorities]


def priority_matches(
    pool: Pool,
    priorities: tuple[Priority, ...],
    idx: npt.NDArray[np.int64],
    services: npt.NDArray[np.int64],
    service_pos: npt.NDArray[np.int64],
    thesaurus: Thesaurus = EMPTY_THESAURUS,
) -> npt.NDArray[np.float64]:
    """Match in [0, 1] of each priority (rows) for each candidate in ``idx`` (columns), against the text of
    the service rows ``services`` (``service_pos``: each one's column)."""
    m = len(idx)
    out = np.zeros((len(priorities), m))
    variants = priority_variants(priorities, thesaurus)
    query = sorted({w for vs in variants for v in vs for w in v})
    if not query or m == 0:
        return out
    qpos = {w: k for k, w in enumerate(query)}
    groups = [[qpos[w] for w in v] for vs in variants for v in vs]
    tm = pool.service_text_matches(services, service_pos, m, query, groups)
    g = 0
    for r, vs in enumerate(variants):
        for v in vs:
            if v:
                out[r] = np.maximum(out[r], phrase_score(tm.best[groups[g]].mean(axis=0), tm.together[g]))
            g += 1
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
    thesaurus_words: tuple[str, ...]
    """Words of the phrasing that counted which the thesaurus put in place of the priority's own."""
    snippet: str | None
    """The passage quoted: the sentence of a qualifying service's description or outcomes records where the
    priority's words are best found together (and, when they are scattered, the first sentence holding each
    matched word it lacks), each quoted around the matched words."""


def _quote(text: str, wanted: set[str], memo: dict[str, str | None], limit: int = 160) -> str:
    """The part of ``text`` from the first to the last word whose normalised form is in ``wanted``, with a
    little context, ``…`` marking what is left out: the quote always holds the matched words."""
    spans = [
        (mt.start(), mt.end()) for mt in re.finditer(r"[^\W_]+", text) if _norm(mt.group().lower(), memo) in wanted
    ]
    text_len = len(text)
    if not spans:
        return " ".join(text.split())[:limit]
    lo, hi = spans[0][0], spans[-1][1]
    room = max(limit - (hi - lo), 0) // 2
    a = max(0, lo - room)
    b = min(text_len, hi + room)
    if a > 0:  # start at a word boundary
        a = text.find(" ", a, lo) + 1 or a
    if b < text_len:
        cut = text.rfind(" ", hi, b)
        b = cut if cut > 0 else b
    quoted = " ".join(text[a:b].split())
    return ("…" if a > 0 else "") + quoted + ("…" if b < text_len else "")


def _norm(raw: str, memo: dict[str, str | None]) -> str | None:
    w = memo.get(raw, "")
    if w == "":
        w = memo[raw] = normalise_word(raw)
    return w


def explain_priorities(
    services: Sequence[Service],
    priorities: tuple[Priority, ...],
    memo: dict[str, str | None] | None = None,
    thesaurus: Thesaurus = EMPTY_THESAURUS,
) -> list[PriorityEvidence]:
    """For each priority: its best phrasing's words that matched which provider word, and the passage quoted,
    in the text of ``services`` (the candidate's qualifying services: descriptions and outcomes records).

    Uses the same normalisation, similarity and phrase rule as :func:`priority_matches`, on sentences as the
    explanation reads them; among equally similar provider words the first in text order is named, and
    among equally good passages the first (services in order, each its description then its outcomes).
    """
    memo = {} if memo is None else memo
    sources: list[tuple[str, str]] = []
    for service in services:
        label = f'service "{service.name}"' if service.name else f"service {service.service_id}"
        sources.extend((label, s) for s in snippets(service.description))
        for r in service.outcomes or ():
            text = ". ".join(x for x in (r.outcome, r.measure, r.note) if x)
            sources.extend((f"{label} outcomes", s) for s in snippets(text))
    per_source: list[dict[str, str]] = []
    for _, text in sources:
        forms: dict[str, str] = {}
        for raw in raw_words(text):
            w = _norm(raw, memo)
            if w is not None:
                forms.setdefault(w, raw)
        per_source.append(forms)
    surface: dict[str, str] = {}
    for ws in per_source:
        for w, raw in ws.items():
            surface.setdefault(w, raw)
    vocab = list(surface)
    variants = priority_variants(priorities, thesaurus)
    query = list(dict.fromkeys(w for vs in variants for v in vs for w in v))
    sim = np.zeros((len(query), len(vocab)))
    if vocab and query:
        sim = process.cdist(query, vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64) / 100.0
    qpos = {w: k for k, w in enumerate(query)}
    vpos = {w: k for k, w in enumerate(vocab)}
    # best similarity of each query word within each source sentence: (sources, query), one reduceat
    sizes = [len(ws) for ws in per_source]
    per_sentence = np.zeros((len(sources), len(query)))
    nonempty = [k for k, n in enumerate(sizes) if n]
    if nonempty and len(query):
        cols = np.fromiter((vpos[w] for k in nonempty for w in per_source[k]), dtype=np.int64)
        starts = np.cumsum([0] + [sizes[k] for k in nonempty[:-1]])
        per_sentence[nonempty] = np.maximum.reduceat(sim[:, cols], starts, axis=1).T
    best_any = sim.max(axis=1, initial=0.0).tolist() if len(query) else []
    out = []
    for p, vs in zip(priorities, variants, strict=True):
        best_variant: tuple[str, ...] = ()
        best_score = -1.0
        for v in vs:
            if not v:
                continue
            rows = [qpos[w] for w in v]
            anywhere = sum(best_any[r] for r in rows) / len(rows)
            together = float(per_sentence[:, rows].sum(axis=1).max(initial=0.0)) / len(rows)
            score = min(max(TOGETHER_SHARE * together + (1 - TOGETHER_SHARE) * anywhere, 0.0), 1.0) ** PHRASE_EXPONENT
            if score > best_score:
                best_variant, best_score = v, score
        matches = []
        for w in best_variant:
            row = sim[qpos[w]]
            if len(row) and row.max() > 0:
                k = int(row.argmax())
                matches.append(WordMatch(_surface_of(p.text, w, memo), surface[vocab[k]], float(row[k]), w, vocab[k]))
        snippet = None
        if matches:
            rows = [qpos[mt.word_norm] for mt in matches]
            scores = per_sentence[:, rows].mean(axis=1)
            k = int(np.argmax(scores))  # the first best passage
            if scores[k] > 0:
                # the best passage, then (words scattered) the first passage holding each matched word it lacks
                parts: list[str] = []
                left = {mt.matched_norm for mt in matches}
                for at in [k, *range(len(sources))]:
                    here = left & per_source[at].keys()
                    if here:
                        label, text = sources[at]
                        parts.append(f'{label}: "{_quote(text, here, memo)}"')
                        left -= here
                    if not left:
                        break
                snippet = " and ".join(parts)
        own = set(vs[0]) if vs else set()
        swapped = tuple(mt.word for mt in matches if mt.word_norm not in own)
        out.append(PriorityEvidence(tuple(matches), len(best_variant), swapped, snippet))
    return out


def _surface_of(text: str, norm: str, memo: dict[str, str | None]) -> str:
    """The priority's word as written for the normalised ``norm`` (``norm`` itself when it comes from a
    thesaurus phrasing)."""
    for raw in raw_words(text):
        if _norm(raw, memo) == norm:
            return raw
    return norm
