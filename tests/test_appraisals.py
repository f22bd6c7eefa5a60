"""Options appraisals through the real app on a real PostgreSQL: roles, validation, If-Match, results, the decision
(which freezes the appraisal: the database refuses changes), the report and the seeded sample."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from html import escape as html_escape

import asyncpg
import msgspec
import pytest
from conftest import TELFORD_NEED, app_settings, fetchval
from litestar.testing import AsyncTestClient

from marketplace import db
from marketplace.app import create_app
from marketplace.clock import FixedClock
from marketplace.errors import Conflict
from marketplace.formatting import percent, shorten

FOUR = ["financial_viability", "performance_impact", "quality", "sustainability"]
OPTIONS = [
    {"key": "vcse", "model": "single_prime", "label": "Outsource to a third-sector organisation"},
    {"key": "la", "model": "hosted", "partner": "A county council"},
]


def body(**extra):
    return {"title": "Delivery model", **extra}


async def make(client, headers, **extra):
    r = await client.post("/appraisals", json=body(**extra), headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/appraisals/{r.json()['id']}"
    return r.json(), r.headers["etag"]


def scores(vcse, la, assessor="Ann"):
    return [
        *(
            {"option": "vcse", "criterion": c, "assessor": assessor, "score": s}
            for c, s in zip(FOUR, vcse, strict=True)
        ),
        *({"option": "la", "criterion": c, "assessor": assessor, "score": s} for c, s in zip(FOUR, la, strict=True)),
    ]


async def test_commissioners_and_admins_only(client, keys):
    provider = await keys.headers("provider", provider_id=1)
    assert (await client.get("/appraisals")).status_code == 401
    assert (await client.post("/appraisals", json=body())).status_code == 401
    assert (await client.get("/appraisals", headers=provider)).status_code == 403
    assert (await client.post("/appraisals", json=body(), headers=provider)).status_code == 403
    for role in ("commissioner", "admin"):
        assert (await client.get("/appraisals", headers=await keys.headers(role))).status_code == 200


async def test_create_defaults_to_the_four_criteria_and_is_audited(client, keys, fresh_db):
    staff = await keys.headers("commissioner")
    a, tag = await make(client, staff)
    assert tag == '"v1"'
    assert [c["key"] for c in a["criteria"]] == FOUR
    assert all(c["weight"] == 1 and c["scale"] == 5 and len(c["anchors"]) == 6 for c in a["criteria"])
    assert (a["years"], a["discount_rate"], a["decision"]) == (3, 0.035, None)
    conn = await db.connect(fresh_db)
    try:
        assert await conn.fetchval("select count(*) from audit_log where detail = $1", f"created appraisal {a['id']}")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"options": [{"key": "la", "model": "hosted"}]}, "options[0].partner"),
        ({"options": [{"key": "cu", "model": "custom"}]}, "options[0].label"),
        ({"options": [*OPTIONS, OPTIONS[0]]}, "options[2].key"),
        ({"criteria": [{"key": "qq", "name": "Quality", "weight": 0}]}, "criteria"),
        ({"criteria": [{"key": "qq", "name": "Quality", "weight": 1, "anchors": ["a", "b"]}]}, "criteria[0].anchors"),
        (
            {"options": OPTIONS, "scores": [{"option": "xx", "criterion": "quality", "assessor": "A", "score": 1}]},
            "scores[0].option",
        ),
        (
            {"options": OPTIONS, "scores": [{"option": "la", "criterion": "nope", "assessor": "A", "score": 1}]},
            "scores[0].criterion",
        ),
        (
            {"options": OPTIONS, "scores": [{"option": "la", "criterion": "quality", "assessor": "A", "score": 7}]},
            "scores[0].score",
        ),
        (
            {"options": OPTIONS, "costs": [{"option": "la", "year": 4, "category": "staff", "amount": 1}]},
            "costs[0].year",
        ),
        ({"exercise_id": 999999}, "exercise_id"),
        ({"exercise_id": 1, "options": [{**OPTIONS[0], "need_ids": []}]}, "options[0].need_ids"),  # buys nothing
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_nothing_is_stored(client, keys, extra, field):
    staff = await keys.headers("commissioner")
    r = await client.post("/appraisals", json=body(**extra), headers=staff)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert (await client.get("/appraisals", headers=staff)).json()["total"] == 1  # the seeded sample only


async def test_schema_errors_are_400(client, keys):
    staff = await keys.headers("commissioner")
    r = await client.post("/appraisals", json=body(discount_rate=0.5, surprise=1), headers=staff)
    assert r.status_code == 400
    r = await client.post("/appraisals", json=body(options=[{"key": "x", "model": "outsourced"}]), headers=staff)
    assert r.status_code == 400


@pytest.mark.parametrize("key", ["x", "Vcse", "1st_option", "in-house", "k" * 49])
async def test_a_bad_key_is_told_the_rule(client, keys, key):
    """A key is 2 to 48 characters: lower case letters, digits and underscores, starting with a letter; a key that
    breaks any part of that is told the whole of it."""
    staff = await keys.headers("commissioner")
    r = await client.post("/appraisals", json=body(options=[{**OPTIONS[0], "key": key}]), headers=staff)
    assert r.status_code == 400, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "options[0].key"
    assert error["problem"] == (
        "must be 2 to 48 characters: lower case letters, digits and underscores, starting with a letter, "
        "e.g. outsource_vcse"
    )


async def test_sub_resources_need_if_match_and_results_follow_the_inputs(client, keys):
    staff = await keys.headers("commissioner")
    a, tag = await make(client, staff, annual_budget=100_000)
    url = f"/appraisals/{a['id']}"
    r = await client.put(f"{url}/options", json={"options": OPTIONS}, headers=staff)
    assert r.status_code == 428
    r = await client.put(f"{url}/options", json={"options": OPTIONS}, headers={**staff, "If-Match": '"v9"'})
    assert r.status_code == 412
    r = await client.put(f"{url}/options", json={"options": OPTIONS}, headers={**staff, "If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] == '"v2"'
    # weights 3, 1, 1, 0 -> shares .6, .2, .2, 0; sustainability unweighted needs no score
    criteria = [{"key": k, "name": k.title(), "weight": w} for k, w in zip(FOUR, [3, 1, 1, 0], strict=True)]
    r = await client.put(f"{url}/criteria", json={"criteria": criteria}, headers={**staff, "If-Match": '"v2"'})
    assert r.status_code == 200
    both = [
        *scores([4, 2, 3, 0], [3, 5, 5, 0], "Ann")[:3],
        *scores([4, 2, 3, 0], [3, 5, 5, 0], "Ann")[4:7],
        *scores([2, 2, 3, 0], [3, 5, 5, 0], "Bob")[:3],
    ]
    r = await client.put(f"{url}/scores", json={"scores": both}, headers={**staff, "If-Match": '"v3"'})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    by = {o["option"]: o for o in res["options"]}
    # vcse: financial (4+2)/2 = 3 -> .6, performance .4, quality .6 -> .36 + .08 + .12 = .56
    # la: .6, 1, 1 -> .36 + .2 + .2 = .76
    assert by["vcse"]["weighted_score"] == pytest.approx(0.56)
    assert by["la"]["weighted_score"] == pytest.approx(0.76)
    assert res["ranking"] == ["la", "vcse"]
    spread = next(s for s in res["spreads"] if (s["option"], s["criterion"]) == ("vcse", "financial_viability"))
    assert (spread["assessors"], spread["low"], spread["high"], spread["mean"]) == (2, 2, 4, 3)
    moderation = [{"option": "vcse", "criterion": "financial_viability", "score": 5, "note": "Agreed at panel."}]
    r = await client.put(f"{url}/moderation", json={"moderation": moderation}, headers={**staff, "If-Match": '"v4"'})
    by = {o["option"]: o for o in r.json()["results"]["options"]}
    assert by["vcse"]["weighted_score"] == pytest.approx(0.6 * 1 + 0.08 + 0.12)  # .80: now the top
    costs = [{"option": "la", "year": y, "category": "staff", "amount": 40_000} for y in (1, 2, 3)] + [
        {"option": "vcse", "year": 1, "category": "setup_transition", "amount": 400_000}
    ]
    r = await client.put(f"{url}/costs", json={"costs": costs}, headers={**staff, "If-Match": '"v5"'})
    res = r.json()["results"]
    by = {o["option"]: o for o in res["options"]}
    assert by["la"]["net_present_cost"] == pytest.approx(40_000 * (1 + 1 / 1.035 + 1 / 1.035**2), abs=0.01)
    assert res["budget_present_value"] == pytest.approx(100_000 * (1 + 1 / 1.035 + 1 / 1.035**2), abs=0.01)
    assert (by["vcse"]["affordable"], by["la"]["affordable"]) == (False, True)
    assert (res["top"], res["preferred"]) == ("vcse", "la")
    r = await client.patch(url, json={"years": 2}, headers={**staff, "If-Match": '"v6"'})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "costs[2].year"
    r = await client.get(f"{url}/costs", headers=staff)
    assert r.headers["etag"] == '"v6"' and len(r.json()["costs"]) == 4


async def post_decision(client, headers, a, tag, option="vcse", decided_by="Board", **extra):
    """POST a decision of appraisal `a` at its ETag `tag`: the response, whatever it is."""
    return await client.post(
        f"/appraisals/{a['id']}/decision",
        json={"option": option, "decided_by": decided_by, **extra},
        headers={**headers, "If-Match": tag},
    )


async def decide(client, headers, a, tag, option="vcse", decided_by="Board", **extra):
    """Decide appraisal `a` at its ETag `tag` (201): the response."""
    r = await post_decision(client, headers, a, tag, option, decided_by, **extra)
    assert r.status_code == 201, r.text
    return r


async def refused(client, headers, a, tag, option, **extra):
    """A decision of appraisal `a` at its ETag `tag` refused (422, by the Board): its errors."""
    r = await post_decision(client, headers, a, tag, option, **extra)
    assert r.status_code == 422, r.text
    return r.json()["errors"]


WHY_NOW = "The board meets once before April and the service must be in place by then."
"""Reasons for deciding while the market engagement is still open (the seeded exercise takes responses until 29
January 2027, and the engagement tests' exercise until 31 December 2026)."""


async def decided_appraisal(client, staff):
    a, tag = await make(client, staff, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
    return a, tag


async def test_the_decision_needs_reasons_unless_it_is_the_top_score(client, keys):
    staff = await keys.headers("commissioner")
    a, tag = await decided_appraisal(client, staff)
    assert (await refused(client, staff, a, tag, "la"))[0]["field"] == "reasons"
    assert (await refused(client, staff, a, tag, "zz"))[0]["field"] == "option"
    url = f"/appraisals/{a['id']}/decision"
    r = await client.post(url, json={"option": "la", "decided_by": "Board"}, headers=staff)
    assert r.status_code == 428
    r = await client.post(
        url,
        json={"option": "la", "decided_by": "Board", "reasons": "Keeps the staff together."},
        headers={**staff, "If-Match": tag},
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/appraisals/{a['id']}" and r.headers["etag"] == f'"v{r.json()["version"]}"'
    d = r.json()["decision"]
    assert (d["option"], d["top"], d["reasons"], d["market"]) == ("la", "vcse", "Keeps the staff together.", None)


async def test_a_decided_appraisal_is_frozen_even_for_the_database_role(client, keys, fresh_db):
    staff = await keys.headers("admin")
    a, tag = await decided_appraisal(client, staff)
    url = f"/appraisals/{a['id']}"
    tag = (await decide(client, staff, a, tag)).headers["etag"]
    before = (await client.get(url, headers=staff)).json()
    for path, doc in (("options", {"options": OPTIONS[:1]}), ("scores", {"scores": []}), ("costs", {"costs": []})):
        r = await client.put(f"{url}/{path}", json=doc, headers={**staff, "If-Match": tag})
        assert r.status_code == 409, r.text
        assert r.json()["message"] == f"appraisal {a['id']} is decided and frozen: it can no longer change"
    assert (await client.patch(url, json={"title": "x"}, headers={**staff, "If-Match": tag})).status_code == 409
    r = await client.post(
        f"{url}/decision", json={"option": "la", "decided_by": "B", "reasons": "r"}, headers={**staff, "If-Match": tag}
    )
    assert r.status_code == 409
    app = await asyncpg.connect(db.with_user(fresh_db, db.APP_ROLE))
    owner = await asyncpg.connect(fresh_db)
    try:
        for conn in (app, owner):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="frozen"):
                await conn.execute("update appraisal set title = 'changed' where id = $1", a["id"])
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="frozen"):
                await conn.execute("update appraisal set decided_at = null, decision = null where id = $1", a["id"])
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="frozen"):
                await conn.execute("delete from appraisal where id = $1", a["id"])
    finally:
        await app.close()
        await owner.close()
    assert (await client.get(url, headers=staff)).json() == before
    owner = await asyncpg.connect(fresh_db)
    try:
        detail = f"decided appraisal {a['id']}: vcse (frozen)"
        assert await owner.fetchval("select count(*) from audit_log where detail = $1", detail) == 1
    finally:
        await owner.close()


async def test_the_seeded_sample_is_shaped_like_the_youth_justice_decision(read_client, read_keys):
    staff = await read_keys.headers("commissioner")
    listed = (await read_client.get("/exercises/1/appraisals", headers=staff)).json()
    assert len(listed) == 1 and listed[0]["is_sample"] and listed[0]["chosen_option"] == "hosted_la"
    a = (await read_client.get(f"/appraisals/{listed[0]['id']}", headers=staff)).json()
    assert [o["model"] for o in a["options"]] == ["single_prime", "latc", "hosted", "hosted"]
    assert [c["key"] for c in a["criteria"]] == FOUR
    assert len({s["assessor"] for s in a["scores"]}) == 2 and a["moderation"]
    assert {c["year"] for c in a["costs"]} == {1, 2, 3}
    assert "fictional" in a["title"].lower()
    res = a["results"]
    assert res["top"] == "outsource_vcse" and a["decision"]["reasons"]
    assert {o["option"]: o["affordable"] for o in res["options"]}["hosted_pcc"] is False
    html = await read_client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Fictional figures" in html.text and "<svg" in html.text and "<script" not in html.text


async def test_market_evidence_is_drawn_in_flagged_and_cited_by_the_decision(client, keys):
    staff = await keys.headers("commissioner")
    r = await client.post("/exercises/1/match", headers=staff)
    assert r.status_code in (200, 201), r.text
    a, tag = await make(client, staff, exercise_id=1, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
    report = (await client.get(f"/appraisals/{a['id']}/report?format=json", headers=staff)).json()
    market = report["market"]
    assert market["exercise_id"] == 1 and len(market["needs"]) == 6 and market["match_run_ids"]
    by = {m["option"]: m for m in market["options"]}
    assert by["vcse"]["goes_to_market"] and not by["la"]["goes_to_market"]
    no_market = [n["need_id"] for n in market["needs"] if n["verdict"] == "no_market"]
    assert by["vcse"]["no_market_need_ids"] == no_market and by["la"]["no_market_need_ids"] == []
    # the seeded exercise was published for market engagement: what providers answered is drawn in, per need
    answered = (await client.get("/exercises/1/report?format=json", headers=staff)).json()["market_response"]["needs"]
    expected = {n["need_id"]: (n["responses"], n["costs"]["minimum"], n["costs"]["maximum"]) for n in answered}
    got = {n["need_id"]: (n["responses"], n["indicative_cost_low"], n["indicative_cost_high"]) for n in market["needs"]}
    assert market["engagement"] == "attached" and got == {k: expected[k] for k in got}
    assert any(n["responses"] for n in market["needs"]) and all(n["consortia"] is not None for n in market["needs"])
    csv = await client.get(f"/appraisals/{a['id']}/report?format=csv", headers=staff)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("row_type,option")
    # the seeded exercise takes responses until 29 January 2027: before then a decision says why it cannot wait
    d = (await decide(client, staff, a, tag, reasons=WHY_NOW)).json()["decision"]
    assert d["market_report_id"] is not None and d["match_run_ids"] == market["match_run_ids"]
    frozen = await client.get(f"/reports/{d['market_report_id']}", headers=staff)
    assert frozen.status_code == 200 and frozen.json()["method"]["match_run_ids"] == d["match_run_ids"]
    # the summaries say which frozen report a decision cites, and the exercise's console page says it of the report
    listed = (await client.get("/appraisals", headers=staff)).json()["items"]
    assert next(x for x in listed if x["id"] == a["id"])["market_report_id"] == d["market_report_id"]
    from test_console import signed_in

    await signed_in(client, keys, "commissioner")
    page = (await client.get("/console/exercises/1")).text
    assert (
        f"<li>Report {d['market_report_id']}, frozen " in page
        and f'with the decision of <a href="/console/appraisals/{a["id"]}">' in page
    )


async def test_a_refused_decision_freezes_no_report_and_records_nothing(client, keys, fresh_db):
    """Two decisions made at once with the current ETag: one is made, citing the report it froze; the other is
    refused (409) and leaves no frozen report and no audit row saying it froze one (each froze a report before the
    lock that refused it: reports no decision cites, audited as 201)."""
    staff = await keys.headers("commissioner")
    assert (await client.post("/exercises/1/match", headers=staff)).status_code in (200, 201)
    a, tag = await make(client, staff, exercise_id=1, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
    count_frozen = "select count(*) from frozen_report"
    count_audited = "select count(*) from audit_log where detail like 'froze report %'"
    frozen, audited = await fetchval(fresh_db, count_frozen), await fetchval(fresh_db, count_audited)
    # the use case itself, twice at once (the test client runs one request at a time): both read the appraisal
    # undecided before either decides
    from marketplace.appraisals import service
    from marketplace.appraisals.models import DecisionIn
    from marketplace.types import Actor

    settings = app_settings(fresh_db)
    pool = await db.create_pool(db.database_url(settings), settings)  # on this test's loop (the app runs on another)
    try:
        both = await asyncio.gather(
            *(
                service.decide(
                    client.app.state.ctx,
                    pool,
                    Actor.seed("test"),
                    a["id"],
                    tag,
                    DecisionIn(option="vcse", decided_by=f"B{k}", reasons=WHY_NOW),
                )
                for k in range(2)
            ),
            return_exceptions=True,
        )
    finally:
        await pool.close()
    refused = [r for r in both if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), both
    made = next(r for r in both if not isinstance(r, Exception)).decision
    assert made is not None
    assert await fetchval(fresh_db, count_frozen) == frozen + 1
    assert await fetchval(fresh_db, count_audited) == audited + 1
    assert made.market_report_id == await fetchval(fresh_db, "select max(id) from frozen_report")


async def test_the_report_in_each_format_and_for_an_appraisal_with_nothing_scored(client, keys):
    staff = await keys.headers("commissioner")
    empty, _ = await make(client, staff)  # standing alone, no options
    partial, _ = await make(client, staff, options=OPTIONS, scores=scores([1, 2, 3, 4], [1, 1, 1, 1])[:3])
    for a in (empty, partial, {"id": 1}):
        for fmt, media in (("json", "application/json"), ("csv", "text/csv"), ("html", "text/html")):
            r = await client.get(f"/appraisals/{a['id']}/report?format={fmt}", headers=staff)
            assert r.status_code == 200, (a["id"], fmt, r.text)
            assert r.headers["content-type"].startswith(media)
    r = await client.get(f"/appraisals/{partial['id']}/report", headers={**staff, "Accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv")
    r = await client.get(f"/appraisals/{partial['id']}/report", headers={**staff, "Accept": "image/png"})
    assert r.status_code == 406
    # quality values count, as for the market report (one reading: http.negotiate_report); the first range named
    # is not the one chosen
    for accept, media in (
        ("text/csv;q=0.1, application/json", "application/json"),
        ("text/csv;q=0.5, text/html;q=0.9", "text/html"),
        ("application/json;q=0, */*", "text/html"),
    ):
        r = await client.get(f"/appraisals/{partial['id']}/report", headers={**staff, "Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), (accept, r.headers)
    r = await client.get(f"/appraisals/{partial['id']}/report", headers={**staff, "Accept": "text/*;q=0, */*;q=0"})
    assert r.status_code == 406
    [problem] = r.json()["errors"]
    assert problem["field"] == "Accept" and "text/csv" in problem["allowed"] and "format=" in problem["problem"]
    html = (await client.get(f"/appraisals/{partial['id']}/report?format=html", headers=staff)).text
    assert "No option has a score on every weighted criterion yet" in html
    assert "stands alone" in (await client.get(f"/appraisals/{empty['id']}/report?format=html", headers=staff)).text
    r = await client.get("/appraisals/999999/report", headers=staff)
    assert r.status_code == 404


async def test_the_seeded_report_page_is_self_contained_with_its_charts(read_client, read_keys):
    staff = await read_keys.headers("admin")
    html = (await read_client.get("/appraisals/1/report?format=html", headers=staff)).text
    assert html.count("<svg") == 2  # weighted scores, sensitivity tornado
    assert "Sensitivity tornado" in html and "Switching points" in html
    # a row label cut to fit the chart keeps the whole label as its tooltip
    cut = re.findall(r'class="rl">([^<]*…)<title>([^<]*)</title>', html)
    assert ("1. Outsource to a third-sector or…", "1. Outsource to a third-sector organisation") in cut
    for external in ("<script", "http://", "https://", "<link", "@import"):
        assert external not in html
    csv = (await read_client.get("/appraisals/1/report?format=csv", headers=staff)).text
    kinds = {line.split(",")[0] for line in csv.lstrip("\ufeff").splitlines()[1:]}
    assert {"option", "score", "sensitivity", "cost"} <= kinds


async def test_the_appraisal_report_as_a_workbook_holds_the_csvs_rows_and_the_appraisal(read_client, read_keys):
    """As the market report is: the CSV's rows a sheet per row type, numbers as numbers, then the appraisal itself
    (by format=xlsx or by the Accept header)."""
    import io

    from openpyxl import load_workbook

    from marketplace.sheets import read_csv

    staff = await read_keys.headers("admin")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = await read_client.get("/appraisals/1/report", headers={**staff, "Accept": xlsx})
    assert r.status_code == 200 and r.headers["content-type"].startswith(xlsx), r.text[:200]
    assert r.headers["content-disposition"] == 'attachment; filename="appraisal-1.xlsx"'
    book = load_workbook(io.BytesIO((await read_client.get("/appraisals/1/report?format=xlsx", headers=staff)).content))
    rows = read_csv((await read_client.get("/appraisals/1/report?format=csv", headers=staff)).content)
    header, body = rows[0], rows[1:]
    sheet = book["options"]
    assert [c.value for c in sheet[1]] == header
    options = [row for row in body if row[0] == "option"]
    got = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(got) == len(options) > 0
    score = header.index("weighted_score")
    assert [g[score] for g in got] == [float(o[score]) for o in options]  # numbers as numbers
    assert {"options", "scores", "sensitivities", "cost_switches", "costs", "appraisal"} <= set(book.sheetnames)
    title = {row[0].value: row[1].value for row in book["appraisal"].iter_rows(min_row=2)}["title"]
    assert title == (await read_client.get("/appraisals/1", headers=staff)).json()["title"]


async def test_text_a_spreadsheet_would_run_is_defused_in_the_csv(client, keys):
    staff = await keys.headers("commissioner")
    evil = [{"key": "vcse", "model": "custom", "label": "=HYPERLINK(1)"}]
    a, _ = await make(client, staff, options=evil)
    csv = (await client.get(f"/appraisals/{a['id']}/report?format=csv", headers=staff)).text
    assert ",'=HYPERLINK(1)," in csv or "'=HYPERLINK(1)" in csv
    assert ",=HYPERLINK" not in csv


def test_the_command_line_writes_the_report(read_db, tmp_path):
    from conftest import run_cli

    out = tmp_path / "appraisal.html"
    done = run_cli("appraisal-report", "1", "--format", "html", "--out", str(out), dsn=read_db)
    assert done.returncode == 0, done.stderr
    assert "Fictional figures" in out.read_text() and "wrote html report of appraisal 1" in done.stderr
    book = tmp_path / "appraisal.xlsx"
    done = run_cli("appraisal-report", "1", "--format", "xlsx", "--out", str(book), dsn=read_db)
    assert done.returncode == 0, done.stderr
    assert book.read_bytes()[:2] == b"PK" and "wrote xlsx report of appraisal 1" in done.stderr
    missing = run_cli("appraisal-report", "999999", dsn=read_db)
    assert missing.returncode == 2 and "appraisal 999999 not found" in missing.stderr


async def test_a_need_an_appraisal_option_names_is_not_deleted(client, keys):
    """Deleting a need one of an appraisal's options names (`need_ids`) is refused (409 naming the appraisal): it
    used to succeed, leaving an appraisal that every later change refused and a decision citing a need gone."""
    staff = await keys.headers("commissioner")
    x = await client.post(
        "/exercises", json={"title": "Need deletion", "commissioning_body": "A council"}, headers=staff
    )
    assert x.status_code == 201, x.text
    xid = x.json()["id"]
    needs = []
    for area in ("E06000020", "E06000019"):
        r = await client.post(f"/exercises/{xid}/needs", json={**TELFORD_NEED, "areas": [area]}, headers=staff)
        assert r.status_code == 201, r.text
        needs.append(r.json()["id"])
    named, free = needs
    options = [{**OPTIONS[0], "need_ids": [named]}, OPTIONS[1]]
    appraisal, _ = await make(client, staff, exercise_id=xid, options=options)

    async def delete(need_id: int) -> int:
        etag = (await client.get(f"/needs/{need_id}", headers=staff)).headers["etag"]
        r = await client.delete(f"/needs/{need_id}", headers={**staff, "If-Match": etag})
        if r.status_code == 409:
            assert f"appraisal {appraisal['id']}" in r.json()["message"], r.text
        return r.status_code

    assert await delete(named) == 409
    assert (await client.get(f"/needs/{named}", headers=staff)).status_code == 200
    assert await delete(free) == 204  # a need no option names goes as before


async def test_a_change_that_changes_nothing_keeps_the_version_and_records_nothing(client, keys, fresh_db):
    """The same settings or the same part again (as after a form saved unchanged): 200 with the appraisal as it is,
    its version and ETag unmoved, no audit row; If-Match is still checked, and a real change still moves it on."""
    staff = await keys.headers("commissioner")
    a, tag = await make(
        client, staff, options=OPTIONS, annual_budget=100_000, scores=scores([4, 2, 3, 1], [3, 5, 5, 2])
    )
    url = f"/appraisals/{a['id']}"
    same = {**staff, "If-Match": tag}
    for method, path, payload in [
        ("PATCH", url, {"title": a["title"], "discount_rate": a["discount_rate"], "annual_budget": 100_000}),
        ("PATCH", url, {}),
        ("PUT", f"{url}/options", {"options": OPTIONS}),
        ("PUT", f"{url}/scores", {"scores": scores([4, 2, 3, 1], [3, 5, 5, 2])}),
        ("PUT", f"{url}/costs", {"costs": []}),
    ]:
        r = await client.request(method, path, json=payload, headers=same)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["etag"] == tag == '"v1"', path
        assert (r.json()["version"], r.json()["updated_at"]) == (1, a["updated_at"]), path
        assert r.json()["results"] == a["results"]
    conn = await db.connect(fresh_db)
    try:
        changes = "select count(*) from audit_log where detail like $1"
        assert await conn.fetchval(changes, f"updated appraisal {a['id']}:%") == 0
        r = await client.patch(url, json={"title": a["title"]}, headers={**staff, "If-Match": '"v9"'})
        assert r.status_code == 412
        r = await client.patch(url, json={"title": "Delivery model, again"}, headers=same)
        assert r.status_code == 200 and r.headers["etag"] == '"v2"'
        assert await conn.fetchval(changes, f"updated appraisal {a['id']}:%") == 1
    finally:
        await conn.close()


async def test_a_negative_zero_discount_rate_is_zero(client, keys, fresh_db):
    """-0.0 is within 0 to 0.2 but is stored, shown and reported as 0 (it read "-0.0 %" in the report)."""
    staff = await keys.headers("commissioner")
    a, tag = await make(client, staff, discount_rate=-0.0)
    assert math.copysign(1, a["discount_rate"]) == 1
    r = await client.patch(f"/appraisals/{a['id']}", json={"discount_rate": 0.035}, headers={**staff, "If-Match": tag})
    assert r.status_code == 200
    r = await client.patch(
        f"/appraisals/{a['id']}", json={"discount_rate": -0.0}, headers={**staff, "If-Match": '"v2"'}
    )
    assert r.status_code == 200 and math.copysign(1, r.json()["discount_rate"]) == 1
    stored = await fetchval(fresh_db, "select discount_rate::text from appraisal where id = $1", a["id"])
    assert stored == "0"
    html = (await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text
    assert "discount rate 0.0 % a year" in html and "-0.0 %" not in html


async def test_an_appraisals_times_are_the_apps_clocks(fresh_db, keys):
    """Made, changed and decided at the app's clock's time (its updated_at was the database's now(), beside a
    decided_at from the app's clock)."""
    clock = FixedClock(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC))
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        staff = await keys.headers("commissioner")
        a, tag = await make(client, staff, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
        assert a["created_at"] == a["updated_at"] == "2027-03-01T09:00:00Z"
        clock.at = dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC)
        r = await client.patch(f"/appraisals/{a['id']}", json={"title": "Renamed"}, headers={**staff, "If-Match": tag})
        assert r.status_code == 200 and r.json()["updated_at"] == "2027-03-02T09:00:00Z"
        clock.at = dt.datetime(2027, 3, 3, 9, 0, tzinfo=dt.UTC)
        r = await decide(client, staff, a, r.headers["etag"])
        assert r.json()["decided_at"] == r.json()["updated_at"] == "2027-03-03T09:00:00Z"


async def test_a_scale_sent_as_ten_point_nought_is_the_scale_ten(client, keys):
    """JSON Schema calls 10.0 the integer 10: a criterion's scale (5 or 10) sent so was refused as "not a whole
    number", the body read strictly as whole, then leniently as sent."""
    staff = await keys.headers("commissioner")
    criteria = [{"key": "quality", "name": "Quality", "weight": 1.0, "scale": 10.0}]
    a, _ = await make(client, staff, criteria=criteria)
    assert [(c["key"], c["scale"], c["weight"]) for c in a["criteria"]] == [("quality", 10, 1)]


async def test_one_assessor_written_two_ways_cannot_score_an_option_twice(client, keys):
    """ "Ann", "ann" and "Ann " scoring one option on one criterion were three assessors, moving the mean and the
    spread; they are one, and the second score is refused (422) as exactly "Ann" twice is."""
    staff = await keys.headers("commissioner")
    a, tag = await make(client, staff, options=OPTIONS)
    given = [
        {"option": "vcse", "criterion": FOUR[0], "assessor": name, "score": score}
        for name, score in (("Ann", 5), ("ann", 1), ("Ann ", 1))
    ]
    r = await client.put(f"/appraisals/{a['id']}/scores", json={"scores": given}, headers={**staff, "If-Match": tag})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["scores[1]", "scores[2]"]
    assert r.json()["errors"][0]["problem"] == (
        f"ann has already scored vcse on {FOUR[0]} in scores[0], written 'Ann' there (an assessor's name is compared "
        "ignoring case and spaces)"
    )
    assert (await client.get(f"/appraisals/{a['id']}", headers=staff)).json()["scores"] == []


async def test_a_repeated_key_or_score_names_the_item_repeated_in_a_sentence(client, keys):
    """A duplicate named only its list ("criteria", "scores") and said "a scores aa on qq twice" (the assessor's name
    lower-cased): the error names the repeat's index, as the README promises, and keeps the name as given."""
    staff = await keys.headers("commissioner")
    criteria = [{"key": "qq", "name": "Quality", "weight": 1}, {"key": "qq", "name": "Quality again", "weight": 1}]
    given = [
        {"option": "la", "criterion": "qq", "assessor": "A", "score": 1},
        {"option": "vcse", "criterion": "qq", "assessor": "A", "score": 1},
        {"option": "la", "criterion": "qq", "assessor": "B", "score": 1},
        {"option": "la", "criterion": "qq", "assessor": "A", "score": 2},
    ]
    moderation = [{"option": "la", "criterion": "qq", "score": s, "note": "agreed"} for s in (1, 2)]
    r = await client.post(
        "/appraisals", json=body(options=OPTIONS, criteria=criteria, scores=given, moderation=moderation), headers=staff
    )
    assert r.status_code == 422, r.text
    said = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert said == {
        "criteria[1].key": "the key 'qq' is already used by criteria[0]",
        "scores[3]": "A has already scored la on qq in scores[0] (an assessor's name is compared ignoring case and "
        "spaces)",
        "moderation[1]": "la on qq already has a moderated score in moderation[0]",
    }


async def test_a_cost_beyond_a_one_year_appraisal_says_one_contract_year(client, keys):
    staff = await keys.headers("commissioner")
    costs = [{"option": "la", "year": 2, "category": "staff", "amount": 1}]
    a, tag = await make(client, staff, options=OPTIONS, costs=costs)
    r = await client.patch(f"/appraisals/{a['id']}", json={"years": 1}, headers={**staff, "If-Match": tag})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "costs[0].year", "problem": "the appraisal runs for 1 contract year"}]
    r = await client.put(
        f"/appraisals/{a['id']}/costs", json={"costs": [{**costs[0], "year": 1}]}, headers={**staff, "If-Match": tag}
    )
    tag = r.headers["etag"]
    r = await client.patch(
        f"/appraisals/{a['id']}", json={"years": 1, "annual_budget": 10}, headers={**staff, "If-Match": tag}
    )
    assert r.status_code == 200, r.text
    html = page_text((await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text)
    assert "Budget £10 a year; present value £10 over 1 year " in html


async def test_a_label_that_looks_like_a_number_keeps_its_characters_in_the_workbook(client, keys):
    """An option labelled "1.10" became the number 1.1 in the report's workbook; a label keeps what was typed,
    while the report's own numbers stay numbers."""
    import io

    from openpyxl import load_workbook

    staff = await keys.headers("commissioner")
    options = [{"key": "vcse", "model": "custom", "label": "1.10"}, {"key": "la", "model": "custom", "label": "007"}]
    a, _ = await make(client, staff, options=options, scores=scores([5, 4, 3, 2], [1, 2, 3, 4]))
    book = load_workbook(
        io.BytesIO((await client.get(f"/appraisals/{a['id']}/report?format=xlsx", headers=staff)).content)
    )
    sheet = book["options"]
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    labels = {r[header.index("option")]: r[header.index("option_label")] for r in rows}
    assert labels == {"vcse": "1.10", "la": "007"}
    assert all(isinstance(r[header.index("weighted_score")], float) for r in rows)


REPORT_FORMATS = ("json", "html", "csv", "xlsx")


async def test_a_decided_appraisals_report_is_the_evidence_frozen_with_the_decision_for_good(fresh_db):
    """Once decided, every format of the report reads the market report frozen with the decision, says so, and is the
    same byte for byte after another provider responds, the need is matched again and a day passes (it said its
    evidence was "drawn from its stored match runs now" and showed responses and runs made after the decision).
    Before the decision the report reads the runs now, and says that."""
    import io
    import json

    from openpyxl import load_workbook
    from test_engagement import DURING, QUESTIONS, make_exercise, providers_with, response, world_on

    async with world_on(fresh_db) as w:
        c, h = w.client, w.commissioner
        (p1, s1), (p2, s2) = await providers_with(w.dsn, "ACCOM", "E06000020")
        exercise_id, need_id = await make_exercise(w, questions=QUESTIONS)
        w.clock.at = DURING  # 10 December 2026, 12:00 GMT
        qs = (await c.get(f"/exercises/{exercise_id}/questions")).json()
        first = await c.post(
            f"/exercises/{exercise_id}/responses",
            headers=await w.keys.headers("provider", p1),
            json=response(need_id, s1, qs),
        )
        assert first.status_code == 201, first.text
        assert (await c.post(f"/exercises/{exercise_id}/match", headers=h)).status_code == 201
        a, tag = await make(c, h, exercise_id=exercise_id, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
        url = f"/appraisals/{a['id']}/report"
        open_report = (await c.get(f"{url}?format=json", headers=h)).json()
        assert (open_report["market_source"], open_report["market_as_decided"]) == ("live", False)
        assert "drawn from the exercise's stored match runs now" in open_report["market_note"]

        decision = (await decide(c, h, a, tag, reasons=WHY_NOW)).json()["decision"]
        assert decision["market_report_id"] is not None

        async def every_format() -> dict[str, bytes]:
            return {fmt: (await c.get(f"{url}?format={fmt}", headers=h)).content for fmt in REPORT_FORMATS}

        before = await every_format()

        # after the decision: another provider responds (with the first as its partner), the need is matched again,
        # a day passes. A report that reads the runs now sees all of it.
        w.clock.at = DURING + dt.timedelta(days=1)
        second = await c.post(
            f"/exercises/{exercise_id}/responses",
            headers=await w.keys.headers("provider", p2),
            json=response(need_id, s2, qs, intent="partner", unit_cost=2100, partners=[{"provider_id": p1}]),
        )
        assert second.status_code == 201, second.text
        assert (await c.post(f"/exercises/{exercise_id}/match", headers=h)).status_code == 201
        live, _ = await make(c, h, exercise_id=exercise_id, options=OPTIONS)
        now = (await c.get(f"/appraisals/{live['id']}/report?format=json", headers=h)).json()
        assert now["market_source"] == "live"
        assert [n["responses"] for n in now["market"]["needs"]] == [2]
        assert now["market"]["match_run_ids"] != decision["match_run_ids"]

        after = await every_format()
        for fmt in REPORT_FORMATS:
            assert after[fmt] == before[fmt], fmt

    said = "as frozen with the decision on 10 December 2026, 12:00 UK time"
    got = json.loads(before["json"])
    assert (got["market_source"], got["market_as_decided"]) == ("frozen_report", True)
    assert said in got["market_note"] and f"frozen market report {decision['market_report_id']}" in got["market_note"]
    assert "Decided while the market engagement was still open" in got["market_note"]  # until 31 December 2026
    assert got["generated_at"] == got["appraisal"]["decided_at"] == "2026-12-10T12:00:00Z"
    market = got["market"]
    assert market["market_report_id"] == decision["market_report_id"]
    assert market["match_run_ids"] == decision["match_run_ids"]
    assert [n["responses"] for n in market["needs"]] == [1]
    html = before["html"].decode()
    assert said in html and "drawn from" not in html and "stored match runs now" not in html
    csv_text = before["csv"].decode("utf-8-sig")
    evidence = next(row for row in csv_text.splitlines() if row.startswith("evidence,"))
    assert said in evidence and "frozen_report" in evidence
    book = load_workbook(io.BytesIO(before["xlsx"]))
    sheet = book["evidence"]
    header = [cell.value for cell in sheet[1]]
    (row,) = [[cell.value for cell in r] for r in sheet.iter_rows(min_row=2)]
    assert said in row[header.index("market_note")]
    assert row[header.index("market_report_id")] == decision["market_report_id"]


async def test_the_seeded_samples_report_shows_no_evidence_drawn_after_its_decision(client, keys):
    """The sample was decided before anything was matched, so nothing was frozen with its decision: its report shows
    no market evidence, rather than the runs made since (it said "drawn from its stored match runs now")."""
    staff = await keys.headers("commissioner")
    assert (await client.post("/exercises/1/match", headers=staff)).status_code in (200, 201)
    report = (await client.get("/appraisals/1/report?format=json", headers=staff)).json()
    assert report["appraisal"]["decision"] is not None
    assert (report["market"], report["market_source"], report["market_as_decided"]) == (None, "none", True)
    assert report["market_note"].startswith("No market evidence was frozen with the decision on ")
    assert report["generated_at"] == report["appraisal"]["decided_at"]
    html = (await client.get("/appraisals/1/report?format=html", headers=staff)).text
    assert "No market evidence was frozen with the decision" in html and "stored match runs now" not in html


async def test_every_format_of_the_report_carries_the_decision_and_the_switching_weights(client, keys):
    """The board's decision (chosen option, who decided, reasons, when) and the raw weights at which the preferred
    option switches are in the JSON, the HTML, the CSV and the workbook (the CSV left out both)."""
    import csv
    import io
    import json

    from openpyxl import load_workbook

    key_id, key = await keys.make("commissioner", name="Jo Patel, YOS commissioning")
    staff = {"Authorization": f"Bearer {key}"}
    a, tag = await make(client, staff, options=OPTIONS, scores=scores([5, 2, 5, 3], [3, 4, 3, 4]))
    reasons = 'Keeps "statutory" accountability, and the lowest transition risk'
    await decide(client, staff, a, tag, "la", "Management board", reasons=reasons)
    url = f"/appraisals/{a['id']}/report"
    got = {fmt: (await client.get(f"{url}?format={fmt}", headers=staff)).content for fmt in REPORT_FORMATS}

    report = json.loads(got["json"])
    decision = report["appraisal"]["decision"]
    assert (decision["option"], decision["decided_by"], decision["reasons"]) == ("la", "Management board", reasons)
    # who recorded it, beside who decided in the caller's words (it was only in the change history)
    assert (decision["recorded_by_key"], decision["recorded_by_name"]) == (key_id, "Jo Patel, YOS commissioning")
    decided_at = decision["decided_at"]
    sensitivity = {w["criterion"]: w for w in report["appraisal"]["results"]["sensitivity"]}
    switching = {(k, end): w[f"{end}_weight"] for k, w in sensitivity.items() for end in ("low", "high")}
    assert any(v is not None for v in switching.values())  # the preferred option does switch somewhere

    html = got["html"].decode()
    assert "Hosted by A county council" in html and "Management board" in html
    # the tornado names, at each end of a bar, the option preferred past that share of the weight
    label = {o["option"]: o["label"] for o in report["appraisal"]["results"]["options"]}
    ends = [("below", w["low"], w["low_switches_to"]) for w in sensitivity.values() if w["low_switches_to"]]
    ends += [("above", w["high"], w["high_switches_to"]) for w in sensitivity.values() if w["high_switches_to"]]
    assert ends
    for side, share, to in ends:
        assert f"{side} {percent(share)}: {html_escape(shorten(label[to], 40))}</text>" in html, (side, share, to)
    assert "Keeps &#34;statutory&#34; accountability, and the lowest transition risk" in html
    assert f"recorded with API key {key_id} (Jo Patel, YOS commissioning)" in html

    rows = list(csv.DictReader(io.StringIO(got["csv"].decode("utf-8-sig"))))
    (row,) = [x for x in rows if x["row_type"] == "decision"]
    assert (row["option"], row["option_label"], row["decided_by"], row["reasons"], row["decided_at"]) == (
        "la",
        "Hosted by A county council",
        "Management board",
        reasons,
        decided_at,
    )
    assert row["recorded_by_key"] == str(key_id)
    in_csv = {
        (x["criterion"], end): float(x[f"{end}_weight"]) if x[f"{end}_weight"] else None
        for x in rows
        if x["row_type"] == "sensitivity"
        for end in ("low", "high")
    }
    assert in_csv == switching
    # the cost switch the page states is in the CSV too (it was left out)
    cost_switch = report["appraisal"]["results"]["cost_switch"]
    (row,) = [x for x in rows if x["row_type"] == "cost_switch"]
    assert (
        row["option"] == report["appraisal"]["results"]["preferred"] and row["cost_switch_note"] == cost_switch["note"]
    )
    for column, key in (("cost_increase_gbp", "increase"), ("cost_decrease_gbp", "decrease")):
        assert (float(row[column]) if row[column] else None) == cost_switch[key], (column, row)
    assert (row["increase_switches_to"] or None, row["decrease_option"] or None) == (
        cost_switch["increase_switches_to"],
        cost_switch["decrease_option"],
    )

    book = load_workbook(io.BytesIO(got["xlsx"]))
    sheet = book["decisions"]
    header = [c.value for c in sheet[1]]
    (cells,) = [[c.value for c in x] for x in sheet.iter_rows(min_row=2)]
    by = dict(zip(header, cells, strict=True))
    assert (by["option"], by["decided_by"], by["reasons"], by["decided_at"]) == (
        "la",
        "Management board",
        reasons,
        decided_at,
    )
    sheet = book["sensitivities"]
    header = [c.value for c in sheet[1]]
    in_book = {
        (x[header.index("criterion")].value, end): x[header.index(f"{end}_weight")].value
        for x in sheet.iter_rows(min_row=2)
        for end in ("low", "high")
    }
    assert in_book == switching


def page_text(html: str) -> str:
    """What a reader of a page reads: its text without the markup, styles or charts."""
    import html as markup
    import re

    html = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(markup.unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_the_reports_name_providers_pathways_and_cohorts_without_their_ids_and_codes(fresh_db, keys):
    """A reader is shown names: a consortium's directory partner by its name (not "Amberley Women's Centre (provider
    9)"), a need's pathway by its name (not "(YOUTH_DIVERSION)"), whom it is for by the cohorts' names (not "CYP"); an
    id stays where an auditor traces a record, labelled ("provider id 9"), and the JSON keeps the partner's id."""
    import re

    from conftest import fetchval

    clock = FixedClock(dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC))  # the seeded exercise takes responses
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as c:
        staff = await keys.headers("commissioner")
        assert (await c.post("/exercises/1/match", headers=staff)).status_code in (200, 201)
        # a provider that responded names a directory provider as its partner
        responder = await fetchval(fresh_db, "select min(provider_id) from engagement_response where exercise_id = 1")
        partner = await fetchval(
            fresh_db, "select min(id) from provider where status = 'published' and id <> $1", responder
        )
        partner_name = (await c.get(f"/providers/{partner}")).json()["name"]
        mine = await keys.headers("provider", responder)
        got = await c.get(f"/exercises/1/responses/{responder}", headers=mine)
        fields = ("need_id", "intent", "service_ids", "capacity", "unit_cost", "partners", "barriers", "barriers_text")
        needs = [{k: v for k, v in n.items() if k in fields} for n in got.json()["needs"]]
        needs[0]["partners"] = [{"provider_id": partner}]
        answers = [{"question_id": a["question_id"], "value": a["value"]} for a in got.json()["answers"]]
        r = await c.put(
            f"/exercises/1/responses/{responder}",
            json={"needs": needs, "answers": answers},
            headers={**mine, "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        a, _ = await make(c, staff, exercise_id=1, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
        market = await c.get("/exercises/1/report?format=html", headers=staff)
        appraisal = await c.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)
        report = (await c.get("/exercises/1/report?format=json", headers=staff)).json()
        pathways = {n["pathway"] for n in report["needs"]}

    members = [m for n in report["market_response"]["needs"] for x in n["consortia"] for m in x["members"]]
    assert {"name": partner_name, "provider_id": partner} in members  # the data keeps the id
    need = next(n for n in report["needs"] if n["cohorts"] == ["CYP"])
    for page in (page_text(market.text), page_text(appraisal.text)):
        assert partner_name in page
        assert not re.search(r"\(provider \d", page), re.search(r".{60}\(provider \d.{20}", page)
        assert not [code for code in pathways if f"({code})" in page]
        assert not re.search(r"\bCYP\b", page)
    assert f"for children and young people (aged {need['eligibility']['min_age']} to" in page_text(market.text)


async def test_a_decision_made_before_every_need_was_matched_keeps_the_evidence_it_stored(client, keys):
    """No market report can be frozen while a need has no match run: the report reads the evidence the decision
    stored, says why no report was frozen, and does not take in the run made for that need afterwards."""
    staff = await keys.headers("commissioner")
    x = await client.post("/exercises", json={"title": "Two needs", "commissioning_body": "Trust"}, headers=staff)
    xid = x.json()["id"]
    first, second = [
        (await client.post(f"/exercises/{xid}/needs", json=TELFORD_NEED, headers=staff)).json()["id"] for _ in range(2)
    ]
    assert (await client.post(f"/needs/{first}/match-runs", headers=staff)).status_code == 201
    a, tag = await make(client, staff, exercise_id=xid, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
    live = page_text((await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text)
    assert f"Not matched yet (no stored match run to read the market from): need {second}." in live
    assert f"POST /exercises/{xid}/match ; on the command line, marketplace match-exercise {xid} ) matches them" in live
    assert (await decide(client, staff, a, tag)).json()["decision"]["market_report_id"] is None
    decided = page_text((await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text)
    said = f"Not matched when the decision was made (no stored match run to read the market from): need {second}. "
    assert said + "The evidence stays as it was decided on." in decided
    assert "matches them" not in decided and "Not matched yet" not in decided
    url = f"/appraisals/{a['id']}/report?format=json"
    before = (await client.get(url, headers=staff)).content
    assert (await client.post(f"/needs/{second}/match-runs", headers=staff)).status_code == 201
    assert (await client.get(url, headers=staff)).content == before
    report = (await client.get(url, headers=staff)).json()
    assert report["market_source"] == "decision" and report["market"]["not_matched_need_ids"] == [second]
    assert "as frozen with the decision on" in report["market_note"]
    assert f"no market report could be frozen: need {second} had no stored match run" in report["market_note"]


BUDGETED = [
    {"key": "lots_area", "model": "lots", "lots_by": "area", "label": "Lots by area"},
    {"key": "prime", "model": "single_prime", "label": "One prime"},
    {"key": "in_house", "model": "in_house"},
]


async def budgeted(client, staff):
    """£500,000 a year over 3 years at 5 %: the budget's present value £1,429,705. `lots_area` scores highest but
    costs £1,572,676 (over budget); `prime` is the preferred option; `in_house` is affordable and scores lowest."""
    given = [
        {"option": o, "criterion": c, "assessor": "Ann Lee", "score": s}
        for o, s in (("lots_area", 5), ("prime", 4), ("in_house", 2))
        for c in FOUR
    ]
    costs = [
        {"option": o, "year": y, "category": "staff", "amount": amount}
        for o, amount in (("lots_area", 550_000), ("prime", 450_000), ("in_house", 400_000))
        for y in (1, 2, 3)
    ]
    a, tag = await make(
        client, staff, annual_budget=500_000, discount_rate=0.05, options=BUDGETED, scores=given, costs=costs
    )
    res = a["results"]
    assert (res["top"], res["preferred"], res["budget_present_value"]) == ("lots_area", "prime", 1429705.22)
    return a, tag


async def test_choosing_an_over_budget_option_needs_reasons_and_the_refusal_says_why(client, keys):
    """Reasons were required only when the option chosen was not the top weighted score: an over-budget top option
    was chosen with none. They are required whenever it is not the preferred option, and the 422 says why."""
    staff = await keys.headers("commissioner")
    a, tag = await budgeted(client, staff)
    assert await refused(client, staff, a, tag, "lots_area") == [
        {
            "field": "reasons",
            "problem": "required: the option chosen (Lots by area) is over budget by £142,971 (net present cost "
            "£1,572,676 against the budget's present value £1,429,705), and the preferred option is One prime; say "
            "why",
        }
    ]
    assert (await refused(client, staff, a, tag, "in_house"))[0]["problem"] == (
        "required: the option chosen (In-house) is not the preferred option: the preferred option is One prime (the "
        "top weighted score among the options known to be affordable); say why"
    )
    # the preferred option, though not the top weighted score, needs none
    d = (await decide(client, staff, a, tag, "prime")).json()["decision"]
    assert (d["option"], d["top"], d["preferred"], d["reasons"]) == ("prime", "lots_area", "prime", "")


async def test_the_report_says_plainly_when_the_option_chosen_is_over_budget(client, keys):
    import csv
    import io

    from openpyxl import load_workbook

    from marketplace.appraisals.models import AppraisalReport
    from marketplace.appraisals.render import to_html

    staff = await keys.headers("commissioner")
    a, tag = await budgeted(client, staff)
    await decide(client, staff, a, tag, "lots_area", reasons="Keeps every area's providers in play.")
    url = f"/appraisals/{a['id']}/report"
    against = (
        "the option chosen (lots_area) is over budget by £142,971 (net present cost £1,572,676 against the budget's "
        "present value £1,429,705), and the preferred option is prime"
    )
    html = page_text((await client.get(f"{url}?format=html", headers=staff)).text)
    assert "The board (Board) chose Lots by area , over budget and not the preferred option ." in html
    assert (
        "Against the appraisal The option chosen (Lots by area) is over budget by £142,971 (net present cost "
        "£1,572,676 against the budget's present value £1,429,705), and the preferred option is One prime." in html
    )
    rows = list(
        csv.DictReader(io.StringIO((await client.get(f"{url}?format=csv", headers=staff)).text.lstrip("\ufeff")))
    )
    (row,) = [x for x in rows if x["row_type"] == "decision"]
    assert (row["chosen_preferred"], row["chosen_affordable"], row["chosen_note"]) == ("no", "no", against)
    book = load_workbook(io.BytesIO((await client.get(f"{url}?format=xlsx", headers=staff)).content))
    header = [c.value for c in book["decisions"][1]]
    (cells,) = [[c.value for c in x] for x in book["decisions"].iter_rows(min_row=2)]
    assert dict(zip(header, cells, strict=True))["chosen_note"] == against
    # a decision made before reasons were required (none stored) is shown as having none, beside what it went against
    report = msgspec.json.decode((await client.get(f"{url}?format=json", headers=staff)).content, type=AppraisalReport)
    decision = report.appraisal.decision
    assert decision is not None
    unreasoned = msgspec.structs.replace(
        report,
        appraisal=msgspec.structs.replace(report.appraisal, decision=msgspec.structs.replace(decision, reasons="")),
    )
    text = page_text(to_html(unreasoned))
    assert "Reasons none given" in text and "(the top weighted score)" not in text


async def test_the_report_says_when_the_option_chosen_is_the_preferred_one(client, keys):
    staff = await keys.headers("commissioner")
    a, tag = await budgeted(client, staff)
    await decide(client, staff, a, tag, "prime")
    url = f"/appraisals/{a['id']}/report"
    html = page_text((await client.get(f"{url}?format=html", headers=staff)).text)
    assert "The board (Board) chose One prime , the preferred option." in html
    assert "Chosen option One prime (the preferred option)" in html
    assert "Reasons none needed: the preferred option" in html
    assert "Against the appraisal" not in html
    text = (await client.get(f"{url}?format=csv", headers=staff)).text.lstrip("\ufeff")
    import csv
    import io

    (row,) = [x for x in csv.DictReader(io.StringIO(text)) if x["row_type"] == "decision"]
    assert (row["chosen_preferred"], row["chosen_affordable"], row["chosen_note"]) == (
        "yes",
        "yes",
        "the preferred option",
    )


def market_cells(html: str) -> list[str]:
    """The Market column of the weighted-scores table, a cell a ranked option."""
    import re

    table = html[html.index('<table class="scores">') : html.index("</table>", html.index('<table class="scores">'))]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]
    return [page_text(re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[-1]) for row in rows]


async def test_the_market_column_says_why_there_is_no_evidence_rather_than_no_exercise(read_client, read_keys):
    """The seeded sample belongs to exercise 1, yet every option's Market cell read "no exercise": it has no market
    evidence because none was frozen with its decision, and says so."""
    staff = await read_keys.headers("commissioner")
    html = (await read_client.get("/appraisals/1/report?format=html", headers=staff)).text
    assert market_cells(html) == ["no market evidence frozen with the decision"] * 4


async def test_the_market_column_says_when_the_needs_an_option_buys_are_not_matched_yet(client, keys):
    """Before any match run an option going to the market read "a market for every need it buys" (it bought none of
    the needs the report had matched); it says the needs are not matched yet, and buys every need of the exercise."""
    from marketplace.appraisals.models import AppraisalReport
    from marketplace.appraisals.render import to_html

    staff = await keys.headers("commissioner")
    a, _ = await make(client, staff, exercise_id=1, options=OPTIONS, scores=scores([5, 5, 5, 5], [3, 3, 3, 3]))
    url = f"/appraisals/{a['id']}/report"
    assert market_cells((await client.get(f"{url}?format=html", headers=staff)).text) == [
        "no match runs yet for the needs it buys",
        "not bought from the market",
    ]
    report = (await client.get(f"{url}?format=json", headers=staff)).json()
    needs = sorted(n["id"] for n in (await client.get("/exercises/1", headers=staff)).json()["needs"])
    assert [m["need_ids"] for m in report["market"]["options"]] == [needs, needs]
    assert (await client.post("/exercises/1/match", headers=staff)).status_code in (200, 201)
    matched = msgspec.json.decode((await client.get(f"{url}?format=json", headers=staff)).content, type=AppraisalReport)
    assert matched.market is not None
    assert "not matched yet" not in " ".join(market_cells(to_html(matched)))
    # one need not matched (as if it had been added since): said beside what the others show
    last = matched.market.needs[-1].need_id
    market = msgspec.structs.replace(
        matched.market,
        needs=matched.market.needs[:-1],
        not_matched_need_ids=[last],
        options=[msgspec.structs.replace(m, no_market_need_ids=[]) for m in matched.market.options],
    )
    cells = market_cells(to_html(msgspec.structs.replace(matched, market=market)))
    assert cells[0].endswith(f"; need {last} not matched yet") and cells[1] == "not bought from the market"


async def test_a_decided_appraisal_refuses_any_change_as_frozen_whatever_is_sent(client, keys):
    """`PUT .../criteria {"criteria": []}` on a decided appraisal was a 400 ("must have at least one item") where
    every other change was a 409: frozen comes before the body's fields and the If-Match's version. A body that is not
    JSON at all is the 400 it is on every endpoint (tests/test_hardening.py), and a missing If-Match the 428."""
    staff = await keys.headers("commissioner")
    a, tag = await decided_appraisal(client, staff)
    url = f"/appraisals/{a['id']}"
    r = await client.put(f"{url}/criteria", json={"criteria": []}, headers={**staff, "If-Match": tag})
    assert r.status_code == 400  # not decided yet: the body's fault
    tag = (await decide(client, staff, a, tag)).headers["etag"]
    frozen = f"appraisal {a['id']} is decided and frozen: it can no longer change"
    for method, path, sent, headers in (
        ("PUT", "/criteria", {"json": {"criteria": []}}, {"If-Match": tag}),
        ("PUT", "/scores", {"json": {"scores": [{"option": 1}]}}, {"If-Match": tag}),
        ("PUT", "/options", {"json": {"options": OPTIONS}}, {"If-Match": '"v1"'}),
        ("PATCH", "", {"json": {"years": 0}}, {"If-Match": '"v99"'}),
    ):
        r = await client.request(method, f"{url}{path}", headers={**staff, **headers}, **sent)
        assert (r.status_code, r.json()["message"]) == (409, frozen), (method, path, r.text)
    r = await client.post(f"{url}/decision", json={"option": ""}, headers={**staff, "If-Match": tag})
    assert (r.status_code, r.json()["message"]) == (409, f"appraisal {a['id']} is already decided")
    # a change without If-Match is a 428 first, as everywhere (the schema requires the header)
    assert (await client.put(f"{url}/criteria", json={"criteria": []}, headers=staff)).status_code == 428
    json = {"Content-Type": "application/json", "If-Match": tag}
    r = await client.put(f"{url}/scores", content=b'{"scores": [', headers={**staff, **json})
    assert r.status_code == 400, r.text
    # who may not change it at all is still told so first; an appraisal that is not there is still a 404
    provider = await keys.headers("provider", provider_id=1)
    assert (await client.put(f"{url}/criteria", json={"criteria": []}, headers=provider)).status_code == 403
    r = await client.put(
        "/appraisals/999999/criteria", json={"criteria": a["criteria"]}, headers={**staff, "If-Match": tag}
    )
    assert r.status_code == 404


def prose(html: str) -> str:
    """`page_text` without the space a tag's end leaves before punctuation ("Lots by area , over budget")."""
    import re

    return re.sub(r" (?=[,.:;)])", "", page_text(html))


def csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_a_decision_while_the_market_engagement_is_open_needs_reasons_and_the_report_says_so(fresh_db):
    """A decision recorded before the engagement's response deadline was a silent 201, and the decided report never
    said the engagement was still open. It needs reasons saying why it cannot wait (422 naming `reasons`, with the
    deadline), records the deadline, and every format of the report says so; after the deadline it needs none."""
    from test_engagement import AFTER, DURING, make_exercise, world_on

    async with world_on(fresh_db) as w:
        c, h = w.client, w.commissioner
        exercise_id, _ = await make_exercise(w)  # responses until the end of 31 December 2026
        w.clock.at = DURING  # 10 December 2026, 12:00 GMT
        body = {"exercise_id": exercise_id, "options": OPTIONS, "scores": scores([5, 5, 5, 5], [3, 3, 3, 3])}
        a, tag = await make(c, h, **body)
        assert await refused(c, h, a, tag, "vcse") == [
            {
                "field": "reasons",
                "problem": "required: the market engagement closes at the end of 31 December 2026, UK time, and any "
                "response made or changed after this decision (today, 10 December 2026) will not be in the evidence "
                "frozen with it; say why the decision cannot wait",
            }
        ]
        # a lower-scoring option as well: both are said, and one set of reasons answers both
        problem = (await refused(c, h, a, tag, "la"))[0]["problem"]
        assert problem.startswith("required: the option chosen (Hosted by A county council) is not the preferred")
        assert "; and the market engagement closes at the end of 31 December 2026" in problem
        assert problem.endswith("say why, and why the decision cannot wait")
        d = (await decide(c, h, a, tag, reasons=WHY_NOW)).json()["decision"]
        assert d["engagement_open_until"] == "2027-01-01T00:00:00Z"
        report = f"/appraisals/{a['id']}/report"
        said = (
            "Decided while the market engagement was still open: responses were taken until the end of 31 December "
            "2026, UK time; any response made or changed after the decision (10 December 2026, 12:00 UK time) is not "
            "in the evidence frozen with it."
        )
        html = prose((await c.get(f"{report}?format=html", headers=h)).text)
        assert f"Market engagement {said}" in html
        assert (
            "the preferred option, while the market engagement was still open (until the end of 31 December 2026)."
            in html
        )
        (row,) = [
            x for x in csv_rows((await c.get(f"{report}?format=csv", headers=h)).text) if x["row_type"] == "decision"
        ]
        assert (row["engagement_open_until"], row["engagement_note"]) == ("2027-01-01T00:00:00Z", said)
        got = (await c.get(f"{report}?format=json", headers=h)).json()
        assert got["appraisal"]["decision"]["engagement_open_until"] == "2027-01-01T00:00:00Z"
        assert got["market_note"].endswith(said)

        # once the deadline has passed, the preferred option needs no reasons and nothing is said
        w.clock.at = AFTER
        b, tag = await make(c, h, **body)
        d = (await decide(c, h, b, tag)).json()["decision"]
        assert (d["engagement_open_until"], d["reasons"]) == (None, "")
        html = prose((await c.get(f"/appraisals/{b['id']}/report?format=html", headers=h)).text)
        assert "Market engagement Decided" not in html and "still open" not in html


async def test_required_reasons_need_some_substance(client, keys):
    """Reasons for going against the appraisal took a single character ("x"), frozen for good. Required reasons
    need at least three words and 15 characters (a board minute reference will do); reasons nobody asked for are
    taken as given."""
    staff = await keys.headers("commissioner")
    a, tag = await decided_appraisal(client, staff)
    for thin in ("x", "n/a", "as per board", "x  x  x  x  x"):
        (error,) = await refused(client, staff, a, tag, "la", reasons=thin)
        assert error["field"] == "reasons"
        assert error["problem"] == (
            "too short to say why: give at least 3 words and 15 characters, e.g. a board minute reference "
            '("YJMB minute 2027/14") or a sentence saying why. Required because the option chosen (Hosted by A county '
            "council) is not the preferred option: the preferred option is Outsource to a third-sector organisation "
            "(the top weighted score)"
        )
    d = (await decide(client, staff, a, tag, "la", reasons="YJMB minute 2027/14")).json()["decision"]
    assert d["reasons"] == "YJMB minute 2027/14"
    b, tag = await decided_appraisal(client, staff)
    assert (await decide(client, staff, b, tag, reasons="ok")).json()["decision"]["reasons"] == "ok"


UNCOSTED = [
    {"key": "lots_area", "model": "lots", "lots_by": "area", "label": "Lots by area"},
    {"key": "prime", "model": "single_prime", "label": "One prime"},
    {"key": "in_house", "model": "in_house"},
]


async def uncosted(client, staff, costs=True):
    """£1,000,000 a year over 3 years: `lots_area` scores highest but has no costs; `prime` (£900,000 a year) is
    affordable; `in_house` (£5,000,000 in year 1) is over budget."""
    given = [
        {"option": o, "criterion": c, "assessor": "Ann Lee", "score": s}
        for o, s in (("lots_area", 5), ("prime", 3), ("in_house", 4))
        for c in FOUR
    ]
    lines = [{"option": "prime", "year": y, "category": "staff", "amount": 900_000} for y in (1, 2, 3)]
    lines.append({"option": "in_house", "year": 1, "category": "staff", "amount": 5_000_000})
    return await make(
        client, staff, annual_budget=1_000_000, options=UNCOSTED, scores=given, costs=lines if costs else []
    )


async def test_an_option_with_no_costs_is_not_preferred_and_choosing_it_needs_reasons(client, keys):
    """An option with no costs entered was "the preferred option" and was chosen without reasons, the report calling
    it preferred (`chosen_preferred=yes`). With a budget it is not known to be affordable: the preferred option is the
    top score among those that are, the summary says the top option is not costed, and choosing it needs reasons."""
    staff = await keys.headers("commissioner")
    a, tag = await uncosted(client, staff)
    res = a["results"]
    by = {o["option"]: o for o in res["options"]}
    assert (res["top"], res["preferred"]) == ("lots_area", "prime")
    assert (by["lots_area"]["affordable"], by["in_house"]["affordable"], by["prime"]["affordable"]) == (
        None,
        False,
        True,
    )
    assert res["cost_switch"]["note"] == (
        "1 option scoring higher than the preferred option has no costs entered, so it is not known to be affordable"
    )
    html = prose((await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text)
    assert (
        "Lots by area has the top weighted score (100.0 out of 100), but has no costs entered, so it is not known to "
        "be affordable within the budget: the preferred option is One prime, the top weighted score among the options "
        "known to be affordable." in html
    )
    assert await refused(client, staff, a, tag, "lots_area") == [
        {
            "field": "reasons",
            "problem": "required: the option chosen (Lots by area) has no costs entered, so it is not known to be "
            "affordable within the budget, and the preferred option is One prime; say why",
        }
    ]
    await decide(client, staff, a, tag, "lots_area", reasons="Costs follow from the lots; the board accepts the risk.")
    report = f"/appraisals/{a['id']}/report"
    (row,) = [
        x
        for x in csv_rows((await client.get(f"{report}?format=csv", headers=staff)).text)
        if x["row_type"] == "decision"
    ]
    assert (row["chosen_preferred"], row["chosen_affordable"]) == ("no", "")
    assert row["chosen_note"].startswith("the option chosen (lots_area) has no costs entered")
    html = prose((await client.get(f"{report}?format=html", headers=staff)).text)
    assert "chose Lots by area, not costed and not the preferred option." in html


async def test_with_a_budget_and_no_costs_no_option_is_preferred(client, keys):
    staff = await keys.headers("commissioner")
    a, _ = await uncosted(client, staff, costs=False)
    res = a["results"]
    assert (res["top"], res["preferred"], res["sensitivity"]) == ("lots_area", None, [])
    assert res["cost_switch"]["note"] == (
        "no scored option has costs entered, so none is known to be affordable within the budget"
    )
    html = prose((await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text)
    assert (
        "Lots by area has the top weighted score (100.0 out of 100), but has no costs entered, so it is not known to "
        "be affordable within the budget: no option is known to be affordable within the budget." in html
    )
    assert "In-house and One prime have no costs entered either, so are not known to be affordable." in html
    assert "No weight sensitivity: no option is known to be affordable within the budget, so none is preferred." in html
    assert "Cost No scored option has costs entered, so none is known to be affordable within the budget." in html


async def test_a_year_over_the_annual_budget_is_flagged_beside_affordability_over_the_term(client, keys):
    """An option whose year-1 cost was above a static annual budget showed only "affordable" (the term's present
    value is within the budget): each year over is flagged, in the results, the page and the CSV; affordability is
    unchanged."""
    staff = await keys.headers("commissioner")
    given = [{"option": o, "criterion": c, "assessor": "Ann", "score": 4} for o in ("vcse", "la") for c in FOUR]
    costs = [
        {"option": "vcse", "year": 1, "category": "staff", "amount": 1_130_000},  # a set-up year over the budget
        {"option": "vcse", "year": 2, "category": "staff", "amount": 1_000_000},
        {"option": "vcse", "year": 3, "category": "staff", "amount": 1_000_000},
        *({"option": "la", "year": y, "category": "staff", "amount": 1_100_000} for y in (1, 2, 3)),
    ]
    a, _ = await make(client, staff, annual_budget=1_070_000, options=OPTIONS, scores=given, costs=costs)
    by = {o["option"]: o for o in a["results"]["options"]}
    assert (by["vcse"]["affordable"], by["vcse"]["years_over_budget"]) == (True, [1])
    assert (by["la"]["affordable"], by["la"]["years_over_budget"]) == (False, [1, 2, 3])
    assert a["results"]["preferred"] == "vcse"
    report = f"/appraisals/{a['id']}/report"
    html = prose((await client.get(f"{report}?format=html", headers=staff)).text)
    assert (
        "Outsource to a third-sector organisation costs more than the annual budget in year 1 (£1,130,000, £60,000 "
        "over): it is affordable over the term's present value, not within every year's budget." in html
    )
    assert (
        "In a single year, the cost is above the annual budget of £1,070,000 for Outsource to a third-sector "
        "organisation in year 1 (£1,130,000, £60,000 over); Hosted by A county council in year 1 (£1,100,000, £30,000 "
        "over), year 2 (£1,100,000, £30,000 over) and year 3 (£1,100,000, £30,000 over)." in html
    )
    rows = {
        x["option"]: x
        for x in csv_rows((await client.get(f"{report}?format=csv", headers=staff)).text)
        if x["row_type"] == "option"
    }
    assert (rows["vcse"]["affordable"], rows["vcse"]["years_over_budget"]) == ("yes", "1")
    assert rows["la"]["years_over_budget"] == "1; 2; 3"


async def test_the_evidence_counts_providers_that_answered_not_interested(fresh_db):
    """A suitable provider that answered not interested left the appraisal's evidence saying "0 responses": the
    declined responses are counted and shown apart, as the market report shows them."""
    from test_engagement import DURING, QUESTIONS, answers, make_exercise, providers_with, world_on

    async with world_on(fresh_db) as w:
        c, h = w.client, w.commissioner
        ((p1, _),) = await providers_with(w.dsn, "ACCOM", "E06000020", n=1)
        exercise_id, need_id = await make_exercise(w, questions=QUESTIONS)
        w.clock.at = DURING
        qs = (await c.get(f"/exercises/{exercise_id}/questions")).json()
        declined = {"needs": [{"need_id": need_id, "intent": "not_interested"}], "answers": answers(qs)}
        r = await c.post(
            f"/exercises/{exercise_id}/responses", headers=await w.keys.headers("provider", p1), json=declined
        )
        assert r.status_code == 201, r.text
        assert (await c.post(f"/exercises/{exercise_id}/match", headers=h)).status_code == 201
        a, _ = await make(c, h, exercise_id=exercise_id, options=OPTIONS)
        report = f"/appraisals/{a['id']}/report"
        (need,) = (await c.get(f"{report}?format=json", headers=h)).json()["market"]["needs"]
        assert (need["responses"], need["not_interested"]) == (0, 1)
        html = prose((await c.get(f"{report}?format=html", headers=h)).text)
        assert "0 interested responses, 0 intend to bid; 1 not interested." in html
        (row,) = [x for x in csv_rows((await c.get(f"{report}?format=csv", headers=h)).text) if x["row_type"] == "need"]
        assert (row["responses"], row["not_interested"]) == ("0", "1")


async def test_the_report_names_a_cheaper_option_tying_at_no_weight_as_taking_the_preference_there(client, keys):
    """With financial viability's weight at 0 the two options tie and the cheaper is preferred (ties go to the lower
    net present cost), where the switching points said "never switches"."""
    staff = await keys.headers("commissioner")
    costs = [
        {"option": o, "year": y, "category": "staff", "amount": amount}
        for o, amount in (("vcse", 100_000), ("la", 50_000))
        for y in (1, 2, 3)
    ]
    a, _ = await make(
        client, staff, options=OPTIONS, scores=scores([5, 3, 3, 3], [3, 3, 3, 3]), costs=costs, annual_budget=500_000
    )
    results = (await client.get(f"/appraisals/{a['id']}", headers=staff)).json()["results"]
    assert results["preferred"] == "vcse"
    viability = next(w for w in results["sensitivity"] if w["criterion"] == "financial_viability")
    assert (viability["low"], viability["low_switches_to"]) == (0.0, "la")
    html = (await client.get(f"/appraisals/{a['id']}/report?format=html", headers=staff)).text
    assert "0.0% (at 0%: Hosted by A county council, tied and first on the tie-breaks)" in html
    # the categories' figures beside the yearly columns are the term's totals, and say so
    assert "Totals over 3 years (nominal): Staff £300,000" in html


async def test_the_csv_holds_each_assessors_score_and_rationale_and_each_moderation_note(client, keys):
    """The CSV (the format most likely handed to an auditor) had each score's spread and mean but not who scored what,
    why, nor the moderation notes, which the page, the JSON and the workbook have."""
    import csv
    import io

    staff = await keys.headers("commissioner")
    a = (await client.get("/appraisals/1", headers=staff)).json()
    assert a["scores"] and a["moderation"], "the sample has assessors' scores and moderation"
    text = (await client.get("/appraisals/1/report?format=csv", headers=staff)).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    scored = {
        (r["option"], r["criterion"], r["assessor"], float(r["assessor_score"]), r["rationale"])
        for r in rows
        if r["row_type"] == "assessor_score"
    }
    assert scored == {
        (s["option"], s["criterion"], s["assessor"], float(s["score"]), s["rationale"]) for s in a["scores"]
    }
    agreed = {
        (r["option"], r["criterion"], float(r["moderated"]), r["moderation_note"])
        for r in rows
        if r["row_type"] == "moderation"
    }
    assert agreed == {(m["option"], m["criterion"], float(m["score"]), m["note"]) for m in a["moderation"]}
