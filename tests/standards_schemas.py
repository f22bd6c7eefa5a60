"""Validate responses offline against the official schemas in ../shared/standards (see its SOURCES.md): each
schema's `$id`/`$ref` URLs map to the local copies through a `referencing.Registry` that cannot fetch anything, so
a reference the copies do not hold fails the test instead of reaching the network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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
