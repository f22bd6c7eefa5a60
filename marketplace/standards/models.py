"""HSDS 3.0 / Open Referral UK records as /hsds returns them. Output only: a field with nothing to say is left
out (HSDS types its fields without null), hence `omit_defaults` and `None` defaults throughout."""

from __future__ import annotations

import msgspec


class HsdsOut(msgspec.Struct, omit_defaults=True):
    """Base of every /hsds record. Named Hsds... so that no OpenAPI component shares a name with another room's.
    Field names are HSDS's own, so the OpenAPI document must not read them as our codes (`accreditations` is
    HSDS's free text, not our accreditation codes): `__no_code_enums__`."""

    __no_code_enums__ = True


class HsdsApiDetails(HsdsOut):
    version: str
    profile: str
    openapi_url: str


class HsdsTaxonomy(HsdsOut):
    id: str
    name: str
    description: str
    uri: str | None = None
    version: str | None = None


class HsdsTaxonomyTerm(HsdsOut):
    id: str
    name: str
    description: str
    code: str | None = None
    taxonomy: str | None = None
    taxonomy_id: str | None = None
    taxonomy_detail: HsdsTaxonomy | None = None


class HsdsAttribute(HsdsOut):
    id: str
    link_id: str
    link_type: str
    link_entity: str
    taxonomy_term_id: str
    taxonomy_term: HsdsTaxonomyTerm


class HsdsPhone(HsdsOut):
    id: str
    number: str
    service_id: str | None = None
    organization_id: str | None = None
    contact_id: str | None = None
    description: str | None = None


class HsdsContact(HsdsOut):
    id: str
    service_id: str | None = None
    organization_id: str | None = None
    name: str | None = None
    email: str | None = None
    phones: list[HsdsPhone] = []


class HsdsFunding(HsdsOut):
    """A source of the organization's funds (HSDS allows a service's too: we hold none)."""

    id: str
    organization_id: str
    source: str


class HsdsCostOption(HsdsOut):
    id: str
    service_id: str
    option: str
    currency: str
    amount: float
    amount_description: str | None = None


class HsdsServiceArea(HsdsOut):
    id: str
    service_id: str
    name: str
    description: str
    uri: str


class HsdsOrganizationIdentifier(HsdsOut):
    id: str
    organization_id: str
    identifier_scheme: str
    identifier_type: str
    identifier: str


class HsdsOrganizationBrief(HsdsOut):
    """An organization in a list: its one-to-one fields."""

    id: str
    name: str
    description: str
    email: str | None = None
    website: str | None = None
    legal_status: str | None = None
    year_incorporated: int | None = None
    uri: str | None = None


class HsdsServiceBrief(HsdsOut):
    """A service in a list: its one-to-one fields."""

    id: str
    organization_id: str
    name: str
    description: str
    status: str
    email: str | None = None
    eligibility_description: str | None = None
    minimum_age: int | None = None
    maximum_age: int | None = None
    fees_description: str | None = None
    accreditations: str | None = None
    assured_date: str | None = None
    last_modified: str | None = None


class HsdsOrganization(HsdsOrganizationBrief):
    """An organization fully nested: identifiers, contacts, phones, funding, and its services (their one-to-one
    fields)."""

    organization_identifiers: list[HsdsOrganizationIdentifier] = []
    contacts: list[HsdsContact] = []
    phones: list[HsdsPhone] = []
    funding: list[HsdsFunding] = []
    services: list[HsdsServiceBrief] = []


class HsdsService(HsdsServiceBrief):
    """A service fully nested. No `funding`: the funding we know of is the organisation's (HsdsOrganization's)."""

    organization: HsdsOrganizationBrief | None = None
    service_areas: list[HsdsServiceArea] = []
    cost_options: list[HsdsCostOption] = []
    contacts: list[HsdsContact] = []
    phones: list[HsdsPhone] = []
    attributes: list[HsdsAttribute] = []


class HsdsTaxonomyWithTerms(HsdsTaxonomy):
    taxonomy_terms: list[HsdsTaxonomyTerm] = []


class HsdsPage(HsdsOut):
    """HSDS paging: `size` is the number of records on this page; `total_pages` is 0 when there are none."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool


class HsdsServicePage(HsdsPage):
    contents: list[HsdsServiceBrief]


class HsdsOrganizationPage(HsdsPage):
    contents: list[HsdsOrganizationBrief]


class HsdsTaxonomyPage(HsdsPage):
    contents: list[HsdsTaxonomy]


class HsdsTaxonomyTermPage(HsdsPage):
    contents: list[HsdsTaxonomyTerm]
