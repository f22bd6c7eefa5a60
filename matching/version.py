"""Algorithm version stamped on every result; bump when scoring or tie-breaks change."""

from typing import Final

ALGORITHM_VERSION: Final = "2026.12-2"
"""2026.12-2: evidence strength (verified accreditations and outcomes records count in full, self-declared ones at
a discount) and desired outcomes in the outcomes evidence (issue 12, items 4-5); 2026.12-1: local priorities judged
as phrases on the qualifying services' own words (thesaurus), coverage and capacity for the need weighted by people,
a plain-English sentence per criterion, strengths and weaknesses (issue 12); 2026.11-2: providers are read through
their qualifying services (issue 11); 2026.11-1: organisations."""
