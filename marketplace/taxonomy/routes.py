"""The taxonomies, read-only: codes, names and descriptions to build filters and profiles with."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from marketplace.taxonomy.models import (
    Accreditation,
    AreaNode,
    Cohort,
    LegalForm,
    Pathway,
    Sector,
    SocialValueCommitment,
)


@get("/pathways", summary="Reducing-reoffending pathways", tags=["taxonomies"])
async def list_pathways(state: State) -> list[Pathway]:
    return state.taxonomy.pathways


@get("/areas", summary="Areas as a tree (ONS GSS codes)", tags=["taxonomies"],
     description="West Mercia > counties and unitary authorities > districts. A provider covering an area covers everything below it.")
async def list_areas(state: State) -> list[AreaNode]:
    return state.taxonomy.area_tree()


@get("/cohorts", summary="Cohorts of service users", tags=["taxonomies"])
async def list_cohorts(state: State) -> list[Cohort]:
    return state.taxonomy.cohorts


@get("/legal-forms", summary="Legal forms and the sector each implies", tags=["taxonomies"])
async def list_legal_forms(state: State) -> list[LegalForm]:
    return state.taxonomy.legal_forms


@get("/sectors", summary="Sectors", tags=["taxonomies"])
async def list_sectors(state: State) -> list[Sector]:
    return state.taxonomy.sectors


@get("/accreditations", summary="Quality marks and accreditations", tags=["taxonomies"])
async def list_accreditations(state: State) -> list[Accreditation]:
    return state.taxonomy.accreditations


@get("/social-value", summary="Social-value commitments", tags=["taxonomies"])
async def list_social_value(state: State) -> list[SocialValueCommitment]:
    return state.taxonomy.social_value


ROUTES = [list_pathways, list_areas, list_cohorts, list_legal_forms, list_sectors, list_accreditations, list_social_value]

