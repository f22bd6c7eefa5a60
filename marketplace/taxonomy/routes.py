"""The taxonomies, read-only: codes, names and descriptions to build filters and profiles with."""

from __future__ import annotations

from litestar import get

from marketplace.http import Ctx, errors_doc
from marketplace.taxonomy.models import (
    Accreditation,
    AreaNode,
    Cohort,
    LegalForm,
    Pathway,
    Sector,
    SocialValueCommitment,
)


@get("/pathways", summary="Reducing-reoffending pathways", tags=["taxonomies"], responses=errors_doc())
async def list_pathways(ctx: Ctx) -> list[Pathway]:
    return ctx.taxonomy.pathways


@get(
    "/areas",
    summary="Areas as a tree (ONS GSS codes)",
    tags=["taxonomies"],
    responses=errors_doc(),
    description="West Mercia > counties and unitary authorities > districts. "
    "A provider covering an area covers everything below it.",
)
async def list_areas(ctx: Ctx) -> list[AreaNode]:
    return ctx.taxonomy.area_tree()


@get("/cohorts", summary="Cohorts of service users", tags=["taxonomies"], responses=errors_doc())
async def list_cohorts(ctx: Ctx) -> list[Cohort]:
    return ctx.taxonomy.cohorts


@get("/legal-forms", summary="Legal forms and the sector each implies", tags=["taxonomies"], responses=errors_doc())
async def list_legal_forms(ctx: Ctx) -> list[LegalForm]:
    return ctx.taxonomy.legal_forms


@get("/sectors", summary="Sectors", tags=["taxonomies"], responses=errors_doc())
async def list_sectors(ctx: Ctx) -> list[Sector]:
    return ctx.taxonomy.sectors


@get("/accreditations", summary="Quality marks and accreditations", tags=["taxonomies"], responses=errors_doc())
async def list_accreditations(ctx: Ctx) -> list[Accreditation]:
    return ctx.taxonomy.accreditations


@get("/social-value", summary="Social-value commitments", tags=["taxonomies"], responses=errors_doc())
async def list_social_value(ctx: Ctx) -> list[SocialValueCommitment]:
    return ctx.taxonomy.social_value


ROUTES = [
    list_pathways,
    list_areas,
    list_cohorts,
    list_legal_forms,
    list_sectors,
    list_accreditations,
    list_social_value,
]
