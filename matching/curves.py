"""Monotone scoring curves mapping raw measures to [0, 1].

All functions accept numpy arrays (or scalars) and are vectorised. NaN inputs
(unknown data) propagate; callers substitute a documented "unknown" score.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

CAPACITY_AT_VOLUME: Final = 0.85
"""Capacity exactly equal to the annual volume scores 0.85; twice the volume scores 1."""
DEPENDENCY_HALF: Final = 0.5
"""Annual budget at 50% of annual income halves the dependency score."""
RESERVES_FULL_MONTHS: Final = 6.0
FRESH_MONTHS: Final = 6.0
STALE_HALF_LIFE_MONTHS: Final = 12.0
DAYS_PER_MONTH: Final = 30.4375


def halflife(x: FloatArray | float, half: float) -> FloatArray:
    """Saturating count curve ``1 - 2**(-x/half)``: 0 at 0, 0.5 at ``half``, 0.75 at ``2*half`` -> 1."""
    return 1.0 - np.exp2(-np.maximum(np.asarray(x, dtype=np.float64), 0.0) / half)


def capacity_curve(ratio: FloatArray | float) -> FloatArray:
    """Capacity / volume: linear to 0.85 at ratio 1, then +0.15 more up to ratio 2 (headroom)."""
    r = np.asarray(ratio, dtype=np.float64)
    return CAPACITY_AT_VOLUME * np.clip(r, 0.0, 1.0) + (1.0 - CAPACITY_AT_VOLUME) * np.clip(r - 1.0, 0.0, 1.0)


def dependency_curve(share: FloatArray | float) -> FloatArray:
    """Budget as a share of income, decreasing: ``1 / (1 + (share / 0.5)**2)`` (0.25 -> 0.8, 1.0 -> 0.2)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a share near the largest float overflows to inf: scores 0
        s = np.maximum(np.asarray(share, dtype=np.float64), 0.0) / DEPENDENCY_HALF
        return 1.0 / (1.0 + s * s)


def reserves_curve(months: FloatArray | float) -> FloatArray:
    """Months of reserves, linear to full credit at 6 months (negative reserves score 0)."""
    return np.clip(np.asarray(months, dtype=np.float64) / RESERVES_FULL_MONTHS, 0.0, 1.0)


def freshness_curve(months: FloatArray | float) -> FloatArray:
    """Months since the profile was confirmed: 1 up to 6 months, then halves every 12 months."""
    m = np.maximum(np.asarray(months, dtype=np.float64), 0.0)
    return np.exp2(-np.maximum(m - FRESH_MONTHS, 0.0) / STALE_HALF_LIFE_MONTHS)
