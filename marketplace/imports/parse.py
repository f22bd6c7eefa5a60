"""Reading an import file into profiles (pure: bytes and the taxonomies in, profiles or problems out).

Three kinds of file, told apart by their content (not their name or Content-Type):
- a zip holding `datapackage.json`: an HSDS 3.0 tabular data package (as GET /providers/export?format=hsds makes):
  an organisation per row of `organizations.csv`, with its `organization_identifiers`, `funding` and `services`
  (their `service_areas` by GSS code, `cost_options`, and pathway and cohorts as `attributes` pointing at
  `taxonomy_terms` of our two taxonomies);
- a zip holding `xl/workbook.xml`: an xlsx workbook, whose first sheet is read as the flat sheet;
- anything else: a CSV flat sheet (UTF-8), with the columns of GET /providers/export?format=csv (only
  `provider_name` and `legal_form` are required; rows with the same `provider_id`, or with none and the same
  `provider_name`, are one organisation, each row with a `service_name` one of its services; the organisation is
  read from its first row, and its other rows must say the same there or nothing).

Every problem is reported where it is: the file, the row (the header is row 1) and the column."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import NoneType, UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec
from openpyxl.utils import get_column_letter

from marketplace import messages
from marketplace.errors import FieldProblem
from marketplace.imports.models import ImportFormat, ImportProblem
from marketplace.providers.models import (
    MAX_NEW_SERVICES,
    NewProvider,
    OrgId,
    ProviderProfile,
    ServiceIn,
    identity_problems,
    normalised,
    profile_problems,
    service_problems,
)
from marketplace.sheets import SheetError, list_items, read_csv, read_xlsx
from marketplace.standards import service as standards
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import Taxonomy

MAX_ROWS = 50_000
"""Rows in a sheet (or in one file of a package)."""
MAX_UNPACKED = 100 * 1024 * 1024
"""Bytes a package or workbook may unpack to (a zip bomb is refused before it is read)."""


class FileProblem(ValueError):
    """The file as a whole cannot be read (a 400 naming where): not the format it seems, a missing column..."""

    def __init__(self, message: str, problems: list[ImportProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(slots=True)
class Incoming:
    """One organisation read from the file: its profile, or the problems that keep it from being one."""

    row: int
    name: str
    rows: list[int] = field(default_factory=list)
    profile: NewProvider | None = None
    problems: list[ImportProblem] = field(default_factory=list)
    last_confirmed: dt.date | None = None
    """When the file says the provider last confirmed its profile (a flat sheet's `provider_last_confirmed`)."""
    services_last_confirmed: list[dt.date | None] = field(default_factory=list)
    """The same of each of the profile's services, in its order (`service_last_confirmed`)."""


def detect(data: bytes) -> ImportFormat:
    if not data:
        raise FileProblem("the file is empty")
    if data[:4] != b"PK\x03\x04":
        return "csv"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:
                raise FileProblem(f"the zip unpacks to more than {MAX_UNPACKED // 2**20} MB")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileProblem("the file looks like a zip but cannot be read as one") from None
    if "datapackage.json" in names:
        return "hsds"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise FileProblem("a zip that is neither an HSDS data package (datapackage.json) nor an xlsx workbook")


def read(data: bytes, tax: Taxonomy, *, today: dt.date) -> tuple[ImportFormat, list[Incoming]]:
    fmt = detect(data)
    try:
        if fmt == "hsds":
            return fmt, _package(data, tax, today)
        rows = read_xlsx(data, max_rows=MAX_ROWS, check_header=_flat_header) if fmt == "xlsx" else read_csv(data)
    except SheetError as e:
        raise FileProblem(str(e)) from None
    return fmt, _flat(rows, tax, today)


# --- where a field's problem is shown ------------------------------------------------------------------------

FLAT_PROVIDER = {
    "name": "provider_name",
    "legal_form": "legal_form",
    "identifiers": "identifiers",
    "description": "provider_description",
    "website": "website",
    "founded_year": "founded_year",
    "contact.name": "contact_name",
    "contact.email": "contact_email",
    "contact.phone": "contact_phone",
    "resources.other_funding_sources": "other_funding_sources",
    "resources.match_funding_per_year": "match_funding_per_year",
    "resources.volunteers": "volunteers",
    "resources.partner_organisations": "partner_organisations",
    "resources.premises": "premises",
    "finances.annual_income": "annual_income",
    "finances.reserves_months": "reserves_months",
    "finances.accounts_year_end": "accounts_year_end",
    "finances.accounts_scrutiny": "accounts_scrutiny",
    "accreditations": "provider_accreditations",
    "social_value": "social_value",
}
FLAT_SERVICE = {
    "pathway": "pathway",
    "name": "service_name",
    "description": "service_description",
    "status": "service_status",
    "cohorts": "cohorts",
    "areas": "areas",
    "eligibility.min_age": "min_age",
    "eligibility.max_age": "max_age",
    "eligibility.gender": "gender",
    "capacity.service_users_per_year": "service_users_per_year",
    "capacity.places_available": "places_available",
    "capacity.places_as_of": "places_as_of",
    "delivery_modes": "delivery_modes",
    "complexity_levels": "complexity_levels",
    "cost": "cost_amount",
    "cost.amount": "cost_amount",
    "cost.unit": "cost_unit",
    "years_delivering": "years_delivering",
    "accreditations": "service_accreditations",
}
PROVIDER_CONFIRMED, SERVICE_CONFIRMED = "provider_last_confirmed", "service_last_confirmed"
"""When the source says the provider, and each service, was last confirmed: kept as said (`_confirmed`)."""
HSDS_PROVIDER = {
    "name": ("organizations.csv", "name"),
    "legal_form": ("organizations.csv", "legal_status"),
    "identifiers": ("organizations.csv", "organization_identifiers.identifier"),
    "description": ("organizations.csv", "description"),
    "website": ("organizations.csv", "website"),
    "founded_year": ("organizations.csv", "year_incorporated"),
    "contact.email": ("organizations.csv", "email"),
    "resources.other_funding_sources": ("organizations.csv", "funding.source"),
}
HSDS_SERVICE = {  # a service's problems are placed on its row of services.csv (the linked file named in the column)
    "pathway": ("services.csv", "attributes.taxonomy_term_id"),
    "cohorts": ("services.csv", "attributes.taxonomy_term_id"),
    "areas": ("services.csv", "service_areas.uri"),
    "name": ("services.csv", "name"),
    "description": ("services.csv", "description"),
    "status": ("services.csv", "status"),
    "eligibility.min_age": ("services.csv", "minimum_age"),
    "eligibility.max_age": ("services.csv", "maximum_age"),
    "eligibility.gender": ("services.csv", "eligibility_description"),
    "cost": ("services.csv", "cost_options.amount"),
    "cost.amount": ("services.csv", "cost_options.amount"),
    "cost.unit": ("services.csv", "cost_options.option"),
}
_INDEX = re.compile(r"\[\d+\]")
Locate = Callable[[str], tuple[str | None, str]]
"""A field path (`eligibility.min_age`) to (file, column)."""


def _path(text: str) -> str:
    return _INDEX.sub("", text)


T = TypeVar("T")


def _lookup(table: Mapping[str, T], path: str, fallback: T) -> T:
    path = _path(path)
    while path:
        if path in table:
            return table[path]
        path = path.rpartition(".")[0]
    return fallback


MAX_ROW_PROBLEMS = 20
"""Problems reported of one row of a file: beyond, one more says how many are not listed."""


def _bare(typ: Any) -> Any:
    """A field's type without its constraints and without None: `Annotated[list[X], Meta(...)] | None` -> list[X]."""
    while True:
        if get_origin(typ) is Annotated:
            typ = get_args(typ)[0]
        elif (
            get_origin(typ) in (Union, UnionType) and len(kinds := [t for t in get_args(typ) if t is not NoneType]) == 1
        ):
            typ = kinds[0]
        else:
            return typ


def _decoding_problems(value: Any, typ: Any) -> list[tuple[str, str]]:
    """(field, the decoder's words) of every problem of `value` as `typ` (`messages.failures`, read leniently as a
    cell's text is), so that one bad cell does not hide the others; a field missing is `required`, at its own path."""
    return [
        (_at(at, m.group(1)), "required") if (m := messages.MISSING_FIELD.match(said)) is not None else (at, said)
        for at, said in messages.failures(value, typ, strict=False)
    ]


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _parts(value: Any, kind: Any, path: str) -> list[tuple[Any, Any, str]]:
    """(value, type, field) of each part of `value` as `kind` (a bare type): the fields it gives of an object, the
    items of a list; none of anything else."""
    if isinstance(value, dict) and _is_struct(kind):
        return [
            (value[f.encode_name], f.type, _at(path, f.encode_name))
            for f in msgspec.structs.fields(kind)
            if f.encode_name in value
        ]
    if isinstance(value, list) and get_origin(kind) is list:
        return [(item, get_args(kind)[0], f"{path}[{i}]") for i, item in enumerate(value)]
    return []


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""A number as a cell should hold it: digits, a minus, a decimal point (never `1E3`, `1_000` or `inf`, which a
lenient reading takes)."""


def _unplain_numbers(value: Any, typ: Any, path: str = "") -> list[tuple[str, str]]:
    """(field, the decoder's words) of each cell of a number field whose text is not a plain number."""
    kind = _bare(typ)
    if isinstance(value, str) and kind in (int, float):
        return [] if _PLAIN_NUMBER.fullmatch(value.strip()) else [(path, f"Expected `{kind.__name__}`, got `str`")]
    return [p for item, t, at in _parts(value, kind, path) for p in _unplain_numbers(item, t, at)]


def _convert(
    raw: dict[str, Any], typ: type[Any], row: int, locate: Locate, tax: Taxonomy
) -> tuple[Any | None, list[ImportProblem]]:
    """`raw` as `typ`, or every problem of it, each in the words the API's other routes use (`messages.problem`):
    a cell is typed text, as a form's box is, so it is told what to enter (never "null" or JSON's types). A number
    is read from plain digits only (`_PLAIN_NUMBER`)."""
    unplain = _unplain_numbers(raw, typ)
    if not unplain:
        try:
            return msgspec.convert(raw, typ, strict=False), []
        except msgspec.ValidationError:
            pass
    said_at = dict(_decoding_problems(raw, typ)) | dict(unplain)  # the decoder's problems ([] when none), and these
    found = [
        messages.problem(at, said, value=messages.value_at(raw, at), declared=typ, taxonomy=tax, form=True)
        for at, said in said_at.items()
    ]
    told = {p.field for p in found}
    for at, value in _leaves(raw):  # a code of the right form that is no code of its taxonomy: told now, not later
        kind = messages.CODE_FIELDS.get(_INDEX.sub("", at).rpartition(".")[2])
        if kind is not None and at not in told and (unknown := _unknown_code(at, value, kind, tax)) is not None:
            found.append(unknown)
    problems = []
    for p in found:
        file, column = locate(p.field)
        problems.append(ImportProblem(row=row, column=column, problem=p.problem, file=file))
    return None, problems


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """(field, value) of every value in an object of objects and lists: `areas[1]`, `eligibility.min_age`."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]


def _unknown_code(field: str, value: Any, kind: str, tax: Taxonomy) -> FieldProblem | None:
    if not isinstance(value, str):
        return None
    return check_code(field, value, tax.codes(kind), messages.CODE_WORDS[kind][0])


def _bounded(problems: list[ImportProblem]) -> list[ImportProblem]:
    """At most MAX_ROW_PROBLEMS problems of each row listed, then how many more that row has."""
    per_row: Counter[tuple[str | None, int]] = Counter((p.file, p.row) for p in problems)
    if max(per_row.values(), default=0) <= MAX_ROW_PROBLEMS:
        return problems
    kept: list[ImportProblem] = []
    seen: Counter[tuple[str | None, int]] = Counter()
    for p in problems:
        where = (p.file, p.row)
        seen[where] += 1
        if seen[where] <= MAX_ROW_PROBLEMS:
            kept.append(p)
        elif seen[where] == MAX_ROW_PROBLEMS + 1:
            more = per_row[where] - MAX_ROW_PROBLEMS
            kept.append(
                ImportProblem(
                    row=p.row,
                    column=p.column,
                    problem=f"and {more} more problem{'s' if more > 1 else ''} on this row, not listed: fix those "
                    "above and import the file again",
                    file=p.file,
                )
            )
    return kept


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """Empty cells left out (the field's default applies); nested parts cleaned the same way."""
    out: dict[str, Any] = {}
    for k, value in d.items():
        v = _clean(value) if isinstance(value, dict) else value
        if v is None or v == "" or v == [] or v == {}:
            continue
        out[k] = v
    return out


def _read_alone(value: Any, typ: Any) -> Any:
    """`value` as `typ`, read on its own as `_convert` reads it; None when it cannot be."""
    if value is None or _unplain_numbers(value, typ):
        return None
    try:
        return msgspec.convert(value, typ, strict=False)
    except msgspec.ValidationError:
        return None


def _identity_of_what_was_read(raw: Mapping[str, Any], tax: Taxonomy, today: dt.date) -> list[FieldProblem]:
    """The organisation's identity rules (`identity_problems`) of the parts of it that can be read, when the whole
    cannot: an identifier not in its scheme's form (`GB-CHC-12`) or a founding year to come was told only once the
    row's other cells were put right. A part that cannot be read was told already; a legal form that is no code is
    left out (identifiers are then checked against their schemes alone)."""
    identifiers = [str(x) for x in raw.get("identifiers", [])]
    readable = {f"identifiers[{i}]" for i, x in enumerate(identifiers) if _read_alone(x, OrgId) is not None}
    founded_type = next(f.type for f in msgspec.structs.fields(ProviderProfile) if f.name == "founded_year")
    founded = _read_alone(raw.get("founded_year"), founded_type)
    legal_form = tax.legal_form(str(raw.get("legal_form", "")))
    found = identity_problems(identifiers, legal_form, founded, year=today.year)
    return [p for p in found if p.field in readable or not p.field.startswith("identifiers")]


def _rules(
    incoming: Incoming,
    org: ProviderProfile | None,
    raw: Mapping[str, Any],
    services: list[ServiceIn],
    tax: Taxonomy,
    today: dt.date,
    provider_at: Callable[[str], tuple[int, str | None, str]],
    service_at: Callable[[int, str], tuple[int, str | None, str]],
) -> None:
    """The rules a profile must keep (codes known, ages in order..., at most `MAX_NEW_SERVICES` services), each problem
    placed in the file; checked of whatever of the organisation was read (`org`, None when it could not be: then of
    its parts that can be read, `raw` as the file gives it; the services that could be), so that a row is told every
    problem at once. The profile is made only without any."""
    if len(services) > MAX_NEW_SERVICES:  # what committing it would refuse (NewProvider's limit)
        row, file, column = service_at(MAX_NEW_SERVICES, "")
        incoming.problems.append(
            ImportProblem(
                row=row,
                column=column,
                problem=f"an organisation may bring at most {MAX_NEW_SERVICES} services; this one has "
                f"{len(services)} (this row is service {MAX_NEW_SERVICES + 1})",
                file=file,
            )
        )
        return
    profile = None
    if org is not None:
        profile = msgspec.convert({**msgspec.to_builtins(org), "services": []}, NewProvider)
        profile = normalised(msgspec.structs.replace(profile, services=services))  # as the API takes a profile
        found = profile_problems(profile, tax, today=today)
    else:
        found = _identity_of_what_was_read(raw, tax, today) + [
            p
            for i, s in enumerate(services)
            for p in service_problems(s, tax, founded_year=None, today=today, prefix=f"services[{i}].")
        ]
    for p in found:
        m = re.match(r"services\[(\d+)\]\.?(.*)$", p.field)
        row, file, column = service_at(int(m.group(1)), m.group(2)) if m else provider_at(p.field)
        hint = p.suggestion and "did you mean" not in p.problem  # check_code says it itself
        problem = p.problem + (f" (did you mean {p.suggestion}?)" if hint else "")
        incoming.problems.append(ImportProblem(row=row, column=column, problem=problem, file=file))
    if profile is not None and not incoming.problems:
        incoming.profile = profile


def _refuse_repeats(header: list[str], file: str | None = None) -> None:
    """A column named twice: which of the two is meant cannot be told, so the file is refused (keeping one would
    drop the other's values unseen). Columns with no name are not columns: not counted."""
    at: dict[str, list[int]] = {}
    for i, h in enumerate(header, start=1):
        if h:
            at.setdefault(h, []).append(i)
    repeated = {h: places for h, places in at.items() if len(places) > 1}
    if not repeated:
        return
    name, places = next(iter(repeated.items()))
    where = f"{file}: " if file else ""
    raise FileProblem(
        f"{where}the column {name!r} is named twice in the header (columns {_places(places)}): keep one",
        [
            ImportProblem(row=1, column=h, problem=f"named more than once (columns {_places(p)})", file=file)
            for h, p in repeated.items()
        ],
    )


def _refuse_unnamed(header: list[str], rows: list[list[str]], columns: str, file: str | None = None) -> None:
    """Values under a header cell with no name: whose they are cannot be told, and reading on would drop them
    unseen, so the file is refused, naming the column and the first row holding one (`columns`: what the header
    should name). A blank header over empty cells is fine."""
    unnamed = [i for i, h in enumerate(header) if not h]
    if not unnamed:
        return
    under: dict[int, int] = {}  # an unnamed column holding a value: the first row it is on
    for n, cells in enumerate(rows[1:], start=2):
        for i in unnamed:
            if i < len(cells) and cells[i].strip():
                under.setdefault(i, n)
    if not under:
        return
    i, n = next(iter(under.items()))
    where = f"{file}: " if file else ""
    raise FileProblem(
        f"{where}column {_places([i + 1])} has no name in the header but holds values (row {n} is the first): name "
        f"it ({columns}) or empty it",
        [
            ImportProblem(
                row=first, column=f"{_places([i + 1])}, no name", problem="a value under no column name", file=file
            )
            for i, first in under.items()
        ],
    )


def _places(columns: list[int]) -> str:
    """[3, 9] -> "3 (C) and 9 (I)": a column by its number and its spreadsheet letter."""
    said = [f"{n} ({get_column_letter(n)})" for n in columns]
    return " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)


# --- the flat sheet ------------------------------------------------------------------------------------------

REQUIRED = ("provider_name", "legal_form")


def _flat_header(cells: list[str]) -> list[str]:
    """The flat sheet's header: its columns must be those of the export, each once, with the required ones (else a
    FileProblem). Checked before the rows are read (`read_xlsx`'s check_header), and again by `_flat`."""
    header = [h.strip().lstrip("\ufeff") for h in cells]
    known = set(standards.FLAT_COLUMNS) | set(standards.outcome_columns(standards.MAX_OUTCOMES))
    unknown = [h for h in header if h and h not in known]
    if unknown:
        raise FileProblem(
            f"unknown column {unknown[0]!r}: the columns are those of GET /providers/export?format=csv",
            [ImportProblem(row=1, column=h, problem="unknown column") for h in unknown],
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileProblem(
            f"missing column {missing[0]!r}",
            [ImportProblem(row=1, column=c, problem="missing column") for c in missing],
        )
    _refuse_repeats(header)
    return header


def _flat(rows: list[list[str]], tax: Taxonomy, today: dt.date) -> list[Incoming]:
    if not rows:
        raise FileProblem("the file is empty")
    if len(rows) > MAX_ROWS + 1:
        raise FileProblem(f"the sheet has more than {MAX_ROWS} rows: split it")
    header = _flat_header(rows[0])
    _refuse_unnamed(header, rows, "the columns are those of GET /providers/export?format=csv")
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise FileProblem(f"row {n} has more cells than the header has columns")
        record = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header) if h}
        key = f"id:{record['provider_id']}" if record.get("provider_id") else f"name:{record['provider_name'].lower()}"
        groups.setdefault(key, []).append((n, record))
    return [_flat_one(group, tax, today) for group in groups.values()]


ORGANISATION_COLUMNS = (*dict.fromkeys(FLAT_PROVIDER.values()), PROVIDER_CONFIRMED)
"""The columns an organisation is read from (on its first row): each of its rows must say the same or nothing."""
LIST_COLUMNS = (
    "identifiers",
    "other_funding_sources",
    "partner_organisations",
    "premises",
    "provider_accreditations",
    "social_value",
)
SERVICE_COLUMNS = (*dict.fromkeys(FLAT_SERVICE.values()), SERVICE_CONFIRMED)
"""The columns a service is read from (on its row), besides its outcomes records'."""


def _disagreements(group: list[tuple[int, dict[str, str]]]) -> list[ImportProblem]:
    """The organisation's columns on its later rows (its further services) that say something its first row does
    not: they would be dropped unseen, as the organisation is read from its first row."""
    first_row, first = group[0]
    problems = []
    for n, r in group[1:]:
        for column in ORGANISATION_COLUMNS:
            value, kept = r.get(column, ""), first.get(column, "")
            if not value:
                continue
            if column in LIST_COLUMNS:
                same = list_items(value) == list_items(kept)
            else:
                same = value.casefold() == kept.casefold() if column == "provider_name" else value == kept
            if same:
                continue
            said = (
                f"{value!r} differs from {kept!r} on row {first_row}"
                if kept
                else f"{value!r} is given here but not on row {first_row}"
            )
            problems.append(
                ImportProblem(
                    row=n,
                    column=column,
                    problem=f"{said}, the organisation's first row: its columns are read from that row, so its "
                    "further rows must say the same or leave them empty",
                )
            )
    return problems


def _premises(text: str, row: int) -> tuple[list[dict[str, str]], list[ImportProblem]]:
    """The places of the `premises` column (`E06000019: Community hub; E06000020: Office`) as the API's objects,
    and a problem for each that is not an area code, a colon and a description (left out: the row is bad)."""
    places, problems = [], []
    for item in list_items(text):
        area, said, description = item.partition(standards.PREMISES_SEPARATOR.strip())
        if said and area.strip() and description.strip():
            places.append({"area": area.strip(), "description": description.strip()})
            continue
        problems.append(
            ImportProblem(
                row=row,
                column="premises",
                problem=f"{item[:60]!r} is not a place: write each as its area's code, a colon and what it is, e.g. "
                "E06000019: Community hub, Ledbury",
            )
        )
    return places, problems


def _outcomes(s: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[int]]:
    """A service's outcomes records as the API's objects, from its row's outcome columns (`outcome_2_measure`...), and
    each one's number in the sheet: a record is there when any of its cells holds something."""
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    for n in range(1, standards.MAX_OUTCOMES + 1):
        cells = {f: s.get(standards.outcome_column(n, f), "") for f in standards.OUTCOME_FIELDS}
        if not any(cells.values()):
            continue
        records.append(_clean({**cells, "desired_outcomes": list_items(cells["desired_outcomes"])}))
        numbers.append(n)
    return records, numbers


_OUTCOME_PATH = re.compile(r"outcomes\[(\d+)\](?:\.(\w+))?")


def _service_column(path: str, numbers: list[int]) -> str:
    """The flat sheet's column of a service's field (`outcomes[1].source`: the column of that record's source)."""
    m = _OUTCOME_PATH.match(path)
    if m and numbers:
        i = int(m.group(1))
        return standards.outcome_column(numbers[min(i, len(numbers) - 1)], m.group(2) or "outcome")
    return _lookup(FLAT_SERVICE, path, "service_name")


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _confirmed(
    text: str, row: int, column: str, founded_year: int | None, today: dt.date
) -> tuple[dt.date | None, list[ImportProblem]]:
    """A last-confirmed date as the file gives it (blank: none), or why it cannot be taken: not a date, a day to come
    (by the app's clock, `today`), or before the organisation was founded."""
    if not text:
        return None, []
    try:
        day = dt.date.fromisoformat(text) if _DATE.fullmatch(text) else None
    except ValueError:
        day = None
    said = None
    if day is None:
        said = f"{text[:40]!r} is not a date: write it year-month-day, e.g. 2026-03-31"
    elif day > today:
        said = f"{day} is after today ({today}): a profile cannot have been confirmed on a day still to come"
    elif founded_year is not None and day.year < founded_year:
        said = f"{day} is before the organisation was founded ({founded_year}): it cannot have confirmed it then"
    if said is not None:
        return None, [ImportProblem(row=row, column=column, problem=said)]
    return day, []


def _flat_one(group: list[tuple[int, dict[str, str]]], tax: Taxonomy, today: dt.date) -> Incoming:
    first_row, r = group[0]
    incoming = Incoming(row=first_row, name=r["provider_name"], rows=[n for n, _ in group])
    incoming.problems += _disagreements(group)

    def provider_locate(path: str) -> tuple[str | None, str]:
        return None, _lookup(FLAT_PROVIDER, path, "provider_name")

    premises, problems = _premises(r.get("premises", ""), first_row)
    incoming.problems += problems
    raw = _clean(
        {
            "name": r["provider_name"],
            "legal_form": r["legal_form"],
            "identifiers": list_items(r.get("identifiers", "")),
            "description": r.get("provider_description", ""),
            "website": r.get("website") or None,
            "founded_year": r.get("founded_year", ""),
            "contact": {
                "name": r.get("contact_name"),
                "email": r.get("contact_email"),
                "phone": r.get("contact_phone"),
            },
            "resources": {
                "volunteers": r.get("volunteers"),
                "premises": premises,
                "match_funding_per_year": r.get("match_funding_per_year"),
                "other_funding_sources": list_items(r.get("other_funding_sources", "")),
                "partner_organisations": list_items(r.get("partner_organisations", "")),
            },
            "finances": {
                "annual_income": r.get("annual_income"),
                "reserves_months": r.get("reserves_months"),
                "accounts_year_end": r.get("accounts_year_end"),
                "accounts_scrutiny": r.get("accounts_scrutiny"),
            },
            "accreditations": list_items(r.get("provider_accreditations", "")),
            "social_value": list_items(r.get("social_value", "")),
        }
    )
    org, problems = _convert(raw, ProviderProfile, first_row, provider_locate, tax)
    incoming.problems += problems
    founded = org.founded_year if org is not None else None
    incoming.last_confirmed, problems = _confirmed(
        r.get(PROVIDER_CONFIRMED, ""), first_row, PROVIDER_CONFIRMED, founded, today
    )
    incoming.problems += problems
    services: list[ServiceIn] = []
    service_rows: list[int] = []
    service_numbers: list[list[int]] = []
    for n, s in group:
        outcomes, numbers = _outcomes(s)
        if not s.get("service_name"):
            if outcomes or any(s.get(c) for c in SERVICE_COLUMNS if c not in ("service_status",)):
                incoming.problems.append(ImportProblem(row=n, column="service_name", problem="a service needs a name"))
            continue
        raw_service = _clean(
            {
                "pathway": s.get("pathway", ""),
                "name": s["service_name"],
                "description": s.get("service_description", ""),
                "status": s.get("service_status", ""),
                "cohorts": list_items(s.get("cohorts", "")),
                "areas": list_items(s.get("areas", "")),
                "eligibility": {"min_age": s.get("min_age"), "max_age": s.get("max_age"), "gender": s.get("gender")},
                "capacity": {
                    "service_users_per_year": s.get("service_users_per_year"),
                    "places_available": s.get("places_available"),
                    "places_as_of": s.get("places_as_of"),
                },
                "delivery_modes": list_items(s.get("delivery_modes", "")),
                "complexity_levels": list_items(s.get("complexity_levels", "")),
                "cost": {"amount": s.get("cost_amount"), "unit": s.get("cost_unit")},
                "years_delivering": s.get("years_delivering"),
                "outcomes": outcomes,
                "accreditations": list_items(s.get("service_accreditations", "")),
            }
        )

        def service_locate(path: str, numbers: list[int] = numbers) -> tuple[str | None, str]:
            return None, _service_column(path, numbers)

        service, problems = _convert(raw_service, ServiceIn, n, service_locate, tax)
        incoming.problems += problems
        confirmed, problems = _confirmed(s.get(SERVICE_CONFIRMED, ""), n, SERVICE_CONFIRMED, founded, today)
        incoming.problems += problems
        if service is not None:
            services.append(service)
            service_rows.append(n)
            service_numbers.append(numbers)
            incoming.services_last_confirmed.append(confirmed)

    def provider_at(path: str) -> tuple[int, str | None, str]:
        return first_row, None, _lookup(FLAT_PROVIDER, path, "provider_name")

    def service_at(i: int, path: str) -> tuple[int, str | None, str]:
        return service_rows[i], None, _service_column(path, service_numbers[i])

    _rules(incoming, org, raw, services, tax, today, provider_at, service_at)
    incoming.problems = _bounded(incoming.problems)
    return incoming


# --- the HSDS tabular data package --------------------------------------------------------------------------

PACKAGE_FILES = (
    "organizations.csv",
    "organization_identifiers.csv",
    "services.csv",
    "service_areas.csv",
    "cost_options.csv",
    "attributes.csv",
    "taxonomy_terms.csv",
    "funding.csv",
)
REQUIRED_FILES = ("organizations.csv", "services.csv")
UNIT_OF = {v: k for k, v in standards.COST_UNITS.items()} | {k: k for k in standards.COST_UNITS}
GENDER_OF = {v: k for k, v in standards.GENDERS.items()}


@dataclass(slots=True)
class Table:
    file: str
    rows: list[tuple[int, dict[str, str]]]

    def by(self, column: str) -> dict[str, list[tuple[int, dict[str, str]]]]:
        out: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for n, r in self.rows:
            out.setdefault(r.get(column, ""), []).append((n, r))
        return out


def _table(z: zipfile.ZipFile, file: str, names: set[str]) -> Table:
    if file not in names:
        if file in REQUIRED_FILES:
            raise FileProblem(f"the package has no {file}")
        return Table(file, [])
    try:
        rows = read_csv(z.read(file), where=file)
    except SheetError as e:
        raise FileProblem(str(e)) from None
    if len(rows) > MAX_ROWS + 1:
        raise FileProblem(f"{file} has more than {MAX_ROWS} rows")
    if not rows:
        return Table(file, [])
    header = [h.strip() for h in rows[0]]
    _refuse_repeats(header, file)
    _refuse_unnamed(header, rows, "as HSDS 3.0 names them", file)
    if "id" not in header:
        raise FileProblem(f"{file}: no id column", [ImportProblem(row=1, column="id", problem="missing", file=file)])
    out = []
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise FileProblem(
                f"{file} row {n}: {len(cells)} cells, the header has {len(header)}",
                [ImportProblem(row=n, column="", problem="wrong number of cells", file=file)],
            )
        out.append((n, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return Table(file, out)


def _one_cost(first: int, others: list[tuple[int, dict[str, str]]]) -> list[ImportProblem]:
    """A service holds one cost (an amount per unit): a package giving a service more cost options is told so on
    each further row, rather than the first read and the others dropped unseen (which of two prices, per session
    and per week, is the service's is the provider's to say, not the import's to guess)."""
    problem = f"a service holds one cost, and this service's first cost option is row {first}: keep one"
    return [ImportProblem(row=n, column="service_id", problem=problem, file="cost_options.csv") for n, _ in others]


def _package(data: bytes, tax: Taxonomy, today: dt.date) -> list[Incoming]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            t = {f: _table(z, f, names) for f in PACKAGE_FILES}
    except (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, NotImplementedError, EOFError) as e:
        raise FileProblem(f"a file of the package cannot be unpacked ({type(e).__name__})") from None
    identifiers = t["organization_identifiers.csv"].by("organization_id")
    funding = t["funding.csv"].by("organization_id")
    services = t["services.csv"].by("organization_id")
    areas = t["service_areas.csv"].by("service_id")
    costs = t["cost_options.csv"].by("service_id")
    attributes = t["attributes.csv"].by("link_id")
    terms = {r["id"]: r for _, r in t["taxonomy_terms.csv"].rows}
    ours = {standards.taxonomy_id(kind): kind for kind in standards.TAXONOMIES}
    term_codes = {
        standards.term_id(kind, item.code): (kind, item.code)
        for kind in standards.TAXONOMIES
        for item in getattr(tax, kind)
    }
    legal = {name.lower(): code for code, name in tax.codes("legal_forms").items()} | {
        code: code for code in tax.codes("legal_forms")
    }
    area_names = {name.lower(): code for code, name in tax.codes("areas").items()}
    org_ids = {r["id"] for _, r in t["organizations.csv"].rows}
    out: list[Incoming] = []
    for n, s in t["services.csv"].rows:
        if s.get("organization_id") not in org_ids:
            raise FileProblem(
                f"services.csv row {n}: organization_id {s.get('organization_id', '')!r} is no organization of the "
                "package",
                [ImportProblem(row=n, column="organization_id", problem="no such organization", file="services.csv")],
            )

    def term_of(attribute: dict[str, str]) -> tuple[str, str] | None:
        tid = attribute.get("taxonomy_term_id", "")
        if tid in term_codes:
            return term_codes[tid]
        found = terms.get(tid)
        if found and found.get("taxonomy_id") in ours:
            kind = ours[found["taxonomy_id"]]
            if found.get("code") in dict.fromkeys(i.code for i in getattr(tax, kind)):
                return kind, found["code"]
        return None

    for n, o in t["organizations.csv"].rows:
        incoming = Incoming(row=n, name=o.get("name", ""), rows=[n])
        legal_status = o.get("legal_status", "")
        own_services = services.get(o["id"], [])
        raw = _clean(
            {
                "name": o.get("name", ""),
                "legal_form": legal.get(legal_status.lower(), legal_status),
                "identifiers": [
                    f"{r.get('identifier_scheme', '')}-{r.get('identifier', '')}"
                    for _, r in identifiers.get(o["id"], [])
                ],
                "description": o.get("description", ""),
                "website": o.get("website") or None,
                "founded_year": o.get("year_incorporated", ""),
                "contact": {"email": o.get("email")},
                "resources": {"other_funding_sources": [r.get("source", "") for _, r in funding.get(o["id"], [])]},
            }
        )

        def org_locate(path: str, n: int = n) -> tuple[str | None, str]:
            return _lookup(HSDS_PROVIDER, path, ("organizations.csv", "name"))

        org, problems = _convert(raw, ProviderProfile, n, org_locate, tax)
        incoming.problems += problems
        built: list[ServiceIn] = []
        placed: list[int] = []
        for sn, s in own_services:
            codes = [c for c in (term_of(a) for _, a in attributes.get(s["id"], [])) if c is not None]
            pathways = [code for kind, code in codes if kind == "pathways"]
            if len(pathways) != 1:
                incoming.problems.append(
                    ImportProblem(
                        row=sn,
                        column="attributes",
                        problem=f"a service needs exactly one pathway term ({len(pathways)} found)",
                        file="services.csv",
                    )
                )
                continue
            service_areas = []
            for an, a in areas.get(s["id"], []):
                uri, name = a.get("uri", ""), a.get("name", "").lower()
                code = uri.rstrip("/").rsplit("/", 1)[-1] if uri else area_names.get(name, "")
                if not code:
                    incoming.problems.append(
                        ImportProblem(row=an, column="uri", problem="no GSS area code", file="service_areas.csv")
                    )
                service_areas.append(code)
            cost_rows = costs.get(s["id"], [])
            cost: dict[str, Any] = {}
            if cost_rows:
                first, c = cost_rows[0]
                cost = {"amount": c.get("amount"), "unit": UNIT_OF.get(c.get("option", ""), c.get("option"))}
                incoming.problems += _one_cost(first, cost_rows[1:])
            description = s.get("eligibility_description", "")
            gender = next((g for text, g in GENDER_OF.items() if description.startswith(text)), None)
            raw_service = _clean(
                {
                    "pathway": pathways[0],
                    "name": s.get("name", ""),
                    "description": s.get("description", ""),
                    "status": "active" if s.get("status", "active") in ("", "active") else "inactive",
                    "cohorts": [code for kind, code in codes if kind == "cohorts"],
                    "areas": service_areas,
                    "eligibility": {"min_age": s.get("minimum_age"), "max_age": s.get("maximum_age"), "gender": gender},
                    "cost": cost,
                }
            )

            def service_locate(path: str, sn: int = sn) -> tuple[str | None, str]:
                return _lookup(HSDS_SERVICE, path, ("services.csv", "name"))

            service, problems = _convert(raw_service, ServiceIn, sn, service_locate, tax)
            incoming.problems += problems
            if service is not None:
                built.append(service)
                placed.append(sn)
        incoming.rows += [sn for sn, _ in own_services]

        def provider_at(path: str, n: int = n) -> tuple[int, str | None, str]:
            file, column = _lookup(HSDS_PROVIDER, path, ("organizations.csv", "name"))
            return n, file, column

        def service_at(i: int, path: str, placed: list[int] = placed) -> tuple[int, str | None, str]:
            file, column = _lookup(HSDS_SERVICE, path, ("services.csv", "name"))
            return placed[i], file, column

        _rules(incoming, org, raw, built, tax, today, provider_at, service_at)
        incoming.problems = _bounded(incoming.problems)
        out.append(incoming)
    return out
