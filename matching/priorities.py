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
from collections.abc import Sequence, Set
from itertools import accumulate, repeat
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from .models import Priority, Service
from .pool import Pool
from .text import WORD_CUTOFF, normalise_word, raw_words, snippets, word_forms
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
    read_as: tuple[tuple[str, str], ...]
    """The priority's terms the phrasing that counted reads as others of their thesaurus group (``("money advice",
    "debt advice")``, as the thesaurus writes them); ``()`` when it is the priority's own phrasing."""
    snippet: str | None
    """The passage quoted: the sentence of a qualifying service's description or outcomes records where the
    priority's words are best found together (and, when they are scattered, the first sentence holding each
    matched word it lacks), each quoted around the matched words."""


def _quote(text: str, span: tuple[int, int] | None, limit: int = 160) -> str:
    """The part of ``text`` from ``span``'s start to its end (where the first and the last matched word start and
    end, see :meth:`Passage.span`), with a little context, ``…`` marking what is left out: the quote always holds
    the matched words."""
    text_len = len(text)
    if span is None:
        return " ".join(text.split())[:limit]
    lo, hi = span
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


def _sum(values: list[float], pairwise: bool) -> float:
    """The sum of one sentence's ``values`` (a phrasing's words' best similarities in it) exactly as numpy added
    them in ``per_sentence[:, rows].sum(axis=1)``, the rule this replaces: left to right, except that the row of a
    text of one sentence (``pairwise``; the slice is then contiguous) of 8 or more values is added by numpy's
    pairwise summation. (The rows of several sentences, a column slice, are laid out column by column, so numpy
    adds each left to right; below 8 values pairwise summation is left to right too.)"""
    return float(np.add.reduce(np.array(values, dtype=np.float64))) if pairwise and len(values) >= 8 else sum(values)


def _phrase(together: float, anywhere: float) -> float:
    """A phrasing's match (:func:`phrase_score` of one candidate, in plain floats)."""
    score: float = min(max(TOGETHER_SHARE * together + (1 - TOGETHER_SHARE) * anywhere, 0.0), 1.0) ** PHRASE_EXPONENT
    return score


_SPLIT_RE: Final = re.compile(r"([^\W_]+)")
"""Splits a passage into separators and words (a word as :data:`matching.text._WORD_RE`)."""
_ASCII_WORDS: Final = bytes((ord(chr(c).lower()) if chr(c).isalnum() else 32) if c < 128 else c for c in range(256))
"""A ``bytes.translate`` table for ASCII text: the letters lower-cased, digits kept, every other character a space.
An ASCII text so translated has its words (:data:`matching.text._WORD_RE`'s, lower-cased) where the text has them,
between spaces: ``str.split`` finds them, in C, several times faster than the regular expression."""


def _norms(raws: list[str], memo: dict[str, str | None]) -> list[str | None]:
    """Each of ``raws``' normalised form, through ``memo`` (as :func:`_norm`, one dict look-up per word in C)."""
    norms: list[str | None] = list(map(memo.get, raws, repeat("")))
    if "" in norms:  # words not seen yet
        for k, w in enumerate(norms):
            if w == "":
                norms[k] = _norm(raws[k], memo)
    return norms


class Passage:
    """One sentence of a candidate's text as a :class:`PriorityReader` reads it: found once per reader, however
    many candidates' texts hold it."""

    __slots__ = ("_norms", "_quotes", "_raws", "_spaced", "best", "similar", "sums", "text", "words")

    def __init__(self, text: str, memo: dict[str, str | None]) -> None:
        self.text = text
        self._spaced: str | None = None
        if text.isascii():  # lower-casing it word by word is lower-casing it: one translation serves both
            self._spaced = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii")
            self._raws = self._spaced.split()
        else:
            self._raws = raw_words(text)
        self._norms = _norms(self._raws, memo)
        self.words = dict.fromkeys(filter(None, self._norms))
        """Its distinct normalised words, in first-seen order (the keys of :func:`matching.text.word_forms`)."""
        self.best: dict[int, float] | None = None
        """Query row -> the best similarity of one of its words to that query word (set by :meth:`read`)."""
        self.similar: list[tuple[int, float, str, str]] = []
        """(query row, similarity, word, its first spelling here) of each of its words similar to a query word,
        in its words' order."""
        self.sums: dict[int, float] = {}
        """Phrasing -> its words' best similarities here added left to right, for the phrasings with a word here."""
        self._quotes: dict[frozenset[str], str] = {}
        """Normalised words -> :meth:`quote` of them."""

    def read(
        self, similar: dict[str, tuple[tuple[int, float], ...]], rows: list[list[int]], using: list[list[int]]
    ) -> None:
        """Find :attr:`best`, :attr:`similar` and :attr:`sums`, given each of its words' similarities to the
        query's words, each phrasing's rows and each row's phrasings."""
        best: dict[int, float] = {}
        for w in self.words:
            found = similar[w]
            if found:
                raw = self._raws[self._norms.index(w)]
                for r, s in found:
                    self.similar.append((r, s, w, raw))
                    if s > best.get(r, 0.0):
                        best[r] = s
        self.best = best
        for g in {g for r in best for g in using[r]}:
            self.sums[g] = sum(map(best.get, rows[g], repeat(0.0)))

    def quote(self, wanted: Set[str], memo: dict[str, str | None]) -> str:
        """:func:`_quote` of it around the words whose normalised form is in ``wanted`` (found once for each set of
        words: the same words are often quoted from one sentence for several candidates)."""
        key = frozenset(wanted)
        known = self._quotes.get(key)
        if known is None:
            known = self._quotes[key] = _quote(self.text, self.span(wanted, memo))
        return known

    def span(self, wanted: Set[str], memo: dict[str, str | None]) -> tuple[int, int] | None:
        """Where the first of its words as written whose normalised form is in ``wanted`` starts and the last one
        ends (``None`` when none is)."""
        if self._spaced is None:  # not ASCII: lower-cased word by word, as the quote reads the text as written
            return _written_span(self.text, wanted, memo)
        hit = list(map(wanted.__contains__, self._norms))  # in C
        if True not in hit:
            return None
        # The first word in ``wanted`` is the first of its spelling too (the same spelling, the same normalised
        # form), so it is the first whole word so spelt in the translation (between spaces); likewise the last.
        padded = f" {self._spaced} "
        opening = self._raws[hit.index(True)]
        closing = self._raws[len(hit) - 1 - hit[::-1].index(True)]
        return padded.find(f" {opening} "), padded.rfind(f" {closing} ") + len(closing)


def _written_span(text: str, wanted: Set[str], memo: dict[str, str | None]) -> tuple[int, int] | None:
    """:meth:`Passage.span` of a text that is not ASCII, reading its words one by one."""
    parts = _SPLIT_RE.split(text)  # separator, word, separator, ..., separator
    bounds = list(accumulate(map(len, parts)))  # word k spans bounds[2k] to bounds[2k + 1]
    found = [k for k, raw in enumerate(parts[1::2]) if _norm(raw.lower(), memo) in wanted]
    return (bounds[2 * found[0]], bounds[2 * found[-1] + 1]) if found else None


class PriorityReader:
    """Explains one need's priorities (:func:`explain_priorities`) for candidate after candidate, e.g. the
    candidates shown by a ranking: what depends only on the need (its phrasings, their words as the need
    wrote them) is found once, and each word's similarities to the need's words and each sentence's words
    (:class:`Passage`) once, however many candidates share them. Not shared between threads."""

    __slots__ = (
        "_memo",
        "_passages",
        "_phrasings",
        "_qpos",
        "_query",
        "_read_as",
        "_rows",
        "_similar",
        "_snippets",
        "_surfaces",
        "_using",
        "priorities",
    )

    def __init__(
        self,
        priorities: tuple[Priority, ...],
        thesaurus: Thesaurus = EMPTY_THESAURUS,
        memo: dict[str, str | None] | None = None,
    ) -> None:
        self.priorities = priorities
        self._memo: dict[str, str | None] = {} if memo is None else memo
        variants = priority_variants(priorities, thesaurus)
        self._query = list(dict.fromkeys(w for vs in variants for v in vs for w in v))
        self._qpos = {w: k for k, w in enumerate(self._query)}
        phrasings = [
            [(v, sw) for v, sw in zip(vs, thesaurus.swaps(p.text), strict=True) if v]
            for p, vs in zip(priorities, variants, strict=True)
        ]
        self._rows = [[self._qpos[w] for w in v] for ps in phrasings for v, _ in ps]
        """Each non-empty phrasing's words' rows in the query (phrasings numbered across the priorities)."""
        self._using: list[list[int]] = [[] for _ in self._query]
        """Each query row's phrasings."""
        for g, rows in enumerate(self._rows):
            for r in dict.fromkeys(rows):
                self._using[r].append(g)
        numbers = iter(range(len(self._rows)))
        self._phrasings = [[(v, next(numbers)) for v, _ in ps] for ps in phrasings]
        """Per priority: each non-empty phrasing, with its number."""
        self._read_as = [sw for ps in phrasings for _, sw in ps]
        """Each phrasing's terms read as others (:meth:`Thesaurus.swaps`), by number."""
        self._surfaces = [word_forms(p.text, self._memo) for p in priorities]
        """Per priority: its normalised words -> as written (first spelling)."""
        self._similar: dict[str, tuple[tuple[int, float], ...]] = {}
        """Provider word (normalised) -> (query row, similarity) for each query word it is similar to."""
        self._passages: dict[str, Passage] = {}
        """Sentence -> how it reads."""
        self._snippets: dict[str, list[Passage]] = {}
        """Text -> its sentences (:meth:`_sentences`)."""

    def _sentences(self, text: str) -> list[Passage]:
        """The sentences of ``text`` (:func:`matching.text.snippets`), each as a :class:`Passage`."""
        known = self._snippets.get(text)
        if known is None:
            known = self._snippets[text] = [self._passage(s) for s in snippets(text)]
        return known

    def _passage(self, text: str) -> Passage:
        known = self._passages.get(text)
        if known is None:
            known = self._passages[text] = Passage(text, self._memo)
        return known

    def _learn(self, vocab: list[str]) -> None:
        """Find the similarities of the words of ``vocab`` not yet seen to the query's words."""
        new = [w for w in vocab if w not in self._similar]
        if not new:
            return
        if not self._query:
            self._similar.update((w, ()) for w in new)
            return
        sim = process.cdist(self._query, new, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64) / 100.0
        found: dict[int, list[tuple[int, float]]] = {}
        rows, ks = np.nonzero(sim)  # few: most words are like none of the query's
        for r, k, s in zip(rows.tolist(), ks.tolist(), sim[rows, ks].tolist(), strict=True):
            found.setdefault(k, []).append((r, s))
        for k, w in enumerate(new):
            self._similar[w] = tuple(found.get(k, ()))

    def explain(self, services: Sequence[Service]) -> list[PriorityEvidence]:
        """:func:`explain_priorities` of ``services`` for this reader's priorities."""
        sources: list[tuple[str, Passage]] = []
        for service in services:
            label = f'service "{service.name}"' if service.name else f"service {service.service_id}"
            sources.extend(zip(repeat(label), self._sentences(service.description)))
            for record in service.outcomes or ():
                text = ". ".join(filter(None, (record.outcome, record.measure, record.note)))
                sources.extend(zip(repeat(f"{label} outcomes"), self._sentences(text)))
        passages = [p for _, p in sources]
        unread = [p for p in passages if p.best is None]
        if unread:  # the similarities of their words not yet seen, found together (one cdist)
            self._learn(list(dict.fromkeys(w for p in unread for w in p.words)))
            for p in dict.fromkeys(unread):
                p.read(self._similar, self._rows, self._using)
        # best similarity of each query word (row) anywhere, and the first word of the text (in text order) with
        # that similarity (with its first spelling in the text: in the first sentence holding it)
        first_best: dict[int, tuple[float, str, str]] = {}
        for p in passages:
            for r, s, w, raw in p.similar:
                known = first_best.get(r)
                if known is None or s > known[0]:
                    first_best[r] = (s, w, raw)
        anywhere = {r: s for r, (s, _, _) in first_best.items()}
        together = self._together(passages)
        out = []
        for phrasings, surfaces in zip(self._phrasings, self._surfaces, strict=True):
            best_variant: tuple[str, ...] = ()
            best_score = -1.0
            chosen = -1
            for v, g in phrasings:
                rows = self._rows[g]
                # map(d.get, rows, repeat(0.0)): each row's value or 0, added in C
                score = _phrase(together.get(g, 0.0) / len(rows), sum(map(anywhere.get, rows, repeat(0.0))) / len(rows))
                if score > best_score:
                    best_variant, best_score, chosen = v, score, g
            read_as = self._read_as[chosen] if chosen >= 0 else ()
            # a word the thesaurus put in: as the thesaurus writes it
            put_in = word_forms(" ".join(alt for _, alt in read_as), self._memo) if read_as else {}
            matches = []
            for w in best_variant:
                found = first_best.get(self._qpos[w])
                if found is not None:
                    s, m, surface = found
                    matches.append(WordMatch(surfaces.get(w) or put_in.get(w, w), surface, s, w, m))
            snippet = None
            if matches:
                k, top = 0, 0.0  # the first best passage (its matched words' similarities added, as the phrasing's)
                for at, p in enumerate(passages):
                    score = p.sums.get(chosen, 0.0) / len(matches)
                    if score > top:
                        k, top = at, score
                if top > 0:
                    # the best passage, then (words scattered) the first passage holding each matched word it lacks
                    parts: list[str] = []
                    left = {mt.matched_norm for mt in matches}
                    for at in [k, *range(len(sources))]:
                        label, passage = sources[at]
                        here = left & passage.words.keys()
                        if here:
                            parts.append(f'{label}: "{passage.quote(here, self._memo)}"')
                            left -= here
                        if not left:
                            break
                    snippet = " and ".join(parts)
            out.append(PriorityEvidence(tuple(matches), len(best_variant), read_as if matches else (), snippet))
        return out

    def _together(self, passages: list[Passage]) -> dict[int, float]:
        """Phrasing -> the most of its words' best similarities in one sentence, added (phrasings with no word in
        the text are left out: 0)."""
        if len(passages) == 1:  # a text of one sentence: added as numpy added it, see _sum
            best = passages[0].best or {}
            return {g: _sum([best.get(r, 0.0) for r in self._rows[g]], True) for g in passages[0].sums}
        out: dict[int, float] = {}
        for p in passages:
            for g, s in p.sums.items():
                if s > out.get(g, 0.0):
                    out[g] = s
        return out


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
    To explain many candidates for one need, use one :class:`PriorityReader` (the same results).
    """
    return PriorityReader(priorities, thesaurus, memo).explain(services)
