"""Taxonomy records: the same types decode seed files and encode API responses."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

AreaCode = Annotated[str, Meta(pattern=r"^[EWSN][0-9]{8}$", description="ONS GSS code, e.g. E06000019")]
PathwayCode = Annotated[str, Meta(pattern=r"^[A-Z][A-Z_]{1,31}$", description="Pathway code, e.g. ACCOM")]
CohortCode = Annotated[str, Meta(pattern=r"^[A-Z][A-Z_]{1,31}$", description="Cohort code, e.g. YOUNG_ADULTS")]
Slug = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,47}$")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]


class Base(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class Area(Base, frozen=True):
    code: AreaCode
    name: Name
    kind: Annotated[str, Meta(pattern=r"^(police_force_area|county|district|unitary)$")]
    parent: AreaCode | None = None


class AreaNode(Base):
    code: str
    name: str
    kind: str
    children: list[AreaNode] = []


class Pathway(Base, frozen=True):
    code: PathwayCode
    name: Name
    description: Text
    synonyms: list[Annotated[str, Meta(min_length=1, max_length=80)]] = []


class Cohort(Base, frozen=True):
    code: CohortCode
    name: Name
    description: Text
    min_age: Annotated[int, Meta(ge=0, le=120)] | None = None
    max_age: Annotated[int, Meta(ge=0, le=120)] | None = None


class Sector(Base, frozen=True):
    code: Slug
    name: Name
    description: Text


class LegalForm(Base, frozen=True):
    code: Slug
    name: Name
    sector: Slug
    identifier_schemes: list[Annotated[str, Meta(pattern=r"^[A-Z]{2}-[A-Z]{2,5}$")]] = []


class Accreditation(Base, frozen=True):
    code: Slug
    name: Name
    awarded_by: Name


class SocialValueCommitment(Base, frozen=True):
    code: Slug
    name: Name


class Taxonomy(msgspec.Struct, frozen=True):
    """Every taxonomy at once: what the code checks in profiles, filters and seeds run against."""

    areas: list[Area]
    pathways: list[Pathway]
    cohorts: list[Cohort]
    sectors: list[Sector]
    legal_forms: list[LegalForm]
    accreditations: list[Accreditation]
    social_value: list[SocialValueCommitment]

    def codes(self, kind: str) -> dict[str, str]:
        """code -> name for one taxonomy ("areas", "pathways", ...)."""
        return {item.code: item.name for item in getattr(self, kind)}

    def legal_form(self, code: str) -> LegalForm | None:
        return next((lf for lf in self.legal_forms if lf.code == code), None)

    def area_tree(self) -> list[AreaNode]:
        nodes = {a.code: AreaNode(code=a.code, name=a.name, kind=a.kind, children=[]) for a in self.areas}
        roots: list[AreaNode] = []
        for a in self.areas:
            (nodes[a.parent].children if a.parent in nodes else roots).append(nodes[a.code])
        return roots
