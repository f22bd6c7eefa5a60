"""Algorithm version stamped on every result; bump when scoring or tie-breaks change."""

from typing import Final

ALGORITHM_VERSION: Final = "2026.11-1"
