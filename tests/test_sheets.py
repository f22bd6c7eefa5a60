"""marketplace.sheets on its own: workbooks any spreadsheet opens, whatever the text; a sheet read as its cells are,
whatever size it declares."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from marketplace.sheets import (
    FORMULA_START,
    SheetError,
    _unguard,
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


def test_a_csv_that_is_not_utf8_says_where_and_how_to_save_it() -> None:
    data = "provider_name,legal_form\nAcorn CIC,cic\nCafé Trust,cic\n".encode("cp1252")
    with pytest.raises(SheetError) as e:
        read_csv(data)
    assert str(e.value) == (
        "the file is not UTF-8 text (line 3, near 'Café Trust,cic'): save it from the spreadsheet as "
        '"CSV UTF-8 (comma delimited)", or send the xlsx workbook itself'
    )
