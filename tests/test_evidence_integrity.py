"""Issue 12, items 7 and 8: evidence a commissioner can defend. Every need matched in one call; a report computed
from stored runs only (a GET writes nothing); stale runs marked with what changed; frozen reports returned byte for
byte; market concentration (HHI, largest share) per need and per (need, area) cell; the CSV lists every suitable
provider with every criterion's score. Through the real app on a real PostgreSQL; figures recomputed here from the
stored runs, never hard-coded."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import fetchval, run_cli

import matching
from marketplace import db
from marketplace.exercises.models import NeedIn
from marketplace.reports.render import CSV_HEADER
from marketplace.taxonomy.reference import REFERENCE_DIR, load_population

PEOPLE = load_population(REFERENCE_DIR / "population.json").areas
"""People per area (ONS), as the report spreads a provider's capacity over its areas."""

TABLES = ("match_run", "partnership_run", "audit_log", "frozen_report")


async def row_counts(dsn: str) -> dict[str, int]:
    conn = await db.connect(dsn)
    try:
        return {t: await conn.fetchval(f"select count(*) from {t}") for t in TABLES}
    finally:
        await conn.close()


async def sample_exercise(dsn: str) -> int:
    return await fetchval(dsn, "select min(id) from exercise")


def csv_of(body: bytes) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows and list(rows[0]) == CSV_HEADER
    return rows


async def match_all(client, xid: int, h: dict[str, str]) -> dict:
    r = await client.post(f"/exercises/{xid}/match", headers=h)
    assert r.status_code in (200, 201), r.text
    return r.json()


# --------------------------------------------------------------------------------------- matching every need


async def test_match_every_need_in_one_call_then_the_same_runs_are_given_back(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    needs = (await client.get(f"/exercises/{xid}", headers=h)).json()["needs"]
    before = await row_counts(fresh_db)
    r = await client.post(f"/exercises/{xid}/match", headers=h)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["exercise_id"] == xid and done["stored"] == len(needs) and done["reused"] == 0
    assert [n["need_id"] for n in done["needs"]] == [n["id"] for n in needs]
    after = await row_counts(fresh_db)
    assert after["match_run"] - before["match_run"] == len(needs)
    assert after["audit_log"] - before["audit_log"] == len(needs), "one audit row per stored run"
    for n in done["needs"]:
        run = (await client.get(f"/match-runs/{n['match_run_id']}", params={"limit": 500}, headers=h)).json()
        assert run["need_id"] == n["need_id"] and len(run["ranking"]) == n["ranked"]
        assert n["ranked"] == min(run["eligible_count"], 500), "deep enough for the report"
        assert n["best"] == (run["ranking"][0]["name"] if run["ranking"] else None)
        # the total as the run has it (rounded to 4 places first, 0.8985010 was then printed 0.898 beside 0.899)
        assert n["best_total"] == (run["ranking"][0]["total"] if run["ranking"] else None)
    again = await client.post(f"/exercises/{xid}/match", headers=h)
    assert again.status_code == 200, again.text
    assert again.json()["reused"] == len(needs) and again.json()["stored"] == 0
    assert [n["match_run_id"] for n in again.json()["needs"]] == [n["match_run_id"] for n in done["needs"]]
    assert (await row_counts(fresh_db))["match_run"] == after["match_run"]
    # the report now reads exactly those runs
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert report["method"]["match_run_ids"] == [n["match_run_id"] for n in done["needs"]]
    assert report["freshness"]["current"] and not report["freshness"]["not_matched"]


async def test_matching_an_exercise_is_for_staff_and_needs_needs(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    provider_id = await fetchval(fresh_db, "select min(id) from provider")
    assert (await client.post(f"/exercises/{xid}/match")).status_code == 401
    provider = await keys.headers("provider", provider_id)
    assert (await client.post(f"/exercises/{xid}/match", headers=provider)).status_code == 403
    h = await keys.headers("commissioner")
    assert (await client.post("/exercises/999999/match", headers=h)).status_code == 404
    empty = (await client.post("/exercises", json={"title": "Empty", "commissioning_body": "Trust"}, headers=h)).json()
    r = await client.post(f"/exercises/{empty['id']}/match", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "needs"


async def test_the_match_exercise_command_uses_the_same_use_case(databases, template_db):
    name = await databases.create("cli-match-exercise", template=template_db)
    dsn = databases.dsn(name)
    try:
        xid = await sample_exercise(dsn)
        report = run_cli("report", str(xid), "--format", "json", dsn=dsn)
        assert report.returncode == 0, report.stderr
        assert "not matched yet" in report.stderr and f"marketplace match-exercise {xid}" in report.stderr
        assert (await row_counts(dsn))["match_run"] == 0, "the report command stores nothing"
        first = run_cli("match-exercise", str(xid), dsn=dsn)
        assert first.returncode == 0, first.stderr
        conn = await db.connect(dsn)
        try:
            needs = await conn.fetchval("select count(*) from need where exercise_id = $1", xid)
            audited = await conn.fetchval("select count(*) from audit_log where detail like 'match run %'")
        finally:
            await conn.close()
        assert f"{needs} match runs stored, 0 reused" in first.stdout and "matching need 1/" in first.stderr
        assert (await row_counts(dsn))["match_run"] == needs and audited == needs
        again = run_cli("match-exercise", str(xid), dsn=dsn)
        assert again.returncode == 0 and f"0 match runs stored, {needs} reused" in again.stdout
        done = run_cli("report", str(xid), "--format", "json", dsn=dsn)
        assert done.returncode == 0 and "not matched yet" not in done.stderr
    finally:
        await databases.drop(name)


# --------------------------------------------------------------------------------- a report never writes


async def test_a_report_get_stores_nothing_and_says_what_is_not_matched(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    needs = (await client.get(f"/exercises/{xid}", headers=h)).json()["needs"]
    before = await row_counts(fresh_db)
    bodies = {}
    for fmt in ("json", "html", "csv"):
        r = await client.get(f"/exercises/{xid}/report", params={"format": fmt}, headers=h)
        assert r.status_code == 200, r.text
        bodies[fmt] = r.content
    assert await row_counts(fresh_db) == before, "a GET of a report wrote something"
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    fresh = report["freshness"]
    assert not fresh["current"] and report["needs"] == []
    assert [m["need_id"] for m in fresh["not_matched"]] == [n["id"] for n in needs]
    assert {m["reason"] for m in fresh["not_matched"]} == {"never_matched"}
    assert f"POST /exercises/{xid}/match" in fresh["refresh"]
    page = bodies["html"].decode()
    assert "Not matched yet" in page and f"POST /exercises/{xid}/match" in page
    for n in needs:
        assert n["title"] in page.replace("&amp;", "&")
    rows = csv_of(bodies["csv"])
    assert [(int(r["need_id"]), r["run_status"]) for r in rows if r["row_type"] == "need"] == [
        (n["id"], "not_matched") for n in needs
    ]
    # with the runs stored, reading still writes nothing
    await match_all(client, xid, h)
    before = await row_counts(fresh_db)
    for fmt in ("json", "html", "csv"):
        assert (await client.get(f"/exercises/{xid}/report", params={"format": fmt}, headers=h)).status_code == 200
    assert await row_counts(fresh_db) == before


async def test_a_short_list_run_is_reported_as_not_matched_never_rematched(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    need = (await client.get(f"/exercises/{xid}", headers=h)).json()["needs"][0]
    short = await client.post(f"/needs/{need['id']}/match-runs", params={"limit": 1}, headers=h)
    assert short.status_code == 201 and short.json()["eligible_count"] > 1
    before = await row_counts(fresh_db)
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert await row_counts(fresh_db) == before
    [missing] = [m for m in report["freshness"]["not_matched"] if m["need_id"] == need["id"]]
    assert missing["reason"] == "short_list_only" and str(short.json()["id"]) in missing["detail"]
    assert need["id"] not in [n["need_id"] for n in report["needs"]]


async def test_a_what_if_run_or_a_short_list_made_since_does_not_replace_the_run_a_report_reads(client, keys, fresh_db):
    """A commissioner trying other weights (a what-if run, as deep as the exercise's) or asking for a short list
    after matching the exercise: the report still reads the run made with the weights in force, current, and
    matching the exercise again gives that run back; before, the report read the newest run and called the need
    stale ("the weights were changed") with nothing to refresh."""
    h = await keys.headers("commissioner")
    xid = await draft_copy(client, h, await sample_exercise(fresh_db))
    first = await match_all(client, xid, h)
    need_id, run_id = first["needs"][0]["need_id"], first["needs"][0]["match_run_id"]
    weights = {"pathway_fit": 10, "coverage": 10, "capacity": 10, "financial_viability": 10, "quality": 60}
    what_if = await client.post(
        f"/needs/{need_id}/match-runs", params={"limit": 500}, json={"weights": weights}, headers=h
    )
    assert what_if.status_code == 201 and what_if.json()["weights_percent"]["quality"] == 60
    short = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 1}, headers=h)
    assert short.status_code == 201 and short.json()["id"] > what_if.json()["id"] > run_id
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    [shown] = [n for n in report["needs"] if n["need_id"] == need_id]
    assert shown["match_run_id"] == run_id and shown["stale_run"] is None
    assert report["freshness"]["current"] and not report["freshness"]["not_matched"]
    again = await match_all(client, xid, h)
    assert again["needs"][0]["match_run_id"] == run_id and again["needs"][0]["reused"]


# ----------------------------------------------------------------------------------------------- stale runs


async def draft_copy(client, h: dict[str, str], xid: int) -> int:
    """An unpublished copy of exercise `xid` with the same needs (a published notice's needs cannot change)."""
    x = (await client.get(f"/exercises/{xid}", headers=h)).json()
    made = await client.post(
        "/exercises", json={"title": x["title"] + " (draft)", "commissioning_body": x["commissioning_body"]}, headers=h
    )
    assert made.status_code == 201, made.text
    copied = ("title", "pathway", "areas", "annual_volume", "annual_budget", "cohorts", "contract_years")
    for n in x["needs"]:
        r = await client.post(f"/exercises/{made.json()['id']}/needs", json={k: n[k] for k in copied}, headers=h)
        assert r.status_code == 201, r.text
    return made.json()["id"]


async def test_a_run_older_than_its_need_is_marked_stale_with_what_changed(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    xid = await draft_copy(client, h, await sample_exercise(fresh_db))
    first = await match_all(client, xid, h)
    need_id = first["needs"][0]["need_id"]
    r = await client.get(f"/needs/{need_id}", headers=h)
    was = r.json()
    new_areas = ["E06000051"] if was["areas"] != ["E06000051"] else ["E06000019"]
    patched = await client.patch(
        f"/needs/{need_id}",
        json={"areas": new_areas, "annual_volume": was["annual_volume"] + 17},
        headers={**h, "If-Match": r.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    [stale] = [n for n in report["needs"] if n["need_id"] == need_id]
    assert stale["match_run_id"] == first["needs"][0]["match_run_id"], "the stored run is still the one shown"
    info = stale["stale_run"]
    assert info["run_need_version"] == was["version"] and info["need_version"] == patched.json()["version"]
    changes = {c["field"]: c for c in info["changes"]}
    assert set(changes) == {"areas", "annual_volume"}
    assert changes["areas"]["in_run"] == was["areas"] and changes["areas"]["now"] == new_areas
    assert changes["annual_volume"]["now"] == was["annual_volume"] + 17
    assert f"POST /exercises/{xid}/match" in info["refresh"]
    assert report["freshness"]["stale_need_ids"] == [need_id] and not report["freshness"]["current"]
    assert all(n["stale_run"] is None for n in report["needs"] if n["need_id"] != need_id)
    page = (await client.get(f"/exercises/{xid}/report", params={"format": "html"}, headers=h)).text
    assert "Stale run." in page and "Annual volume" in page and f"POST /exercises/{xid}/match" in page
    # the values as a person reads them: areas by name, not JSON
    names: dict[str, str] = {}
    nodes = (await client.get("/areas")).json()
    while nodes:  # the area tree, flattened
        node = nodes.pop()
        names[node["code"]] = node["name"]
        nodes += node.get("children", [])
    assert changes["areas"]["now_text"] == ", ".join(names[a] for a in new_areas)
    assert f"<td>{changes['areas']['in_run_text']}</td><td>{changes['areas']['now_text']}</td>" in page
    assert '<code>["E0' not in page
    rows = csv_of((await client.get(f"/exercises/{xid}/report", params={"format": "csv"}, headers=h)).content)
    [row] = [r for r in rows if r["row_type"] == "need" and int(r["need_id"]) == need_id]
    assert row["run_status"] == "stale" and row["changed_fields"] == "areas; annual_volume"
    # refreshing matches only what changed
    again = await match_all(client, xid, h)
    assert again["stored"] == 1 and again["reused"] == len(first["needs"]) - 1
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert report["freshness"]["current"] and all(n["stale_run"] is None for n in report["needs"])


async def test_a_need_edited_and_edited_back_leaves_its_run_current(client, keys, fresh_db):
    """A need's weight overrides set and then emptied (`{}`) say what the run used (none): the report called the
    run stale, "weight_overrides: null -> {}". No weights given are stored as null, as a new need's are."""
    h = await keys.headers("commissioner")
    xid = await draft_copy(client, h, await sample_exercise(fresh_db))
    first = await match_all(client, xid, h)
    need_id = first["needs"][0]["need_id"]
    r = await client.get(f"/needs/{need_id}", headers=h)
    assert r.json()["weight_overrides"] is None
    for table in ({"coverage": 50, "quality": 50}, {}):
        r = await client.patch(
            f"/needs/{need_id}", json={"weight_overrides": table}, headers={**h, "If-Match": r.headers["etag"]}
        )
        assert r.status_code == 200, r.text
    assert r.json()["weight_overrides"] is None
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert report["freshness"]["current"] and report["freshness"]["stale_need_ids"] == []
    body = {**{k: v for k, v in r.json().items() if k in NeedIn.__struct_fields__}, "weight_overrides": {}}
    made = await client.post(f"/exercises/{xid}/needs", json=body, headers=h)
    assert made.status_code == 201, made.text
    assert made.json()["weight_overrides"] is None


# ------------------------------------------------------------------------------------------ frozen reports


async def test_a_frozen_report_gives_back_the_same_bytes_for_ever(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    refused = await client.post(f"/exercises/{xid}/reports", headers=h)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "needs"
    assert f"POST /exercises/{xid}/match" in refused.json()["errors"][0]["problem"]
    done = await match_all(client, xid, h)
    before = await row_counts(fresh_db)
    r = await client.post(f"/exercises/{xid}/reports", params={"threshold": 0.5}, headers=h)
    assert r.status_code == 201, r.text
    frozen = r.json()
    assert r.headers["location"] == f"/reports/{frozen['id']}"
    assert frozen["match_run_ids"] == [n["match_run_id"] for n in done["needs"]]
    assert frozen["suitable_threshold"] == 0.5 and frozen["data_snapshot_at"] is not None
    after = await row_counts(fresh_db)
    assert after["frozen_report"] == before["frozen_report"] + 1 and after["audit_log"] == before["audit_log"] + 1
    assert after["match_run"] == before["match_run"]
    detail = await fetchval(fresh_db, "select detail from audit_log order by id desc limit 1")
    assert detail == f"froze report {frozen['id']} of exercise {xid}"

    stored = {}
    for fmt in ("json", "html", "csv"):
        got = await client.get(frozen["urls"][fmt], headers=h)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith(
            {"json": "application/json", "html": "text/html", "csv": "text/csv"}[fmt]
        )
        stored[fmt] = got.content
    workbook = await client.get(frozen["urls"]["xlsx"], headers=h)  # every format it is read in is listed
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK", workbook.text
    body = (await client.get(f"/reports/{frozen['id']}", headers=h)).json()
    assert body["frozen"] == {"report_id": frozen["id"], "url": f"/reports/{frozen['id']}"}
    assert body["method"]["match_run_ids"] == frozen["match_run_ids"]
    assert body["method"]["thresholds"]["suitable_score"] == 0.5
    assert f"Frozen report</dt><dd>{frozen['id']}" in stored["html"].decode()
    assert (await client.get(f"/reports/{frozen['id']}", headers={**h, "Accept": "text/csv"})).content == stored["csv"]

    # the directory and the needs change, the runs are refreshed: the frozen report does not
    need_id = done["needs"][0]["need_id"]
    r = await client.get(f"/needs/{need_id}", headers=h)
    await client.patch(f"/needs/{need_id}", json={"annual_volume": 999}, headers={**h, "If-Match": r.headers["etag"]})
    conn = await db.connect(fresh_db)
    try:
        await conn.execute(
            "update provider set status = 'archived' "
            "where id = (select min(id) from provider where status = 'published')"
        )
    finally:
        await conn.close()
    await match_all(client, xid, h)
    live = (await client.get(f"/exercises/{xid}/report", params={"threshold": 0.5}, headers=h)).json()
    assert live["method"]["match_run_ids"] != frozen["match_run_ids"]
    for fmt in ("json", "html", "csv"):
        assert (await client.get(frozen["urls"][fmt], headers=h)).content == stored[fmt], fmt
    listed = (await client.get(f"/exercises/{xid}/reports", headers=h)).json()
    assert [x["id"] for x in listed] == [frozen["id"]]


async def test_frozen_reports_are_staff_only_and_unknown_ones_are_404(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    await match_all(client, xid, h)
    frozen = (await client.post(f"/exercises/{xid}/reports", headers=h)).json()
    provider_id = await fetchval(fresh_db, "select min(id) from provider")
    assert (await client.get(f"/reports/{frozen['id']}")).status_code == 401
    provider = await keys.headers("provider", provider_id)
    assert (await client.get(f"/reports/{frozen['id']}", headers=provider)).status_code == 403
    assert (await client.post(f"/exercises/{xid}/reports", headers=provider)).status_code == 403
    assert (await client.get("/reports/999999", headers=h)).status_code == 404
    assert (await client.get(f"/reports/{frozen['id']}", params={"format": "pdf"}, headers=h)).status_code == 400
    assert (await client.get(f"/reports/{frozen['id']}", headers={**h, "Accept": "image/png"})).status_code == 406
    assert (await client.post("/exercises/999999/reports", headers=h)).status_code == 404


async def test_frozen_reports_cannot_be_changed_by_the_api_role(fresh_db):
    # the table is append-only (schema/0011): the triggers refuse even the owner
    conn = await db.connect(fresh_db)
    try:
        xid = await conn.fetchval("select min(id) from exercise")
        await conn.execute(
            """insert into frozen_report (exercise_id, match_run_ids, suitable_threshold, generated_at,
                                          report_json, report_html, report_csv)
               values ($1, '{}', 0.6, now(), '{}', '', '')""",
            xid,
        )
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("update frozen_report set suitable_threshold = 0.1")
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("delete from frozen_report")
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------ market measures


def test_concentration_on_the_usual_scale_with_the_stated_bands():
    one = matching.concentration({"Only Trust": 120})
    assert one.hhi == 10_000 and one.band == "highly_concentrated" and one.largest_share == 1.0
    four = matching.concentration({f"P{i}": 50 for i in range(4)})
    assert four.hhi == 2_500 and four.band == "moderately_concentrated"  # 2,500 itself is not above 2,500
    ten = matching.concentration({f"P{i}": 10 for i in range(10)})
    assert ten.hhi == 1_000 and ten.band == "unconcentrated" and ten.largest_share == 0.1
    mixed = matching.concentration([("Big", 60.0), ("Small", 20.0), ("Small", 20.0), ("Silent", None)])
    assert mixed.hhi == 60**2 + 40**2 and mixed.largest_provider == "Big" and mixed.largest_share == 0.6
    assert mixed.providers == 3 and mixed.unknown_capacity == 1 and mixed.capacity == 100
    none = matching.concentration({"Silent": None, "Zero": 0})
    assert none.hhi is None and none.band == "unknown" and none.unknown_capacity == 2
    assert matching.concentration({}).band == "unknown"
    # the bands as stated
    assert matching.market.hhi_band(1_499.9) == "unconcentrated" and matching.market.hhi_band(1_500) == (
        "moderately_concentrated"
    )
    assert matching.market.hhi_band(2_500.1) == "highly_concentrated"
    assert "Horizontal Merger Guidelines (2010)" in matching.HHI_SOURCE


def _hhi(caps: list[float | None]) -> float | None:
    held = [c for c in caps if c]
    total = sum(held)
    return round(sum((100 * c / total) ** 2 for c in held), 1) if total else None


async def test_market_measures_per_need_and_cell_agree_with_the_stored_runs(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    await match_all(client, xid, h)
    threshold = 0.5
    report = (await client.get(f"/exercises/{xid}/report", params={"threshold": threshold}, headers=h)).json()
    cells = {(c["need_id"], c["area"]): c for c in report["grid"]["cells"]}
    measured = 0
    for need in report["needs"]:
        run = (await client.get(f"/match-runs/{need['match_run_id']}", params={"limit": 500}, headers=h)).json()
        suitable = [s for s in run["ranking"] if s["total"] >= threshold]
        m = need["market"]
        assert m["providers"] == len(suitable)
        assert m["hhi"] == _hhi([s["capacity"] for s in suitable])
        if m["hhi"] is not None:
            measured += 1
            total = sum(s["capacity"] or 0 for s in suitable)
            top = max(suitable, key=lambda s: s["capacity"] or 0)
            assert m["largest_share"] == round(top["capacity"] / total, 4)
            assert m["band"] == matching.market.hhi_band(m["hhi"])
        for (need_id, area), cell in cells.items():
            if need_id != need["need_id"]:
                continue
            here = [s for s in suitable if area in s["covered_areas"]]
            # each one's capacity spread over the need's areas it covers by their people (the shipped ONS figures)
            spread = [
                s["capacity"] * PEOPLE[area] / sum(PEOPLE[a] for a in s["covered_areas"])
                if s["capacity"] is not None
                else None
                for s in here
            ]
            assert cell["market"]["hhi"] == _hhi(spread), (need_id, area)
            assert cell["market"]["providers"] == len(here)
    assert measured, "some need of the seeded exercise has suitable providers with stated capacity"
    method = report["method"]
    assert matching.HHI_SOURCE in method["market_measures"] and "1,500" in method["market_measures"]
    assert [b["band"] for b in method["hhi_bands"]] == [
        "unconcentrated",
        "moderately_concentrated",
        "highly_concentrated",
    ]
    page = (
        await client.get(f"/exercises/{xid}/report", params={"format": "html", "threshold": threshold}, headers=h)
    ).text
    assert "Market concentration" in page and "Horizontal Merger Guidelines" in page and "Market by area" in page
    rows = csv_of(
        (
            await client.get(f"/exercises/{xid}/report", params={"format": "csv", "threshold": threshold}, headers=h)
        ).content
    )
    for need in report["needs"]:
        [row] = [r for r in rows if r["row_type"] == "need" and int(r["need_id"]) == need["need_id"]]
        m = need["market"]
        assert row["hhi"] == (f"{m['hhi']:.1f}" if m["hhi"] is not None else "") and row["hhi_band"] == m["band"]
    for r in rows:
        if r["row_type"] == "cell":
            cell = cells[(int(r["need_id"]), r["area_code"])]
            assert r["hhi_band"] == cell["market"]["band"]


# ------------------------------------------------------------------------------- every suitable provider


async def test_the_csv_lists_every_suitable_provider_with_every_criterion(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    await match_all(client, xid, h)
    threshold = 0.4  # low enough that some need has more than five suitable providers
    report = (await client.get(f"/exercises/{xid}/report", params={"threshold": threshold}, headers=h)).json()
    r = await client.get(f"/exercises/{xid}/report", params={"format": "csv", "threshold": threshold}, headers=h)
    rows = csv_of(r.content)
    assert [c for c in CSV_HEADER if c.startswith("score_")] == [f"score_{c}" for c in matching.CRITERIA]
    more_than_five = 0
    for need in report["needs"]:
        run = (await client.get(f"/match-runs/{need['match_run_id']}", params={"limit": 500}, headers=h)).json()
        listed = [s for k, s in enumerate(run["ranking"]) if k < 5 or s["total"] >= threshold]
        got = [row for row in rows if row["row_type"] == "candidate" and int(row["need_id"]) == need["need_id"]]
        assert [int(g["provider_id"]) for g in got] == [s["provider_id"] for s in listed]
        suitable = sum(1 for s in run["ranking"] if s["total"] >= threshold)
        assert sum(1 for g in got if g["meets_threshold"] == "yes") == suitable == need["suitable"]
        more_than_five += suitable > 5
        for g, s in zip(got, listed, strict=True):
            assert int(g["rank"]) == s["rank"] and g["total_score"] == f"{s['total']:.3f}"
            assert g["match_run_id"] == str(need["match_run_id"])
            # capacity for the need may be a share of a service's (people-weighted): six decimals in the CSV
            want = None if s["capacity"] is None else round(s["capacity"], 6)
            assert (float(g["capacity"]) if g["capacity"] else None) == want
            assert g["service_ids"] == "; ".join(map(str, s["service_ids"]))
            by_criterion = {c["criterion"]: c["score"] for c in s["criteria"]}
            assert set(by_criterion) == set(matching.CRITERIA)
            for criterion, value in by_criterion.items():
                assert g[f"score_{criterion}"] == f"{value:.3f}", (criterion, g)
    assert more_than_five, "the seeded exercise has a need with more than five suitable providers at 0.4"


async def test_an_exercise_with_no_needs_is_not_frozen_as_an_empty_report(client, keys, fresh_db):
    """Freezing an exercise with no needs stored a report holding nothing (found by a tester): it is refused, as
    freezing a need not matched yet is, and nothing is stored."""
    h = await keys.headers("commissioner")
    x = await client.post("/exercises", json={"title": "Nothing yet", "commissioning_body": "Trust"}, headers=h)
    assert x.status_code == 201, x.text
    before = await fetchval(fresh_db, "select count(*) from frozen_report")
    r = await client.post(f"/exercises/{x.json()['id']}/reports", headers=h)
    assert r.status_code == 422, r.text
    [problem] = r.json()["errors"]
    assert problem["field"] == "needs" and problem["problem"].startswith("the exercise has no needs")
    assert await fetchval(fresh_db, "select count(*) from frozen_report") == before
