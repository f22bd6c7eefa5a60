"""Validate responses offline against the official schemas in ../shared/standards (see its SOURCES.md): each
schema's `$id`/`$ref` URLs map to the local copies through a `referencing.Registry` that cannot fetch anything, so
a reference the copies do not hold fails the test instead of reaching the network."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
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


# --- OCDS 1.1.5 with the UK extension (Find a Tender's) ----------------------------------------------

OCDS_BASE = "https://standard.open-contracting.org/schema/1__1__5/"
UK_EXTENSION_DEPENDENCIES = (
    "ocds_awardCriteria_extension",
    "ocds_bid_extension",
    "ocds_communication_extension",
    "ocds_location_extension",
    "ocds_otherRequirements_extension",
    "ocds_performance_failures_extension",
    "ocds_subcontracting_extension",
    "ocds_suitability_extension",
    "ocds_techniques_extension",
)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: how OCDS applies an extension's release-schema.json to the release schema."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


@cache
def ocds_release_schema() -> dict[str, Any]:
    """The OCDS 1.1.5 release schema patched by the UK extension's dependencies and then the UK extension."""
    root = standards_dir()
    schema = json.loads((root / "ocds-1.1.5" / "release-schema.json").read_text())
    extensions = root / "ocds-extensions"
    for name in (*UK_EXTENSION_DEPENDENCIES, "ocds_uk_extension"):
        schema = _merge_patch(schema, json.loads((extensions / name / "release-schema.json").read_text()))
    return schema


RFC3339_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")


def is_rfc3339_date_time(value: object) -> bool:
    """RFC 3339 section 5.6 `date-time`, strictly (what JSON Schema's `date-time` format means): a full date, `T`, a
    time to the second (a fraction optional) and a zone (`Z` or an offset); each part within its range (a leap
    second, :60, allowed). `2027-01-16`, `2027-01-16T00:00` and `2027-01-16T00:00:00` (no zone) are not. Written
    here because jsonschema checks `date-time` only with rfc3339-validator installed, which it is not: the format
    would otherwise pass anything."""
    if not isinstance(value, str):
        return True  # formats apply to strings only
    m = RFC3339_DATE_TIME.fullmatch(value)
    if m is None:
        return False
    zone = m["zone"].upper()
    if zone != "Z" and not (int(zone[1:3]) <= 23 and int(zone[4:6]) <= 59):
        return False
    hh, mm, ss = (int(x) for x in m["time"].split(":"))
    try:
        dt.date.fromisoformat(m["date"])
    except ValueError:
        return False
    return hh <= 23 and mm <= 59 and ss <= 60


def is_absolute_uri(value: object) -> bool:
    """RFC 3986 absolute URI, loosely (a scheme, then no spaces or characters a URI never holds): the `uri` format,
    which jsonschema checks only with rfc3987 installed, which it is not."""
    return not isinstance(value, str) or ABSOLUTE_URI.fullmatch(value) is not None


@cache
def ocds_format_checker() -> FormatChecker:
    """Draft 4's formats as jsonschema checks them, and `date-time` and `uri` as written above (offline)."""
    from jsonschema import Draft4Validator

    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)
    checker.checks("date-time")(is_rfc3339_date_time)
    checker.checks("uri")(is_absolute_uri)
    return checker


def _ocds_registry() -> Registry[Any]:
    from referencing.jsonschema import DRAFT4

    return Registry().with_resources(
        [(OCDS_BASE + "release-schema.json", DRAFT4.create_resource(ocds_release_schema()))]
    )


@cache
def ocds_validator() -> Any:
    from jsonschema import Draft4Validator

    package = json.loads((standards_dir() / "ocds-1.1.5" / "release-package-schema.json").read_text())
    return Draft4Validator(package, registry=_ocds_registry(), format_checker=ocds_format_checker())


@cache
def ocds_record_validator() -> Any:
    """The OCDS 1.1.5 record package schema, its releases and compiled release checked as the release schema (with
    the UK extension) says. (A record's optional versionedRelease refers to a schema not copied here.)"""
    from jsonschema import Draft4Validator

    package = json.loads((standards_dir() / "ocds-1.1.5" / "record-package-schema.json").read_text())
    return Draft4Validator(package, registry=_ocds_registry(), format_checker=ocds_format_checker())


def ocds_codes(codelist: str) -> set[str]:
    """The codes of an OCDS codelist with the UK extension's additions (`+name.csv`)."""
    import csv

    root = standards_dir()
    codes = {r["Code"] for r in csv.DictReader((root / "ocds-1.1.5" / "codelists" / codelist).open())}
    for path in (root / "ocds-extensions").glob(f"*/codelists/+{codelist}"):
        codes |= {r["Code"] for r in csv.DictReader(path.open())}
    return codes


def assert_valid_ocds(package: Any, *, record: bool = False) -> None:
    """`package` is a valid OCDS 1.1.5 release package (`record`: record package) with the UK extension, its open
    codelists' codes known, its dates RFC 3339 date-times."""
    validator = ocds_record_validator() if record else ocds_validator()
    found = [
        f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(package)
    ]
    assert not found, "\n".join(found[:20])
    releases = (
        [r for rec in package["records"] for r in [*rec["releases"], rec["compiledRelease"]]]
        if record
        else package["releases"]
    )
    for release in releases:
        for d in release.get("planning", {}).get("documents", []):
            assert d["documentType"] in ocds_codes("documentType.csv"), d
        for m in release.get("planning", {}).get("milestones", []):
            assert m["type"] in ocds_codes("milestoneType.csv"), m
        for p in release.get("parties", []):
            assert set(p["roles"]) <= ocds_codes("partyRole.csv"), p
        for item in release.get("tender", {}).get("items", []):
            if "classification" in item:
                assert item["classification"]["scheme"] in ocds_codes("itemClassificationScheme.csv"), item
