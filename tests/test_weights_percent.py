"""Issue 12, item 10: weights a commissioner reads as meant. Weights are percentages of the score (the whole table,
summing to 100); every run, report (JSON, CSV, HTML) and explanation shows the percentages actually used; changing
an exercise's default weights marks the runs made with the old ones stale; weights stored before percentages are
rewritten by the migration so that every need is matched as before, and runs stored before stay readable.
Through the real app on a real PostgreSQL. Also the report's strengths: the core's, never a low-scoring criterion."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import msgspec
import pytest
from conftest import fetchval, migrated_before
from test_evidence_integrity import sample_exercise

import matching
import matching.explain
from marketplace import db
from marketplace.exercises.models import MatchRunBody, percent_table, weights_changed
from marketplace.migrate import migrate
from marketplace.seed import load_taxonomy
from marketplace.settings import PROJECT_ROOT
from marketplace.taxonomy import service as taxonomy

SCHEMA = PROJECT_ROOT / "schema"
TABLE = {"pathway_fit": 25, "coverage": 25, "capacity": 10, "quality": 20, "local_priorities": 20}


async def run_count(dsn: str) -> int:
    return await fetchval(dsn, "select count(*) from match_run")


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_changing_the_exercise_s_weights_marks_its_runs_stale_and_the_report_shows_percentages(
    client, keys, fresh_db
):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    first = await client.post(f"/exercises/{xid}/match", headers=h)
    assert first.status_code == 201, first.text
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert report["freshness"]["current"]
    for n in report["needs"]:
        # as a reader adds them up: exactly 100.0 (rounding each alone gave 100.1 for a need with no priorities)
        assert sum(round(v * 10) for v in n["weights_percent"].values()) == 1000, n["weights_percent"]
        assert n["weights_percent"] == matching.shown_percentages(n["weights"])
        assert all(abs(v - n["weights"][k] * 100) <= 0.1 for k, v in n["weights_percent"].items())
    exercise = await client.get(f"/exercises/{xid}", headers=h)
    was = {n["need_id"]: n["weights_percent"] for n in report["needs"]}
    patched = await client.patch(
        f"/exercises/{xid}", json={"default_weights": TABLE}, headers={**h, "If-Match": exercise.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["default_weights"] == TABLE, "a new table replaces the old one whole"
    before = await run_count(fresh_db)
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert await run_count(fresh_db) == before, "a GET of a report stores nothing"
    assert not report["freshness"]["current"]
    assert sorted(report["freshness"]["stale_need_ids"]) == sorted(was)
    for n in report["needs"]:
        [change] = n["stale_run"]["changes"]
        assert change["field"] == "weights_percent" and change["in_run"] == was[n["need_id"]]
        with_priorities = was[n["need_id"]]["local_priorities"] > 0
        assert change["now"]["quality"] == (20.0 if with_priorities else 25.0)
        assert n["stale_run"]["need_version"] == n["stale_run"]["run_need_version"], "the need itself is unchanged"
    page = (await client.get(f"/exercises/{xid}/report", params={"format": "html"}, headers=h)).text
    assert "The weights the need is matched with" in page and "Weights, as percentages of the score" in page
    rows = csv_rows((await client.get(f"/exercises/{xid}/report", params={"format": "csv"}, headers=h)).content)
    need_rows = [r for r in rows if r["row_type"] == "need"]
    assert need_rows and all(r["run_status"] == "stale" and r["changed_fields"] == "weights_percent" for r in need_rows)
    assert all(r["weight_percent_quality"] == f"{was[int(r['need_id'])]['quality']:g}" for r in need_rows)
    # matching again with the new table makes the report current, at the new percentages
    again = await client.post(f"/exercises/{xid}/match", headers=h)
    assert again.json()["stored"] == len(was)
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    assert report["freshness"]["current"]
    for n in report["needs"]:
        with_priorities = n["weights_percent"]["local_priorities"] > 0
        assert n["weights_percent"]["quality"] == (20.0 if with_priorities else 25.0)


async def test_a_need_s_own_table_wins_and_a_request_s_wins_over_it(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    need = (await client.get(f"/exercises/{xid}", headers=h)).json()["needs"][0]
    r = await client.get(f"/needs/{need['id']}", headers=h)
    own = {"capacity": 50, "coverage": 50}
    assert (
        await client.patch(
            f"/needs/{need['id']}", json={"weight_overrides": own}, headers={**h, "If-Match": r.headers["etag"]}
        )
    ).status_code == 200
    run = (await client.post(f"/needs/{need['id']}/match-runs", headers=h)).json()
    assert run["weights_percent"] == {c: float(own.get(c, 0)) for c in matching.CRITERIA}
    run = (await client.post(f"/needs/{need['id']}/match-runs", json={"weights": {"quality": 100}}, headers=h)).json()
    assert run["weights_percent"]["quality"] == 100.0
    bad = await client.patch(
        f"/needs/{need['id']}", json={"weight_overrides": {"capacity": 50}}, headers={**h, "If-Match": '"v2"'}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "weight_overrides"
    assert "capacity 50" in bad.json()["errors"][0]["problem"]


async def test_weights_said_another_way_are_no_change(client, keys, fresh_db):
    """A table of weights is its percentages: `{}` and null both say none is given, a criterion given 0 is one left
    out, 50 is 50.0. A need's or an exercise's weights sent again so are no change (200, ETag unmoved, no audit row)
    and are kept as they were written; a real change is kept as sent. A table given where none was is a change even
    when it equals the weights that applied: the need then keeps it, whatever the exercise's become."""
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    exercise = await client.get(f"/exercises/{xid}", headers=h)
    need = exercise.json()["needs"][0]
    path = f"/needs/{need['id']}"
    held = await client.get(path, headers=h)
    assert held.json()["weight_overrides"] is None
    audited = "select count(*) from audit_log where detail = any($1::text[])"
    details = [f"updated need {need['id']}", f"updated exercise {xid}"]
    before = await fetchval(fresh_db, audited, details)

    async def unchanged(target: str, response, body: dict) -> None:
        r = await client.patch(target, json=body, headers={**h, "If-Match": response.headers["etag"]})
        assert r.status_code == 200 and r.headers["etag"] == response.headers["etag"], (body, r.text)
        assert r.json() == response.json(), body

    await unchanged(path, held, {"weight_overrides": {}})
    own = {"capacity": 50, "coverage": 50}
    r = await client.patch(path, json={"weight_overrides": own}, headers={**h, "If-Match": held.headers["etag"]})
    assert r.status_code == 200 and r.headers["etag"] != held.headers["etag"]
    await unchanged(path, r, {"weight_overrides": {"coverage": 50.0, "capacity": 50, "quality": 0}})
    real = {"capacity": 60, "coverage": 40, "quality": 0}
    changed = await client.patch(path, json={"weight_overrides": real}, headers={**h, "If-Match": r.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != r.headers["etag"]
    assert changed.json()["weight_overrides"] == real  # as sent
    cleared = await client.patch(
        path, json={"weight_overrides": None}, headers={**h, "If-Match": changed.headers["etag"]}
    )
    await unchanged(path, cleared, {"weight_overrides": {}})
    exercise = await client.get(f"/exercises/{xid}", headers=h)
    in_force = dict(exercise.json()["default_weights"]) or {
        c: w * 100 for c, w in matching.DEFAULT_WEIGHTS.as_dict().items()
    }
    pinned = await client.patch(
        path, json={"weight_overrides": in_force}, headers={**h, "If-Match": cleared.headers["etag"]}
    )
    assert pinned.status_code == 200 and pinned.headers["etag"] != cleared.headers["etag"], pinned.text
    # an exercise's default weights: {} for {}, and a table with a 0 for the table
    exercise = await client.get(f"/exercises/{xid}", headers=h)
    await unchanged(f"/exercises/{xid}", exercise, {"default_weights": exercise.json()["default_weights"]})
    r = await client.patch(
        f"/exercises/{xid}", json={"default_weights": TABLE}, headers={**h, "If-Match": exercise.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    await unchanged(f"/exercises/{xid}", r, {"default_weights": {**TABLE, "social_value": 0, "quality": 20.0}})
    assert await fetchval(fresh_db, audited, details) == before + 5  # own, real, cleared, pinned, TABLE


async def test_the_report_s_strengths_are_the_core_s_and_never_a_low_score(client, keys, fresh_db):
    xid = await sample_exercise(fresh_db)
    h = await keys.headers("commissioner")
    done = (await client.post(f"/exercises/{xid}/match", headers=h)).json()
    report = (await client.get(f"/exercises/{xid}/report", headers=h)).json()
    checked = 0
    for matched, n in zip(done["needs"], report["needs"], strict=True):
        run = (await client.get(f"/match-runs/{matched['match_run_id']}", headers=h)).json()
        ranked = {s["provider_id"]: s for s in run["ranking"]}
        for top in n["top_candidates"]:
            s = ranked[top["provider_id"]]
            assert [x["criterion"] for x in top["strengths"]] == s["strengths"][:3]
            assert [x["criterion"] for x in top["weaknesses"]] == s["weaknesses"][:3]
            for x in top["strengths"]:
                assert x["score"] >= matching.explain.STRENGTH_MIN_SCORE and x["summary"]
            for x in top["weaknesses"]:
                assert x["score"] < matching.explain.WEAKNESS_BELOW
            checked += len(top["strengths"]) + len(top["weaknesses"])
    assert checked > 0


def test_a_run_stored_before_percentages_shows_its_weights_as_percentages() -> None:
    weights = dict(matching.DEFAULT_CRITERION_WEIGHTS)
    document = {
        "algorithm_version": "2026.11-2",
        "as_of": "2026-11-01",
        "need": {
            "id": 1,
            "exercise_id": 1,
            "title": "Old",
            "pathway": "ACCOM",
            "areas": ["E06000019"],
            "annual_volume": 10,
            "annual_budget": 1000,
            "cohorts": [],
            "contract_years": 1.0,
            "required_accreditations": [],
            "min_years_experience": 0,
            "local_priorities": [],
            "sector_preference": {},
            "weight_overrides": {"quality": 200},  # relative, as allowed then (up to 1000)
            "eligibility": {},
            "version": 1,
            "created_at": "2026-11-01T09:00:00Z",
            "updated_at": "2026-11-01T09:00:00Z",
        },
        "weights": weights,
        "directory_size": 0,
        "candidate_count": 0,
        "eligible_count": 0,
        "excluded_count": 0,
        "excluded_by_reason": {},
        "ranking": [],
        "excluded": [],
        "method": "",
    }
    run = msgspec.json.decode(json.dumps(document).encode(), type=MatchRunBody)
    assert run.weights_percent == {c: round(w * 100, 1) for c, w in weights.items()}
    assert run.weights_percent["pathway_fit"] == 20.0


def test_percentages_are_the_whole_table() -> None:
    assert percent_table({}) is None
    w = percent_table({"quality": 60, "coverage": 40})
    assert w is not None and w.percentages()["quality"] == pytest.approx(60) and w.percentages()["capacity"] == 0
    assert percent_table(dict.fromkeys(matching.CRITERIA, 100 / 9)) is not None  # within the tolerance
    with pytest.raises(matching.InvalidWeights, match=r"these \(quality 60\) sum to 60\. Scaled to 100"):
        percent_table({"quality": 60})


# ------------------------------------------------------------------------------------- the migration (0019)


@pytest.fixture
async def before_percentages(databases, tmp_path: Path):
    """A database at the schema before 0019, with weights in the old relative form."""
    name = await databases.create("before_percentages")
    dsn = databases.dsn(name)
    async with migrated_before(dsn, 19, tmp_path) as conn:
        await taxonomy.save(conn, load_taxonomy(PROJECT_ROOT / "seed_data"))
        x = await conn.fetchval(
            """insert into exercise (title, commissioning_body, default_weights)
               values ('Old', 'Trust', '{"quality": 2, "coverage": 0}') returning id"""
        )
        plain = await conn.fetchval(
            "insert into exercise (title, commissioning_body) values ('Plain', 'Trust') returning id"
        )
        await conn.executemany(
            """insert into need (exercise_id, title, pathway_code, annual_volume, annual_budget, weight_overrides)
               values ($1, $2, 'ACCOM', 10, 1000, $3::text::jsonb)""",
            [
                (x, "overridden", '{"capacity": 3}'),
                (x, "inherits", None),
                (plain, "overridden, plain exercise", '{"sustainability": 0.5}'),
                (plain, "empty", "{}"),
            ],
        )
        yield dsn


async def test_the_migration_rewrites_old_weights_as_the_percentages_they_came_to(before_percentages):
    conn = await db.connect(before_percentages)
    try:
        await migrate(conn, SCHEMA)
        exercises = {
            r["title"]: json.loads(r["default_weights"])
            for r in await conn.fetch("select title, default_weights::text from exercise")
        }
        needs = {
            r["title"]: json.loads(r["w"]) if r["w"] is not None else None
            for r in await conn.fetch("select title, weight_overrides::text as w from need")
        }
    finally:
        await conn.close()
    old_exercise = matching.Weights.from_mapping({"quality": 2, "coverage": 0})
    assert exercises["Plain"] == {}, "no weights given stays no weights given"
    assert set(exercises["Old"]) == set(matching.CRITERIA)
    assert sum(exercises["Old"].values()) == pytest.approx(100, abs=1e-4)
    migrated = percent_table(exercises["Old"])
    assert migrated is not None
    for k, v in old_exercise.normalised().as_dict().items():
        assert migrated.normalised().as_dict()[k] == pytest.approx(v, abs=1e-12), k
    old_need = matching.Weights.from_mapping({"capacity": 3}, base=old_exercise).normalised().as_dict()
    new_need = percent_table(needs["overridden"])
    assert new_need is not None
    assert new_need.normalised().as_dict() == pytest.approx(old_need, abs=1e-12)
    old_plain = matching.Weights.from_mapping({"sustainability": 0.5}).normalised().as_dict()
    plain_need = percent_table(needs["overridden, plain exercise"])
    assert plain_need is not None and plain_need.normalised().as_dict() == pytest.approx(old_plain, abs=1e-12)
    assert needs["inherits"] is None and needs["empty"] == {}
    # a run made before the migration is not taken for stale by the report: the same weights
    assert not weights_changed(old_exercise.normalised().as_dict(), migrated.normalised().as_dict())
    assert not weights_changed(old_need, new_need.normalised().as_dict())
    assert weights_changed(old_need, old_exercise.normalised().as_dict())
