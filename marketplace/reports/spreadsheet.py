"""The market-engagement report as CSV, for spreadsheets (pure: a :class:`Report` in, text out).

``to_csv(report)``
    One CSV (RFC 4180, ``\\r\\n`` line ends) holding three kinds of row, told apart
    by ``row_type``; every row has every column of :data:`CSV_HEADER`, empty
    where a column does not apply to that kind of row.

    ==================  ======================================================  ==================
    column              meaning                                                 rows
    ==================  ======================================================  ==================
    row_type            ``need``, ``cell`` or ``candidate`` (and                all
                        ``response_need``, ``response_cell``,
                        ``not_counted_response``: see below)
    need_id             the need's id                                           all but not counted
    need_title          the need's title                                        all but not counted
    pathway             pathway code, e.g. ``ETE``                              all but not counted
    pathway_name        pathway name, e.g. "Education, training and ..."        all but unmatched
    annual_volume       service users a year the need is for                    all but unmatched
    annual_budget_gbp   the need's annual budget, whole pounds                  all but unmatched
    for_whom            whom the need is for: its cohorts, gender and ages      all but unmatched
                        ("adults (women aged 18 and over)"; "everyone")
    area_volumes        the service users a year the need expects per area,     all but unmatched
                        as "code: number" joined by "; " ("E06000020: 50;
                        E06000051: 10"); empty when not given (coverage by
                        population)
    area_code           leaf area code (ONS GSS code)                           cell
    area_name           leaf area name                                          cell
    suitable_count      suitable providers for the need (need row) or           need, cell
                        covering that area for that need (cell row)
    verdict             ``no_market`` / ``limited_market`` /                    need, cell
                        ``competitive_market``
    providers           the suitable providers covering it, joined by "; "      cell
    rank                the provider's rank in the need's match run             candidate
    provider_id         the provider's id                                       candidate, not
                                                                                counted
    provider_name       the provider's name                                     candidate, not
                                                                                counted
    sector              third_sector, co_operative, social_enterprise,          candidate
                        private or public
    total_score         total match score 0..1, 3 decimals (4, cut, where 3      candidate
                        would round a score below the threshold up to it:
                        "0.6999", never "0.700" against 0.7)
    meets_threshold     ``yes`` if the score reaches the suitability threshold  candidate
    strengths           a top candidate's strengths (``Headline.strengths``,    candidate
                        the matching core's), each "criterion: its plain
                        sentence", joined by "; " (empty beyond the top five)
    weaknesses          a top candidate's weaknesses, listed apart, each        candidate
                        "criterion: its plain sentence", joined by "; "
    run_status          ``current``, ``stale`` (the need changed after its      need
                        run), ``providers_changed`` (providers the run ranked,
                        or that could now enter it, changed after it) or
                        ``not_matched`` (no stored run to report from)
    match_run_id        the stored match run the figures come from              need, candidate
    changed_fields      for a stale run, the need's fields that changed,        need
                        joined by "; "
    providers_changed   providers the run ranked, or that could now enter       need
                        it, that changed after it was made: how many
    hhi                 Herfindahl-Hirschman index of suitable capacity,        need, cell
                        0-10,000, 1 decimal (empty: no capacity stated)
    hhi_band            unconcentrated / moderately_concentrated /              need, cell
                        highly_concentrated / unknown
    largest_provider    the provider with the largest share of it               need, cell
    largest_share       that share, 0..1, 3 decimals                            need, cell
    capacity            service users a year: the provider's for the need       need, cell,
                        (candidate); the suitable providers' added up (need:    candidate
                        what the HHI is of; cell: each one's capacity for the
                        need spread over the need's areas it covers by people)
    expected_service_users  service users a year the need expects in the area  cell
                        (its per-area volumes, else its volume by people)
    capacity_shortfall  ``yes`` when the cell's suitable capacity is below      cell
                        them, ``no``, empty when none there states one
    service_ids         its qualifying services' ids, joined by "; "            candidate
    stale_profile       ``yes`` when a suitable provider's profile was last     candidate
                        confirmed more than the report's stale-after months
                        ago (the report's "profiles to check"), else ``no``;
                        empty below the threshold
    months_since_confirmed  for a stale profile, months since it was confirmed  candidate
    score_<criterion>   the provider's score on each criterion, 0..1,           candidate
                        3 decimals, one column per ``matching.CRITERIA``
    weight_percent_<c>  the percentage of the score each criterion counted      need, candidate
                        for in the need's run, one column per criterion
    ==================  ======================================================  ==================

    When the exercise was published for market engagement, ``response_need`` and ``response_cell`` rows follow, with
    the columns of :data:`RESPONSE_COLUMNS` (described in `_response_rows`) besides the need's own; then a
    ``response_answer`` row for each answer a counted response gave to one of the exercise's questions; then a
    ``not_counted_response`` row for each submitted response counted in none of their figures (its provider archived
    since, or pending): ``provider_id``, ``provider_name``, ``submitted_at`` (ISO 8601, UTC), ``provider_status``
    (``archived``, ``pending`` or ``removed``) and ``not_counted_reason``, no need's columns (a response answers one
    or more needs).

    Need rows come first (the needs the report holds, in report order, then
    each need not matched yet, with ``run_status`` ``not_matched``), then cell rows (needs in
    report order, areas in the grid's order), then candidate rows: for each
    need, every suitable provider and the top five even below the threshold,
    by rank. Money is in whole pounds with no symbol or separators, scores
    have 3 decimals, so a spreadsheet reads them as numbers. Text that a
    spreadsheet would take for a formula (starting ``=``, ``+``, ``-``, ``@``,
    tab or carriage return) is prefixed with ``'``. :func:`to_csv_bytes` gives
    the same text as UTF-8 with a byte-order mark, which Excel needs to show
    "£" and accents correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import matching
from marketplace.engagement.models import Consortium, MarketResponse
from marketplace.formatting import iso_utc, lower_code, score, score_against, whole_pounds
from marketplace.reports.models import CriterionNote, NeedReport, Report, StaleProvider, SuitableProvider
from marketplace.reports.view import ordered_cells
from marketplace.sheets import guard

__all__ = ["CSV_HEADER", "note_text", "to_csv", "to_csv_bytes"]

RESPONSE_COLUMNS = [
    "responses",
    "intent_lead",
    "intent_partner",
    "intent_either",
    "not_interested",
    "offered_capacity",
    "capacity_to_volume",
    "cost_min_gbp",
    "cost_median_gbp",
    "cost_max_gbp",
    "budget_per_service_user_gbp",
    "barriers",
    "consortia",
    "suitable_non_responders",
    "submitted_at",
    "provider_status",
    "not_counted_reason",
    "barrier_notes",
    "question_id",
    "question_position",
    "question",
    "question_kind",
    "answer",
]
"""The market-response columns (``response_need``, ``response_cell``, ``not_counted_response`` and
``response_answer`` rows; see `_response_rows`). ``submitted_at``, ``provider_status`` and ``not_counted_reason`` were
added after the others, ``barrier_notes`` after them, and the ``question_*`` and ``answer`` columns last: a column
added later is empty in each row before, and stands at the end."""

CSV_HEADER: list[str] = [
    "row_type",
    "need_id",
    "need_title",
    "pathway",
    "pathway_name",
    "annual_volume",
    "annual_budget_gbp",
    "for_whom",
    "area_volumes",
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
    "weaknesses",
    "run_status",
    "match_run_id",
    "changed_fields",
    "providers_changed",
    "hhi",
    "hhi_band",
    "largest_provider",
    "largest_share",
    "capacity",
    "expected_service_users",
    "capacity_shortfall",
    "service_ids",
    "stale_profile",
    "months_since_confirmed",
    *(f"score_{c}" for c in matching.CRITERIA),
    *(f"weight_percent_{c}" for c in matching.CRITERIA),
    *RESPONSE_COLUMNS,
]


def note_text(note: CriterionNote) -> str:
    """A strength (or weakness) in one line: "pathway fit: <the core's sentence>" (runs made before algorithm
    2026.12-1: its first evidence line; the criterion alone when it has neither)."""
    name = lower_code(note.criterion)
    line = note.summary or (note.evidence[0] if note.evidence else "")
    return f"{name}: {line}" if line else name


def _need_columns(need: NeedReport | None, need_id: int, pathway: str) -> dict[str, str]:
    return {
        "need_id": str(need_id),
        "need_title": guard(need.title) if need else "",
        "pathway": guard(pathway),
        "pathway_name": guard(need.pathway_name) if need else "",
        "annual_volume": str(need.annual_volume) if need else "",
        "annual_budget_gbp": str(whole_pounds(need.annual_budget)) if need else "",
        "for_whom": guard(need.whom) if need else "",
        "area_volumes": guard("; ".join(f"{v.area}: {v.volume}" for v in need.area_volumes or ())) if need else "",
    }


def _market_columns(m: matching.Concentration) -> dict[str, str]:
    return {
        "capacity": _number(m.capacity) if m.providers else "",
        "hhi": f"{m.hhi:.1f}" if m.hhi is not None else "",
        "hhi_band": m.band,
        "largest_provider": guard(m.largest_provider or ""),
        "largest_share": score(m.largest_share) if m.largest_share is not None else "",
    }


def _number(x: float | None) -> str:
    """A count as a spreadsheet reads it: ``1250.0`` -> "1250", ``12.5`` -> "12.5", never an exponent."""
    return "" if x is None else str(int(x)) if float(x).is_integer() else f"{x:.6f}".rstrip("0")


def _weight_columns(need: NeedReport) -> dict[str, str]:
    return {
        f"weight_percent_{c}": f"{v:g}" for c, v in need.weights_percent.items() if f"weight_percent_{c}" in _COLUMNS
    }


def _candidate_common(need: NeedReport) -> dict[str, str]:
    """The columns every candidate row of the need shares."""
    return {
        "row_type": "candidate",
        **_need_columns(need, need.need_id, need.pathway),
        "match_run_id": str(need.match_run_id),
        **_weight_columns(need),
    }


def _candidate(
    common: dict[str, str],
    p: SuitableProvider,
    strengths: list[CriterionNote],
    weaknesses: list[CriterionNote],
    threshold: float,
    stale: StaleProvider | None,
) -> dict[str, str]:
    return {
        **common,
        "stale_profile": ("yes" if stale is not None else "no") if p.meets_threshold else "",
        "months_since_confirmed": _number(stale.months_since_confirmed) if stale is not None else "",
        "rank": str(p.rank),
        "provider_id": str(p.provider_id),
        "provider_name": guard(p.name),
        "sector": guard(p.sector),
        "total_score": score_against(p.total, threshold),
        "meets_threshold": "yes" if p.meets_threshold else "no",
        "strengths": guard("; ".join(note_text(s) for s in strengths)) if strengths else "",
        "weaknesses": guard("; ".join(note_text(w) for w in weaknesses)) if weaknesses else "",
        "capacity": _number(p.capacity),
        "service_ids": "; ".join(map(str, p.service_ids)),
        **{_SCORE_COLUMNS[c]: score(v) for c, v in p.scores.items() if c in _SCORE_COLUMNS},
    }


_COLUMNS = frozenset(CSV_HEADER)
_SCORE_COLUMNS = {c: f"score_{c}" for c in matching.CRITERIA}
_BLANK = dict.fromkeys(CSV_HEADER, "")
"""Every column, empty, in the header's order: a row is this updated with its own columns."""


def _csv_rows(report: Report) -> Iterable[dict[str, str]]:
    needs = {n.need_id: n for n in report.needs}
    for n in report.needs:
        stale = n.stale_run
        yield {
            "row_type": "need",
            **_need_columns(n, n.need_id, n.pathway),
            "suitable_count": str(n.suitable),
            "verdict": guard(n.verdict),
            "run_status": "stale" if stale is not None else "providers_changed" if n.providers_changed else "current",
            "match_run_id": str(n.match_run_id),
            "changed_fields": "; ".join(c.field for c in stale.changes) if stale is not None else "",
            "providers_changed": str(n.providers_changed.count) if n.providers_changed else "",
            **_market_columns(n.market),
            **_weight_columns(n),
        }
    for missing in report.freshness.not_matched if report.freshness is not None else []:
        yield {
            "row_type": "need",
            "need_id": str(missing.need_id),
            "need_title": guard(missing.title),
            "pathway": guard(missing.pathway),
            "run_status": "not_matched",
        }
    for cell in ordered_cells(report):
        need = needs.get(cell.need_id)
        yield {
            "row_type": "cell",
            **_need_columns(need, cell.need_id, cell.pathway),
            "area_code": guard(cell.area),
            "area_name": guard(cell.area_name),
            "suitable_count": str(cell.suitable),
            "verdict": guard(cell.verdict),
            "providers": guard("; ".join(cell.providers)),
            **_market_columns(cell.market),
            "expected_service_users": _number(cell.expected_service_users),
            "capacity_shortfall": "" if cell.capacity_shortfall is None else "yes" if cell.capacity_shortfall else "no",
        }
    for need in report.needs:
        top = {c.provider_id: c for c in need.top_candidates}
        unconfirmed = {s.provider_id: s for s in need.stale_suitable}
        common = _candidate_common(need)
        for p in need.providers:
            h = top.get(p.provider_id)
            threshold = report.method.thresholds.suitable_score
            notes = (h.strengths, h.weaknesses) if h else ([], [])
            yield _candidate(common, p, *notes, threshold, unconfirmed.get(p.provider_id))
    yield from _response_rows(report)


def _response_rows(report: Report) -> Iterable[dict[str, str]]:
    """The market-response section, when the exercise was published for engagement: a ``response_need`` row per
    need (responses, intent split, offered capacity against volume, indicative unit costs against the budget per
    service user, barriers ticked as "barrier: count", declared consortia as "lead + partner, ...", the suitable
    providers that did not respond, the barriers the responses described in their own words, each on one line, joined
    by " | ") and a ``response_cell`` row per (need, area): responses and capacity offered;
    then a ``response_answer`` row per counted response's answer to each of the exercise's questions (the question's
    id, position, text and kind, the provider, the answer in words: "yes"/"no", the number, choices joined by "; ");
    then a ``not_counted_response`` row per submitted response left out of every figure (`MarketResponse.not_counted`):
    its provider, when it was submitted, the provider's status and why it is not counted."""
    mr = report.market_response
    if mr is None:
        return
    yield from _need_response_rows(mr)
    for q in mr.questions:
        for a in q.answers:
            yield {
                "row_type": "response_answer",
                "question_id": str(q.question_id),
                "question_position": str(q.position),
                "question": guard(q.text),
                "question_kind": q.kind,
                "provider_id": str(a.provider_id),
                "provider_name": guard(a.name),
                "answer": guard(a.answer),
            }
    for x in mr.not_counted:
        yield {
            "row_type": "not_counted_response",
            "provider_id": str(x.provider_id),
            "provider_name": guard(x.name),
            "submitted_at": iso_utc(x.submitted_at) if x.submitted_at is not None else "",
            "provider_status": guard(x.status),
            "not_counted_reason": guard(x.reason),
        }


def _need_response_rows(mr: MarketResponse) -> Iterable[dict[str, str]]:
    for n in mr.needs:
        common = {
            "need_id": str(n.need_id),
            "need_title": guard(n.title),
            "pathway": guard(n.pathway),
            "annual_volume": str(n.annual_volume),
            "annual_budget_gbp": str(whole_pounds(n.annual_budget)),
        }
        yield {
            "row_type": "response_need",
            **common,
            "match_run_id": "" if n.match_run_id is None else str(n.match_run_id),
            "responses": str(n.responses),
            "intent_lead": str(n.intent.get("lead", 0)),
            "intent_partner": str(n.intent.get("partner", 0)),
            "intent_either": str(n.intent.get("either", 0)),
            "not_interested": str(n.not_interested),
            "offered_capacity": str(n.offered_capacity),
            "capacity_to_volume": _number(n.capacity_to_volume),
            "cost_min_gbp": _number(n.costs.minimum),
            "cost_median_gbp": _number(n.costs.median),
            "cost_max_gbp": _number(n.costs.maximum),
            "budget_per_service_user_gbp": _number(n.costs.budget_per_service_user),
            "barriers": guard("; ".join(f"{b}: {k}" for b, k in n.barriers.items() if k)),
            "consortia": guard("; ".join(_consortium(c) for c in n.consortia)),
            "suitable_non_responders": guard("; ".join(p.name for p in n.suitable_non_responders)),
            "barrier_notes": guard(" | ".join(" ".join(note.split()) for note in n.barrier_notes)),
        }
        for cell in n.cells:
            yield {
                "row_type": "response_cell",
                **common,
                "area_code": guard(cell.area),
                "area_name": guard(cell.area_name),
                "responses": str(cell.responses),
                "offered_capacity": str(cell.offered_capacity),
            }


def _consortium(c: Consortium) -> str:
    """A declared consortium in a CSV cell: "lead + partner (provider N), partner", then what else the page says of
    it (declared by both; no member said it would lead)."""
    said = f"{c.lead_name} + {', '.join(c.partners)}"
    return f"{said} ({'; '.join(c.notes)})" if c.notes else said


def to_csv(report: Report) -> str:
    """The report's needs, grid cells and ranked providers as one CSV (columns: see the module docstring)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_cells(row) for row in _csv_rows(report))
    return out.getvalue()


def _cells(row: dict[str, str]) -> Iterable[str]:
    """A row's cells in the header's order, empty where it has no value (a column not in the header is an error)."""
    cells = {**_BLANK, **row}
    if len(cells) != len(_BLANK):
        raise ValueError(f"columns not in the CSV header: {sorted(row.keys() - _COLUMNS)}")
    return cells.values()


def to_csv_bytes(report: Report) -> bytes:
    """:func:`to_csv` as UTF-8 with a byte-order mark, so spreadsheets detect the encoding."""
    return to_csv(report).encode("utf-8-sig")
