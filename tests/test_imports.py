"""Imports (admin): POST /imports (a stored dry run), GET /imports/{id}, POST /imports/{id}/commit; and the round
trip: the HSDS package exported from the seeded directory, imported into an empty one, then imported again."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import shutil
import threading
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from marketplace import db
from marketplace.app import create_app
from marketplace.clock import LOCAL_ZONE, FixedClock
from marketplace.migrate import migrate
from marketplace.providers.models import MAX_NEW_SERVICES
from marketplace.seed import seed
from marketplace.settings import PROJECT_ROOT
from marketplace.sheets import xlsx_bytes
from marketplace.standards.tabular import FLAT_COLUMNS, outcome_columns
from tests.conftest import Databases, Keys, app_settings, fetchval, run_cli
from tests.test_sheets import _row, _with_rows

CSV = {"Content-Type": "text/csv"}
ZIP = {"Content-Type": "application/zip"}
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@pytest.fixture
async def empty_db(databases: Databases, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database with the taxonomies and no provider."""
    seeds = tmp_path / "seed"
    seeds.mkdir()
    for f in (PROJECT_ROOT / "seed_data").glob("*.json"):
        if f.name not in ("providers.json", "exercises.json"):
            shutil.copy(f, seeds / f.name)
    (seeds / "providers.json").write_text("[]")
    name = await databases.create("empty")
    dsn = databases.dsn(name)
    conn = await db.connect(dsn)
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        await seed(conn, seeds)
    finally:
        await conn.close()
    yield dsn
    await databases.drop(name)


def flat_csv(rows: list[dict[str, str]]) -> bytes:
    return flat_csv_with(rows, FLAT_COLUMNS)


def flat_csv_with(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


async def dry_run(
    client: AsyncTestClient, headers: dict[str, str], rows: list[dict[str, str]], columns: list[str] = FLAT_COLUMNS
) -> tuple[int, dict[str, dict[str, Any]]]:
    """A flat CSV's rows (under `columns`) sent as a dry run (201): the import's id, and its rows by provider name."""
    r = await client.post("/imports", content=flat_csv_with(rows, columns), headers={**headers, **CSV})
    assert r.status_code == 201, r.text
    return r.json()["id"], {x["name"]: x for x in r.json()["rows"]}


async def exported_rows(client: AsyncTestClient, provider_id: int) -> list[dict[str, str]]:
    """A provider's rows of the flat CSV export."""
    sheet = (await client.get("/providers/export?format=csv")).content.decode("utf-8-sig")
    return [r for r in csv.DictReader(io.StringIO(sheet, newline="")) if r["provider_id"] == str(provider_id)]


async def imported_afresh(empty_db: str, content: bytes, headers: dict[str, str], name: str) -> dict[str, Any]:
    """The provider called `name` in a file imported into the empty directory (a new row, committed), read back."""
    admin = await Keys(empty_db).headers("admin")
    async with AsyncTestClient(app=create_app(app_settings(empty_db))) as client:
        r = await client.post("/imports", content=content, headers={**admin, **headers})
        assert r.status_code == 201, r.text
        [row] = [x for x in r.json()["rows"] if x["name"] == name]
        assert row["verdict"] == "new", row
        r = await client.post(f"/imports/{r.json()['id']}/commit", json={"accept": [row["row"]]}, headers=admin)
        assert r.status_code == 200, r.text
        [made] = r.json()["results"]
        return (await client.get(f"/providers/{made['provider_id']}", headers=admin)).json()


SERVICE = {
    "pathway": "ETE",
    "service_name": "Lantern jobs club",
    "service_description": "Weekly jobs club in Ledbury.",
    "cohorts": "ADULTS",
    "areas": "E06000019",
    "min_age": "18",
    "cost_amount": "250",
    "cost_unit": "per_service_user",
}

SERVICE_JSON = {
    "pathway": "ETE",
    "name": "Lantern jobs club",
    "description": "Weekly jobs club in Ledbury.",
    "cohorts": ["ADULTS"],
    "areas": ["E06000019"],
}
"""SERVICE, as the API takes it."""


def sheet_row(name: str, **cells: str) -> dict[str, str]:
    """A flat sheet's row: a CIC called `name` with the one service `SERVICE`, `cells` added or changed."""
    return {"provider_name": name, "legal_form": "cic", **SERVICE, **cells}


async def directory_state(dsn: str) -> tuple[set[tuple], set[tuple]]:
    """Organisations and their services as HSDS carries them, comparable across databases."""
    conn = await asyncpg.connect(dsn)
    try:
        orgs = await conn.fetch(
            """select p.name, p.legal_form, p.website, p.description, p.founded_year, p.contact_email,
                      coalesce((select array_agg(i.identifier order by i.identifier) from provider_identifier i
                                where i.provider_id = p.id), '{}') as identifiers
               from provider p"""
        )
        services = await conn.fetch(
            """select p.name as org, s.name, s.description, s.pathway_code, s.min_age, s.max_age, s.gender,
                      s.cost_amount, s.cost_unit, s.status,
                      (select array_agg(c.cohort_code order by c.cohort_code) from service_cohort c
                       where c.service_id = s.id) as cohorts,
                      (select array_agg(a.area_code order by a.area_code) from service_area a
                       where a.service_id = s.id) as areas
               from service s join provider p on p.id = s.provider_id where s.status = 'active'"""
        )
    finally:
        await conn.close()

    def frozen(r: asyncpg.Record) -> tuple:
        return tuple(tuple(v) if isinstance(v, list) else v for v in r.values())

    return {frozen(r) for r in orgs}, {frozen(r) for r in services}


async def test_round_trip_export_import_into_an_empty_directory_then_again(
    read_client: AsyncTestClient, read_db: str, empty_db: str
) -> None:
    package = (await read_client.get("/providers/export?format=hsds")).content
    published_orgs, published_services = await directory_state(read_db)  # the whole directory ...
    conn = await asyncpg.connect(read_db)
    try:  # ... of which the export holds the published providers
        names = {r["name"] for r in await conn.fetch("select name from provider where status = 'published'")}
    finally:
        await conn.close()
    published_orgs = {o for o in published_orgs if o[0] in names}
    published_services = {s for s in published_services if s[0] in names}
    keys = Keys(empty_db)
    admin = await keys.headers("admin")
    async with AsyncTestClient(app=create_app(app_settings(empty_db))) as client:
        r = await client.post("/imports?filename=directory.zip", content=package, headers={**admin, **ZIP})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["format"] == "hsds" and run["filename"] == "directory.zip"
        assert run["summary"]["rows"] == len(names) == run["summary"]["new"], run["summary"]
        assert (await client.get("/providers")).json()["total"] == 0  # a dry run writes nothing else
        r = await client.post(f"/imports/{run['id']}/commit", json={"accept": "new"}, headers=admin)
        assert r.status_code == 200, r.text
        assert {x["outcome"] for x in r.json()["results"]} == {"created"}
        assert await directory_state(empty_db) == (published_orgs, published_services)
        pending = (await client.get("/providers?status=pending&per_page=1", headers=admin)).json()["total"]
        assert pending == len(names)  # pending, not published
        assert (await client.get("/providers")).json()["total"] == 0
        # again: every row a duplicate, and committing it all changes nothing
        r = await client.post("/imports", content=package, headers={**admin, **ZIP})
        again = r.json()
        assert again["summary"]["duplicate"] == len(names), [x for x in again["rows"] if x["verdict"] != "duplicate"]
        assert all(x["provider_id"] and x["reasons"] and x["score"] > 0 for x in again["rows"])
        every = [x["row"] for x in again["rows"]]
        r = await client.post(f"/imports/{again['id']}/commit", json={"accept": every}, headers=admin)
        assert r.status_code == 200, r.text
        assert {x["outcome"] for x in r.json()["results"]} == {"not_applied"}
        assert await directory_state(empty_db) == (published_orgs, published_services)
        # committed once only; the stored run shows its commit
        r = await client.post(f"/imports/{again['id']}/commit", json={"accept": "new"}, headers=admin)
        assert r.status_code == 409
        stored = (await client.get(f"/imports/{again['id']}", headers=admin)).json()
        assert stored["commit"]["accepted"] == every and stored["rows"] == again["rows"]


async def test_a_flat_csv_dry_run_reports_new_duplicate_ambiguous_and_bad(client: AsyncTestClient, keys: Keys) -> None:
    admin = await keys.headers("admin")
    existing = (await client.get("/providers/1")).json()
    rows = [
        sheet_row("Ledbury Lanterns CIC"),
        sheet_row(
            existing["name"].upper() + " Ltd",
            legal_form=existing["legal_form"],
            areas=existing["services"][0]["areas"][0],
        ),
        sheet_row("Bad Ages Trust", min_age="eighteen"),
        sheet_row("Bad Area Trust", areas="E06000099"),
    ]
    run_id, got = await dry_run(client, admin, rows)
    assert got["Ledbury Lanterns CIC"]["verdict"] == "new"
    dup = got[existing["name"].upper() + " Ltd"]
    assert dup["verdict"] == "duplicate" and dup["provider_id"] == 1
    assert any("similar name" in reason and "same area" in reason for reason in dup["reasons"])
    ages = got["Bad Ages Trust"]
    assert ages["verdict"] == "bad"
    assert ages["problems"][0]["row"] == 4 and ages["problems"][0]["column"] == "min_age"
    area = got["Bad Area Trust"]
    assert area["verdict"] == "bad" and area["problems"][0] == {
        "row": 5,
        "column": "areas",
        "problem": area["problems"][0]["problem"],
    }
    assert "E06000099" in area["problems"][0]["problem"]
    assert area["problems"][0]["problem"].count("did you mean") <= 1  # the suggestion said once
    # a bad row cannot be accepted; the new one becomes a pending profile, audited
    r = await client.post(f"/imports/{run_id}/commit", json={"accept": [4]}, headers=admin)
    assert r.status_code == 422 and "bad" in r.json()["message"]
    r = await client.post(f"/imports/{run_id}/commit", json={"accept": [2, 3]}, headers=admin)
    assert r.status_code == 200, r.text
    results = {x["row"]: x for x in r.json()["results"]}
    assert results[3] == {"row": 3, "outcome": "not_applied", "provider_id": 1, "reason": results[3]["reason"]}
    made = results[2]["provider_id"]
    profile = (await client.get(f"/providers/{made}", headers=admin)).json()
    assert profile["status"] == "pending" and profile["services"][0]["cost"] == {
        "amount": 250,
        "unit": "per_service_user",
    }
    audit = (await client.get("/audit?per_page=20", headers=admin)).json()["items"]
    assert any(f"import {run_id} committed" in (a.get("detail") or "") for a in audit)
    assert any(a.get("provider_id") == made for a in audit)
    # every row of the commit's request says what it answered (the profiles it made were recorded as 201s)
    mine = [a for a in audit if a.get("request_id") == r.headers["x-request-id"]]
    assert len(mine) == 2 and {a["status"] for a in mine} == {200}


async def test_same_org_id_is_decisive_and_two_candidates_are_ambiguous(client: AsyncTestClient, keys: Keys) -> None:
    admin = await keys.headers("admin")
    one = (await client.get("/providers/1")).json()
    two = (await client.get("/providers/2")).json()
    assert one["identifiers"]
    rows = [
        sheet_row("Quite Another Name", legal_form=one["legal_form"], identifiers=one["identifiers"][0]),
        sheet_row("Website Twin", website=one["website"] or "https://x.example"),
    ]
    if two["website"]:
        rows.append(sheet_row("Two Sites", website=two["website"], identifiers=one["identifiers"][0]))
    _, got = await dry_run(client, admin, rows)
    by_id = got["Quite Another Name"]
    assert by_id["verdict"] == "duplicate" and by_id["provider_id"] == 1 and by_id["score"] == 1.0
    assert by_id["reasons"] == [f"same org-id {one['identifiers'][0]}"]
    if one["website"]:
        assert got["Website Twin"]["verdict"] == "duplicate"
        assert got["Website Twin"]["reasons"][0].startswith("same website")
    if two["website"]:  # repeats row 2's org-id in the file
        assert got["Two Sites"]["verdict"] == "bad"


async def test_xlsx_and_multipart_uploads(client: AsyncTestClient, keys: Keys, fresh_db: str) -> None:
    admin = await keys.headers("admin")
    cells = [[sheet_row("Sheet Org CIC").get(c) for c in FLAT_COLUMNS]]
    book = xlsx_bytes([("providers", FLAT_COLUMNS, cells)], made_at=dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC))
    r = await client.post("/imports", content=book, headers={**admin, **XLSX})
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "xlsx" and r.json()["rows"][0]["verdict"] == "new"
    export = (await client.get("/providers/export?format=xlsx&pathway=ACCOM")).content
    assert load_workbook(io.BytesIO(export)).worksheets[0].max_row > 2
    r = await client.post("/imports", files={"file": ("accom.xlsx", export)}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "accom.xlsx"
    assert r.json()["summary"]["duplicate"] == r.json()["summary"]["rows"]
    # two parts named `file`: the second was dropped unseen; which is meant cannot be told, so nothing is read
    before = await fetchval(fresh_db, "select count(*) from import_run")
    two = [("file", ("accom.xlsx", export)), ("file", ("more.csv", flat_csv([{"provider_name": "X", **SERVICE}])))]
    r = await client.post("/imports", files=two, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"field": "file", "problem": "send one file: this form has 2 parts named `file`"}]
    assert await fetchval(fresh_db, "select count(*) from import_run") == before, "no dry run stored"
    # a part of another name beside the file: read as nothing, it was ignored unseen
    for extra, said in (("notes", ""), ("filename", " (the file's name goes in the address: ?filename=...)")):
        r = await client.post("/imports", files={"file": ("a.xlsx", export)}, data={extra: "x"}, headers=admin)
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == [
            {"field": extra, "problem": f"this form takes one part, the file, named `file`{said}"}
        ]
    assert await fetchval(fresh_db, "select count(*) from import_run") == before, "no dry run stored"


async def test_unreadable_files_are_a_422_naming_where(client: AsyncTestClient, keys: Keys) -> None:
    admin = await keys.headers("admin")
    r = await client.post("/imports", content=b"name,colour\r\nx,y\r\n", headers={**admin, **CSV})
    assert r.status_code == 422 and "unknown column 'name'" in r.json()["message"]
    r = await client.post("/imports", content=b"provider_name\r\nx\r\n", headers={**admin, **CSV})
    assert r.status_code == 422 and "legal_form" in r.json()["message"]
    r = await client.post("/imports", content=b"\xff\xfe\x00bad", headers={**admin, **CSV})
    assert r.status_code == 422 and "UTF-8" in r.json()["message"]
    r = await client.post("/imports", content=b"PK\x03\x04 not really", headers={**admin, **ZIP})
    assert r.status_code == 422 and "zip" in r.json()["message"]
    r = await client.post("/imports", content=b"not a zip", headers={**admin, **ZIP})  # read as a CSV, it was told
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file", r.text  # "unknown column 'not a zip'"
    assert r.json()["errors"][0]["problem"].startswith("sent as application/zip, but it is not a zip")
    r = await client.post("/imports", content=b"", headers={**admin, **CSV})
    assert r.status_code == 422
    r = await client.post("/imports", content=b"x" * (10 * 1024 * 1024 + 1), headers={**admin, **CSV})
    assert r.status_code == 413  # how large it may be, said (it was only "Request Entity Too Large")
    assert r.json()["errors"] == [
        {"field": "body", "problem": "is larger than this operation takes (at most 10,485,760 bytes)"}
    ]
    r = await client.post("/imports", content=b"a", headers={**admin, "Content-Type": "image/png"})
    assert r.status_code == 415 and "text/csv" in r.json()["message"]  # the route's own words: what it takes
    r = await client.post("/imports", json={"provider_name": "x"}, headers=admin)
    assert r.status_code == 415 and "multipart/form-data" in r.json()["message"]
    r = await client.post("/imports", content=flat_csv([]), headers={**(await keys.headers("commissioner")), **CSV})
    assert r.status_code == 403
    conn = await asyncpg.connect(keys.dsn)
    try:
        assert await conn.fetchval("select count(*) from import_run") == 0  # nothing stored
    finally:
        await conn.close()


async def test_the_cli_imports_with_progress_and_commits(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    path.write_bytes(flat_csv([sheet_row("Command Line CIC")]))
    dry = run_cli("import", str(path), dsn=fresh_db)
    assert dry.returncode == 0, dry.stderr
    assert "reading" in dry.stderr and "1 new" in dry.stdout
    done = run_cli("import", str(path), "--commit", dsn=fresh_db)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("select status from provider where name = 'Command Line CIC'") == "pending"
    finally:
        await conn.close()
    again = run_cli("import", str(path), dsn=fresh_db)
    assert "1 duplicate" in again.stdout


def repack(package: bytes, change: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change.get(name, src.read(name)))
    return out.getvalue()


async def test_a_package_row_without_its_pathway_is_bad_and_a_dangling_link_refuses_the_file(
    client: AsyncTestClient, keys: Keys
) -> None:
    admin = await keys.headers("admin")
    package = (await client.get("/providers/export?format=hsds&pathway=ACCOM&area=E06000020")).content
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        services = list(csv.DictReader(io.StringIO(z.read("services.csv").decode(), newline="")))
        attributes = z.read("attributes.csv").decode().splitlines(keepends=True)
        raw_services = z.read("services.csv").decode()
    victim = services[0]["id"]
    kept = "".join(line for line in attributes if victim not in line).encode()
    r = await client.post("/imports", content=repack(package, {"attributes.csv": kept}), headers={**admin, **ZIP})
    assert r.status_code == 201, r.text
    bad = [x for x in r.json()["rows"] if x["verdict"] == "bad"]
    assert len(bad) == 1
    assert bad[0]["problems"][0] == {
        "row": 2,
        "column": "attributes",
        "problem": "a service needs exactly one pathway term (0 found)",
        "file": "services.csv",
    }
    dangling = raw_services.replace(services[0]["organization_id"], "00000000-0000-0000-0000-000000000000").encode()
    r = await client.post("/imports", content=repack(package, {"services.csv": dangling}), headers={**admin, **ZIP})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "services.csv row 2, column organization_id"


def test_names_fold_legal_suffixes_accents_and_saints() -> None:
    from marketplace.imports.dedupe import fold_name, site

    assert fold_name("St Mary's Housing Trust Ltd") == fold_name("Saint Marys Housing")
    assert fold_name("Bridge & Way CIC") == fold_name("bridge and way")
    assert fold_name("Café Élan Limited") == fold_name("cafe elan")
    assert fold_name("The Trust") == "the trust"  # nothing left but suffixes: keep the words
    assert site("https://www.Example.org/") == site("http://example.org") == "example.org"


def test_names_in_any_script_fold_to_their_words_and_ascii_names_fold_as_before() -> None:
    """Folding kept only [a-z0-9]: a Greek, Cyrillic, Arabic or Devanagari name folded to nothing, so it was never
    found alike another (and "Børn" became "b rn"). It now keeps the letters and digits of any script (NFKD, marks
    dropped, casefold); an ASCII name folds exactly as the old [a-z0-9] folding did."""
    import random
    import re
    import string
    import unicodedata

    from marketplace.imports.dedupe import LEGAL_SUFFIXES, Directory, Known, fold_name

    def ascii_fold(name: str) -> str:  # the folding as it was, for names it always handled
        text = unicodedata.normalize("NFKD", name.lower().replace("&", " and "))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        words = re.split(r"[^a-z0-9]+", text.replace("st.", "saint ").replace("'", ""))
        words = ["saint" if w == "st" else w for w in words if w]
        kept = [w for w in words if w not in LEGAL_SUFFIXES]
        return " ".join(kept or words)

    assert fold_name("ΣΎΛΛΟΓΟΣ Φίλων Ltd") == fold_name("Σύλλογος φίλων") == "συλλογοσ φιλων"
    assert fold_name("БЛАГОТВОРИТЕЛЬНЫЙ ФОНД «Добрый»") == fold_name("Благотворительный фонд Добрыи")
    assert fold_name("جَمعِيَّة الخَير") == fold_name("جمعية الخير") == "جمعية الخير"  # harakat are marks
    assert fold_name("जन सेवा समिति") == "जन सेवा समिति"  # vowel signs stay in their word
    assert fold_name("Børn & Unge") == fold_name("Born and Unge")
    assert fold_name("Straße Trust") == "strasse"
    assert fold_name("St Mary’s") == fold_name("St Mary's") == "saint marys"
    rng = random.Random(20261130)
    names = ["St. John's & Co Ltd", "THE TRUST", "a_b-c", "Café Élan CIC", "x²", *string.printable.split()]
    names += ["".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30))) for _ in range(5000)]
    assert [fold_name(n) for n in names] == [ascii_fold(n) for n in names]

    d = Directory(
        [
            Known(1, "Ελληνική Κοινότητα Χέρεφορντ", "published", None, (), frozenset({"E06000019"})),
            Known(2, "Благотворительный фонд Добро", "published", None, (), frozenset({"E06000019"})),
        ]
    )
    verdict, candidates = d.judge("ΕΛΛΗΝΙΚΗ ΚΟΙΝΟΤΗΤΑ ΧΕΡΕΦΟΡΝΤ CIC", [], None, {"E06000019"})
    assert verdict == "duplicate" and candidates[0].provider_id == 1, candidates
    verdict, candidates = d.judge("БЛАГОТВОРИТЕЛЬНЫЙ ФОНД ДОБРО", [], None, {"E06000019"})
    assert verdict == "duplicate" and candidates[0].provider_id == 2, candidates
    assert d.judge("Фонд Добро Мира Ассоциация", [], None, {"E06000019"}) == ("new", [])


def test_the_cli_names_a_file_it_cannot_read(fresh_db: str, tmp_path: Path) -> None:
    done = run_cli("import", str(tmp_path / "missing.csv"), dsn=fresh_db)
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_verdicts_one_strong_candidate_is_a_duplicate_two_are_ambiguous() -> None:
    from marketplace.imports.dedupe import Directory, Known

    def known(pid: int, name: str, website: str | None = None, ids: tuple[str, ...] = ()) -> Known:
        return Known(pid, name, "published", website, ids, frozenset({"E06000019", "E12000005"}))

    d = Directory(
        [
            known(1, "Ledbury Lanterns CIC", "https://lanterns.example"),
            known(2, "Lantern Lights", "https://lanterns.example"),
            known(3, "Worcester Keys Trust", ids=("GB-CHC-1234567",)),
            known(4, "Worcester Keys", "https://keys.example"),
        ]
    )
    assert d.judge("Something Else", [], None, {"E06000019"}) == ("new", [])
    verdict, candidates = d.judge("Other Name", [], "http://www.lanterns.example/", set())
    assert verdict == "ambiguous" and {c.provider_id for c in candidates} == {1, 2}
    verdict, candidates = d.judge("Worcester Keys", ["GB-CHC-1234567"], "https://keys.example", {"E06000019"})
    assert verdict == "duplicate" and candidates[0].provider_id == 3  # the org-id decides between strong candidates
    assert candidates[0].score == 1.0 and "same org-id GB-CHC-1234567" in candidates[0].reasons
    verdict, candidates = d.judge("Ledbury Lanterns", [], None, {"E06000019"})
    assert verdict == "duplicate" and candidates[0].provider_id == 1
    verdict, candidates = d.judge("Ledbury Lanterns", [], None, {"E07000001"})  # no shared area: a weak reason only
    assert verdict == "ambiguous" and candidates[0].reasons[0].endswith("no shared area")


async def test_an_organisation_with_more_services_than_a_new_provider_may_bring_is_bad_not_a_500(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A new provider brings at most MAX_NEW_SERVICES services: the dry run says so of the organisation (its first
    service over the limit named), so committing it cannot fail later (it used to give a 500 at commit)."""
    admin = await keys.headers("admin")
    rows = [sheet_row("Sixty Services Grebe CIC", service_name=f"Service {i}") for i in range(MAX_NEW_SERVICES + 1)] + [
        sheet_row("One Service Heron CIC")
    ]
    import_id, got = await dry_run(client, admin, rows)
    big = got["Sixty Services Grebe CIC"]
    assert big["verdict"] == "bad", big
    [problem] = big["problems"]
    assert f"at most {MAX_NEW_SERVICES} services" in problem["problem"]
    assert problem["row"] == MAX_NEW_SERVICES + 2  # the header is row 1: the 51st service's row
    assert got["One Service Heron CIC"]["verdict"] == "new"
    commit = await client.post(f"/imports/{import_id}/commit", json={"accept": "new"}, headers=admin)
    assert commit.status_code == 200, commit.text


async def test_commits_take_turns_across_imports_so_one_organisation_is_created_once(
    client: AsyncTestClient, keys: Keys, fresh_db: str
) -> None:
    """Two dry runs of the same new organisation, committed at the same moment, used to create it twice: each commit
    only waited for commits of its own import. Commits now take one lock: while another transaction holds it a commit
    waits, and once it goes on it judges its rows against what the other left (one 200, one 409)."""
    admin = await keys.headers("admin")
    csv_body = flat_csv([sheet_row("Oxbow Marigold Foundry Ltd")])
    ids = []
    for _ in range(2):
        r = await client.post("/imports", content=csv_body, headers={**admin, **CSV})
        assert r.status_code == 201 and r.json()["rows"][0]["verdict"] == "new", r.text
        ids.append(r.json()["id"])
    held, released = threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # another session's commit in progress: its own thread, loop and connection
        async def hold() -> None:
            conn = await db.connect(fresh_db)
            try:
                async with conn.transaction():
                    await conn.execute("select pg_advisory_xact_lock(hashtextextended('import_commit', 0))")
                    held.set()
                    await asyncio.sleep(1.5)
            finally:
                await conn.close()
                released.set()

        asyncio.run(hold())

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert await asyncio.to_thread(held.wait, 30)
    first = await client.post(f"/imports/{ids[0]}/commit", json={"accept": "new"}, headers=admin)
    assert released.is_set(), "a commit went on while another session held the commits' lock"
    await asyncio.to_thread(holder.join)
    assert first.status_code == 200, first.text
    second = await client.post(f"/imports/{ids[1]}/commit", json={"accept": "new"}, headers=admin)
    assert second.status_code == 409, second.text
    found = await client.get("/providers", params={"q": "Oxbow Marigold Foundry", "status": "pending"}, headers=admin)
    assert found.status_code == 200, found.text
    assert [p["name"] for p in found.json()["items"]].count("Oxbow Marigold Foundry Ltd") == 1


async def test_accepting_new_rows_when_there_are_none_is_refused_and_leaves_the_import_open(
    client: AsyncTestClient, keys: Keys
) -> None:
    """`{"accept": "new"}` on a dry run with no new row used to commit nothing and close the import for good (its
    ambiguous rows could no longer be taken); it is now a 422 naming `accept`, and the import stays open."""
    admin = await keys.headers("admin")
    existing = (await client.get("/providers/1")).json()
    row = sheet_row(existing["name"], legal_form=existing["legal_form"], areas=existing["services"][0]["areas"][0])
    r = await client.post("/imports", content=flat_csv([row]), headers={**admin, **CSV})
    assert r.status_code == 201 and r.json()["summary"]["new"] == 0, r.text
    import_id = r.json()["id"]
    refused = await client.post(f"/imports/{import_id}/commit", json={"accept": "new"}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["accept"]
    assert (await client.get(f"/imports/{import_id}", headers=admin)).json().get("commit") is None
    again = await client.post(
        f"/imports/{import_id}/commit", json={"accept": [r.json()["rows"][0]["row"]]}, headers=admin
    )
    assert again.status_code == 200, again.text  # still open: a row named by number is applied (here: not applied)


async def test_a_file_sent_with_the_type_windows_or_a_browser_gives_it_is_read_by_its_content(
    client: AsyncTestClient, keys: Keys
) -> None:
    """Windows calls a .csv `application/vnd.ms-excel` and a .zip `application/x-zip-compressed`, and many tools send
    any file as `application/octet-stream`: each is taken, the content telling which kind of file it is (such a file
    used to be a 415 saying the body must be JSON)."""
    admin = await keys.headers("admin")
    body = flat_csv([sheet_row("Ledbury Lanterns CIC")])
    for media in ("application/vnd.ms-excel", "application/octet-stream"):
        r = await client.post("/imports", content=body, headers={**admin, "Content-Type": media})
        assert r.status_code == 201, r.text
        assert r.json()["format"] == "csv" and r.json()["rows"][0]["verdict"] == "new"
    r = await client.post(
        "/imports", content=b"PK\x03\x04 not really", headers={**admin, "Content-Type": "application/x-zip-compressed"}
    )
    assert r.status_code == 422 and "zip" in r.json()["message"]


async def test_a_column_named_twice_refuses_the_file_naming_the_file_and_the_column(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A package CSV with a column named twice kept the last one's values and dropped the first's unseen (a flat
    sheet was refused, but without saying which column): either is now a 422 naming the file and the column."""
    admin = await keys.headers("admin")
    package = (await client.get("/providers/export?format=hsds&pathway=ACCOM&area=E06000020")).content
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        organizations = list(csv.reader(io.StringIO(z.read("organizations.csv").decode(), newline="")))
    column = organizations[0].index("name") + 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [[*organizations[0], "name"], *[[*r, f"Another {r[column - 1]}"] for r in organizations[1:]]]
    )
    changed = repack(package, {"organizations.csv": out.getvalue().encode()})
    r = await client.post("/imports", content=changed, headers={**admin, **ZIP})
    assert r.status_code == 422, r.text
    assert "organizations.csv" in r.json()["message"] and "'name'" in r.json()["message"]
    assert [e["field"] for e in r.json()["errors"]] == ["organizations.csv row 1, column name"]
    assert f"columns {column} " in r.json()["errors"][0]["problem"], r.json()

    columns = [*FLAT_COLUMNS, "areas"]
    sheet = io.StringIO()
    csv.writer(sheet, lineterminator="\r\n").writerows(
        [columns, [sheet_row("Twice Areas CIC").get(c, "") for c in columns]]
    )
    r = await client.post("/imports", content=sheet.getvalue().encode(), headers={**admin, **CSV})
    assert r.status_code == 422, r.text
    assert "'areas'" in r.json()["message"], r.json()
    assert [e["field"] for e in r.json()["errors"]] == ["row 1, column areas"]


async def test_values_under_a_column_with_no_name_refuse_the_sheet(client: AsyncTestClient, keys: Keys) -> None:
    """Cells under a blank header cell were dropped unseen: with a value under it the sheet is now a 422 naming the
    column (number and letter) and the first row holding one; a blank header cell over empty cells is no problem."""
    admin = await keys.headers("admin")
    columns = [*FLAT_COLUMNS, ""]
    row = sheet_row("Unnamed Column CIC")
    sheet = io.StringIO()
    csv.writer(sheet, lineterminator="\r\n").writerows(
        [columns, [row.get(c, "") for c in columns], [*[row.get(c, "") for c in FLAT_COLUMNS], "E06000020"]]
    )
    r = await client.post("/imports", content=sheet.getvalue().encode(), headers={**admin, **CSV})
    assert r.status_code == 422, r.text
    letter = get_column_letter(len(columns))
    assert f"column {len(columns)} ({letter}) has no name" in r.json()["message"], r.json()
    assert [e["field"] for e in r.json()["errors"]] == [f"row 3, column {len(columns)} ({letter}), no name"]
    sheet = io.StringIO()
    csv.writer(sheet, lineterminator="\r\n").writerows([columns, [row.get(c, "") for c in columns]])
    r = await client.post("/imports", content=sheet.getvalue().encode(), headers={**admin, **CSV})
    assert r.status_code == 201 and r.json()["rows"][0]["verdict"] == "new", r.text


async def test_an_organisations_later_rows_that_say_otherwise_make_it_bad_not_silently_dropped(
    client: AsyncTestClient, keys: Keys
) -> None:
    """An organisation over several rows (one per service) is read from its first row: a later row's different
    website, or an email its first row does not give, was dropped unseen. Each is now a problem of its row and
    column; the same values, or empty cells, on the later rows are fine."""
    admin = await keys.headers("admin")
    org = {"provider_name": "Three Rows Kestrel CIC", "legal_form": "cic", "website": "https://kestrel.example"}
    agreeing = {"provider_name": "Two Rows Plover CIC", "legal_form": "cic", "identifiers": "GB-COH-01234567"}
    rows = [
        {**org, **SERVICE},
        {**org, **SERVICE, "service_name": "Kestrel two", "website": "https://other.example"},
        {**org, **SERVICE, "service_name": "Kestrel three", "contact_email": "hello@kestrel.example"},
        {**org, **SERVICE, "service_name": "Kestrel four", "provider_name": "THREE ROWS KESTREL CIC"},
        {**agreeing, **SERVICE},
        {**SERVICE, "provider_name": "Two Rows Plover CIC", "legal_form": "", "service_name": "Plover two"},
        {**agreeing, **SERVICE, "service_name": "Plover three", "identifiers": " GB-COH-01234567 ;"},
    ]
    _, got = await dry_run(client, admin, rows)
    kestrel = got["Three Rows Kestrel CIC"]
    assert kestrel["verdict"] == "bad" and kestrel["rows"] == [2, 3, 4, 5], kestrel
    assert [(p["row"], p["column"]) for p in kestrel["problems"]] == [(3, "website"), (4, "contact_email")]
    differs = "'https://other.example' differs from 'https://kestrel.example' on row 2"
    assert differs in kestrel["problems"][0]["problem"]
    assert "not on row 2" in kestrel["problems"][1]["problem"]
    plover = got["Two Rows Plover CIC"]
    assert plover["verdict"] == "new" and plover["services"] == 3, plover


async def test_a_bad_row_is_told_every_problem_in_the_words_the_api_uses_elsewhere(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A bad row was told only its first problem, in the decoder's words ("Expected `str` matching regex ..."). It
    is now told every problem (at most 20 a row, then how many more), each as the API's other routes say it: what
    to enter, the codes' form and the closest code, the values allowed."""
    admin = await keys.headers("admin")
    many = sheet_row(
        "Many Problems Wren CIC",
        identifiers="12345",
        founded_year="19x",
        contact_email="not an email",
        pathway="ete",
        min_age="eighteen",
        gender="female",
        areas="E06000019; herefordshire; E06000099",
    )
    lots = sheet_row("Lots Of Areas Finch CIC")
    lots["areas"] = "; ".join(f"X{i}" for i in range(25))
    _, got = await dry_run(client, admin, [many, lots])
    problems = got["Many Problems Wren CIC"]["problems"]
    assert got["Many Problems Wren CIC"]["verdict"] == "bad"
    told = {p["column"]: p["problem"] for p in problems if p["column"] != "areas"}
    assert told == {
        "identifiers": told["identifiers"],
        "founded_year": "enter a whole number from 1600 to 2100",
        "contact_email": told["contact_email"],
        "pathway": told["pathway"],
        "min_age": "enter a whole number from 0 to 120",
        "gender": "'female' is not one of the values allowed: both, men, women; did you mean women?",
    }, problems
    assert told["identifiers"].startswith("use the form GB-CHC-1234567")
    assert told["contact_email"].startswith("must be an e-mail address")
    assert "did you mean ETE" in told["pathway"]
    areas = [p["problem"] for p in problems if p["column"] == "areas"]
    assert len(areas) == 2 and "did you mean E06000019 (Herefordshire)?" in areas[0], areas
    assert areas[1].startswith("unknown area code 'E06000099'"), areas
    assert all(p["row"] == 2 for p in problems)
    for p in problems:
        assert not any(word in p["problem"] for word in ("Expected", "regex", "`", "null")), p
    lots_told = got["Lots Of Areas Finch CIC"]["problems"]
    assert len(lots_told) == 21 and all(p["row"] == 3 and p["column"] == "areas" for p in lots_told), lots_told
    assert lots_told[0]["problem"].startswith("'X0' is not an area code: areas are ONS GSS codes")
    assert lots_told[-1]["problem"].startswith("and 5 more problems on this row, not listed"), lots_told[-1]


async def test_a_malformed_org_id_is_told_beside_the_rows_other_problems(client: AsyncTestClient, keys: Keys) -> None:
    """An identifier of the right shape but not its register's form (`GB-CHC-12`: a charity number has 6 or 7
    digits), or a founding year to come, was told only once the row's cells that could not be read were put right:
    the organisation's own rules ran only on an organisation read whole. Now they run on what of it can be read."""
    admin = await keys.headers("admin")
    bad_cells = sheet_row(
        "Hidden Problems Heron CIO",
        legal_form="cio",
        identifiers="GB-CHC-12; GB-CHC-1234567; 12345",
        founded_year="19x",
        contact_email="not an email",
    )
    to_come = sheet_row("Future Kite CIC", founded_year="2099")
    to_come["contact_email"] = "nope"
    _, got = await dry_run(client, admin, [bad_cells, to_come])
    told = [(p["column"], p["problem"]) for p in got["Hidden Problems Heron CIO"]["problems"]]
    assert [c for c, _ in told] == ["identifiers", "founded_year", "contact_email", "identifiers"], told
    assert told[0][1].startswith("use the form GB-CHC-1234567")  # 12345: the decoder's, for a shape of no scheme
    assert told[3][1] == "'GB-CHC-12' is not a valid GB-CHC identifier: use the form GB-CHC-1234567", told
    assert [(p["column"], p["problem"]) for p in got["Future Kite CIC"]["problems"]][-1] == (
        "founded_year",
        f"is after this year ({dt.date.today().year})",
    ), got["Future Kite CIC"]["problems"]
    assert {x["verdict"] for x in got.values()} == {"bad"}


async def test_a_package_row_is_told_every_problem_in_plain_words(client: AsyncTestClient, keys: Keys) -> None:
    """The same in an HSDS package: a services.csv row with two bad ages is told both, on their columns."""
    admin = await keys.headers("admin")
    package = (await client.get("/providers/export?format=hsds&pathway=ACCOM&area=E06000020")).content
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        services = list(csv.DictReader(io.StringIO(z.read("services.csv").decode(), newline="")))
    services[0] |= {"minimum_age": "eighteen", "maximum_age": "200"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(services[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(services)
    r = await client.post(
        "/imports", content=repack(package, {"services.csv": out.getvalue().encode()}), headers={**admin, **ZIP}
    )
    assert r.status_code == 201, r.text
    [bad] = [x for x in r.json()["rows"] if x["verdict"] == "bad"]
    assert bad["problems"] == [
        {"row": 2, "column": "minimum_age", "problem": "enter a whole number from 0 to 120", "file": "services.csv"},
        {"row": 2, "column": "maximum_age", "problem": "must be 120 or less", "file": "services.csv"},
    ]


async def test_two_alike_organisations_in_one_file_the_dry_run_says_so_and_both_can_be_committed(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A file with two organisations a duplicate check calls the same could never be committed: the dry run judged
    each row against the directory only (both new), the commit also against the rows it had just created (409 on
    the second, whatever was accepted). The dry run now judges each row against the file's earlier rows too: the
    second is ambiguous, its candidate the first row, said naming both rows; accepting both creates both, accepting
    the new ones creates the first only; and the commit judges the rows against the directory only, as the dry run
    did, so it does what the dry run said."""
    admin = await keys.headers("admin")
    first = sheet_row("Oxbow Heron Lantern Works CIC")
    second = {**first, "provider_name": "Oxbow Heron Lantern Works Ltd", "service_name": "Heron evenings"}
    other = sheet_row("Quite Unrelated Bittern Co")
    body = flat_csv([first, second, other])
    r = await client.post("/imports", content=body, headers={**admin, **CSV})
    assert r.status_code == 201, r.text
    run = r.json()
    verdicts = {x["row"]: x for x in run["rows"]}
    assert [verdicts[n]["verdict"] for n in (2, 3, 4)] == ["new", "ambiguous", "new"], run["rows"]
    [candidate] = verdicts[3]["candidates"]
    assert candidate["row"] == 2 and candidate["provider_id"] is None, candidate
    assert candidate["name"] == "Oxbow Heron Lantern Works CIC" and candidate["status"] == "new"
    assert any("same area (E06000019)" in reason for reason in candidate["reasons"]), candidate
    [said] = verdicts[3]["reasons"]
    assert said.startswith("row 3 may be the same organisation as row 2 (Oxbow Heron Lantern Works CIC)"), said
    assert "Accept both rows to create both" in said
    assert run["summary"] == {"rows": 3, "new": 2, "duplicate": 0, "ambiguous": 1, "bad": 0, "services": 3}

    r = await client.post(f"/imports/{run['id']}/commit", json={"accept": [2, 3, 4]}, headers=admin)
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["created", "created", "created"]
    found = await client.get("/providers", params={"q": "Oxbow Heron Lantern", "status": "pending"}, headers=admin)
    names = sorted(p["name"] for p in found.json()["items"])
    assert names == ["Oxbow Heron Lantern Works CIC", "Oxbow Heron Lantern Works Ltd"], names

    # accepting the new rows of such a file takes the first of the two and not the second
    first = {**first, "provider_name": "Kiln Lane Grebe Collective CIC"}
    second = {**second, "provider_name": "Kiln Lane Grebe Collective Ltd"}
    r = await client.post("/imports", content=flat_csv([first, second]), headers={**admin, **CSV})
    assert [x["verdict"] for x in r.json()["rows"]] == ["new", "ambiguous"], r.json()["rows"]
    done = await client.post(f"/imports/{r.json()['id']}/commit", json={"accept": "new"}, headers=admin)
    assert done.status_code == 200, done.text
    assert [(x["row"], x["outcome"]) for x in done.json()["results"]] == [(2, "created")]


async def test_a_row_ambiguous_with_an_earlier_row_stops_the_commit_when_the_directory_gains_a_candidate_for_it(
    client: AsyncTestClient, keys: Keys
) -> None:
    """The commit does what the dry run said or nothing: a row the dry run called ambiguous (only because of an
    earlier row of the file) that the directory has since gained candidates for is a 409, not created unseen."""
    admin = await keys.headers("admin")
    first = sheet_row("Oxbow Heron Lantern Works CIC")
    second = {**first, "provider_name": "Oxbow Heron Lantern Works Ltd", "website": "https://heron-lantern.example"}
    r = await client.post("/imports", content=flat_csv([first, second]), headers={**admin, **CSV})
    assert [x["verdict"] for x in r.json()["rows"]] == ["new", "ambiguous"], r.json()["rows"]
    waiting = r.json()["id"]
    meanwhile = [  # two providers of that website elsewhere: candidates of row 3, neither decided on
        sheet_row(name, website="https://heron-lantern.example/")
        for name in ("Marram Sedge Alliance", "Tern Quarry Fellowship")
    ]
    r = await client.post("/imports", content=flat_csv(meanwhile), headers={**admin, **CSV})
    assert (await client.post(f"/imports/{r.json()['id']}/commit", json={"accept": [2, 3]}, headers=admin)).is_success
    r = await client.post(f"/imports/{waiting}/commit", json={"accept": [2, 3]}, headers=admin)
    assert r.status_code == 409, r.text
    assert r.json()["message"].startswith("row 3 (Oxbow Heron Lantern Works Ltd) is now a possible duplicate")
    assert "same website" in r.json()["errors"][0]["problem"]
    found = await client.get("/providers", params={"q": "Oxbow Heron Lantern", "status": "pending"}, headers=admin)
    assert found.json()["total"] == 0  # all or nothing


async def test_a_files_name_with_control_characters_is_refused_naming_where_it_came_from(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A file's name is kept with its dry run: one holding NUL (which PostgreSQL's text cannot hold) or another control
    character was a 400 naming no field (the database refused it); it is a 400 naming `filename`, or `file` for the
    name a multipart form gave, and no dry run is stored."""
    admin = await keys.headers("admin")
    body = flat_csv([sheet_row("Ledbury Lanterns CIC")])

    async def stored() -> int:
        conn = await asyncpg.connect(keys.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM import_run"))
        finally:
            await conn.close()

    before = await stored()
    r = await client.post("/imports", params={"filename": "lanterns\x00.csv"}, content=body, headers={**admin, **CSV})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "filename", r.text
    r = await client.post("/imports", files={"file": ("lanterns\x1b.csv", body, "text/csv")}, headers=admin)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file", r.text
    assert await stored() == before
    r = await client.post("/imports", params={"filename": "Lanterns – été.csv"}, content=body, headers={**admin, **CSV})
    assert r.status_code == 201 and r.json()["filename"] == "Lanterns – été.csv"


async def test_a_number_cell_is_read_from_plain_digits_only(client: AsyncTestClient, keys: Keys) -> None:
    """A lenient reading took `1E3` as 1000 and `1_000` as 1000 (a cell in a sheet is text, as a form's box is): each
    is now a problem on its row and column, and the row is bad."""
    admin = await keys.headers("admin")
    rows = [
        sheet_row("Exponent Trust", min_age="1E1"),
        sheet_row("Underscore Trust", founded_year="1_990"),
        sheet_row("Plain Numbers Trust", founded_year="1990"),
    ]
    _, verdicts = await dry_run(client, admin, rows)
    assert verdicts["Plain Numbers Trust"]["verdict"] == "new"
    for name, column, said in (
        ("Exponent Trust", "min_age", "enter a whole number from 0 to 120"),
        ("Underscore Trust", "founded_year", "enter a whole number from 1600 to 2100"),
    ):
        row = verdicts[name]
        assert row["verdict"] == "bad", row
        assert [(p["column"], p["problem"]) for p in row["problems"]] == [(column, said)], row["problems"]


async def test_values_under_a_column_with_no_name_refuse_a_package_too(client: AsyncTestClient, keys: Keys) -> None:
    """A package CSV with values under a header cell with no name was read without them and nothing said (a flat
    sheet was refused): it is a 422 naming the file, the column and the first row holding one. A header's names
    are read trimmed, as a flat sheet's are."""
    admin = await keys.headers("admin")
    package = (await client.get("/providers/export?format=hsds&pathway=ACCOM&area=E06000020")).content
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        services = list(csv.reader(io.StringIO(z.read("services.csv").decode(), newline="")))
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [[*services[0], ""], *[[*r, "kept nowhere"] for r in services[1:]]]
    )
    r = await client.post(
        "/imports", content=repack(package, {"services.csv": out.getvalue().encode()}), headers={**admin, **ZIP}
    )
    assert r.status_code == 422, r.text
    n = len(services[0]) + 1
    assert r.json()["message"].startswith(f"services.csv: column {n} (") and "row 2 is the first" in r.json()["message"]

    spaced = io.StringIO()
    csv.writer(spaced, lineterminator="\r\n").writerows([[f" {h} " for h in services[0]], *services[1:]])
    r = await client.post(
        "/imports", content=repack(package, {"services.csv": spaced.getvalue().encode()}), headers={**admin, **ZIP}
    )
    assert r.status_code == 201, r.text
    assert r.json()["summary"]["duplicate"] == r.json()["summary"]["rows"]


async def test_a_package_service_with_two_cost_options_is_told_not_read_as_its_first(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A service holds one cost: a package giving one service a second cost option had the first read and the second
    dropped unseen. The second is now a problem on its row of cost_options.csv, naming the first."""
    admin = await keys.headers("admin")
    package = (await client.get("/providers/export?format=hsds&pathway=ACCOM&area=E06000020")).content
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        costs = list(csv.DictReader(io.StringIO(z.read("cost_options.csv").decode(), newline="")))
    assert costs, "the export has a service with a cost"
    extra = costs[0] | {"id": costs[0]["id"] + "-weekly", "option": "per week", "amount": "95"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(costs[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows([costs[0], extra, *costs[1:]])
    r = await client.post(
        "/imports", content=repack(package, {"cost_options.csv": out.getvalue().encode()}), headers={**admin, **ZIP}
    )
    assert r.status_code == 201, r.text
    [bad] = [x for x in r.json()["rows"] if x["verdict"] == "bad"]
    assert bad["problems"] == [
        {
            "row": 3,
            "column": "service_id",
            "problem": "a service holds one cost, and this service's first cost option is row 2: keep one",
            "file": "cost_options.csv",
        }
    ]


async def test_a_cost_in_fractions_of_a_penny_makes_the_row_bad_as_the_api_refuses_it(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A service's cost is stored to the penny, and more decimal places are refused, never rounded: a row with one
    is bad, told on its cost column (committing it would be refused), and a cost in pence is read as given."""
    admin = await keys.headers("admin")
    rows = [
        sheet_row("Fraction Penny Trust", cost_amount="140.555"),
        sheet_row("Whole Penny Trust", cost_amount="140.56"),
    ]
    _, verdicts = await dry_run(client, admin, rows)
    assert verdicts["Whole Penny Trust"]["verdict"] == "new"
    bad = verdicts["Fraction Penny Trust"]
    assert bad["verdict"] == "bad", bad
    assert [(p["column"], p["problem"]) for p in bad["problems"]] == [
        ("cost_amount", "at most 2 decimal places (pounds and pence), not 140.555")
    ], bad["problems"]


# --- the flat sheet's round trip: every part of a profile, and when it was last confirmed ----------------------

PROFILE_OWN = ("id", "version", "created_at", "updated_at", "status", "is_sample", "stale", "to_confirm")
SERVICE_OWN = ("id", "uuid", "version", "created_at", "updated_at")
OVERSIGHT = ("verified_at", "verifications")
"""What the directory gives a profile or a service of its own (ids, versions, its making, its review) and what its
admins record of it (evidence seen), not what its provider says: an import makes the first anew and starts without
the second. (Last confirmed is compared as the day it names.)"""


def day_of(when: str | None) -> dt.date | None:
    return dt.datetime.fromisoformat(when).astimezone(LOCAL_ZONE).date() if when else None


def as_said(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile as its provider says it (its active services: what the export carries), last confirmed as a day."""
    out = {k: v for k, v in profile.items() if k not in PROFILE_OWN + OVERSIGHT}
    out["last_confirmed_at"] = day_of(profile["last_confirmed_at"])
    out["services"] = [
        {k: day_of(v) if k == "last_confirmed_at" else v for k, v in s.items() if k not in SERVICE_OWN + OVERSIGHT}
        for s in profile["services"]
        if s["status"] == "active"
    ]
    return out


def first_rows(sheet: bytes, fmt: str) -> dict[int, int]:
    """Each provider of an exported sheet by the row it starts on (as a spreadsheet numbers rows)."""
    if fmt == "csv":
        ids = [r["provider_id"] for r in csv.DictReader(io.StringIO(sheet.decode("utf-8-sig"), newline=""))]
    else:
        rows = list(load_workbook(io.BytesIO(sheet)).worksheets[0].iter_rows(values_only=True))
        ids = [str(r[rows[0].index("provider_id")]) for r in rows[1:]]
    starts: dict[str, int] = {}
    for n, pid in enumerate(ids, start=2):
        starts.setdefault(pid, n)
    return {n: int(pid) for pid, n in starts.items()}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_the_flat_sheet_round_trips_every_part_of_a_profile(
    fmt: str, read_client: AsyncTestClient, empty_db: str
) -> None:
    """Exported as a flat sheet and imported into an empty directory, each provider comes back as it was: its
    accreditations, social value, finances, volunteers, premises, partners, funding, and each service's outcomes
    records (the sheet left them out), and the days it and its services were last confirmed (an import left them
    null, read as "confirmed when imported")."""
    r = await read_client.get(f"/providers/export?format={fmt}")
    assert r.status_code == 200, r.text
    sheet, original_of = r.content, first_rows(r.content, fmt)
    admin = await Keys(empty_db).headers("admin")
    async with AsyncTestClient(app=create_app(app_settings(empty_db))) as client:
        r = await client.post("/imports", content=sheet, headers={**admin, **(CSV if fmt == "csv" else XLSX)})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["summary"]["new"] == run["summary"]["rows"] == len(original_of), [
            x for x in run["rows"] if x["verdict"] != "new"
        ][:2]
        r = await client.post(f"/imports/{run['id']}/commit", json={"accept": "new"}, headers=admin)
        assert r.status_code == 200, r.text
        parts = Counter[str]()
        for made in r.json()["results"]:
            original = (await read_client.get(f"/providers/{original_of[made['row']]}")).json()
            copy = (await client.get(f"/providers/{made['provider_id']}", headers=admin)).json()
            assert copy["status"] == "pending"
            said, came_back = as_said(original), as_said(copy)
            for part in said:  # part by part, so a difference names its part
                assert came_back[part] == said[part], (original["id"], part)
            assert came_back == said
            parts.update(k for k in ("accreditations", "social_value") if said[k])
            parts.update(k for k, v in {**said["resources"], **said["finances"]}.items() if v)
            parts.update("outcomes" for s in said["services"] if s["outcomes"])
            parts.update("last_confirmed_at" for _ in [1] if said["last_confirmed_at"])
    wanted = ("accreditations", "social_value", "premises", "partner_organisations", "volunteers", "annual_income")
    assert all(parts[p] for p in (*wanted, "reserves_months", "accounts_year_end", "outcomes", "last_confirmed_at"))


async def test_list_items_holding_a_separator_or_quotes_come_back_whole(
    client: AsyncTestClient, keys: Keys, empty_db: str
) -> None:
    """A partner, a funding source or a place whose words hold `;`, `|` or double quotes is one item of its list
    cell, quoted (`"Smith; Jones CIC"`), and imported it is one item again, as written: it came back split in two."""
    pid = 5
    odd = {
        "partner_organisations": ["Smith; Jones CIC", "Ash | Oak Trust", '"Open Door" Partners', "Plain Partner"],
        "other_funding_sources": ["National Lottery; Reaching Communities"],
        "premises": [{"area": "E06000019", "description": "Hub; Bye Street, Ledbury"}],
    }
    admin = await keys.headers("admin")
    r = await client.patch(
        f"/providers/{pid}",
        json={"resources": odd},
        headers={**admin, "If-Match": (await client.get(f"/providers/{pid}", headers=admin)).headers["etag"]},
    )
    assert r.status_code == 200, r.text
    rows = await exported_rows(client, pid)
    assert (
        rows[0]["partner_organisations"]
        == '"Smith; Jones CIC"; "Ash | Oak Trust"; """Open Door"" Partners"; Plain Partner'
    )
    copy = await imported_afresh(empty_db, flat_csv_with(rows, list(rows[0])), CSV, rows[0]["provider_name"])
    assert {k: copy["resources"][k] for k in odd} == odd


NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
"""The app's clock in the last-confirmed tests: today is 2026-12-01 in England."""


@pytest.fixture
async def clocked(fresh_db: str) -> AsyncIterator[tuple[AsyncTestClient, dict[str, str]]]:
    """The app on a database of the test's own at `NOW`, and an admin's headers (made with this module's `Keys`: the
    `keys` fixture's secret may be another import's of conftest)."""
    admin = await Keys(fresh_db).headers("admin")
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=FixedClock(NOW))) as client:
        yield client, admin


async def test_a_last_confirmed_day_to_come_before_the_founding_or_not_a_date_makes_the_row_bad(
    clocked: tuple[AsyncTestClient, dict[str, str]],
) -> None:
    client, admin = clocked
    rows = [
        sheet_row("Tomorrow Trust CIC", provider_last_confirmed="2026-12-02"),
        sheet_row("Early Bird CIC", founded_year="2020", service_last_confirmed="2019-12-31"),
        sheet_row("Garbled Day CIC", provider_last_confirmed="31/03/2026"),
        sheet_row("Today Trust CIC", provider_last_confirmed="2026-12-01"),
    ]
    _, got = await dry_run(client, admin, rows)
    assert got["Tomorrow Trust CIC"]["verdict"] == "bad"
    assert got["Tomorrow Trust CIC"]["problems"] == [
        {
            "row": 2,
            "column": "provider_last_confirmed",
            "problem": "2026-12-02 is after today (2026-12-01): a profile cannot have been confirmed on a day still "
            "to come",
        }
    ]
    [early] = got["Early Bird CIC"]["problems"]
    assert (early["row"], early["column"]) == (3, "service_last_confirmed")
    assert "before the organisation was founded (2020)" in early["problem"]
    [garbled] = got["Garbled Day CIC"]["problems"]
    assert (garbled["row"], garbled["column"]) == (4, "provider_last_confirmed") and "not a date" in garbled["problem"]
    assert got["Today Trust CIC"]["verdict"] == "new"  # today is no day to come


async def test_a_sheets_last_confirmed_days_are_kept_and_shown_and_blank_ones_are_as_before(
    clocked: tuple[AsyncTestClient, dict[str, str]],
) -> None:
    client, admin = clocked
    rows = [
        sheet_row(
            "Confirmed Long Ago CIC",
            founded_year="2010",
            provider_last_confirmed="2025-06-30",
            service_last_confirmed="2025-05-01",
        ),
        sheet_row("Never Said CIC", service_name="Another jobs club"),
    ]
    run_id, got = await dry_run(client, admin, rows)
    assert {x["verdict"] for x in got.values()} == {"new"}
    r = await client.post(f"/imports/{run_id}/commit", json={"accept": "new"}, headers=admin)
    assert r.status_code == 200, r.text
    made = {x["row"]: x["provider_id"] for x in r.json()["results"]}
    dated = (await client.get(f"/providers/{made[2]}", headers=admin)).json()
    assert day_of(dated["last_confirmed_at"]) == dt.date(2025, 6, 30)
    assert day_of(dated["services"][0]["last_confirmed_at"]) == dt.date(2025, 5, 1)
    assert dated["stale"] is True  # confirmed 17 months ago: flagged, not taken for confirmed when imported
    audit = (await client.get("/audit?per_page=20", headers=admin)).json()["items"]
    [made_2] = [a for a in audit if a.get("provider_id") == made[2]]
    assert made_2["detail"] == f"created pending by import {run_id}, row 2, last confirmed 2025-06-30 as the file says"
    blank = (await client.get(f"/providers/{made[3]}", headers=admin)).json()
    assert blank["last_confirmed_at"] is None and blank["services"][0]["last_confirmed_at"] is None
    assert blank["stale"] is False


async def test_a_bad_cell_of_the_new_columns_is_told_on_its_row_and_column(client: AsyncTestClient, keys: Keys) -> None:
    admin = await keys.headers("admin")
    row = sheet_row(
        "Many Parts CIC",
        premises="E06000019: Ledbury hub; E06000020",
        reserves_months="lots",
        provider_accreditations="matrix_standrd",
        outcome_1_outcome="Jobs found",
        outcome_1_measure="people in work",
        outcome_1_period="2025",
        outcome_2_outcome="Courses finished",
        outcome_2_measure="certificates",
        outcome_2_period="2025",
        outcome_2_source="rumour",
    )
    _, by_name = await dry_run(client, admin, [row], [*FLAT_COLUMNS, *outcome_columns(2)])
    got = by_name["Many Parts CIC"]
    assert got["verdict"] == "bad"
    said = {p["column"]: p["problem"] for p in got["problems"]}
    assert said["premises"].startswith("'E06000020' is not a place: write each as its area's code, a colon")
    assert "did you mean matrix_standard" in said["provider_accreditations"]
    assert "commissioner_reported" in said["outcome_2_source"]  # the values it may take
    where = {(p["row"], p["column"]) for p in got["problems"]}
    assert where == {
        (2, "premises"),
        (2, "reserves_months"),
        (2, "provider_accreditations"),
        (2, "outcome_2_source"),
    }, got["problems"]


async def test_a_small_workbook_of_rows_wider_than_its_header_is_refused_at_the_first(
    client: AsyncTestClient, keys: Keys
) -> None:
    """A 300 KB xlsx unpacking to 95 MB (a 2-column header, rows of 2,000 cells) took 41 s to be refused: every row
    was read first. It is refused at its first row with a value right of the header, with the message it had, and
    what comes after is not read (here a last row the parser cannot read, which used to be the reason given)."""
    admin = await keys.headers("admin")
    broken = '<row r="402"><c r="A402" t="n"><v>not a number</v></c></row>'
    bomb = _with_rows(["provider_name", "legal_form"], "".join(_row(r, 2_000) for r in range(2, 402)) + broken)
    r = await client.post("/imports?filename=b.xlsx", content=bomb, headers={**admin, **XLSX})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == "row 2 has more cells than the header has columns", r.json()
    # a header of columns the flat sheet does not have is told before any row is read
    r = await client.post(
        "/imports", content=_with_rows(["provider_name", "colour"], broken), headers={**admin, **XLSX}
    )
    assert r.status_code == 422 and r.json()["message"].startswith("unknown column 'colour'"), r.text


async def test_an_outcomes_period_not_over_or_in_no_form_read_makes_the_row_bad(
    clocked: tuple[AsyncTestClient, dict[str, str]],
) -> None:
    """The rule the API keeps of an outcomes record's period (a period that is over, in a form read as one) keeps a
    sheet's row too, told on its row and its record's period column; a period that is over is taken."""
    client, admin = clocked
    record = {"outcome_1_outcome": "Jobs found", "outcome_1_measure": "people in work"}
    rows = [
        sheet_row("Future Year CIC", **record, outcome_1_period="2031"),
        sheet_row("Garbled Period CIC", **record, outcome_1_period="lots"),
        sheet_row("Past Year CIC", **record, outcome_1_period="2025/26"),
    ]
    _, got = await dry_run(client, admin, rows, [*FLAT_COLUMNS, *outcome_columns(1)])
    assert got["Future Year CIC"]["problems"] == [
        {
            "row": 2,
            "column": "outcome_1_period",
            "problem": "'2031' has not ended yet (it runs to 31 December 2031; today is 2026-12-01): an outcomes "
            "record gives the results of a period that is over",
        }
    ]
    [garbled] = got["Garbled Period CIC"]["problems"]
    assert (garbled["row"], garbled["column"]) == (3, "outcome_1_period")
    assert garbled["problem"].startswith("'lots' is not a period: give a year (2024), a financial or academic year")
    assert got["Past Year CIC"]["verdict"] == "new"


async def test_a_services_county_and_one_of_its_districts_make_the_row_bad(client: AsyncTestClient, keys: Keys) -> None:
    """A service's areas may not hold a county and one of its districts (the API's rule, as a need's): the row is
    bad, told on its areas column, naming both."""
    admin = await keys.headers("admin")
    row = sheet_row("Shire and Town CIC", areas="E10000034; E07000237")
    _, got = await dry_run(client, admin, [row])
    assert got["Shire and Town CIC"]["problems"] == [
        {
            "row": 2,
            "column": "areas",
            "problem": "Worcester (E07000237) is within Worcestershire (E10000034), also one of the service's areas: "
            "list one or the other, not both (Worcestershire covers Worcester already)",
        }
    ]


async def test_an_outcome_note_with_outer_spaces_or_empty_comes_back_as_the_api_stores_it(
    client: AsyncTestClient, keys: Keys, empty_db: str
) -> None:
    """A note sent with a trailing space, or as "", was stored so (`"Seen by the panel "`, `""`), and the flat sheet,
    whose cells are trimmed and whose empty cell is no text, gave back `"Seen by the panel"` and null: a profile
    exported and imported unchanged came back changed. The API stores free text of an outcomes record as a cell gives
    it back (spaces at the ends off, an empty note none), and an import normalises a profile as the API does."""
    pid = 5
    h = await keys.headers("provider", pid)
    record = {"outcome": "Housed ", "measure": " nights", "period": "2025 ", "source": "self_declared"}
    outcomes = [
        {**record, "note": "Seen by the panel ", "reference": " "},
        {**record, "value": 2, "note": "", "reference": "Annual report "},
    ]
    service = {**SERVICE_JSON, "outcomes": outcomes}
    r = await client.post(f"/providers/{pid}/services", json=service, headers=h)
    assert r.status_code == 201, r.text
    stored = [{k: o[k] for k in ("outcome", "measure", "period", "note", "reference")} for o in r.json()["outcomes"]]
    assert stored == [
        {"outcome": "Housed", "measure": "nights", "period": "2025", "note": "Seen by the panel", "reference": None},
        {"outcome": "Housed", "measure": "nights", "period": "2025", "note": None, "reference": "Annual report"},
    ]
    rows = await exported_rows(client, pid)
    original = (await client.get(f"/providers/{pid}", headers=h)).json()
    copy = await imported_afresh(empty_db, flat_csv_with(rows, list(rows[0])), CSV, original["name"])
    said, came_back = as_said(original), as_said(copy)
    assert [s["outcomes"] for s in came_back["services"]] == [s["outcomes"] for s in said["services"]]
    assert came_back == said


async def test_an_xlsx_text_cell_starting_like_a_formula_is_guarded_in_the_csv_and_round_trips_as_xlsx(
    client: AsyncTestClient, keys: Keys, empty_db: str
) -> None:
    """An xlsx's text cells hold text as it is (a phone number "+44 1905 000000", not "'+44 1905 000000"): one
    uploaded starting `=`, `+`, `-` or `@` is imported as that text, exported as CSV it is guarded, and the profile
    exported as xlsx and imported again comes back unchanged (a text itself starting with a quote too)."""
    admin = await keys.headers("admin")
    row = sheet_row(
        "Formula Friends CIC",
        provider_description='=HYPERLINK("http://x")',
        contact_name="@home desk",
        contact_phone="+44 1905 000000",
        service_description="-5% waiting times, weekly.",
        outcome_1_outcome="+ jobs found",
        outcome_1_measure="people in work",
        outcome_1_period="2025",
        outcome_1_note="'=what members call it",
    )
    columns = [*FLAT_COLUMNS, *outcome_columns(1)]
    upload = xlsx_bytes([("providers", columns, [[row.get(c) for c in columns]])], made_at=NOW)
    r = await client.post("/imports", content=upload, headers={**admin, **XLSX})
    assert r.status_code == 201 and r.json()["summary"]["new"] == 1, r.text
    r = await client.post(f"/imports/{r.json()['id']}/commit", json={"accept": "new"}, headers=admin)
    assert r.status_code == 200, r.text
    pid = r.json()["results"][0]["provider_id"]
    original = (await client.get(f"/providers/{pid}", headers=admin)).json()
    assert original["description"] == '=HYPERLINK("http://x")' and original["contact"]["phone"] == "+44 1905 000000"
    assert original["services"][0]["outcomes"][0]["note"] == "'=what members call it"
    sheet = (await client.get("/providers/export?format=csv&status=pending", headers=admin)).content
    [mine] = [
        r for r in csv.DictReader(io.StringIO(sheet.decode("utf-8-sig"), newline="")) if r["provider_id"] == str(pid)
    ]
    assert mine["provider_description"] == '\'=HYPERLINK("http://x")' and mine["contact_phone"] == "'+44 1905 000000"
    assert mine["contact_name"] == "'@home desk" and mine["service_description"] == "'-5% waiting times, weekly."
    assert mine["outcome_1_outcome"] == "'+ jobs found" and mine["outcome_1_note"] == "''=what members call it"
    r = await client.get("/providers/export?format=xlsx&status=pending", headers=admin)
    exported = r.content
    sheet_rows = list(load_workbook(io.BytesIO(exported)).worksheets[0].iter_rows(values_only=True))
    header = list(sheet_rows[0])
    [phone] = [x[header.index("contact_phone")] for x in sheet_rows[1:] if x[0] == pid]
    assert phone == "+44 1905 000000"
    copy = await imported_afresh(empty_db, exported, XLSX, "Formula Friends CIC")
    assert as_said(copy) == as_said(original)
