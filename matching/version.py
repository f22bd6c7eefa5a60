"""Algorithm version stamped on every result; bump when scoring, tie-breaks or the explanations change (a stored run
is given back, words and all, only to a request of its own version)."""

from typing import Final

ALGORITHM_VERSION: Final = "2026.12-5"
"""2026.12-5: scores as 2026.12-4; the pathway fit and capacity explanations say when the qualifying services serve
only part of the need's ages (stored runs of 2026.12-4 said "serving the need's people" of them);
2026.12-4: a need giving ``area_volumes`` excludes (``no_area_coverage``) a provider whose qualifying services reach
none of the areas its expected service users are in (before, covering only areas of the need where none are expected
passed, with coverage 0); needs without them rank as in 2026.12-3; 2026.12-3: a need whose sector
preferences are all 0 has no sector preference (social value 0.6/0.4; the API stores every sector, so before this
every need made through it was scored as if it preferred none of them);
2026.12-2: evidence strength (verified accreditations and outcomes records count in full, self-declared ones at
a discount) and desired outcomes in the outcomes evidence (issue 12, items 4-5); 2026.12-1: local priorities judged
as phrases on the qualifying services' own words (thesaurus), coverage and capacity for the need weighted by people,
a plain-English sentence per criterion, strengths and weaknesses (issue 12); 2026.11-2: providers are read through
their qualifying services (issue 11); 2026.11-1: organisations."""
