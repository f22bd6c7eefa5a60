"""Spreadsheets in and out: CSV and xlsx from rows of cells, and rows of text back from either (pure: bytes in,
bytes out; no room, no I/O but the bytes given).

A cell is text, a number, a date or empty (None). Written to CSV, text that a spreadsheet would take for a formula
(starting `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'` (CSV injection); written to xlsx, numbers
are numbers and dates are dates, and text is stored as a text cell, as it is (a text cell is never a formula in xlsx:
"+44 1905 000000" is a phone number there, not "'+44 1905 000000"). Read back, a text starting with `'` before a
formula sign loses that quote (the guard of a CSV, or of an xlsx made before), so an xlsx text that itself starts so
is written with one more (`_xlsx_text`), and every text reads back as written."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from contextlib import closing
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.xml.functions import tostring

Cell = str | int | float | dt.date | None
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_SHEET_NAME = 31
"""Excel's limit on a sheet's name."""
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SheetError(ValueError):
    """A file that is not the spreadsheet it claims to be (the message says where and why)."""


def guard(text: str) -> str:
    """Text a spreadsheet will not evaluate as a formula: one starting like one (after any quotes: a text that
    itself starts `'+` is prefixed too, so reading it back, `_unguard`, takes off only the quote added) gets `'`."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


LIST_SEPARATOR: Final = "; "
"""Between the items of a list written in one cell (`Crisis fund; Lottery`); read back, `|` separates too."""
_LIST_SEPARATORS: Final = re.compile(r"[;|]")
_QUOTED_ITEM: Final = re.compile(r'\s*"((?:[^"]|"")*)"\s*(?:[;|]|$)')


def list_cell(items: Iterable[str]) -> str:
    """``items`` in one cell, each between separators; an item holding a separator (or starting with a double
    quote) is written between double quotes, a quote inside it doubled (`"Smith; Jones CIC"`), as a CSV field is,
    so :func:`list_items` reads back exactly the items written."""
    return LIST_SEPARATOR.join(
        '"' + item.replace('"', '""') + '"' if _LIST_SEPARATORS.search(item) or item.startswith('"') else item
        for item in items
    )


def list_items(text: str) -> list[str]:
    """The items of a list cell (:func:`list_cell`'s, or typed by hand: `A; B | C`), each stripped, empty ones left
    out; an item between double quotes is read whole, separators and all (a quote that opens no such item is
    read as written)."""
    items, at, end = [], 0, len(text)
    while at < end:
        quoted = _QUOTED_ITEM.match(text, at)
        if quoted:
            items.append(quoted.group(1).replace('""', '"').strip())
            at = quoted.end()
            continue
        cut = _LIST_SEPARATORS.search(text, at)
        stop = cut.start() if cut else end
        items.append(text[at:stop].strip())
        at = stop + 1
    return [item for item in items if item]


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return guard(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """RFC 4180 CSV (`\\r\\n` line ends), formulas guarded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """As `csv_text`, UTF-8 with a byte-order mark (so spreadsheets read "£" and accents right)."""
    return ("\ufeff" + csv_text(header, rows)).encode()


_NOT_IN_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold: a workbook with one is corrupt (Excel refuses it). Text is checked on the way in
(no control characters), but U+FFFE and U+FFFF, which are not, may be in a profile."""


def _xlsx_text(text: str) -> str:
    """Text as an xlsx cell holds it: as it is (a text cell is no formula), but for a text that itself starts with a
    quote before a formula sign ("'+1' is what members say"), which gets one more quote, the one reading takes off
    (`_unguard`: it takes the guard off a CSV's cells, and off an xlsx exported with it before)."""
    return guard(text) if text.startswith("'") else text


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, str):
        return _NOT_IN_XML.sub("\ufffd", _xlsx_text(value))
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)  # xlsx has no time zones
    return value


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Cell]]]], *, made_at: dt.datetime) -> bytes:
    """A workbook of one sheet per (name, header, rows): the header row bold and frozen, numbers as numbers, dates
    as dates (yyyy-mm-dd). ``made_at`` is its creation and modification time (the document properties and every
    part of the zip), so the same sheets made at the same time give the same bytes: a frozen report's workbook is
    the same file on every download."""
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    first = True
    used: set[str] = set()
    for name, header, rows in sheets:
        title = _sheet_title(name, used)
        sheet = book.active if first and book.active is not None else book.create_sheet()
        first = False
        sheet.title = title
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # openpyxl takes a text starting "=" for a formula: it is text
                    cell.data_type = "s"
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
        for i, title_text in enumerate(header, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max(len(title_text) + 2, 10), 40)
    out = io.BytesIO()
    book.save(out)  # stamps the properties' modification time with the clock: set below
    at = made_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0) if made_at.tzinfo else made_at
    book.properties.created = book.properties.modified = at
    return _dated(out.getvalue(), at, {"docProps/core.xml": tostring(book.properties.to_tree())})


def _dated(archive: bytes, at: dt.datetime, parts: dict[str, bytes]) -> bytes:
    """``archive`` (a zip) with every entry dated ``at`` and the entries named in ``parts`` replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=at.timetuple()[:6])
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            new.writestr(entry, parts.get(info.filename, old.read(info)))
    return out.getvalue()


def _sheet_title(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:MAX_SHEET_NAME] or "sheet"
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: MAX_SHEET_NAME - len(str(n)) - 1]}-{n}"
    used.add(title.lower())
    return title


# --- reading -----------------------------------------------------------------------------------------------


def _unguard(text: str) -> str:
    """Undo `guard`: our own exports prefix formula-like text with a quote (`_unguard(guard(t)) == t`)."""
    return text[1:] if text.startswith("'") and text[1:].lstrip("'").startswith(FORMULA_START) else text


def _not_utf8(data: bytes, error: UnicodeDecodeError, where: str) -> SheetError:
    """What a CSV that is not UTF-8 is told: the line, the text there as a Windows spreadsheet would have written
    it, and how to save the file so it reads."""
    line = data.count(b"\n", 0, error.start) + 1
    start = data.rfind(b"\n", 0, error.start) + 1
    end = data.find(b"\n", error.start)
    near = data[start : end if end >= 0 else len(data)].decode("cp1252", errors="replace").strip()[:60]
    return SheetError(
        f"{where} is not UTF-8 text (line {line}, near {near!r}): save it from the spreadsheet as "
        '"CSV UTF-8 (comma delimited)", or send the xlsx workbook itself'
    )


def read_csv(data: bytes, *, where: str = "the file") -> list[list[str]]:
    """The rows of a CSV file (UTF-8, with or without a byte-order mark), header first."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8(data, e, where) from None
    if "\x00" in text:
        raise SheetError(f"{where}: holds a NUL character: not a CSV file")
    try:
        return [[_unguard(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""), strict=True)]
    except csv.Error as e:
        raise SheetError(f"{where}: not readable as CSV ({e})") from None


def _text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _unguard(str(value))


MAX_UNNAMED_CELLS: Final = 100_000
"""Cells a sheet read by `read_xlsx` may have that the header names no column for (under a blank header cell, or to
the right of the header's last cell, empty): a real sheet has a few (a blank spacer column, cells formatted past the
last column); a small file packed with them would take minutes to read."""


def _xlsx_rows(data: bytes) -> Generator[tuple[object, ...]]:
    """The first sheet's rows as openpyxl reads them; anything the parser raises is a SheetError."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not book.worksheets:
                raise SheetError("the workbook has no sheet")
            sheet = book.worksheets[0]
            # the sheet's declared size is the file's word, not its content: a tiny file may declare 16,384 columns
            # by a million rows, and a read-only sheet pads every row to it; read the cells as they are
            sheet.reset_dimensions()
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()
    except SheetError:
        raise
    except Exception as e:  # untrusted bytes through a third-party parser: whatever it raises, the file is bad
        raise SheetError(f"the file is not a readable xlsx workbook ({type(e).__name__})") from None


def read_xlsx(
    data: bytes, *, max_rows: int, check_header: Callable[[list[str]], object] | None = None
) -> list[list[str]]:
    """The rows of an xlsx workbook's first sheet as text (numbers as written, dates as yyyy-mm-dd), header first;
    at most `max_rows` rows (beyond: SheetError).

    Refused as it is read, not once all of it is (a 300 KB file may unpack to 100 MB of cells): a row with a value
    to the right of the header's last cell ("row N has more cells than the header has columns"), and more than
    MAX_UNNAMED_CELLS cells in columns the header does not name. `check_header` is given the header (the first row)
    once a row holding something is read (the header itself, unless it is blank), before any row after it: what it
    raises stops the reading (a header of columns the reader does not take need not have its rows read)."""
    rows: list[list[str]] = []
    width = 0
    unnamed: list[int] = []  # the header's blank cells
    spare = 0  # cells read in columns the header does not name
    checked = check_header is None
    with closing(_xlsx_rows(data)) as read:
        for row in read:
            if len(rows) > max_rows:
                raise SheetError(f"the sheet has more than {max_rows} rows")
            cells = [_text_of(v) for v in row]
            if not checked and any(c.strip() for c in cells):
                assert check_header is not None
                check_header(rows[0] if rows else cells)
                checked = True
            if not rows:
                width, unnamed = len(cells), [i for i, c in enumerate(cells) if not c.strip()]
            else:
                beyond = cells[width:]
                if any(c.strip() for c in beyond):
                    raise SheetError(f"row {len(rows) + 1} has more cells than the header has columns")
                spare += len(beyond) + bisect.bisect_left(unnamed, len(cells))
                if spare > MAX_UNNAMED_CELLS:
                    raise SheetError(
                        f"the sheet has more than {MAX_UNNAMED_CELLS:,} cells in columns the header does not name "
                        f"(row {len(rows) + 1} passes that): delete the columns with no name in the header, and "
                        "those to the right of it, and send it again"
                    )
                del cells[width:]  # empty: nothing to read there
            rows.append(cells)
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    return rows


# --- reports as workbooks ------------------------------------------------------------------------------
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
MAX_CELL: Final = 32_767
"""Excel's limit on a cell's characters."""


def _report_cell(text: str) -> Cell:
    if _NUMBER.fullmatch(text) and len(text) <= 17:
        return float(text) if "." in text else int(text)
    return text or None


CUT: Final = " … (cut at a spreadsheet cell's 32,767 characters: the report's JSON holds it whole)"
"""Said where a cell's text is longer than a cell may hold, never cut silently."""


def _fitted(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - len(CUT)] + CUT


def _flat(value: Any, prefix: str = "") -> dict[str, Cell]:
    if isinstance(value, dict):
        out: dict[str, Cell] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    key = prefix or "value"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return {key: _fitted("; ".join("" if v is None else str(v) for v in value))}
        return {key: _fitted(json.dumps(value, ensure_ascii=False))}
    if isinstance(value, bool):
        return {key: "yes" if value else "no"}
    if isinstance(value, int | float) or value is None:
        return {key: value}
    return {key: _fitted(str(value))}


def _records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _sections(
    name: str, value: Any, held: Collection[str] = (), path: str | None = None
) -> list[tuple[str, list[str], list[list[Cell]]]]:
    """A JSON report's section as sheets: a list of records as a table; a record as field/value rows, each of its
    fields that is a list of records as a table of its own (`partnerships options`: a plan's options were one JSON
    cell, cut at a cell's limit), but those `held` names (by their path, `section.field`: the CSV's rows hold them)."""
    path = name if path is None else path
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        records = [_flat(v) for v in value]
        header = list(dict.fromkeys(k for r in records for k in r))
        return [(name, header or ["value"], [[r.get(k) for k in header] for r in records])]
    if isinstance(value, dict):
        tables = [
            sheet
            for k, v in value.items()
            if _records(v) and f"{path}.{k}" not in held
            for sheet in _sections(f"{name} {k}", v, held, f"{path}.{k}")
        ]
        rest = {k: v for k, v in value.items() if not _records(v)}
        return [(name, ["field", "value"], [[k, v] for k, v in _flat(rest).items()]), *tables]
    return [(name, ["value"], [[c] for c in _flat(value).values()])]


UNCOUNTED = frozenset({"evidence"})
"""Row types named by a word with no plural: their sheet keeps the word."""


def _plural(row_type: str) -> str:
    if row_type.endswith("s") or row_type in UNCOUNTED:
        return row_type
    if row_type.endswith("y") and row_type[-2:-1] not in ("a", "e", "o", "u", ""):
        return row_type[:-1] + "ies"  # sensitivity -> sensitivities
    if row_type.endswith(("ch", "sh", "x", "z")):
        return row_type + "es"  # cost_switch -> cost_switches
    return row_type + "s"


TEXT_COLUMNS = ("label", "name", "title", "description", "assessor", "reasons", "rationale", "decided_by", "note")
"""Columns (by how their names end) that hold what people typed: text, whatever it looks like (an option labelled
"1.10" is not the number 1.1)."""


def report_workbook(csv_data: bytes | str, json_data: bytes, *, held_by_csv: Collection[str] = ()) -> bytes:
    """A report as an xlsx workbook (the report's CSV and JSON in, xlsx bytes out), made from the same rows as the CSV
    (so a frozen report's workbook comes from its stored bytes, and a section added to the CSV appears here with
    nothing to change): one sheet per `row_type` (in first-seen order), numbers as numbers; then every section of
    the JSON report but those the CSV holds (`held_by_csv`: a section by its name, or a list of records in one as
    `section.field`) as a sheet of its own: a list of records as a table (nested fields as `a.b` columns, lists of
    values joined by "; "), a record as field/value rows. Dated the report's `generated_at`."""
    rows = read_csv(csv_data.encode() if isinstance(csv_data, str) else csv_data, where="the report's CSV")
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    by_type: dict[str, list[list[Cell]]] = {}
    kind = header.index("row_type") if "row_type" in header else None
    text = [h.endswith(TEXT_COLUMNS) for h in header]
    for row in body:
        cells = [c or None if i < len(text) and text[i] else _report_cell(c) for i, c in enumerate(row)]
        by_type.setdefault(row[kind] if kind is not None else "rows", []).append(cells)
    sheets: list[tuple[str, list[str], Iterable[list[Cell]]]] = [
        (_plural(t), header, typed) for t, typed in by_type.items()
    ]
    report = json.loads(json_data)
    sheets += [
        sheet
        for k, v in report.items()
        if k not in held_by_csv and v is not None
        for sheet in _sections(k, v, held_by_csv)
    ]
    # made when the report was: a frozen report's workbook is the same bytes every time
    return xlsx_bytes(sheets, made_at=dt.datetime.fromisoformat(report["generated_at"]))
