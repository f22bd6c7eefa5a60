"""The directory as files (pure: records in, bytes out): the flat sheet (one row per service, CSV or xlsx) and the
HSDS 3.0 tabular data package (a zip of CSVs and a `datapackage.json` cut down from the official one).

The package ships `organizations`, `organization_identifiers`, `services`, `service_areas`, `cost_options`,
`funding` (the organisation's other funding sources), `attributes` (each service's pathway and cohorts), and what
those link to by foreign key: `programs` (header only: we have none), `taxonomy_terms` and `taxonomies`. Contacts
and phones are left out: HSDS links them to locations and services-at-locations, which we do not hold.

`datapackage.json` beside this module is the official HSDS 3.0 data package (../shared/standards/hsds-3.0) with
only those resources, their schemas as published (tests/test_export.py checks it is a faithful cut)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import msgspec

from marketplace.clock import LOCAL_ZONE
from marketplace.sheets import Cell, csv_bytes, xlsx_bytes

FLAT_COLUMNS: list[str] = [
    "provider_id",
    "provider_name",
    "legal_form",
    "sector",
    "provider_status",
    "identifiers",
    "website",
    "founded_year",
    "provider_description",
    "contact_name",
    "contact_email",
    "contact_phone",
    "other_funding_sources",
    "provider_last_confirmed",
    "service_id",
    "service_name",
    "pathway",
    "service_status",
    "service_description",
    "cohorts",
    "areas",
    "min_age",
    "max_age",
    "gender",
    "service_users_per_year",
    "places_available",
    "places_as_of",
    "delivery_modes",
    "complexity_levels",
    "cost_amount",
    "cost_unit",
    "years_delivering",
    "service_accreditations",
    "service_last_confirmed",
]
"""The flat sheet's columns: the provider's repeated on each of its services' rows; lists joined by "; "."""
LIST_SEPARATOR = "; "


def _day(when: dt.datetime | None) -> dt.date | None:
    return when.astimezone(LOCAL_ZONE).date() if when is not None else None


def _joined(values: Iterable[str] | None) -> str:
    return LIST_SEPARATOR.join(values or [])


def flat_rows(providers: Sequence[Any], services: Mapping[int, Sequence[Any]]) -> list[list[Cell]]:
    """Database rows (read by column name) to sheet rows: one row per service (`services`: each provider's, by
    provider id), a provider without any on one row."""
    rows: list[list[Cell]] = []
    for p in providers:
        head: list[Cell] = [
            p["provider_id"],
            p["org_name"],
            p["legal_form"],
            p["sector"],
            p["provider_status"],
            _joined(p["identifiers"]),
            p["website"],
            p["founded_year"],
            p["org_description"],
            p["contact_name"],
            p["contact_email"],
            p["contact_phone"],
            _joined(p["other_funding_sources"]),
            _day(p["provider_confirmed_at"]),
        ]
        own = services.get(p["provider_id"], [])
        if not own:
            rows.append(head + [None] * (len(FLAT_COLUMNS) - len(head)))
        for s in own:
            cost = s["cost_amount"]
            rows.append(
                [
                    *head,
                    s["id"],
                    s["name"],
                    s["pathway_code"],
                    s["status"],
                    s["description"],
                    _joined(s["cohorts"]),
                    _joined(s["areas"]),
                    s["min_age"],
                    s["max_age"],
                    s["gender"],
                    s["capacity_per_year"],
                    s["places_available"],
                    s["places_as_of"],
                    _joined(s["delivery_modes"]),
                    _joined(s["complexity_levels"]),
                    float(cost) if cost is not None else None,
                    s["cost_unit"],
                    s["years_delivering"],
                    _joined(s["accreditation_codes"]),
                    _day(s["last_confirmed_at"]),
                ]
            )
    return rows


def flat_csv(rows: Sequence[Sequence[Cell]]) -> bytes:
    return csv_bytes(FLAT_COLUMNS, rows)


def flat_xlsx(rows: Sequence[Sequence[Cell]]) -> bytes:
    return xlsx_bytes([("providers", FLAT_COLUMNS, rows)])


# --- the HSDS tabular data package --------------------------------------------------------------------------


@cache
def datapackage() -> dict[str, Any]:
    """The cut of the official HSDS 3.0 data package that we ship (read once)."""
    text = resources.files("marketplace.standards").joinpath("datapackage.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def resource_fields() -> dict[str, tuple[str, list[str]]]:
    """Each shipped resource's name: (its file, its field names in order)."""
    return {r["name"]: (r["path"], [f["name"] for f in r["schema"]["fields"]]) for r in datapackage()["resources"]}


def _package_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _table(fields: Sequence[str], records: Iterable[msgspec.Struct]) -> bytes:
    """An HSDS resource as CSV: the official fields in order, a record's missing ones empty. Plain UTF-8, no
    formula guard: this is data for machines, read back as written (a data package's CSV dialect is RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for record in records:
        values = msgspec.to_builtins(record)
        writer.writerow([_package_cell(values.get(f)) for f in fields])
    return out.getvalue().encode()


def package_zip(tables: Mapping[str, Iterable[msgspec.Struct]]) -> bytes:
    """The data package: every shipped resource's CSV (header only when `tables` has no records for it) and
    `datapackage.json`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("datapackage.json", json.dumps(datapackage(), indent=2, ensure_ascii=False))
        for name, (path, fields) in resource_fields().items():
            z.writestr(path, _table(fields, tables.get(name, [])))
    return out.getvalue()
