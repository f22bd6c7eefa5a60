"""The report renderers (pure): CSV shape and values; HTML validity, self-containment, escaping and charts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import html5lib
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matching
from marketplace import formatting
from marketplace.exercises.models import ExerciseSummary
from marketplace.reports.models import (
    COMPETITIVE_MARKET,
    LIMITED_MARKET,
    NO_MARKET,
    AddedValue,
    CapacityCoverage,
    Cell,
    CriterionNote,
    DepthGrid,
    Freshness,
    Headline,
    Method,
    NeedReport,
    NotMatched,
    Report,
    StaleProvider,
    SuitableProvider,
    Thresholds,
    Totals,
)
from marketplace.reports.render import CSV_HEADER, to_csv, to_csv_bytes, to_html
from matching.partnerships import Cell as PlanCell
from matching.partnerships import Member, PartnershipOption, PartnershipPlan

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert('x')</script> Smith & Sons"
AREAS = {"E06000019": "Herefordshire", "E06000051": "Shropshire", "E07000237": "Worcester"}
WEIGHTS = {"pathway_fit": 0.5, "coverage": 0.5}


def note(criterion: str, score: float, *evidence: str, weight: float = 0.5) -> CriterionNote:
    return CriterionNote(
        criterion=criterion, score=score, weight=weight, contribution=weight * score, evidence=list(evidence)
    )


def need(
    need_id: int,
    pathway: str,
    areas: list[str],
    candidates: list[Headline],
    *,
    verdict: str,
    suitable: int,
    volume: int = 100,
    budget: int = 120_000,
    stale: list[StaleProvider] | None = None,
    unknown_capacity: int = 0,
) -> NeedReport:
    return NeedReport(
        need_id=need_id,
        title=f"Need number {need_id} & co",
        pathway=pathway,
        pathway_name=f"{pathway} pathway",
        areas=areas,
        area_names=[AREAS[a] for a in areas],
        cohorts=["YOUNG_ADULTS"],
        annual_volume=volume,
        annual_budget=budget,
        contract_years=3.0,
        match_run_id=10 + need_id,
        run_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
        directory_size=40,
        eligible=5,
        suitable=suitable,
        verdict=verdict,
        suitable_by_sector={"private": 1, "third_sector": suitable - 1},
        suitable_by_legal_form={"registered_charity": suitable},
        suitable_vcse=suitable - 1,
        top_candidates=candidates,
        excluded_by_reason={"pathway_not_offered": 30, "no_area_coverage": 12},
        capacity=CapacityCoverage(
            volume=volume,
            suitable_capacity=250.0,
            coverage_ratio=2.5,
            largest_provider=candidates[0].name,
            largest_share=0.6,
            unknown_capacity=unknown_capacity,
        ),
        added_value=AddedValue(match_funding_per_year=25_000.4, volunteers=12, providers_with_premises_in_area=2),
        stale_suitable=stale or [],
        weights=WEIGHTS,
        market=matching.concentration([(candidates[0].name, 150.0), ("Other", 100.0), ("Silent", None)]),
        providers=[
            SuitableProvider(
                rank=k,
                provider_id=c.provider_id,
                name=c.name,
                sector=c.sector,
                total=c.total,
                meets_threshold=c.total >= 0.6,
                capacity=None if k == 2 else 40.0 * k,
                service_ids=[100 + k],
                scores={n.criterion: n.score for n in [*c.strengths, *c.weaknesses]},
            )
            for k, c in enumerate(candidates, start=1)
        ],
    )


@pytest.fixture
def report() -> Report:
    stale = StaleProvider(
        provider_id=7, name="Old Mill Trust", last_confirmed=dt.date(2025, 1, 3), months_since_confirmed=22.0
    )
    never = StaleProvider(provider_id=8, name="Never Confirmed CIC", last_confirmed=None, months_since_confirmed=None)
    n1 = need(
        1,
        "ACCOM",
        ["E06000019", "E06000051"],
        [
            Headline(
                3,
                EVIL,
                "private",
                0.91234,
                [
                    note("coverage", 1.0, "Herefordshire fully covered -> 1.00", "mean share -> 1.00"),
                    note("quality", 0.9, "iso_9001 -> 0.90"),
                ],
                [note("capacity", 0.2, "capacity <unknown> & none -> 0.20")],
            ),
            Headline(7, "Old Mill Trust", "third_sector", 0.8, [note("capacity", 0.8, "ok")], []),
            Headline(9, "Ninth Housing", "third_sector", 0.7005, [], []),
        ],
        verdict=COMPETITIVE_MARKET,
        suitable=3,
        stale=[stale],
        unknown_capacity=1,
    )
    n2 = need(
        2,
        "ETE",
        ["E06000051", "E07000237"],
        [
            Headline(
                8,
                "Never Confirmed CIC",
                "social_enterprise",
                0.65,
                [note("pathway_fit", 1.0, "offers ETE -> 1.00")],
                [],
            ),
            Headline(
                11,
                "Below Bar Ltd",
                "private",
                0.41,
                [note("coverage", 0.5, "partial")],
                [note("quality", 0.1, weight=0.25), note("pathway_fit", 0.3)],
            ),
        ],
        verdict=LIMITED_MARKET,
        suitable=2,
        budget=90_000,
        stale=[never],
    )
    cells = [
        Cell(
            1, "ACCOM", "E06000019", "Herefordshire", 3, COMPETITIVE_MARKET, [EVIL, "Old Mill Trust", "Ninth Housing"]
        ),
        Cell(1, "ACCOM", "E06000051", "Shropshire", 0, NO_MARKET, []),
        Cell(2, "ETE", "E06000051", "Shropshire", 1, LIMITED_MARKET, ["Never Confirmed CIC"]),
        Cell(2, "ETE", "E07000237", "Worcester", 2, LIMITED_MARKET, ["Never Confirmed CIC", "Old Mill Trust"]),
    ]
    lead = Member(
        provider_id=7,
        name="Old Mill Trust",
        role="lead",
        cells=(PlanCell(1, "ACCOM", "E06000019"), PlanCell(2, "ETE", "E07000237")),
        score_sum=1.6,
        mean_score=0.8,
        reason="covers 2 of 3 coverable cells on its own",
    )
    partner = Member(
        provider_id=3,
        name=EVIL,
        role="partner",
        cells=(PlanCell(2, "ETE", "E06000051"),),
        score_sum=0.65,
        mean_score=0.65,
        reason="delivers 1 cell the lead does not cover",
    )
    plan = PartnershipPlan(
        algorithm_version="2026.11-1",
        method="greedy weighted set cover",
        cells=tuple(PlanCell(c.need_id, c.pathway, c.area) for c in cells),
        coverable_count=3,
        uncovered=(PlanCell(1, "ACCOM", "E06000051"),),
        options=(
            PartnershipOption(
                rank=1,
                lead=lead,
                partners=(partner,),
                organisation_count=2,
                covered_cell_count=3,
                total_score=2.25,
                mean_score=0.75,
                explanation=(),
            ),
        ),
    )
    return Report(
        exercise=ExerciseSummary(
            id=4,
            title="Test <exercise> & market",
            commissioning_body="West Mercia & Co",
            description="A description with <b>markup</b>.",
            status="engagement_open",
            opens_on=dt.date(2026, 10, 1),
            closes_on=dt.date(2027, 1, 29),
        ),
        generated_at=dt.datetime(2026, 11, 22, 15, 56, tzinfo=dt.UTC),
        needs=[n1, n2],
        grid=DepthGrid(pathways=["ACCOM", "ETE"], areas=list(AREAS), area_names=list(AREAS.values()), cells=cells),
        partnerships=plan,
        totals=Totals(
            annual_budget=210_000,
            suitable_providers=3,
            suitable_match_funding_per_year=50_000.8,
            suitable_volunteers=24,
            needs_by_verdict={COMPETITIVE_MARKET: 1, LIMITED_MARKET: 1},
            cells_by_verdict={COMPETITIVE_MARKET: 1, LIMITED_MARKET: 2, NO_MARKET: 1},
        ),
        stale_warning=[never, stale],
        method=Method(
            criteria=["pathway_fit", "coverage"],
            thresholds=Thresholds(suitable_score=0.6),
            verdicts="Per need and per (need, area) cell: no market (0), limited (1-2), competitive (3+).",
            algorithm_versions=["2026.11-1"],
            match_run_ids=[11, 12],
            data_snapshot_from=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
            data_snapshot_to=dt.datetime(2026, 11, 2, 9, 31, tzinfo=dt.UTC),
            notes=["Note one <with> markup & ampersand."],
        ),
    )


def empty_report(r: Report) -> Report:
    plan = PartnershipPlan(algorithm_version="v", method="m", cells=(), coverable_count=0, uncovered=(), options=())
    return Report(
        exercise=r.exercise,
        generated_at=r.generated_at,
        needs=[],
        grid=DepthGrid(pathways=[], areas=[], area_names=[], cells=[]),
        partnerships=plan,
        totals=Totals(
            annual_budget=0,
            suitable_providers=0,
            suitable_match_funding_per_year=0.0,
            suitable_volunteers=0,
            needs_by_verdict={},
            cells_by_verdict={},
        ),
        stale_warning=[],
        method=Method(
            criteria=[],
            thresholds=Thresholds(suitable_score=0.6),
            verdicts="",
            algorithm_versions=[],
            match_run_ids=[],
            data_snapshot_from=None,
            data_snapshot_to=None,
            notes=[],
        ),
    )


def parse(page: str):
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)


def text_of(el) -> str:
    return "".join(el.itertext())


def csv_rows(report: Report) -> tuple[list[str] | None, list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(to_csv(report), newline=""))
    rows = list(reader)
    return reader.fieldnames, rows


# --------------------------------------------------------------------------------------------------------- CSV


def test_csv_header_and_one_row_per_cell_and_candidate(report: Report) -> None:
    header, rows = csv_rows(report)
    assert header == CSV_HEADER
    assert len(rows) == len(report.needs) + len(report.grid.cells) + sum(len(n.providers) for n in report.needs)
    assert [r["row_type"] for r in rows] == ["need"] * 2 + ["cell"] * 4 + ["candidate"] * 5
    assert all(set(r) == set(CSV_HEADER) for r in rows)
    assert to_csv(report).endswith("\r\n")


def test_csv_cell_rows_agree_with_the_grid(report: Report) -> None:
    _, rows = csv_rows(report)
    by_key = {(int(r["need_id"]), r["area_code"]): r for r in rows if r["row_type"] == "cell"}
    needs = {n.need_id: n for n in report.needs}
    for cell in report.grid.cells:
        row = by_key[(cell.need_id, cell.area)]
        n = needs[cell.need_id]
        assert row["area_name"] == cell.area_name
        assert row["pathway"] == cell.pathway and row["pathway_name"] == n.pathway_name
        assert row["need_title"] == n.title
        assert int(row["suitable_count"]) == cell.suitable
        assert row["verdict"] == cell.verdict
        assert (row["providers"].split("; ") if row["providers"] else []) == cell.providers
        assert int(row["annual_budget_gbp"]) == n.annual_budget and int(row["annual_volume"]) == n.annual_volume
        assert all(
            row[k] == ""
            for k in ("rank", "provider_id", "provider_name", "sector", "total_score", "meets_threshold", "strengths")
        )


def test_csv_candidate_rows_agree_with_the_needs(report: Report) -> None:
    _, rows = csv_rows(report)
    got = [r for r in rows if r["row_type"] == "candidate"]
    expected = [(n, c.rank, c) for n in report.needs for c in n.providers]
    top = {(n.need_id, c.provider_id): c for n in report.needs for c in n.top_candidates}
    assert len(got) == len(expected)
    for row, (n, rank, c) in zip(got, expected, strict=True):
        assert int(row["need_id"]) == n.need_id and row["need_title"] == n.title
        assert int(row["rank"]) == rank
        assert int(row["provider_id"]) == c.provider_id
        assert row["provider_name"] == c.name
        assert row["sector"] == c.sector
        assert row["total_score"] == f"{c.total:.3f}" and re.fullmatch(r"\d\.\d{3}", row["total_score"])
        assert row["meets_threshold"] == ("yes" if c.meets_threshold else "no")
        assert (float(row["capacity"]) if row["capacity"] else None) == c.capacity
        assert all(row[f"score_{k}"] == f"{v:.3f}" for k, v in c.scores.items())
        strengths = top[(n.need_id, c.provider_id)].strengths
        expected_strengths = [f"{s.criterion.replace('_', ' ')}: {s.evidence[0]}" for s in strengths]
        assert (row["strengths"].split("; ") if row["strengths"] else []) == expected_strengths
        assert all(row[k] == "" for k in ("area_code", "area_name", "suitable_count", "verdict", "providers"))
    assert got[0]["provider_name"] == EVIL  # CSV is data, not markup: kept verbatim
    assert got[0]["total_score"] == "0.912"
    # a suitable provider's unconfirmed profile is flagged on its row, as the page's "profiles to check" flag it
    flags = {(r["need_id"], r["provider_name"]): (r["stale_profile"], r["months_since_confirmed"]) for r in got}
    assert flags[("1", "Old Mill Trust")] == ("yes", "22") and flags[("1", EVIL)] == ("no", "")
    assert flags[("2", "Never Confirmed CIC")] == ("yes", "") and flags[("2", "Below Bar Ltd")] == ("", "")


def test_csv_need_and_cell_rows_carry_the_capacity_the_concentration_is_of(report: Report) -> None:
    """An auditor could not recompute a need's or an area's concentration from the CSV: the capacity was empty."""
    _, rows = csv_rows(report)
    needs = {str(n.need_id): n for n in report.needs}
    for r in rows:
        if r["row_type"] == "need":
            m = needs[r["need_id"]].market
            assert r["capacity"] == (f"{m.capacity:g}" if m.providers else ""), r


def test_csv_neutralises_spreadsheet_formulas(report: Report) -> None:
    report.needs[0].providers[0].name = '=HYPERLINK("http://evil.example","x")'
    report.grid.cells[0].providers = ["@SUM(A1)", "Fine Ltd"]
    _, rows = csv_rows(report)
    cand = next(r for r in rows if r["row_type"] == "candidate")
    assert cand["provider_name"] == "'" + '=HYPERLINK("http://evil.example","x")'
    cell = next(r for r in rows if r["row_type"] == "cell")
    assert cell["providers"] == "'@SUM(A1); Fine Ltd"


def test_csv_bytes_carry_a_bom_for_spreadsheets(report: Report) -> None:
    data = to_csv_bytes(report)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == to_csv(report)


# -------------------------------------------------------------------------------------------------------- HTML


def test_html_is_a_strict_html5_document(report: Report) -> None:
    page = to_html(report)
    assert page.startswith("<!DOCTYPE html>")
    doc = parse(page)  # raises on any parse error
    root = doc if doc.tag == "html" else doc.find("html")
    assert root.get("lang") == "en-GB"  # the base layout says British English
    assert root.find("head/meta[@charset='utf-8']") is not None
    assert text_of(root.find("head/title")).startswith("Test <exercise> & market")
    assert "@page" in page and "size: A4" in page


def test_html_is_self_contained(report: Report) -> None:
    page = to_html(report)
    refs = re.findall(r"""\b(?:src|href|xlink:href|action|srcset)\s*=\s*["']?([^"'\s>]*)""", page, flags=re.I)
    assert refs, "expected in-page links"
    assert all(ref.startswith("#") for ref in refs), refs
    lowered = page.lower()
    for banned in (
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "@import",
        "http://",
        "https://",
        "//cdn",
        "@font-face",
    ):
        assert banned not in lowered, banned
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {f"#{i}" for i in re.findall(r'id="([^"]+)"', page)}
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    assert {ref[1:] for ref in refs} <= ids  # every in-page link has a target


def test_html_escapes_user_controlled_text(report: Report) -> None:
    page = to_html(report)
    assert "<script" not in page and "<b>markup</b>" not in page and "<exercise>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Smith &amp; Sons" in page  # markupsafe's escapes
    assert "West Mercia &amp; Co" in page and "Note one &lt;with&gt; markup &amp; ampersand." in page
    doc = parse(page)
    assert EVIL in text_of(doc)  # the name survives, as text
    assert not [el for el in doc.iter() if isinstance(el.tag, str) and el.tag.endswith("script")]


def test_html_has_accessible_scalable_svg_charts(report: Report) -> None:
    page = to_html(report)
    assert page.count("<svg") >= 3
    svgs = [el for el in parse(page).iter() if el.tag == f"{SVG}svg"]
    assert len(svgs) >= 3
    for svg in svgs:
        assert svg.get("role") == "img"
        assert svg.get("aria-label")
        assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", svg.get("viewBox") or "")
        first = next(iter(svg))
        assert first.tag == f"{SVG}title" and text_of(first).strip()


def test_heatmap_has_one_labelled_rect_per_grid_cell(report: Report) -> None:
    doc = parse(to_html(report))
    figure = next(el for el in doc.iter() if el.get("id") == "fig-depth")
    rects = [r for r in figure.iter(f"{SVG}rect") if "cell" in (r.get("class") or "").split()]
    assert len(rects) == len(report.grid.cells)
    labels = {"no_market": "No market", "limited_market": "Limited market", "competitive_market": "Competitive market"}
    by_key = {(c.need_id, c.area): c for c in report.grid.cells}
    for rect in rects:
        cell = by_key[(int(rect.get("data-need")), rect.get("data-area"))]
        title = text_of(rect.find(f"{SVG}title"))
        assert rect.get("data-verdict") == cell.verdict
        assert labels[cell.verdict] in title and labels[cell.verdict] in rect.get("aria-label")
        assert cell.area_name in title
    blanks = [r for r in figure.iter(f"{SVG}rect") if r.get("class") == "na"]
    assert len(blanks) == len(report.needs) * len(report.grid.areas) - len(report.grid.cells)
    counts = [text_of(t) for t in figure.iter(f"{SVG}text") if "cv" in (t.get("class") or "").split()]
    assert counts == ["3", "0", "1", "2"]  # needs in order, areas in grid order


def test_html_reports_summary_partnerships_gaps_stale_and_method(report: Report) -> None:
    doc = parse(to_html(report))
    sections = {el.get("id"): " ".join(text_of(el).split()) for el in doc.iter("section")}
    summary = sections["summary"]
    assert "Of the 2 needs in this exercise, 1 has a competitive market and 1 has a limited market" in summary
    assert "1 has no suitable provider (Need number 1 & co in Shropshire)" in summary
    assert "£50,001 a year of match funding and 24 volunteers between them" in summary and "£210,000" in summary
    # declared, not brought: the organisations' own figures, not money offered for this exercise
    assert "bring" not in summary and "not money offered for this exercise" in summary
    assert "if it all came to this exercise" in sections["budget"] and "bring" not in sections["budget"]
    assert "1 October 2026 to 29 January 2027" in text_of(doc) and "22 November 2026, 15:56 UK time" in text_of(doc)

    need1 = sections["need-1"]
    for fact in (
        "5 of 40 in the directory",
        "2.5 × the annual volume",
        "1 provider did not state a capacity",
        "60% of suitable capacity",
        "£25,000 a year",
        "Pathway not offered: 30",
        "Old Mill Trust (provider id 7): last confirmed 3 January 2025",
        "0.912",
        "Coverage: Herefordshire fully covered → 1.00",
    ):
        assert fact in need1, fact
    assert "below 0.6" in sections["need-2"]  # Below Bar Ltd scores 0.41

    partnerships = sections["partnerships"]
    assert "Option 1: led by Old Mill Trust" in partnerships
    assert "Need 2, Need number 2 & co: Shropshire" in partnerships and EVIL in partnerships
    gaps = next(el for el in doc.iter("div") if "warnbox" in (el.get("class") or ""))
    assert " ".join(text_of(gaps).split()).endswith("Need 1, Need number 1 & co: Shropshire")

    assert "Never Confirmed CIC (provider id 8): never confirmed" in sections["stale"]
    assert "Old Mill Trust (provider id 7): last confirmed 3 January 2025 (22 months ago)" in sections["stale"]
    method = sections["method"]
    for fact in (
        "Pathway fit",
        "total score ≥ 0.6",
        "1 to 2 suitable providers",
        "over 12 months",
        report.method.verdicts,
        "2026.11-1",
        "11, 12",
        "2 November 2026, 09:30 UK time to 2 November 2026, 09:31 UK time",
        "Note one <with> markup & ampersand.",
    ):
        assert fact in method, fact
    budget = sections["budget"]
    assert "£210,000" in budget and "£50,001" in budget and "24 volunteers" in budget


def test_needs_not_matched_yet_are_counted_apart_from_the_needs_described(report: Report) -> None:
    """The summary and the budget speak of the needs with a stored run, and say how many of the exercise's have
    none (the figures leave them out): never "Of the 2 needs in this exercise" of an exercise of 4."""
    waiting = [
        NotMatched(need_id=k, title=f"Need {k}", pathway="HEALTH", reason="never_matched", detail="never matched")
        for k in (3, 4)
    ]
    fresh = Freshness(current=False, not_matched=waiting, stale_need_ids=[], refresh="POST /exercises/1/match")
    doc = parse(to_html(msgspec.structs.replace(report, freshness=fresh)))
    sections = {el.get("id"): " ".join(text_of(el).split()) for el in doc.iter("section")}
    assert (
        "Of the 2 needs with a stored match run (2 of the exercise's 4 have none yet and are left out of every"
        in (sections["summary"])
    )
    assert "in this exercise" not in sections["summary"]
    assert "against the matched needs' combined annual budget of £210,000" in sections["summary"]
    assert sections["budget"].startswith(
        "Hold the budget, grow the provision The 2 needs matched so far hold a combined annual budget of £210,000 "
        "(the 2 needs not matched yet are left out)."
    )
    alone = msgspec.structs.replace(report, totals=msgspec.structs.replace(report.totals, suitable_providers=1))
    said = " ".join(text_of(parse(to_html(alone))).split())
    assert "The 1 suitable provider (each counted once, however many needs it suits) declares" in said
    assert "The 1 suitable provider, each counted once, declares" in said


def test_verdicts_are_not_told_by_colour_alone(report: Report) -> None:
    page = to_html(report)
    assert 'fill="url(#hm-none)"' in page and 'fill="url(#hm-limited)"' in page  # patterns, not flat colours
    for label in ("Competitive (3+)", "Limited (1–2)", "No market (0)", "Area not part of the need"):
        assert label in page
    assert '<span class="verdict competitive_market">Competitive market</span>' in page


def test_renderers_are_deterministic_and_handle_an_empty_report(report: Report) -> None:
    assert to_html(report) == to_html(report) and to_csv(report) == to_csv(report)
    empty = empty_report(report)
    header, rows = csv_rows(empty)
    assert header == CSV_HEADER and rows == []
    page = to_html(empty)
    parse(page)
    assert "no need with a stored match run" in page


# ---------------------------------------------------------------------------------------- structured strengths


def test_html_shows_strengths_from_structured_data_and_weaker_points(report: Report) -> None:
    doc = parse(to_html(report))

    def candidate_rows(need_id: int) -> list[str]:
        section = next(el for el in doc.iter("section") if el.get("id") == f"need-{need_id}")
        table = next(t for t in section.iter("table") if t.get("class") == "candidates")
        return [" ".join(text_of(r).split()) for r in table.find("tbody")]

    below_bar = candidate_rows(2)[1]
    assert "Below Bar Ltd" in below_bar and "Coverage: partial" in below_bar
    assert "Weaker on: quality 0.100 and pathway fit 0.300" in below_bar  # lowest score first
    assert "Weaker on: capacity 0.200" in candidate_rows(1)[0]
    assert "Weaker" not in candidate_rows(1)[1]  # no weakness, no line
    page = to_html(report)
    assert "capacity &lt;unknown&gt; &amp; none" not in page  # only a strength's first evidence line is shown
    assert "mean share" not in page  # ... the others are in the JSON


def test_csv_strengths_column_comes_from_the_structured_strengths(report: Report) -> None:
    _, rows = csv_rows(report)
    cand = [r for r in rows if r["row_type"] == "candidate"]
    assert cand[0]["strengths"] == "coverage: Herefordshire fully covered -> 1.00; quality: iso_9001 -> 0.90"
    assert cand[2]["strengths"] == ""
    assert cand[3]["strengths"] == "pathway fit: offers ETE -> 1.00"
    report.needs[0].top_candidates[1].strengths = [CriterionNote("capacity", 0.8, 0.5, 0.4, [])]
    assert csv_rows(report)[1][7]["strengths"] == "capacity"  # no evidence: the criterion alone


# ------------------------------------------------------------------------------------- escaping and the page


def test_quotes_and_script_in_names_are_escaped_in_text_and_attributes(report: Report) -> None:
    nasty = "Q \"Quoted\" <script>alert(1)</script> & 'Co'"
    report.exercise.title = nasty
    report.needs[0].top_candidates[0].name = nasty
    report.grid.cells[0].providers = [nasty]  # shows in the heat map's aria-label attribute
    page = to_html(report)
    assert "<script" not in page.lower() and '"Quoted"' not in page
    assert "Q &#34;Quoted&#34; &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;Co&#39;" in page
    doc = parse(page)  # strict: no attribute was broken open
    assert text_of(doc.find("head/title")).startswith(nasty)
    labels = [
        r.get("aria-label")
        for r in doc.iter(f"{SVG}rect")
        if r.get("data-area") == "E06000019" and r.get("data-need") == "1"
    ]
    assert labels and labels[0].endswith(": " + nasty)
    assert not [el for el in doc.iter() if isinstance(el.tag, str) and el.tag.lower().endswith("script")]


def test_page_has_no_script_and_no_external_url(report: Report) -> None:
    page = to_html(report)
    parse(page)
    assert "<script" not in page.lower()
    assert not re.search(r"(?i)\b(?:https?:|ftp:|data:|javascript:)|//[a-z0-9.-]+\.[a-z]{2,}", page)
    assert not re.search(r"""(?i)\b(?:src|href|action|xlink:href)\s*=\s*(?:"(?!#)|'(?!#)|(?!["'#]))""", page)


def test_page_extends_the_base_layout_and_inlines_the_style_sheet(report: Report) -> None:
    from marketplace.templating import static_text

    page = to_html(report)
    doc = parse(page)
    assert doc.tag == "html" and doc.get("lang") == "en-GB"
    skip = doc.find("body/a")
    assert skip.get("class") == "skip-link" and skip.get("href") == "#main"
    assert doc.find("body/div/main").get("id") == "main"
    assert doc.find("body/div/header").get("class") == "cover" and doc.find("body/div/footer") is not None
    styles = list(doc.iter("style"))
    assert len(styles) == 1 and text_of(styles[0]).strip() == static_text("report.css").strip()
    assert "<style>" in page and page.count("</style>") == 1


def test_templates_mark_nothing_safe() -> None:
    from pathlib import Path

    import marketplace

    root = Path(marketplace.__file__).parent / "templates"
    templates = list(root.rglob("*.j2"))
    assert templates
    for path in templates:
        text = path.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path


def test_templating_environment_escapes_and_is_strict() -> None:
    import jinja2

    from marketplace.templating import environment, render

    env = environment()
    assert env is environment() and env.undefined is jinja2.StrictUndefined
    assert env.get_template("report/report.html.j2") is env.get_template("report/report.html.j2")  # compiled once
    assert callable(env.autoescape) and env.autoescape("report/report.html.j2") and env.autoescape("other.txt")
    with pytest.raises(jinja2.UndefinedError):
        render("report/report.html.j2")  # no report: an error, not an empty page
    page = render("base.html.j2")
    assert page.startswith("<!DOCTYPE html>") and "<title>Provision</title>" in page
    parse(page)


# ------------------------------------------------------------------------------------------- chart geometry


def test_nice_scales_end_on_a_tick_that_covers_the_maximum() -> None:
    from marketplace.reports.charts import nice_scale

    for top in (1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 17, 23, 99, 100, 101, 230, 999, 1000, 1001, 8540, 12345.6):
        s = nice_scale(top)
        assert s.values[0] == 0 and s.values[-1] == s.top >= top, top
        assert s.step == int(s.step) >= 1 and s.top % s.step == 0, top
        assert 2 <= len(s.values) <= 11, (top, s.values)
    assert nice_scale(6).values == [0, 2, 4, 6] and nice_scale(1000).values == [0, 200, 400, 600, 800, 1000]
    assert nice_scale(12).top == 15 and nice_scale(0.3, integer=False).top == pytest.approx(0.3)


@given(st.floats(min_value=0.5, max_value=1e7, allow_nan=False))
def test_nice_scales_cover_any_maximum(top: float) -> None:
    from marketplace.reports.charts import nice_scale

    s = nice_scale(top)
    assert s.top >= top and s.top < top + s.step + 1e-6 * top and s.values[-1] == s.top


def test_sector_bars_are_proportional_and_ticks_cover_the_longest(report: Report) -> None:
    from marketplace.reports.charts import LABEL_W, sector_chart

    chart = sector_chart(report)
    assert [t.value for t in chart.ticks][-1] >= max(sum(n.suitable_by_sector.values()) for n in report.needs)
    axis_end = chart.ticks[-1].x
    per_unit = (axis_end - LABEL_W) / chart.scale.top
    for n, row in zip(report.needs, chart.rows, strict=True):
        counts = [k for s, k in sorted(n.suitable_by_sector.items(), key=lambda sk: sk[0] != "third_sector") if k]
        assert [b.box.w for b in row.bars] == pytest.approx([k * per_unit for k in counts])
        assert row.bars[0].box.x == LABEL_W
        for a, b in zip(row.bars, row.bars[1:], strict=False):
            assert b.box.x == pytest.approx(a.box.x + a.box.w)  # stacked end to end
        assert row.bars[-1].box.x + row.bars[-1].box.w <= axis_end + 1e-9
    assert [t.label.text for t in chart.ticks] == ["0", "1", "2", "3"]  # 3 suitable at most
    xs = [i.swatch.x for i in chart.legend]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # legend items in a row, none on top of another


def test_capacity_bars_are_cut_at_the_scale_and_flagged(report: Report) -> None:
    from marketplace.reports.charts import LABEL_W, capacity_chart

    report.needs[1].capacity.suitable_capacity = 5_000.0  # volume 100: beyond 4 x the largest volume
    chart = capacity_chart(report)
    assert chart.scale.top == 400 and chart.ticks[-1].value == 400
    vol1, cap1 = chart.rows[0].bars
    assert vol1.box.w == pytest.approx(300 * 100 / 400) and cap1.box.w == pytest.approx(300 * 250 / 400)
    assert chart.rows[0].cut is None and chart.rows[1].cut is not None and chart.cut
    _, cap2 = chart.rows[1].bars
    assert cap2.box.x + cap2.box.w == pytest.approx(LABEL_W + 300)  # runs to the end of the axis, not beyond
    assert chart.rows[1].texts[1].text.startswith("5,000")  # the number keeps the full value
    assert chart.frame.width >= max(t.x for t in chart.ticks)


def test_heatmap_has_a_square_per_need_and_area_within_the_frame(report: Report) -> None:
    from marketplace.reports.charts import heatmap

    chart = heatmap(report)
    (panel,) = chart.panels
    assert len(panel.cells) == len(report.needs) * len(report.grid.areas)
    assert sum(1 for c in panel.cells if c.verdict is None) == 2  # need 1 has no Worcester, need 2 no Herefordshire
    assert [c.count.text for c in panel.cells if c.count] == ["3", "0", "1", "2"]
    for c in panel.cells:
        assert c.box.x >= 0 and c.box.x + c.box.w <= chart.frame.width
        assert c.box.y >= 0 and c.box.y + c.box.h <= chart.frame.height
    assert len({(c.box.x, c.box.y) for c in panel.cells}) == len(panel.cells)  # no two squares overlap
    assert max(i.swatch.y + i.swatch.h for i in chart.legend) <= chart.frame.height


def test_many_areas_split_the_heatmap_into_panels(report: Report) -> None:
    from marketplace.reports.charts import HEAT_MAX_COLS, heatmap

    codes = [f"E0{k:07d}" for k in range(30)]
    report.grid.areas, report.grid.area_names = codes, [f"Area {k}" for k in range(30)]
    report.grid.cells = [
        Cell(need_id=1, pathway="ACCOM", area=a, area_name=a, suitable=1, verdict=LIMITED_MARKET, providers=["X"])
        for a in codes
    ]
    chart = heatmap(report)
    assert len(chart.panels) == 3 and all(len(p.columns) <= HEAT_MAX_COLS for p in chart.panels)
    assert sum(len(p.columns) for p in chart.panels) == 30
    tops = [min(c.box.y for c in p.cells) for p in chart.panels]
    assert tops == sorted(tops) and len(set(tops)) == 3  # stacked
    page = to_html(report)
    parse(page)
    assert page.count('class="cell limited_market"') == 30


@pytest.mark.parametrize(
    ("cohorts", "eligibility", "said"),
    [
        ([], {}, "everyone"),
        (["ADULTS", "CARE_LEAVERS"], {}, "adults and care leavers"),
        ([], {"gender": "women", "min_age": 18}, "women aged 18 and over"),
        (["ADULTS"], {"gender": "men", "min_age": 18, "max_age": 25}, "adults (men aged 18 to 25)"),
        ([], {"max_age": 17}, "people aged up to 17"),
        (["WOMEN"], {"gender": "women", "min_age": 16, "max_age": 25}, "women (aged 16 to 25)"),
        # a need for women among other cohorts says it is for women only ("... and women (aged 12 to 17)" did not)
        (["CYP", "WOMEN"], {"gender": "women", "min_age": 12, "max_age": 17}, "CYP and women (women aged 12 to 17)"),
    ],
)
def test_a_need_says_whom_it_is_for_with_its_ages_and_gender(cohorts, eligibility, said):
    """A need for women aged 18 and over, with no cohorts, was headed "for all"."""
    from marketplace.exercises.models import NeedEligibility
    from marketplace.reports.models import for_whom

    assert for_whom(cohorts, NeedEligibility(**eligibility)) == said


def test_a_need_s_heading_and_csv_row_say_whom_it_is_for(report: Report) -> None:
    from marketplace.exercises.models import NeedEligibility

    women = msgspec.structs.replace(report.needs[0], eligibility=NeedEligibility(gender="women", min_age=18))
    narrowed = msgspec.structs.replace(report, needs=[women, *report.needs[1:]])
    assert "; for young adults (women aged 18 and over); " in to_html(narrowed)
    need_rows = [r for r in csv.DictReader(io.StringIO(to_csv(narrowed))) if r["row_type"] == "need"]
    assert need_rows[0]["for_whom"] == "young adults (women aged 18 and over)"
    assert need_rows[1]["for_whom"] == "young adults"


def test_codes_mid_sentence_are_lower_case_but_acronyms() -> None:
    from marketplace.formatting import humanise, lower_code

    assert (lower_code("co_operative"), humanise("co_operative")) == ("co-operative", "Co-operative")
    assert (lower_code("cio"), lower_code("third_sector"), humanise("tupe")) == ("CIO", "third sector", "TUPE")
    assert (lower_code("cic"), lower_code("co_operative_society"), humanise("co_operative_society")) == (
        "CIC",
        "co-operative society",
        "Co-operative society",
    )


def test_words_agree_with_their_numbers(report: Report) -> None:
    """A need with no suitable provider has no concentration to tell ("not known (no suitable provider states a
    capacity)" said otherwise); a lead with no partner is alone ("with 0 partners")."""
    nobody = msgspec.structs.replace(
        report.needs[0], suitable=0, market=msgspec.structs.replace(report.needs[0].market, hhi=None)
    )
    plan = report.partnerships
    alone = msgspec.structs.replace(plan, options=(msgspec.structs.replace(plan.options[0], partners=()),))
    page = to_html(msgspec.structs.replace(report, needs=[nobody, *report.needs[1:]], partnerships=alone))
    assert "none: no suitable provider" in page
    assert f"The leading partnership option, {plan.options[0].lead.name} alone, covers" in page


@pytest.mark.parametrize(
    ("total", "threshold", "shown"),
    [
        (0.69996, 0.7, "0.6999"),  # 3 places would round it up to the threshold it is below
        (0.6999999999, 0.7, "0.6999"),
        (0.69951, 0.7, "0.6995"),
        (0.69949, 0.7, "0.699"),
        (0.7, 0.7, "0.700"),
        (0.70004, 0.7, "0.700"),
        (0.61299, 0.613, "0.6129"),
        (0.912, 0.6, "0.912"),
    ],
)
def test_a_score_below_the_threshold_is_never_shown_reaching_it(total: float, threshold: float, shown: str) -> None:
    from marketplace.formatting import score_against

    assert score_against(total, threshold) == shown
    assert (float(shown) >= threshold) == (total >= threshold)


def test_a_moment_is_told_in_uk_time_winter_or_summer() -> None:
    from marketplace.formatting import uk_when as uk_time

    assert uk_time(dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)) == "10 December 2026, 12:00 UK time"
    assert uk_time(dt.datetime(2027, 7, 1, 8, 0, tzinfo=dt.UTC)) == "1 July 2027, 09:00 UK time"  # BST
    assert uk_time(dt.datetime(2027, 3, 27, 23, 30, tzinfo=dt.UTC)) == "27 March 2027, 23:30 UK time"


def test_the_reports_times_are_uk_time_as_the_consoles_are(report: Report) -> None:
    """The report said "15:56 UTC" where the console, the notice and the appraisal report say UK time: in summer the
    same moment read an hour apart on two pages of one exercise. Every time in the report is now UK time."""
    summer = dt.datetime(2027, 7, 1, 8, 5, tzinfo=dt.UTC)  # 09:05 in the UK (BST)
    needs = [msgspec.structs.replace(n, run_at=summer) for n in report.needs]
    method = msgspec.structs.replace(report.method, data_snapshot_from=summer, data_snapshot_to=summer)
    page = to_html(msgspec.structs.replace(report, generated_at=summer, needs=needs, method=method))
    text = " ".join(text_of(parse(page)).split())
    assert "UTC" not in text and "08:05" not in text
    assert f"<dt>Report generated</dt><dd>{formatting.uk_when(summer)}</dd>" in page
    assert formatting.uk_when(summer) == "1 July 2027, 09:05 UK time"
    assert "1 July 2027, 09:05 UK time to 1 July 2027, 09:05 UK time" in text  # the method's data snapshot
    assert "Match run 11, 1 July 2027, 09:05 UK time" in text
    footer = "Generated 1 July 2027, 09:05 UK time by Provision from stored match runs; see Method for how to"
    assert text.endswith(footer + " reproduce these figures.")


def test_a_changed_local_priority_reads_as_words_and_weight_not_a_field_dump() -> None:
    """A stale need's "When matched / Now" rows said local priorities as "text speech and language; weight 1":
    now each priority is its words with its weight."""
    from marketplace.reports.build import said

    was = [{"text": "speech and language", "weight": 1.0}, {"text": "trauma informed", "weight": 2.5}]
    assert said("local_priorities", was, {}) == "speech and language (weight 1), trauma informed (weight 2.5)"
    assert said("local_priorities", [], {}) == "none"


def test_a_response_not_counted_says_when_it_was_submitted(report: Report) -> None:
    """The HTML market report listed a response not counted (its provider archived since, or pending) by name,
    number and status but not when it was submitted, which the CSV and the workbook give: it now says when, in UK
    time as the report's other times; one frozen before the time was kept says nothing of it."""
    from marketplace.engagement.models import MarketResponse, NotCounted

    summer = dt.datetime(2027, 7, 1, 8, 5, tzinfo=dt.UTC)  # 09:05 in the UK (BST)
    left_out = [
        NotCounted(provider_id=3, name="Old Mill Trust", status="archived", reason="archived", submitted_at=summer),
        NotCounted(provider_id=4, name="Lanterns CIC", status="pending", reason="pending"),
    ]
    mr = MarketResponse(
        exercise_id=1,
        published=True,
        deadline=None,
        responses=0,
        withdrawn=0,
        threshold=0.6,
        needs=[],
        clarifications=[],
        not_counted=left_out,
    )
    page = to_html(msgspec.structs.replace(report, market_response=mr))
    parse(page)
    (said,) = [" ".join(p.split()) for p in re.findall(r"(?s)<p>Not counted in any figure below:.*?</p>", page)]
    assert "Old Mill Trust (provider 3), submitted 1 July 2027, 09:05 UK time, whose response stands" in said
    assert "Lanterns CIC (provider 4), whose response stands" in said and "not recorded" not in said
