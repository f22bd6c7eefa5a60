"""GET /providers/export: the current search as CSV, xlsx or an HSDS 3.0 tabular data package."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import msgspec
import msgspec.inspect
import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from marketplace.providers.models import OutcomeRecord, ServiceIn
from marketplace.settings import PROJECT_ROOT
from marketplace.sheets import csv_text, guard
from marketplace.standards import service as standards
from marketplace.standards.tabular import FLAT_COLUMNS, MAX_OUTCOMES, OUTCOME_FIELDS, datapackage, outcome_columns
from tests.conftest import Keys

OFFICIAL = PROJECT_ROOT.parent / "shared" / "standards" / "hsds-3.0" / "datapackage.json"


def the_columns(header: list[str]) -> None:
    """The flat sheet's fixed columns, then as many outcomes records' columns as the seed's fullest service has."""
    records = (len(header) - len(FLAT_COLUMNS)) // len(OUTCOME_FIELDS)
    assert records >= 1 and header == FLAT_COLUMNS + outcome_columns(records), header


def test_the_sheet_has_a_column_for_every_field_of_every_outcomes_record_a_service_may_hold() -> None:
    outcomes = next(f for f in msgspec.structs.fields(ServiceIn) if f.name == "outcomes")
    info = msgspec.inspect.type_info(outcomes.type)
    if isinstance(info, msgspec.inspect.Metadata):  # described: the list type within
        info = info.type
    assert isinstance(info, msgspec.inspect.ListType) and info.max_length == MAX_OUTCOMES
    assert OutcomeRecord.__struct_fields__ == OUTCOME_FIELDS


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def search_all(client: AsyncTestClient, query: str = "") -> list[dict]:
    items: list[dict] = []
    page = 1
    while True:
        got = (await client.get(f"/providers?per_page=100&page={page}&facets=false{query}")).json()
        items += got["items"]
        if page >= got["pages"]:
            return items
        page += 1


async def test_csv_has_a_row_per_matched_service_of_every_hit_not_a_page(read_client: AsyncTestClient) -> None:
    r = await read_client.get("/providers/export?format=csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert "attachment" in r.headers["content-disposition"]
    rows = read_csv(r.content)
    the_columns(list(rows[0]))
    hits = await search_all(read_client)
    assert len(hits) > 100  # more than a page
    expected = sum(max(1, len(h["matched_services"])) for h in hits)
    assert len(rows) == expected == int(r.headers["x-export-rows"])
    assert [int(x) for x in dict.fromkeys(row["provider_id"] for row in rows)] == [h["id"] for h in hits]
    services = {(int(row["provider_id"]), int(row["service_id"])) for row in rows if row["service_id"]}
    assert services == {(h["id"], s["id"]) for h in hits for s in h["matched_services"]}


async def test_the_same_filters_as_the_search(read_client: AsyncTestClient) -> None:
    query = "&pathway=ACCOM&area=E06000020"
    rows = read_csv((await read_client.get(f"/providers/export?format=csv{query}")).content)
    hits = await search_all(read_client, query)
    assert rows and {row["pathway"] for row in rows} == {"ACCOM"}
    assert {int(row["provider_id"]) for row in rows} == {h["id"] for h in hits}
    assert {int(row["service_id"]) for row in rows} == {s["id"] for h in hits for s in h["matched_services"]}


async def test_bad_filters_and_unknown_formats_are_refused(read_client: AsyncTestClient) -> None:
    r = await read_client.get("/providers/export?format=csv&pathway=ACOM")
    assert r.status_code == (await read_client.get("/providers?pathway=ACOM")).status_code == 400
    assert r.json()["errors"][0]["field"] == "pathway"
    r = await read_client.get("/providers/export?format=csv&page=2&per_page=5")  # the search's, ignored
    assert r.status_code == 200 and len(read_csv(r.content)) > 5, r.text
    r = await read_client.get("/providers/export?format=pdf")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "format"
    assert (await read_client.get("/providers/export")).status_code == 400  # format is required
    r = await read_client.get("/providers/export?format=csv&status=pending")  # staff only, as the search
    assert r.status_code == 401


async def test_staff_may_export_pending_profiles(client: AsyncTestClient, keys: Keys) -> None:
    headers = await keys.headers("commissioner")
    r = await client.get("/providers/export?format=csv&status=pending", headers=headers)
    assert r.status_code == 200
    rows = read_csv(r.content)
    assert {row["provider_status"] for row in rows} <= {"pending"}


async def test_a_search_beyond_the_cap_is_refused_and_says_narrow_it(
    read_client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standards, "EXPORT_CAP", 50)
    r = await read_client.get("/providers/export?format=xlsx")
    assert r.status_code == 400
    assert "narrow" in r.json()["message"]
    r = await read_client.get("/providers/export?format=csv&pathway=WOMEN_ABUSE&area=E06000051")
    assert r.status_code == 200  # a narrow one still goes


async def test_csv_cells_that_look_like_formulas_are_guarded_and_xlsx_text_cells_hold_the_text(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A CSV cell a spreadsheet would run as a formula is prefixed with `'`; an xlsx cell is a text cell, which no
    spreadsheet runs, so it holds the text as it is: a phone number "+44 1905 000000" read "'+44 1905 000000"."""
    admin = await keys.headers("admin")
    etag = (await client.get("/providers/1")).headers["etag"]
    r = await client.patch(
        "/providers/1",
        headers={**admin, "If-Match": etag},
        json={"description": '=HYPERLINK("http://x")', "contact": {"phone": "+44 1905 000000"}},
    )
    assert r.status_code == 200, r.text
    rows = read_csv((await client.get("/providers/export?format=csv")).content)
    mine = [row for row in rows if row["provider_id"] == "1"]
    assert mine and all(row["provider_description"] == '\'=HYPERLINK("http://x")' for row in mine)
    assert all(row["contact_phone"] == "'+44 1905 000000" for row in mine)
    book = load_workbook(io.BytesIO((await client.get("/providers/export?format=xlsx")).content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == 1)
    description, phone = row[header.index("provider_description")], row[header.index("contact_phone")]
    assert (description.value, description.data_type) == ('=HYPERLINK("http://x")', "s")  # text, not a formula
    assert (phone.value, phone.data_type) == ("+44 1905 000000", "s")


def test_guard_prefixes_every_formula_start() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert guard(text) == "'" + text
    assert guard("plain") == "plain"
    assert csv_text(["a", "b"], [["=x", 3.0], [None, 2.5]]) == "a,b\r\n'=x,3\r\n,2.5\r\n"


async def test_xlsx_keeps_numbers_as_numbers_and_dates_as_dates(read_client: AsyncTestClient) -> None:
    r = await read_client.get("/providers/export?format=xlsx&pathway=ACCOM")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    the_columns(list(rows[0]))
    col = {name: i for i, name in enumerate(FLAT_COLUMNS)}
    body = rows[1:]
    assert body and all(isinstance(row[col["provider_id"]], int) for row in body)
    costs = [row[col["cost_amount"]] for row in body if row[col["cost_amount"]] is not None]
    assert costs and all(isinstance(c, int | float) for c in costs)
    dates = [row[col["service_last_confirmed"]] for row in body if row[col["service_last_confirmed"]] is not None]
    assert dates and all(isinstance(d, dt.datetime) for d in dates)  # openpyxl reads date cells as datetimes
    csv_rows = read_csv((await read_client.get("/providers/export?format=csv&pathway=ACCOM")).content)
    assert len(csv_rows) == len(body)


async def test_the_flat_sheet_holds_every_part_of_a_profile_the_import_takes_back(read_client: AsyncTestClient) -> None:
    """The flat sheet left out the organisation's accreditations, social value commitments, finances, volunteers,
    premises, partners and match funding, and every service's outcomes records: provider 12's `matrix_standard`
    was nowhere in it."""
    profile = (await read_client.get("/providers/12")).json()
    assert "matrix_standard" in profile["accreditations"]
    rows = [
        r for r in read_csv((await read_client.get("/providers/export?format=csv")).content) if r["provider_id"] == "12"
    ]
    assert rows
    first = rows[0]
    resources, finances = profile["resources"], profile["finances"]
    assert first["provider_accreditations"] == "; ".join(profile["accreditations"])
    assert first["social_value"] == "; ".join(profile["social_value"])
    assert first["partner_organisations"] == "; ".join(resources["partner_organisations"])
    assert first["premises"] == "; ".join(f"{p['area']}: {p['description']}" for p in resources["premises"])
    assert int(first["volunteers"]) == resources["volunteers"]
    assert int(first["match_funding_per_year"]) == resources["match_funding_per_year"]
    assert int(first["annual_income"]) == finances["annual_income"]
    assert float(first["reserves_months"]) == finances["reserves_months"]
    assert first["accounts_year_end"] == finances["accounts_year_end"]
    assert first["accounts_scrutiny"] == finances["accounts_scrutiny"]
    services = {s["id"]: s for s in profile["services"]}
    for row in rows:
        outcomes = services[int(row["service_id"])]["outcomes"]
        assert outcomes
        for n, o in enumerate(outcomes, start=1):
            assert row[f"outcome_{n}_outcome"] == o["outcome"] and row[f"outcome_{n}_measure"] == o["measure"]
            assert row[f"outcome_{n}_source"] == o["source"] and row[f"outcome_{n}_period"] == o["period"]
            assert row[f"outcome_{n}_desired_outcomes"] == "; ".join(o["desired_outcomes"])
            assert float(row[f"outcome_{n}_value"]) == o["value"]
        assert not row.get(f"outcome_{len(outcomes) + 1}_outcome")


# --- the HSDS tabular data package ---------------------------------------------------------------------------


def package(body: bytes) -> tuple[dict, dict[str, list[dict[str, str]]], dict[str, list[str]]]:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        meta = json.loads(z.read("datapackage.json"))
        tables, headers = {}, {}
        for resource in meta["resources"]:
            text = z.read(resource["path"]).decode()
            reader = csv.reader(io.StringIO(text, newline=""))
            headers[resource["name"]] = next(reader)
            tables[resource["name"]] = [dict(zip(headers[resource["name"]], row, strict=True)) for row in reader]
        assert sorted(z.namelist()) == sorted(["datapackage.json", *(r["path"] for r in meta["resources"])])
    return meta, tables, headers


async def test_the_hsds_package_is_a_closed_valid_cut_of_the_official_one(read_client: AsyncTestClient) -> None:
    r = await read_client.get("/providers/export?format=hsds")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    meta, tables, headers = package(r.content)
    official = json.loads(OFFICIAL.read_text())
    by_name = {res["name"]: res for res in official["resources"]}
    names = {res["name"] for res in meta["resources"]}
    assert {"organization", "organization_identifier", "service", "service_area"} <= names
    for res in meta["resources"]:
        assert res == by_name[res["name"]]  # the official resource as published: path, schema, fields, keys
        assert headers[res["name"]] == [f["name"] for f in res["schema"]["fields"]]
        for fk in res["schema"].get("foreignKeys", []):
            target = fk["reference"]["resource"]
            assert target in names, f"{res['name']} links to {target}, which is not shipped"
            ids = {row[fk["reference"]["fields"]] for row in tables[target]}
            for row in tables[res["name"]]:
                value = row[fk["fields"]]
                assert value == "" or value in ids, f"{res['name']}.{fk['fields']} = {value} resolves nowhere"
        for row in tables[res["name"]]:  # required fields present; primary keys unique
            for f in res["schema"]["fields"]:
                if f.get("constraints", {}).get("required"):
                    assert row[f["name"]] != "", f"{res['name']}.{f['name']} is required"
        keys = [row["id"] for row in tables[res["name"]]]
        assert len(keys) == len(set(keys))
    assert {k: v for k, v in meta.items() if k != "resources"} == {
        k: v for k, v in official.items() if k != "resources"
    }
    assert meta == datapackage()
    assert tables["program"] == []  # shipped, header only: services link to it
    hits = await search_all(read_client)
    assert len(tables["organization"]) == len(hits)
    assert len(tables["service"]) == sum(len(h["matched_services"]) for h in hits)
    pathways = [a for a in tables["attribute"] if a["link_entity"] == "service"]
    assert {a["link_id"] for a in pathways} == {s["id"] for s in tables["service"]}


@pytest.mark.asyncio
async def test_the_search_and_its_export_read_the_same_filters_declared_once(read_client: AsyncTestClient) -> None:
    """The filters are one declaration (`providers.filters`) for both operations: each takes them with the same
    rules (integers in digits, unknown names refused), documents them alike, and finds the same providers."""
    for path in ("/providers", "/providers/export?format=csv"):
        r = await read_client.get(path, params={"min_capacity": "1e3"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "min_capacity", (path, r.text)
        r = await read_client.get(path, params={"pathwya": "ACCOM"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "pathwya", (path, r.text)
    doc = (await read_client.get("/schema/openapi.json")).json()["paths"]
    found = {p: {x["name"] for x in doc[p]["get"]["parameters"]} for p in ("/providers", "/providers/export")}
    assert found["/providers"] - {"facets"} == found["/providers/export"] - {"format"}
    filters = {"pathway": "ACCOM", "area": "E06000019", "sort": "name"}
    searched = (await read_client.get("/providers", params={**filters, "per_page": 100})).json()
    exported = (await read_client.get("/providers/export", params={**filters, "format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    ids = list(dict.fromkeys(int(r["provider_id"]) for r in rows))
    assert ids == [p["id"] for p in searched["items"]] and searched["total"] == len(ids) > 0
