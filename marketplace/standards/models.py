"""HSDS 3.0 / Open Referral UK records as /hsds returns them. Output only: a field with nothing to say is left
out (HSDS types its fields without null), hence `omit_defaults` and `None` defaults throughout."""

from __future__ import annotations

import msgspec


class Out(msgspec.Struct, omit_defaults=True):
    """Base of every /hsds record."""


class ApiDetails(Out):
    version: str
    profile: str
    openapi_url: str


class Taxonomy(Out):
    id: str
    name: str
    description: str
    uri: str | None = None
    version: str | None = None


class TaxonomyTerm(Out):
    id: str
    name: str
    description: str
    code: str | None = None
    taxonomy: str | None = None
    taxonomy_id: str | None = None
    taxonomy_detail: Taxonomy | None = None


class Attribute(Out):
    id: str
    link_id: str
    link_type: str
    link_entity: str
    taxonomy_term_id: str
    taxonomy_term: TaxonomyTerm


class Phone(Out):
    id: str
    number: str
    service_id: str | None = None
    organization_id: str | None = None
    contact_id: str | None = None
    description: str | None = None


class Contact(Out):
    id: str
    service_id: str | None = None
    organization_id: str | None = None
    name: str | None = None
    email: str | None = None
    phones: list[Phone] = []


class Funding(Out):
    id: str
    source: str
    service_id: str | None = None
    organization_id: str | None = None


class CostOption(Out):
    id: str
    service_id: str
    option: str
    currency: str
    amount: float
    amount_description: str | None = None


class ServiceArea(Out):
    id: str
    service_id: str
    name: str
    description: str
    uri: str


class OrganizationIdentifier(Out):
    id: str
    organization_id: str
    identifier_scheme: str
    identifier_type: str
    identifier: str


class OrganizationBrief(Out):
    """An organization in a list: its one-to-one fields."""

    id: str
    name: str
    description: str
    email: str | None = None
    website: str | None = None
    legal_status: str | None = None
    year_incorporated: int | None = None
    uri: str | None = None


class ServiceBrief(Out):
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


class Organization(Out):
    """An organization fully nested: identifiers, contacts, phones, funding, and its services (their one-to-one
    fields)."""

    id: str
    name: str
    description: str
    email: str | None = None
    website: str | None = None
    legal_status: str | None = None
    year_incorporated: int | None = None
    uri: str | None = None
    organization_identifiers: list[OrganizationIdentifier] = []
    contacts: list[Contact] = []
    phones: list[Phone] = []
    funding: list[Funding] = []
    services: list[ServiceBrief] = []


class Service(Out):
    """A service fully nested."""

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
    organization: OrganizationBrief | None = None
    service_areas: list[ServiceArea] = []
    cost_options: list[CostOption] = []
    contacts: list[Contact] = []
    phones: list[Phone] = []
    funding: list[Funding] = []
    attributes: list[Attribute] = []


class TaxonomyWithTerms(Taxonomy):
    taxonomy_terms: list[TaxonomyTerm] = []


class Page(Out):
    """HSDS paging: `size` is the number of records on this page; `total_pages` is 0 when there are none."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool


class ServicePage(Page):
    contents: list[ServiceBrief]


class OrganizationPage(Page):
    contents: list[OrganizationBrief]


class TaxonomyPage(Page):
    contents: list[Taxonomy]


class TaxonomyTermPage(Page):
    contents: list[TaxonomyTerm]
