"""Geometry of the report's three SVG charts (pure): what to draw where, in SVG user units.

:func:`heatmap` (market depth by need and area), :func:`sector_chart` (sector mix of the suitable
providers) and :func:`capacity_chart` (declared capacity against annual volume) turn a
:class:`Report` into small frozen records: boxes, texts, ticks, legend items. The template
``report/charts.html.j2`` draws them and adds nothing but markup; the texts here are plain text,
escaped when drawn. Fills name either a colour or one of the patterns the template defines
(``url(#hm-limited)`` ...), so the two must agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from marketplace.formatting import coord, humanise, lower_code, plural, shorten, whole
from marketplace.reports.models import COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET, Cell, Report
from marketplace.reports.view import VERDICTS, NeedRows, area_names, verdict_class, verdict_label

CHART_W = 680.0
"""Every chart is at least this wide (the page scales it to the column)."""
LABEL_W = 250.0
"""Left margin holding the row labels; plots start here."""
HEAT_MAX_COLS = 12
"""More areas than this are split into stacked heat-map panels."""
ROW_LABEL_CHARS = 33

SECTORS = ("third_sector", "co_operative", "social_enterprise", "private", "public")
HEAT_FILL = {COMPETITIVE_MARKET: "#1f5f5b", LIMITED_MARKET: "url(#hm-limited)", NO_MARKET: "url(#hm-none)"}
NA_FILL = "#f1f1ee"
SECTOR_FILL = {
    "third_sector": "#1f5f5b",
    "co_operative": "#4e8c86",
    "social_enterprise": "#9fcac4",
    "private": "url(#sx-private)",
    "public": "url(#sx-public)",
}
LIGHT_ON = frozenset({"third_sector", "co_operative"})
"""Sectors whose fill is dark enough for white numbers."""
OTHER_FILL = "#c9c9c4"
VOLUME_FILL = "url(#cap-vol)"
CAPACITY_FILL = "#1f5f5b"


# ------------------------------------------------------------------------------------------------ primitives


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Text:
    """A text whose baseline starts (or, with CSS ``text-anchor: middle``, centres) at (x, y)."""

    x: float
    y: float
    text: str
    css: str = ""
    """CSS classes, where they vary between texts of one kind (e.g. light or dark on a bar)."""
    title: str | None = None
    """The full text, as a tooltip, when ``text`` is shortened."""


@dataclass(frozen=True, slots=True)
class RowLabel:
    """Two lines: the pathway (``head``) and, smaller, the need (``sub``)."""

    head: Text
    sub: Text


@dataclass(frozen=True, slots=True)
class LegendItem:
    swatch: Box
    fill: str
    css: str
    label: Text


@dataclass(frozen=True, slots=True)
class Tick:
    """A grid line at ``value`` from ``y1`` down to ``y2``, labelled below."""

    value: float
    x: float
    y1: float
    y2: float
    label: Text


@dataclass(frozen=True, slots=True)
class Scale:
    """A value axis from 0 to ``top`` in steps of ``step``; ``top`` is a whole number of steps."""

    top: float
    step: float

    @property
    def values(self) -> list[float]:
        return [k * self.step for k in range(round(self.top / self.step) + 1)]

    def length(self, value: float, span: float) -> float:
        """How long a bar for ``value`` is on an axis ``span`` units long (values beyond ``top`` are cut)."""
        return span * min(max(value, 0.0), self.top) / self.top


def nice_step(span: float, target_ticks: int = 5, *, integer: bool = False) -> float:
    """The smallest of 1, 2, 2.5, 5 (times a power of ten) giving at most about ``target_ticks`` steps over
    ``span``; with ``integer``, a whole number (2.5 is skipped below 10, and no step is below 1)."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        if integer and (step < 1 or step != int(step)):
            continue
        if raw <= step:
            return step
    return max(1.0, 10 * mag) if integer else 10 * mag


def nice_scale(max_value: float, *, integer: bool = True) -> Scale:
    """An axis that reaches ``max_value``, ending on a tick."""
    step = nice_step(max_value, integer=integer)
    return Scale(top=max(step, math.ceil(max_value / step - 1e-9) * step), step=step)


def ticks(scale: Scale, x0: float, span: float, y1: float, y2: float) -> list[Tick]:
    """Grid lines from ``y1`` to ``y2`` at each step, labelled below."""
    out = []
    for v in scale.values:
        x = x0 + span * v / scale.top
        out.append(Tick(value=v, x=x, y1=y1, y2=y2, label=Text(x, y2 + 13, whole(v))))
    return out


def legend(items: Sequence[tuple[str, str, str]], y: float, x0: float = 4) -> list[LegendItem]:
    """Swatches (fill, css class, label) in a row from ``x0``, text baselines at ``y``; spaced by label length."""
    out, x = [], x0
    for fill, css, label in items:
        out.append(LegendItem(swatch=Box(x, y - 10, 14, 14), fill=fill, css=css, label=Text(x + 20, y + 1, label)))
        x += 20 + len(label) * 5.6 + 22
    return out


def row_label(x: float, y: float, head: str, sub: str, max_chars: int = ROW_LABEL_CHARS) -> RowLabel:
    """A two-line row label centred on ``y``, each line shortened to fit the label margin."""
    return RowLabel(
        head=Text(x, y - 2, shorten(head, max_chars), title=head),
        sub=Text(x, y + 11, shorten(sub, int(max_chars * 1.3)), title=sub),
    )


@dataclass(frozen=True, slots=True)
class Frame:
    """What every chart has: its size, and the accessible name and description of its ``<svg>``."""

    ident: str
    width: float
    height: float
    title: str
    desc: str

    @property
    def view_box(self) -> str:
        return f"0 0 {coord(self.width)} {coord(self.height)}"


# ------------------------------------------------------------------------------------------------ heat map


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One square. ``verdict`` is None for an area the need does not include (a plain grey square)."""

    box: Box
    need_id: int
    area: str
    verdict: str | None
    css: str
    fill: str
    title: str
    count: Text | None


@dataclass(frozen=True, slots=True)
class Rule:
    x1: float
    x2: float
    y: float


@dataclass(frozen=True, slots=True)
class HeatPanel:
    columns: list[Text]
    """Area names, drawn rotated by -45° about their (x, y)."""
    rows: list[RowLabel]
    cells: list[HeatCell]
    rule: Rule


@dataclass(frozen=True, slots=True)
class Heatmap:
    frame: Frame
    panels: list[HeatPanel]
    legend: list[LegendItem]


def _heat_cell(
    cell: Cell | None, need_id: int, area: str, area_name: str, heading: str, x: float, y: float, cw: float, rh: float
) -> HeatCell:
    box = Box(x + 1, y + 1, cw - 2, rh - 2)
    if cell is None:
        return HeatCell(
            box=box,
            need_id=need_id,
            area=area,
            verdict=None,
            css="na",
            fill=NA_FILL,
            title=f"{area_name} is not part of need {need_id}",
            count=None,
        )
    v = verdict_class(cell.verdict)
    title = (
        f"{heading} (need {need_id}) in {area_name}: {verdict_label(cell.verdict)}, "
        f"{plural(cell.suitable, 'suitable provider')}"
    )
    if cell.providers:
        title += ": " + "; ".join(cell.providers)
    tone = "light" if v == COMPETITIVE_MARKET else "dark"
    return HeatCell(
        box=box,
        need_id=need_id,
        area=area,
        verdict=cell.verdict,
        css=f"cell {v}",
        fill=HEAT_FILL.get(v, "#ffffff"),
        title=title,
        count=Text(x + cw / 2, y + rh / 2 + 4, str(cell.suitable), f"cv {tone}"),
    )


def heatmap(report: Report, rows: NeedRows | None = None, names: dict[str, str] | None = None) -> Heatmap:
    """Needs (rows) by areas (columns), one square per (need, area); more than :data:`HEAT_MAX_COLS` areas are
    split into stacked panels so the figure keeps to an A4 page."""
    rows = rows or NeedRows(report)
    names = names if names is not None else area_names(report)
    areas = list(report.grid.areas)
    for c in report.grid.cells:  # tolerate a cell whose area the grid does not list
        if c.area not in areas:
            areas.append(c.area)
    cells = {(c.need_id, c.area): c for c in report.grid.cells}
    ncols, nrows = len(areas), len(rows.ids)
    npanels = max(1, math.ceil(ncols / HEAT_MAX_COLS))
    per_panel = max(1, math.ceil(ncols / npanels))
    cw = max(34.0, min(56.0, (CHART_W - LABEL_W - 60) / per_panel))
    rh = 36.0 if npanels == 1 else 30.0
    col_names = [names.get(a, a) for a in areas]
    longest = max((len(shorten(s, 24)) for s in col_names), default=4)
    header_h = 16 + longest * 5.4 * 0.72  # rotated column labels
    right_pad = max(60.0, longest * 5.4 * 0.72 - cw / 2 + 8)
    width = max(CHART_W, LABEL_W + per_panel * cw + right_pad)
    panel_h = header_h + nrows * rh + 12
    height = npanels * panel_h + 28
    counts = {v: sum(1 for c in report.grid.cells if c.verdict == v) for v in VERDICTS}
    desc = (
        f"{plural(nrows, 'need')} by {plural(ncols, 'area')}. "
        + "; ".join(f"{verdict_label(v).lower()}: {plural(counts[v], 'cell')}" for v in VERDICTS)
        + "."
    )
    panels = []
    for p in range(npanels):
        top = p * panel_h
        panel_areas = list(enumerate(areas))[p * per_panel : (p + 1) * per_panel]
        columns = [
            Text(
                LABEL_W + k * cw + cw / 2 - 2,
                top + header_h - 6,
                shorten(col_names[j], 24),
                title=f"{col_names[j]} ({areas[j]})",
            )
            for k, (j, _) in enumerate(panel_areas)
        ]
        labels: list[RowLabel] = []
        squares: list[HeatCell] = []
        for i, need_id in enumerate(rows.ids):
            y = top + header_h + i * rh
            heading = rows.heading(need_id)
            labels.append(row_label(4, y + rh / 2, heading, rows.subheading(need_id)))
            squares.extend(
                _heat_cell(
                    cells.get((need_id, area)), need_id, area, col_names[j], heading, LABEL_W + k * cw, y, cw, rh
                )
                for k, (j, area) in enumerate(panel_areas)
            )
        bottom = top + header_h + nrows * rh
        panels.append(
            HeatPanel(
                columns=columns,
                rows=labels,
                cells=squares,
                rule=Rule(LABEL_W, LABEL_W + len(panel_areas) * cw, bottom + 0.5),
            )
        )
    most = report.method.thresholds.limited_market_max
    key = legend(
        [
            (HEAT_FILL[COMPETITIVE_MARKET], COMPETITIVE_MARKET, f"Competitive ({most + 1}+)"),
            (HEAT_FILL[LIMITED_MARKET], LIMITED_MARKET, f"Limited (1–{most})"),
            (HEAT_FILL[NO_MARKET], NO_MARKET, "No market (0)"),
            (NA_FILL, "na", "Area not part of the need"),
        ],
        height - 14,
    )
    frame = Frame("fig-depth-svg", width, height, "Market depth by need and area", desc)
    return Heatmap(frame=frame, panels=panels, legend=key)


# ------------------------------------------------------------------------------------------------ bar charts


@dataclass(frozen=True, slots=True)
class Bar:
    box: Box
    fill: str
    css: str
    title: str
    value: Text | None = None
    """The bar's number drawn on it, when it is wide enough."""


@dataclass(frozen=True, slots=True)
class BarRow:
    label: RowLabel
    bars: list[Bar]
    texts: list[Text]
    """Annotations beside the bars (totals, values, "No suitable provider")."""
    cut: str | None = None
    """SVG path data of a break mark on a bar that runs beyond the scale."""


@dataclass(frozen=True, slots=True)
class BarChart:
    frame: Frame
    scale: Scale
    ticks: list[Tick]
    rows: list[BarRow]
    legend: list[LegendItem]
    cut: bool = False
    """Some bar runs beyond the scale (its number gives the full value)."""


def sector_chart(report: Report, rows: NeedRows | None = None) -> BarChart:
    """One stacked bar per need: its suitable providers by sector (VCSE sectors first), on a common scale."""
    needs = (rows or NeedRows(report)).reported()
    others = sorted({s for n in needs for s in n.suitable_by_sector if s not in SECTORS})
    order = [*SECTORS, *others]
    scale = nice_scale(max([sum(n.suitable_by_sector.values()) for n in needs] + [1]))
    bar_w, rh, y0 = 320.0, 30.0, 8.0
    axis_bottom = y0 + len(needs) * rh
    desc = "; ".join(
        f"need {n.need_id}: "
        + (", ".join(f"{lower_code(s)} {k}" for s, k in n.suitable_by_sector.items() if k) or "no suitable providers")
        for n in needs
    )
    out = []
    for i, n in enumerate(needs):
        y = y0 + i * rh
        label = row_label(4, y + rh / 2, n.pathway_name, f"Need {n.need_id}: {n.title}")
        total = sum(n.suitable_by_sector.values())
        if total == 0:
            out.append(BarRow(label, [], [Text(LABEL_W + 6, y + rh / 2 + 4, "No suitable provider", "note")]))
            continue
        bars, x = [], LABEL_W
        for s in order:
            k = n.suitable_by_sector.get(s, 0)
            if k <= 0:
                continue
            w = scale.length(k, bar_w)
            value = (
                Text(x + w / 2, y + rh / 2 + 4, str(k), f"sv {'light' if s in LIGHT_ON else 'dark'}")
                if w >= 14
                else None
            )
            bars.append(
                Bar(
                    Box(x, y + 6, w, rh - 12),
                    SECTOR_FILL.get(s, OTHER_FILL),
                    "seg",
                    f"Need {n.need_id}: {lower_code(s)}, {plural(k, 'suitable provider')}",
                    value,
                )
            )
            x += w
        out.append(
            BarRow(label, bars, [Text(x + 6, y + rh / 2 + 4, f"{total} suitable, {n.suitable_vcse} VCSE", "end")])
        )
    keys = [(SECTOR_FILL.get(s, OTHER_FILL), "sector", humanise(s)) for s in order]
    title = "Sector mix of suitable providers per need"
    return _per_need("fig-sector-svg", title, desc, scale, bar_w, y0, axis_bottom, out, keys)


def capacity_chart(report: Report, rows: NeedRows | None = None) -> BarChart:
    """Two bars per need: its annual volume and the suitable providers' declared capacity. The scale stops at
    four times the largest volume; longer capacity bars are cut, with a break mark, and keep their number."""
    needs = (rows or NeedRows(report)).reported()
    volumes = [n.capacity.volume for n in needs]
    everything = max([*volumes, *(n.capacity.suitable_capacity for n in needs)], default=0)
    limit = 4 * max(volumes, default=0) or everything
    scale = nice_scale(max(min(everything, limit), 1))
    bar_w, rh, y0 = 300.0, 40.0, 8.0
    axis_bottom = y0 + len(needs) * rh
    desc = "; ".join(
        f"need {n.need_id}: volume {whole(n.capacity.volume)} a year, suitable capacity "
        f"{whole(n.capacity.suitable_capacity)}"
        for n in needs
    )
    out, cut = [], False
    for i, n in enumerate(needs):
        y = y0 + i * rh
        vol, cap = n.capacity.volume, n.capacity.suitable_capacity
        wv, wc = scale.length(vol, bar_w), scale.length(cap, bar_w)
        ratio = f" ({n.capacity.coverage_ratio:.1f}×)" if n.capacity.coverage_ratio is not None else ""
        unknown = " *" if n.capacity.unknown_capacity else ""
        brk = None
        if cap > scale.top:
            cut = True
            bx = LABEL_W + wc - 14
            brk = f"M{coord(bx)} {coord(y + 36)} l5 -19 M{coord(bx + 5)} {coord(y + 36)} l5 -19"
        out.append(
            BarRow(
                label=row_label(4, y + rh / 2, n.pathway_name, f"Need {n.need_id}: {n.title}"),
                bars=[
                    Bar(
                        Box(LABEL_W, y + 7, max(wv, 0.5), 11),
                        VOLUME_FILL,
                        "vol",
                        f"Need {n.need_id}: annual volume {whole(vol)} service users",
                    ),
                    Bar(
                        Box(LABEL_W, y + 20, max(wc, 0.5), 13),
                        CAPACITY_FILL,
                        "cap",
                        f"Need {n.need_id}: suitable capacity {whole(cap)} service users a year{ratio}",
                    ),
                ],
                texts=[
                    Text(LABEL_W + wv + 5, y + 16, f"{whole(vol)} a year", "bl"),
                    Text(LABEL_W + wc + 5, y + 31, f"{whole(cap)}{ratio}{unknown}", "bl strong"),
                ],
                cut=brk,
            )
        )
    keys = [
        (VOLUME_FILL, "vol", "Annual volume (service users a year)"),
        (CAPACITY_FILL, "cap", "Declared capacity of suitable providers"),
    ]
    title = "Capacity of suitable providers against annual volume"
    return _per_need("fig-cap-svg", title, desc, scale, bar_w, y0, axis_bottom, out, keys, cut=cut)


def _per_need(
    svg_id: str,
    title: str,
    desc: str,
    scale: Scale,
    bar_w: float,
    y0: float,
    axis_bottom: float,
    rows: list[BarRow],
    keys: list[tuple[str, str, str]],
    cut: bool = False,
) -> BarChart:
    """A chart of one row of bars per need on a common scale from LABEL_W (`bar_w` wide; the rows from `y0` down to
    `axis_bottom`): the scale's ticks over the rows, the legend (`keys`) under them."""
    return BarChart(
        frame=Frame(svg_id, CHART_W, axis_bottom + 24 + 34, title, desc),
        scale=scale,
        ticks=ticks(scale, LABEL_W, bar_w, y0 - 4, axis_bottom),
        rows=rows,
        legend=legend(keys, axis_bottom + 44),
        cut=cut,
    )
