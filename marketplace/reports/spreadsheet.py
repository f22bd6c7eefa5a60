"""The market-engagement report as CSV, for spreadsheets (pure: a :class:`Report` in, text out).

``to_csv(report)``
    One CSV (RFC 4180, ``\\r\\n`` line ends) holding two kinds of row, told apart
    by ``row_type``; every row has every column of :data:`CSV_HEADER`, empty
    where a column does not apply to that kind of row.

    ==================  ======================================================  ==================
    column              meaning                                                 rows
    ==================  ======================================================  ==================
    row_type            ``cell`` or ``candidate``                               both
    need_id             the need's id                                           both
    need_title          the need's title                                        both
    pathway             pathway code, e.g. ``ETE``                              both
    pathway_name        pathway name, e.g. "Education, training and ..."        both
    annual_volume       service users a year the need is for                    both
    annual_budget_gbp   the need's annual budget, whole pounds                  both
    area_code           leaf area code (ONS GSS code)                           cell
    area_name           leaf area name                                          cell
    suitable_count      suitable providers covering that area for that need     cell
    verdict             ``no_market`` / ``limited_market`` /                    cell
                        ``competitive_market`` for that (need, area) cell
    providers           the suitable providers covering it, joined by "; "      cell
    rank                1 = best-scoring candidate for the need                 candidate
    provider_id         the provider's id                                       candidate
    provider_name       the provider's name                                     candidate
    sector              third_sector, co_operative, social_enterprise,          candidate
                        private or public
    total_score         total match score 0..1, 3 decimals                      candidate
    meets_threshold     ``yes`` if the score reaches the suitability threshold  candidate
    strengths           the candidate's strengths (``Headline.strengths``),     candidate
                        each "criterion: first evidence line", joined by "; "
    ==================  ======================================================  ==================

    Cell rows come first (needs in report order, areas in the grid's order),
    then candidate rows (needs in report order, then rank). Money is in whole
    pounds with no symbol or separators, scores have 3 decimals, so a
    spreadsheet reads them as numbers. Text that a spreadsheet would take for
    a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) is
    prefixed with ``'``. :func:`to_csv_bytes` gives the same text as UTF-8 with
    a byte-order mark, which Excel needs to show "£" and accents correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from marketplace.formatting import lower_code, score, whole_pounds
from marketplace.reports.models import CriterionNote, NeedReport, Report
from marketplace.reports.view import ordered_cells

__all__ = ["CSV_HEADER", "note_text", "to_csv", "to_csv_bytes"]

CSV_HEADER: list[str] = [
    "row_type",
    "need_id",
    "need_title",
    "pathway",
    "pathway_name",
    "annual_volume",
    "annual_budget_gbp",
    "area_code",
    "area_name",
    "suitable_count",
    "verdict",
    "providers",
    "rank",
    "provider_id",
    "provider_name",
    "sector",
    "total_score",
    "meets_threshold",
    "strengths",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sheet_text(value: str) -> str:
    """Neutralise text a spreadsheet would evaluate as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def note_text(note: CriterionNote) -> str:
    """A strength in one line: "pathway fit: <its first evidence line>" (the criterion alone when it has none)."""
    name = lower_code(note.criterion)
    return f"{name}: {note.evidence[0]}" if note.evidence else name


def _need_columns(need: NeedReport | None, need_id: int, pathway: str) -> dict[str, str]:
    return {
        "need_id": str(need_id),
        "need_title": _sheet_text(need.title) if need else "",
        "pathway": _sheet_text(pathway),
        "pathway_name": _sheet_text(need.pathway_name) if need else "",
        "annual_volume": str(need.annual_volume) if need else "",
        "annual_budget_gbp": str(whole_pounds(need.annual_budget)) if need else "",
    }


def _csv_rows(report: Report) -> Iterable[dict[str, str]]:
    needs = {n.need_id: n for n in report.needs}
    threshold = report.method.thresholds.suitable_score
    for cell in ordered_cells(report):
        need = needs.get(cell.need_id)
        yield {
            "row_type": "cell",
            **_need_columns(need, cell.need_id, cell.pathway),
            "area_code": _sheet_text(cell.area),
            "area_name": _sheet_text(cell.area_name),
            "suitable_count": str(cell.suitable),
            "verdict": _sheet_text(cell.verdict),
            "providers": _sheet_text("; ".join(cell.providers)),
        }
    for need in report.needs:
        for rank, c in enumerate(need.top_candidates, start=1):
            yield {
                "row_type": "candidate",
                **_need_columns(need, need.need_id, need.pathway),
                "rank": str(rank),
                "provider_id": str(c.provider_id),
                "provider_name": _sheet_text(c.name),
                "sector": _sheet_text(c.sector),
                "total_score": score(c.total),
                "meets_threshold": "yes" if c.total >= threshold else "no",
                "strengths": _sheet_text("; ".join(note_text(s) for s in c.strengths)),
            }


def to_csv(report: Report) -> str:
    """The report's grid cells and top candidates as one CSV (columns: see the module docstring)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_HEADER, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(_csv_rows(report))
    return out.getvalue()


def to_csv_bytes(report: Report) -> bytes:
    """:func:`to_csv` as UTF-8 with a byte-order mark, so spreadsheets detect the encoding."""
    return to_csv(report).encode("utf-8-sig")
