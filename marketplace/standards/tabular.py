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
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import msgspec

from marketplace.clock import LOCAL_ZONE
from marketplace.sheets import Cell, csv_bytes, list_cell, xlsx_bytes


def _day(when: dt.datetime | None) -> dt.date | None:
    return when.astimezone(LOCAL_ZONE).date() if when is not None else None


def _joined(values: Iterable[str] | None) -> str:
    return list_cell(values or [])


Read = Callable[[Any], Cell]


def _as_is(key: str) -> Read:
    return lambda row: row[key]


def _list(key: str) -> Read:
    return lambda row: _joined(row[key])


def _date(key: str) -> Read:
    return lambda row: _day(row[key])


def _money(key: str) -> Read:
    return lambda row: float(row[key]) if row[key] is not None else None


PREMISES_SEPARATOR = ": "
"""A place of the `premises` column: its area's GSS code, this, its description (`E06000019: Community hub`)."""


def _premises(row: Any) -> str:
    return _joined(
        f"{area}{PREMISES_SEPARATOR}{description}"
        for area, description in zip(row["premises_areas"], row["premises_descriptions"], strict=True)
    )


PROVIDER_CELLS: list[tuple[str, Read]] = [
    ("provider_id", _as_is("provider_id")),
    ("provider_name", _as_is("org_name")),
    ("legal_form", _as_is("legal_form")),
    ("sector", _as_is("sector")),
    ("provider_status", _as_is("provider_status")),
    ("identifiers", _list("identifiers")),
    ("website", _as_is("website")),
    ("founded_year", _as_is("founded_year")),
    ("provider_description", _as_is("org_description")),
    ("contact_name", _as_is("contact_name")),
    ("contact_email", _as_is("contact_email")),
    ("contact_phone", _as_is("contact_phone")),
    ("other_funding_sources", _list("other_funding_sources")),
    ("match_funding_per_year", _as_is("match_funding_per_year")),
    ("volunteers", _as_is("volunteers")),
    ("partner_organisations", _list("partner_organisations")),
    ("premises", _premises),
    ("annual_income", _as_is("annual_income")),
    ("reserves_months", _as_is("reserves_months")),
    ("accounts_year_end", _as_is("accounts_year_end")),
    ("accounts_scrutiny", _as_is("accounts_scrutiny")),
    ("provider_accreditations", _list("org_accreditations")),
    ("social_value", _list("social_value")),
    ("provider_last_confirmed", _date("provider_confirmed_at")),
]
SERVICE_CELLS: list[tuple[str, Read]] = [
    ("service_id", _as_is("id")),
    ("service_name", _as_is("name")),
    ("pathway", _as_is("pathway_code")),
    ("service_status", _as_is("status")),
    ("service_description", _as_is("description")),
    ("cohorts", _list("cohorts")),
    ("areas", _list("areas")),
    ("min_age", _as_is("min_age")),
    ("max_age", _as_is("max_age")),
    ("gender", _as_is("gender")),
    ("service_users_per_year", _as_is("capacity_per_year")),
    ("places_available", _as_is("places_available")),
    ("places_as_of", _as_is("places_as_of")),
    ("delivery_modes", _list("delivery_modes")),
    ("complexity_levels", _list("complexity_levels")),
    ("cost_amount", _money("cost_amount")),
    ("cost_unit", _as_is("cost_unit")),
    ("years_delivering", _as_is("years_delivering")),
    ("service_accreditations", _list("accreditation_codes")),
    ("service_last_confirmed", _date("last_confirmed_at")),
]
"""The flat sheet's columns, each with how it is read from the provider's or the service's database row."""
FLAT_COLUMNS: list[str] = [name for name, _ in PROVIDER_CELLS + SERVICE_CELLS]
"""The flat sheet's fixed columns: the provider's repeated on each of its services' rows; lists joined by "; "
(`sheets.list_cell`). The service's outcomes records follow them (`outcome_columns`)."""

OUTCOME_FIELDS = ("outcome", "measure", "period", "value", "people", "source", "reference", "note", "desired_outcomes")
"""An outcomes record's fields (the API's names), each a column of its own: `outcome_1_measure`..."""
MAX_OUTCOMES = 20
"""Outcomes records a service holds at most (ServiceIn.outcomes): the sheet's outcome columns go no further."""


def outcome_column(record: int, field: str) -> str:
    """The column of a service's `record`th outcomes record's `field` (counted from 1): `outcome_2_value`."""
    return f"outcome_{record}_{field}"


def outcome_columns(records: int) -> list[str]:
    """The columns of `records` outcomes records, record by record."""
    return [outcome_column(n, f) for n in range(1, records + 1) for f in OUTCOME_FIELDS]


def _outcome_cells(record: Mapping[str, Any]) -> list[Cell]:
    return [
        _joined(record.get(f)) if f == "desired_outcomes" else record.get(f)  # (json: numbers, text, null)
        for f in OUTCOME_FIELDS
    ]


def flat_sheet(providers: Sequence[Any], services: Mapping[int, Sequence[Any]]) -> tuple[list[str], list[list[Cell]]]:
    """Database rows (read by column name) to the sheet's header and rows: one row per service (`services`: each
    provider's, by provider id), a provider without any on one row. After the fixed columns, as many outcomes
    records' columns as the service with the most has (none when no service has one)."""
    records = max((len(s["outcomes"]) for own in services.values() for s in own), default=0)
    width = len(SERVICE_CELLS) + records * len(OUTCOME_FIELDS)
    rows: list[list[Cell]] = []
    for p in providers:
        head = [read(p) for _, read in PROVIDER_CELLS]
        own = services.get(p["provider_id"], [])
        if not own:
            rows.append(head + [None] * width)
        for s in own:
            outcomes = [cell for o in s["outcomes"] for cell in _outcome_cells(o)]
            cells = [read(s) for _, read in SERVICE_CELLS] + outcomes
            rows.append(head + cells + [None] * (width - len(cells)))
    return FLAT_COLUMNS + outcome_columns(records), rows


def flat_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    return csv_bytes(header, rows)


def flat_xlsx(header: Sequence[str], rows: Sequence[Sequence[Cell]], made_at: dt.datetime) -> bytes:
    return xlsx_bytes([("providers", header, rows)], made_at=made_at)


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
