"""Bulk word indexing of many texts (used when building a candidate pool)."""

from __future__ import annotations

import re
from itertools import repeat
from typing import Final

import numpy as np
import numpy.typing as npt

from .text import normalise_word

# Every non-alphanumeric ASCII character becomes a space, except NUL which
# becomes SOH: NUL separates documents and must survive as its own token.
_ASCII_TABLE: Final = "".join("\x01" if i == 0 else (chr(i) if chr(i).isalnum() else " ") for i in range(128))
_WORD_OR_SEP_RE: Final = re.compile(r"[^\W_]+|\x00")
_SEPARATOR: Final = " \x00 "
_SEP_ID: Final = -3
_STOP_ID: Final = -1
_UNSEEN: Final = -9


def index_words(
    texts: list[str], chunk: int = 4096
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], tuple[str, ...]]:
    """Normalised word ids of many texts at once.

    Returns ``(owner, word_id, vocabulary)``: flat arrays with ``owner`` ascending
    (index into ``texts``) and ``vocabulary[word_id]`` the normalised word. The
    words are exactly those of :func:`matching.text.words` (runs of alphanumeric
    characters, normalised), but texts are processed in chunks joined by a NUL
    separator so per-text Python overhead stays small; all-ASCII chunks take the
    ``str.translate`` + ``split`` fast path, others a single regex ``findall``.
    A word repeated within one text may appear more than once.
    """
    raw_ids: dict[str, int] = {"\x00": _SEP_ID, "\x01": _SEP_ID}
    vocab: dict[str, int] = {}
    owners: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    items: list[npt.NDArray[np.int32]] = [np.zeros(0, dtype=np.int32)]
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        big = _SEPARATOR.join(part).lower()
        if big.count("\x00") != len(part) - 1:
            big = _SEPARATOR.join(t.replace("\x00", " ") for t in part).lower()
        toks = big.translate(_ASCII_TABLE).split() if big.isascii() else _WORD_OR_SEP_RE.findall(big)
        ids = np.fromiter(map(raw_ids.get, toks, repeat(_UNSEEN)), dtype=np.int32, count=len(toks))
        for k in np.flatnonzero(ids == _UNSEEN).tolist():
            raw = toks[k]
            wid = raw_ids.get(raw)
            if wid is None:
                norm = normalise_word(raw)
                wid = raw_ids[raw] = _STOP_ID if norm is None else vocab.setdefault(norm, len(vocab))
            ids[k] = wid
        owner = start + np.cumsum(ids == _SEP_ID, dtype=np.int64)
        keep = ids >= 0
        owners.append(owner[keep])
        items.append(ids[keep])
    return np.concatenate(owners), np.concatenate(items), tuple(vocab)
