"""Coverage: the share of a need's people that a candidate's qualifying services cover, by area."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import Columns, antichains
from .needs import CompiledNeed

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def coverage_shares(owner: Int64Array, node: Int64Array, n: int, cn: CompiledNeed) -> FloatArray:
    """Share of the need's people covered, per owner: (people of the need's areas covered) / (people of the
    need's areas), from ``cn.coverage_weight`` (:attr:`AreaTree.people`, every leaf 1 without population
    figures, or the need's own volumes per area).

    ``(owner, node)``: the area nodes each owner covers, an antichain per owner, so contributions never
    overlap. Population figures are whole numbers added exactly, so covering strictly more people never
    lowers the share.
    """
    if cn.coverage_whole <= 0:
        return np.zeros(n)
    counts = np.bincount(owner, weights=cn.coverage_weight[node], minlength=n)
    return np.minimum(counts / cn.coverage_whole, 1.0)


def touch_mask(areas: AreaTree, area_nodes: tuple[int, ...]) -> BoolArray:
    """Boolean per area node: inside one of ``area_nodes`` or an ancestor of one (covering it covers some of
    the need's areas)."""
    touch = areas.within_mask(area_nodes)
    for a in area_nodes:
        touch[list(areas.ancestor_indices(a))] = True
    return touch


def reach_mask(areas: AreaTree, cn: CompiledNeed, touch: BoolArray | None = None) -> BoolArray:
    """Boolean per area node: covering it reaches some of the need's people, so a provider whose qualifying
    services cover none of them fails ``no_area_coverage``. Without ``area_volumes``: :func:`touch_mask` (given as
    ``touch``, or computed); with them, only the nodes some of its expected service users are under
    (:attr:`CompiledNeed.users_under`): a service covering only areas of the need where none are expected reaches
    none of them."""
    if cn.users_under is not None:
        return cn.users_under
    return touch_mask(areas, cn.area_nodes) if touch is None else touch


def coverage_of(cols: Columns, cn: CompiledNeed, qualifying: Int64Array, who: Int64Array, n: int) -> FloatArray:
    """Coverage shares (:func:`coverage_shares`) of ``n`` candidates: the union of their qualifying service rows'
    areas (``qualifying``, ascending; ``who``: each one's candidate, in 0..n), only pairs touching the need's areas
    counting. Each candidate's share is its own: computing some candidates' gives what computing all gives them."""
    touch = touch_mask(cols.areas, cn.area_nodes)
    pairs = cols.services.areas
    at, which = pairs.gather(qualifying)
    node = pairs.item[at].astype(np.int64)
    counted = np.flatnonzero(touch[node])
    rows, who, node = qualifying[which[counted]], who[which[counted]], node[counted]
    # one service's areas are an antichain already; only candidates with several services need the union
    several = np.flatnonzero((who[1:] == who[:-1]) & (rows[1:] != rows[:-1]))
    if len(several):
        mixed = np.zeros(n, dtype=np.bool_)
        mixed[who[several]] = True
        merge = mixed[who]
        union = antichains(who[merge], node[merge], cols.areas)
        who, node = np.concatenate([who[~merge], union[0]]), np.concatenate([node[~merge], union[1]])
    return coverage_shares(who, node, n, cn)


def coverage_ceiling(cols: Columns, cn: CompiledNeed, idx: Int64Array) -> FloatArray:
    """At least the coverage share (:func:`coverage_of`) of the candidates ``idx`` by any of their services: the
    need's people under each area node one of their services lists (:attr:`Columns.area_mask`), added whether
    or not nodes overlap, at most 1. Read a byte of the masks at a time: each byte's share through a table of its
    256 values, for the bytes holding a node that covers some of the need's people."""
    if cn.coverage_whole <= 0:
        return np.zeros(len(idx))
    weight = cn.coverage_weight
    total = np.zeros(len(idx))
    values = np.arange(256, dtype=np.int64)
    for at in np.unique(np.flatnonzero(weight > 0) >> 3).tolist():  # the bytes holding such nodes
        nodes = at * 8 + np.arange(8)
        here = np.where(nodes < len(weight), weight[np.minimum(nodes, len(weight) - 1)], 0.0)
        table = ((values[:, None] >> np.arange(8)) & 1) @ here  # each byte value's people
        word, shift = divmod(at, 8)
        byte = (cols.area_mask[word, idx] >> np.uint64(8 * shift)) & np.uint64(255)
        total += table[byte]
    return np.minimum(total / cn.coverage_whole, 1.0)
