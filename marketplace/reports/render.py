"""Renderers for the market-engagement report (pure: a :class:`Report` in, text out).

``to_html(report)``
    A self-contained, printable (A4) HTML5 page from ``templates/report/report.html.j2``: summary, three
    inline SVG charts (market depth by need and area, sector mix, capacity against volume; geometry from
    :mod:`marketplace.reports.charts`), a section per need, added value against the budget, partnership
    options and gaps, stale profiles, and the method. Styles come from ``static/report.css``, inlined.
    No scripts, no external resources; every value from the report is escaped by the template engine.

``to_csv(report)``, ``to_csv_bytes(report)``, ``CSV_HEADER``
    The CSV, from :mod:`marketplace.reports.spreadsheet` (columns documented there).

``to_xlsx(report)``
    The workbook, from :func:`marketplace.sheets.report_workbook`: the CSV's rows a sheet per row type, the other
    sections a sheet each.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketplace.reports import charts
from marketplace.reports.models import Report
from marketplace.reports.spreadsheet import CSV_HEADER, to_csv, to_csv_bytes
from marketplace.reports.view import VERDICT_LABELS, NeedRows, Page, area_names
from marketplace.sheets import report_workbook
from marketplace.templating import render

__all__ = ["CSV_HEADER", "CSV_SECTIONS", "csv_sections", "to_csv", "to_csv_bytes", "to_html", "to_xlsx"]

TEMPLATE = "report/report.html.j2"


def to_html(report: Report, *, template: str = TEMPLATE, **extra: Any) -> str:
    """The report as one self-contained, printable HTML5 page. A page that serves the report with controls of its
    own (the console's, above the cover) gives its `template`, extending this one, and what else it needs
    (`extra`); the API's pages and the frozen reports are this one alone."""
    rows, names = NeedRows(report), area_names(report)
    return render(
        template,
        **extra,
        report=report,
        page=Page(report, rows, names),
        labels=VERDICT_LABELS,
        heatmap=charts.heatmap(report, rows, names),
        sectors=charts.sector_chart(report, rows),
        capacity=charts.capacity_chart(report, rows),
    )


CSV_SECTIONS = frozenset({"needs", "grid"})
"""Top-level sections of the JSON report whose content the CSV rows already hold."""

NOT_COUNTED = "market_response.not_counted"
"""The market response's responses not counted, which the CSV holds as `not_counted_response` rows."""
NEEDS_RESPONSE = "market_response.needs"
"""The market response per need, which the CSV holds as `response_need` and `response_cell` rows (in full once it
has their `barrier_notes` column)."""
QUESTIONS = "market_response.questions"
"""The answers to the exercise's questions, which the CSV holds as `response_answer` rows (once it has their
`answer` column)."""


def csv_sections(csv_body: bytes) -> frozenset[str]:
    """What of the JSON report the CSV `csv_body` holds, so that its workbook shows it once, from the CSV's rows
    (`report_workbook`'s `held_by_csv`): the needs and the grid; the responses not counted, the market response per
    need and the answers to the questions, once the CSV has their columns (a report frozen before then holds them in
    full only in its JSON, whose sheets then show them)."""
    header = csv_body.decode("utf-8-sig").partition("\r\n")[0].split(",")
    later = {NOT_COUNTED: "not_counted_reason", NEEDS_RESPONSE: "barrier_notes", QUESTIONS: "answer"}
    return CSV_SECTIONS | {section for section, column in later.items() if column in header}


def to_xlsx(report: Report) -> bytes:
    """The report as an xlsx workbook, made from the same rows as the CSV."""
    body = to_csv_bytes(report)
    return report_workbook(body, msgspec.json.encode(report), held_by_csv=csv_sections(body))
