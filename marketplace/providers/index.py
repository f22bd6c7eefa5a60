"""The directory's search index: one process's in-memory view of what search reads of every provider and of
each of its active services.

Pure: rows in, answers out (no I/O, no clock). `live_index.LiveIndex` loads the rows, and keeps the index
exact with `marketplace.changes` before every search; the page's display fields come from the database.

What a search means:
- provider-level filters: `status`, `sector`, `legal_form`, and the text `q`;
- service-level filters hold for **one active service**, which must meet all of them: `pathway`, `area`
  (hierarchy-aware: the service's `area_match_codes`, its areas with every area above and below them),
  `cohort`, `min_capacity` (its stated service users a year at least that), `age` (inside its age range; an
  open end is open), `gender` (`women`: services for women or for both; `men` likewise), `complexity` and
  `delivery_mode` (any of the values), `max_cost` (its indicative cost's amount at most that, whatever the
  unit; a service without a cost does not meet it); several values of one filter are alternatives;
- `accreditation` (each value required): held by the organisation or by that same service;
- a provider with no active service is found only by searches without service-level filters (and then, with
  `accreditation`, only when the organisation holds them all);
- facets count providers among the results: `pathway` and `area` the providers having a *matched* service in
  that pathway / area, `sector` the providers of that sector;
- `Hits.matched`: for each provider of the page, the ids of its active services that met every service-level
  filter and hold, with the organisation, every accreditation asked for: all its active services when the
  search has neither.

Layout (at 200,000 providers with 500,000 services, about 100 MB of arrays, most of it text postings):
- a provider row per provider version, append-only: a changed provider gets a new row and its old row dies
  (`alive`), so postings stay sorted by row and are only ever appended to; `compact()` drops dead rows when
  they pile up. One boolean column per value of the provider-level filters (status, sector, legal form, the
  organisation's accreditations; a retired row leaves its status column, so a status column is also
  "alive"); `rank`, each live row's place in name order (case- and accent-insensitive name, then id), and
  its inverse `_by_rank`, both maintained on every change: a page by name walks `_by_rank` and stops as soon
  as it has enough rows;
- service slots in `LAYERS` layers: layer j holds the j-th active service of every provider row, in the slot
  of that row, so a search evaluates the service-level filters layer by layer and ORs the layers into the
  providers found, with no gather or scatter. Each code of each service-level facet (pathway, cohort, area,
  accreditation, gender, complexity, delivery mode) is a packed bitmap over the slots (one bit per provider
  row per layer), so evaluating a code filter reads 25 KB per layer at 200,000 providers; capacity, the age
  range and the cost (in pence) are small integer columns, compared and packed. A service "holds" its own
  accreditations and its organisation's. Services beyond the layers go to the spill, the same columns
  over spill rows that name their provider row (`prov`, never decreasing), found with a scatter;
- postings for free text: for each word of the search documents (`provider.search_doc`, built by
  `refresh_provider_search`) and each weight class (A name, B pathway and area names, C description,
  services' names, descriptions and outcomes, premises text), the ascending rows holding it in that class as
  their best class, in one CSR block (`_words`, `_offsets`, `_rows`) plus a small append-only delta for rows
  added since.

- each row's name as word ids in the order written (`_name_tok`, from `name_at` for `name_len` words: the
  name's words as a query splits them), and the word counts of its pathway/area and text classes (`len_b`,
  `len_c`), for the ranking below.

A text query is a list of groups (AND), each a list of vocabulary words (OR), one group per query word as
typed (`expand`: the word, its completions or its typo's corrections, from the `Vocabulary` of the status
searched, so a search of published profiles is never read as a word only a pending profile holds): a provider
matches when every group has a word in its document; its relevance is the sum over groups of the best class
weight found (name 1.0, pathway/area 0.4, text 0.2). Results are ordered by relevance, then:
- among the providers whose name holds a word of every group (the best relevance there is), by how the name
  holds them (`NAME_TIERS`): the name is exactly the query as typed; the name is the query word for word, a
  word standing for its typo's correction or a completion; the typed words adjacent and in order inside the
  name; the groups' words adjacent and in order; the words anywhere in the name; then the shorter name;
- among the others, the shorter field first: the word count of the weakest class that had to be used (the
  text when any query word was found only there, else the pathway and area names);
- then name order. The relevance levels are packed bitmaps (`_text_levels`: each group splits the rows of every
  level so far by its best class; no per-row score), and only the levels a page reaches are listed and ranked:
  the name tiers cost a pass over those candidates' name word ids, the field lengths a gather (of a level of
  many rows, only of its rows no longer than a sample's k-th shortest field).

For reconciliation (marketplace.reconciliation, through providers.service): `similar_names`, the published
providers whose names are most like a name (the rows sharing its rarest name words, then compared whole with
rapidfuzz), and `names_holding`, those whose folded name holds a text (a run of the name order, then a scan).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import count, islice, pairwise

import msgspec
import numpy as np
from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import OSA

from marketplace.types import fold

CLASS_WEIGHTS = (1.0, 0.4, 0.2)  # A, B, C
DENSE_FLOOR = 4096  # no bitmaps below this many rows (a bitmap over fewer rows saves nothing worth having)
_SCORE_SCALE = 10  # every weight is a multiple of 0.1: integer scores order exactly
FACETS = ("status", "sector", "legal_form", "accreditation")
"""Boolean columns over provider rows (accreditation: the organisation's own)."""
SERVICE_FACETS = ("pathway", "cohort", "area", "accreditation", "gender", "complexity", "delivery")
"""Packed bitmaps over service slots (accreditation: the service's and its organisation's; gender: men, women)."""
LAYERS = 4
"""A provider's first LAYERS services have a slot in a layer; the rest spill."""
GENDERS = {"men": ("men",), "women": ("women",), "both": ("men", "women")}
"""Whom a service's gender serves (a `gender` filter asks for a service serving all of its value's)."""
OPEN_MAX_AGE = 255  # a service's maximum age when it states none (ages are 0 to 120)
NO_COST = np.iinfo(np.int32).max  # a service's cost in pence when it states none: above every threshold
_COST_CAP = NO_COST - 1  # costs and thresholds are clipped to this (£21.4 million; the API allows £10 million)
_GROWTH = 16  # a fitted index keeps 1/16 of its rows free for new and changed providers
VOCAB_WORD = re.compile(r"[a-z0-9]{2,40}")
QUERY_SPLIT = re.compile(r"[^a-z0-9]+")
NAME_TIERS = ("exact name", "name word for word", "typed words in order in the name", "words in order in the name")
"""How a name holding every query word ranks, best first; after these, the words anywhere in the name."""
_LEN_CAP = 0xFFFF
_SAMPLE_ROWS = 8192
"""A relevance level of many rows is ranked by field length from a sample of its rows among the first so many."""
NAME_POOL = 1000
"""`similar_names`: the rows sharing the most (and rarest) words with the texts, compared whole afterwards."""
NAME_WORDS = 16
"""`similar_names` looks a text up by its first NAME_WORDS words (a name is shorter; more is only slower)."""
_RARITY_CAP = (1 << 22) - 1
"""similar_names' rarity in 1e-4 units is capped to fit 22 bits of its pool key."""


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
    """men, women (or both: services for both)"""
    complexity: Sequence[str] = ()
    delivery_mode: Sequence[str] = ()
    max_cost: float | None = None

    def service_level(self) -> bool:
        """Whether any filter applies to one service (accreditation apart)."""
        return bool(
            self.pathway
            or self.area
            or self.cohort
            or self.complexity
            or self.delivery_mode
            or self.min_capacity is not None
            or self.age is not None
            or self.gender is not None
            or self.max_cost is not None
        )


class Hits(msgspec.Struct, frozen=True):
    total: int
    ids: list[int]
    relevance: list[float] | None
    facets: dict[str, dict[str, int]] | None
    matched: list[list[int]] | None = None
    """For each id of the page, the ids of its services that met every service-level filter (all its active
    services when the search has none)."""


def query_words(text: str) -> list[str]:
    """The words of a text as a query reads them: folded, split on anything but letters and digits, at least two
    characters each (a name's words are read the same way, to compare it with the query)."""
    return [tok for tok in QUERY_SPLIT.split(fold(text)) if len(tok) >= 2]


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions starts[i] .. starts[i] + lens[i] - 1 for every i, concatenated."""
    offs = np.cumsum(lens) - lens
    flat: np.ndarray = np.repeat(starts - offs, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    return flat


def _smallest(rows: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """The k rows of smallest key, in key order."""
    if len(rows) > k:
        part = np.argpartition(key, k - 1)[:k]
        rows, key = rows[part], key[part]
    return rows[np.argsort(key, kind="stable")]


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


def _grow(a: np.ndarray, cap: int, dtype: type, fill: float) -> np.ndarray:
    """a in an array of cap elements (longer or shorter), the new ones `fill`."""
    out: np.ndarray = np.full(cap, fill, dtype=dtype)
    keep = min(len(a), cap)
    out[:keep] = a[:keep]
    return out


def pence(amount: float) -> int:
    """An amount in pounds as whole pence, clipped to what the cost columns hold (costs are stated to the penny)."""
    return min(max(round(amount * 100), 0), _COST_CAP)


def pence_at_most(amount: float) -> int:
    """The most pence a cost may be to be at most `amount` pounds, as written in decimal (12.345 -> 1234)."""
    if math.isnan(amount) or amount < 0:
        return -1
    if math.isinf(amount):
        return _COST_CAP
    return min(math.floor(Decimal(repr(amount)) * 100), _COST_CAP)


def _set_bits(packed: np.ndarray, rows: Sequence[int] | np.ndarray) -> None:
    """Set the bits of these rows in a packed bitmap (np.packbits order: row 0 is the first byte's high bit)."""
    at = np.asarray(rows, dtype=np.int64)
    np.bitwise_or.at(packed, at >> 3, (0x80 >> (at & 7)).astype(np.uint8))


def _bits_at(packed: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each of these rows' bits is set in a packed bitmap."""
    held: np.ndarray = (packed[rows >> 3] & (0x80 >> (rows & 7)).astype(np.uint8)) != 0
    return held


def _unpacked(packed: np.ndarray, n: int) -> np.ndarray:
    return np.unpackbits(packed, count=n).view(np.bool_)


def _any_of(columns: dict[str, np.ndarray], codes: Sequence[str], n: int) -> np.ndarray | None:
    """The rows (of the first n) holding any of codes in these columns (boolean, or packed with n the bytes);
    None when none of the codes has a column (no row holds them)."""
    arrays = [b[:n] for c in dict.fromkeys(codes) if (b := columns.get(c)) is not None]
    if not arrays:
        return None
    hit = arrays[0].copy()
    for a in arrays[1:]:
        hit |= a
    return hit


_SLOT_COLUMNS: dict[str, tuple[type, int]] = {
    "ids": (np.int64, 0),
    "capacity": (np.int32, -1),
    "min_age": (np.uint8, 0),
    "max_age": (np.uint8, OPEN_MAX_AGE),
    "cost": (np.int32, NO_COST),
    "prov": (np.int32, -1),
}


class _Slots:
    """Service slots: a packed bitmap per code of each service-level facet, and small integer columns. In a
    layer, slot r holds a service of provider row r; in the spill, slot s holds a service of provider row
    `prov[s]`."""

    def __init__(self, cap: int) -> None:
        self.cap = 0
        self.present = np.zeros(0, dtype=np.uint8)  # packed: the slot holds a service
        self.codes: dict[str, dict[str, np.ndarray]] = {f: {} for f in SERVICE_FACETS}  # packed
        self.ids = np.zeros(0, dtype=np.int64)  # service ids
        self.capacity = np.zeros(0, dtype=np.int32)  # service users a year; -1: not stated
        self.min_age = np.zeros(0, dtype=np.uint8)  # 0 when open
        self.max_age = np.zeros(0, dtype=np.uint8)  # OPEN_MAX_AGE when open
        self.cost = np.zeros(0, dtype=np.int32)  # pence; NO_COST: not stated
        self.prov = np.zeros(0, dtype=np.int32)  # the spill's: slot -> provider row
        self.resize(cap)

    def resize(self, cap: int) -> None:
        nb = (cap + 7) // 8
        self.present = _grow(self.present, nb, np.uint8, 0)
        for codes in self.codes.values():
            for code, bits in codes.items():
                codes[code] = _grow(bits, nb, np.uint8, 0)
        for name, (dtype, fill) in _SLOT_COLUMNS.items():
            setattr(self, name, _grow(getattr(self, name), cap, dtype, fill))
        self.cap = cap

    def _code(self, facet: str, code: str) -> np.ndarray:
        bits = self.codes[facet].get(code)
        if bits is None:
            bits = self.codes[facet][code] = np.zeros((self.cap + 7) // 8, dtype=np.uint8)
        return bits

    def write(self, slots: list[int], services: list[tuple[ServiceRow, list[str]]]) -> None:
        """Put services, each with its organisation's accreditations, in these (empty) slots."""
        at = np.array(slots, dtype=np.int64)
        self.ids[at] = [x.id for x, _ in services]
        self.capacity[at] = [-1 if x.capacity is None else x.capacity for x, _ in services]
        self.min_age[at] = [0 if x.min_age is None else x.min_age for x, _ in services]
        self.max_age[at] = [OPEN_MAX_AGE if x.max_age is None else x.max_age for x, _ in services]
        self.cost[at] = [NO_COST if x.cost is None else pence(x.cost) for x, _ in services]
        bits: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        for slot, (x, organisation) in zip(slots, services, strict=True):
            bits["pathway", x.pathway].append(slot)
            for facet, codes in (
                ("cohort", x.cohorts),
                ("area", x.areas),
                ("accreditation", {*organisation, *x.accreditations}),
                ("gender", GENDERS.get(x.gender, ())),
                ("complexity", x.complexity),
                ("delivery", x.delivery),
            ):
                for code in codes:
                    bits[facet, code].append(slot)
        _set_bits(self.present, at)
        for (facet, code), held in bits.items():
            _set_bits(self._code(facet, code), held)

    def meets(self, f: Filters, n: int) -> np.ndarray:
        """The slots (of the first n) holding a service that meets f's service-level filters and holds, with
        its organisation, every accreditation of f: packed."""
        nb = (n + 7) // 8
        out = self.present[:nb].copy()
        for facet, values in (
            ("pathway", f.pathway),
            ("area", f.area),
            ("cohort", f.cohort),
            ("complexity", f.complexity),
            ("delivery", f.delivery_mode),
        ):
            if values:
                hit = _any_of(self.codes[facet], values, nb)
                if hit is None:
                    out[:] = 0
                    return out
                out &= hit
        every = [("accreditation", a) for a in dict.fromkeys(f.accreditation)]
        if f.gender is not None:
            every += [("gender", g) for g in GENDERS.get(f.gender, ("unknown",))]
        for facet, code in every:
            bits = self.codes[facet].get(code)
            if bits is None:
                out[:] = 0
                return out
            out &= bits[:nb]
        numbers: np.ndarray | None = None
        for column, op, limit in (
            (self.capacity, np.greater_equal, None if f.min_capacity is None else max(f.min_capacity, 0)),
            (self.min_age, np.less_equal, None if f.age is None else min(max(f.age, 0), OPEN_MAX_AGE)),
            (self.max_age, np.greater_equal, None if f.age is None else min(max(f.age, 0), OPEN_MAX_AGE)),
            (self.cost, np.less_equal, None if f.max_cost is None else pence_at_most(f.max_cost)),
        ):
            if limit is not None:
                met = op(column[:n], limit)
                numbers = met if numbers is None else np.logical_and(numbers, met, out=numbers)
        if numbers is not None:
            out &= np.packbits(numbers)
        return out

    def compact(self, keep: np.ndarray) -> None:
        """Keep the slots `keep` says (a boolean over the first len(keep) slots), in order, from slot 0."""
        n, nb = len(keep), (self.cap + 7) // 8
        self.present = _grow(np.packbits(_unpacked(self.present, n)[keep]), nb, np.uint8, 0)
        for codes in self.codes.values():
            for code, bits in codes.items():
                codes[code] = _grow(np.packbits(_unpacked(bits, n)[keep]), nb, np.uint8, 0)
        for name, (dtype, fill) in _SLOT_COLUMNS.items():
            setattr(self, name, _grow(getattr(self, name)[:n][keep], self.cap, dtype, fill))


_PROVIDER_COLUMNS: dict[str, tuple[type, int]] = {
    "ids": (np.int64, 0),
    "alive": (np.bool_, 0),
    "rank": (np.int64, -1),
    "name_at": (np.int64, 0),
    "name_len": (np.uint16, 0),
    "len_b": (np.uint16, 0),
    "len_c": (np.uint16, 0),
}


_LETTER_BIT = {c: 1 << i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")}
_NO_LETTERS = np.zeros(0, dtype=np.uint64)
_FEW_WORDS = 128
"""`Vocabulary.closest` compares words of a length with so few whole (rapidfuzz is quicker than the letter sets)."""


def _letter_set(word: str) -> int:
    """The letters and digits a word holds, a bit each (any other character is left out)."""
    bits = 0
    for c in set(word):
        bits |= _LETTER_BIT.get(c, 0)
    return bits


class Vocabulary:
    """The words a query may be read as (typo corrections and completions) over the providers of one status: each
    word (`VOCAB_WORD`) of the search document of a row of that status taken in since the last compaction, which
    makes it exact again (a word that only a changed or retired row held stays until then). So an anonymous
    search, which reads published profiles, is never corrected to a word only a pending profile holds."""

    __slots__ = ("by_len", "held", "letters", "words")

    def __init__(self) -> None:
        self.words: list[str] = []  # sorted (once a bulk build has sorted them)
        self.held: set[str] = set()
        self.by_len: defaultdict[int, list[str]] = defaultdict(list)  # for typo correction
        self.letters: dict[int, np.ndarray] = {}  # length -> `_letter_set` of by_len's words so far (see closest)

    def add(self, word: str, *, keep_sorted: bool = False) -> None:
        if word in self.held or not VOCAB_WORD.fullmatch(word):
            return
        self.held.add(word)
        self.by_len[len(word)].append(word)
        if keep_sorted:
            bisect.insort(self.words, word)
        else:
            self.words.append(word)

    def completions(self, tok: str) -> list[str]:
        """The words starting with tok (tok aside), shortest first, then alphabetical."""
        lo = bisect.bisect_left(self.words, tok)
        hi = bisect.bisect_left(self.words, tok + "{")  # "{" sorts after every [a-z0-9]
        return sorted((w for w in self.words[lo:hi] if w != tok), key=lambda w: (len(w), w))

    def _letter_sets(self, length: int) -> np.ndarray:
        """The `_letter_set` of each word of this length, in by_len's order: made when a typo first needs them,
        and extended by the words added since (by_len's lists only grow)."""
        words = self.by_len.get(length, ())
        sets = self.letters.get(length, _NO_LETTERS)
        if len(sets) < len(words):
            more = np.array([_letter_set(w) for w in words[len(sets) :]], dtype=np.uint64)
            sets = self.letters[length] = np.concatenate([sets, more])
        return sets

    def closest(self, tok: str) -> list[str]:
        """`closest_spellings` of tok among these words. Only words of a length within the edits allowed can be
        close enough, and only words lacking at most that many of tok's letters and holding at most that many
        others (an edit takes at most one letter away and brings at most one in): a few numpy operations over
        the letter sets leave rapidfuzz a few dozen words to compare instead of thousands."""
        allowed = _allowed_edits(tok)
        letters = np.uint64(_letter_set(tok))
        others = ~letters
        candidates: list[str] = []
        for k in range(len(tok) - allowed, len(tok) + allowed + 1):
            words = self.by_len.get(k, [])
            if len(words) < _FEW_WORDS:
                candidates += words
                continue
            sets = self._letter_sets(k)
            near = (np.bitwise_count(sets & others) <= allowed) & (np.bitwise_count(letters & ~sets) <= allowed)
            candidates += [words[i] for i in np.flatnonzero(near).tolist()]
        return closest_spellings(tok, candidates)


_NO_WORDS = Vocabulary()
"""The vocabulary of a status no row has."""


class SearchIndex:
    """Build with `SearchIndex.build(batches)`; keep current with `apply`."""

    def __init__(self) -> None:
        self._cap = 0
        self.n = 0  # provider rows used (alive or dead)
        self.ns = 0  # spill slots used
        self.dead = 0
        self._row_of = np.full(0, -1, dtype=np.int32)  # provider id -> current row
        self._keys: list[str] = []  # name keys of live providers, sorted
        self._bits: dict[str, dict[str, np.ndarray]] = {f: {} for f in FACETS}
        self._layers: list[_Slots] = []  # layer j: the j-th service of each provider row, in its slot
        self._spill = _Slots(1024)  # services after the LAYERS-th, each naming its provider row
        self._vocabs: dict[str, Vocabulary] = {}  # status -> the words queries over it may be read as
        self._words: dict[str, int] = {}  # word -> its id in the CSR block
        self._offsets = np.zeros(1, dtype=np.int64)  # (word id * 3 + class) -> start in _rows
        self._rows = np.zeros(0, dtype=np.int32)
        self._dense: dict[int, np.ndarray] = {}  # (word id * 3 + class) -> packed bitmap over rows (see _make_dense)
        self._delta: dict[str, list[tuple[int, int]]] = defaultdict(list)  # word -> [(row, class)] since
        self.ids: np.ndarray = np.zeros(0, dtype=np.int64)  # row -> provider id
        self.alive: np.ndarray = np.zeros(0, dtype=np.bool_)
        self.rank: np.ndarray = np.zeros(0, dtype=np.int64)  # live row -> place in name order; -1 when dead
        self._by_rank = np.zeros(0, dtype=np.int64)  # live rows in name order
        self.name_at: np.ndarray = np.zeros(0, dtype=np.int64)  # row -> where its name's word ids start in _name_tok
        self.name_len: np.ndarray = np.zeros(0, dtype=np.uint16)  # row -> its name's words
        self.len_b: np.ndarray = np.zeros(0, dtype=np.uint16)  # row -> words of its pathway and area names
        self.len_c: np.ndarray = np.zeros(0, dtype=np.uint16)  # row -> words of its text
        self._name_ids: dict[str, int] = {}  # a name word -> its id in _name_tok
        self._name_tok = np.zeros(1024, dtype=np.int32)  # every row's name as word ids, row after row
        self._name_used = 0
        self._alloc(1024)

    # --- storage -------------------------------------------------------------------------------

    def _alloc(self, cap: int) -> None:
        """Room for cap provider rows (more or fewer than now, never fewer than are used)."""
        for name, (dtype, fill) in _PROVIDER_COLUMNS.items():
            setattr(self, name, _grow(getattr(self, name), cap, dtype, fill))
        for bits in self._bits.values():
            for code, a in bits.items():
                bits[code] = _grow(a, cap, np.bool_, 0)
        for key, bitmap in self._dense.items():
            self._dense[key] = _grow(bitmap, (cap + 7) // 8, np.uint8, 0)
        for layer in self._layers:
            layer.resize(cap)
        self._cap = cap

    def _fit(self) -> None:
        """Keep room for a sixteenth more rows and spill slots than are used (the bulk build grows by doubling)."""
        self._alloc(self.n + max(1024, self.n // _GROWTH))
        self._spill.resize(self.ns + max(1024, self.ns // _GROWTH))

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

    def _append(self, rows: Sequence[IndexRow]) -> int:
        """Write rows after the last provider row, their services in the layers' slots of those rows and the
        spill; returns the first new provider row."""
        first = self.n
        end = first + len(rows)
        if end > self._cap:
            self._alloc(max(end, self._cap * 2))
        deepest = min(max((len(r.services) for r in rows), default=0), LAYERS)
        while len(self._layers) < deepest:
            self._layers.append(_Slots(self._cap))
        slots: list[list[int]] = [[] for _ in self._layers]
        services: list[list[tuple[ServiceRow, list[str]]]] = [[] for _ in self._layers]
        spilt: list[tuple[ServiceRow, list[str]]] = []
        spilt_from: list[int] = []
        bits: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        for r, row in enumerate(rows, start=first):
            bits["status", row.status].append(r)
            if row.sector is not None:
                bits["sector", row.sector].append(r)
            bits["legal_form", row.legal_form].append(r)
            for a in row.accreditations:
                bits["accreditation", a].append(r)
            for j, x in enumerate(row.services):
                if j < LAYERS:
                    slots[j].append(r)
                    services[j].append((x, row.accreditations))
                else:
                    spilt.append((x, row.accreditations))
                    spilt_from.append(r)
        ids = [row.id for row in rows]
        self._append_names(rows, first)
        self.ids[first:end] = ids
        self.alive[first:end] = True
        for (facet, code), at in bits.items():
            self._bit(facet, code)[at] = True
        for layer, at, held in zip(self._layers, slots, services, strict=True):
            if at:
                layer.write(at, held)
        if spilt:
            end_s = self.ns + len(spilt)
            if end_s > self._spill.cap:
                self._spill.resize(max(end_s, self._spill.cap * 2))
            self._spill.write(list(range(self.ns, end_s)), spilt)
            self._spill.prov[self.ns : end_s] = spilt_from
            self.ns = end_s
        self.n = end
        top = max(ids, default=-1)
        if top >= len(self._row_of):
            self._row_of = _grow(self._row_of, max(top + 1, 2 * len(self._row_of)), np.int32, -1)
        self._row_of[ids] = np.arange(first, end, dtype=np.int32)
        return first

    def _append_names(self, rows: Sequence[IndexRow], first: int) -> None:
        """The rows' names as word ids after the last, and their field lengths (the rows start at `first`)."""
        word_id = self._name_ids
        names = [query_words(row.name) for row in rows]
        toks = [word_id.setdefault(w, len(word_id)) for words in names for w in words]
        end = first + len(rows)
        used = self._name_used + len(toks)
        if used > len(self._name_tok):
            self._name_tok = _grow(self._name_tok, max(used, 2 * len(self._name_tok)), np.int32, 0)
        self._name_tok[self._name_used : used] = toks
        lens = np.array([len(words) for words in names], dtype=np.int64)
        self.name_at[first:end] = self._name_used + np.cumsum(lens) - lens
        self.name_len[first:end] = np.minimum(lens, _LEN_CAP)
        self.len_b[first:end] = [min(len(row.words[1].split()), _LEN_CAP) for row in rows]
        self.len_c[first:end] = [min(len(row.words[2].split()), _LEN_CAP) for row in rows]
        self._name_used = used

    @classmethod
    def build(cls, batches: Iterable[Sequence[IndexRow]]) -> SearchIndex:
        """The bulk path: rows batch by batch (a few thousand each keeps temporaries small)."""
        builder = IndexBuilder()
        for rows in batches:
            builder.add(rows)
        return builder.finish()

    def vocabulary(self, status: str = "published") -> Vocabulary:
        """The words a query over the providers of `status` may be read as (`Vocabulary`)."""
        return self._vocabs.get(status, _NO_WORDS)

    def _set_vocabularies(self, words: Sequence[str], held: dict[str, np.ndarray]) -> None:
        """Each status's vocabulary afresh: the `words` (by id) held by its rows (`held`: status -> word ids)."""
        self._vocabs = {}
        for status, ids in held.items():
            vocab = self._vocabs[status] = Vocabulary()
            for i in ids.tolist():
                vocab.add(words[i])
            vocab.words.sort()

    # --- changes -------------------------------------------------------------------------------

    def apply(self, rows: Iterable[IndexRow]) -> None:
        """Take in the current state of some providers (new or changed)."""
        for row in rows:
            old = self.row_of(row.id)
            if old is not None:
                self._retire(old)
            r = self._append([row])
            key = name_key(row.name, row.id)
            at = bisect.bisect_left(self._keys, key)
            self._keys.insert(at, key)
            ranks = self.rank[: self.n]
            ranks[ranks >= at] += 1
            self.rank[r] = at
            self._by_rank = np.insert(self._by_rank, at, r)
            seen: set[str] = set()
            vocab = self._vocabs.setdefault(row.status, Vocabulary())
            for c in range(3):
                for w in row.words[c].split():
                    if w not in seen:
                        seen.add(w)
                        self._delta[w].append((r, c))
                        vocab.add(w, keep_sorted=True)
                        i = self._words.get(w)
                        bitmap = None if i is None else self._dense.get(i * 3 + c)
                        if bitmap is not None:
                            bitmap[r >> 3] |= 0x80 >> (r & 7)
        if self.dead > 1000 and self.dead * 5 > self.n:
            self.compact()

    def _retire(self, r: int) -> None:
        """A provider row dies, and its services' slots with it (searches reach them through the row)."""
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
        """Drop dead rows (provider rows, their slots and spill slots), fold the delta postings into the CSR
        block, and make each status's vocabulary exact (the words its live rows hold)."""
        n, ns = self.n, self.ns
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
        for name, (dtype, fill) in _PROVIDER_COLUMNS.items():
            setattr(self, name, _grow(getattr(self, name)[:n][keep], self._cap, dtype, fill))
        live = int(keep.sum())
        lens = self.name_len[:live].astype(np.int64)
        names = self._name_tok[_ranges(self.name_at[:live], lens)]
        self._name_tok = _grow(names, len(names) + max(1024, len(names) // _GROWTH), np.int32, 0)
        self._name_used = len(names)
        self.name_at[:live] = np.cumsum(lens) - lens
        for bits in self._bits.values():
            for code, a in bits.items():
                bits[code] = _grow(a[:n][keep], self._cap, np.bool_, 0)
        statuses = self._bits["status"]
        word_of = key // 3
        words = [""] * len(self._words)
        for w, i in self._words.items():
            words[i] = w
        held = {}
        for status, column in statuses.items():  # a live row is in its status's column (`_retire` takes it out)
            seen = np.zeros(len(words), dtype=np.bool_)
            seen[word_of[column[rows]]] = True
            held[status] = np.flatnonzero(seen)
        self._set_vocabularies(words, held)
        for layer in self._layers:
            layer.compact(keep)
        while self._layers and not self._layers[-1].present.any():  # no live provider has that many services
            self._layers.pop()
        spill_keep = keep[self._spill.prov[:ns]]
        self._spill.compact(spill_keep)
        self.ns = int(spill_keep.sum())
        self._spill.prov[: self.ns] = new_of_old[self._spill.prov[: self.ns]]
        self._by_rank = new_of_old[self._by_rank]
        self.n = int(keep.sum())
        self.dead = 0
        self._row_of[:] = -1
        self._row_of[self.ids[: self.n]] = np.arange(self.n, dtype=np.int32)
        self._make_dense()

    def live_rows(self) -> int:
        return self.n - self.dead

    # --- names like a name (reconciliation) ----------------------------------------------------

    def _name_groups(self, texts: Sequence[str]) -> list[list[str]]:
        """The words to look names up by (the first NAME_WORDS of each text): each word of the texts that some
        document holds; for one nothing holds, its closest spellings, and the two known words it may be written for
        ("westmercia"); and two adjacent words written as one known word ("drop in"). Words of published
        profiles only (those `similar_names` finds)."""
        vocab = self.vocabulary("published")
        known = vocab.held
        groups: list[list[str]] = []
        seen: set[str] = set()
        for text in texts:
            tokens = query_words(text)[:NAME_WORDS]
            joined = [a + b for a, b in pairwise(tokens)]
            for tok in tokens + joined:
                if tok in seen:
                    continue
                seen.add(tok)
                if tok in known:
                    groups.append([tok])
                elif tok not in joined:
                    groups.append(vocab.closest(tok))
                    for i in range(2, len(tok) - 1):
                        if tok[:i] in known and tok[i:] in known:
                            groups += [[tok[:i]], [tok[i:]]]
        return [g for g in groups if g]

    def similar_names(
        self, texts: Sequence[str], areas: Sequence[str] = (), *, limit: int = 50, pool: int = NAME_POOL
    ) -> list[int]:
        """The ids of the published providers whose names are most like one of `texts`, best first, at most
        `limit`; with `areas`, only those with an active service covering one of them (hierarchy-aware, as the
        `area` filter). Two steps, exact for the index's rows (no sampling):
        1. each live row whose name holds a word of the texts (`_name_groups`) scores the rarity of the words it
           holds (the sum of log(rows / rows holding the word in their name)); the best `pool` are kept (among
           equals, names as long in words as the first text first, then name order);
        2. those rows' names (folded) are compared whole with every text (rapidfuzz's normalised Indel
           similarity, `fuzz.ratio`, after its default processing: punctuation read as spaces); each row's
           best similarity ranks it, then name order."""
        n = self.n
        if n == 0 or limit <= 0:
            return []
        mask = self._provider_mask(Filters())
        meeting = self._meeting(Filters(area=areas)) if areas else None
        if meeting is not None:
            mask &= self._providers_of(*meeting)
        rarity = np.zeros(n, dtype=np.float32)
        live = max(self.live_rows(), 1)
        for group in self._name_groups(texts):
            parts = [rows for word in group for rows, cls in self._postings(word) if cls == 0]  # in the name (A)
            if len(parts) == 1 and parts[0].dtype != np.uint8:  # one word's rows, ascending: add at once
                rows = parts[0]
                if len(rows):
                    rarity[rows] += math.log(live / len(rows)) + 0.01
                continue
            held = np.zeros(n, dtype=np.bool_)
            for rows in parts:
                if rows.dtype == np.uint8:  # a packed bitmap
                    held |= _unpacked(rows, n)
                else:
                    held[rows] = True
            holding = int(np.count_nonzero(held))
            if holding:  # a word every name holds still counts a little
                np.add(rarity, math.log(live / holding) + 0.01, out=rarity, where=held)
        rows = np.flatnonzero((rarity > 0) & mask)
        if len(rows) > pool:  # one key: rarity (most first, to 1e-4), words more or fewer than asked, name order
            words = len(query_words(texts[0])) if texts else 0
            rare = np.minimum(np.round(rarity[rows] * 1e4), _RARITY_CAP).astype(np.int64)
            off = np.minimum(np.abs(self.name_len[rows].astype(np.int64) - words), 0x3FF)
            key = ((_RARITY_CAP - rare) << 41) | (off << 31) | self.rank[rows]
            rows = rows[np.argpartition(key, pool - 1)[:pool]]
        if not len(rows):
            return []
        keys = self._keys
        names = [keys[at][:-16] for at in self.rank[rows].tolist()]  # name_key: the folded name, NUL, 15 digits
        similar = process.cdist(texts, names, scorer=fuzz.ratio, processor=utils.default_process, dtype=np.uint8)
        best = similar.max(axis=0).astype(np.int64)
        order = np.lexsort((self.rank[rows], -best))[:limit]
        found: list[int] = self.ids[rows[order]].tolist()
        return found

    def names_holding(self, text: str, *, offset: int = 0, limit: int = 10) -> list[int]:
        """The ids of the published providers whose folded name holds `text` folded: those starting with it
        first (a run of the name order), then the others; each part in name order (folded name, then id)."""
        wanted = fold(text)
        published = self._bits["status"].get("published")
        if not wanted or "\x00" in wanted or published is None:
            return []
        keys, by_rank, stop = self._keys, self._by_rank, offset + limit
        lo = hi = bisect.bisect_left(keys, wanted)
        while hi < len(keys) and keys[hi].startswith(wanted):  # the name starts with it (a key's name ends at NUL)
            hi += 1
        found = [r for r in by_rank[lo:hi].tolist() if published[r]]
        if len(found) < stop:  # then the names holding it further on, in name order, as far as the page needs
            further = (
                at
                for at, key in enumerate(keys)
                if wanted in key and not lo <= at < hi and key.find(wanted, 1, len(key) - 16) > 0
            )
            published_rows = (r for r in map(int, map(by_rank.__getitem__, further)) if published[r])
            found += islice(published_rows, stop - len(found))
        ids: list[int] = self.ids[found[offset:stop]].tolist()
        return ids

    # --- queries -------------------------------------------------------------------------------

    def has_word(self, word: str, status: str = "published") -> bool:
        return word in self.vocabulary(status).held

    def expand(self, q: str, status: str = "published") -> list[tuple[str, list[str]]]:
        """Each query word with the words of the providers of `status` it stands for (`vocabulary`): itself and
        its completions when it is a known word (completions only from 4 letters), else its closest spellings; at
        most five."""
        vocab = self.vocabulary(status)
        out: list[tuple[str, list[str]]] = []
        for tok in QUERY_SPLIT.split(fold(q)):
            if len(tok) < 2:
                continue
            if tok in vocab.held:
                words = [tok]
                if len(tok) >= 4:
                    words += vocab.completions(tok)
            else:
                words = vocab.closest(tok)
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

    def _provider_mask(self, f: Filters) -> np.ndarray:
        """Live provider rows of f's status, sector and legal form."""
        n = self.n
        status = self._bits["status"].get(f.status)
        if status is None:
            return np.zeros(n, dtype=np.bool_)
        mask = status[:n].copy()  # live rows only: a retired row leaves its status
        for facet, codes in (("sector", f.sector), ("legal_form", f.legal_form)):
            if codes:
                hit = _any_of(self._bits[facet], codes, n)
                if hit is None:
                    mask[:] = False
                else:
                    mask &= hit
        return mask

    def _org_holds(self, codes: Sequence[str]) -> np.ndarray:
        """Provider rows whose organisation holds every one of the accreditations."""
        n = self.n
        out = np.ones(n, dtype=np.bool_)
        for c in dict.fromkeys(codes):
            bits = self._bits["accreditation"].get(c)
            if bits is None:
                out[:] = False
            else:
                out &= bits[:n]
        return out

    def _meeting(self, f: Filters) -> tuple[list[np.ndarray], np.ndarray] | None:
        """The service slots meeting f's service-level filters and holding every accreditation of f: per
        layer, packed; in the spill, ascending. None when f has neither kind of filter (every service meets it).
        Slots of dead provider rows may be among them: the provider mask leaves those out."""
        if not f.service_level() and not f.accreditation:
            return None
        layers = [layer.meets(f, self.n) for layer in self._layers]
        spill = np.zeros(0, dtype=np.int64)
        if self.ns:
            spill = np.flatnonzero(_unpacked(self._spill.meets(f, self.ns), self.ns))
        return layers, spill

    def _every_service(self) -> tuple[list[np.ndarray], np.ndarray]:
        nb = (self.n + 7) // 8
        return [layer.present[:nb] for layer in self._layers], np.arange(self.ns)

    def _providers_of(self, layers: list[np.ndarray], spill: np.ndarray) -> np.ndarray:
        """The provider rows with a slot among these."""
        if layers:
            packed = layers[0] if len(layers) == 1 else np.bitwise_or(layers[0], layers[1])
            for more in layers[2:]:
                packed |= more
            hit = _unpacked(packed, self.n)
        else:
            hit = np.zeros(self.n, dtype=np.bool_)
        if len(spill):
            hit[self._spill.prov[spill]] = True
        return hit

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

    def _group_classes(self, group: Sequence[str], nb: int) -> list[np.ndarray | None]:
        """For each weight class (A, B, C), the rows (packed, nb bytes) whose best class for the group's words is
        that one; None for a class no row has as its best."""
        held: list[np.ndarray | None] = [None, None, None]
        scattered: list[list[np.ndarray]] = [[], [], []]
        for word in dict.fromkeys(group):
            for rows, cls in self._postings(word):
                if rows.dtype == np.uint8:  # a packed bitmap
                    bits = held[cls]
                    held[cls] = rows[:nb].copy() if bits is None else np.bitwise_or(bits, rows[:nb], out=bits)
                else:
                    scattered[cls].append(rows)
        for cls, lists in enumerate(scattered):
            if lists:
                flags = np.zeros(nb * 8, dtype=np.bool_)
                for rows in lists:
                    flags[rows] = True
                bits, more = np.packbits(flags), held[cls]
                held[cls] = bits if more is None else np.bitwise_or(bits, more, out=bits)
        out: list[np.ndarray | None] = []
        above: np.ndarray | None = None  # the rows holding a word of the group in a better class
        for bits in held:
            if bits is None:
                out.append(None)
            elif above is None:
                out.append(bits)
                above = bits.copy()
            else:
                out.append(np.bitwise_and(bits, np.invert(above)))
                above |= bits
        return out

    def _text_levels(
        self, groups: Sequence[Sequence[str]], mask: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[int, list[tuple[int, np.ndarray]]]]]:
        """The rows of mask holding a word of every group (boolean), and those rows by relevance (in tenths),
        highest first: for each relevance, its rows (packed) by the weakest group's best weight. Packed bitmaps
        only: each group splits every (relevance, weakest weight) set so far by the group's best class, an AND
        of 1/8 of a byte per row, so no per-row score is ever written."""
        n = self.n
        nb = (n + 7) // 8
        weights = [round(w * _SCORE_SCALE) for w in CLASS_WEIGHTS]
        states: dict[tuple[int, int], np.ndarray] = {(0, 255): np.packbits(mask)}  # (relevance, weakest) -> rows
        for group in groups:
            classes = self._group_classes(group, nb)
            after: dict[tuple[int, int], np.ndarray] = {}
            for (level, weakest), rows in states.items():
                for w, exact in zip(weights, classes, strict=True):
                    if exact is None:
                        continue
                    both = np.bitwise_and(rows, exact)
                    if not both.any():
                        continue
                    key = (level + w, min(weakest, w))
                    have = after.get(key)
                    after[key] = both if have is None else np.bitwise_or(have, both, out=have)
            states = after
        by_level: defaultdict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        found = np.zeros(nb, dtype=np.uint8)
        for (level, weakest), rows in states.items():
            by_level[level].append((weakest, rows))
            found |= rows
        return _unpacked(found, n), sorted(by_level.items(), reverse=True)

    def _name_order_keys(self, rows: np.ndarray, groups: Sequence[Sequence[str]], typed: Sequence[str]) -> np.ndarray:
        """Sort keys for rows whose name holds a word of every group: the name's tier (NAME_TIERS, then
        anywhere), its length in words, its place in name order. One pass over these rows' name word ids."""
        g = len(groups)
        word_id = self._name_ids
        members = []
        for group in groups:
            member = np.zeros(len(word_id) + 1, dtype=np.bool_)  # the last id: a word no name has
            member[[word_id[w] for w in group if w in word_id]] = True
            members.append(member)
        literal = [word_id.get(t, -1) for t in typed]
        lens = self.name_len[rows].astype(np.int64)
        tok = self._name_tok[_ranges(self.name_at[rows], lens)]
        total = len(tok)
        owner = np.repeat(np.arange(len(rows)), lens)
        # a phrase may start at a word with at least g words left in its own name
        room = (np.repeat(np.cumsum(lens), lens) - np.arange(total)) >= g
        phrase, typed_phrase = room.copy(), room.copy()
        shifted = np.empty(total, dtype=np.int32)
        for i in range(g):
            shifted[: total - i] = tok[i:]
            shifted[total - i :] = len(word_id)
            phrase &= members[i][shifted]
            typed_phrase &= shifted == literal[i]
        in_order = np.zeros(len(rows), dtype=np.bool_)
        in_order[owner[phrase]] = True
        typed_in_order = np.zeros(len(rows), dtype=np.bool_)
        typed_in_order[owner[typed_phrase]] = True
        whole = lens == g
        tier = np.select(
            [whole & typed_in_order, whole & in_order, typed_in_order, in_order], [0, 1, 2, 3], default=4
        ).astype(np.int64)
        key: np.ndarray = (tier << 48) | (np.minimum(lens, _LEN_CAP) << 32) | self.rank[rows]
        return key

    def _field_order_keys(self, flags: np.ndarray, weakest: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of flags (boolean) whose name lacks some query word that may be among the k of smallest sort
        key, and their keys: the length of the weakest field used (the text's when a query word was found only
        there, else the pathway and area names'; `weakest` is that class's weight), then name order.
        A level of many rows (1 in 32 of the first _SAMPLE_ROWS or more) needs only its shortest fields: those no
        longer than the k-th shortest of its rows among the first _SAMPLE_ROWS (k rows of its own are that short),
        found with whole-array arithmetic rather than by listing every row; then those no longer than the k-th
        shortest of these."""
        a, b = (round(w * _SCORE_SCALE) for w in CLASS_WEIGHTS[:2])
        lengths = self.name_len if weakest >= a else self.len_b if weakest >= b else self.len_c
        sampled = np.count_nonzero(flags[:_SAMPLE_ROWS])
        if sampled >= max(k, _SAMPLE_ROWS // 32) and len(flags) > _SAMPLE_ROWS and k > 0:
            longest = np.partition(lengths[np.flatnonzero(flags[:_SAMPLE_ROWS])], k - 1)[k - 1]
            flags = np.less_equal(lengths[: len(flags)], longest) & flags
        rows = np.flatnonzero(flags)
        held = lengths[rows]
        if len(rows) > k > 0:
            short = held <= np.partition(held, k - 1)[k - 1]
            rows, held = rows[short], held[short]
        key: np.ndarray = (held.astype(np.int64) << 32) | self.rank[rows]
        return rows, key

    def _by_name(self, rows_mask: np.ndarray, count: int, stop: int) -> np.ndarray:
        """The first `stop` rows of a mask in name order, for a mask holding `count` rows."""
        if count * 64 < len(self._by_rank):  # sparse: find them all, then order them
            rows = np.flatnonzero(rows_mask)
            return rows[np.argsort(self.rank[rows], kind="stable")][:stop]
        return self._first_in_name_order(rows_mask, stop)

    def query(
        self, f: Filters, q: str, *, by_relevance: bool = True, offset: int = 0, limit: int = 20, facets: bool = False
    ) -> tuple[Hits, list[list[str]]]:
        """A text search as the API runs it: q's words expanded (`expand`) with the words of the providers of f's
        status, then `search`; also the groups of words q was read as. A word nothing among those providers
        resembles finds nothing."""
        expanded = self.expand(q, f.status)
        groups = [words for _, words in expanded]
        if any(not words for words in groups):
            return Hits(total=0, ids=[], relevance=None, facets={} if facets else None), groups
        hits = self.search(
            f,
            groups=groups,
            typed=[tok for tok, _ in expanded],
            by_relevance=by_relevance,
            offset=offset,
            limit=limit,
            facets=facets,
        )
        return hits, groups

    def search(
        self,
        f: Filters,
        *,
        groups: Sequence[Sequence[str]] | None = None,
        typed: Sequence[str] | None = None,
        by_relevance: bool = False,
        offset: int = 0,
        limit: int = 20,
        facets: bool = False,
    ) -> Hits:
        """Providers matching the filters (and every group of words, when groups is given), with the services
        of each that matched. `typed`: the query's words as typed, one per group (by default each group's first
        word), for the exact-name and in-order tiers."""
        mask = self._provider_mask(f)
        meeting = self._meeting(f)
        if meeting is not None:
            hit = self._providers_of(*meeting)
            if not f.service_level():  # accreditations only: the organisation's may be enough
                hit |= self._org_holds(f.accreditation)
            mask &= hit
        stop = offset + limit
        relevance = None
        levels = None
        if groups is not None:
            mask, levels = self._text_levels(groups, mask)
        total = int(np.count_nonzero(mask))
        if groups is not None and levels is not None and by_relevance:  # best relevance first, then see above
            top = round(CLASS_WEIGHTS[0] * _SCORE_SCALE) * len(groups)
            words_typed = list(typed) if typed is not None else [group[0] if group else "" for group in groups]
            found: list[np.ndarray] = []
            relevance = []
            left = stop
            for level, parts in levels:
                if left <= 0:
                    break
                part_rows, part_keys = [], []
                for weakest, bits in parts:
                    flags = _unpacked(bits, self.n)
                    if groups and level != top:
                        rows, key = self._field_order_keys(flags, weakest, left)
                    else:
                        rows = np.flatnonzero(flags)
                        key = self._name_order_keys(rows, groups, words_typed) if groups else self.rank[rows]
                    part_rows.append(rows)
                    part_keys.append(key)
                rows = part_rows[0] if len(parts) == 1 else np.concatenate(part_rows)
                key = part_keys[0] if len(parts) == 1 else np.concatenate(part_keys)
                rows = _smallest(rows, key, left)
                found.append(rows)
                relevance += [level / _SCORE_SCALE] * len(rows)
                left -= len(rows)
            page = np.concatenate(found)[offset:] if found else np.zeros(0, dtype=np.int64)
            relevance = relevance[offset:]
        else:
            page = self._by_name(mask, total, stop)[offset:]
        every = meeting is None
        layers, spill = self._every_service() if meeting is None else meeting
        spill = spill[mask[self._spill.prov[spill]]]  # the found providers' only
        matched = self._matched_of(page, layers, spill)
        counts = self._facet_counts(mask, layers, spill, every=every) if facets else None
        return Hits(total=total, ids=self.ids[page].tolist(), relevance=relevance, facets=counts, matched=matched)

    def _matched_of(self, page: np.ndarray, layers: list[np.ndarray], spill: np.ndarray) -> list[list[int]]:
        """For each provider row of the page, the ids of its services in these slots (layers, then spill)."""
        out: list[list[int]] = [[] for _ in range(len(page))]
        for layer, meets in zip(self._layers, layers, strict=True):
            ids = layer.ids[page]
            for i in np.flatnonzero(_bits_at(meets, page)).tolist():
                out[i].append(int(ids[i]))
        if len(spill):
            prov = self._spill.prov[spill]
            lo = np.searchsorted(prov, page, side="left").tolist()
            hi = np.searchsorted(prov, page, side="right").tolist()
            for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
                if b > a:
                    out[i] += self._spill.ids[spill[a:b]].tolist()
        return out

    def _facet_counts(
        self, mask: np.ndarray, layers: list[np.ndarray], spill: np.ndarray, *, every: bool
    ) -> dict[str, dict[str, int]]:
        """Providers among `mask` per sector, and per pathway and area of their services in these slots
        (`every`: the slots are all the services)."""
        n = self.n
        found = np.packbits(mask)
        tmp = np.empty(len(found), dtype=np.uint8)
        out: dict[str, dict[str, int]] = {}
        for facet in ("pathway", "area"):
            counts: dict[str, int] = {}
            for code in dict.fromkeys(c for slots in (*self._layers, self._spill) for c in slots.codes[facet]):
                held = np.zeros(len(found), dtype=np.uint8)
                for layer, meets in zip(self._layers, layers, strict=True):
                    bits = layer.codes[facet].get(code)
                    if bits is not None:
                        held |= bits[: len(found)] if every else np.bitwise_and(meets, bits[: len(found)], out=tmp)
                spilt = self._spill.codes[facet].get(code)
                if spilt is not None and len(spill):
                    _set_bits(held, self._spill.prov[spill[_bits_at(spilt, spill)]])
                k = int(np.bitwise_count(np.bitwise_and(held, found, out=held)).sum())
                if k:
                    counts[code] = k
            out[facet] = counts
        flags = np.empty(n, dtype=np.bool_)
        sectors = {
            c: int(np.count_nonzero(np.logical_and(bits[:n], mask, out=flags)))
            for c, bits in self._bits["sector"].items()
        }
        out["sector"] = {c: v for c, v in sectors.items() if v}
        return out


class IndexBuilder:
    """Builds a SearchIndex from batches of rows in id order; postings with numpy, batch by batch."""

    def __init__(self) -> None:
        self.index = SearchIndex()
        self._word_id: defaultdict[str, int] = defaultdict(count().__next__)
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (distinct keys, counts, rows by key)
        self._held: dict[str, np.ndarray] = {}  # status -> which word ids its rows hold (booleans)

    def add(self, rows: Sequence[IndexRow]) -> None:
        index = self.index
        first_row = index._append(rows)
        index._keys.extend(name_key(row.name, row.id) for row in rows)
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
        codes: dict[str, int] = {}  # each status of these rows -> its number here
        status_of = np.array([codes.setdefault(row.status, len(codes)) for row in rows], dtype=np.int64)
        held_word, held_by = wid[first], status_of[rid[first] - first_row]  # each (word, row): the row's status
        for status, k in codes.items():
            held = _grow(self._held.get(status, np.zeros(0, dtype=np.bool_)), len(self._word_id), np.bool_, 0)
            held[held_word[held_by == k]] = True
            self._held[status] = held
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
        index._set_vocabularies(list(index._words), {s: np.flatnonzero(held) for s, held in self._held.items()})
        order_ids = sorted(range(index.n), key=index._keys.__getitem__)
        index._keys = [index._keys[i] for i in order_ids]
        index.rank[order_ids] = np.arange(index.n)
        index._by_rank = np.array(order_ids, dtype=np.int64)
        index._fit()
        return index
