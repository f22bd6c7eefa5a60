"""The appraisal report as CSV and as a printable, self-contained HTML page (pure: an AppraisalReport in, text out).

The page uses the market report's layout and style sheet (`templates/base.html.j2`, `static/report.css`) plus
`static/appraisal.css`, and draws two inline SVG charts whose geometry is computed here: the weighted scores
stacked by criterion, and the sensitivity tornado (for each criterion, the range of its share over which the
preferred option stays preferred, narrowest first). No scripts, no external resources; every value is escaped by
the template engine.

CSV: one header, a `row_type` per kind of row: `option` (rank, weighted score, net present cost, affordability, the
contract years whose cost is above the annual budget), `decision` (once decided: the chosen option, who decided,
when, the reasons, the frozen market report and match runs it cites, whether the market engagement was still open;
the columns of `DECISION_COLUMNS`), `score` (each option x criterion: share, the assessors'
spread, the moderated score, the score used, normalised, its contribution), `assessor_score` (each assessor's score
with its rationale) and `moderation` (each moderated score with its note; `ASSESSMENT_COLUMNS`), `sensitivity`
(each criterion's range, the switching options and the raw weights at which they switch), `cost` (each cost line),
`evidence` (where the market evidence comes from, in words: frozen with the decision, or drawn from the runs now;
`EVIDENCE_COLUMNS`), `need` (the market evidence per need: suitable providers, verdict, and what providers
answered, interested and not interested) and `market` (per option: the needs it buys with no market).
Text a spreadsheet would take for a formula is prefixed with `'`; UTF-8 with a byte-order mark.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from marketplace.appraisals.models import COST_LABELS, MODEL_LABELS, AppraisalReport, OptionResult, Results
from marketplace.formatting import and_list, closing_day, date, iso_utc, percent, pounds, shorten, uk_when
from marketplace.reports.charts import Text
from marketplace.sheets import guard, report_workbook
from marketplace.templating import render

TEMPLATE = "appraisal/appraisal.html.j2"
PALETTE = ("#1f5f5b", "#4e8c86", "#9fcac4", "#d9a441", "#8a3a24", "#5a646b", "#b7c9d6", "#6d5a8a")
CHART_W = 680.0
LABEL_W = 250.0
LABEL_CHARS = 34
ROW_H = 26.0
BAR_H = 16.0


@dataclass(frozen=True, slots=True)
class Seg:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    segs: list[Seg]
    labels: list[Text]
    lines: list[tuple[float, float, float, float, str]]
    legend: list[tuple[str, str]]
    marks: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    """Lines drawn over the bars."""


def _x(value: float) -> float:
    return round(LABEL_W + value * (CHART_W - LABEL_W - 20), 2)


def _axis(labels: list[Text], lines: list[tuple[float, float, float, float, str]], top: float, bottom: float) -> None:
    for k in range(6):
        v = k / 5
        lines.append((_x(v), top, _x(v), bottom, "grid"))
        labels.append(Text(_x(v), bottom + 13, f"{round(v * 100)}%", "tick"))


def score_chart(r: AppraisalReport) -> Chart | None:
    """Each ranked option's weighted score (0-100 %) as a bar stacked by criterion contribution."""
    res = r.appraisal.results
    if res is None:
        return None
    names = {c.key: c.name for c in r.appraisal.criteria}
    colours = {c.key: PALETTE[k % len(PALETTE)] for k, c in enumerate(r.appraisal.criteria)}
    rows = [o for o in ordered(res) if o.weighted_score is not None]
    segs: list[Seg] = []
    labels: list[Text] = []
    lines: list[tuple[float, float, float, float, str]] = []
    top = 8.0
    for i, o in enumerate(rows):
        y = top + i * ROW_H
        name = f"{o.rank}. {o.label}"
        labels.append(Text(6, y + BAR_H - 4, shorten(name, LABEL_CHARS), "rl", title=name))
        acc = 0.0
        for c in r.appraisal.criteria:
            part = o.contributions.get(c.key, 0.0)
            if part <= 0:
                continue
            segs.append(
                Seg(
                    _x(acc), y, round(_x(acc + part) - _x(acc), 2), BAR_H, colours[c.key], f"{names[c.key]}: {part:.3f}"
                )
            )
            acc += part
        labels.append(Text(_x(acc) + 4, y + BAR_H - 4, f"{acc * 100:.1f}", "end"))
    bottom = top + len(rows) * ROW_H
    _axis(labels, lines, top - 4, bottom)
    legend = [(colours[c.key], f"{c.name} ({percent(res.shares.get(c.key, 0.0))})") for c in r.appraisal.criteria]
    return Chart(CHART_W, bottom + 22, segs, labels, lines, legend)


def tornado(r: AppraisalReport) -> Chart | None:
    """Per criterion, the share range keeping the preferred option preferred (narrowest first), the share now
    marked, and the option that takes over at each end."""
    res = r.appraisal.results
    if res is None or not res.sensitivity:
        return None
    names = {c.key: c.name for c in r.appraisal.criteria}
    labels_of = {o.option: o.label for o in res.options}
    rows = sorted(res.sensitivity, key=lambda w: (w.high - w.low, w.criterion))
    segs: list[Seg] = []
    labels: list[Text] = []
    lines: list[tuple[float, float, float, float, str]] = []
    marks: list[tuple[float, float, float, float, str]] = []
    y = 8.0
    for w in rows:
        name = names.get(w.criterion, w.criterion)
        labels.append(Text(6, y + BAR_H - 4, shorten(name, LABEL_CHARS), "rl", title=name))
        width = max(round(_x(w.high) - _x(w.low), 2), 1.0)
        segs.append(Seg(_x(w.low), y, width, BAR_H, "#9fcac4", f"{percent(w.low)} to {percent(w.high)}"))
        marks.append((_x(w.share), y - 3, _x(w.share), y + BAR_H + 3, "now"))
        below = y + BAR_H + 11
        for side, edge, to, cls in (
            ("below", w.low, w.low_switches_to, "sw"),
            ("above", w.high, w.high_switches_to, "sw right"),
        ):
            if to:
                labels.append(
                    Text(_x(edge), below, f"{side} {percent(edge)}: {shorten(labels_of.get(to, to), 40)}", cls)
                )
                below += 11
        y = max(y + ROW_H, below + 4)
    _axis(labels, lines, 4.0, y)
    legend = [
        ("#9fcac4", "share of the weight over which the preferred option stays preferred"),
        ("#1c2226", "the share now"),
    ]
    return Chart(CHART_W, y + 22, segs, labels, lines, legend, marks)


def departure(res: Results, option: str, labels: Mapping[str, str] | None = None) -> str | None:
    """What the appraisal says against choosing `option`, in words (options named by `labels`, else by key), or None
    when it is the preferred option (with a budget, the top weighted score among those known to be affordable;
    without, the top): e.g. "the option chosen (lots_area) is over budget by £142,971 (net present cost £1,572,676
    against the budget's present value £1,429,706), and the preferred option is prime", or "the option chosen
    (lots_area) has no costs entered, so it is not known to be affordable within the budget, and the preferred option
    is prime". The decision needs reasons then; the report says it beside the decision."""
    if option == res.preferred:
        return None

    def name(key: str) -> str:
        return labels.get(key, key) if labels else key

    chosen = next((o for o in res.options if o.option == option), None)
    preferred = (
        f"the preferred option is {name(res.preferred)}"
        if res.preferred is not None
        else "no option is known to be within the budget"
    )
    if chosen is not None and chosen.affordable is False and chosen.headroom is not None:
        assert chosen.net_present_cost is not None and res.budget_present_value is not None
        return (
            f"the option chosen ({name(option)}) is over budget by {pounds(-chosen.headroom)} (net present cost "
            f"{pounds(chosen.net_present_cost)} against the budget's present value "
            f"{pounds(res.budget_present_value)}), and {preferred}"
        )
    if chosen is not None and chosen.affordable is None and res.budget_present_value is not None:
        return (
            f"the option chosen ({name(option)}) has no costs entered, so it is not known to be affordable within "
            f"the budget, and {preferred}"
        )
    why = (
        "the top weighted score among the options known to be affordable"
        if res.budget_present_value is not None
        else ("the top weighted score")
    )
    return f"the option chosen ({name(option)}) is not the preferred option: {preferred} ({why})"


def engagement_open_note(open_until: dt.datetime, decided_at: dt.datetime) -> str:
    """What a decided report says of a decision taken while the market engagement was still open (`open_until`, its
    response deadline then), e.g. "Decided while the market engagement was still open: responses were taken until
    the end of 31 January 2027, UK time; any response made or changed after the decision (1 December 2026, 09:00
    UK time) is not in the evidence frozen with it."."""
    return (
        "Decided while the market engagement was still open: responses were taken until the end of "
        f"{date(closing_day(open_until))}, UK time; any response made or changed after the decision "
        f"({uk_when(decided_at)}) is not in the evidence frozen with it."
    )


def ordered(res: Results) -> list[OptionResult]:
    """Ranked options first (by rank), then the unranked in the appraisal's order."""
    return sorted(res.options, key=lambda o: (o.rank is None, o.rank or 0))


def years_over_text(o: OptionResult, annual_budget: int | None) -> str:
    """An option's contract years above the annual budget, in words: "year 1 (£1,130,000, £60,000 over)"; "" when
    there are none."""
    if annual_budget is None:
        return ""
    return and_list(
        [
            f"year {y} ({pounds(o.annual_costs[y - 1])}, {pounds(o.annual_costs[y - 1] - annual_budget)} over)"
            for y in o.years_over_budget
        ]
    )


def uncosted_above(res: Results) -> list[str]:
    """With a budget, the ranked options above the preferred one (every ranked option when none is preferred) that
    have no costs entered, and so are not known to be affordable: in rank order."""
    if res.budget_present_value is None:
        return []
    above = res.ranking[: res.ranking.index(res.preferred)] if res.preferred is not None else res.ranking
    by = {o.option: o for o in res.options}
    return [o for o in above if by[o].affordable is None]


def to_html(r: AppraisalReport, *, template: str = TEMPLATE, **extra: Any) -> str:
    """The appraisal report as one self-contained, printable HTML5 page. A page that serves it with controls of its
    own (the console's, above the cover) gives its `template`, extending this one, and what else it needs (`extra`),
    as the market report's does; the API's page is this one alone."""
    a = r.appraisal
    labels = {o.option: o.label for o in a.results.options} if a.results else {o.key: o.key for o in a.options}
    against = departure(a.results, a.decision.option, labels) if a.decision and a.results else None
    d = a.decision
    return render(
        template,
        **extra,
        r=r,
        a=a,
        over_years={o.option: years_over_text(o, a.annual_budget) for o in a.results.options} if a.results else {},
        uncosted=[labels[o] for o in uncosted_above(a.results)] if a.results else [],
        engagement_note=engagement_open_note(d.engagement_open_until, d.decided_at)
        if d is not None and d.engagement_open_until is not None
        else None,
        res=a.results,
        ordered=ordered(a.results) if a.results else [],
        labels=labels,
        against=against[0].upper() + against[1:] if against else None,
        chosen=next((o for o in a.results.options if a.decision and o.option == a.decision.option), None)
        if a.results
        else None,
        names={c.key: c.name for c in a.criteria},
        models=MODEL_LABELS,
        cost_labels=COST_LABELS,
        market={m.option: m for m in r.market.options} if r.market else {},
        spreads={(s.option, s.criterion): s for s in a.results.spreads} if a.results else {},
        scores_chart=score_chart(r),
        tornado=tornado(r),
        pounds=pounds,
    )


# --- CSV -----------------------------------------------------------------------------------------------

CSV_HEADER = [
    "row_type",
    "option",
    "option_label",
    "criterion",
    "rank",
    "weighted_score",
    "share",
    "assessors",
    "low",
    "high",
    "mean",
    "moderated",
    "score_used",
    "normalised",
    "contribution",
    "year",
    "category",
    "amount_gbp",
    "net_present_cost_gbp",
    "affordable",
    "headroom_gbp",
    "range_low",
    "range_high",
    "low_switches_to",
    "high_switches_to",
    "low_weight",
    "high_weight",
    "need_id",
    "need_title",
    "suitable",
    "verdict",
    "hhi",
    "no_market_need_ids",
    "match_run_id",
    "responses",
    "intending_to_bid",
    "indicative_cost_low_gbp",
    "indicative_cost_high_gbp",
    "consortia",
    "not_interested",
    "years_over_budget",
]
DECISION_COLUMNS = [
    "decided_by",
    "decided_at",
    "reasons",
    "chosen_preferred",
    "chosen_affordable",
    "chosen_note",
    "market_report_id",
    "match_run_ids",
    "engagement_open_until",
    "engagement_note",
    "recorded_by_key",
]
"""The `decision` row's own columns (`option` and `option_label` name the chosen option; `decided_at` in ISO 8601,
UTC); `chosen_preferred` (yes or no), `chosen_affordable` (yes, no, or empty without a budget or the option's costs)
and `chosen_note` say how the option chosen stands in the appraisal ("the preferred option", or e.g. "the option
chosen (lots_area) is over budget by £142,971 (...), and the preferred option is prime"); `market_report_id` and
`match_run_ids` are the evidence it cites, and the `evidence` row's too; `engagement_open_until` (ISO 8601, UTC: the
response deadline) and `engagement_note` (in words, as the page says it) are set when the decision was taken while
the exercise's market engagement was still open; `recorded_by_key` is the id of the API key that recorded it (who
decided is `decided_by`, in the caller's words)."""
EVIDENCE_COLUMNS = ["market_source", "market_note"]
"""The `evidence` row's own columns: `AppraisalReport.market_source` and `.market_note`."""
COST_SWITCH_COLUMNS = [
    "cost_increase_gbp",
    "increase_switches_to",
    "cost_decrease_gbp",
    "decrease_option",
    "cost_switch_note",
]
"""The `cost_switch` row's own columns (`Results.cost_switch`): how far the preferred option's net present cost may
rise before another option is preferred (or none is affordable), and how far another's must fall to be preferred."""
ASSESSMENT_COLUMNS = ["assessor", "assessor_score", "rationale", "moderation_note"]
"""The `assessor_score` rows' own columns (each assessor's score of an option on a criterion, with its rationale,
as entered) and the `moderation` rows' (`moderated` beside the note agreeing it): what the `score` rows' spread and
mean are made of, so the CSV an auditor is handed holds who scored what and why, as the page and the workbook do."""
CSV_HEADER += DECISION_COLUMNS + EVIDENCE_COLUMNS + COST_SWITCH_COLUMNS + ASSESSMENT_COLUMNS
HELD_BY_CSV = ("market", "market_source", "market_note", "appraisal.scores", "appraisal.moderation", "appraisal.costs")
"""The report's JSON sections (and lists of records in one, `section.field`) the CSV holds: the workbook does not
repeat them as sheets (its `assessor_scores`, `moderations` and `costs` sheets are them)."""


def _safe(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if _number(text) else guard(text)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(r: AppraisalReport) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)

    def row(**cells: object) -> None:
        w.writerow([_safe(cells.get(col)) for col in CSV_HEADER])

    a, res = r.appraisal, r.appraisal.results
    labels = {o.option: o.label for o in res.options} if res else {}
    if res is not None:
        for o in ordered(res):
            row(
                row_type="option",
                option=o.option,
                option_label=o.label,
                rank=o.rank,
                weighted_score=o.weighted_score,
                net_present_cost_gbp=o.net_present_cost,
                affordable=o.affordable,
                headroom_gbp=o.headroom,
                years_over_budget="; ".join(str(y) for y in o.years_over_budget),
            )
    d = a.decision
    if d is not None:
        row(
            row_type="decision",
            option=d.option,
            option_label=labels.get(d.option, d.option),
            decided_by=d.decided_by,
            decided_at=iso_utc(d.decided_at),
            reasons=d.reasons,
            chosen_preferred=res is not None and d.option == res.preferred,
            chosen_affordable=next((o.affordable for o in res.options if o.option == d.option), None) if res else None,
            chosen_note=(departure(res, d.option) or "the preferred option") if res else None,
            market_report_id=d.market_report_id,
            match_run_ids="; ".join(str(i) for i in d.match_run_ids),
            engagement_open_until=iso_utc(d.engagement_open_until) if d.engagement_open_until is not None else None,
            engagement_note=engagement_open_note(d.engagement_open_until, d.decided_at)
            if d.engagement_open_until is not None
            else None,
            recorded_by_key=d.recorded_by_key,
        )
    if res is not None:
        spreads = {(s.option, s.criterion): s for s in res.spreads}
        for o in ordered(res):
            for c in a.criteria:
                s = spreads.get((o.option, c.key))
                row(
                    row_type="score",
                    option=o.option,
                    option_label=o.label,
                    criterion=c.key,
                    share=res.shares.get(c.key),
                    assessors=s.assessors if s else 0,
                    low=s.low if s else None,
                    high=s.high if s else None,
                    mean=s.mean if s else None,
                    moderated=s.moderated if s else None,
                    score_used=s.used if s else None,
                    normalised=o.values.get(c.key),
                    contribution=o.contributions.get(c.key),
                )
    for sc in a.scores:
        row(
            row_type="assessor_score",
            option=sc.option,
            option_label=labels.get(sc.option),
            criterion=sc.criterion,
            assessor=sc.assessor,
            assessor_score=sc.score,
            rationale=sc.rationale,
        )
    for agreed in a.moderation:
        row(
            row_type="moderation",
            option=agreed.option,
            option_label=labels.get(agreed.option),
            criterion=agreed.criterion,
            moderated=agreed.score,
            moderation_note=agreed.note,
        )
    if res is not None:
        for wr in res.sensitivity:
            row(
                row_type="sensitivity",
                criterion=wr.criterion,
                share=wr.share,
                range_low=wr.low,
                range_high=wr.high,
                low_switches_to=wr.low_switches_to,
                high_switches_to=wr.high_switches_to,
                low_weight=wr.low_weight,
                high_weight=wr.high_weight,
            )
    if res is not None:
        cs = res.cost_switch
        row(
            row_type="cost_switch",
            option=res.preferred,
            option_label=labels.get(res.preferred) if res.preferred else None,
            cost_increase_gbp=cs.increase,
            increase_switches_to=cs.increase_switches_to,
            cost_decrease_gbp=cs.decrease,
            decrease_option=cs.decrease_option,
            cost_switch_note=cs.note,
        )
    for line in a.costs:
        row(
            row_type="cost",
            option=line.option,
            option_label=labels.get(line.option),
            year=line.year,
            category=line.category,
            amount_gbp=line.amount,
        )
    row(
        row_type="evidence",
        market_source=r.market_source,
        market_note=r.market_note,
        market_report_id=r.market.market_report_id if r.market is not None else None,
        match_run_ids="; ".join(str(i) for i in r.market.match_run_ids) if r.market is not None else None,
    )
    if r.market is not None:
        for n in r.market.needs:
            row(
                row_type="need",
                need_id=n.need_id,
                need_title=n.title,
                suitable=n.suitable,
                verdict=n.verdict,
                hhi=n.hhi,
                match_run_id=n.match_run_id,
                responses=n.responses,
                intending_to_bid=n.intending_to_bid,
                indicative_cost_low_gbp=n.indicative_cost_low,
                indicative_cost_high_gbp=n.indicative_cost_high,
                consortia="; ".join(n.consortia) if n.consortia is not None else None,
                not_interested=n.not_interested,
            )
        for m in r.market.options:
            row(
                row_type="market",
                option=m.option,
                option_label=labels.get(m.option),
                no_market_need_ids="; ".join(str(i) for i in m.no_market_need_ids),
            )
    return out.getvalue()


def to_csv_bytes(r: AppraisalReport) -> bytes:
    return ("\ufeff" + to_csv(r)).encode()


def to_xlsx(r: AppraisalReport) -> bytes:
    """The report as an xlsx workbook: the CSV's rows a sheet per row type (options, decisions, scores,
    assessor_scores, moderations, sensitivities, cost_switches, costs, evidence, needs, markets), then the appraisal
    itself (options, criteria, decision: what the CSV does not hold) as field/value rows; dated when the report was
    made (a decided appraisal's: when it was decided, so the same bytes on every download)."""
    return report_workbook(to_csv_bytes(r), msgspec.json.encode(r), held_by_csv=HELD_BY_CSV)
