"""The directory search's filters as query parameters: declared once, for the search (GET /providers) and its export
(GET /providers/export), and read into a SearchQuery by the dependency `search_query`."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from marketplace.http import from_zero
from marketplace.providers.models import SearchQuery

Codes = list[str] | None


async def search_query(
    pathway: Annotated[Codes, Parameter(description="Pathway code(s), e.g. ACCOM; see GET /pathways")] = None,
    area: Annotated[Codes, Parameter(description="ONS GSS area code(s); see GET /areas")] = None,
    cohort: Annotated[Codes, Parameter(description="Cohort code(s); see GET /cohorts")] = None,
    sector: Annotated[Codes, Parameter(description="Sector code(s); see GET /sectors")] = None,
    legal_form: Annotated[Codes, Parameter(description="Legal form code(s); see GET /legal-forms")] = None,
    accreditation: Annotated[
        Codes, Parameter(description="Accreditation code(s), all required, each the organisation's or the service's")
    ] = None,
    min_capacity: Annotated[
        int | None, from_zero(10_000_000, "A service for at least this many service users a year")
    ] = None,
    age: Annotated[int | None, from_zero(120, "A service whose age range includes this age")] = None,
    gender: Annotated[
        str | None, Parameter(description="men or women: a service for them (or for both men and women)")
    ] = None,
    complexity: Annotated[Codes, Parameter(description="A service at any of these complexity levels")] = None,
    delivery_mode: Annotated[Codes, Parameter(description="A service delivered in any of these ways")] = None,
    max_cost: Annotated[
        float | None,
        from_zero(10_000_000, "A service whose indicative cost is at most this many pounds, whatever its unit"),
    ] = None,
    q: Annotated[
        str | None,
        Parameter(
            max_length=200,
            description=(
                "Free text; case, accents and punctuation ignored. Every word must be found, as typed, as a longer "
                "word it begins (from 4 letters), or, for a word the profiles searched (of the `status` asked for) "
                "do not have, as its closest spellings among theirs (one typo up to 4 letters, two up to 8, three "
                "beyond): `interpreted_query` shows how each word was read. `relevance` adds, per word, the best "
                "place it is found: the name 1.0, the services' pathway or area names 0.4, the description, "
                "services' text and premises 0.2."
            ),
        ),
    ] = None,
    sort: Annotated[
        Literal["relevance", "name"] | None,
        Parameter(
            description=(
                "relevance (needs q; the default when q is given) or name (case and accents ignored). By relevance: "
                "highest `relevance` first; among names holding every word, the exact name first (as typed, case "
                "and accents aside), then a name that is the query word for word with a typo corrected or a word "
                "completed, then names holding the typed words adjacent and in order, then the words in order, then "
                "anywhere, shorter names first within each; among other providers of one relevance, the one whose "
                "field that had to be used (text, else pathway and area names) is shorter first; then by name."
            )
        ),
    ] = None,
    status: Annotated[
        Literal["published", "pending", "archived"],
        Parameter(description="Commissioners and admins only, for other than published"),
    ] = "published",
) -> SearchQuery:
    """The search the query string asks for (its first page, with facets: the search sets its own page)."""
    return SearchQuery(
        status=status,
        pathway=pathway or [],
        area=area or [],
        cohort=cohort or [],
        sector=sector or [],
        legal_form=legal_form or [],
        accreditation=accreditation or [],
        min_capacity=min_capacity,
        age=age,
        gender=gender,
        complexity=complexity or [],
        delivery_mode=delivery_mode or [],
        max_cost=max_cost,
        q=q,
        sort=sort,
    )


DirectorySearch = NamedDependency[SearchQuery]
"""A handler's `search: DirectorySearch` parameter: the query string's search, read by `search_query`."""
SEARCH = {"search": Provide(search_query)}
"""The routes' `dependencies` that provide it."""
