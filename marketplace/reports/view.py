"""Lookups derived from a :class:`Report` that the page, its charts and the CSV share (pure)."""

from __future__ import annotations

from marketplace.formatting import humanise
from marketplace.reports.models import COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET, Cell, NeedReport, Report

VERDICTS = (COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET)
"""Best market first: the order of every list, legend and sentence that goes through the verdicts."""
VERDICT_LABELS = {
    NO_MARKET: "No market",
    LIMITED_MARKET: "Limited market",
    COMPETITIVE_MARKET: "Competitive market",
}


def verdict_label(v: str) -> str:
    return VERDICT_LABELS.get(v, humanise(v))


def verdict_class(v: str) -> str:
    """The CSS class for a verdict: the verdict itself when known, else ``unknown``."""
    return v if v in VERDICT_LABELS else "unknown"


class NeedRows:
    """The rows of the heat map and charts: one per need (report order), plus any need only the grid mentions."""

    def __init__(self, report: Report) -> None:
        self.needs: dict[int, NeedReport] = {n.need_id: n for n in report.needs}
        ids = [n.need_id for n in report.needs]
        pathways = {n.need_id: n.pathway for n in report.needs}
        for c in report.grid.cells:
            if c.need_id not in pathways:
                ids.append(c.need_id)
                pathways[c.need_id] = c.pathway
        self.ids: list[int] = ids
        self.pathways: dict[int, str] = pathways

    def heading(self, need_id: int) -> str:
        """The pathway's name, e.g. "Accommodation"."""
        n = self.needs.get(need_id)
        return n.pathway_name if n else humanise(self.pathways[need_id])

    def subheading(self, need_id: int) -> str:
        """"Need 3: <title>"."""
        n = self.needs.get(need_id)
        return f"Need {need_id}: {n.title}" if n else f"Need {need_id}"

    def reported(self) -> list[NeedReport]:
        """The needs the report holds, in row order."""
        return [self.needs[i] for i in self.ids if i in self.needs]


def ordered_cells(report: Report) -> list[Cell]:
    """Grid cells by need (report order, then needs only the grid mentions) and area (grid order); stable."""
    need_pos = {need_id: k for k, need_id in enumerate(NeedRows(report).ids)}
    area_pos = {a: k for k, a in enumerate(report.grid.areas)}
    return sorted(report.grid.cells, key=lambda c: (need_pos[c.need_id], area_pos.get(c.area, len(area_pos))))


def area_names(report: Report) -> dict[str, str]:
    """Area code -> name, from the grid first, then the cells, then the needs."""
    names = dict(zip(report.grid.areas, report.grid.area_names, strict=False))
    for c in report.grid.cells:
        names.setdefault(c.area, c.area_name)
    for n in report.needs:
        for code, name in zip(n.areas, n.area_names, strict=False):
            names.setdefault(code, name)
    return names

