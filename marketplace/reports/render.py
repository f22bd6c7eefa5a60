"""Renderers for the market-engagement report (pure: a :class:`Report` in, text out).

``to_csv(report)``, ``to_csv_bytes(report)``, ``CSV_HEADER``
    The CSV, from :mod:`marketplace.reports.spreadsheet` (columns documented there).

``to_html(report)``
    A self-contained, printable (A4) HTML5 page: summary, three inline SVG
    charts (market depth by need and area, sector mix, capacity against
    volume), a section per need, added value against the budget, partnership
    options and gaps, stale profiles, and the method. No scripts, no external
    resources; every value from the report is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from marketplace.reports.models import (
    COMPETITIVE_MARKET,
    LIMITED_MARKET,
    NO_MARKET,
    Cell,
    CriterionNote,
    NeedReport,
    Report,
    StaleProvider,
)
from marketplace.reports.spreadsheet import CSV_HEADER, to_csv, to_csv_bytes
from marketplace.reports.view import NeedRows as _Rows
from marketplace.reports.view import area_names as _area_names
from marketplace.reports.view import ordered_cells as _ordered_cells
from matching.partnerships import Cell as PlanCell

__all__ = ["CSV_HEADER", "to_csv", "to_csv_bytes", "to_html"]

SECTORS = ("third_sector", "co_operative", "social_enterprise", "private", "public")
VERDICTS = (COMPETITIVE_MARKET, LIMITED_MARKET, NO_MARKET)
VERDICT_LABELS = {
    NO_MARKET: "No market",
    LIMITED_MARKET: "Limited market",
    COMPETITIVE_MARKET: "Competitive market",
}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_SPECIAL_WORDS = {"co_operative": "Co-operative", "cio": "CIO", "vcse": "VCSE", "cyp": "CYP", "ete": "ETE"}


# ---------------------------------------------------------------------------------------------------------------
# formatting helpers


def _whole_pounds(x: float | int) -> int:
    return int(Decimal(str(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _gbp(x: float | int) -> str:
    return f"£{_whole_pounds(x):,}"


def _int(n: int | float) -> str:
    return f"{round(n):,}"


def _score(x: float) -> str:
    return f"{x:.3f}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _humanise(code: str) -> str:
    """``third_sector`` / ``CARE_LEAVERS`` -> "Third sector" / "Care leavers"; some codes keep a set spelling."""
    if code.lower() in _SPECIAL_WORDS:
        return _SPECIAL_WORDS[code.lower()]
    text = code.replace("_", " ").strip().lower()
    return text[:1].upper() + text[1:]


def _lower(code: str) -> str:
    """As :func:`_humanise`, in lower case for use mid-sentence."""
    return _SPECIAL_WORDS.get(code.lower()) or code.replace("_", " ").strip().lower()


def _verdict_label(v: str) -> str:
    return VERDICT_LABELS.get(v, _humanise(v))


def _verdict_class(v: str) -> str:
    return v if v in VERDICT_LABELS else "unknown"


def _date(d: dt.date | None) -> str:
    if d is None:
        return "not set"
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _when(t: dt.datetime | None) -> str:
    if t is None:
        return "not recorded"
    out = f"{_date(t.date())}, {t:%H:%M}"
    offset = t.utcoffset()
    if offset is None:
        return out
    if offset == dt.timedelta(0):
        return out + " UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return out + f" UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _and_list(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _fit(text: str, max_chars: int) -> str:
    """Shorten to ``max_chars`` with an ellipsis (SVG text does not wrap)."""
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)].rstrip(" ,;:-") + "…"


def _n(x: float) -> str:
    """A compact SVG coordinate."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


# ---------------------------------------------------------------------------------------------------------------
# SVG charts

_CHART_W = 680
_LABEL_W = 250


def _svg_open(width: float, height: float, title: str, desc: str, ident: str) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {_n(width)} {_n(height)}" aria-labelledby="{ident}-t {ident}-d" '
        f'aria-label="{_e(title)}" focusable="false">'
        f'<title id="{ident}-t">{_e(title)}</title><desc id="{ident}-d">{_e(desc)}</desc>'
    )


def _row_label(x: float, y: float, head: str, sub: str, max_chars: int) -> str:
    """A two-line row label: the pathway in the first line, the need in a smaller second line."""
    return (
        f'<text x="{_n(x)}" y="{_n(y - 2)}" class="rl">{_e(_fit(head, max_chars))}<title>{_e(head)}</title></text>'
        f'<text x="{_n(x)}" y="{_n(y + 11)}" class="rs">{_e(_fit(sub, int(max_chars * 1.3)))}<title>{_e(sub)}'
        "</title></text>"
    )


def _legend(items: Sequence[tuple[str, str, str]], y: float, x0: float = 0) -> str:
    """Legend swatches (fill, css class, label) laid out in a row starting at ``x0``."""
    out, x = [], x0
    for fill, cls, label in items:
        out.append(f'<rect class="key {cls}" x="{_n(x)}" y="{_n(y - 10)}" width="14" height="14" rx="2" '
                   f'fill="{fill}"/>')
        out.append(f'<text x="{_n(x + 20)}" y="{_n(y + 1)}" class="lg">{_e(label)}</text>')
        x += 20 + len(label) * 5.6 + 22
    return "".join(out)


_HEAT_DEFS = (
    '<defs>'
    '<pattern id="hm-limited" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="6" height="6" fill="#d6e8e4"/><circle cx="3" cy="3" r="0.9" fill="#5d8f89"/></pattern>'
    '<pattern id="hm-none" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b4543a" '
    'stroke-width="1.6"/></pattern>'
    '</defs>'
)
_HEAT_FILL = {COMPETITIVE_MARKET: "#1f5f5b", LIMITED_MARKET: "url(#hm-limited)", NO_MARKET: "url(#hm-none)"}
_NA_FILL = "#f1f1ee"


_HEAT_MAX_COLS = 12


def _heatmap(report: Report, rows: _Rows, names: dict[str, str]) -> str:
    """Needs (rows) by areas (columns); more than ``_HEAT_MAX_COLS`` areas are split into stacked panels."""
    areas = list(report.grid.areas)
    for c in report.grid.cells:  # tolerate a cell whose area the grid does not list
        if c.area not in areas:
            areas.append(c.area)
    cells = {(c.need_id, c.area): c for c in report.grid.cells}
    ncols, nrows = len(areas), len(rows.ids)
    npanels = max(1, math.ceil(ncols / _HEAT_MAX_COLS))
    per_panel = max(1, math.ceil(ncols / npanels))
    cw = max(34.0, min(56.0, (_CHART_W - _LABEL_W - 60) / per_panel))
    rh = 36.0 if npanels == 1 else 30.0  # several panels: keep the figure within an A4 page
    col_names = [names.get(a, a) for a in areas]
    longest = max((len(_fit(s, 24)) for s in col_names), default=4)
    header_h = 16 + longest * 5.4 * 0.72
    right_pad = max(60.0, longest * 5.4 * 0.72 - cw / 2 + 8)
    width = max(_CHART_W, _LABEL_W + per_panel * cw + right_pad)
    panel_h = header_h + nrows * rh + 12
    height = npanels * panel_h + 28
    counts = {v: sum(1 for c in report.grid.cells if c.verdict == v) for v in VERDICTS}
    desc = (f"{nrows} needs by {ncols} areas. " + "; ".join(
        f"{_verdict_label(v).lower()}: {_plural(counts[v], 'cell')}" for v in VERDICTS) + ".")
    out = [_svg_open(width, height, "Market depth by need and area", desc, "fig-depth-svg"), _HEAT_DEFS]
    for p in range(npanels):
        top = p * panel_h
        panel_areas = list(enumerate(areas))[p * per_panel:(p + 1) * per_panel]
        for k, (j, _area) in enumerate(panel_areas):
            x = _LABEL_W + k * cw + cw / 2 - 2
            out.append(f'<text class="ch" transform="translate({_n(x)} {_n(top + header_h - 6)}) rotate(-45)">'
                       f"{_e(_fit(col_names[j], 24))}<title>{_e(col_names[j])} ({_e(areas[j])})</title></text>")
        for i, need_id in enumerate(rows.ids):
            y = top + header_h + i * rh
            out.append(_row_label(4, y + rh / 2, rows.heading(need_id), rows.subheading(need_id), 33))
            for k, (j, area) in enumerate(panel_areas):
                out.append(_heat_cell(cells.get((need_id, area)), need_id, col_names[j], area, rows,
                                      _LABEL_W + k * cw, y, cw, rh))
        bottom = top + header_h + nrows * rh
        out.append(f'<line x1="{_LABEL_W}" x2="{_n(_LABEL_W + len(panel_areas) * cw)}" y1="{_n(bottom + 0.5)}" '
                   f'y2="{_n(bottom + 0.5)}" class="rule"/>')
    most = report.method.thresholds.limited_market_max
    out.append(_legend([
        (_HEAT_FILL[COMPETITIVE_MARKET], COMPETITIVE_MARKET, f"Competitive ({most + 1}+)"),
        (_HEAT_FILL[LIMITED_MARKET], LIMITED_MARKET, f"Limited (1–{most})"),
        (_HEAT_FILL[NO_MARKET], NO_MARKET, "No market (0)"),
        (_NA_FILL, "na", "Area not part of the need"),
    ], height - 14, 4))
    out.append("</svg>")
    return "".join(out)


def _heat_cell(cell: Cell | None, need_id: int, area_name: str, area: str, rows: _Rows,
               x: float, y: float, cw: float, rh: float) -> str:
    """One square: a rect titled with need, area and verdict, and the count of suitable providers."""
    box = f'x="{_n(x + 1)}" y="{_n(y + 1)}" width="{_n(cw - 2)}" height="{_n(rh - 2)}"'
    if cell is None:
        return (f'<rect class="na" {box} fill="{_NA_FILL}"><title>{_e(area_name)} is not part of need {need_id}'
                "</title></rect>")
    v = _verdict_class(cell.verdict)
    label = (f"{rows.heading(need_id)} (need {need_id}) in {area_name}: {_verdict_label(cell.verdict)}, "
             f"{_plural(cell.suitable, 'suitable provider')}")
    if cell.providers:
        label += ": " + "; ".join(cell.providers)
    stroke = ' stroke="#b4543a" stroke-width="1.2"' if v == NO_MARKET else ""
    tone = "light" if v == COMPETITIVE_MARKET else "dark"
    return (f'<rect class="cell {v}" data-verdict="{_e(cell.verdict)}" data-need="{_e(need_id)}" '
            f'data-area="{_e(area)}" {box} rx="2" fill="{_HEAT_FILL.get(v, "#ffffff")}"{stroke} '
            f'aria-label="{_e(label)}"><title>{_e(label)}</title></rect>'
            f'<text class="cv {tone}" x="{_n(x + cw / 2)}" y="{_n(y + rh / 2 + 4)}" aria-hidden="true">'
            f"{cell.suitable}</text>")


_SECTOR_FILL = {
    "third_sector": "#1f5f5b",
    "co_operative": "#4e8c86",
    "social_enterprise": "#9fcac4",
    "private": "url(#sx-private)",
    "public": "url(#sx-public)",
}
_SECTOR_TEXT = {"third_sector": "light", "co_operative": "light"}
_OTHER_FILL = "#c9c9c4"
_SECTOR_DEFS = (
    '<defs>'
    '<pattern id="sx-private" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#efe4cf"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8c7650" '
    'stroke-width="1.4"/></pattern>'
    '<pattern id="sx-public" width="5" height="5" patternUnits="userSpaceOnUse">'
    '<rect width="5" height="5" fill="#dde2ea"/><circle cx="2.5" cy="2.5" r="1" fill="#4c5d78"/></pattern>'
    '</defs>'
)


def _nice_step(top: float, target_ticks: int = 5) -> float:
    if top <= 0:
        return 1.0
    raw = top / target_ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _nice_top(value: float) -> float:
    step = _nice_step(value)
    return max(step, math.ceil(value / step) * step)


def _axis(x0: float, width: float, top: float, y1: float, y2: float, integer: bool) -> str:
    step = max(1.0, _nice_step(top)) if integer else _nice_step(top)
    out, v = [], 0.0
    while v <= top + 1e-9:
        x = x0 + width * v / top
        out.append(f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(y1)}" y2="{_n(y2)}"/>'
                   f'<text class="tick" x="{_n(x)}" y="{_n(y2 + 13)}">{_int(v)}</text>')
        v += step
    return "".join(out)


def _sector_chart(report: Report, rows: _Rows) -> str:
    needs = [rows.needs[i] for i in rows.ids if i in rows.needs]
    others = sorted({s for n in needs for s in n.suitable_by_sector if s not in SECTORS})
    order = [*SECTORS, *others]
    top = max((sum(n.suitable_by_sector.values()) for n in needs), default=0)
    top = _nice_top(max(top, 1)) if top > 10 else max(top, 1)
    bar_w, rh, y0 = 320.0, 30.0, 8.0
    axis_bottom = y0 + len(needs) * rh
    height = axis_bottom + 24 + 34
    desc = "; ".join(
        f"need {n.need_id}: " + (", ".join(f"{_lower(s)} {k}" for s, k in n.suitable_by_sector.items() if k)
                                 or "no suitable providers") for n in needs)
    out = [_svg_open(_CHART_W, height, "Sector mix of suitable providers per need", desc, "fig-sector-svg"),
           _SECTOR_DEFS, _axis(_LABEL_W, bar_w, top, y0 - 4, axis_bottom, integer=True)]
    for i, n in enumerate(needs):
        y = y0 + i * rh
        out.append(_row_label(4, y + rh / 2, rows.heading(n.need_id), rows.subheading(n.need_id), 33))
        total = sum(n.suitable_by_sector.values())
        if total == 0:
            out.append(f'<text class="note" x="{_LABEL_W + 6}" y="{_n(y + rh / 2 + 4)}">No suitable provider</text>')
            continue
        x = float(_LABEL_W)
        for s in order:
            k = n.suitable_by_sector.get(s, 0)
            if k <= 0:
                continue
            w = bar_w * k / top
            fill = _SECTOR_FILL.get(s, _OTHER_FILL)
            out.append(f'<rect class="seg" x="{_n(x)}" y="{_n(y + 6)}" width="{_n(w)}" height="{_n(rh - 12)}" '
                       f'fill="{fill}" stroke="#ffffff" stroke-width="1"><title>Need {n.need_id}: {_e(_lower(s))}, '
                       f'{_plural(k, "suitable provider")}</title></rect>')
            if w >= 14:
                tone = "light" if _SECTOR_TEXT.get(s) else "dark"
                out.append(f'<text class="sv {tone}" x="{_n(x + w / 2)}" y="{_n(y + rh / 2 + 4)}" '
                           f'aria-hidden="true">{k}</text>')
            x += w
        out.append(f'<text class="end" x="{_n(x + 6)}" y="{_n(y + rh / 2 + 4)}">{total} suitable, '
                   f'{n.suitable_vcse} VCSE</text>')
    out.append(_legend([(_SECTOR_FILL.get(s, _OTHER_FILL), "sector", _humanise(s)) for s in order],
                       axis_bottom + 44, 4))
    out.append("</svg>")
    return "".join(out)


def _capacity_chart(report: Report, rows: _Rows) -> tuple[str, bool]:
    """Capacity against volume; returns the SVG and whether some bars were cut at the scale's end."""
    needs = [rows.needs[i] for i in rows.ids if i in rows.needs]
    volumes = [n.capacity.volume for n in needs]
    capacities = [n.capacity.suitable_capacity for n in needs]
    everything = max([*volumes, *capacities], default=0)
    limit = 4 * max(volumes, default=0) or everything
    top = _nice_top(max(min(everything, limit), 1))
    bar_w, rh, y0 = 300.0, 40.0, 8.0
    axis_bottom = y0 + len(needs) * rh
    height = axis_bottom + 24 + 34
    desc = "; ".join(f"need {n.need_id}: volume {_int(n.capacity.volume)} a year, suitable capacity "
                     f"{_int(n.capacity.suitable_capacity)}" for n in needs)
    out = [_svg_open(_CHART_W, height, "Capacity of suitable providers against annual volume", desc, "fig-cap-svg"),
           '<defs><pattern id="cap-vol" width="5" height="5" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="5" height="5" fill="#e4e4df"/>'
           '<line x1="0" y1="0" x2="0" y2="5" stroke="#77776f" stroke-width="1.2"/></pattern></defs>',
           _axis(_LABEL_W, bar_w, top, y0 - 4, axis_bottom, integer=True)]
    cut = False
    for i, n in enumerate(needs):
        y = y0 + i * rh
        out.append(_row_label(4, y + rh / 2, rows.heading(n.need_id), rows.subheading(n.need_id), 33))
        vol, cap = n.capacity.volume, n.capacity.suitable_capacity
        wv = bar_w * min(vol, top) / top
        wc = bar_w * min(cap, top) / top
        out.append(f'<rect class="vol" x="{_LABEL_W}" y="{_n(y + 7)}" width="{_n(max(wv, 0.5))}" height="11" '
                   f'fill="url(#cap-vol)"><title>Need {n.need_id}: annual volume {_int(vol)} service users'
                   f'</title></rect>')
        out.append(f'<text class="bl" x="{_n(_LABEL_W + wv + 5)}" y="{_n(y + 16)}">{_int(vol)} a year</text>')
        ratio = f" ({n.capacity.coverage_ratio:.1f}×)" if n.capacity.coverage_ratio is not None else ""
        out.append(f'<rect class="cap" x="{_LABEL_W}" y="{_n(y + 20)}" width="{_n(max(wc, 0.5))}" height="13" '
                   f'fill="#1f5f5b"><title>Need {n.need_id}: suitable capacity {_int(cap)} service users a year'
                   f'{_e(ratio)}</title></rect>')
        if cap > top:
            cut = True
            bx = _LABEL_W + wc - 14
            out.append(f'<path class="brk" d="M{_n(bx)} {_n(y + 36)} l5 -19 M{_n(bx + 5)} {_n(y + 36)} l5 -19"/>')
        unknown = " *" if n.capacity.unknown_capacity else ""
        out.append(f'<text class="bl strong" x="{_n(_LABEL_W + wc + 5)}" y="{_n(y + 31)}">{_int(cap)}{_e(ratio)}'
                   f'{_e(unknown)}</text>')
    out.append(_legend([("url(#cap-vol)", "vol", "Annual volume (service users a year)"),
                        ("#1f5f5b", "cap", "Declared capacity of suitable providers")], axis_bottom + 44, 4))
    out.append("</svg>")
    return "".join(out), cut


# ---------------------------------------------------------------------------------------------------------------
# HTML sections


_CSS = """
:root { --ink: #1c2226; --muted: #5a646b; --rule: #c9d0d4; --faint: #eef1f2; --accent: #1f5f5b; --warn: #b4543a; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; font-size: 15px; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "Liberation Sans", "DejaVu Sans", sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 50rem; margin: 0 auto; padding: 2.5rem 1.5rem 3rem; }
header.cover { border-bottom: 3px solid var(--accent); padding-bottom: 1rem; margin-bottom: 1.5rem; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: .78rem; color: var(--accent); font-weight: 600;
  margin: 0 0 .35rem; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: 0 0 .5rem; font-weight: 650; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .4rem; border-top: 1px solid var(--rule);
  font-weight: 650; }
h3 { font-size: 1.08rem; margin: 1.6rem 0 .4rem; font-weight: 650; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; font-weight: 650; }
p { margin: .4rem 0 .8rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .6rem 0 0; font-size: .92rem; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.summary { font-size: 1rem; background: var(--faint); border-left: 4px solid var(--accent); padding: .8rem 1rem;
  margin: 1rem 0; }
.muted, .note { color: var(--muted); }
small, .small { font-size: .85rem; }
nav.toc { margin: 0 0 1rem; }
nav.toc .toc-h { font-weight: 600; margin: 0; font-size: .92rem; }
nav.toc ol { columns: 2; margin: .2rem 0 0; padding-left: 1.2rem; font-size: .92rem; }
a { color: var(--accent); }
#summary h2 { border-top: 0; margin-top: 1rem; padding-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; font-size: .88rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; color: var(--ink); }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem .35rem 0; border-bottom: 1px solid var(--rule); }
thead th { border-bottom: 1.5px solid var(--ink); font-weight: 600; font-size: .82rem; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; padding-right: .75rem; }
tfoot td { border-top: 1.5px solid var(--ink); border-bottom: 0; font-weight: 600; }
table.figures th { width: 34%; font-weight: 400; color: var(--muted); }
table.figures.two { table-layout: fixed; }
table.figures.two th { width: 16%; padding-right: .6rem; }
table.figures.two td { width: 34%; padding-right: 1rem; }
table.candidates { table-layout: fixed; }
table.candidates th:nth-child(1) { width: 2.8rem; }
table.candidates th:nth-child(2) { width: 26%; }
table.candidates th:nth-child(3) { width: 5.5rem; }
table.figures td { font-variant-numeric: tabular-nums; }
ul.strengths { margin: 0; padding-left: 1rem; }
ul.strengths li { margin: 0 0 .15rem; }
tr.below td { color: var(--muted); }
.verdict { display: inline-block; padding: .02rem .45rem; border-radius: 3px; font-size: .82rem; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.verdict.competitive_market { background: #1f5f5b; color: #fff; }
.verdict.limited_market { background: #d6e8e4; color: #1c3d3a; border: 1px dotted #1f5f5b; }
.verdict.no_market { background: #fff; color: #8a3a24; border: 1.5px dashed var(--warn); }
.verdict.unknown { border: 1px solid var(--rule); }
figure { margin: 1rem 0 1.5rem; }
figure svg.chart { display: block; width: 100%; height: auto; }
figcaption { font-size: .85rem; color: var(--muted); margin-top: .4rem; }
figcaption b { color: var(--ink); }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
  "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 11px; fill: #1c2226; }
svg .rl { font-weight: 600; }
svg .rs { font-size: 9.5px; fill: #5a646b; }
svg .ch { font-size: 10.5px; }
svg .cv { text-anchor: middle; font-weight: 700; font-size: 12px; }
svg .cv.light, svg .sv.light { fill: #fff; }
svg .cv.dark { fill: #1c2226; stroke: #fff; stroke-width: 3px; paint-order: stroke; stroke-linejoin: round; }
svg .sv { text-anchor: middle; font-size: 10.5px; font-weight: 600; }
svg .sv.dark { fill: #1c2226; stroke: #fff; stroke-width: 3px; paint-order: stroke; stroke-linejoin: round; }
svg .lg, svg .tick, svg .end, svg .bl { font-size: 10px; }
svg .tick { text-anchor: middle; fill: #5a646b; }
svg .bl.strong { font-weight: 600; }
svg .note { font-style: italic; fill: #5a646b; }
svg .grid { stroke: #e1e5e7; stroke-width: 1; }
svg .rule { stroke: #c9d0d4; }
svg .brk { stroke: #fff; stroke-width: 2.2; fill: none; }
svg rect.key { stroke: #8a9399; stroke-width: .6; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1.5rem; }
.need { margin-top: 1.8rem; }
.need h3 { margin-top: 0; }
.need .lede { color: var(--muted); font-size: .92rem; margin-top: 0; break-after: avoid; page-break-after: avoid; }
.option { margin: 1.2rem 0 1rem; }
.option h3 { margin: 0 0 .2rem; font-size: 1rem; }
.option h3, .option > p { break-after: avoid; page-break-after: avoid; }
td ul.plain { margin: 0; padding-left: 0; list-style: none; }
td ul.plain li { margin-bottom: .15rem; }
.warnbox { border-left: 4px solid var(--warn); padding: .5rem .9rem; background: #fbf3f0; margin: .6rem 0 1rem; }
ul.plain { padding-left: 1.1rem; }
footer { margin-top: 2.5rem; padding-top: .6rem; border-top: 1px solid var(--rule); font-size: .8rem;
  color: var(--muted); }
@page { size: A4; margin: 16mm 15mm 18mm; }
@media print {
  html { font-size: 9.5pt; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 18pt; }
  h2 { font-size: 13pt; break-after: avoid; page-break-after: avoid; }
  h3, h4 { break-after: avoid; page-break-after: avoid; }
  figure, svg, .summary, .warnbox, tr, .keep { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  caption { break-after: avoid; page-break-after: avoid; }
  nav.toc a { color: inherit; text-decoration: none; }
  .summary { background: #f4f6f6; }
}
"""


def _verdict_badge(v: str) -> str:
    return f'<span class="verdict {_verdict_class(v)}">{_e(_verdict_label(v))}</span>'


def _summary_text(report: Report, names: dict[str, str]) -> str:
    needs = report.needs
    t = report.method.thresholds
    if not needs:
        return "This exercise has no need with a stored match run yet, so there is no market to describe."
    nbv = {v: sum(1 for n in needs if n.verdict == v) for v in VERDICTS}
    phrases = {COMPETITIVE_MARKET: "a competitive market", LIMITED_MARKET: "a limited market", NO_MARKET: "no market"}
    parts = [f"{nbv[v]:,} {'has' if nbv[v] == 1 else 'have'} {phrases[v]}" for v in VERDICTS if nbv[v]]
    sentences = [f"Of the {_plural(len(needs), 'need')} in this exercise, {_and_list(parts)}"
                 f" (competitive means {t.limited_market_max + 1} or more suitable providers, limited 1 to "
                 f"{t.limited_market_max}, no market none)."]
    cells = report.grid.cells
    if cells:
        cbv = {v: sum(1 for c in cells if c.verdict == v) for v in VERDICTS}
        by_need = {n.need_id: n for n in needs}
        gaps = [c for c in _ordered_cells(report) if c.verdict == NO_MARKET]
        gap_text = ""
        if gaps:
            shown = [f"{by_need[c.need_id].title if c.need_id in by_need else c.pathway} in "
                     f"{names.get(c.area, c.area_name)}" for c in gaps[:4]]
            more = f" and {len(gaps) - 4} more" if len(gaps) > 4 else ""
            gap_text = f" ({'; '.join(shown)}{more})"
        sentences.append(
            f"Taking each need area by area, {cbv[COMPETITIVE_MARKET]:,} of the "
            f"{_plural(len(cells), '(need, area) cell')}"
            f" have a competitive market, {cbv[LIMITED_MARKET]:,} a limited market and "
            f"{'none has' if not cbv[NO_MARKET] else _plural(cbv[NO_MARKET], 'has', 'have')} no suitable provider"
            f"{gap_text}.")
    tot = report.totals
    sentences.append(
        f"The suitable providers bring an estimated {_gbp(tot.suitable_match_funding_per_year)} a year of match "
        f"funding and {_plural(tot.suitable_volunteers, 'volunteer')}, against a combined annual budget of "
        f"{_gbp(tot.annual_budget)}.")
    plan = report.partnerships
    if plan.options:
        best = plan.options[0]
        sentences.append(
            f"The leading partnership option, {best.lead.name} with {_plural(len(best.partners), 'partner')}, "
            f"covers {best.covered_cell_count:,} of the {len(plan.cells):,} cells"
            + (f", leaving {_plural(len(plan.uncovered), 'gap')} that no suitable provider covers."
               if plan.uncovered else " with no gaps."))
    if report.stale_warning:
        sentences.append(f"{_plural(len(report.stale_warning), 'suitable provider')} "
                         f"{'has' if len(report.stale_warning) == 1 else 'have'} not confirmed their profile for over "
                         f"{t.stale_after_months} months, so their details should be checked.")
    else:
        sentences.append(f"Every suitable provider has confirmed its profile within the last "
                         f"{t.stale_after_months} months.")
    return " ".join(sentences)


def _cover(report: Report, names: dict[str, str]) -> str:
    ex = report.exercise
    dates = (f"{_date(ex.opens_on)} to {_date(ex.closes_on)}" if ex.opens_on or ex.closes_on else "not set")
    desc = f"<p>{_e(ex.description)}</p>" if ex.description.strip() else ""
    return (
        '<header class="cover">'
        '<p class="kicker">Market-engagement report</p>'
        f"<h1>{_e(ex.title)}</h1>"
        '<dl class="meta">'
        f"<dt>Commissioning body</dt><dd>{_e(ex.commissioning_body)}</dd>"
        f"<dt>Engagement window</dt><dd>{_e(dates)}</dd>"
        f"<dt>Exercise status</dt><dd>{_e(_humanise(ex.status))} (exercise {_e(ex.id)})</dd>"
        f"<dt>Report generated</dt><dd>{_e(_when(report.generated_at))}</dd>"
        "</dl></header>"
        f"{_toc()}"
        '<section id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
        f'<p class="summary">{_e(_summary_text(report, names))}</p>{desc}'
        f"{_glance_table(report)}</section>"
    )


def _toc() -> str:
    items = [("summary", "Summary"), ("charts", "The market at a glance"), ("needs", "Findings by need"),
             ("budget", "Hold the budget, grow the provision"), ("partnerships", "Partnership options and gaps"),
             ("stale", "Profiles to check"), ("method", "Method")]
    links = "".join(f'<li><a href="#{k}">{_e(v)}</a></li>' for k, v in items)
    return f'<nav class="toc" aria-label="Contents"><p class="toc-h">Contents</p><ol>{links}</ol></nav>'


def _glance_table(report: Report) -> str:
    if not report.needs:
        return ""
    rows = "".join(
        f'<tr><td><a href="#need-{n.need_id}">{n.need_id}</a></td><td>{_e(n.title)}<br>'
        f'<span class="muted small">{_e(n.pathway_name)}; {_e(", ".join(n.area_names))}</span></td>'
        f'<td class="num">{_int(n.annual_volume)}</td><td class="num">{_gbp(n.annual_budget)}</td>'
        f'<td class="num">{n.eligible:,}</td><td class="num">{n.suitable:,}</td>'
        f"<td>{_verdict_badge(n.verdict)}</td></tr>"
        for n in report.needs)
    return (
        "<table><caption>The needs</caption><thead><tr><th>Need</th><th>Title, pathway and areas</th>"
        '<th class="num">Volume a year</th><th class="num">Budget a year</th><th class="num">Eligible</th>'
        f'<th class="num">Suitable</th><th>Market</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _charts(report: Report, rows: _Rows, names: dict[str, str]) -> str:
    t = report.method.thresholds
    if not rows.ids:
        return ('<section id="charts"><h2>The market at a glance</h2>'
                "<p>There are no needs with match runs to chart.</p></section>")
    cap_svg, cut = _capacity_chart(report, rows)
    cut_note = (" Bars ending in a break (//) run beyond the scale; the number gives the full value."
                if cut else "")
    unknown = [f"need {n.need_id} ({_plural(n.capacity.unknown_capacity, 'provider')})"
               for n in report.needs if n.capacity.unknown_capacity]
    if unknown:
        cut_note += f" * Some suitable providers did not state a capacity: {_and_list(unknown)}."
    return (
        '<section id="charts" aria-labelledby="charts-h"><h2 id="charts-h">The market at a glance</h2>'
        f'<figure id="fig-depth">{_heatmap(report, rows, names)}'
        "<figcaption><b>Figure 1. Market depth by need and area.</b> Each square is one need in one of its areas; "
        "the number is how many suitable providers cover that area for that need (a total score of at least "
        f"{t.suitable_score:g}). Dark squares have a competitive market, dotted squares a limited market, hatched "
        "squares none; plain grey squares are areas the need does not include.</figcaption></figure>"
        f'<figure id="fig-sector">{_sector_chart(report, rows)}'
        "<figcaption><b>Figure 2. Sector mix of the suitable providers for each need.</b> Third sector, "
        "co-operatives and social enterprises together make up the VCSE count; private and public providers are "
        "patterned.</figcaption></figure>"
        f'<figure id="fig-capacity">{cap_svg}'
        "<figcaption><b>Figure 3. Capacity against volume.</b> For each need, the hatched bar is the number of "
        "service users a year to be supported and the solid bar the total that the suitable providers say they can "
        "take on, with that total as a multiple of the volume. Providers who have not stated a capacity count as "
        f"none. Capacity is declared per provider, not per need, so the same places can count towards several "
        f"needs.{cut_note}</figcaption></figure>"
        "</section>"
    )


def _stale_items(stale: Sequence[StaleProvider]) -> str:
    items = []
    for s in stale:
        when = (f"last confirmed {_date(s.last_confirmed)}" if s.last_confirmed else "never confirmed")
        months = f" ({s.months_since_confirmed:g} months ago)" if s.months_since_confirmed is not None else ""
        items.append(f"<li>{_e(s.name)} (provider {s.provider_id}): {_e(when)}{_e(months)}</li>")
    return "".join(items)


def _strength(note: CriterionNote) -> str:
    """<b>Pathway fit</b>: its first evidence line (escaped; typographic arrows)."""
    evidence = f": {_e(note.evidence[0].replace(' -> ', ' → '))}" if note.evidence else ""
    return f"<b>{_e(_humanise(note.criterion))}</b>{evidence}"


def _need_section(n: NeedReport, report: Report) -> str:
    t = report.method.thresholds
    cap, av = n.capacity, n.added_value
    coverage = (f"{cap.coverage_ratio:.1f} × the annual volume ({_int(cap.suitable_capacity)} against "
                f"{_int(cap.volume)})" if cap.coverage_ratio is not None else
                f"{_int(cap.suitable_capacity)} a year (no volume set)")
    if cap.unknown_capacity:
        coverage += f"; {_plural(cap.unknown_capacity, 'provider')} did not state a capacity"
    concentration = (f"{_pct(cap.largest_share)} of suitable capacity is {_e(cap.largest_provider)}'s"
                     if cap.largest_provider is not None and cap.largest_share is not None else "not known")
    sectors = ", ".join(f"{_e(_lower(s))} {k}" for s, k in n.suitable_by_sector.items() if k) or "none"
    forms = ", ".join(f"{_e(_lower(s))} {k}" for s, k in n.suitable_by_legal_form.items() if k) or "none"
    figures = [
        ("Market", _verdict_badge(n.verdict)),
        ("Eligible", f"{n.eligible:,} of {n.directory_size:,} in the directory"),
        (f"Suitable (score ≥ {t.suitable_score:g})", f"{n.suitable:,}"),
        ("VCSE among the suitable", f"{n.suitable_vcse:,} of {n.suitable:,}"),
        ("Sectors", sectors),
        ("Legal forms", forms),
        ("Capacity coverage", _e(coverage)),
        ("Concentration", concentration),
        ("Match funding", f"{_gbp(av.match_funding_per_year)} a year"),
        ("Volunteers", f"{av.volunteers:,}"),
        ("With premises in the area", f"{av.providers_with_premises_in_area:,} of {n.suitable:,} suitable"),
    ]
    pairs = [figures[k:k + 2] for k in range(0, len(figures), 2)]
    fig_rows = "".join(
        "<tr>" + "".join(f'<th scope="row">{_e(k)}</th><td>{v}</td>' for k, v in pair)
        + ("<td></td><td></td>" if len(pair) == 1 else "") + "</tr>" for pair in pairs)

    cand_rows = []
    for rank, c in enumerate(n.top_candidates, start=1):
        ok = c.total >= t.suitable_score
        strengths = "".join(f"<li>{_strength(s)}</li>" for s in c.strengths)
        row_attr = "" if ok else ' class="below"'
        below = "" if ok else '<br><span class="small">below threshold</span>'
        cand_rows.append(
            f'<tr{row_attr}><td class="num">{rank}</td><td>{_e(c.name)}'
            f'<br><span class="small muted">{_e(_humanise(c.sector)) if c.sector else ""}</span></td>'
            f'<td class="num">{_score(c.total)}{below}</td>'
            f'<td><ul class="strengths">{strengths}</ul></td></tr>')
    candidates = (
        '<table class="candidates"><caption>Top candidates and their main strengths</caption><thead><tr>'
        '<th class="num">Rank</th><th>Provider and sector</th><th class="num">Score</th><th>Main strengths</th>'
        f"</tr></thead><tbody>{''.join(cand_rows)}</tbody></table>"
        if cand_rows else "<p>No provider was shortlisted for this need.</p>")

    excluded = sorted(n.excluded_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    several = (' <span class="muted">A provider can fail on more than one count.</span>'
               if sum(1 for _, k in excluded if k) > 1 else "")
    excluded_text = ("; ".join(f"{_e(_humanise(r))}: {k:,}" for r, k in excluded if k) or "None")
    stale = (f'<ul class="plain">{_stale_items(n.stale_suitable)}</ul>' if n.stale_suitable else
             f"<p>None: every suitable provider confirmed its profile in the last {t.stale_after_months} months.</p>")
    by_weight = sorted(n.weights.items(), key=lambda kv: (-kv[1], kv[0]))
    weights = ", ".join(f"{_e(_lower(k))} {_pct(w)}" for k, w in by_weight)
    cohorts = ", ".join(_lower(c) for c in n.cohorts) or "all"
    return (
        f'<section class="need" id="need-{n.need_id}" aria-labelledby="need-{n.need_id}-h">'
        f'<div class="keep"><h3 id="need-{n.need_id}-h">Need {n.need_id}: {_e(n.title)}</h3>'
        f'<p class="lede">{_e(n.pathway_name)} ({_e(n.pathway)}) in {_e(_and_list(n.area_names))}; '
        f"for {_e(cohorts)}; {_int(n.annual_volume)} service users a year; {_gbp(n.annual_budget)} a year over "
        f"{n.contract_years:g} years.</p></div>"
        f'<table class="figures two keep"><caption>Key figures</caption><tbody>{fig_rows}</tbody></table>'
        f"{candidates}"
        '<div class="cols keep"><div>'
        "<h4>Not eligible, by reason</h4>"
        f'<p class="small">{excluded_text}.{several}</p>'
        "</div><div>"
        "<h4>Suitable providers with stale profiles</h4>"
        f'<div class="small">{stale}</div>'
        "</div></div>"
        f'<p class="small muted">Match run {n.match_run_id}, {_e(_when(n.run_at))}. Criterion weights: {weights}.</p>'
        "</section>"
    )


def _needs(report: Report) -> str:
    body = "".join(_need_section(n, report) for n in report.needs) or "<p>No needs have been matched yet.</p>"
    return f'<section id="needs" aria-labelledby="needs-h"><h2 id="needs-h">Findings by need</h2>{body}</section>'


def _budget(report: Report) -> str:
    tot = report.totals
    rows = "".join(
        f"<tr><td>{n.need_id}</td><td>{_e(n.title)}</td><td class=\"num\">{_gbp(n.annual_budget)}</td>"
        f"<td class=\"num\">{_gbp(n.added_value.match_funding_per_year)}</td>"
        f"<td class=\"num\">{n.added_value.volunteers:,}</td>"
        f"<td class=\"num\">{n.added_value.providers_with_premises_in_area:,}</td></tr>"
        for n in report.needs)
    share = (f" That is {_pct(tot.suitable_match_funding_per_year / tot.annual_budget)} of the budget again in match "
             "funding." if tot.annual_budget else "")
    return (
        '<section id="budget" aria-labelledby="budget-h"><h2 id="budget-h">Hold the budget, grow the provision</h2>'
        f"<p>The exercise holds a combined annual budget of <strong>{_gbp(tot.annual_budget)}</strong>. The suitable "
        f"providers say they bring <strong>{_gbp(tot.suitable_match_funding_per_year)} a year</strong> of match "
        f"funding and <strong>{_plural(tot.suitable_volunteers, 'volunteer')}</strong>.{share}</p>"
        '<table class="keep"><thead><tr><th>Need</th><th>Title</th><th class="num">Annual budget</th>'
        '<th class="num">Match funding a year</th><th class="num">Volunteers</th>'
        f'<th class="num">With premises in area</th></tr></thead><tbody>{rows}</tbody>'
        f'<tfoot><tr><td></td><td>Total</td><td class="num">{_gbp(tot.annual_budget)}</td>'
        f'<td class="num">{_gbp(tot.suitable_match_funding_per_year)}</td>'
        f'<td class="num">{tot.suitable_volunteers:,}</td><td></td></tr></tfoot></table>'
        '<p class="small muted">Match funding and volunteers are as declared by providers. A provider suitable for '
        "several needs is counted under each, so the totals show what the market could bring, not money that is "
        "committed.</p></section>"
    )


def _cells_by_need(cells: Iterable[PlanCell], needs: dict[int, NeedReport], names: dict[str, str]) -> str:
    """Partnership cells as a list: one item per need, naming its areas."""
    grouped: dict[tuple[int | str, str], list[str]] = {}
    for c in cells:
        grouped.setdefault((c.need_id, c.pathway), []).append(names.get(c.area, c.area))
    parts = []
    for (need_id, pathway), areas in grouped.items():
        n = needs.get(need_id) if isinstance(need_id, int) else None
        label = f"Need {need_id}, {n.title}" if n else f"Need {need_id} ({pathway})"
        parts.append(f"<li><strong>{_e(label)}:</strong> {_e(', '.join(areas))}</li>")
    return f'<ul class="plain">{"".join(parts)}</ul>'


def _partnerships(report: Report, names: dict[str, str]) -> str:
    plan = report.partnerships
    needs = {n.need_id: n for n in report.needs}
    out = ['<section id="partnerships" aria-labelledby="partnerships-h">'
           '<h2 id="partnerships-h">Partnership options and gaps</h2>'
           f"<p>A lead provider with partners could deliver the needs together. Each option below fixes a different "
           f"lead and adds the fewest partners needed to cover every (need, area) cell that at least one suitable "
           f"provider covers: {plan.coverable_count:,} of {len(plan.cells):,} cells. The lead delivers every cell it "
           f"covers; each other cell goes to the best-scoring partner covering it.</p>"]
    if plan.uncovered:
        out.append('<div class="warnbox keep"><h3>Gaps: cells no suitable provider covers</h3>'
                   f"{_cells_by_need(plan.uncovered, needs, names)}</div>")
    else:
        out.append("<p><strong>No gaps:</strong> every cell is covered by at least one suitable provider.</p>")
    if not plan.options:
        out.append("<p>No partnership option could be formed: no suitable provider covers any cell.</p>")
    for opt in plan.options:
        members = [opt.lead, *opt.partners]
        rows = "".join(
            f"<tr><td>{_e(m.role.capitalize())}</td><td>{_e(m.name)}</td><td class=\"num\">{len(m.cells):,}</td>"
            f"<td class=\"num\">{m.mean_score:.2f}</td><td>{_cells_by_need(m.cells, needs, names)}</td></tr>"
            for m in members)
        out.append(
            f'<div class="option" id="option-{opt.rank}"><h3>Option {opt.rank}: led by {_e(opt.lead.name)}</h3>'
            f'<p class="small">{_plural(opt.organisation_count, "organisation")} covering '
            f"{opt.covered_cell_count:,} of {len(plan.cells):,} cells, mean score {opt.mean_score:.2f}. "
            f"The lead {_e(opt.lead.reason)}.</p>"
            '<table><thead><tr><th>Role</th><th>Organisation</th><th class="num">Cells</th>'
            f'<th class="num">Mean score</th><th>Delivers</th></tr></thead><tbody>{rows}</tbody></table></div>')
    out.append("</section>")
    return "".join(out)


def _stale(report: Report) -> str:
    t = report.method.thresholds
    if report.stale_warning:
        body = (f'<div class="warnbox"><p>These suitable providers have not confirmed their profile for more than '
                f"{t.stale_after_months} months (or never have). Check their details before relying on them.</p>"
                f'<ul class="plain">{_stale_items(report.stale_warning)}</ul></div>')
    else:
        body = (f"<p>None. Every suitable provider has confirmed its profile within the last "
                f"{t.stale_after_months} months.</p>")
    return f'<section id="stale" aria-labelledby="stale-h"><h2 id="stale-h">Profiles to check</h2>{body}</section>'


def _method(report: Report) -> str:
    m, plan = report.method, report.partnerships
    t = m.thresholds
    criteria = "".join(f"<li>{_e(_humanise(c))}</li>" for c in m.criteria)
    runs = "".join(
        f"<tr><td>{n.need_id}</td><td>{_e(n.title)}</td><td class=\"num\">{n.match_run_id}</td>"
        f"<td>{_e(_when(n.run_at))}</td><td class=\"num\">{n.directory_size:,}</td></tr>" for n in report.needs)
    notes = "".join(f"<li>{_e(x)}</li>" for x in m.notes)
    snapshot = (f"{_when(m.data_snapshot_from)} to {_when(m.data_snapshot_to)}"
                if m.data_snapshot_from or m.data_snapshot_to else "not recorded")
    return (
        '<section id="method" aria-labelledby="method-h"><h2 id="method-h">Method</h2>'
        "<p>Every provider in the directory is screened for each need (does it offer the pathway, cover the areas, "
        "hold any required accreditation?) and each eligible provider is scored from 0 to 1 on the criteria below, "
        "weighted as listed with each need.</p>"
        '<div class="cols"><div><h3>Criteria</h3>'
        f'<ol class="small">{criteria}</ol></div><div><h3>Thresholds</h3>'
        '<table class="figures"><tbody>'
        f'<tr><th scope="row">Suitable</th><td>total score ≥ {t.suitable_score:g}</td></tr>'
        f'<tr><th scope="row">Limited market</th><td>1 to {t.limited_market_max} suitable providers</td></tr>'
        f'<tr><th scope="row">Stale profile</th><td>not confirmed for over {t.stale_after_months} months</td></tr>'
        "</tbody></table></div></div>"
        f"<h3>Verdict rule</h3><p>{_e(m.verdicts)}</p>"
        "<h3>Reproducibility</h3>"
        '<table class="figures"><tbody>'
        f'<tr><th scope="row">Matching algorithm version</th><td>{_e(", ".join(m.algorithm_versions) or "—")}'
        "</td></tr>"
        f'<tr><th scope="row">Partnership method</th><td>{_e(plan.method)} '
        f"(version {_e(plan.algorithm_version)})</td></tr>"
        f'<tr><th scope="row">Match runs</th><td>{_e(", ".join(str(i) for i in m.match_run_ids) or "—")}</td></tr>'
        f'<tr><th scope="row">Data snapshot</th><td>{_e(snapshot)}</td></tr>'
        "</tbody></table>"
        + ('<table><thead><tr><th>Need</th><th>Title</th><th class="num">Match run</th><th>Run at</th>'
           f'<th class="num">Directory size</th></tr></thead><tbody>{runs}</tbody></table>' if runs else "")
        + (f'<h3>Notes</h3><ul class="plain">{notes}</ul>' if notes else "")
        + "</section>"
    )


def to_html(report: Report) -> str:
    """The report as one self-contained, printable HTML5 page."""
    names = _area_names(report)
    rows = _Rows(report)
    ex = report.exercise
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="Provision">\n'
        f"<title>{_e(ex.title)}: market-engagement report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + _cover(report, names)
        + _charts(report, rows, names)
        + _needs(report)
        + _budget(report)
        + _partnerships(report, names)
        + _stale(report)
        + _method(report)
        + f"<footer>{_e(ex.title)}. {_e(ex.commissioning_body)}. Generated {_e(_when(report.generated_at))} by "
        "Provision from stored match runs; see Method for how to reproduce these figures.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )
