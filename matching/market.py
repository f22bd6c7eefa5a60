"""Market concentration over suitable providers' capacity (pure: capacities in, measures out).

``concentration(capacities)``
    The Herfindahl-Hirschman index (HHI) of the providers' shares of the capacity they state together, on the usual
    0-10,000 scale (shares in per cent, squared, summed: one provider holding everything is 10,000; ten equal
    providers 1,000), the largest provider's share (0..1), and the band the HHI falls in.

Bands (:data:`HHI_BANDS`) follow the US Department of Justice and Federal Trade Commission, *Horizontal Merger
Guidelines* (19 August 2010), section 5.3: below 1,500 unconcentrated, 1,500 to 2,500 moderately concentrated,
above 2,500 highly concentrated.

Providers whose capacity is unknown (``None``) or zero hold no share; they are counted apart
(``unknown_capacity``). With no capacity stated at all there is no index (``hhi`` is ``None``, band ``unknown``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

SUITABLE_SCORE = 0.6
"""The default threshold of suitability: a provider whose total score for a need is at least this is suitably
experienced for it. Reports (which may choose another, 0-1), market engagement's suitable non-responders and
partnership proposals count the market from the suitable providers."""

__all__ = (
    "HHI_BANDS",
    "HHI_HIGHLY_CONCENTRATED_ABOVE",
    "HHI_SOURCE",
    "HHI_UNCONCENTRATED_BELOW",
    "SUITABLE_SCORE",
    "Concentration",
    "concentration",
    "hhi_band",
)

HHI_UNCONCENTRATED_BELOW = 1500.0
HHI_HIGHLY_CONCENTRATED_ABOVE = 2500.0
UNCONCENTRATED, MODERATELY, HIGHLY, UNKNOWN = (
    "unconcentrated",
    "moderately_concentrated",
    "highly_concentrated",
    "unknown",
)
HHI_BANDS = (
    (UNCONCENTRATED, f"HHI below {HHI_UNCONCENTRATED_BELOW:,.0f}"),
    (MODERATELY, f"HHI from {HHI_UNCONCENTRATED_BELOW:,.0f} to {HHI_HIGHLY_CONCENTRATED_ABOVE:,.0f}"),
    (HIGHLY, f"HHI above {HHI_HIGHLY_CONCENTRATED_ABOVE:,.0f}"),
)
"""(band, rule), least concentrated first."""
HHI_SOURCE = "US Department of Justice and Federal Trade Commission, Horizontal Merger Guidelines (2010), section 5.3"


class Concentration(msgspec.Struct, frozen=True, gc=False):
    """How concentrated a market's stated capacity is among its providers."""

    providers: int
    """Providers considered (with or without a stated capacity)."""
    capacity: float
    """Their stated capacity added up (service users a year)."""
    hhi: float | None
    """Herfindahl-Hirschman index, 0..10,000 (rounded to 1 decimal); ``None`` when no capacity is stated."""
    band: str
    """``unconcentrated``, ``moderately_concentrated``, ``highly_concentrated`` or ``unknown`` (no index)."""
    largest_provider: str | None
    """The provider holding the largest share (ties: the first name in sort order)."""
    largest_share: float | None
    """Its share of the capacity, 0..1 (rounded to 4 decimals)."""
    unknown_capacity: int
    """Providers that state no capacity (they hold no share)."""


def hhi_band(hhi: float | None) -> str:
    if hhi is None:
        return UNKNOWN
    if hhi < HHI_UNCONCENTRATED_BELOW:
        return UNCONCENTRATED
    return HIGHLY if hhi > HHI_HIGHLY_CONCENTRATED_ABOVE else MODERATELY


def concentration(capacities: Mapping[str, float | None] | Iterable[tuple[str, float | None]]) -> Concentration:
    """The concentration of capacity among providers, given as name -> capacity (or (name, capacity) pairs; a name
    given twice has its capacities added)."""
    pairs = capacities.items() if isinstance(capacities, Mapping) else capacities
    held: dict[str, float] = {}
    seen: set[str] = set()
    for name, cap in pairs:
        seen.add(name)
        if cap is not None and cap > 0:
            held[name] = held.get(name, 0.0) + float(cap)
    total = sum(held.values())
    unknown = len(seen - held.keys())
    if total <= 0:
        return Concentration(len(seen), 0.0, None, UNKNOWN, None, None, unknown)
    hhi = round(sum((100.0 * c / total) ** 2 for c in held.values()), 1)
    name, largest = min(held.items(), key=lambda nc: (-nc[1], nc[0]))
    return Concentration(len(seen), total, hhi, hhi_band(hhi), name, round(largest / total, 4), unknown)
