"""Word normalisation and bulk indexing agree with each other."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.text import normalise_word, words
from matching.wordindex import index_words


def test_normalise_word() -> None:
    assert normalise_word("housing") == "hous"
    assert normalise_word("leavers") == "leaver"
    assert normalise_word("families") == "family"
    assert normalise_word("the") is None and normalise_word("to") is None and normalise_word("2024") is None
    assert words("Supported HOUSING, housed; the women's refuge") == ("support", "hous", "women", "refuge")


def per_text_ids(texts: list[str]) -> list[set[str]]:
    owner, item, vocab = index_words(texts, chunk=3)
    out: list[set[str]] = [set() for _ in texts]
    for o, i in zip(owner.tolist(), item.tolist(), strict=True):
        out[o].add(vocab[i])
    return out


def test_index_words_matches_words_on_tricky_text() -> None:
    texts = [
        "Café-based support_groups for Women’s refuges",
        "",
        "NUL\x00inside text \x01 and ΟΔΟΣ naïve résumé",
        "plain ascii housing, housing & more housing!",
        "   ",
        "Ünïcödé 123 abc_def",
    ]
    assert per_text_ids(texts) == [set(words(t)) for t in texts]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), max_size=8))
def test_index_words_matches_words(texts: list[str]) -> None:
    assert per_text_ids(texts) == [set(words(t)) for t in texts]
