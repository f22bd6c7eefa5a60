"""Issue 13, item 9: expensive operations are limited per key (429 with Retry-After), and an identical re-run over
an unchanged directory gives back the stored run instead of storing a copy."""

from __future__ import annotations

import asyncio
import datetime as dt

from conftest import TELFORD_NEED, Renders, app_settings, fetchval
from litestar.testing import AsyncTestClient

from marketplace import db
from marketplace.app import create_app
from marketplace.appraisals import routes as appraisal_routes
from marketplace.clock import FixedClock
from marketplace.exercises.models import MAX_NEEDS
from marketplace.reports import routes as report_routes
from marketplace.reports import service as report_service
from marketplace.sheets import XLSX_MEDIA as XLSX

NOON = dt.datetime(2026, 11, 2, 12, 0, 10, tzinfo=dt.UTC)


async def counts(dsn: str) -> tuple[int, int]:
    conn = await db.connect(dsn)
    try:
        return await conn.fetchval("select count(*) from match_run"), await conn.fetchval(
            "select count(*) from partnership_run"
        )
    finally:
        await conn.close()


async def first_need(dsn: str) -> tuple[int, int]:
    conn = await db.connect(dsn)
    try:
        row = await conn.fetchrow("select id, exercise_id from need order by id limit 1")
        return row["id"], row["exercise_id"]
    finally:
        await conn.close()


async def test_the_same_run_over_an_unchanged_directory_is_given_back_not_stored_again(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    need_id, _ = await first_need(fresh_db)
    first = await client.post(f"/needs/{need_id}/match-runs?limit=10", headers=h)
    assert first.status_code == 201, first.text
    again = await client.post(f"/needs/{need_id}/match-runs?limit=10", headers=h)
    assert again.status_code == 200 and again.headers["location"] == f"/match-runs/{first.json()['id']}"
    assert again.json() == first.json()
    assert await counts(fresh_db) == (1, 0)
    # other inputs are another run: a different limit, other weights
    assert (await client.post(f"/needs/{need_id}/match-runs?limit=11", headers=h)).status_code == 201
    other = await client.post(f"/needs/{need_id}/match-runs?limit=10", json={"weights": {"capacity": 100}}, headers=h)
    assert other.status_code == 201
    assert await counts(fresh_db) == (3, 0)
    # a write anywhere in the directory (here a provider the run did not even rank) makes the next run a new one
    shown = {s["provider_id"] for s in first.json()["ranking"]}
    elsewhere = await fetchval(
        fresh_db,
        "select id from provider where status = 'published' and not (id = any($1::bigint[])) order by id limit 1",
        list(shown),
    )
    admin = await keys.headers("admin")
    got = await client.get(f"/providers/{elsewhere}", headers=admin)
    patched = await client.patch(
        f"/providers/{elsewhere}",
        json={"resources": {"volunteers": 77}},
        headers={**admin, "If-Match": got.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    after = await client.post(f"/needs/{need_id}/match-runs?limit=10", headers=h)
    assert after.status_code == 201 and after.json()["id"] != first.json()["id"]
    # so does an edit of the need itself
    need = await client.get(f"/needs/{need_id}", headers=h)
    edited = await client.patch(
        f"/needs/{need_id}", json={"min_years_experience": 1}, headers={**h, "If-Match": need.headers["etag"]}
    )
    assert edited.status_code == 200, edited.text
    assert (await client.post(f"/needs/{need_id}/match-runs?limit=10", headers=h)).status_code == 201
    assert await counts(fresh_db) == (5, 0)


async def test_the_same_partnership_proposal_is_given_back_with_its_match_runs(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    _, exercise_id = await first_need(fresh_db)
    first = await client.post(f"/exercises/{exercise_id}/partnerships", headers=h)
    assert first.status_code == 201, first.text
    stored = await counts(fresh_db)
    assert stored[1] == 1 and stored[0] == len(first.json()["match_run_ids"])
    again = await client.post(f"/exercises/{exercise_id}/partnerships", headers=h)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["location"] == f"/partnership-runs/{first.json()['id']}"
    assert await counts(fresh_db) == stored


async def test_expensive_operations_are_limited_per_key_and_minute(fresh_db, keys):
    clock = FixedClock(NOON)
    one, other = await keys.headers("commissioner"), await keys.headers("commissioner")
    need_id, exercise_id = await first_need(fresh_db)
    app = create_app(app_settings(fresh_db, expensive_limit=5), clock=clock)
    async with AsyncTestClient(app=app) as client:
        calls = [
            ("post", f"/needs/{need_id}/match-runs"),
            ("post", f"/exercises/{exercise_id}/match"),
            ("get", f"/exercises/{exercise_id}/report?format=json"),
            ("post", f"/exercises/{exercise_id}/reports"),
            ("post", f"/exercises/{exercise_id}/partnerships"),
        ]
        for method, path in calls:
            r = await getattr(client, method)(path, headers=one)
            assert r.status_code in (200, 201), (path, r.text)
        for method, path in calls:
            r = await getattr(client, method)(path, headers=one)
            assert r.status_code == 429, (path, r.text)
            assert r.headers["retry-after"] == "50" and "try again in 50 s" in r.json()["message"]
        assert (await client.get(f"/needs/{need_id}/match-runs", headers=one)).status_code == 200, "reads are not"
        assert (await client.post(f"/needs/{need_id}/match-runs", headers=other)).status_code in (200, 201)
        clock.at = NOON + dt.timedelta(minutes=1)
        assert (await client.post(f"/needs/{need_id}/match-runs", headers=one)).status_code in (200, 201)


async def test_a_request_refused_as_malformed_spends_none_of_the_budget(fresh_db, keys):
    """The budget is for the expensive work (ranking the directory, making a report): a request refused before any
    of it (a body or query that is not what the operation takes, an Accept it cannot answer) spent one of the key's
    runs, so a client's mistakes could use up its minute. Now it is charged once the request is read and valid."""
    clock = FixedClock(NOON)
    h = await keys.headers("commissioner")
    need_id, exercise_id = await first_need(fresh_db)
    app = create_app(app_settings(fresh_db, expensive_limit=2), clock=clock)
    async with AsyncTestClient(app=app) as client:
        refused = [
            ("post", f"/needs/{need_id}/match-runs", {"json": {"weights": "heavy"}}, 400),
            ("post", f"/needs/{need_id}/match-runs", {"content": b'{"weights": {', "headers": JSON}, 400),
            ("post", f"/needs/{need_id}/match-runs?limit=501", {}, 400),
            ("post", f"/exercises/{exercise_id}/partnerships", {"json": {"areas": ["E06000019"]}}, 400),
            ("post", f"/exercises/{exercise_id}/match", {"json": {"now": True}}, 400),
            ("post", f"/exercises/{exercise_id}/reports?threshold=2", {}, 400),
            ("get", f"/exercises/{exercise_id}/report", {"headers": {"Accept": "image/png"}}, 406),
            ("get", "/appraisals/1/report", {"headers": {"Accept": "text/*;q=0"}}, 406),
        ]
        for _ in range(2):
            for method, path, kwargs, status in refused:
                headers = {**h, **kwargs.get("headers", {})}
                r = await getattr(client, method)(path, **{**kwargs, "headers": headers})
                assert r.status_code == status, (path, r.status_code, r.text)
        assert (await client.post(f"/needs/{need_id}/match-runs", headers=h)).status_code in (200, 201)
        assert (await client.post(f"/exercises/{exercise_id}/partnerships", headers=h)).status_code in (200, 201)
        assert (await client.post(f"/needs/{need_id}/match-runs", headers=h)).status_code == 429, "the budget holds"


JSON = {"Content-Type": "application/json"}


async def test_an_exercise_has_at_most_a_hundred_needs(client, keys, fresh_db):
    """300 needs made one POST /exercises/{id}/match take 12 s on the demo's 124 providers (one budget unit for 300
    runs): an exercise now has at most 100, the 101st refused (422 naming `needs`) and nothing stored."""
    assert MAX_NEEDS == 100
    h = await keys.headers("commissioner")
    made = await client.post("/exercises", json={"title": "Large round", "commissioning_body": "Trust"}, headers=h)
    assert made.status_code == 201, made.text
    exercise_id = made.json()["id"]
    for i in range(MAX_NEEDS):
        r = await client.post(f"/exercises/{exercise_id}/needs", json={**TELFORD_NEED, "title": f"Need {i}"}, headers=h)
        assert r.status_code == 201, r.text
    r = await client.post(f"/exercises/{exercise_id}/needs", json=TELFORD_NEED, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "needs",
            "problem": f"exercise {exercise_id} has 100 needs, and an exercise may have at most 100: give a need "
            "several areas, or make another exercise",
        }
    ]
    assert await fetchval(fresh_db, "select count(*) from need where exercise_id = $1", exercise_id) == MAX_NEEDS
    # one need fewer, and there is room again
    last = (await client.get(f"/exercises/{exercise_id}/needs", headers=h)).json()[-1]
    got = await client.get(f"/needs/{last['id']}", headers=h)
    gone = await client.delete(f"/needs/{last['id']}", headers={**h, "If-Match": got.headers["etag"]})
    assert gone.status_code == 204, gone.text
    assert (await client.post(f"/exercises/{exercise_id}/needs", json=TELFORD_NEED, headers=h)).status_code == 201


async def test_a_frozen_reports_workbook_counts_against_the_budget_and_its_stored_formats_do_not(fresh_db, keys):
    """GET /reports/{id}?format=xlsx builds the workbook from the stored CSV and JSON on every download (38 s each
    for a 300-need report) and spent nothing: 25 downloads in a row by one key were all 200. It now counts as GET
    /exercises/{id}/report does; the stored formats are read as they are, and do not."""
    clock = FixedClock(NOON)
    h, other = await keys.headers("commissioner"), await keys.headers("commissioner")
    _, exercise_id = await first_need(fresh_db)
    app = create_app(app_settings(fresh_db, expensive_limit=3), clock=clock)
    async with AsyncTestClient(app=app) as client:
        assert (await client.post(f"/exercises/{exercise_id}/match", headers=h)).status_code in (200, 201)
        frozen = await client.post(f"/exercises/{exercise_id}/reports", headers=h)
        assert frozen.status_code == 201, frozen.text
        url = f"/reports/{frozen.json()['id']}"
        assert (await client.get(f"{url}?format=xlsx", headers=h)).status_code == 200  # the third of three
        r = await client.get(f"{url}?format=xlsx", headers=h)
        assert r.status_code == 429 and r.headers["retry-after"] == "50", r.text
        assert (await client.get(url, headers={**h, "Accept": XLSX})).status_code == 429, "asked for by Accept too"
        for fmt in ("json", "html", "csv"):
            assert (await client.get(f"{url}?format={fmt}", headers=h)).status_code == 200, fmt
        assert (await client.get(f"{url}?format=xlsx", headers=other)).status_code == 200, "another key's own"
        clock.at = NOON + dt.timedelta(minutes=1)
        assert (await client.get(f"{url}?format=xlsx", headers=h)).status_code == 200


async def test_reports_are_rendered_one_at_a_time_per_worker(at_once, keys, fresh_db, monkeypatch):
    """Rendering is pure Python: threads at it together share the interpreter lock, and four frozen workbooks built
    at once took 38 s each and slowed /health to 1.3 s. Reports are rendered in turn (reports.service.in_turn),
    live or frozen, appraisal reports too, and the requests waiting for their turn hold no database connection."""
    client = at_once  # requests served at once, as by one worker (litestar's test client serves one at a time)
    h = await keys.headers("commissioner")
    _, exercise_id = await first_need(fresh_db)
    assert (await client.post(f"/exercises/{exercise_id}/match", headers=h)).status_code in (200, 201)
    frozen = (await client.post(f"/exercises/{exercise_id}/reports", headers=h)).json()
    renders = Renders()
    monkeypatch.setattr(report_service, "report_workbook", renders.wrap(report_service.report_workbook))
    monkeypatch.setattr(report_routes, "to_html", renders.wrap(report_routes.to_html))
    monkeypatch.setattr(appraisal_routes, "to_csv_bytes", renders.wrap(appraisal_routes.to_csv_bytes))
    appraisal = await client.post(f"/exercises/{exercise_id}/appraisals", headers=h, json={"title": "Delivery model"})
    assert appraisal.status_code == 201, appraisal.text
    requests = [
        *(client.get(f"/reports/{frozen['id']}?format=xlsx", headers=h) for _ in range(3)),
        *(client.get(f"/exercises/{exercise_id}/report?format=html", headers=h) for _ in range(2)),
        *(client.get(f"/appraisals/{appraisal.json()['id']}/report?format=csv", headers=h) for _ in range(2)),
    ]
    answers = await asyncio.gather(*requests)
    assert [r.status_code for r in answers] == [200] * 7
    assert sorted(renders.made) == ["report_workbook"] * 3 + ["to_csv_bytes"] * 2 + ["to_html"] * 2
    assert renders.most == 1
