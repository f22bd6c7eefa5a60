"""A domain thesaurus: groups of terms that mean the same thing in commissioning ("housing" and
"accommodation", "money advice" and "debt advice").

The core does no I/O: the caller loads the groups (e.g. from ``seed_data/thesaurus.json``) and passes a
:class:`Thesaurus`. A local priority is matched as each of its phrasings (:meth:`Thesaurus.variants`: every
term of a group found in it replaced by each term of its group) and scores its best phrasing. Search may
use :meth:`Thesaurus.expand` for the same equivalences in plain words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice, product
from typing import Final

from .errors import MatchingError
from .text import normalise_word, raw_words

Swaps = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
"""The terms a phrasing puts in place of its text's own: (the text's term, the term read instead), keyed words."""
MAX_VARIANTS: Final = 16
"""At most this many phrasings of one text are tried (the text as written first)."""


def _normalised(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(w for w in map(normalise_word, words) if w is not None)


def _raw(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(words)


class Thesaurus:
    """Groups of equivalent terms (each a word or a short phrase). Immutable."""

    __slots__ = ("_by_key", "_display", "_memo", "groups")

    def __init__(self, groups: Iterable[Iterable[str]] = ()) -> None:
        kept: list[tuple[str, ...]] = []
        for k, group in enumerate(groups):
            if isinstance(group, str):
                raise MatchingError(f"thesaurus group {k} must be a list of terms, not a string")
            terms = tuple(dict.fromkeys(" ".join(raw_words(t)) for t in group if isinstance(t, str)))
            if len(terms) < 2 or any(not _normalised(t.split()) for t in terms):
                raise MatchingError(f"thesaurus group {k} needs two or more terms, each with a word that counts")
            kept.append(terms)
        self.groups: tuple[tuple[str, ...], ...] = tuple(kept)
        self._memo: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[Swaps, ...]]] = {}
        """:meth:`variants` and :meth:`swaps` already computed (a cache: the same text always gives the same
        phrasings)."""
        # per key function: term (as a tuple of keyed words) -> the group's terms so keyed, longest terms first
        self._by_key: dict[str, list[tuple[tuple[str, ...], list[tuple[str, ...]]]]] = {}
        self._display: dict[tuple[str, ...], str] = {}
        """A term keyed as :meth:`variants` reads it (normalised words) -> the term as the thesaurus writes it."""
        for name, key in (("normalised", _normalised), ("raw", _raw)):
            entries: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
            for terms in self.groups:
                keyed = list(dict.fromkeys(key(t.split()) for t in terms))
                entries.extend((t, keyed) for t in keyed)
                if name == "normalised":
                    for t in terms:
                        self._display.setdefault(key(t.split()), t)
            entries.sort(key=lambda e: -len(e[0]))
            self._by_key[name] = entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Thesaurus) and self.groups == other.groups

    def __hash__(self) -> int:
        return hash(self.groups)

    def __repr__(self) -> str:
        return f"Thesaurus({len(self.groups)} groups)"

    def _variants(self, seq: tuple[str, ...], entries_name: str) -> list[tuple[tuple[str, ...], Swaps]]:
        """Each phrasing of ``seq`` (keyed words), with the terms it puts in place of the text's own (keyed)."""
        entries = self._by_key[entries_name]
        found: list[tuple[int, int, list[tuple[str, ...]]]] = []  # (start, end, alternatives), not overlapping
        taken = [False] * len(seq)
        for term, alternatives in entries:
            n = len(term)
            for i in range(len(seq) - n + 1):
                if seq[i : i + n] == term and not any(taken[i : i + n]):
                    taken[i : i + n] = [True] * n
                    found.append((i, i + n, [term, *(a for a in alternatives if a != term)]))
        found.sort()
        out: list[tuple[tuple[str, ...], Swaps]] = []
        for choice in islice(product(*(alts for _, _, alts in found)), MAX_VARIANTS):
            words: list[str] = []
            swaps: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
            pos = 0
            for (start, end, alts), alt in zip(found, choice, strict=True):
                words.extend(seq[pos:start])
                words.extend(alt)
                if alt != alts[0]:
                    swaps.append((alts[0], alt))
                pos = end
            words.extend(seq[pos:])
            out.append((tuple(words), tuple(swaps)))
        return out

    def _phrasings(self, text: str) -> tuple[tuple[tuple[str, ...], ...], tuple[Swaps, ...]]:
        known = self._memo.get(text)
        if known is None:
            seq = _normalised(raw_words(text))
            kept: dict[tuple[str, ...], Swaps] = {}
            for words, swaps in self._variants(seq, "normalised"):
                kept.setdefault(tuple(dict.fromkeys(words)), swaps)
            known = (tuple(kept), tuple(kept.values()))
            if len(self._memo) < 4096:
                self._memo[text] = known
        return known

    def variants(self, text: str) -> tuple[tuple[str, ...], ...]:
        """The phrasings of ``text`` as normalised words (each distinct, in order), the text's own first; at most
        :data:`MAX_VARIANTS`."""
        return self._phrasings(text)[0]

    def swaps(self, text: str) -> tuple[tuple[tuple[str, str], ...], ...]:
        """For each of :meth:`variants`, the terms of ``text`` it reads as other terms of their groups, as the
        thesaurus writes them (``(("money advice", "debt advice"),)``; ``()`` for the text's own phrasing)."""
        shown = self._display
        return tuple(
            tuple((shown.get(term, " ".join(term)), shown.get(alt, " ".join(alt))) for term, alt in swaps)
            for swaps in self._phrasings(text)[1]
        )

    def expand(self, query: str) -> tuple[str, ...]:
        """The other phrasings of ``query`` in plain lower-case words (the query itself excluded), for search:
        ``"money advice for women"`` -> ``("debt advice for women", "money advice for female", ...)``."""
        seq = tuple(raw_words(query))
        own = " ".join(seq)
        return tuple(dict.fromkeys(p for p in (" ".join(v) for v, _ in self._variants(seq, "raw")) if p != own))

    def related(self, word_or_phrase: str) -> tuple[str, ...]:
        """The terms meaning the same as ``word_or_phrase`` (itself excluded; ``()`` when it is in no group)."""
        key: Callable[[Sequence[str]], tuple[str, ...]] = _normalised
        mine = key(raw_words(word_or_phrase))
        return tuple(
            t
            for terms in self.groups
            if any(key(t.split()) == mine for t in terms)
            for t in terms
            if key(t.split()) != mine
        )


EMPTY_THESAURUS: Final = Thesaurus()
