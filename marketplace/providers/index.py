"""The directory's search index: one process's in-memory view of what search reads of every provider.

Pure: rows in, answers out (no I/O, no clock). `queries.LiveIndex` loads the rows, and keeps the index
exact with `marketplace.changes` before every search; the page's display fields come from the database.

Layout, at 200,000 providers about 130 MB:
- a row per provider version, append-only: a changed provider gets a new row and its old row dies
  (`alive`), so postings stay sorted by row and are only ever appended to; `compact()` drops dead rows
  when they pile up;
- one boolean column per filter value (status, pathway, cohort, area, accreditation, sector, legal form;
  a retired row leaves its status column, so a status column is also "alive"), capacity (-1 for none),
  `rank`, each live row's place in name order (case- and accent-insensitive name, then id), and its
  inverse `_by_rank`, both maintained on every change: a page by name walks `_by_rank` and stops as soon
  as it has enough rows;
- postings for free text: for each word of the search documents (`provider.search_doc`, built by
  `refresh_provider_search`) and each weight class (A name, B pathway and area names, C description,
  expertise and premises text), the ascending rows holding it in that class as their best class, in one
  CSR block (`_words`, `_offsets`, `_rows`) plus a small append-only delta for rows added since.

A text query is a list of groups (AND), each a list of vocabulary words (OR): a provider matches when
every group has a word in its document; its relevance is the sum over groups of the best class weight
found (name 1.0, pathway/area 0.4, text 0.2). Relevance ties are broken by name order.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import count

import msgspec
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

CLASS_WEIGHTS = (1.0, 0.4, 0.2)  # A, B, C
DENSE_FLOOR = 4096  # no bitmaps below this many rows (a bitmap over fewer rows saves nothing worth having)
_SCORE_SCALE = 10  # every weight is a multiple of 0.1: integer scores order exactly
FACETS = ("status", "pathway", "cohort", "area", "accreditation", "sector", "legal_form")
VOCAB_WORD = re.compile(r"[a-z0-9]{2,40}")
QUERY_SPLIT = re.compile(r"[^a-z0-9]+")
_LIGATURES = str.maketrans({"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "ß": "ss"})


class ServiceRow(msgspec.Struct, frozen=True, array_like=True):
    """What the index holds of one active service (queries.INDEX_ROW, in order)."""

    id: int
    pathway: str
    cohorts: list[str]
    areas: list[str]
    """area_match_codes: the service areas with every area above and below them"""
    accreditations: list[str]
    """The service's own (the organisation's are on the IndexRow)."""
    capacity: int | None
    min_age: int | None
    max_age: int | None
    gender: str
    """men, women or both"""
    complexity: list[str]
    delivery: list[str]
    cost: float | None
    """The indicative cost's amount, in pounds (whatever its unit)."""


class IndexRow(msgspec.Struct, frozen=True, array_like=True):
    """What the index holds of one provider (queries.INDEX_ROW, in order)."""

    id: int
    name: str
    status: str
    sector: str | None
    legal_form: str
    accreditations: list[str]
    """The organisation's own."""
    words: tuple[str, str, str]
    """The search document's words of each weight class, space-separated."""
    services: list[ServiceRow]
    """Its active services."""


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """Provider-level: status, sector, legal_form. Service-level (one active service must meet them all):
    pathway, area, cohort, min_capacity, age, gender, complexity, delivery_mode, max_cost. accreditation: each
    one held by the organisation or by that same service."""

    status: str = "published"
    pathway: Sequence[str] = ()
    area: Sequence[str] = ()
    cohort: Sequence[str] = ()
    sector: Sequence[str] = ()
    legal_form: Sequence[str] = ()
    accreditation: Sequence[str] = ()
    min_capacity: int | None = None
    age: int | None = None
    gender: str | None = None
    complexity: Sequence[str] = ()
    delivery_mode: Sequence[str] = ()
    max_cost: float | None = None


class Hits(msgspec.Struct, frozen=True):
    total: int
    ids: list[int]
    relevance: list[float] | None
    facets: dict[str, dict[str, int]] | None
    matched: list[list[int]] | None = None
    """For each id of the page, the ids of its services that met every service-level filter (all its active
    services when the search has none)."""


def fold(text: str) -> str:
    """Lower case without accents, as the database's fold() (unaccent, lower) for search words."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _allowed_edits(token: str) -> int:
    return 1 if len(token) <= 4 else 2 if len(token) <= 8 else 3


def closest_spellings(token: str, candidates: Sequence[str]) -> list[str]:
    """The candidates fewest edits away from token (a swap is one edit), if that is few enough for its length."""
    allowed = _allowed_edits(token)
    found = process.extract(token, candidates, scorer=OSA.distance, score_cutoff=allowed, limit=None)
    best = min((d for _, d, _ in found), default=allowed + 1)
    return sorted(w for w, d, _ in found if d == best)


def name_key(name: str, provider_id: int) -> str:
    """Sort key for name order: case- and accent-insensitive name, then id (one string: compact)."""
    return f"{fold(name)}\x00{provider_id:015d}"


def _grow(a: np.ndarray, cap: int, dtype: type, fill: int) -> np.ndarray:
    out: np.ndarray = np.full(cap, fill, dtype=dtype)
    out[: len(a)] = a
    return out


class SearchIndex:
    """Build with `SearchIndex.build(batches)`; keep current with `apply`."""

    def __init__(self) -> None:
        self._cap = 0
        self.n = 0  # rows used (alive or dead)
        self.dead = 0
        self._row_of = np.full(0, -1, dtype=np.int32)  # provider id -> current row
        self._keys: list[str] = []  # name keys of live providers, sorted
        self._bits: dict[str, dict[str, np.ndarray]] = {f: {} for f in FACETS}
        self._vocab: list[str] = []  # sorted words usable in queries
        self._vocab_set: set[str] = set()
        self._vocab_by_len: defaultdict[int, list[str]] = defaultdict(list)  # for typo correction
        self._words: dict[str, int] = {}  # word -> its id in the CSR block
        self._offsets = np.zeros(1, dtype=np.int64)  # (word id * 3 + class) -> start in _rows
        self._rows = np.zeros(0, dtype=np.int32)
        self._dense: dict[int, np.ndarray] = {}  # (word id * 3 + class) -> packed bitmap over rows (see _make_dense)
        self._delta: dict[str, list[tuple[int, int]]] = defaultdict(list)  # word -> [(row, class)] since
        self.ids: np.ndarray = np.zeros(0, dtype=np.int64)  # row -> provider id
        self.alive: np.ndarray = np.zeros(0, dtype=np.bool_)
        self.capacity: np.ndarray = np.zeros(0, dtype=np.int64)  # -1: not stated
        self.rank: np.ndarray = np.zeros(0, dtype=np.int64)  # live row -> place in name order; -1 when dead
        self._by_rank = np.zeros(0, dtype=np.int64)  # live rows in name order
        self._alloc(1024)

    # --- storage -------------------------------------------------------------------------------

    def _alloc(self, cap: int) -> None:
        self.ids = _grow(self.ids, cap, np.int64, 0)
        self.alive = _grow(self.alive, cap, np.bool_, 0)
        self.capacity = _grow(self.capacity, cap, np.int64, -1)
        self.rank = _grow(self.rank, cap, np.int64, -1)
        for bits in self._bits.values():
            for code, a in bits.items():
                bits[code] = _grow(a, cap, np.bool_, 0)
        for key, bitmap in self._dense.items():
            self._dense[key] = _grow(bitmap, (cap + 7) // 8, np.uint8, 0)
        self._cap = cap

    def _bit(self, facet: str, code: str) -> np.ndarray:
        a = self._bits[facet].get(code)
        if a is None:
            a = self._bits[facet][code] = np.zeros(self._cap, dtype=np.bool_)
        return a

    def row_of(self, provider_id: int) -> int | None:
        if 0 <= provider_id < len(self._row_of):
            r = int(self._row_of[provider_id])
            return r if r >= 0 else None
        return None

    def _new_row(self, row: IndexRow) -> int:
        if self.n == self._cap:
            self._alloc(self._cap * 2)
        r = self.n
        self.n += 1
        self.ids[r] = row.id
        self.alive[r] = True
        # interim: the organisation with its active services folded together (no single-service conjunction yet)
        caps = [x.capacity for x in row.services if x.capacity is not None]
        self.capacity[r] = max(caps) if caps else -1
        for facet, codes in (
            ("pathway", {x.pathway for x in row.services}),
            ("cohort", {c for x in row.services for c in x.cohorts}),
            ("area", {a for x in row.services for a in x.areas}),
            ("accreditation", {*row.accreditations, *(a for x in row.services for a in x.accreditations)}),
            ("status", (row.status,)),
            ("sector", () if row.sector is None else (row.sector,)),
            ("legal_form", (row.legal_form,)),
        ):
            for code in codes:
                self._bit(facet, code)[r] = True
        if row.id >= len(self._row_of):
            self._row_of = _grow(self._row_of, max(row.id + 1, 2 * len(self._row_of)), np.int32, -1)
        self._row_of[row.id] = r
        return r

    @classmethod
    def build(cls, batches: Iterable[Sequence[IndexRow]]) -> SearchIndex:
        """The bulk path: rows batch by batch (a few thousand each keeps temporaries small)."""
        builder = IndexBuilder()
        for rows in batches:
            builder.add(rows)
        return builder.finish()

    def _add_vocab(self, word: str, *, keep_sorted: bool = False) -> None:
        if word in self._vocab_set or not VOCAB_WORD.fullmatch(word):
            return
        self._vocab_set.add(word)
        self._vocab_by_len[len(word)].append(word)
        if keep_sorted:
            bisect.insort(self._vocab, word)
        else:
            self._vocab.append(word)

    # --- changes -------------------------------------------------------------------------------

    def apply(self, rows: Iterable[IndexRow]) -> None:
        """Take in the current state of some providers (new or changed)."""
        for row in rows:
            old = self.row_of(row.id)
            if old is not None:
                self._retire(old)
            r = self._new_row(row)
            key = name_key(row.name, row.id)
            at = bisect.bisect_left(self._keys, key)
            self._keys.insert(at, key)
            ranks = self.rank[: self.n]
            ranks[ranks >= at] += 1
            self.rank[r] = at
            self._by_rank = np.insert(self._by_rank, at, r)
            seen: set[str] = set()
            for c in range(3):
                for w in row.words[c].split():
                    if w not in seen:
                        seen.add(w)
                        self._delta[w].append((r, c))
                        self._add_vocab(w, keep_sorted=True)
                        i = self._words.get(w)
                        bitmap = None if i is None else self._dense.get(i * 3 + c)
                        if bitmap is not None:
                            bitmap[r >> 3] |= 0x80 >> (r & 7)
        if self.dead > 1000 and self.dead * 5 > self.n:
            self.compact()

    def _retire(self, r: int) -> None:
        at = int(self.rank[r])
        del self._keys[at]
        self._by_rank = np.delete(self._by_rank, at)
        for bits in self._bits["status"].values():
            bits[r] = False
        ranks = self.rank[: self.n]
        ranks[ranks > at] -= 1
        self.rank[r] = -1
        self.alive[r] = False
        self.dead += 1

    def compact(self) -> None:
        """Drop dead rows and fold the delta postings into the CSR block."""
        n = self.n
        keep = self.alive[:n].copy()
        new_of_old = np.cumsum(keep) - 1
        key = np.repeat(np.arange(len(self._offsets) - 1, dtype=np.int64), np.diff(self._offsets))
        rows = self._rows.astype(np.int64)
        extra_keys, extra_rows = [], []
        for w, items in self._delta.items():
            i = self._words.setdefault(w, len(self._words))
            for r, c in items:
                extra_keys.append(i * 3 + c)
                extra_rows.append(r)
        key = np.concatenate([key, np.array(extra_keys, dtype=np.int64)])
        rows = np.concatenate([rows, np.array(extra_rows, dtype=np.int64)])
        sel = keep[rows]
        key, rows = key[sel], new_of_old[rows[sel]]
        order = np.lexsort((rows, key))
        key, rows = key[order], rows[order]
        self._rows = rows.astype(np.int32)
        self._offsets = np.searchsorted(key, np.arange(len(self._words) * 3 + 1, dtype=np.int64))
        self._delta = defaultdict(list)
        self._make_dense()
        for name in ("ids", "alive", "capacity", "rank"):
            a = getattr(self, name)
            setattr(self, name, _grow(a[:n][keep], self._cap, a.dtype.type, 0 if name in ("ids", "alive") else -1))
        for bits in self._bits.values():
            for code, a in bits.items():
                bits[code] = _grow(a[:n][keep], self._cap, np.bool_, 0)
        self._by_rank = new_of_old[self._by_rank]
        self.n = int(keep.sum())
        self.dead = 0
        self._row_of[:] = -1
        self._row_of[self.ids[: self.n]] = np.arange(self.n, dtype=np.int32)

    def live_rows(self) -> int:
        return self.n - self.dead

    # --- queries -------------------------------------------------------------------------------

    def has_word(self, word: str) -> bool:
        return word in self._vocab_set

    def expand(self, q: str) -> list[tuple[str, list[str]]]:
        """Each query word with the vocabulary words it stands for: itself and its completions when it
        is a known word (completions only from 4 letters), else its closest spellings; at most five."""
        out: list[tuple[str, list[str]]] = []
        for tok in QUERY_SPLIT.split(fold(q)):
            if len(tok) < 2:
                continue
            if tok in self._vocab_set:
                words = [tok]
                if len(tok) >= 4:
                    lo = bisect.bisect_left(self._vocab, tok)
                    hi = bisect.bisect_left(self._vocab, tok + "{")  # "{" sorts after every [a-z0-9]
                    words += sorted((w for w in self._vocab[lo:hi] if w != tok), key=lambda w: (len(w), w))
            else:  # only words of a length within the edits allowed can be close enough
                allowed = _allowed_edits(tok)
                words = closest_spellings(
                    tok,
                    [
                        w
                        for k in range(len(tok) - allowed, len(tok) + allowed + 1)
                        for w in self._vocab_by_len.get(k, ())
                    ],
                )
            out.append((tok, words[:5]))
        return out

    def _postings(self, word: str) -> list[tuple[np.ndarray, int]]:
        """A word's postings per class: ascending rows (int), or for a common (word, class) a packed bitmap
        over all rows (uint8, delta rows included)."""
        out: list[tuple[np.ndarray, int]] = []
        dense: set[int] = set()
        i = self._words.get(word)
        if i is not None:
            for cls in range(3):
                bitmap = self._dense.get(i * 3 + cls)
                if bitmap is not None:
                    out.append((bitmap, cls))
                    dense.add(cls)
                    continue
                lo, hi = self._offsets[i * 3 + cls], self._offsets[i * 3 + cls + 1]
                if hi > lo:
                    out.append((self._rows[lo:hi], cls))
        extra = self._delta.get(word)
        if extra:
            arr = np.array(extra, dtype=np.int64)
            for cls in range(3):
                rows = arr[arr[:, 1] == cls, 0]
                if len(rows) and cls not in dense:
                    out.append((rows, cls))
        return out

    def _make_dense(self) -> None:
        """Packed bitmaps for the (word, class) lists longer than a bitmap is big: smaller, and written into a
        group's weights with whole-array arithmetic instead of a scatter."""
        self._dense = {}
        sizes = np.diff(self._offsets)
        for key in np.flatnonzero(sizes * 32 > max(self.n, DENSE_FLOOR)).tolist():
            bits = np.zeros(self._cap, dtype=np.bool_)
            bits[self._rows[self._offsets[key] : self._offsets[key + 1]]] = True
            self._dense[key] = np.packbits(bits)

    def _mask(self, f: Filters) -> np.ndarray:
        n = self.n
        status = self._bits["status"].get(f.status)
        if status is None:
            return np.zeros(n, dtype=np.bool_)
        mask = status[:n].copy()  # live rows only: a retired row leaves its status
        for facet, codes in (
            ("pathway", f.pathway),
            ("area", f.area),
            ("cohort", f.cohort),
            ("sector", f.sector),
            ("legal_form", f.legal_form),
        ):
            if not codes:
                continue
            arrays = [b[:n] for c in dict.fromkeys(codes) if (b := self._bits[facet].get(c)) is not None]
            if not arrays:
                mask[:] = False
            elif len(arrays) == 1:
                mask &= arrays[0]
            else:
                hit = arrays[0] | arrays[1]
                for a in arrays[2:]:
                    hit |= a
                mask &= hit
        for c in f.accreditation:
            bits = self._bits["accreditation"].get(c)
            if bits is None:
                mask[:] = False
            else:
                mask &= bits[:n]
        if f.min_capacity is not None:
            mask &= self.capacity[:n] >= f.min_capacity
        return mask

    def _first_in_name_order(self, mask: np.ndarray, stop: int) -> np.ndarray:
        """The first `stop` rows of mask in name order: walk the rows in name order in growing chunks,
        so an early page of a common filter reads a few thousand rows, not all of them."""
        found: list[np.ndarray] = []
        got, pos, step, by_rank = 0, 0, 4096, self._by_rank
        while got < stop and pos < len(by_rank):
            chunk = by_rank[pos : pos + step]
            hit = chunk[mask[chunk]]
            found.append(hit)
            got += len(hit)
            pos += step
            step *= 2
        return np.concatenate(found)[:stop] if found else np.zeros(0, dtype=np.int64)

    def _group_parts(self, group: Sequence[str]) -> list[tuple[np.ndarray, int]]:
        """The posting lists of a group's words with their weights (tenths), lowest weight first."""
        parts = [
            (rows, round(CLASS_WEIGHTS[cls] * _SCORE_SCALE))
            for word in dict.fromkeys(group)
            for rows, cls in self._postings(word)
        ]
        return sorted(parts, key=lambda p: p[1])

    def _best(self, parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
        """Each row's best weight in a group: writing the lists in ascending weight leaves the best."""
        n = self.n
        best = np.zeros(n, dtype=np.uint8)
        for rows, w in parts:
            if rows.dtype == np.uint8:  # a packed bitmap
                np.maximum(best, np.unpackbits(rows, count=n) * np.uint8(w), out=best)
            else:
                best[rows] = w
        return best

    def _text_scores(
        self, groups: Sequence[Sequence[str]], mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Narrow mask (in place) to rows holding a word of every group; their relevance in tenths (dense);
        the relevance values that can occur, highest first. Dense arrays only: a posting list is written
        once into its group's array of best weights, and everything else is whole-array arithmetic."""
        score = np.zeros(self.n, dtype=np.uint16)
        levels = {0}
        for group in groups:
            parts = self._group_parts(group)
            if not parts:
                mask[:] = False
                return mask, score, []
            best = self._best(parts)
            mask &= best != 0
            score += best
            levels = {a + w for a in levels for _, w in parts}
        return mask, score, sorted(levels, reverse=True)

    def _by_name(self, rows_mask: np.ndarray, count: int, stop: int) -> np.ndarray:
        """The first `stop` rows of a mask in name order, for a mask holding `count` rows."""
        if count * 64 < len(self._by_rank):  # sparse: find them all, then order them
            rows = np.flatnonzero(rows_mask)
            return rows[np.argsort(self.rank[rows], kind="stable")][:stop]
        return self._first_in_name_order(rows_mask, stop)

    def search(
        self,
        f: Filters,
        *,
        groups: Sequence[Sequence[str]] | None = None,
        by_relevance: bool = False,
        offset: int = 0,
        limit: int = 20,
        facets: bool = False,
    ) -> Hits:
        """Providers matching the filters (and every group of words, when groups is given)."""
        mask = self._mask(f)
        stop = offset + limit
        relevance = None
        if groups is not None:
            mask, score, levels = self._text_scores(groups, mask)
        total = int(np.count_nonzero(mask))
        if groups is not None and by_relevance:  # best relevance first; within one relevance, name order
            found: list[np.ndarray] = []
            relevance = []
            left = stop
            for level in levels:
                if left <= 0:
                    break
                at_level = mask & (score == level)
                count = int(np.count_nonzero(at_level))
                if count:
                    rows = self._by_name(at_level, count, left)
                    found.append(rows)
                    relevance += [level / _SCORE_SCALE] * len(rows)
                    left -= len(rows)
            page = np.concatenate(found)[offset:] if found else np.zeros(0, dtype=np.int64)
            relevance = relevance[offset:]
        else:
            page = self._by_name(mask, total, stop)[offset:]
        counts = self._facet_counts(mask) if facets else None
        return Hits(total=total, ids=self.ids[page].tolist(), relevance=relevance, facets=counts)

    def _facet_counts(self, mask: np.ndarray) -> dict[str, dict[str, int]]:
        n = self.n
        tmp = np.empty(n, dtype=np.bool_)
        out: dict[str, dict[str, int]] = {}
        for facet in ("pathway", "area", "sector"):
            counts = {
                c: int(np.count_nonzero(np.logical_and(bits[:n], mask, out=tmp)))
                for c, bits in self._bits[facet].items()
            }
            out[facet] = {c: v for c, v in counts.items() if v}
        return out


class IndexBuilder:
    """Builds a SearchIndex from batches of rows in id order; postings with numpy, batch by batch."""

    def __init__(self) -> None:
        self.index = SearchIndex()
        self._word_id: defaultdict[str, int] = defaultdict(count().__next__)
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (distinct keys, counts, rows by key)

    def add(self, rows: Sequence[IndexRow]) -> None:
        index = self.index
        first_row = index.n
        for row in rows:
            index._new_row(row)
            index._keys.append(name_key(row.name, row.id))
        wids, rids, classes = [], [], []
        for c in range(3):
            words: list[str] = []
            counts = []
            for row in rows:
                ws = row.words[c].split()
                words.extend(ws)
                counts.append(len(ws))
            wids.append(np.fromiter(map(self._word_id.__getitem__, words), dtype=np.int64, count=len(words)))
            rids.append(np.repeat(np.arange(first_row, first_row + len(rows), dtype=np.int32), counts))
            classes.append(np.full(len(words), c, dtype=np.int64))
        wid, rid, cl = np.concatenate(wids), np.concatenate(rids), np.concatenate(classes)
        order = np.lexsort((cl, rid, wid))  # the best (first) class of each (word, row) comes first
        wid, rid, cl = wid[order], rid[order], cl[order]
        first = np.ones(len(wid), dtype=np.bool_)
        first[1:] = (wid[1:] != wid[:-1]) | (rid[1:] != rid[:-1])
        key = wid[first] * 3 + cl[first]
        rid = rid[first]
        order = np.argsort(key, kind="stable")  # rows stay ascending within a key
        keys, counts = np.unique(key[order], return_counts=True)
        self._chunks.append((keys, counts, rid[order]))

    def finish(self) -> SearchIndex:
        index = self.index
        nkeys = len(self._word_id) * 3
        sizes = np.zeros(nkeys, dtype=np.int64)
        for keys, counts, _ in self._chunks:
            sizes[keys] += counts
        offsets = np.zeros(nkeys + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        out = np.empty(int(offsets[-1]), dtype=np.int32)
        cursor = offsets[:-1].copy()
        chunks, self._chunks = self._chunks, []
        chunks.reverse()
        while chunks:  # later batches hold higher rows: placing batch by batch keeps each key's rows ascending
            keys, counts, rows_by_key = chunks.pop()
            within = np.arange(len(rows_by_key)) - np.repeat(np.cumsum(counts) - counts, counts)
            out[np.repeat(cursor[keys], counts) + within] = rows_by_key
            cursor[keys] += counts
        index._rows, index._offsets = out, offsets
        index._make_dense()
        index._words = dict(self._word_id)
        for w in index._words:
            index._add_vocab(w)
        index._vocab.sort()
        order_ids = sorted(range(index.n), key=index._keys.__getitem__)
        index._keys = [index._keys[i] for i in order_ids]
        index.rank[order_ids] = np.arange(index.n)
        index._by_rank = np.array(order_ids, dtype=np.int64)
        return index
