"""The market-engagement report as an xlsx workbook (pure: the report's CSV and JSON in, xlsx bytes out).

Built from the same rows as the CSV (so a frozen report's workbook comes from its stored bytes, and a section
added to the CSV appears here with nothing to change): one sheet per `row_type` (`need`, `cell`, `candidate`,
... in first-seen order), numbers as numbers. Then every other section of the JSON report that the CSV does not
hold (`totals`, `partnerships`, `stale_warning`, `method`, `freshness`, `exercise`, ... whatever the report has)
as a sheet of its own: a list of records as a table (nested fields as `a.b` columns, lists of values joined by
"; "), a record as field/value rows."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

from marketplace.sheets import Cell, read_csv, xlsx_bytes

CSV_SECTIONS = {"needs", "grid"}
"""Top-level sections of the JSON report whose content the CSV rows already hold."""
NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
MAX_CELL = 32_767
"""Excel's limit on a cell's characters."""


def _cell(text: str) -> Cell:
    if NUMBER.fullmatch(text) and len(text) <= 17:
        return float(text) if "." in text else int(text)
    return text or None


def _flat(value: Any, prefix: str = "") -> dict[str, Cell]:
    if isinstance(value, dict):
        out: dict[str, Cell] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    key = prefix or "value"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return {key: "; ".join("" if v is None else str(v) for v in value)[:MAX_CELL]}
        return {key: json.dumps(value, ensure_ascii=False)[:MAX_CELL]}
    if isinstance(value, bool):
        return {key: "yes" if value else "no"}
    if isinstance(value, int | float) or value is None:
        return {key: value}
    return {key: str(value)[:MAX_CELL]}


def _section(name: str, value: Any) -> tuple[str, list[str], list[list[Cell]]]:
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        records = [_flat(v) for v in value]
        header = list(dict.fromkeys(k for r in records for k in r))
        return name, header or ["value"], [[r.get(k) for k in header] for r in records]
    if isinstance(value, dict):
        return name, ["field", "value"], [[k, v] for k, v in _flat(value).items()]
    return name, ["value"], [[c] for c in _flat(value).values()]


def _plural(row_type: str) -> str:
    return row_type if row_type.endswith("s") else row_type + "s"


def to_xlsx_bytes(csv_data: bytes | str, json_data: bytes) -> bytes:
    """The workbook: the CSV's rows a sheet per row type, then the JSON's other sections."""
    rows = read_csv(csv_data.encode() if isinstance(csv_data, str) else csv_data, where="the report's CSV")
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    by_type: dict[str, list[list[Cell]]] = {}
    kind = header.index("row_type") if "row_type" in header else None
    for row in body:
        by_type.setdefault(row[kind] if kind is not None else "rows", []).append([_cell(c) for c in row])
    sheets: list[tuple[str, list[str], Iterable[list[Cell]]]] = [
        (_plural(t), header, typed) for t, typed in by_type.items()
    ]
    report = json.loads(json_data)
    sheets += [_section(k, v) for k, v in report.items() if k not in CSV_SECTIONS and v is not None]
    # made when the report was: a frozen report's workbook is the same bytes every time
    return xlsx_bytes(sheets, made_at=dt.datetime.fromisoformat(report["generated_at"]))
