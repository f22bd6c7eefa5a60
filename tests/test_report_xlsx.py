"""Reports as xlsx: the CSV's rows a sheet per row type (numbers as numbers), the report's other sections a sheet
each; a frozen report's workbook made from its stored bytes, the same every time."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import zipfile

import pytest
import test_report_render
from openpyxl import load_workbook
from test_reports import matched

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def in_memory_report():
    """test_report_render's report, built in memory (no database)."""
    return test_report_render.report.__wrapped__()


def with_market_response(report, **fields):
    """`report` with a market response of two responses (`fields` set the rest: needs, withdrawn, not_counted)."""
    import msgspec

    from marketplace.engagement.models import MarketResponse

    given = {"withdrawn": 0, "needs": [], "not_counted": [], **fields}
    mr = MarketResponse(
        exercise_id=1, published=True, deadline=None, responses=2, threshold=0.6, clarifications=[], **given
    )
    return msgspec.structs.replace(report, market_response=mr)


def sheets(body: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(body))
    return {s.title: list(s.iter_rows(values_only=True)) for s in book.worksheets}


async def test_the_report_as_xlsx_a_sheet_per_section(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    xid = await matched(client, fresh_db, h)
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    r = await client.get(f"/exercises/{xid}/report?format=xlsx", headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"] == XLSX and ".xlsx" in r.headers["content-disposition"]
    book = sheets(r.content)
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await client.get(f"/exercises/{xid}/report?format=csv", headers=h)).content.decode("utf-8-sig")
            )
        )
    )
    for kind, sheet in (("need", "needs"), ("cell", "cells"), ("candidate", "candidates")):
        assert len(book[sheet]) - 1 == sum(1 for row in rows if row["row_type"] == kind)
        assert list(book[sheet][0]) == list(rows[0])
    header = list(book["candidates"][0])
    scores = [row[header.index("total_score")] for row in book["candidates"][1:]]
    assert scores and all(isinstance(s, float | int) for s in scores)
    assert all(isinstance(row[header.index("need_id")], int) for row in book["candidates"][1:])
    for section in ("totals", "method", "partnerships", "exercise"):
        assert section in book, sorted(book)
    totals = dict(book["totals"][1:])
    assert all(totals[k] == v for k, v in report["totals"].items() if isinstance(v, int | float))
    r = await client.get(f"/exercises/{xid}/report", headers={**h, "Accept": XLSX})
    assert r.headers["content-type"] == XLSX


async def test_a_frozen_report_as_xlsx_is_the_same_every_time(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    xid = await matched(client, fresh_db, h)
    r = await client.post(f"/exercises/{xid}/reports", headers=h)
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    body = (await client.get(f"{location}?format=xlsx", headers=h)).content
    await asyncio.sleep(1.1)  # the zip's times have a 2 s resolution: a second apart, a clock's time could show
    again = (await client.get(location, headers={**h, "Accept": XLSX})).content
    assert body == again  # the same file, byte for byte: made at the time the report was
    first = sheets(body)
    assert "candidates" in first
    frozen = (await client.get(location, headers=h)).json()
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        core = z.read("docProps/core.xml").decode()
        stamps = {info.date_time for info in z.infolist()}
    made = dt.datetime.fromisoformat(frozen["generated_at"]).astimezone(dt.UTC).replace(microsecond=0)
    assert f'<dcterms:created xsi:type="dcterms:W3CDTF">{made:%Y-%m-%dT%H:%M:%SZ}</dcterms:created>' in core
    assert f">{made:%Y-%m-%dT%H:%M:%SZ}</dcterms:modified>" in core
    assert stamps == {(made.year, made.month, made.day, made.hour, made.minute, made.second // 2 * 2)}
    stored = list(
        csv.DictReader(io.StringIO((await client.get(f"{location}?format=csv", headers=h)).content.decode("utf-8-sig")))
    )
    assert len(first["candidates"]) - 1 == sum(1 for row in stored if row["row_type"] == "candidate")


async def test_the_report_command_writes_a_workbook(databases, template_db, tmp_path):
    from conftest import run_cli
    from test_reports import exercise_id

    name = await databases.create("cli-xlsx", template=template_db)
    dsn = databases.dsn(name)
    xid = await exercise_id(dsn)
    assert run_cli("match-exercise", str(xid), dsn=dsn).returncode == 0
    out = tmp_path / "report.xlsx"
    result = run_cli("report", str(xid), "--format", "xlsx", "-o", str(out), dsn=dsn)
    assert result.returncode == 0, result.stderr
    assert "wrote xlsx report" in result.stderr
    book = sheets(out.read_bytes())
    assert {"needs", "candidates", "totals"} <= set(book)
    await databases.drop(name)


def test_a_section_s_records_are_a_sheet_of_their_own_and_no_cell_is_cut_silently():
    """A partnership plan's options were one JSON cell of the partnerships sheet, cut at a cell's 32,767 characters
    (an exercise of 24 needs lost two of its three options): each list of records in a section is now a sheet of its
    own, a row a record; and text longer than a cell holds says it was cut."""
    from marketplace.sheets import CUT, MAX_CELL, report_workbook

    options = [
        {"rank": k, "lead": {"name": f"Lead {k}"}, "explanation": [f"option {k} " + "w" * 15_000]} for k in (1, 2, 3)
    ]
    report = {
        "generated_at": "2026-11-30T12:00:00+00:00",
        "partnerships": {"cells": [], "coverable_count": 30, "options": options},
        "note": "n" * 40_000,
    }
    book = sheets(report_workbook("row_type,name\nneed,A\n", json.dumps(report).encode()))
    assert len("".join(json.dumps(o) for o in options)) > MAX_CELL
    table = book["partnerships options"]
    header = list(table[0])
    assert [row[header.index("rank")] for row in table[1:]] == [1, 2, 3]
    assert [row[header.index("lead.name")] for row in table[1:]] == ["Lead 1", "Lead 2", "Lead 3"]
    assert all(row[header.index("explanation")].startswith(f"option {row[0]} ") for row in table[1:])
    assert dict(book["partnerships"][1:]) == {"cells": None, "coverable_count": 30}  # the options: their sheet
    (note,) = book["note"][1]
    assert len(note) == MAX_CELL and note.endswith(CUT)


def test_a_response_not_counted_is_on_one_sheet_and_a_report_frozen_before_keeps_its_own(in_memory_report):
    """A tester found each response not counted (its provider archived since, or pending) on two sheets of the
    market report's workbook: `not_counted_responses`, the CSV's rows, and `market_response not_counted`, the same
    list from the JSON. It is now on the first only, beside the market response's other rows (`response_needs`);
    the `market_response` sheet keeps its figures. A report frozen before the CSV listed them (its JSON alone does)
    keeps the JSON's sheet, so its workbook still lists them once."""
    import msgspec

    from marketplace.engagement.models import NotCounted
    from marketplace.reports.render import csv_sections, to_csv_bytes, to_xlsx
    from marketplace.sheets import report_workbook

    at = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
    left_out = NotCounted(
        provider_id=41, name="Lapsed Lantern CIC", status="archived", reason="archived", submitted_at=at
    )
    with_mr = with_market_response(in_memory_report, withdrawn=1, not_counted=[left_out])

    def listed(book: dict[str, list[tuple]]) -> list[str]:
        return [name for name, rows in book.items() for row in rows if "Lapsed Lantern CIC" in row]

    book = sheets(to_xlsx(with_mr))
    assert listed(book) == ["not_counted_responses"], sorted(book)
    (row,) = book["not_counted_responses"][1:]
    cells = dict(zip(book["not_counted_responses"][0], row, strict=True))
    assert (cells["provider_id"], cells["submitted_at"], cells["provider_status"]) == (
        41,
        "2026-12-10T12:00:00Z",
        "archived",
    )
    figures = dict(book["market_response"][1:])
    assert (figures["responses"], figures["withdrawn"], figures["threshold"]) == (2, 1, 0.6)

    # a report frozen before the CSV had not_counted_response rows (nor their three columns): the JSON's list stays
    now = list(csv.reader(io.StringIO(to_csv_bytes(with_mr).decode("utf-8-sig"), newline="")))
    old = io.StringIO(newline="")
    later = len(now[0]) - now[0].index("submitted_at")  # those three columns, and the ones added after them
    csv.writer(old, lineterminator="\r\n").writerows(r[:-later] for r in now if r[0] != "not_counted_response")
    old_csv = ("\ufeff" + old.getvalue()).encode()
    assert b"not_counted" not in old_csv
    book = sheets(report_workbook(old_csv, msgspec.json.encode(with_mr), held_by_csv=csv_sections(old_csv)))
    assert listed(book) == ["market_response not_counted"], sorted(book)


def test_each_need_s_market_response_is_on_one_sheet_and_a_report_frozen_before_keeps_its_own(in_memory_report):
    """A tester found each need's market response twice in the workbook: on `response_needs` and `response_cells`
    (the CSV's rows) and again on `market_response needs` (the JSON's list, its cells a sheet of their own). The CSV's
    rows now carry the one thing only the JSON had, the barriers described in the responses' own words
    (`barrier_notes`), so the workbook shows the JSON's list no more; a report frozen before that column keeps it."""
    import msgspec

    from marketplace.engagement.models import CellResponse, CostRange, NeedMarketResponse, NonResponder
    from marketplace.reports.render import csv_sections, to_csv_bytes, to_xlsx
    from marketplace.sheets import report_workbook

    need = NeedMarketResponse(
        need_id=1,
        title="Move-on accommodation",
        pathway="ACCOM",
        annual_volume=100,
        annual_budget=120_000,
        responses=2,
        not_interested=1,
        intent={"lead": 1, "partner": 1, "either": 0},
        offered_capacity=75,
        capacity_to_volume=0.75,
        costs=CostRange(
            responses=2,
            minimum=900.0,
            median=1000.0,
            maximum=1100.0,
            budget_per_service_user=1200.0,
            median_to_budget=0.833,
        ),
        cells=[CellResponse(area="E06000019", area_name="Herefordshire", responses=2, offered_capacity=75)],
        consortia=[],
        barriers={"tupe": 1},
        barrier_notes=["=Volunteers scarce in rural wards", "Our premises lease\nends in March"],
        suitable_non_responders=[NonResponder(provider_id=9, name="Silent Lantern Trust", score=0.8)],
        match_run_id=3,
    )
    report = with_market_response(in_memory_report, needs=[need])

    def holding(book: dict[str, list[tuple]], text: str) -> list[str]:
        return sorted({name for name, rows in book.items() for row in rows for c in row if text in str(c or "")})

    book = sheets(to_xlsx(report))
    assert holding(book, "Silent Lantern Trust") == ["response_needs"], sorted(book)
    cell_header, *cell_rows = book["response_cells"]
    (cell,) = [dict(zip(cell_header, r, strict=True)) for r in cell_rows]
    assert (cell["area_name"], cell["responses"], cell["offered_capacity"]) == ("Herefordshire", 2, 75)
    assert not [name for name in book if name.startswith("market_response ")], sorted(book)
    header, *rows = book["response_needs"]
    (row,) = [dict(zip(header, r, strict=True)) for r in rows]
    # each note on one line, a formula's sign made text; the other figures as numbers
    assert row["barrier_notes"] == "=Volunteers scarce in rural wards | Our premises lease ends in March"
    assert (row["responses"], row["offered_capacity"], row["capacity_to_volume"]) == (2, 75, 0.75)
    assert dict(book["market_response"][1:])["responses"] == 2  # the exercise-wide figures stay

    # a report frozen before the CSV had barrier_notes: the JSON's list stays, so nothing it held is lost
    now = list(csv.reader(io.StringIO(to_csv_bytes(report).decode("utf-8-sig"), newline="")))
    later = len(now[0]) - now[0].index("barrier_notes")  # it, and the columns added after it
    assert now[0][-later:][:1] == ["barrier_notes"]
    old = io.StringIO(newline="")
    csv.writer(old, lineterminator="\r\n").writerows(r[:-later] for r in now)
    old_csv = ("\ufeff" + old.getvalue()).encode()
    book = sheets(report_workbook(old_csv, msgspec.json.encode(report), held_by_csv=csv_sections(old_csv)))
    assert holding(book, "Our premises lease\nends in March") == ["market_response needs"]
    assert holding(book, "Silent Lantern Trust") == ["market_response needs", "response_needs"]
