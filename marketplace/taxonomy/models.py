"""Taxonomy records: the same types decode seed files and encode API responses."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

import msgspec
from msgspec import Meta

import matching
from marketplace.errors import FieldProblem
from marketplace.taxonomy import reference
from marketplace.taxonomy.checks import check_code
from marketplace.types import AreaCode, CohortCode, PathwayCode, Slug, Strict, StrictFrozen, plain

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]
IDENTIFIER_SCHEME = plain(
    r"^[A-Z]{2}-[A-Z]{2,5}$", "identifier schemes are org-id.guide list prefixes, e.g. GB-CHC", "GB-CHC"
)


class Area(StrictFrozen, frozen=True):
    code: AreaCode
    name: Name
    kind: Annotated[
        str,
        Meta(
            pattern=plain(
                r"^(police_force_area|county|district|unitary)$",
                "must be police_force_area, county, district or unitary, e.g. county",
                "county",
            )
        ),
    ]
    parent: AreaCode | None = None


class AreaNode(Strict):
    code: str
    name: str
    kind: str
    children: list[AreaNode] = []


class Pathway(StrictFrozen, frozen=True):
    code: PathwayCode
    name: Name
    description: Text
    synonyms: list[Annotated[str, Meta(min_length=1, max_length=80)]] = []


class Cohort(StrictFrozen, frozen=True):
    code: CohortCode
    name: Name
    description: Text
    min_age: Annotated[int, Meta(ge=0, le=120)] | None = None
    max_age: Annotated[int, Meta(ge=0, le=120)] | None = None


class Coded(StrictFrozen, frozen=True):
    # The fields of a taxonomy entry coded by a slug (sectors, legal forms, accreditations, social value). No
    # docstring: inspect.getdoc would lend it to each subclass without one (and the OpenAPI document shows those).
    code: Slug
    name: Name


class Sector(Coded, frozen=True):
    description: Text


class LegalForm(Coded, frozen=True):
    sector: Slug
    identifier_schemes: list[Annotated[str, Meta(pattern=IDENTIFIER_SCHEME)]] = []


class Accreditation(Coded, frozen=True):
    awarded_by: Name


class SocialValueCommitment(Coded, frozen=True):
    pass


DESIRED_OUTCOME_CODE = plain(
    r"^[A-Z][A-Z0-9_]{1,47}$",
    "desired outcome codes are upper case letters, digits and underscores, e.g. ACCOM_OBTAIN",
    "ACCOM_OBTAIN",
)
DesiredOutcomeCode = Annotated[
    str, Meta(pattern=DESIRED_OUTCOME_CODE, description="A desired outcome code", examples=["ACCOM_OBTAIN"])
]


class DesiredOutcome(StrictFrozen, frozen=True):
    """An outcome a commissioner may want a service in one pathway to achieve (seed_data/desired_outcomes.json)."""

    code: DesiredOutcomeCode
    pathway: PathwayCode
    name: Name
    description: Text = ""


class DesiredOutcomeVocabulary(Strict):
    """seed_data/desired_outcomes.json: where the vocabulary comes from, and the outcomes."""

    source: Annotated[str, Meta(min_length=1, max_length=2000)]
    outcomes: list[DesiredOutcome]


class Taxonomy(msgspec.Struct, frozen=True, dict=True):
    """Every taxonomy at once: what profiles, filters, needs and seeds are checked against.
    Loaded once per process; its derived lookups are computed on first use and kept."""

    areas: list[Area]
    pathways: list[Pathway]
    cohorts: list[Cohort]
    sectors: list[Sector]
    legal_forms: list[LegalForm]
    accreditations: list[Accreditation]
    social_value: list[SocialValueCommitment]
    desired_outcomes: list[DesiredOutcome] = []

    def codes(self, kind: str) -> dict[str, str]:
        """code -> name for one taxonomy ("areas", "pathways", ...). Do not modify the result."""
        return self._codes[kind]

    @cached_property
    def _codes(self) -> dict[str, dict[str, str]]:
        return {kind: {item.code: item.name for item in getattr(self, kind)} for kind in self.__struct_fields__}

    def desired_outcomes_of(self, pathway: str) -> dict[str, str]:
        """code -> name of the desired outcomes of one pathway."""
        return self._desired_by_pathway.get(pathway, {})

    def desired_outcome_problem(self, field: str, code: str, pathway: str) -> FieldProblem | None:
        """None when `code` is a desired outcome of `pathway`; else the problem (another pathway's is named so)."""
        allowed = self.desired_outcomes_of(pathway)
        if code in allowed:
            return None
        other = next((d.pathway for d in self.desired_outcomes if d.code == code), None)
        if other is None:
            return check_code(field, code, allowed, f"{pathway} desired outcome")
        return FieldProblem(
            field=field,
            problem=f"desired outcome {code!r} belongs to pathway {other}, not {pathway}",
            allowed=sorted(allowed),
        )

    @cached_property
    def _desired_by_pathway(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for d in self.desired_outcomes:
            out.setdefault(d.pathway, {})[d.code] = d.name
        return out

    def legal_form(self, code: str) -> LegalForm | None:
        return next((lf for lf in self.legal_forms if lf.code == code), None)

    @cached_property
    def matching_areas(self) -> matching.AreaTree:
        """The area hierarchy as the matching core reads it."""
        pop = reference.population()
        return matching.AreaTree(
            {a.code: a.parent for a in self.areas},
            names={a.code: a.name for a in self.areas},
            population=pop.areas,
            population_source=pop.label,
        )

    def area_tree(self) -> list[AreaNode]:
        nodes = {a.code: AreaNode(code=a.code, name=a.name, kind=a.kind, children=[]) for a in self.areas}
        roots: list[AreaNode] = []
        for a in self.areas:
            (nodes[a.parent].children if a.parent in nodes else roots).append(nodes[a.code])
        return roots


def matching_thesaurus() -> matching.Thesaurus:
    """The domain thesaurus the matching core reads (`seed_data/thesaurus.json`, read once)."""
    return reference.thesaurus()


def expand_query(text: str) -> tuple[str, ...]:
    """Other phrasings of a search query by the domain thesaurus (for the providers room's search)."""
    return reference.expand_query(text)
