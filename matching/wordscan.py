"""Fuzzy word matching of many texts against a few query words, vectorised.

:func:`best_matches` answers, for every owner (a candidate) and every query word
(a normalised priority word): what is the best similarity between the query word
and any of the owner's words? The words of a text are exactly those of
:func:`matching.text.words` (runs of alphanumeric characters, lower-cased,
normalised by :func:`matching.text.normalise_word`); similarity is
``rapidfuzz.fuzz.ratio`` with cutoff :data:`~matching.text.WORD_CUTOFF`, so a
word below the cutoff counts 0.

How, without Python work per word occurrence:

1. Texts are joined with NUL separators (in chunks of about 256k characters),
   lower-cased and encoded to UTF-8 once. A byte translation marks "run" bytes
   (ASCII letters and digits, and every byte >= 0x80); numpy finds where runs
   start and end.
2. A run of ASCII bytes only is exactly one word. A run containing a non-ASCII
   byte (``café``, ``£500``, ``women’s``) or longer than 24 bytes is decoded and
   split with the same regular expression as :func:`~matching.text.words` (the
   "slow path"; such runs are rare). Runs under 3 bytes are dropped, as
   normalisation would drop them.
3. Every other word is packed into three little-endian ``uint64`` keys
   (zero-padded), which identify it exactly. Equal words are grouped (per chunk,
   then across chunks) by a sort of the distinct keys and a hash table over
   them; words longer than 8 bytes are grouped by a hash of their three keys and
   then checked against their group's first long member, so grouping is exact,
   never probabilistic.
4. The distinct words are normalised on their packed bytes (the rules of
   :func:`~matching.text.normalise_word`, vectorised), the distinct normalised
   words become Python strings and are compared with the query words in one
   ``rapidfuzz.process.cdist`` call. Only words within the cutoff of some query
   word ("hits") are mapped back to their owners.

:class:`WordIndex` keeps every owner's distinct normalised words instead, for
matching many queries against the same texts (a reused :class:`~matching.pool.CandidatePool`,
a :class:`~matching.compact.CompactPool`).

The result equals computing ``words()`` of every text and taking, per owner and
query word, the best ``fuzz.ratio`` at or above the cutoff, divided by 100 (a
property test checks this).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from .text import MIN_WORD_LENGTH, SENTENCE_BREAKS, STOPWORDS, SUFFIX_RULES, WORD_CUTOFF, normalise_word, raw_words

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

# byte -> 1 when it can be part of a word run (ASCII alphanumeric, or any byte of a non-ASCII character)
_RUN_BYTES: Final = bytes(1 if (b >= 0x80 or chr(b).isalnum()) else 0 for b in range(256))
_PACKED_MAX: Final = 24
_PAD: Final = 32
_BREAK_BYTES: Final = bytes(1 if chr(b) in SENTENCE_BREAKS else 0 for b in range(256))
SENTENCE_BITS: Final = 8
"""Sentences of a text told apart when judging whether words come close together: sentence ``k`` of a text
(``k`` counting the sentence-break characters before it) is bit ``min(k, 7)``, so the first seven sentences
each count apart and the rest of a long text counts as one passage."""
_CHUNK_CHARS: Final = 1 << 18
"""Texts are scanned in chunks of about this many characters: temporaries stay small and cache-resident."""
_MIX1: Final = 0xFF51AFD7ED558CCD
_MIX2: Final = 0xC4CEB9FE1A85EC53
_TABLE_MULTS: Final = (0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93)


class Packed(NamedTuple):
    """Words packed as three little-endian uint64 keys (bytes 0-7, 8-15, 16-23, zero-padded)."""

    k1: U64
    k2: U64
    k3: U64

    def take(self, idx: Ints) -> Packed:
        return Packed(self.k1[idx], self.k2[idx], self.k3[idx])


def _pack_words(words: Sequence[str]) -> Packed:
    """Pack ASCII words of at most 24 characters (used for the stop word list)."""
    rows = [w.encode("ascii").ljust(_PACKED_MAX, b"\0") for w in words]
    cols = [np.array([int.from_bytes(r[k : k + 8], "little") for r in rows], dtype=np.uint64) for k in (0, 8, 16)]
    return Packed(cols[0], cols[1], cols[2])


_STOP_WORDS: Final[tuple[str, ...]] = tuple(sorted(w for w in STOPWORDS if w.isascii() and len(w) <= _PACKED_MAX))


class _Chunk(NamedTuple):
    owner: npt.NDArray[np.int32]
    """Owner of each packed word occurrence."""
    bits: npt.NDArray[np.uint8]
    """Sentence bit of each packed word occurrence (see :func:`sentence_bits`)."""
    word: npt.NDArray[np.int32]
    """Index of the occurrence's word among the chunk's distinct packed words."""
    words: Packed
    """The chunk's distinct packed words."""


class _Scan(NamedTuple):
    chunks: list[_Chunk]
    norm_of_chunk_word: list[Ints]
    """Per chunk: normalised word id of each of the chunk's distinct packed words (-1: dropped)."""
    vocabulary: list[str]
    """Distinct normalised words."""
    slow_owner: Ints
    slow_norm: Ints
    slow_bits: npt.NDArray[np.uint8]


def _scan(texts: Sequence[str], owner: Ints) -> _Scan:
    owner = np.asarray(owner, dtype=np.int64)
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(_CHUNK_CHARS, int(ends[-1]), _CHUNK_CHARS), side="right")
    bounds = [0, *np.unique(cuts[(cuts > 0) & (cuts < len(texts))]).tolist(), len(texts)]
    chunks: list[_Chunk] = []
    slow_owner: list[int] = []
    slow_words: list[str] = []
    slow_bits: list[int] = []
    for a, b in pairwise(bounds):
        chunks.append(_scan_chunk(texts[a:b], owner[a:b], sizes[a:b], slow_owner, slow_words, slow_bits))

    # distinct words over all chunks -> normalised -> distinct normalised words (+ the slow-path words)
    all_words = Packed(*(np.concatenate([getattr(c.words, f) for c in chunks]) for f in Packed._fields))
    word_group, words = _group(all_words)
    norm, dropped = _normalise(words, _pack_words(_STOP_WORDS))
    kept = np.flatnonzero(~dropped)
    norm_group, norms = _group(norm.take(kept))
    norm_of_word = np.full(len(words.k1), -1, dtype=np.int64)
    norm_of_word[kept] = norm_group
    norm_ids: dict[str, int] = dict(zip(_strings(norms), range(len(norms.k1)), strict=True))
    slow = [
        (o, norm_ids.setdefault(w, len(norm_ids)), bit)
        for o, w, bit in zip(slow_owner, map(normalise_word, slow_words), slow_bits, strict=True)
        if w is not None
    ]
    per_chunk: list[Ints] = []
    offset = 0
    for c in chunks:
        per_chunk.append(norm_of_word[word_group[offset : offset + len(c.words.k1)]])
        offset += len(c.words.k1)
    slow_arr = np.array(slow, dtype=np.int64).reshape(-1, 3)
    return _Scan(chunks, per_chunk, list(norm_ids), slow_arr[:, 0], slow_arr[:, 1], slow_arr[:, 2].astype(np.uint8))


SimilarityMemo = dict[str, tuple[Ints, Floats]]
"""Per query word: the vocabulary words within the cutoff (ascending indices) and their similarity / 100, for
one vocabulary that never changes (a compact pool's word index)."""
MEMO_WORDS: Final = 20_000
"""A memo holding more words than this is emptied before it grows again."""


def _similarities(
    query: Sequence[str], vocabulary: list[str], memo: SimilarityMemo | None = None
) -> tuple[Ints, Floats]:
    """(hit index of every vocabulary word, or -1; similarity / 100 of each query word to each hit).

    ``memo`` (for an unchanging ``vocabulary``): each query word is compared with the vocabulary once; the result
    is the same as without it."""
    hit_of = np.full(len(vocabulary) + 1, -1, dtype=np.int64)  # index -1 (a dropped word) stays -1
    if not vocabulary:
        return hit_of, np.zeros((len(query), 0))
    # a snapshot of what the memo knows: another thread may add to it, or empty it, meanwhile
    known = {} if memo is None else {w: v for w in query if (v := memo.get(w)) is not None}
    missing = [w for w in query if w not in known]
    workers = -1 if len(missing) * len(vocabulary) > 4_000_000 else 1  # threads only pay off for big vocabularies
    sim = (
        process.cdist(
            missing, vocabulary, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64, workers=workers
        )
        if missing
        else np.zeros((0, len(vocabulary)))
    )
    if memo is None:
        hit_cols = np.flatnonzero(sim.any(axis=0))
        hit_of[hit_cols] = np.arange(len(hit_cols))
        return hit_of, sim[:, hit_cols] / 100.0
    if len(memo) + len(missing) > MEMO_WORDS:
        memo.clear()
    for r, w in enumerate(missing):
        cols = np.flatnonzero(sim[r])
        known[w] = memo[w] = (cols, sim[r, cols] / 100.0)
    per_word = [known[w] for w in query]
    hit_cols = np.unique(np.concatenate([cols for cols, _ in per_word])) if per_word else np.zeros(0, dtype=np.int64)
    hit_of[hit_cols] = np.arange(len(hit_cols))
    values = np.zeros((len(query), len(hit_cols)))
    for q, (cols, vals) in enumerate(per_word):
        values[q, hit_of[cols]] = vals
    return hit_of, values


def _best(n_query: int, n: int, who: Ints, hit: Ints, values: Floats) -> Floats:
    best = np.zeros((n_query, n))
    if len(who):
        flat = best.reshape(-1)
        for q in range(n_query):
            np.maximum.at(flat, q * n + who, values[q, hit])
    return best


Groups = Sequence[Sequence[int]]
"""Groups of query words (indices into the query), each judged as a phrase: e.g. a local priority's words."""


class TextMatch(NamedTuple):
    best: Floats
    """Best similarity in [0, 1] of each query word (rows) to any word of each owner (columns)."""
    together: Floats
    """Each group (rows) and owner (columns): the best, over the owner's sentences, of the mean over the group's
    words of their best similarity to a word of that one sentence (1 when every word of the group is found in
    one sentence; see :data:`SENTENCE_BITS`)."""


def _aggregate(
    n_query: int, n: int, col: Ints, unit: Ints, hit: Ints, bits: npt.NDArray[np.uint8], values: Floats, groups: Groups
) -> TextMatch:
    """:class:`TextMatch` of the hits: occurrence ``k`` of a word close to a query word is in text unit
    ``unit[k]`` (counting for column ``col[k]``), sentences ``bits[k]`` of it, and is hit ``hit[k]``."""
    best = _best(n_query, n, col, hit, values)
    together = np.zeros((len(groups), n))
    if not len(groups) or not len(col):
        return TextMatch(best, together)
    occ, bit = np.nonzero(np.unpackbits(bits[:, None], axis=1, bitorder="little"))
    sentences, sid = np.unique(unit[occ] * SENTENCE_BITS + bit, return_inverse=True)
    per_sentence = _best(n_query, len(sentences), sid, hit[occ], values)
    sentence_col = np.zeros(len(sentences), dtype=np.int64)
    sentence_col[sid] = col[occ]
    for g, words in enumerate(groups):
        if len(words):
            np.maximum.at(together[g], sentence_col, per_sentence[list(words)].mean(axis=0))
    return TextMatch(best, together)


def best_matches(texts: Sequence[str], owner: Ints, n: int, query: Sequence[str]) -> Floats:
    """Best similarity in [0, 1] of each query word (rows) to the words of each owner (columns).

    ``texts[k]`` belongs to owner ``owner[k]`` (``0 <= owner[k] < n``); an owner
    may have several texts. ``query`` holds distinct normalised words. One-shot:
    only occurrences of words within the cutoff of a query word are mapped back.
    """
    return text_matches(texts, owner, n, query, ()).best


def text_matches(texts: Sequence[str], owner: Ints, n: int, query: Sequence[str], groups: Groups) -> TextMatch:
    """:func:`best_matches`, and for each group of query words how well they are found together in one
    sentence of one text (:class:`TextMatch`)."""
    if not query or not len(texts) or n == 0:
        return TextMatch(np.zeros((len(query), n)), np.zeros((len(groups), n)))
    owner = np.asarray(owner, dtype=np.int64)
    scan = _scan(texts, np.arange(len(texts), dtype=np.int64))  # owners are the texts; columns come after
    hit_of, values = _similarities(query, scan.vocabulary)
    unit_parts = [scan.slow_owner]
    hit_parts = [hit_of[scan.slow_norm]]
    bit_parts = [scan.slow_bits]
    for c, norm in zip(scan.chunks, scan.norm_of_chunk_word, strict=True):
        hits = hit_of[norm][c.word]
        found = np.flatnonzero(hits >= 0)
        unit_parts.append(c.owner[found].astype(np.int64))
        hit_parts.append(hits[found])
        bit_parts.append(c.bits[found])
    unit = np.concatenate(unit_parts)
    hit = np.concatenate(hit_parts)
    bits = np.concatenate(bit_parts)
    ok = hit >= 0
    unit, hit, bits = unit[ok], hit[ok], bits[ok]
    return _aggregate(len(query), n, owner[unit], unit, hit, bits, values, groups)


class WordIndex(NamedTuple):
    """Distinct normalised words of each owner, for matching many queries against the same texts."""

    offsets: Ints
    """Owner ``i``'s words are ``words[offsets[i]:offsets[i + 1]]``."""
    words: npt.NDArray[np.int32]
    """Ids into ``vocabulary``."""
    vocabulary: list[str]
    bits: npt.NDArray[np.uint8]
    """For each of ``words``: the sentences of the owner's text holding it (bit ``k``: see :data:`SENTENCE_BITS`)."""

    @classmethod
    def build(cls, texts: Sequence[str], owner: Ints, n: int) -> WordIndex:
        if not len(texts) or n == 0:
            return cls(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), [], np.zeros(0, dtype=np.uint8))
        scan = _scan(texts, owner)
        v = max(len(scan.vocabulary), 1)
        # (owner, word) keys with the occurrence's sentence bit in the low byte: one sort groups them
        keys = [(scan.slow_owner * v + scan.slow_norm) << 8 | scan.slow_bits.astype(np.int64)]
        for c, norm in zip(scan.chunks, scan.norm_of_chunk_word, strict=True):
            ids = norm[c.word]
            keep = ids >= 0
            keys.append((c.owner[keep].astype(np.int64) * v + ids[keep]) << 8 | c.bits[keep].astype(np.int64))
        tagged = np.sort(np.concatenate(keys))
        key = tagged >> 8
        if len(key):
            start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            bits = np.bitwise_or.reduceat((tagged & 0xFF).astype(np.uint8), start)
            key = key[start]
        else:
            bits = np.zeros(0, dtype=np.uint8)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(key // v, minlength=n), out=offsets[1:])
        return cls(offsets, (key % v).astype(np.int32), scan.vocabulary, bits)

    def best_matches(self, idx: Ints, query: Sequence[str], owner: Ints | None = None, n: int | None = None) -> Floats:
        """:func:`best_matches` for the owners ``idx`` (columns in ``idx`` order), or, with ``owner``, for
        ``n`` columns, ``idx[k]``'s words counting for column ``owner[k]``."""
        m = len(idx) if owner is None or n is None else n
        if not query or m == 0 or not len(idx) or not self.vocabulary:
            return np.zeros((len(query), m))
        hit_of, values = _similarities(query, self.vocabulary)
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        which = np.repeat(np.arange(len(idx), dtype=np.int64) if owner is None else owner, counts)
        positions = np.arange(len(which), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        hits = hit_of[self.words[positions]]
        found = np.flatnonzero(hits >= 0)
        return _best(len(query), m, which[found], hits[found], values)

    def text_matches(
        self, idx: Ints, query: Sequence[str], groups: Groups, owner: Ints, n: int, memo: SimilarityMemo | None = None
    ) -> TextMatch:
        """:func:`text_matches` for the owners ``idx``, ``idx[k]``'s words counting for column ``owner[k]``
        (``memo``: see :func:`_similarities`)."""
        if not query or n == 0 or not len(idx) or not self.vocabulary:
            return TextMatch(np.zeros((len(query), n)), np.zeros((len(groups), n)))
        hit_of, values = _similarities(query, self.vocabulary, memo)
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        unit = np.repeat(np.arange(len(idx), dtype=np.int64), counts)
        positions = np.arange(len(unit), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        hits = hit_of[self.words[positions]]
        found = np.flatnonzero(hits >= 0)
        unit = unit[found]
        return _aggregate(len(query), n, owner[unit], unit, hits[found], self.bits[positions[found]], values, groups)


def _scan_chunk(
    texts: Sequence[str], owner: Ints, sizes: Ints, slow_owner: list[int], slow_words: list[str], slow_bits: list[int]
) -> _Chunk:
    """Kept word occurrences of ``texts`` (slow-path words go to ``slow_owner`` / ``slow_words``)."""
    big = "\x00".join(texts)
    if big.count("\x00") != len(texts) - 1:
        big = "\x00".join(t.replace("\x00", " ") for t in texts)
    ascii_only = big.isascii()
    buf = b"\x00" + big.lower().encode("utf-8", "surrogatepass") + bytes(_PAD)
    run = np.frombuffer(buf.translate(_RUN_BYTES), dtype=np.bool_)
    edges = np.flatnonzero(run[1:] != run[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    if ascii_only:  # lower() keeps the length of ASCII text: text k starts after byte seps[k]
        seps = np.cumsum(sizes) - sizes
    else:
        seps = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8, count=len(buf) - _PAD) == 0)
    lens = ends - starts
    keep = np.flatnonzero(lens >= MIN_WORD_LENGTH)
    starts, lens = starts[keep], lens[keep]
    per_text = np.diff(np.append(np.searchsorted(starts, seps), len(starts)))
    run_owner = np.repeat(owner, per_text)
    breaks = np.cumsum(np.frombuffer(buf.translate(_BREAK_BYTES), dtype=np.uint8), dtype=np.int64)
    sentence = np.minimum(breaks[starts] - np.repeat(breaks[seps], per_text), SENTENCE_BITS - 1)
    run_bits = np.left_shift(1, sentence).astype(np.uint8)

    slow = lens > _PACKED_MAX
    if not ascii_only:
        high = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8, count=len(buf) - _PAD) >= 0x80)
        r = np.searchsorted(starts, high, side="right") - 1  # the kept run starting at or before each such byte
        inside = r >= 0
        inside[inside] = high[inside] < starts[r[inside]] + lens[r[inside]]
        slow[r[inside]] = True  # runs containing a non-ASCII byte
    if slow.any():
        runs = zip(
            starts[slow].tolist(), lens[slow].tolist(), run_owner[slow].tolist(), run_bits[slow].tolist(), strict=True
        )
        for s, ln, who, bit in runs:
            for raw in raw_words(buf[s : s + ln].decode("utf-8", "surrogatepass")):
                slow_owner.append(who)
                slow_words.append(raw)
                slow_bits.append(bit)
        fast = np.flatnonzero(~slow)
        starts, lens, run_owner, run_bits = starts[fast], lens[fast], run_owner[fast], run_bits[fast]

    # every byte offset viewed as the start of a little-endian uint64 (overlapping, read-only)
    words8 = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    masks = _masks()
    k1 = words8[starts] & masks[np.minimum(lens, 8)]
    k2 = np.zeros_like(k1)
    k3 = np.zeros_like(k1)
    mid = np.flatnonzero(lens > 8)
    if len(mid):
        k2[mid] = words8[starts[mid] + 8] & masks[np.minimum(lens[mid] - 8, 8)]
        far = mid[lens[mid] > 16]
        if len(far):
            k3[far] = words8[starts[far] + 16] & masks[lens[far] - 16]
    group, distinct = _group(Packed(k1, k2, k3))
    # int32 halves what is kept per word occurrence until the hits are known
    return _Chunk(run_owner.astype(np.int32), run_bits, group.astype(np.int32), distinct)


def _masks() -> U64:
    """``masks[k]`` keeps the low ``k`` bytes of a uint64."""
    return np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _group(p: Packed) -> tuple[Ints, Packed]:
    """Exact grouping of equal packed words: (group id of each row, the distinct words by group id).

    Rows are grouped by ``h``: ``k1`` itself for words of at most 8 bytes (exact), a
    hash of the three keys for longer ones. Rows of a group that holds a long word
    are checked against the group's first long row, and any mismatch (a hash
    collision) is regrouped exactly in Python (practically never runs).
    """
    long_rows = np.flatnonzero(p.k2)  # every word over 8 bytes has a non-zero second key
    h = p.k1.copy()
    if len(long_rows):
        h[long_rows] ^= (p.k2[long_rows] * np.uint64(_MIX1)) ^ (p.k3[long_rows] * np.uint64(_MIX2))
    group, distinct = _group_u64(h)
    words = Packed(distinct, np.zeros_like(distinct), np.zeros_like(distinct))
    if not len(long_rows):
        return group, words
    rep = np.full(len(distinct), -1, dtype=np.int64)
    rep[group[long_rows[::-1]]] = long_rows[::-1]  # the last write wins: the first long row of each group
    check = np.flatnonzero(rep[group] >= 0)  # rows in groups holding a long word
    r = rep[group[check]]
    bad = check[(p.k1[check] != p.k1[r]) | (p.k2[check] != p.k2[r]) | (p.k3[check] != p.k3[r])]
    mixed = np.flatnonzero(rep >= 0)
    words.k1[mixed], words.k2[mixed], words.k3[mixed] = p.k1[rep[mixed]], p.k2[rep[mixed]], p.k3[rep[mixed]]
    if len(bad):
        extra: dict[tuple[int, int, int], int] = {}
        keys = zip(p.k1[bad].tolist(), p.k2[bad].tolist(), p.k3[bad].tolist(), strict=True)
        for row, key in zip(bad.tolist(), keys, strict=True):
            k = extra.get(key)
            if k is None:
                k = extra[key] = len(distinct) + len(extra)
            group[row] = k
        more = np.array(list(extra), dtype=np.uint64).reshape(-1, 3)
        words = Packed(*(np.concatenate([col, more[:, j]]) for j, col in enumerate(words)))
    return group, words


def _group_u64(values: U64) -> tuple[Ints, U64]:
    """Group equal values: (group id of each value, the distinct values in ascending order).

    The distinct values come from a sort; every value then finds its group through a
    hash table over the distinct values (one scatter, one gather, one check). Values
    whose slot holds another distinct value try a second table, and the very few left
    a binary search.
    """
    distinct = np.sort(values)
    if not len(distinct):
        return np.zeros(0, dtype=np.int64), distinct
    distinct = distinct[np.concatenate(([True], distinct[1:] != distinct[:-1]))]
    bits = max(8, min(22, len(distinct).bit_length() + 2))
    shift = np.uint64(64 - bits)
    ids = np.arange(len(distinct))
    group = np.empty(0, dtype=np.int64)
    todo = np.arange(0)
    for k, mult in enumerate(_TABLE_MULTS):
        m = np.uint64(mult)
        table = np.empty(1 << bits, dtype=np.int64)  # every slot read below was written
        table[(distinct * m) >> shift] = ids
        if k == 0:
            group = table[(values * m) >> shift]
            todo = np.flatnonzero(distinct[group] != values)
        else:
            v = values[todo]
            g = table[(v * m) >> shift]
            ok = distinct[g] == v
            group[todo[ok]] = g[ok]
            todo = todo[~ok]
        if not len(todo):
            return group, distinct
    group[todo] = np.searchsorted(distinct, values[todo])
    return group, distinct


def _normalise(p: Packed, stop: Packed) -> tuple[Packed, npt.NDArray[np.bool_]]:
    """:func:`~matching.text.normalise_word` on packed ASCII words: (normalised words, dropped).

    The same rules, read from :mod:`matching.text`: :data:`~matching.text.MIN_WORD_LENGTH`, the stop
    words, digits-only words, then :data:`~matching.text.SUFFIX_RULES`.
    """
    m = len(p.k1)
    b = np.stack([p.k1, p.k2, p.k3], axis=1).view(np.uint8)  # (m, 24): byte j of each word in column j
    length = np.count_nonzero(b, axis=1)
    rows = np.arange(m)

    def ends_with(suffix: str) -> npt.NDArray[np.bool_]:
        ok: npt.NDArray[np.bool_] = length >= len(suffix)
        for k, ch in enumerate(reversed(suffix), start=1):
            ok &= b[rows, np.maximum(length - k, 0)] == ord(ch)
        return ok

    dropped = (length < MIN_WORD_LENGTH) | (((b >= ord("0")) & (b <= ord("9"))) | (b == 0)).all(axis=1)
    maybe = np.flatnonzero(np.isin(p.k1, stop.k1))
    if len(maybe):
        stop_keys = set(zip(stop.k1.tolist(), stop.k2.tolist(), stop.k3.tolist(), strict=True))
        cand = zip(p.k1[maybe].tolist(), p.k2[maybe].tolist(), p.k3[maybe].tolist(), strict=True)
        dropped[maybe] |= np.fromiter(map(stop_keys.__contains__, cand), dtype=np.bool_, count=len(maybe))

    for rules in SUFFIX_RULES:  # the same table as normalise_word: in each pass the first rule that applies
        done = np.zeros(m, dtype=np.bool_)
        for rule in rules:
            hit = ~done & (length > rule.longer_than) & ends_with(rule.suffix)
            if rule.unless is not None:
                hit &= ~ends_with(rule.unless)
            done |= hit
            r = np.flatnonzero(hit)
            cut = len(rule.suffix)
            for k in range(1, cut + 1):
                b[r, length[r] - k] = 0
            for k, ch in enumerate(rule.replacement):  # never longer than the suffix (checked in the tests)
                b[r, length[r] - cut + k] = ord(ch)
            length[r] += len(rule.replacement) - cut
    keys = b.view(np.uint64)  # (m, 3)
    return Packed(keys[:, 0].copy(), keys[:, 1].copy(), keys[:, 2].copy()), dropped


def _strings(p: Packed) -> list[str]:
    """Packed ASCII words back to Python strings."""
    if not len(p.k1):
        return []
    raw = np.stack([p.k1, p.k2, p.k3], axis=1).view(f"S{_PACKED_MAX}").reshape(-1)  # trailing NULs dropped
    words: list[str] = raw.astype(f"U{_PACKED_MAX}").tolist()
    return words
