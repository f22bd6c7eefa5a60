"""The W3C Entity Reconciliation API 0.2 records: the query batch as OpenRefine sends it (decoded strictly: a field
the spec does not define is refused, as the spec's own schema does) and the manifest, results, suggestions as we
answer. Field names are the spec's own (camelCase where it says so)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType


class ReconOut(msgspec.Struct, omit_defaults=True):
    """Base of every answer. Field names are the spec's, never our codes (`__no_code_enums__`)."""

    __no_code_enums__ = True


# --- the query batch (in) -------------------------------------------------------------------------------------


class EntityValue(msgspec.Struct, forbid_unknown_fields=False):
    """A property value that is an entity reconciled before: its id (and name) in that service."""

    id: str
    name: str | UnsetType = UNSET


PropertyScalar = str | float | bool | EntityValue


class PropertyValue(msgspec.Struct, forbid_unknown_fields=True):
    pid: Annotated[str, Meta(max_length=100)]
    v: PropertyScalar | Annotated[list[PropertyScalar], Meta(max_length=50)]


class ReconQuery(msgspec.Struct, forbid_unknown_fields=True):
    """One query of a batch: a name and/or properties (at least one of them)."""

    query: Annotated[str, Meta(max_length=1000)] | UnsetType = UNSET
    type: Annotated[str, Meta(max_length=100)] | Annotated[list[str], Meta(max_length=20)] | UnsetType = UNSET
    limit: float | UnsetType = UNSET
    properties: Annotated[list[PropertyValue], Meta(max_length=20)] | UnsetType = UNSET
    type_strict: Literal["any", "should", "all"] | UnsetType = UNSET


QueryBatch = dict[str, ReconQuery]


# --- results (out) ------------------------------------------------------------------------------------------


class TypeRef(ReconOut):
    id: str
    name: str


class Feature(ReconOut):
    id: str
    value: float | bool


class Candidate(ReconOut):
    id: str
    name: str
    score: float
    match: bool
    description: str | None = None
    type: list[TypeRef] = []
    features: list[Feature] = []


class QueryResult(ReconOut):
    result: list[Candidate]


# --- the manifest -----------------------------------------------------------------------------------------


class UrlTemplate(ReconOut):
    url: str


class Preview(ReconOut):
    url: str
    width: int
    height: int


class SuggestService(ReconOut):
    service_url: str
    service_path: str


class Suggest(ReconOut):
    entity: SuggestService
    type: SuggestService
    property: SuggestService


class PropertyDoc(ReconOut):
    id: str
    name: str
    description: str


class Manifest(ReconOut):
    versions: list[str]
    name: str
    identifierSpace: str
    schemaSpace: str
    documentation: str
    view: UrlTemplate
    preview: Preview
    suggest: Suggest
    defaultTypes: list[TypeRef]
    batchSize: int
    properties: list[PropertyDoc]
    """Not in the 0.2 manifest: the properties a query may carry, also served by /reconcile/suggest/property."""
    match_rule: str
    """Not in the spec: when a candidate is `match: true`, in words."""


# --- suggest ------------------------------------------------------------------------------------------------


class EntitySuggestion(ReconOut):
    id: str
    name: str
    description: str | None = None
    notable: list[TypeRef] = []


class EntitySuggestions(ReconOut):
    result: list[EntitySuggestion]


class TypeSuggestions(ReconOut):
    result: list[TypeRef]


class PropertySuggestion(ReconOut):
    id: str
    name: str
    description: str | None = None


class PropertySuggestions(ReconOut):
    result: list[PropertySuggestion]
