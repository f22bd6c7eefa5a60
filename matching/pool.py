"""Candidate pools: what ranking reads, and the full pool.

A pool is a set of candidates laid out for ranking: its :class:`~matching.columns.Columns` (numeric
and code columns), the candidates' names, optionally their name order, and a way to match words
against their text. Two kinds exist, over the same columns:

* :class:`CandidatePool` (this module), the full pool: the columns plus the candidates themselves and
  their text (expertise descriptions, resources text). ``rank`` lays out the candidates it is given
  as one (for the need's pathway only); :meth:`CandidatePool.build` makes a reusable one, to rank many
  needs against one snapshot.
* :class:`~matching.compact.CompactPool`: the columns plus packed names and a word index of the text,
  no candidate objects (for a server keeping a whole directory in memory).

Both satisfy the :class:`Pool` protocol, which is all that screening, scoring and ordering read;
explaining needs the candidates themselves (a full pool has them, a compact pool's caller passes them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import Columns, Screened, build_columns, read_only
from .models import Candidate
from .wordscan import WordIndex, best_matches

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

INDEX_SHARE: Final = 8
"""A reusable pool indexes all its text once a need's candidates to text-match are 1/8 of it or more."""


class Pool(Protocol):
    """What ranking reads of a pool, whichever kind."""

    @property
    def columns(self) -> Columns: ...

    @property
    def names(self) -> Sequence[str]: ...

    @property
    def by_name(self) -> Int64Array | None:
        """Rows in ``(name, provider_id)`` order (``None`` when not computed)."""
        ...

    @property
    def name_rank(self) -> Int64Array | None:
        """Position of each row in ``by_name``: the tie-break key (``None`` when not computed)."""
        ...

    @property
    def provider_id(self) -> Int64Array: ...

    def __len__(self) -> int: ...

    def word_matches(self, idx: Int64Array, query: Sequence[str]) -> FloatArray:
        """Best similarity in [0, 1] of each query word (rows) to the words of each row ``idx`` (columns);
        see :func:`matching.wordscan.best_matches`."""
        ...


class LazyWordIndex:
    """A word index built at most once, on first use, under a lock: rankings of one pool may run in
    several threads at once, and only one of them builds it."""

    __slots__ = ("_index", "_lock")

    def __init__(self) -> None:
        self._index: WordIndex | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._index is not None

    def get(self, build: Callable[[], WordIndex]) -> WordIndex:
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    index = self._index = build()
        return index


class OverColumns:
    """What both pool types read straight from their columns: size, provider ids, the area tree."""

    __slots__ = ()
    columns: Columns

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def provider_id(self) -> Int64Array:
        return self.columns.provider_id

    @property
    def areas(self) -> AreaTree:
        return self.columns.areas


@dataclass(frozen=True, slots=True, eq=False)
class CandidatePool(OverColumns):
    """The full pool: candidates as columns, with the candidates themselves and their text.

    Text (expertise descriptions, resources text) is kept as strings and only scanned, for the
    candidates a need text-matches, when that need has local priorities.
    """

    columns: Columns
    candidates: tuple[Candidate, ...]
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    """Every expertise line's description, candidate by candidate."""
    description_offsets: Int64Array
    """Candidate ``i``'s descriptions are ``descriptions[description_offsets[i]:description_offsets[i + 1]]``."""
    resources: tuple[str, ...]
    by_name: Int64Array | None
    """Rows in ``(name, provider_id)`` order (``None`` when not computed)."""
    name_rank: Int64Array | None
    """Position of each row in ``by_name``: the tie-break key (``None`` when not computed)."""
    text_index: LazyWordIndex | None
    """Word index of every candidate's text, built on first use; ``None`` for a one-off pool (never built)."""

    @classmethod
    def build(cls, candidates: Iterable[Candidate], areas: AreaTree) -> CandidatePool:
        """Validate candidates and lay them out, to rank several needs against them.

        Raises :class:`InvalidCandidate` for a duplicate ``provider_id``, a pathway,
        cohort or sector that is not a non-empty string, negative years of
        experience, capacity, income, volunteers or match funding.
        """
        return build_pool(tuple(candidates), areas, pathway=None, order=True, reusable=True)

    def word_index(self) -> WordIndex:
        """Word index of every candidate's text, built on first use (reusable pools only)."""
        if self.text_index is None:
            raise ValueError("this pool keeps no word index")
        return self.text_index.get(self.index_text)

    def index_text(self) -> WordIndex:
        """A word index of every candidate's text, built now (:meth:`word_index` keeps one)."""
        texts, owner = self.texts_of(np.arange(len(self), dtype=np.int64))
        return WordIndex.build(texts, owner, len(self))

    def word_matches(self, idx: Int64Array, query: Sequence[str]) -> FloatArray:
        """See :meth:`Pool.word_matches`. A reusable pool indexes all its text once when a need
        text-matches much of it (:data:`INDEX_SHARE`), and uses that index from then on."""
        lazy = self.text_index
        if lazy is not None and (lazy.built or len(idx) * INDEX_SHARE >= len(self)):
            return self.word_index().best_matches(idx, query)
        texts, owner = self.texts_of(idx)
        return best_matches(texts, owner, len(idx), query)

    def texts_of(self, idx: Int64Array) -> tuple[list[str], Int64Array]:
        """Descriptions and resources text of the candidates ``idx``, with the position in ``idx`` of each text."""
        lo = self.description_offsets[idx]
        counts = self.description_offsets[idx + 1] - lo
        total = int(counts.sum())
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(idx) else counts
        positions = np.arange(total, dtype=np.int64) + np.repeat(lo - starts, counts)
        texts = list(map(self.descriptions.__getitem__, positions.tolist()))
        texts.extend(map(self.resources.__getitem__, idx.tolist()))
        owner = np.concatenate([np.repeat(np.arange(len(idx), dtype=np.int64), counts), np.arange(len(idx))])
        return texts, owner


def build_pool(
    cands: tuple[Candidate, ...],
    areas: AreaTree,
    *,
    pathway: str | None,
    order: bool,
    screened: Screened | None = None,
    reusable: bool = False,
) -> CandidatePool:
    """Lay ``cands`` out as a full pool.

    ``pathway``: when given, only expertise lines of that pathway get pathway
    columns (years, cohorts, outcomes evidence), which is all a single need uses;
    ``None`` indexes every pathway. ``order``: also compute the ``(name,
    provider_id)`` order (needed to list many candidates by name). ``screened``:
    provider ids and expertise lines already read (and validated) by screening.
    ``reusable``: the pool will rank several needs, so a word index of all its text
    may be built (lazily, when a need text-matches a large share of it).
    """
    n = len(cands)
    names = tuple(map(attrgetter("name"), cands))
    columns, read = build_columns(cands, areas, pathway=pathway, screened=screened)
    descriptions = tuple(map(attrgetter("description"), read.lines))
    description_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(read.line_owner, minlength=n), out=description_offsets[1:])

    by_name: Int64Array | None = None
    name_rank: Int64Array | None = None
    if order:
        pids = columns.provider_id
        by_name = np.array(sorted(np.argsort(pids, kind="stable").tolist(), key=names.__getitem__), dtype=np.int64)
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[by_name] = np.arange(n, dtype=np.int64)
    read_only(description_offsets, by_name, name_rank)
    return CandidatePool(
        columns=columns,
        candidates=cands,
        names=names,
        descriptions=descriptions,
        description_offsets=description_offsets,
        resources=tuple(map(attrgetter("resources_text"), cands)),
        by_name=by_name,
        name_rank=name_rank,
        text_index=LazyWordIndex() if reusable else None,
    )
