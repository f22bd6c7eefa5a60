"""Criterion weights: validation, overrides and normalisation.

:class:`Weights` is generated from the criteria registry (:mod:`matching.criteria`): one field per
criterion, in registry order, defaulting to its default weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import msgspec

from .criteria import CRITERIA, LOCAL_PRIORITIES, REGISTRY
from .errors import InvalidWeights

_WEIGHTS_DOC: Final = """Relative importance of each criterion (non-negative, not all zero).

    One float field per criterion of the registry (:mod:`matching.criteria`), in its order, defaulting
    to the criterion's default weight. Weights need not sum to 1: ranking normalises them (``w / sum(w)``)
    and reports the normalised weights it used. Construction validates and raises
    :class:`InvalidWeights` for negative, NaN/infinite or all-zero weights; use
    :meth:`from_mapping` for untrusted ``{name: weight}`` input (unknown names raise).
    """


class WeightsBase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The behaviour of :class:`Weights` (whose fields are generated from the criteria registry)."""

    def __post_init__(self) -> None:
        for name in CRITERIA:
            _check_value(name, getattr(self, name))
        if not any(getattr(self, name) > 0 for name in CRITERIA):
            raise InvalidWeights("*", "at least one weight must be positive")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float], *, base: Weights | None = None) -> Weights:
        """Build weights from ``{criterion: weight}``; criteria not named keep ``base`` (default weights)."""
        values = (base or DEFAULT_WEIGHTS).as_dict()
        for name, value in mapping.items():
            if name not in values:
                raise InvalidWeights(str(name), f"unknown criterion (expected one of {', '.join(CRITERIA)})")
            _check_value(name, value)
            values[name] = float(value)
        return Weights(**values)

    @classmethod
    def from_percentages(cls, mapping: Mapping[str, float], *, base: Weights | None = None) -> Weights:
        """Weights given as percentages of the score that must sum to 100 (``PERCENT_TOLERANCE``), as procurement
        evaluation criteria are published: ``{criterion: percent}``; criteria not named keep their percentage of
        ``base`` (default weights). Anything else is refused with :class:`InvalidWeights` whose message shows
        the percentages the numbers given would come to if scaled to 100."""
        values = {k: v * 100 for k, v in (base or DEFAULT_WEIGHTS).normalised().as_dict().items()}
        for name, value in mapping.items():
            if name not in values:
                raise InvalidWeights(str(name), f"unknown criterion (expected one of {', '.join(CRITERIA)})")
            _check_value(name, value)
            values[name] = float(value)
        total = math.fsum(values.values())
        if abs(total - 100.0) > PERCENT_TOLERANCE + ROUNDING:
            scaled = Weights(**values) if total > 0 else None
            shown = describe_percentages(scaled) if scaled is not None else "nothing to weigh"
            raise InvalidWeights(
                "*",
                f"percentages must sum to 100; these sum to {total:g} (criteria not named keep their current "
                f"percentage). Scaled to 100 they would be: {shown}",
            )
        return Weights(**values)

    def percentages(self) -> dict[str, float]:
        """Each criterion's share of the score in percent (the weights normalised, times 100), in registry order."""
        return {k: v * 100 for k, v in self.normalised().as_dict().items()}

    def as_dict(self) -> dict[str, float]:
        """``{criterion: weight}`` in :data:`CRITERIA` order."""
        return {name: float(getattr(self, name)) for name in CRITERIA}

    def values(self) -> tuple[float, ...]:
        """Weights in :data:`CRITERIA` order."""
        return tuple(float(getattr(self, name)) for name in CRITERIA)

    def normalised(self) -> Weights:
        """Weights scaled to sum to 1.

        The largest weight is nudged down by an ulp if needed so that the
        left-to-right float sum never exceeds 1; hence totals never exceed 1.
        """
        raw = list(self.values())
        s = math.fsum(raw)
        out = [v / s for v in raw]
        while _seq_sum(out) > 1.0:
            k = max(range(len(out)), key=out.__getitem__)
            out[k] = math.nextafter(out[k], 0.0)
        return Weights(**dict(zip(CRITERIA, out, strict=True)))


if TYPE_CHECKING:

    class Weights(WeightsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
        """What type checkers see of the generated class: one float attribute per criterion."""

        def __init__(self, **weights: float) -> None: ...

        def __getattr__(self, name: str) -> float: ...

else:
    Weights = msgspec.defstruct(
        "Weights",
        [(c.name, float, c.default_weight) for c in REGISTRY],
        bases=(WeightsBase,),
        module=__name__,
        namespace={"__doc__": _WEIGHTS_DOC},
        frozen=True,
        kw_only=True,
        forbid_unknown_fields=True,
    )


def _seq_sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def _check_value(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidWeights(name, "must be a number")
    if math.isnan(value) or math.isinf(value):
        raise InvalidWeights(name, "must be a finite number")
    if value < 0:
        raise InvalidWeights(name, "must not be negative")


DEFAULT_WEIGHTS: Final[Weights] = Weights()
PERCENT_TOLERANCE: Final = 0.01
"""Percentages given to :meth:`Weights.from_percentages` must sum to 100 within this."""
ROUNDING: Final = 1e-9
"""Room for the binary rounding of a sum of decimal percentages (33.33 three times adds up to 99.99000000000001),
so that a sum exactly PERCENT_TOLERANCE from 100, as written, is within it."""


def shown_percentages(weights: Mapping[str, float]) -> dict[str, float]:
    """Each criterion's share of the score as shown, in percent to one decimal, ``weights`` being normalised (sum 1).

    Rounded so that the shown shares add up to exactly 100.0, as a reader adds them up: each share is cut to its
    tenth below, and the tenths left over go one each to the shares that lost the most in the cut (the first in
    ``weights``' order among equals), the largest remainder method. Rounding each share alone gave 22.2 + 16.7 +
    11.1 + 11.1 + 16.7 + 5.6 + 11.1 + 5.6 = 100.1 for the default weights of a need with no local priorities.
    Weights that do not sum to 1 (stored before normalising) are rounded each alone."""
    if abs(math.fsum(weights.values()) - 1.0) > ROUNDING:
        return {k: round(v * 100, 1) for k, v in weights.items()}
    parts = largest_remainder([v * 1000.0 for v in weights.values()], 1000)
    if parts is None:
        return {k: round(v * 100, 1) for k, v in weights.items()}
    return {k: f / 10 for k, f in zip(weights, parts, strict=True)}


def largest_remainder(values: Sequence[float], total: int) -> list[int] | None:
    """``values`` as whole numbers adding up to ``total`` (the largest remainder method): each cut to the whole number
    below, and the units left over given one each to the values the cut lowered most, the first among equals. None
    when the cut leaves more units than values, or fewer than none (``total`` is not the values' sum, rounded)."""
    floors = [math.floor(v + ROUNDING) for v in values]  # 222.00000000000003 is 222, 99.99999999999 is 100
    left = total - sum(floors)
    if not 0 <= left <= len(floors):
        return None
    order = sorted(range(len(values)), key=lambda k: floors[k] - values[k])  # stable: the first among equals
    for k in order[:left]:
        floors[k] += 1
    return floors


def describe_percentages(weights: Weights) -> str:
    """``"pathway fit 20%, coverage 15%, ..."``: each criterion's share of the score, one decimal where needed."""
    shown = shown_percentages(weights.normalised().as_dict())
    return ", ".join(f"{k.replace('_', ' ')} {v:g}%" for k, v in shown.items())


def effective_weights(weights: Weights, overrides: Mapping[str, float] | None, *, has_priorities: bool) -> Weights:
    """Weights actually used for one need, normalised to sum 1.

    ``overrides`` (the need's ``weight_overrides``) replace the named criteria.
    When the need has no local priorities that criterion cannot be assessed, so its
    weight is set to 0 before normalising (the remaining weights share its mass).
    """
    if not isinstance(weights, Weights):
        raise InvalidWeights("*", "weights must be a Weights instance (use Weights.from_mapping)")
    w = Weights.from_mapping(overrides, base=weights) if overrides else weights
    values = w.as_dict()
    if not has_priorities and values[LOCAL_PRIORITIES] > 0:
        values[LOCAL_PRIORITIES] = 0.0
        if not any(v > 0 for v in values.values()):
            raise InvalidWeights(LOCAL_PRIORITIES, "only positive weight, but the need has no local priorities")
        w = Weights(**values)
    return w.normalised()
