"""Word normalisation, and the vectorised word scanner agrees with words() + fuzz.ratio."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from matching.text import STOPWORDS, SUFFIX_RULES, WORD_CUTOFF, normalise_word, words
from matching.wordscan import best_matches


def test_normalise_word() -> None:
    assert normalise_word("housing") == "hous"
    assert normalise_word("leavers") == "leaver"
    assert normalise_word("families") == "family"
    assert normalise_word("the") is None and normalise_word("to") is None and normalise_word("2024") is None
    assert words("Supported HOUSING, housed; the women's refuge") == ("support", "hous", "women", "refuge")


def test_vectorised_normalisation_agrees_with_normalise_word_on_many_words() -> None:
    from matching.wordscan import _STOP_WORDS, _normalise, _pack_words, _strings

    rng = np.random.default_rng(11)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    suffixes = ["", "s", "ss", "ies", "ing", "ed", "ings", "ied", "sses", "ieses", "eds", "y", "ying", "inged", "sing"]
    made = {
        "".join(rng.choice(letters[: 26 if rng.random() < 0.8 else 36], size=rng.integers(0, 9)))
        + str(rng.choice(suffixes))
        for _ in range(20_000)
    }
    made |= {w for w in STOPWORDS if w.isascii()} | {"123", "2024", "00", "1st", "ies", "sies", "tied", "ties", "thing"}
    made |= {str(s) + str(t) for s in suffixes for t in suffixes}
    many = sorted(w for w in made if 0 < len(w) <= 24)
    assert len(many) > 15_000
    norm, dropped = _normalise(_pack_words(many), _pack_words(_STOP_WORDS))
    got = [None if d else w for d, w in zip(dropped.tolist(), _strings(norm), strict=True)]
    assert got == [normalise_word(w) for w in many]
    # the vectorised version rewrites words in place: a replacement is never longer than its suffix
    assert all(len(rule.replacement) <= len(rule.suffix) for rules in SUFFIX_RULES for rule in rules)


def reference(texts: list[str], owner: list[int], n: int, query: list[str]) -> np.ndarray:
    """Straightforward definition: best fuzz.ratio (>= cutoff) over each owner's words, / 100."""
    out = np.zeros((len(query), n))
    for text, who in zip(texts, owner, strict=True):
        for w in words(text):
            for q, qw in enumerate(query):
                r = fuzz.ratio(qw, w, score_cutoff=WORD_CUTOFF)
                out[q, who] = max(out[q, who], r / 100.0)
    return out


def scan(texts: list[str], owner: list[int], n: int, query: list[str]) -> np.ndarray:
    return best_matches(texts, np.asarray(owner, dtype=np.int64), n, query)


TRICKY = [
    "Café-based support_groups for Women’s refuges",
    "",
    "NUL\x00inside text \x01 and ΟΔΟΣ naïve résumé",
    "plain ascii housing, housing & more housing!",
    "   ",
    "Ünïcödé 123 abc_def",
    "£500 grants; 24/7 helpline; KELVIN \u212a sign; İstanbul office",
    "supercalifragilisticexpialidocious and pneumonoultramicroscopicsilicovolcanoconiosis",
    "exactly8c exactly9ch sixteen16charsxx seventeen17charsxy twentyfour24charsxxxxxxx",
    "Supported housing for care leavers; tenancies, studies, walked, outreaching, classes",
    "lone surrogate \ud800 inside",
]
QUERY = sorted({*words("supported housing for care leavers rural outreach"), "cafe", "naive", "istanbul", "tenancy"})


def test_scanner_matches_reference_on_tricky_text() -> None:
    owner = [k % 4 for k in range(len(TRICKY))]
    assert np.array_equal(scan(TRICKY, owner, 4, QUERY), reference(TRICKY, owner, 4, QUERY))
    single = [[t] for t in TRICKY]
    for texts in single:
        assert np.array_equal(scan(texts, [0], 1, QUERY), reference(texts, [0], 1, QUERY))


def test_scanner_finds_fuzzy_and_inflected_matches() -> None:
    texts = ["Trauma-informd counseling", "nothing relevant", "HOUSES and housing"]
    got = scan(texts, [0, 1, 2], 3, ["inform", "hous"])
    assert got[0, 0] == fuzz.ratio("inform", "informd") / 100 and got[0, 1] == 0.0
    assert got[1, 2] == 1.0 and got[1, 0] == 0.0


def test_scanner_many_chunks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import matching.wordscan as ws

    monkeypatch.setattr(ws, "_CHUNK_CHARS", 64)
    rng = np.random.default_rng(3)
    vocab = ["housing", "houses", "care", "leavers", "leaver", "rural", "outreach", "the", "of", "café", "2024"]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(0, 12))) for _ in range(200)]
    owner = rng.integers(0, 50, size=len(texts)).tolist()
    assert np.array_equal(scan(texts, owner, 50, QUERY), reference(texts, owner, 50, QUERY))


word_chars = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzAEIOUS0123456789éÉ’_- .,;\x00"))
text = st.lists(st.text(alphabet=word_chars, min_size=0, max_size=30), max_size=4).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.one_of(text, st.text(alphabet=st.characters(codec="utf-8"), max_size=40)), max_size=8),
    query=st.lists(st.text(alphabet="abcdeiosuy", min_size=3, max_size=9), min_size=1, max_size=4, unique=True),
)
def test_scanner_matches_reference(texts: list[str], query: list[str]) -> None:
    owner = [k % 3 for k in range(len(texts))]
    assert np.array_equal(scan(texts, owner, 3, query), reference(texts, owner, 3, query))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet=st.sampled_from(list("aAbBßS \t\u00a0\u2003xX\x00_")), max_size=6), max_size=4),
        max_size=6,
    ).map(lambda ls: [*ls, ["a", "A ", "b", *(f"x{k % 7}" for k in range(20))]] if len(ls) % 2 else ls)
)
def test_distinct_counts_matches_definition(lists: list[list[str]]) -> None:
    from matching.columns import distinct_counts

    expected = [len({s.strip().casefold() for s in xs} - {""}) for xs in lists]
    assert distinct_counts([tuple(xs) for xs in lists]).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.one_of(text, st.text(alphabet=st.characters(codec="utf-8"), max_size=40)), max_size=10),
    query=st.lists(st.text(alphabet="abcdeiosuy", min_size=3, max_size=9), min_size=1, max_size=4, unique=True),
    pick=st.lists(st.integers(0, 3), max_size=6),
)
def test_word_index_matches_one_shot_scan(texts: list[str], query: list[str], pick: list[int]) -> None:
    from matching.wordscan import WordIndex

    owner = [k % 4 for k in range(len(texts))]
    index = WordIndex.build(texts, np.asarray(owner, dtype=np.int64), 4)
    full = scan(texts, owner, 4, query)
    idx = np.asarray(pick, dtype=np.int64)
    assert np.array_equal(index.best_matches(idx, query), full[:, idx])


def test_scanner_stays_exact_when_hashes_collide(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import matching.wordscan as ws

    # degenerate hashes: every long word hashes to its first 8 bytes, tables to one slot
    monkeypatch.setattr(ws, "_MIX1", 0)
    monkeypatch.setattr(ws, "_MIX2", 0)
    monkeypatch.setattr(ws, "_TABLE_MULTS", (0, 0))
    texts = [
        "outreaching outreachers outreach outreached",
        "supported supportedness supporter supportive",
        "housingsss housing houses housingassociation",
        "leavers leaversxyz leaverslong care careers",
    ]
    query = sorted({*words("supported housing care leavers outreach")})
    owner = [0, 1, 2, 1]
    assert np.array_equal(scan(texts, owner, 3, query), reference(texts, owner, 3, query))
