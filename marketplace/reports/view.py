"""Lookups derived from a :class:`Report` that the page, its charts and the CSV share (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from marketplace.formatting import humanise
from marketplace.reports.models import COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET, Cell, NeedReport, Report
from matching.partnerships import Cell as PlanCell

VERDICTS = (COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET)
"""Best market first: the order of every list, legend and sentence that goes through the verdicts."""
VERDICT_LABELS = {NO_MARKET: "No market", LIMITED_MARKET: "Limited market", COMPETITIVE_MARKET: "Competitive market"}


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
        """ "Need 3: <title>"."""
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


class Page:
    """What the HTML page needs beyond the report itself: lookups, counts and groupings the template prints."""

    def __init__(self, report: Report, rows: NeedRows | None = None, names: dict[str, str] | None = None) -> None:
        self.rows = rows or NeedRows(report)
        self.names = names if names is not None else area_names(report)
        self.needs = {n.need_id: n for n in report.needs}
        by_need = Counter(n.verdict for n in report.needs)
        self.need_verdicts: list[tuple[str, int]] = [(v, by_need[v]) for v in VERDICTS if by_need[v]]
        """(verdict, number of needs) for the verdicts some need has, best market first."""
        by_cell = Counter(c.verdict for c in report.grid.cells)
        self.cell_verdicts: dict[str, int] = {v: by_cell[v] for v in VERDICTS}
        self.gaps: list[str] = [
            f"{self.needs[c.need_id].title if c.need_id in self.needs else c.pathway} in "
            f"{self.names.get(c.area, c.area_name)}"
            for c in ordered_cells(report)
            if c.verdict == NO_MARKET
        ]
        """The (need, area) cells with no suitable provider, as "<need title> in <area>", in grid order."""

    def cells_by_need(self, cells: Iterable[PlanCell]) -> list[tuple[str, list[str]]]:
        """Partnership cells grouped by need, in first-seen order: ("Need 2, <title>", [area names])."""
        grouped: dict[tuple[int | str, str], list[str]] = {}
        for c in cells:
            grouped.setdefault((c.need_id, c.pathway), []).append(self.names.get(c.area, c.area))
        out = []
        for (need_id, pathway), areas in grouped.items():
            n = self.needs.get(need_id) if isinstance(need_id, int) else None
            out.append((f"Need {need_id}, {n.title}" if n else f"Need {need_id} ({pathway})", areas))
        return out
