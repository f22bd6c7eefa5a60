"""Validate responses offline against the official schemas in ../shared/standards (see its SOURCES.md): each
schema's `$id`/`$ref` URLs map to the local copies through a `referencing.Registry` that cannot fetch anything, so
a reference the copies do not hold fails the test instead of reaching the network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

from marketplace.settings import PROJECT_ROOT

STANDARDS = PROJECT_ROOT.parent / "shared" / "standards"
HSDS_BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
ORUK_BASE = "https://openreferraluk.org/specifications/3.0/"
OPENAPI = {"hsds": HSDS_BASE + "openapi.json", "oruk": ORUK_BASE + "openapi.json"}
"""The OpenAPI document of each standard, by the URL its own references use."""


def standards_dir() -> Path:
    if not (STANDARDS / "SOURCES.md").is_file():
        pytest.fail(
            f"the official schemas are missing: expected {STANDARDS} (../shared/standards beside the project, "
            "as CI clones it); the /hsds tests validate against them offline",
            pytrace=False,
        )
    return STANDARDS


def _resource(path: Path) -> Resource[Any]:
    return DRAFT202012.create_resource(json.loads(path.read_text()))


@cache
def registry() -> Registry[Any]:
    root = standards_dir()
    hsds, oruk = root / "hsds-3.0" / "schema", root / "oruk-3.0"
    pairs = [(HSDS_BASE + p.relative_to(hsds).as_posix(), _resource(p)) for p in sorted(hsds.rglob("*.json"))]
    pairs.append((ORUK_BASE + "openapi.json", _resource(oruk / "openapi.json")))
    pairs += [(ORUK_BASE + "schema/" + p.name, _resource(p)) for p in sorted((oruk / "schema").glob("*.json"))]
    return Registry().with_resources(pairs).crawl()


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def validator(standard: str, path_template: str) -> Draft202012Validator:
    """A validator for the 200 response of GET `path_template` (as the standard's OpenAPI names it, e.g.
    /services/{id}) in `standard` ("hsds" or "oruk")."""
    doc = OPENAPI[standard]
    pointer = _pointer("paths", path_template, "get", "responses", "200", "content", "application/json", "schema")
    schema = {"$ref": f"{doc}#/{pointer}"}
    registry().contents(doc)  # KeyError now, clearly, if the document is not in the registry
    return Draft202012Validator(schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(standard: str, path_template: str, body: Any) -> list[str]:
    """What is wrong with `body` as the 200 response of GET `path_template` in `standard` ([] if nothing)."""
    return [
        f"{standard} {path_template} at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator(standard, path_template).iter_errors(body)
    ]


def assert_valid(path_template: str, body: Any) -> None:
    """`body` is a valid response of GET `path_template` in both HSDS 3.0 and the ORUK 3.0 profile."""
    found = problems("hsds", path_template, body) + problems("oruk", path_template, body)
    assert not found, "\n".join(found[:20])


# --- W3C Entity Reconciliation API 0.2 (../shared/standards/reconciliation/0.2) ------------------------------
# Each schema is registered under its own `$id` (the query batch's is .../reconciliation-query.json; openapi.json
# is the Swagger 2.0 schema, http://swagger.io/v2/schema.json, that the manifest `$ref`s for `authentication`).
# They declare no draft ("http://json-schema.org/schema#"); the spec's test bench reads them as draft-07 (Ajv 8).


def reconciliation_dir() -> Path:
    return standards_dir() / "reconciliation" / "0.2"


@cache
def _reconciliation_schemas() -> dict[str, Any]:
    """Each schema file's name -> its document."""
    return {p.name: json.loads(p.read_text()) for p in sorted((reconciliation_dir() / "schemas").glob("*.json"))}


@cache
def reconciliation_registry() -> Registry[Any]:
    pairs = [(doc["$id"].rstrip("#"), DRAFT7.create_resource(doc)) for doc in _reconciliation_schemas().values()]
    return Registry().with_resources(pairs).crawl()


@cache
def reconciliation_validator(schema_file: str) -> Draft7Validator:
    """A validator for one of the 0.2 schemas, by file name (manifest.json, reconciliation-query-batch.json, ...)."""
    return Draft7Validator(_reconciliation_schemas()[schema_file], registry=reconciliation_registry())


def reconciliation_problems(schema_file: str, body: Any) -> list[str]:
    return [
        f"{schema_file} at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in reconciliation_validator(schema_file).iter_errors(body)
    ]


def assert_reconciliation_valid(schema_file: str, body: Any) -> None:
    found = reconciliation_problems(schema_file, body)
    assert not found, "\n".join(found[:20])
