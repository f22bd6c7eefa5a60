"""Reference data shipped in `seed_data/` that the matching core is given (the core does no I/O):

- `population.json`: people per area (ONS mid-year estimates, source and year named in the file), which
  weighs coverage and shared capacity by people;
- `thesaurus.json`: the domain thesaurus (groups of terms meaning the same thing), used to match local
  priorities and offered to search (`expand_query`).

Both are part of the matching method, versioned with the code, so they are read from the project's own
`seed_data/` (not a configurable seed directory) once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

import matching
from marketplace.settings import PROJECT_ROOT

REFERENCE_DIR = PROJECT_ROOT / "seed_data"
POPULATION_FILE = "population.json"
THESAURUS_FILE = "thesaurus.json"

People = Annotated[float, Meta(ge=0, lt=1e12)]


class Population(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """People per area code, with where the figures come from."""

    source: str
    year: int
    publisher: str
    areas: dict[str, People]
    note: str = ""

    @property
    def label(self) -> str:
        """How explanations name the figures."""
        return self.source


class ThesaurusFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    source: str
    groups: list[list[str]]
    note: str = ""


def load_population(path: Path) -> Population:
    return msgspec.json.decode(path.read_bytes(), type=Population)


def load_thesaurus(path: Path) -> matching.Thesaurus:
    return matching.Thesaurus(msgspec.json.decode(path.read_bytes(), type=ThesaurusFile).groups)


@cache
def population() -> Population:
    """The shipped population estimates (read once)."""
    return load_population(REFERENCE_DIR / POPULATION_FILE)


@cache
def thesaurus() -> matching.Thesaurus:
    """The shipped domain thesaurus (read once)."""
    return load_thesaurus(REFERENCE_DIR / THESAURUS_FILE)


def expand_query(text: str) -> tuple[str, ...]:
    """Other phrasings of a search query by the domain thesaurus (the query itself excluded), for search:
    `"money advice for women"` -> `("debt advice for women", "money advice for female", ...)`."""
    return thesaurus().expand(text)
