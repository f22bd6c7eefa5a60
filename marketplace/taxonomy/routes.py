"""The taxonomies, read-only: codes, names and descriptions to build filters and profiles with."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from marketplace.errors import Unprocessable
from marketplace.http import Ctx, errors_doc
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import (
    Accreditation,
    AreaNode,
    Cohort,
    DesiredOutcome,
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


@get(
    "/desired-outcomes",
    summary="Desired outcomes, per pathway",
    tags=["taxonomies"],
    responses=errors_doc(400, 422),
    description="What a commissioner may want a service to achieve, per pathway (modelled on the desired outcomes "
    "of the Ministry of Justice's Commissioned Rehabilitative Services; the source is named in "
    "seed_data/desired_outcomes.json). A need lists some (`desired_outcomes`), and a service's outcomes record "
    "names those it evidences. `pathway` keeps one pathway's (422 for an unknown pathway).",
)
async def list_desired_outcomes(
    ctx: Ctx, pathway: Annotated[str | None, Parameter(max_length=32, description="A pathway code, e.g. ACCOM")] = None
) -> list[DesiredOutcome]:
    tax = ctx.taxonomy
    if pathway is None:
        return tax.desired_outcomes
    problem = check_code("pathway", pathway, tax.codes("pathways"), "pathway")
    if problem is not None:
        raise Unprocessable.from_problems([problem])
    return [d for d in tax.desired_outcomes if d.pathway == pathway]


ROUTES = [
    list_pathways,
    list_areas,
    list_cohorts,
    list_legal_forms,
    list_sectors,
    list_accreditations,
    list_social_value,
    list_desired_outcomes,
]
