"""The taxonomies, read-only: codes, names and descriptions to build filters and profiles with."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar, get_args

import msgspec
from litestar import get
from litestar.params import Parameter

from marketplace.errors import InvalidInput
from marketplace.http import Ctx, errors_doc
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import AreaNode, DesiredOutcome, Taxonomy

T = TypeVar("T", bound=msgspec.Struct)


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


LIST_TYPES = {f.name: get_args(f.type)[0] for f in msgspec.structs.fields(Taxonomy)}
"""Taxonomy's list -> the type of its items."""


def _listing(path: str, summary: str, attr: str) -> Any:
    """GET `path`: the taxonomy's list `attr`, whole, as loaded."""
    types = {"T": LIST_TYPES[attr]}  # the response's item type, for the framework's signature model

    async def listing(ctx: Ctx) -> list[T]:
        items: list[T] = getattr(ctx.taxonomy, attr)
        return items

    listing.__name__ = listing.__qualname__ = f"list_{attr}"
    return get(path, summary=summary, tags=["taxonomies"], responses=errors_doc(), signature_namespace=types)(listing)


list_pathways = _listing("/pathways", "Reducing-reoffending pathways", "pathways")
list_cohorts = _listing("/cohorts", "Cohorts of service users", "cohorts")
list_legal_forms = _listing("/legal-forms", "Legal forms and the sector each implies", "legal_forms")
list_sectors = _listing("/sectors", "Sectors", "sectors")
list_accreditations = _listing("/accreditations", "Quality marks and accreditations", "accreditations")
list_social_value = _listing("/social-value", "Social-value commitments", "social_value")


@get(
    "/desired-outcomes",
    summary="Desired outcomes, per pathway",
    tags=["taxonomies"],
    responses=errors_doc(400),
    description="What a commissioner may want a service to achieve, per pathway (modelled on the desired outcomes "
    "of the Ministry of Justice's Commissioned Rehabilitative Services; the source is named in "
    "seed_data/desired_outcomes.json). A need lists some (`desired_outcomes`), and a service's outcomes record "
    "names those it evidences. `pathway` keeps one pathway's (400 for an unknown pathway, as every query filter).",
)
async def list_desired_outcomes(
    ctx: Ctx, pathway: Annotated[str | None, Parameter(max_length=32, description="A pathway code, e.g. ACCOM")] = None
) -> list[DesiredOutcome]:
    tax = ctx.taxonomy
    if pathway is None:
        return tax.desired_outcomes
    problem = check_code("pathway", pathway, tax.codes("pathways"), "pathway")
    if problem is not None:  # a query filter's unknown code: 400, as /providers?pathway= (a body's: 422)
        raise InvalidInput.from_problems([problem])
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
