"""Algorithm version stamped on every result; bump when scoring or tie-breaks change."""

from typing import Final

ALGORITHM_VERSION: Final = "2026.11-2"
"""2026.11-2: providers are read through their qualifying services (issue 11); 2026.11-1: organisations."""
