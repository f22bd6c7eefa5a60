"""Area hierarchy (ONS GSS codes) with hierarchy-aware coverage helpers.

Nodes are numbered in depth-first pre-order (roots and children visited in code
order), so the descendants of node ``i`` are exactly the indices
``i + 1 .. i + size[i] - 1``. That makes "is X within Y" an interval test and lets
the ranking code vectorise coverage with numpy.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import repeat

import numpy as np
import numpy.typing as npt

from .errors import InvalidAreaTree


class AreaTree:
    """Immutable area hierarchy built from ``{code: parent_code | None}``.

    A parent that is referenced but not itself a key is added as a root. Optional
    ``names`` (``{code: "Worcestershire"}``) are only used in explanations.

    ``population`` (``{code: people}``, e.g. ONS mid-year estimates) weighs coverage and shared capacity by
    people (see :attr:`people`); ``population_source`` names it in explanations. Only leaf figures are read: a
    leaf without a figure counts as the mean of the known leaf figures (rounded), and with no figure at all
    every leaf counts 1 (coverage by counting leaf areas).
    """

    __slots__ = (
        "_codes",
        "_index",
        "_leaf_count",
        "_leaf_pos",
        "_names",
        "_parent",
        "_parents",
        "_people",
        "_population",
        "_size",
        "population_source",
    )

    def __init__(
        self,
        parents: Mapping[str, str | None],
        names: Mapping[str, str] | None = None,
        population: Mapping[str, float] | None = None,
        population_source: str = "",
    ) -> None:
        allp: dict[str, str | None] = {}
        for code, parent in parents.items():
            if not isinstance(code, str) or not code:
                raise InvalidAreaTree(str(code), "area codes must be non-empty strings")
            if parent is not None and (not isinstance(parent, str) or not parent):
                raise InvalidAreaTree(code, "parent must be a non-empty string or None")
            if parent == code:
                raise InvalidAreaTree(code, "an area cannot be its own parent")
            allp[code] = parent
        for parent in tuple(allp.values()):
            if parent is not None and parent not in allp:
                allp[parent] = None
        children: dict[str, list[str]] = {code: [] for code in allp}
        roots: list[str] = []
        for code, parent in allp.items():
            (roots if parent is None else children[parent]).append(code)

        order: list[str] = []
        parent_idx: list[int] = []
        stack: list[tuple[str, int]] = [(code, -1) for code in sorted(roots, reverse=True)]
        while stack:
            code, par = stack.pop()
            me = len(order)
            order.append(code)
            parent_idx.append(par)
            stack.extend((child, me) for child in sorted(children[code], reverse=True))
        if len(order) != len(allp):
            bad = sorted(set(allp) - set(order))[0]
            raise InvalidAreaTree(bad, "the parent map contains a cycle")

        n = len(order)
        size = np.ones(n, dtype=np.int64)
        leaf_count = np.zeros(n, dtype=np.int64)
        is_leaf = [not children[code] for code in order]
        for i in range(n - 1, -1, -1):
            if is_leaf[i]:
                leaf_count[i] += 1
            p = parent_idx[i]
            if p >= 0:
                size[p] += size[i]
                leaf_count[p] += leaf_count[i]
        size.flags.writeable = False
        leaf_count.flags.writeable = False

        self._codes: tuple[str, ...] = tuple(order)
        self._index: dict[str, int] = {code: i for i, code in enumerate(order)}
        self._parent: tuple[int, ...] = tuple(parent_idx)
        self._size = size
        self._leaf_count = leaf_count
        self._leaf_pos: tuple[int, ...] = tuple(i for i in range(n) if is_leaf[i])
        self._names: dict[str, str] = dict(names or {})
        self._parents: frozenset[tuple[str, str | None]] = frozenset(allp.items())
        pop: dict[str, float] = {}
        for code, value in (population or {}).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1e12:
                raise InvalidAreaTree(str(code), "a population must be a number from 0 to 1e12")
            if code in self._index:
                pop[code] = float(round(value))
        self._population = pop
        self.population_source = population_source
        known = [pop[order[i]] for i in self._leaf_pos if order[i] in pop]
        fallback = float(round(sum(known) / len(known))) if known else 1.0
        people = np.zeros(n, dtype=np.float64)
        for i in self._leaf_pos:
            people[i] = pop.get(order[i], fallback)
        for i in range(n - 1, -1, -1):  # children come after their parent in pre-order
            p = parent_idx[i]
            if p >= 0:
                people[p] += people[i]
        people.flags.writeable = False
        self._people = people

    # -- basic queries -------------------------------------------------------
    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AreaTree):
            return NotImplemented
        return self is other or (self._parents == other._parents and self._population == other._population)

    def __hash__(self) -> int:
        return hash(self._parents)

    @property
    def has_population(self) -> bool:
        """Whether population figures were given (coverage is then weighted by people)."""
        return bool(self._population)

    def __repr__(self) -> str:
        return f"AreaTree({len(self)} areas, {len(self._leaf_pos)} leaves)"

    @property
    def codes(self) -> tuple[str, ...]:
        """All codes in pre-order."""
        return self._codes

    def index(self, code: str) -> int:
        """Pre-order index of ``code`` (``KeyError`` if unknown)."""
        return self._index[code]

    def code(self, index: int) -> str:
        return self._codes[index]

    def parent(self, code: str) -> str | None:
        p = self._parent[self._index[code]]
        return None if p < 0 else self._codes[p]

    def name(self, code: str) -> str:
        return self._names.get(code, "")

    def label(self, code: str) -> str:
        """``"Worcestershire (E10000034)"`` when a name is known, else the code."""
        name = self._names.get(code)
        return f"{name} ({code})" if name else code

    # -- hierarchy -----------------------------------------------------------
    def ancestor_indices(self, index: int) -> tuple[int, ...]:
        """Proper ancestors of node ``index``, nearest first."""
        out: list[int] = []
        p = self._parent[index]
        while p >= 0:
            out.append(p)
            p = self._parent[p]
        return tuple(out)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Proper ancestors of ``code``, nearest first."""
        return tuple(self._codes[i] for i in self.ancestor_indices(self._index[code]))

    def descendants(self, code: str) -> tuple[str, ...]:
        """Proper descendants of ``code`` in pre-order."""
        i = self._index[code]
        return self._codes[i + 1 : i + int(self._size[i])]

    def leaf_indices_under(self, index: int) -> tuple[int, ...]:
        lo = bisect_left(self._leaf_pos, index)
        hi = bisect_left(self._leaf_pos, index + int(self._size[index]))
        return self._leaf_pos[lo:hi]

    def leaves_under(self, code: str) -> tuple[str, ...]:
        """Leaf areas within ``code`` (``(code,)`` when it is itself a leaf)."""
        return tuple(self._codes[i] for i in self.leaf_indices_under(self._index[code]))

    def leaf_count(self, code: str) -> int:
        return int(self._leaf_count[self._index[code]])

    def is_within(self, code: str, area: str) -> bool:
        """True when ``code`` is ``area`` or one of its descendants."""
        i, a = self._index[code], self._index[area]
        return a <= i < a + int(self._size[a])

    def within_index(self, index: int, area_index: int) -> bool:
        return area_index <= index < area_index + int(self._size[area_index])

    def index_array(self, codes: Iterable[str]) -> npt.NDArray[np.int64]:
        """Node index of each code, ``-1`` for unknown codes (vectorised ``index``)."""
        return np.fromiter(map(self._index.get, codes, repeat(-1)), dtype=np.int64)

    def reduce(self, codes: Iterable[str]) -> tuple[int, ...]:
        """Known codes as sorted node indices with nested codes dropped (an antichain).

        Unknown codes are ignored. Because the result is an antichain, the leaf sets
        of the returned nodes are disjoint, so leaf counts can be added up.
        """
        idx = sorted({self._index[c] for c in codes if c in self._index})
        out: list[int] = []
        for i in idx:
            if out and i < out[-1] + int(self._size[out[-1]]):
                continue
            out.append(i)
        return tuple(out)

    def within_mask(self, area_indices: Iterable[int]) -> npt.NDArray[np.bool_]:
        """Boolean per node: inside (descendant-or-self of) any of the nodes ``area_indices``."""
        inside = np.zeros(len(self), dtype=np.bool_)
        for a in area_indices:
            inside[a : a + int(self._size[a])] = True
        return inside

    # -- vectorised views (read-only numpy arrays indexed by node index) ------
    @property
    def sizes(self) -> npt.NDArray[np.int64]:
        """Subtree sizes (node included)."""
        return self._size

    @property
    def people(self) -> npt.NDArray[np.float64]:
        """People under each node: the sum of its leaves' figures (see the class docstring); whole numbers, so
        sums of them are exact."""
        return self._people

    def people_in(self, area_nodes: Iterable[int]) -> npt.NDArray[np.float64]:
        """Per node: the people of the areas ``area_nodes`` (an antichain) it covers. A node inside one of them
        covers its own people; an ancestor-or-self covers all of theirs. Whole numbers, so sums are exact."""
        sizes, people = self._size, self._people
        out = np.zeros(len(self))
        for a in area_nodes:
            end = a + int(sizes[a])
            out[a:end] = people[a:end]
            for anc in self.ancestor_indices(a):
                out[anc] += people[a]
        return out

    @property
    def leaf_counts(self) -> npt.NDArray[np.int64]:
        """Number of leaves under each node (1 for a leaf)."""
        return self._leaf_count
