"""Candidate pools: what ranking reads, and the full pool.

A pool is a set of candidates laid out for ranking: its :class:`~matching.columns.Columns` (numeric
and code columns), the candidates' names, optionally their name order, and a way to match words
against their text. Two kinds exist, over the same columns:

* :class:`CandidatePool` (this module), the full pool: the columns plus the candidates themselves and
  their text (each service's description and outcomes records, each organisation's resources text).
  ``rank`` lays out the candidates it is given as one (with their services in the need's pathway only);
  :meth:`CandidatePool.build` makes a reusable one, to rank many needs against one snapshot.
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
from .columns import Columns, build_columns, read_only, service_text
from .models import Candidate
from .wordscan import Groups, TextMatch, WordIndex, best_matches, text_matches

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

    def text_matches(
        self, idx: Int64Array, services: Int64Array, service_pos: Int64Array, query: Sequence[str]
    ) -> FloatArray:
        """Best similarity in [0, 1] of each query word (rows) to the words of each candidate ``idx[j]``
        (columns): its organisation's resources text and the text of the service rows ``services``, service
        row ``services[k]`` counting for column ``service_pos[k]`` (see :func:`matching.wordscan.best_matches`)."""
        ...

    def service_text_matches(
        self, services: Int64Array, service_pos: Int64Array, m: int, query: Sequence[str], groups: Groups
    ) -> TextMatch:
        """:func:`matching.wordscan.text_matches` of the query against the text of the service rows ``services``
        only (their descriptions and outcomes records), service row ``services[k]`` counting for column
        ``service_pos[k]`` of ``m``."""
        ...


def text_units(
    n_services: int, idx: Int64Array, services: Int64Array, service_pos: Int64Array
) -> tuple[Int64Array, Int64Array]:
    """(text units, the column each counts for) for :meth:`Pool.text_matches`.

    A pool's texts are numbered as units: service row ``r`` is unit ``r`` (its description and outcomes
    records), candidate row ``i`` is unit ``n_services + i`` (its resources text).
    """
    m = len(idx)
    units = np.concatenate([services.astype(np.int64, copy=False), n_services + idx])
    owner = np.concatenate([service_pos.astype(np.int64, copy=False), np.arange(m, dtype=np.int64)])
    return units, owner


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

    Text (each service's description and outcomes records, each organisation's resources text) is kept as
    strings and only scanned, for the candidates a need text-matches, when that need has local priorities.
    """

    columns: Columns
    candidates: tuple[Candidate, ...]
    names: tuple[str, ...]
    service_texts: tuple[str, ...]
    """The text of every service row (:func:`~matching.columns.service_text`)."""
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

        Raises :class:`InvalidCandidate` as :func:`~matching.columns.build_columns` does.
        """
        return build_pool(tuple(candidates), areas, pathway=None, order=True, reusable=True)

    def word_index(self) -> WordIndex:
        """Word index of every candidate's text, built on first use (reusable pools only)."""
        if self.text_index is None:
            raise ValueError("this pool keeps no word index")
        return self.text_index.get(self.index_text)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text unit's text (see :func:`text_units`): the services', then the organisations'."""
        return self.service_texts + self.resources

    def index_text(self) -> WordIndex:
        """A word index of every text unit (see :func:`text_units`), built now (:meth:`word_index` keeps one)."""
        texts = self.texts
        return WordIndex.build(texts, np.arange(len(texts), dtype=np.int64), len(texts))

    def text_matches(
        self, idx: Int64Array, services: Int64Array, service_pos: Int64Array, query: Sequence[str]
    ) -> FloatArray:
        """See :meth:`Pool.text_matches`. A reusable pool indexes all its text once when a need
        text-matches much of it (:data:`INDEX_SHARE`), and uses that index from then on."""
        units, owner = text_units(len(self.service_texts), idx, services, service_pos)
        lazy = self.text_index
        if lazy is not None and (lazy.built or len(idx) * INDEX_SHARE >= len(self)):
            return self.word_index().best_matches(units, query, owner=owner, n=len(idx))
        texts = self.texts
        return best_matches(list(map(texts.__getitem__, units.tolist())), owner, len(idx), query)

    def service_text_matches(
        self, services: Int64Array, service_pos: Int64Array, m: int, query: Sequence[str], groups: Groups
    ) -> TextMatch:
        """See :meth:`Pool.service_text_matches` (a reusable pool's word index is used as in :meth:`text_matches`)."""
        services = services.astype(np.int64, copy=False)
        service_pos = service_pos.astype(np.int64, copy=False)
        lazy = self.text_index
        if lazy is not None and (lazy.built or m * INDEX_SHARE >= len(self)):
            return self.word_index().text_matches(services, query, groups, service_pos, m)
        texts = self.service_texts
        return text_matches(list(map(texts.__getitem__, services.tolist())), service_pos, m, query, groups)


def build_pool(
    cands: tuple[Candidate, ...],
    areas: AreaTree,
    *,
    pathway: str | None,
    order: bool,
    pids: Int64Array | None = None,
    reusable: bool = False,
) -> CandidatePool:
    """Lay ``cands`` out as a full pool.

    ``pathway``: when given, only the services of that pathway become service rows,
    which is all a single need uses; ``None`` keeps every service. ``order``: also
    compute the ``(name, provider_id)`` order (needed to list many candidates by
    name). ``pids``: the provider ids, already read (and checked) by screening.
    ``reusable``: the pool will rank several needs, so a word index of all its text
    may be built (lazily, when a need text-matches a large share of it).
    """
    n = len(cands)
    names = tuple(map(attrgetter("name"), cands))
    columns, services = build_columns(cands, areas, pathway=pathway, pids=pids)

    by_name: Int64Array | None = None
    name_rank: Int64Array | None = None
    if order:
        pids = columns.provider_id
        by_name = np.array(sorted(np.argsort(pids, kind="stable").tolist(), key=names.__getitem__), dtype=np.int64)
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[by_name] = np.arange(n, dtype=np.int64)
    read_only(by_name, name_rank)
    return CandidatePool(
        columns=columns,
        candidates=cands,
        names=names,
        service_texts=tuple(map(service_text, services)),
        resources=tuple(map(attrgetter("resources_text"), cands)),
        by_name=by_name,
        name_rank=name_rank,
        text_index=LazyWordIndex() if reusable else None,
    )
