"""marketplace.sheets on its own: workbooks any spreadsheet opens, whatever the text; a sheet read as its cells are,
whatever size it declares."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from marketplace.sheets import (
    FORMULA_START,
    SheetError,
    _unguard,
    csv_text,
    guard,
    list_cell,
    list_items,
    read_csv,
    read_xlsx,
    report_workbook,
    xlsx_bytes,
)

MADE = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def test_text_xml_cannot_hold_is_replaced_so_the_workbook_opens():
    """U+FFFE and U+FFFF pass the text rules (which refuse control characters) but XML 1.0 cannot hold them: written
    as they are, the sheet was not well-formed and the whole export unreadable."""
    body = xlsx_bytes(
        [("providers", ["name", "description"], [["Ok", "Provider three \uffff and \ufffe text"]])], made_at=MADE
    )
    book = load_workbook(io.BytesIO(body))
    assert book.worksheets[0]["B2"].value == "Provider three \ufffd and \ufffd text"


def test_a_sheet_declaring_a_huge_size_is_read_as_its_cells():
    """A sheet's `<dimension>` is the file's claim: a few kilobytes may declare 16,384 columns, and a read-only sheet
    padded every row to it (a 5 KB file took 1.4 GB and 19 s at 10,000 rows). Its rows are read as their cells."""
    body = xlsx_bytes([("providers", ["provider_name", "legal_form"], [["Heron CIC", "cic"]])], made_at=MADE)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD300"/>', data.decode())
                text = text.replace(
                    "</sheetData>", '<row r="300"><c r="A300" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
                )
                data = text.encode()
            new.writestr(info, data)
    rows = read_xlsx(out.getvalue(), max_rows=1000)
    assert rows[:2] == [["provider_name", "legal_form"], ["Heron CIC", "cic"]]
    assert len(rows) == 300 and rows[-1] == ["x"]
    assert max(len(r) for r in rows) == 2  # not 16,384 columns a row


def test_a_report_workbooks_sheets_are_its_row_types_in_the_plural():
    """A sheet per CSV row type, named in the plural: `cost_switch` rows were a sheet `cost_switchs`."""
    csv = "row_type,x\r\noption,1\r\nsensitivity,2\r\ncost_switch,3\r\nevidence,4\r\nbox,5\r\n"
    book = load_workbook(io.BytesIO(report_workbook(csv, b'{"generated_at": "2026-11-30T09:00:00+00:00"}')))
    assert book.sheetnames[:5] == ["options", "sensitivities", "cost_switches", "evidence", "boxes"]


_ITEM = st.text(alphabet=st.sampled_from(list('ab ;|"')), min_size=1, max_size=8).map(str.strip).filter(bool)


@given(st.lists(_ITEM, max_size=6))
def test_a_list_cell_reads_back_as_the_items_written(items: list[str]) -> None:
    assert list_items(list_cell(items)) == items


def test_a_list_typed_by_hand_is_split_at_each_separator() -> None:
    assert list_items(" A;B |  C ;; ") == ["A", "B", "C"]
    assert list_cell(["A", "B"]) == "A; B"
    assert list_items('"Smith; Jones CIC"; Ash') == ["Smith; Jones CIC", "Ash"]
    assert list_items('"unclosed; Ash') == ['"unclosed', "Ash"]  # a quote that opens no item is read as written


@given(st.text(alphabet=st.sampled_from(list("'=+-@a \t")), max_size=6))
def test_guarded_text_reads_back_as_it_was(text: str) -> None:
    """A text that itself starts with a quote and a formula sign ("'+1' is what members say") came back without its
    quote: reading took off the quote it took for the export's."""
    assert _unguard(guard(text)) == text
    assert not guard(text).startswith(FORMULA_START)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("'=+-@a 1\t")), min_size=1, max_size=6), min_size=1, max_size=4))
def test_xlsx_text_is_a_text_cell_holding_it_as_it_is_and_reads_back_as_written(texts: list[str]) -> None:
    """The CSV's formula guard was put on xlsx text too, where a cell is typed text and no formula runs: a phone number
    "+44 1905 000000" read "'+44 1905 000000" in the workbook. An xlsx text cell holds the text as it is (a text
    itself starting with a quote before a formula sign gets one more, which reading takes off), never a formula, and
    reads back as written."""
    header = ["x", *(f"c{i}" for i in range(len(texts)))]
    body = xlsx_bytes([("providers", header, [["x", *texts]])], made_at=MADE)
    assert read_xlsx(body, max_rows=5)[1] == ["x", *texts]
    cells = load_workbook(io.BytesIO(body)).worksheets[0][2][1:]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells] == [guard(t) if t.startswith("'") else t for t in texts]


def test_a_phone_number_is_written_to_xlsx_as_it_is_and_guarded_in_csv() -> None:
    body = xlsx_bytes([("providers", ["contact_phone"], [["+44 1905 000000"]])], made_at=MADE)
    assert load_workbook(io.BytesIO(body)).worksheets[0]["A2"].value == "+44 1905 000000"
    assert read_xlsx(body, max_rows=5) == [["contact_phone"], ["+44 1905 000000"]]
    assert csv_text(["contact_phone"], [["+44 1905 000000"]]) == "contact_phone\r\n'+44 1905 000000\r\n"
    # a workbook exported before, its text guarded as a CSV's is, reads as it did
    before = _with_rows(["contact_phone"], _row(2, 1, "'+44 1905 000000"))
    assert read_xlsx(before, max_rows=5) == [["contact_phone"], ["+44 1905 000000"]]


def test_a_csv_that_is_not_utf8_says_where_and_how_to_save_it() -> None:
    data = "provider_name,legal_form\nAcorn CIC,cic\nCafé Trust,cic\n".encode("cp1252")
    with pytest.raises(SheetError) as e:
        read_csv(data)
    assert str(e.value) == (
        "the file is not UTF-8 text (line 3, near 'Café Trust,cic'): save it from the spreadsheet as "
        '"CSV UTF-8 (comma delimited)", or send the xlsx workbook itself'
    )


def _with_rows(header: list[str], rows_xml: str) -> bytes:
    """A workbook whose sheet is `header` then the rows `rows_xml` gives (sheetData's XML, written as it is)."""
    body = xlsx_bytes([("providers", header, [])], made_at=MADE)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.decode().replace("</sheetData>", f"{rows_xml}</sheetData>").encode()
            new.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def _row(r: int, cells: int, text: str | None = "x", first: int = 1) -> str:
    """Row `r` with `cells` cells from column `first`: inline text, or empty (`text` None: a formatted blank). The
    cells after the first name no place (each is the next column), so a file of many packs small."""
    body = f' t="inlineStr"><is><t>{text}</t></is></c>' if text is not None else ' s="0"/>'
    return f'<row r="{r}"><c r="{get_column_letter(first)}{r}"{body}{("<c" + body) * (cells - 1)}</row>'


def test_a_row_wider_than_the_header_is_refused_where_it_is_read():
    """A 300 KB workbook of a 2-column header and 1,310 rows of 2,000 cells (95 MB unpacked) took 41 s to refuse:
    every row was read before the first check. The first row with a value right of the header now stops it, with
    the message the import gave after reading it all."""
    rows = "".join(_row(r, 2_000) for r in range(2, 402))  # 800,000 cells: 30 MB unpacked, 100 KB packed
    bomb = _with_rows(["provider_name", "legal_form"], rows)
    assert len(bomb) < 200_000
    with pytest.raises(SheetError) as e:
        read_xlsx(bomb, max_rows=50_000)
    assert str(e.value) == "row 2 has more cells than the header has columns"
    # empty cells to the right of it are no reason to refuse (cells formatted past the header)
    fine = _with_rows(["provider_name", "legal_form"], _row(2, 2) + _row(3, 3, None, first=3) + _row(4, 1))
    assert read_xlsx(fine, max_rows=10) == [["provider_name", "legal_form"], ["x", "x"], ["", ""], ["x"]]


def test_a_sheet_of_empty_cells_in_no_named_column_is_refused_once_it_has_too_many():
    """Empty cells past the header (or under a blank header cell) cost as much to read as full ones: a few are
    what a formatted sheet has, but 100,000 are a file made to be slow, refused before the rest is read."""
    rows = "".join(_row(r, 2_000, None, first=3) for r in range(2, 402))
    with pytest.raises(SheetError) as e:
        read_xlsx(_with_rows(["provider_name", "legal_form"], rows), max_rows=50_000)
    assert str(e.value) == (
        "the sheet has more than 100,000 cells in columns the header does not name (row 52 passes that): delete "
        "the columns with no name in the header, and those to the right of it, and send it again"
    )
    under_blank = "".join(_row(r, 3_000, None) for r in range(2, 402))
    header = ["provider_name", *[""] * 2_998, "legal_form"]  # 2,998 of each row's cells are in no named column
    with pytest.raises(SheetError, match=r"\(row 35 passes that\)"):
        read_xlsx(_with_rows(header, under_blank), max_rows=50_000)


def test_the_header_is_checked_before_the_rows_after_it_are_read():
    """`check_header` sees the header first: a sheet of columns the reader does not take is refused for that,
    whatever comes after (here a row the parser cannot read)."""
    seen: list[list[str]] = []

    def check(header: list[str]) -> None:
        seen.append(header)
        raise SheetError(f"unknown column {header[0]!r}")

    broken = _with_rows(["colour", "legal_form"], '<row r="2"><c r="A2" t="n"><v>not a number</v></c></row>')
    with pytest.raises(SheetError, match="not a readable xlsx workbook"):
        read_xlsx(broken, max_rows=10)
    with pytest.raises(SheetError) as e:
        read_xlsx(broken, max_rows=10, check_header=check)
    assert str(e.value) == "unknown column 'colour'" and seen == [["colour", "legal_form"]]
    # a blank first row is the header still: checked (as blank) once a row holding something is read
    seen.clear()
    later = _with_rows([], _row(2, 1, None) + _row(3, 1))  # an empty header cell, an empty row, then "x"
    with pytest.raises(SheetError):
        read_xlsx(later, max_rows=10, check_header=check)
    assert seen == [[""]]
