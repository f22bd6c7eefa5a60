"""Text normalisation for local-priority matching.

Text is split into alphanumeric words, lower-cased, stop words and words shorter
than 3 characters dropped, and a light suffix stripper applied ("housing" ->
"hous", "leavers" -> "leaver") so that fuzzy word similarity copes with
inflection. Word similarity is rapidfuzz's normalised Indel ratio (0-100) with a
cutoff of :data:`WORD_CUTOFF`; below the cutoff words do not match at all.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

WORD_CUTOFF: Final = 80.0

_WORD_RE: Final = re.compile(r"[^\W_]+")
SENTENCE_BREAKS: Final = ".;!?\n"
"""Characters ending a sentence (a passage within which words count as close together)."""
_SNIPPET_RE: Final = re.compile(r"[^.;!?\n]+")

STOPWORDS: Final[frozenset[str]] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up upon very was we were what when where which while who whom why
    will with within without would you your yours yourself yourselves us via per etc including include
    includes across around among amongst well where whether every
    """.split()  # noqa: SIM905 - a word list reads (and is edited) best as text
)


MIN_WORD_LENGTH: Final = 3
"""Words shorter than this are ignored."""


class SuffixRule(NamedTuple):
    """Strip ``suffix`` (and append ``replacement``) from a word longer than ``longer_than`` characters
    that ends with ``suffix`` but not with ``unless``."""

    suffix: str
    longer_than: int
    replacement: str = ""
    unless: str | None = None


SUFFIX_RULES: Final[tuple[tuple[SuffixRule, ...], ...]] = (
    (SuffixRule("ies", 4, "y"), SuffixRule("s", 3, unless="ss")),
    (SuffixRule("ing", 5), SuffixRule("ed", 4)),
)
"""The light stemmer: the passes run in order, and in each pass the first rule that applies (if any) is
applied once, to the word as the previous pass left it ("families" -> "family", "leavers" -> "leaver",
"housing" -> "hous", "walked" -> "walk"). Both :func:`normalise_word` and the vectorised normalisation of
:mod:`matching.wordscan` follow this table."""


_PASSES: Final = tuple((tuple(rule.suffix for rule in rules), rules) for rules in SUFFIX_RULES)
""":data:`SUFFIX_RULES` with each pass's suffixes, so that most words skip a pass with one ``endswith``."""


def normalise_word(word: str) -> str | None:
    """Normalised form of one lower-case word, or ``None`` if it is ignored.

    Ignored: shorter than :data:`MIN_WORD_LENGTH`, a stop word, or only digits. Otherwise
    :data:`SUFFIX_RULES` are applied.
    """
    if len(word) < MIN_WORD_LENGTH or word in STOPWORDS or word.isdigit():
        return None
    for suffixes, rules in _PASSES:
        if word.endswith(suffixes):
            for suffix, longer_than, replacement, unless in rules:
                if len(word) > longer_than and word.endswith(suffix) and not (unless and word.endswith(unless)):
                    word = word[: len(word) - len(suffix)] + replacement
                    break
    return word


def raw_words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text`` (before normalisation)."""
    return _WORD_RE.findall(text.lower())


def words(text: str) -> tuple[str, ...]:
    """Distinct normalised words of ``text`` in first-seen order."""
    return tuple(word_forms(text))


def word_forms(text: str, memo: dict[str, str | None] | None = None) -> dict[str, str]:
    """Distinct normalised words of ``text`` (first-seen order) -> first lower-case surface form.

    ``memo``: a caller's cache of :func:`normalise_word` results, shared across calls (same results).
    """
    seen: dict[str, str] = {}
    if memo is None:
        for raw in raw_words(text):
            w = normalise_word(raw)
            if w is not None:
                seen.setdefault(w, raw)
        return seen
    for raw in raw_words(text):
        w = memo.get(raw, "")
        if w == "":
            w = memo[raw] = normalise_word(raw)
        if w is not None:
            seen.setdefault(w, raw)
    return seen


def snippets(text: str) -> list[str]:
    """Sentence-like fragments of ``text`` (split on . ; ! ? and newlines), stripped."""
    return [s.strip() for s in _SNIPPET_RE.findall(text) if s.strip()]


def shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def counted(n: float, thing: str) -> str:
    """`n` of `thing` in words: "1 record", "3 records", "0 services" (a plural in s, as the explanations' nouns)."""
    return f"{n:g} {thing}" if n == 1 else f"{n:g} {thing}s"
