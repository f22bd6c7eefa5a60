"""Exercises, needs and stored, explained match runs, through the real app on real PostgreSQL."""

from __future__ import annotations

import math
import re

import asyncpg
import msgspec
import pytest
import zstandard
from conftest import TELFORD_NEED, fetchval, run_cli

import matching
from marketplace import db
from marketplace.exercises import pools
from marketplace.taxonomy.models import matching_thesaurus

NEED = {
    **TELFORD_NEED,
    "local_priorities": [{"text": "tenancy sustainment", "weight": 2}],
    "sector_preference": {"third_sector": 0.8},
}


async def seeded_need(dsn: str, pathway: str = "ACCOM") -> tuple[int, int]:
    conn = await db.connect(dsn)
    try:
        row = await conn.fetchrow(
            "select id, exercise_id from need where pathway_code = $1 order by id limit 1", pathway
        )
        return row["id"], row["exercise_id"]
    finally:
        await conn.close()


async def test_only_commissioners_and_admins_see_exercises_and_runs(client, keys, fresh_db):
    need_id, exercise_id = await seeded_need(fresh_db)
    commissioner = await keys.headers("commissioner")
    run = (await client.post(f"/needs/{need_id}/match-runs", headers=commissioner)).json()
    provider_id = await fetchval(fresh_db, "select min(id) from provider")
    provider = await keys.headers("provider", provider_id)
    for method, path in [
        ("GET", "/exercises"),
        ("GET", f"/exercises/{exercise_id}"),
        ("GET", f"/needs/{need_id}"),
        ("POST", f"/needs/{need_id}/match-runs"),
        ("GET", f"/match-runs/{run['id']}"),
        ("GET", f"/needs/{need_id}/match-runs"),
        ("POST", f"/exercises/{exercise_id}/partnerships"),
        ("POST", "/exercises"),
    ]:
        body = {"title": "x", "commissioning_body": "y"} if path == "/exercises" and method == "POST" else None
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        as_provider = await client.request(method, path, json=body, headers=provider)
        assert as_provider.status_code == 403, (method, path)
    assert (await client.get(f"/match-runs/{run['id']}", headers=await keys.headers("admin"))).status_code == 200


async def test_a_match_run_is_explained_and_accounts_for_every_provider(client, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db)
    r = await client.post(
        f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=await keys.headers("commissioner")
    )
    assert r.status_code == 201, r.text
    run = r.json()
    conn = await db.connect(fresh_db)
    try:
        published = await conn.fetchval("select count(*) from provider where status = 'published'")
        offering = await conn.fetchval(
            "select count(*) from provider where status = 'published' and 'ACCOM' = any(pathway_codes)"
        )
    finally:
        await conn.close()
    assert run["directory_size"] == published
    assert run["eligible_count"] + run["excluded_count"] == published
    assert run["excluded_by_reason"].get("pathway_not_offered", 0) == published - offering
    assert len(run["ranking"]) == run["eligible_count"] > 0
    totals = [s["total"] for s in run["ranking"]]
    assert totals == sorted(totals, reverse=True)
    assert math.isclose(sum(run["weights"].values()), 1.0)
    for s in run["ranking"]:
        assert 0 <= s["total"] <= 1
        assert math.isclose(sum(c["contribution"] for c in s["criteria"]), s["total"], abs_tol=1e-9)
        for c in s["criteria"]:
            assert 0 <= c["score"] <= 1 and c["weight"] == run["weights"][c["criterion"]]
            assert math.isclose(c["contribution"], c["weight"] * c["score"], abs_tol=1e-12)
    top = run["ranking"][0]
    priorities = next(c for c in top["criteria"] if c["criterion"] == "local_priorities")
    assert priorities["evidence"], "the explanation names which priority matched which evidence"
    assert run["need"]["id"] == need_id and run["method"]


async def deep_run(client, keys, dsn: str) -> tuple[int, int, dict[str, str], dict]:
    """(need id, exercise id, a commissioner's headers, the run stored) of a deep run (limit 500) of a seeded need."""
    need_id, exercise_id = await seeded_need(dsn)
    h = await keys.headers("commissioner")
    made = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    return need_id, exercise_id, h, made


async def test_a_run_stored_as_text_before_compression_is_served_and_reported_as_stored(client, keys, fresh_db):
    # runs stored before schema/0022 keep their uncompressed text document; every run holds exactly one of the two
    need_id, exercise_id, h, made = await deep_run(client, keys, fresh_db)
    conn = await db.connect(fresh_db)
    try:
        compressed = await conn.fetchval("select document_zstd from match_run where id = $1", made["id"])
        copy = """insert into match_run (need_id, exercise_id, created_by, algorithm_version, candidate_count, document,
                                         document_zstd)
                  select need_id, exercise_id, created_by, algorithm_version, candidate_count, $2, $3
                  from match_run where id = $1 returning id"""
        old_id = await conn.fetchval(copy, made["id"], zstandard.decompress(compressed).decode(), None)
        for text, packed in ((None, None), ("{}", compressed)):
            with pytest.raises(asyncpg.CheckViolationError, match="match_run_one_document"):
                await conn.fetchval(copy, made["id"], text, packed)
    finally:
        await conn.close()
    old = (await client.get(f"/match-runs/{old_id}", params={"limit": 500}, headers=h)).json()
    assert old["id"] == old_id
    assert {k: v for k, v in old.items() if k not in ("id", "created_at")} == {
        k: v for k, v in made.items() if k not in ("id", "created_at")
    }
    report = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "json"}, headers=h)).json()
    [row] = [n for n in report["needs"] if n["need_id"] == need_id]
    assert row["match_run_id"] == old_id  # the newest run of the need, read from its text


async def test_stored_runs_come_back_unchanged_and_cannot_be_altered(client, keys, fresh_db):
    need_id, _, h, made = await deep_run(client, keys, fresh_db)
    # the directory changes afterwards ...
    conn = await db.connect(fresh_db)
    try:
        top_id = made["ranking"][0]["provider_id"]
        await conn.execute("update provider set status = 'archived' where id = $1", top_id)
        again = (await client.get(f"/match-runs/{made['id']}", params={"limit": 500}, headers=h)).json()
        assert again == made  # ... but the stored run is what the commissioner saw
        # stored as the exact bytes encoded (not jsonb, which would re-space and re-order them), compressed
        sql = "select document, document_zstd from match_run where id = $1"
        text, compressed = await conn.fetchrow(sql, made["id"])
        stored = zstandard.decompress(compressed)
        assert text is None and len(compressed) < len(stored) / 4
        assert msgspec.json.encode(msgspec.json.decode(stored)) == stored
        fresh = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
        assert top_id not in [s["provider_id"] for s in fresh["ranking"]]
        for sql in ("update match_run set candidate_count = 0", "delete from match_run"):
            with pytest.raises(Exception, match="append-only"):
                await conn.execute(sql)
    finally:
        await conn.close()
    limited = (await client.get(f"/match-runs/{made['id']}", params={"limit": 2}, headers=h)).json()
    assert limited["ranking"] == made["ranking"][:2]
    listed = (await client.get(f"/needs/{need_id}/match-runs", headers=h)).json()
    assert [r["id"] for r in listed][:2] == [fresh["id"], made["id"]]


@pytest.mark.parametrize(
    ("weights", "field"),
    [({"coverage": -1}, "weights.coverage"), ({"coverage": 101}, "weights.coverage"), ({"speed": 1}, "weights.speed")],
)
async def test_bad_weights_get_a_clear_400_and_store_nothing(client, keys, fresh_db, weights, field):
    need_id, _ = await seeded_need(fresh_db)
    r = await client.post(
        f"/needs/{need_id}/match-runs", json={"weights": weights}, headers=await keys.headers("commissioner")
    )
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == field
    conn = await db.connect(fresh_db)
    try:
        assert await conn.fetchval("select count(*) from match_run") == 0
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("weights", "shown"),
    [
        ({"quality": 30}, r"sum to 30\. Scaled to 100 they would be: pathway fit 0%.*quality 100%"),
        ({"quality": 60, "coverage": 60}, r"sum to 120\. Scaled to 100 they would be: .*coverage 50%.*quality 50%"),
        (dict.fromkeys(matching.CRITERIA, 0), r"sum to 0\. Scaled to 100 they would be: nothing to weigh"),
    ],
)
async def test_percentages_that_do_not_sum_to_100_are_a_422_showing_what_they_would_come_to(
    client, keys, fresh_db, weights, shown
):
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    r = await client.post(f"/needs/{need_id}/match-runs", json={"weights": weights}, headers=h)
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == "weights" and re.search(shown, error["problem"]), error
    assert "The defaults are: pathway fit 20%, coverage 15%" in error["problem"]
    exercise = {"title": "x", "commissioning_body": "y", "default_weights": weights}
    r = await client.post("/exercises", json=exercise, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "default_weights", r.text
    conn = await db.connect(fresh_db)
    try:
        assert await conn.fetchval("select count(*) from match_run") == 0
    finally:
        await conn.close()


async def test_weights_are_percentages_and_every_run_shows_the_ones_used(client, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    table = {"quality": 30, "pathway_fit": 30, "coverage": 20, "capacity": 10, "local_priorities": 10}
    run = (await client.post(f"/needs/{need_id}/match-runs", json={"weights": table}, headers=h)).json()
    assert run["weights_percent"] == {c: float(table.get(c, 0)) for c in matching.CRITERIA}
    assert run["weights"]["quality"] == pytest.approx(0.3)
    for s in run["ranking"]:
        assert {c["criterion"]: round(c["weight"] * 100, 1) for c in s["criteria"]} == run["weights_percent"]
    stored = (await client.get(f"/match-runs/{run['id']}", headers=h)).json()
    assert stored["weights_percent"] == run["weights_percent"]


async def test_weights_change_the_ranking_explainably(client, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    only_capacity = {
        "pathway_fit": 0,
        "coverage": 0,
        "capacity": 100,
        "financial_viability": 0,
        "quality": 0,
        "local_priorities": 0,
        "added_value": 0,
        "social_value": 0,
        "sustainability": 0,
    }
    run = (
        await client.post(
            f"/needs/{need_id}/match-runs", json={"weights": only_capacity}, params={"limit": 500}, headers=h
        )
    ).json()
    assert run["weights"]["capacity"] == 1.0
    capacity_scores = [next(c["score"] for c in s["criteria"] if c["criterion"] == "capacity") for s in run["ranking"]]
    assert capacity_scores == sorted(capacity_scores, reverse=True)


async def test_exercise_and_need_crud_with_validation_and_if_match(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    r = await client.post(
        "/exercises",
        json={
            "title": "Probation pathways 2027",
            "commissioning_body": "Probation trust",
            "default_weights": {"quality": 40, "pathway_fit": 30, "coverage": 30},
        },
        headers=h,
    )
    assert r.status_code == 201
    exercise, tag = r.json(), r.headers["etag"]
    assert exercise["status"] == "draft"
    assert exercise["default_weights"] == {"quality": 40, "pathway_fit": 30, "coverage": 30}
    bad = await client.post(f"/exercises/{exercise['id']}/needs", json={**NEED, "pathway": "ACOM"}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["suggestion"] == "ACCOM"
    bad = await client.post(f"/exercises/{exercise['id']}/needs", json={**NEED, "annual_volume": -1}, headers=h)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "annual_volume"
    bad = await client.post(f"/exercises/{exercise['id']}/needs", json={**NEED, "areas": []}, headers=h)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "areas"
    r = await client.post(f"/exercises/{exercise['id']}/needs", json=NEED, headers=h)
    assert r.status_code == 201
    need, need_tag = r.json(), r.headers["etag"]
    assert need["sector_preference"]["third_sector"] == 0.8 and need["weight_overrides"] is None
    # optimistic concurrency on exercises and needs too
    r = await client.patch(f"/exercises/{exercise['id']}", json={"status": "engagement_open"}, headers=h)
    assert r.status_code == 428
    r = await client.patch(
        f"/exercises/{exercise['id']}", json={"status": "engagement_open"}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 422, "an exercise opens for engagement by being published, not by saying so"
    assert r.json()["errors"] == [
        {
            "field": "status",
            "problem": f"an exercise opens for market engagement when it is published: "
            f"POST /exercises/{exercise['id']}/publish",
        }
    ]
    r = await client.patch(f"/exercises/{exercise['id']}", json={"status": "closed"}, headers={**h, "If-Match": tag})
    assert r.status_code == 200 and r.json()["status"] == "closed", "a draft given up"
    r = await client.patch(f"/exercises/{exercise['id']}", json={"status": "draft"}, headers={**h, "If-Match": tag})
    assert r.status_code == 412
    r = await client.patch(
        f"/needs/{need['id']}",
        json={"annual_volume": 75, "weight_overrides": {"capacity": 60, "quality": 40}},
        headers={**h, "If-Match": need_tag},
    )
    assert r.status_code == 200 and r.json()["annual_volume"] == 75 and r.json()["areas"] == NEED["areas"]
    need_tag = r.headers["etag"]
    run = (await client.post(f"/needs/{need['id']}/match-runs", headers=h)).json()
    assert run["weights_percent"]["capacity"] == 60 and run["weights_percent"]["coverage"] == 0, "the whole table"
    r = await client.delete(f"/needs/{need['id']}", headers={**h, "If-Match": need_tag})
    assert r.status_code == 409, "a need with stored runs is evidence and stays"
    r = await client.post(f"/exercises/{exercise['id']}/needs", json=NEED, headers=h)
    r = await client.delete(f"/needs/{r.json()['id']}", headers={**h, "If-Match": r.headers["etag"]})
    assert r.status_code == 204


async def test_partnerships_cover_the_exercise_and_name_the_gaps(client, keys, fresh_db):
    _, exercise_id = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    r = await client.post(f"/exercises/{exercise_id}/partnerships", headers=h)
    assert r.status_code == 201, r.text
    run = r.json()
    plan = run["plan"]
    assert len(run["match_run_ids"]) == len((await client.get(f"/exercises/{exercise_id}", headers=h)).json()["needs"])
    cells = {(c["need_id"], c["area"]) for c in plan["cells"]}
    uncovered = {(c["need_id"], c["area"]) for c in plan["uncovered"]}
    assert plan["options"], "at least one partnership option"
    for option in plan["options"]:
        members = [option["lead"], *option["partners"]]
        delivered = {(c["need_id"], c["area"]) for m in members for c in m["cells"]}
        assert delivered == cells - uncovered
    # the seeded market has no finance provider in Herefordshire: a gap the plan must name
    conn = await db.connect(fresh_db)
    finance_need = await conn.fetchval(
        "select id from need where pathway_code = 'FINANCE' and exercise_id = $1", exercise_id
    )
    await conn.close()
    assert (finance_need, "E06000019") in uncovered
    assert (await client.get(f"/partnership-runs/{run['id']}", headers=h)).json() == run
    # suitable providers only, as the report counts the market: from the same runs, the same cells and gaps (a
    # provider scoring below the threshold was proposed as a partner where the report said there was no market)
    assert run["suitable_score"] == 0.6
    report = (await client.get(f"/exercises/{exercise_id}/report", headers=h)).json()
    assert report["method"]["match_run_ids"] == run["match_run_ids"]
    assert report["partnerships"]["coverable_count"] == plan["coverable_count"]
    assert {(c["need_id"], c["area"]) for c in report["partnerships"]["uncovered"]} == uncovered
    # every match run it stored has its own audit row (they had none: a report then read runs nobody was recorded
    # making), and the partnership run's row names them
    conn = await db.connect(fresh_db)
    try:
        details = [r["detail"] for r in await conn.fetch("select detail from audit_log order by id")]
    finally:
        await conn.close()
    need_of = {n["id"] for n in (await client.get(f"/exercises/{exercise_id}", headers=h)).json()["needs"]}
    runs = [(await client.get(f"/match-runs/{i}", params={"limit": 0}, headers=h)).json() for i in run["match_run_ids"]]
    assert {r["need_id"] for r in runs} == need_of
    for made in runs:
        assert f"match run {made['id']} for need {made['need_id']}" in details
    ids = ", ".join(map(str, run["match_run_ids"][:-1])) + " and " + str(run["match_run_ids"][-1])
    assert f"partnership run {run['id']} for exercise {exercise_id}, from match runs {ids}" in details


async def test_the_match_command_prints_a_ranked_table(databases, template_db):
    name = await databases.create("cli-match", template=template_db)
    dsn = databases.dsn(name)
    need_id, _ = await seeded_need(dsn)
    result = run_cli("match", str(need_id), "--top", "3", dsn=dsn)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Match run ") and "eligible" in lines[2]
    rows = lines[lines.index(next(line for line in lines if line.startswith("---"))) + 1 :]
    assert len(rows) == 3 and "total" in result.stdout and "contribution" in result.stdout
    assert lines[3].startswith("  weights, as percentages of the score: pathway fit ") and lines[3].endswith("%")
    none = run_cli("match", str(need_id), "--top", "0", dsn=dsn)  # an empty table and success, before
    assert none.returncode == 2 and "must be at least 1, not 0" in none.stderr
    for bad in ("1.5", "-2", "nan", "most"):  # a report's threshold is a score, as the API's is (0 to 1)
        refused = run_cli("report", "1", "--threshold", bad, dsn=dsn)
        assert refused.returncode == 2 and "--threshold" in refused.stderr and "from 0 to 1" in refused.stderr, bad
    await databases.drop(name)


# --- the per-worker match cache (marketplace/exercises/pools.py) ----------------------------------


async def expected_ranking(dsn: str, need_id: int, limit: int, excluded_limit: int = 200) -> dict:
    """What ranking the directory fetched afresh from the database gives (the reference the cache must equal)."""
    import datetime as dt

    import msgspec

    import matching
    from marketplace.exercises import service
    from marketplace.taxonomy.queries import fetch_taxonomy

    # the providers with an active service in the pathway in, above or below the need's areas, as the core's
    # Candidate, straight from the tables (not the derived columns the directory keeps)
    candidates_sql = """
        select coalesce(json_agg(json_build_object(
            'provider_id', p.id, 'name', p.name, 'sector', lf.sector_code, 'legal_form', p.legal_form,
            'founded_year', p.founded_year,
            'services', (select coalesce(json_agg(json_build_object(
                    'service_id', s.id, 'name', s.name, 'pathway', s.pathway_code,
                    'cohorts', (select coalesce(json_agg(sc.cohort_code order by sc.cohort_code), '[]')
                                from service_cohort sc where sc.service_id = s.id),
                    'areas', (select coalesce(json_agg(sa.area_code order by sa.area_code), '[]')
                              from service_area sa where sa.service_id = s.id),
                    'capacity', s.capacity_per_year, 'min_age', s.min_age, 'max_age', s.max_age, 'gender', s.gender,
                    'years_experience', s.years_delivering, 'description', s.description,
                    'outcomes', (select coalesce(json_agg(json_build_object(
                                        'outcome', o.outcome, 'measure', o.measure, 'value', o.value::float8,
                                        'period', o.period, 'people', o.people, 'source', o.source, 'note', o.note,
                                        'desired_outcomes', o.desired_outcomes,
                                        'verified', o.id in (
                                            select o2.id from service_outcome o2 join evidence_verification v
                                              on v.service_id = o2.service_id
                                             and v.outcome_fingerprint = outcome_fingerprint(o2)))
                                        order by o.position, o.id), '[]')
                                 from service_outcome o where o.service_id = s.id),
                    'accreditations', (
                        select coalesce(json_agg(a.accreditation_code order by a.accreditation_code), '[]')
                        from service_accreditation a where a.service_id = s.id),
                    'verified_accreditations', (
                        select coalesce(json_agg(a.accreditation_code order by a.accreditation_code), '[]')
                        from service_accreditation a join evidence_verification v
                          on v.service_id = a.service_id and v.accreditation_code = a.accreditation_code
                        where a.service_id = s.id))
                    order by s.position, s.id), '[]')
                from service s where s.provider_id = p.id and s.status = 'active'),
            'annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8,
            'accreditations', (select coalesce(json_agg(pa.accreditation_code order by pa.accreditation_code), '[]')
                               from provider_accreditation pa where pa.provider_id = p.id),
            'verified_accreditations', (
                select coalesce(json_agg(pa.accreditation_code order by pa.accreditation_code), '[]')
                from provider_accreditation pa join evidence_verification v
                  on v.provider_id = pa.provider_id and v.service_id is null
                 and v.accreditation_code = pa.accreditation_code
                where pa.provider_id = p.id),
            'volunteers', p.volunteers,
            'premises_areas', (select coalesce(json_agg(pm.area_code order by pm.id), '[]')
                               from provider_premises pm where pm.provider_id = p.id),
            'match_funding_per_year', p.match_funding_per_year, 'funding_sources', p.other_funding_sources,
            'partner_organisations', p.partner_organisations,
            'social_value', (select coalesce(json_agg(sv.commitment_code order by sv.commitment_code), '[]')
                             from provider_social_value sv where sv.provider_id = p.id),
            'resources_text', concat_ws('. ', nullif(p.description, ''),
                                        (select string_agg(pm.description, '. ' order by pm.id)
                                         from provider_premises pm where pm.provider_id = p.id),
                                        nullif(array_to_string(p.partner_organisations, ', '), '')),
            'last_confirmed', coalesce(p.last_confirmed_at, p.created_at)::date) order by p.id), '[]')::text
        from provider p join legal_form lf on lf.code = p.legal_form
        where p.status = 'published' and exists (
            select 1 from service s join service_area sa on sa.service_id = s.id
            where s.provider_id = p.id and s.status = 'active' and s.pathway_code = $1 and exists (
                select 1 from area_closure cl
                where (cl.ancestor = sa.area_code and cl.descendant = any($2::text[]))
                   or (cl.descendant = sa.area_code and cl.ancestor = any($2::text[]))))"""
    conn = await db.connect(dsn)
    try:
        need = await service.get_need(conn, need_id)
        exercise = await service.get_exercise(conn, need.exercise_id)
        weights = service.weights_for(exercise, need)
        tax = await fetch_taxonomy(conn)
        cands = msgspec.json.decode(
            await conn.fetchval(candidates_sql, need.pathway, need.areas), type=list[matching.Candidate]
        )
        ranking = matching.rank(
            service.core_need(need, tax.codes("desired_outcomes")),
            cands,
            weights,
            areas=tax.matching_areas,
            as_of=dt.date.today(),
            limit=limit,
            excluded_limit=excluded_limit,
            thesaurus=matching_thesaurus(),
        )
        return msgspec.json.decode(msgspec.json.encode(ranking))
    finally:
        await conn.close()


async def change_service(client, headers: dict, provider_id: int, service_id: int, patch: dict):
    path = f"/providers/{provider_id}/services/{service_id}"
    tag = (await client.get(path, headers=headers)).headers["etag"]
    return await client.patch(path, json=patch, headers={**headers, "If-Match": tag})


async def test_the_match_cache_stays_exact_after_profile_writes(client, keys, fresh_db):
    await stays_exact_after_profile_writes(client, keys, fresh_db, client.app.state.match_pools)


async def stays_exact_after_profile_writes(client, keys, fresh_db, cache: pools.MatchPools) -> None:
    """Match runs agree with ranking the directory read afresh, through profile writes, a verification and an
    archiving, reading only the profiles written since (tests/test_match_helper.py runs it with a helper too)."""
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    first = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    expected = await expected_ranking(fresh_db, need_id, 500)
    assert first["ranking"] == expected["scored"] and first["excluded"] == expected["excluded"]
    assert cache.loads == 1
    assert cache.details_read == len(first["ranking"]), "every shown provider's profile read once"
    read_before = cache.details_read
    # the same providers shown again (other weights), none written since: their kept profiles serve, none read again
    reweighted = {
        "weights": {
            "quality": 30,
            "capacity": 10,
            "coverage": 20,
            "pathway_fit": 10,
            "local_priorities": 10,
            "financial_viability": 10,
            "social_value": 10,
        }
    }
    again = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h, json=reweighted)
    assert again.status_code == 201, again.text
    assert {s["provider_id"] for s in again.json()["ranking"]} == {s["provider_id"] for s in first["ranking"]}
    assert cache.details_read == read_before
    # the last-ranked provider rewrites its profile, and its service grows and describes itself in the words of
    # the need's priority (local priorities read the services' own words, not the organisation's description)
    last = first["ranking"][-1]["provider_id"]
    provider = await keys.headers("provider", last)
    tag = (await client.get(f"/providers/{last}")).headers["etag"]
    r = await client.patch(
        f"/providers/{last}",
        headers={**provider, "If-Match": tag},
        json={
            "description": "Tenancy sustainment for every tenant: sustaining tenancies.",
            "resources": {"volunteers": 400},
        },
    )
    assert r.status_code == 200, r.text
    grown = first["ranking"][-1]["service_ids"][0]
    r = await change_service(
        client,
        provider,
        last,
        grown,
        {
            "capacity": {"service_users_per_year": 5000},
            "description": "Tenancy sustainment for every tenant: sustaining tenancies.",
        },
    )
    assert r.status_code == 200, r.text
    # and another provider's services in the pathway now cover Herefordshire only (a child table)
    other = first["ranking"][0]["provider_id"]
    for sid in first["ranking"][0]["service_ids"]:
        r = await change_service(client, await keys.headers("provider", other), other, sid, {"areas": ["E06000019"]})
        assert r.status_code == 200, r.text
    # and an admin verifies the outcomes record of a third provider's qualifying service (a verification is a write
    # to the provider: the pool takes it in, and the fresh reading must agree)
    third_pid, third_sid = first["ranking"][1]["provider_id"], first["ranking"][1]["service_ids"][0]
    admin = await keys.headers("admin")
    tag = (await client.get(f"/providers/{third_pid}")).headers["etag"]
    r = await client.post(
        f"/providers/{third_pid}/services/{third_sid}/outcomes/0/verification",
        json={"seen": "contract return seen"},
        headers={**admin, "If-Match": tag},
    )
    assert r.status_code in (200, 404), r.text  # 404: that service has no outcomes record
    written = {last, other} | ({third_pid} if r.status_code == 200 else set())
    second = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    assert cache.loads == 1 and cache.reloaded >= 2, "the changed providers were reloaded, not the directory"
    expected = await expected_ranking(fresh_db, need_id, 500)
    assert second["ranking"] == expected["scored"] and second["excluded"] == expected["excluded"]
    assert second["ranking"] != first["ranking"]
    shown = {s["provider_id"] for s in second["ranking"]}
    new_or_written = (shown - {s["provider_id"] for s in first["ranking"]}) | (shown & written)
    assert cache.details_read - read_before == len(new_or_written), "only profiles written since, or new, read"
    moved = next(s for s in second["ranking"] if s["provider_id"] == last)
    assert moved["rank"] < first["ranking"][-1]["rank"]
    # archiving (an admin write straight to the row) is seen too
    conn = await db.connect(fresh_db)
    try:
        await conn.execute("update provider set status = 'archived' where id = $1", last)
    finally:
        await conn.close()
    third = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    assert last not in [s["provider_id"] for s in third["ranking"]]
    assert third["directory_size"] == second["directory_size"] - 1


async def test_the_profiles_kept_for_matching_are_bounded_least_recently_shown_first(
    client, keys, fresh_db, monkeypatch
):
    monkeypatch.setattr(pools, "DETAILS_KEPT", 3)
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    cache = client.app.state.match_pools
    first = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 5}, headers=h)
    assert first.status_code == 201, first.text
    shown = [s["provider_id"] for s in first.json()["ranking"]]
    assert len(shown) == 5 and cache.details_read == 5
    assert list(cache.kept) == sorted(shown)[-3:], "the last three read kept, the others given up"
    again = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 4}, headers=h)
    assert again.status_code == 201, again.text
    assert [s["provider_id"] for s in again.json()["ranking"]] == shown[:4]
    given_up = set(shown[:4]) - set(sorted(shown)[-3:])
    assert cache.details_read == 5 + len(given_up), "only those given up read again"
    assert len(cache.kept) == 3


async def test_a_match_run_stores_what_it_returns_and_counts_the_whole_directory(client, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db, "FINANCE")
    h = await keys.headers("commissioner")
    r = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 3}, headers=h)
    assert r.status_code == 201, r.text
    run = r.json()
    assert len(run["ranking"]) == min(3, run["eligible_count"]) and len(run["providers"]) == len(run["ranking"])
    # the run as POST gives it (made from the stored text) is, byte for byte, the stored run as GET encodes it
    got = await client.get(f"/match-runs/{run['id']}", params={"limit": 500}, headers=h)
    assert got.content == r.content and got.json() == run
    again = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 3}, headers=h)
    assert again.status_code == 200 and again.content == r.content, "the same request: the stored run, as it was"
    conn = await db.connect(fresh_db)
    try:
        published = await conn.fetchval("select count(*) from provider where status = 'published'")
        not_offering = await conn.fetchval(
            "select count(*) from provider where status = 'published' and not 'FINANCE' = any(pathway_codes)"
        )
        audit = await conn.fetchval(
            "select count(*) from audit_log where detail = $1", f"match run {run['id']} for need {need_id}"
        )
    finally:
        await conn.close()
    assert run["directory_size"] == published and run["excluded_count"] == published - run["eligible_count"]
    assert run["excluded_by_reason"]["pathway_not_offered"] == not_offering
    assert audit == 1


async def test_match_runs_hold_no_connection_while_ranking_and_are_bounded_per_worker(keys, fresh_db, monkeypatch):
    """Eight match runs sent at once, as one worker serves them (litestar's test client serves one at a time, so its
    gathered requests never overlapped): as many rank together as the worker has slots (MatchPools.slots), no more,
    and none holds a pooled connection while it ranks (each request's connections counted apart, as the others'
    reads and stores go on meanwhile)."""
    import asyncio
    import contextvars
    from collections import Counter

    from conftest import app_settings, served_at_once

    import matching
    from marketplace.app import create_app

    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    request: contextvars.ContextVar[int | None] = contextvars.ContextVar("request", default=None)
    held: Counter[int | None] = Counter()  # pooled connections each request holds now
    real_acquire = asyncpg.Pool.acquire

    class Counted:
        def __init__(self, acquiring):
            self.acquiring, self.who = acquiring, request.get()

        async def __aenter__(self):
            conn = await self.acquiring.__aenter__()
            held[self.who] += 1
            return conn

        async def __aexit__(self, *exc):
            held[self.who] -= 1
            return await self.acquiring.__aexit__(*exc)

    monkeypatch.setattr(asyncpg.Pool, "acquire", lambda pool, *a, **kw: Counted(real_acquire(pool, *a, **kw)))
    app = create_app(app_settings(fresh_db))
    async with served_at_once(app) as client:
        assert (await client.post(f"/needs/{need_id}/match-runs", headers=h)).status_code == 201  # loads the cache
        match_pools = app.state.match_pools
        seen: list[tuple[int | None, int, int]] = []
        real = matching.shortlist

        def shortlist(*args, **kwargs):
            # runs in a worker thread, in its request's context: how many pooled connections does it hold now?
            who = request.get()
            seen.append((who, held[who], match_pools.active))
            import time

            time.sleep(0.05)  # long enough for the other requests to pile up
            return real(*args, **kwargs)

        monkeypatch.setattr(matching, "shortlist", shortlist)

        async def run(i: int):
            request.set(i)  # the app serves the request in this task (httpx's ASGI transport): its context
            return await client.post(f"/needs/{need_id}/match-runs?limit={10 + i}", headers=h)

        # eight different requests (an identical one would be given the stored run back without ranking)
        results = await asyncio.gather(*(run(i) for i in range(8)))
    assert [r.status_code for r in results] == [201] * 8
    assert sorted(who for who, _, _ in seen) == list(range(8))
    assert all(mine == 0 for _, mine, _ in seen), f"a connection was held while ranking: {seen}"
    assert match_pools.size == 2
    assert match_pools.peak_active <= match_pools.size, f"{match_pools.peak_active} ranked at once: more than the slots"
    assert match_pools.peak_active == match_pools.size, "the runs sent at once never ranked together up to the slots"
    assert max(active for _, _, active in seen) == match_pools.size


# --- matching reads services ---------------------------------------------------------------------------------


async def a_need(client, headers: dict, **changes) -> int:
    exercise = (
        await client.post("/exercises", json={"title": "Services", "commissioning_body": "Probation"}, headers=headers)
    ).json()
    r = await client.post(f"/exercises/{exercise['id']}/needs", json={**NEED, **changes}, headers=headers)
    assert r.status_code == 201, r.text
    need_id: int = r.json()["id"]
    return need_id


async def published_without(dsn: str, pathway: str) -> int:
    conn = await db.connect(dsn)
    try:
        pid: int = await conn.fetchval(
            "select min(id) from provider where status = 'published' and not $1 = any(pathway_codes)", pathway
        )
        return pid
    finally:
        await conn.close()


SERVICE = {
    "pathway": "ACCOM",
    "description": "Shared houses with tenancy sustainment for adults leaving custody.",
    "cohorts": ["ADULTS"],
    "years_delivering": 5,
}


async def test_a_run_reads_services_in_the_needs_areas_for_its_people(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    pid = await published_without(fresh_db, "ACCOM")
    owner = await keys.headers("provider", pid)
    telford = await client.post(
        f"/providers/{pid}/services",
        json={**SERVICE, "name": "Telford rooms", "areas": ["E06000020"], "capacity": {"service_users_per_year": 40}},
        headers=owner,
    )
    shropshire = await client.post(
        f"/providers/{pid}/services",
        json={
            **SERVICE,
            "name": "Shropshire houses",
            "areas": ["E06000051"],
            "capacity": {"service_users_per_year": 700},
        },
        headers=owner,
    )
    assert telford.status_code == shropshire.status_code == 201, (telford.text, shropshire.text)
    ids = [telford.json()["id"], shropshire.json()["id"]]
    need_id = await a_need(client, h)  # accommodation for adults in Telford, 60 a year
    run = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    expected = await expected_ranking(fresh_db, need_id, 400)
    assert run["ranking"] == expected["scored"] and run["excluded"] == expected["excluded"]
    mine = next(s for s in run["ranking"] if s["provider_id"] == pid)
    assert mine["service_ids"] == ids and mine["capacity"] == 40  # Shropshire's 700 are not Telford's
    assert next(f for f in run["providers"] if f["provider_id"] == pid)["capacity"] == 40
    capacity = next(c for c in mine["criteria"] if c["criterion"] == "capacity")
    assert (
        '("Telford rooms" 40)' in capacity["evidence"][0] and '"Shropshire houses" outside' in capacity["evidence"][0]
    )
    assert "qualifying services" in run["method"]
    # an inactive service does not count: what is left covers Shropshire only, so it is counted, not assessed
    r = await change_service(client, owner, pid, ids[0], {"status": "inactive"})
    assert r.status_code == 200, r.text
    before = run
    run = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    expected = await expected_ranking(fresh_db, need_id, 400)
    assert run["ranking"] == expected["scored"] and run["excluded"] == expected["excluded"]
    assert pid not in [s["provider_id"] for s in run["ranking"]] + [e["provider_id"] for e in run["excluded"]]
    assert run["eligible_count"] == before["eligible_count"] - 1
    no_area = run["excluded_by_reason"]["no_area_coverage"]
    assert no_area == before["excluded_by_reason"].get("no_area_coverage", 0) + 1


async def test_a_need_for_women_of_an_age_is_served_by_services_for_them(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    anyone = await a_need(client, h)
    women = await a_need(client, h, eligibility={"min_age": 18, "max_age": 25, "gender": "women"})
    first = (await client.post(f"/needs/{anyone}/match-runs", params={"limit": 500}, headers=h)).json()
    # the best-ranked provider for anyone makes its services there for men only
    top = first["ranking"][0]
    owner = await keys.headers("provider", top["provider_id"])
    for sid in top["service_ids"]:
        r = await change_service(client, owner, top["provider_id"], sid, {"eligibility": {"gender": "men"}})
        assert r.status_code == 200, r.text
    run = (await client.post(f"/needs/{women}/match-runs", params={"limit": 500}, headers=h)).json()
    expected = await expected_ranking(fresh_db, women, 500)
    assert run["ranking"] == expected["scored"] and run["excluded"] == expected["excluded"]
    assert run["need"]["eligibility"] == {"min_age": 18, "max_age": 25, "gender": "women"}
    # its services in the pathway are all men's now (a need for anyone takes every one of them)
    assert top["provider_id"] not in [s["provider_id"] for s in run["ranking"]]
    reasons = next(e["reasons"] for e in run["excluded"] if e["provider_id"] == top["provider_id"])
    assert reasons == [
        {
            "code": "gender_not_served",
            "message": "none of its ACCOM services serves women aged 18 to 25",
            "detail": ["women"],
        }
    ]
    assert run["excluded_by_reason"]["gender_not_served"] >= 1
    served = await fetchval(
        fresh_db,
        """select count(distinct s.provider_id) from service s join provider p on p.id = s.provider_id
           where p.status = 'published' and s.status = 'active' and s.pathway_code = 'ACCOM'
             and s.gender in ('women', 'both') and coalesce(s.min_age, 0) <= 25
             and coalesce(s.max_age, 200) >= 18""",
    )
    assert run["eligible_count"] <= served
    for s in run["ranking"]:
        fit = next(c for c in s["criteria"] if c["criterion"] == "pathway_fit")
        assert "serving the need's people (women, ages 18 to 25)" in fit["evidence"][0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"annual_volume": 0}, "annual_volume"),
        ({"annual_budget": 0}, "annual_budget"),
        ({"contract_years": 0.04}, "contract_years"),
    ],
)
async def test_a_need_that_could_not_be_matched_is_refused_when_made(client, keys, fresh_db, changes, field):
    # the matching core needs a volume and a budget to weigh capacity and finances against; the database keeps a
    # tenth of a year at least
    h = await keys.headers("commissioner")
    exercise = (await client.post("/exercises", json={"title": "x", "commissioning_body": "y"}, headers=h)).json()
    r = await client.post(f"/exercises/{exercise['id']}/needs", json={**NEED, **changes}, headers=h)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == field
    made = await client.post(f"/exercises/{exercise['id']}/needs", json=NEED, headers=h)
    r = await client.patch(f"/needs/{made.json()['id']}", json=changes, headers={**h, "If-Match": made.headers["etag"]})
    assert r.status_code == 400, r.text
    assert (await client.post(f"/needs/{made.json()['id']}/match-runs", headers=h)).status_code == 201
    # a need stored before these rules (the database allows 0) is refused when matched, not a server error
    if field != "contract_years":
        conn = await db.connect(fresh_db)
        try:
            await conn.execute(f"update need set {field} = 0 where id = $1", made.json()["id"])
        finally:
            await conn.close()
        r = await client.post(f"/needs/{made.json()['id']}/match-runs", headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == f"need.{field}"


async def test_dates_outside_the_years_a_record_can_be_about_are_refused(client, keys):
    # asyncpg stores the first and last dates Python has as -infinity and infinity; they would not read back
    h = await keys.headers("commissioner")
    for field, value in [("opens_on", "0001-01-01"), ("closes_on", "9999-12-31"), ("opens_on", "1899-12-31")]:
        r = await client.post("/exercises", json={"title": "x", "commissioning_body": "y", field: value}, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [{"field": field, "problem": "must be between 1900-01-01 and 2199-12-31"}]
    assert (await client.get("/exercises", headers=h)).json()["total"] == 1  # the seeded one alone


async def test_weights_in_force_that_leave_nothing_to_weigh_are_a_422_naming_them(client, keys):
    # only local priorities weighed, and the need has none: each part is valid alone, together there is no ranking
    h = await keys.headers("commissioner")
    exercise = (
        await client.post(
            "/exercises",
            json={"title": "x", "commissioning_body": "y", "default_weights": {"local_priorities": 100}},
            headers=h,
        )
    ).json()
    need = {**NEED, "local_priorities": []}
    made = await client.post(f"/exercises/{exercise['id']}/needs", json=need, headers=h)
    assert made.status_code == 201, made.text
    for method, path in [
        ("post", f"/needs/{made.json()['id']}/match-runs"),
        ("post", f"/exercises/{exercise['id']}/partnerships"),
        ("post", f"/exercises/{exercise['id']}/match"),
    ]:
        r = await getattr(client, method)(path, headers=h)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["errors"][0]["field"] == "weights.local_priorities", path
    assert (await client.get(f"/needs/{made.json()['id']}/match-runs", headers=h)).json() == []  # nothing stored


async def test_a_shown_provider_written_while_the_ranking_is_explained_is_ranked_again(client, keys, fresh_db):
    """The shown providers' profiles, none kept from an earlier run, are read in two parts, the second while the
    first part is explained; a provider of the second part written between the two reads is caught by the second
    read's check, and the directory is ranked again: the run equals ranking the directory afresh (with the write)."""
    from marketplace.exercises.pools import FIRST_PART

    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    before = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    assert len(before["ranking"]) > FIRST_PART, "the need must show more providers than the first part"
    target = before["ranking"][FIRST_PART]["provider_id"]  # the first provider of the second part
    pools = client.app.state.match_pools
    reads: list[list[int]] = []
    original = pools._details

    async def details_then_a_write(ids: list[int], snapshot: str):
        got = await original(ids, snapshot)
        reads.append(list(ids))
        if len(reads) == 1:  # after the first part's read, the second part's first provider is renamed
            conn = await db.connect(fresh_db)
            try:
                await conn.execute("update provider set name = name || ' (renamed)' where id = $1", target)
            finally:
                await conn.close()
        return got

    pools._details = details_then_a_write
    pools.kept.clear()  # none kept: read in two parts
    try:  # another limit: not the stored run's inputs, so ranked afresh
        r = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 400}, headers=h)
    finally:
        del pools._details
    assert r.status_code == 201, r.text
    run = r.json()
    assert len(reads) == 3, "two parts read, a write caught in the second, then all read again (all kept)"
    assert reads[2] == [s["provider_id"] for s in run["ranking"]]
    assert reads[0] == [s["provider_id"] for s in before["ranking"][:FIRST_PART]]
    renamed = next(s for s in run["ranking"] if s["provider_id"] == target)
    assert renamed["name"].endswith(" (renamed)")
    expected = await expected_ranking(fresh_db, need_id, 400)
    assert run["ranking"] == expected["scored"] and run["excluded"] == expected["excluded"]


async def test_a_kept_profile_written_since_is_caught_and_the_directory_ranked_again(client, keys, fresh_db):
    """Every shown provider's profile kept from an earlier run: all are checked in one statement; one written after
    the pool's snapshot is caught there (and read again), and the directory is ranked again with the write."""
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    before = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    target = before["ranking"][3]["provider_id"]
    pools = client.app.state.match_pools
    assert {s["provider_id"] for s in before["ranking"]} <= pools.kept.keys()
    reads: list[list[int]] = []
    original = pools._details

    async def a_write_then_details(ids: list[int], snapshot: str):
        if not reads:  # after the ranking, before its check: a shown provider is renamed
            conn = await db.connect(fresh_db)
            try:
                await conn.execute("update provider set name = name || ' (renamed)' where id = $1", target)
            finally:
                await conn.close()
        reads.append(list(ids))
        return await original(ids, snapshot)

    pools._details = a_write_then_details
    try:
        r = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 400}, headers=h)
    finally:
        del pools._details
    assert r.status_code == 201, r.text
    run = r.json()
    assert len(reads) == 2 and reads[0] == reads[1] == [s["provider_id"] for s in run["ranking"]], "all at once, twice"
    assert next(s for s in run["ranking"] if s["provider_id"] == target)["name"].endswith(" (renamed)")
    expected = await expected_ranking(fresh_db, need_id, 400)
    assert run["ranking"] == expected["scored"] and run["excluded"] == expected["excluded"]


async def test_contract_years_finer_than_a_tenth_are_refused_naming_the_field(client, keys, fresh_db):
    """Contract years are stored to a tenth of a year: more decimal places are a 422 naming `contract_years` (never
    rounded: 1.04 years stored as 1.0 would change the contract's value), on a new need and a change; a tenth is kept
    as given, and sent again changes nothing."""
    h = await keys.headers("commissioner")
    x = await client.post(
        "/exercises", headers=h, json={"title": "Tenths", "commissioning_body": "Telford & Wrekin Council"}
    )
    assert x.status_code == 201, x.text
    r = await client.post(f"/exercises/{x.json()['id']}/needs", headers=h, json={**NEED, "contract_years": 1.04})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "contract_years", "problem": "at most 1 decimal place (a tenth of a year), not 1.04"}
    ]
    assert (await client.get(f"/exercises/{x.json()['id']}/needs", headers=h)).json() == []
    n = await client.post(f"/exercises/{x.json()['id']}/needs", headers=h, json={**NEED, "contract_years": 2.5})
    assert n.status_code == 201 and n.json()["contract_years"] == 2.5, n.text
    path = f"/needs/{n.json()['id']}"
    r = await client.patch(path, headers={**h, "If-Match": '"v1"'}, json={"contract_years": 2.55})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contract_years", r.text
    r = await client.patch(path, headers={**h, "If-Match": '"v1"'}, json={"contract_years": 2.50})
    assert r.status_code == 200 and r.headers["etag"] == '"v1"' and r.json() == n.json()


async def test_a_change_that_changes_nothing_keeps_the_version_and_records_nothing(client, keys, fresh_db):
    """An exercise or a need patched with what it already says (as a form saved unchanged does; areas in another
    order, a title's surrounding spaces): 200 as it is, version, ETag and updated_at unmoved, no audit row. If-Match
    is still checked, and a real change still moves the version on."""
    h = await keys.headers("commissioner")
    x = await client.post(
        "/exercises",
        headers=h,
        json={"title": "Same again", "commissioning_body": "Telford & Wrekin Council", "closes_on": "2027-03-31"},
    )
    assert x.status_code == 201, x.text
    exercise = x.json()
    n = await client.post(
        f"/exercises/{exercise['id']}/needs", headers=h, json={**NEED, "areas": ["E06000020", "E06000051"]}
    )
    assert n.status_code == 201, n.text
    need = n.json()
    exercise = (await client.get(f"/exercises/{exercise['id']}", headers=h)).json()
    for path, record, payload in [
        (f"/exercises/{exercise['id']}", exercise, {}),
        (f"/exercises/{exercise['id']}", exercise, {"title": " Same again ", "closes_on": "2027-03-31"}),
        (f"/needs/{need['id']}", need, {"areas": ["E06000051", "E06000020"], "cohorts": ["ADULTS"]}),
        (f"/needs/{need['id']}", need, {"local_priorities": NEED["local_priorities"], "title": need["title"]}),
    ]:
        r = await client.patch(path, headers={**h, "If-Match": '"v1"'}, json=payload)
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == '"v1"', (path, payload)
        assert r.json() == record, (path, payload)
    assert (await client.patch(f"/needs/{need['id']}", headers={**h, "If-Match": '"v7"'}, json={})).status_code == 412
    updated = "select count(*) from audit_log where detail = any($1::text[])"
    details = [f"updated exercise {exercise['id']}", f"updated need {need['id']}"]
    assert await fetchval(fresh_db, updated, details) == 0
    r = await client.patch(f"/needs/{need['id']}", headers={**h, "If-Match": '"v1"'}, json={"annual_volume": 61})
    assert r.status_code == 200 and r.headers["etag"] == '"v2"'
    assert await fetchval(fresh_db, updated, details) == 1


async def test_a_match_runs_time_is_the_apps_clocks(fresh_db, keys):
    """A run is made at the app's clock's time, the clock that gives its as-of date (its created_at was the
    database's now(), so a run could be dated a day other than the one it was made as of)."""
    import datetime as dt

    from conftest import app_settings
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from marketplace.clock import FixedClock

    need_id, _ = await seeded_need(fresh_db)
    clock = FixedClock(dt.datetime(2027, 3, 1, 23, 30, tzinfo=dt.UTC))
    commissioner = await keys.headers("commissioner")
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        r = await client.post(f"/needs/{need_id}/match-runs", headers=commissioner)
        assert r.status_code == 201, r.text
        run = r.json()
        assert (run["created_at"], run["as_of"]) == ("2027-03-01T23:30:00Z", "2027-03-01"), run["created_at"]
        stored = (await client.get(f"/match-runs/{run['id']}", headers=commissioner)).json()
        assert stored["created_at"] == "2027-03-01T23:30:00Z"


async def test_explanations_name_pathways_as_the_taxonomy_does(client, keys, fresh_db):
    """The explanations named a pathway by the matching core's own default names ("Youth diversion") while the run's
    other fields, GET /pathways and the reports used the taxonomy's ("Youth prevention and diversion")."""
    names = {p["code"]: p["name"] for p in (await client.get("/pathways")).json()}
    assert names["YOUTH_DIVERSION"] != matching.DEFAULT_PATHWAY_NAMES["YOUTH_DIVERSION"]  # else this proves nothing
    need_id, _ = await seeded_need(fresh_db, "YOUTH_DIVERSION")
    run = (await client.post(f"/needs/{need_id}/match-runs", headers=await keys.headers("commissioner"))).json()
    words = msgspec.json.encode(run["ranking"]).decode()
    assert f"YOUTH_DIVERSION ({names['YOUTH_DIVERSION']})" in words
    assert f"YOUTH_DIVERSION ({matching.DEFAULT_PATHWAY_NAMES['YOUTH_DIVERSION']})" not in words
    assert f"offers services in the {names['YOUTH_DIVERSION'].lower()} pathway" in words


async def test_what_a_post_creates_is_at_its_location(client, keys, fresh_db):
    """A 201 says where the new resource is (RFC 9110, 15.3.2): without Location a client takes the address it
    posted to, and exercises, needs, services and registrations gave none."""
    h = await keys.headers("commissioner")
    made = []
    r = await client.post("/exercises", json={"title": "Pathways 2028", "commissioning_body": "Trust"}, headers=h)
    made.append(r)
    made.append(await client.post(f"/exercises/{r.json()['id']}/needs", json=NEED, headers=h))
    provider_id = await fetchval(fresh_db, "select min(id) from provider where status = 'published'")
    owner = await keys.headers("provider", provider_id)
    service = {**SERVICE, "name": "Lanterns shared houses", "areas": ["E06000019"]}
    made.append(await client.post(f"/providers/{provider_id}/services", json=service, headers=owner))
    registration = {"name": "Lanterns of Ledbury CIC", "legal_form": "cic", "description": "Sample: a drop-in."}
    made.append(await client.post("/registrations", json=registration))
    admin = await keys.headers("admin")
    for r in made:
        assert r.status_code == 201, r.text
        created = r.json().get("provider", r.json())  # a registration: the provider, with its key beside it
        got = await client.get(r.headers["location"], headers=admin)
        assert got.status_code == 200 and got.json()["id"] == created["id"], r.headers["location"]


async def test_a_need_made_with_no_sector_preference_scores_social_value_without_one(client, keys, fresh_db):
    """The API stores a need's sector preference with every sector (0 when not given): a need made without one is
    scored as having none (0.6 commitments, 0.4 local presence), one preferring a sector with the 0.5/0.3/0.2
    split (METHOD.md, Social value). Before algorithm 2026.12-3 every need counted as having a preference."""
    h = await keys.headers("commissioner")
    none = {k: v for k, v in NEED.items() if k != "sector_preference"}
    runs = {}
    exercise = (
        await client.post("/exercises", json={"title": "Social value", "commissioning_body": "P"}, headers=h)
    ).json()
    for name, body in (("none", none), ("zeros", {**none, "sector_preference": {"third_sector": 0}}), ("some", NEED)):
        r = await client.post(f"/exercises/{exercise['id']}/needs", json=body, headers=h)
        assert r.status_code == 201, r.text
        need_id = r.json()["id"]
        runs[name] = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 5}, headers=h)).json()

    def social_value(run: dict) -> dict[str, float]:
        [criterion] = [c for c in run["ranking"][0]["criteria"] if c["criterion"] == "social_value"]
        return {k["name"]: k["weight"] for k in criterion["components"]}

    assert social_value(runs["none"]) == {"social_value_commitments": 0.6, "local_presence": 0.4}
    assert social_value(runs["zeros"]) == social_value(runs["none"])
    assert social_value(runs["some"]) == {
        "sector_preference": 0.5,
        "social_value_commitments": 0.3,
        "local_presence": 0.2,
    }
