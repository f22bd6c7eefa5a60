"""A need's `area_volumes` (expected service users a year per area) through the real app on real PostgreSQL: given,
read back, changed and cleared; refused with the field and code named when it breaks a rule, storing nothing; used by
match runs (coverage weighs the areas by them); named in words when a report's run is stale for it; in the report's
HTML and CSV, the console and the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from conftest import TELFORD_NEED, fetchval, run_cli
from openpyxl import load_workbook
from test_console import signed_in

from marketplace.exercises.models import RankedForReport
from marketplace.reports.build import area_capacities
from marketplace.settings import PROJECT_ROOT

TELFORD, SHROPSHIRE, WORCESTERSHIRE, MALVERN = "E06000020", "E06000051", "E10000034", "E07000235"
WORCESTERSHIRE_DISTRICTS = ("E07000234", MALVERN, "E07000236", "E07000237", "E07000238", "E07000239")
NEED = {**TELFORD_NEED, "title": "Accommodation, Telford and Shropshire", "areas": [TELFORD, SHROPSHIRE]}
"""Accommodation for 60 adults a year in Telford and Wrekin and in Shropshire (Shropshire has the more people)."""
MOSTLY_TELFORD = {TELFORD: 50, SHROPSHIRE: 10}


async def an_exercise(client, headers: dict) -> int:
    r = await client.post(
        "/exercises", json={"title": "Area volumes", "commissioning_body": "Probation"}, headers=headers
    )
    assert r.status_code == 201, r.text
    exercise_id: int = r.json()["id"]
    return exercise_id


async def stored_volumes(dsn: str, exercise_id: int) -> int:
    """The area volumes rows stored for the needs of an exercise."""
    count: int = await fetchval(
        dsn,
        "select count(*) from need_area_volume v join need n on n.id = v.need_id where n.exercise_id = $1",
        exercise_id,
    )
    return count


async def test_area_volumes_are_given_read_back_changed_and_cleared(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    r = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": {SHROPSHIRE: 10, TELFORD: 50}}, headers=h
    )
    assert r.status_code == 201, r.text
    need, tag = r.json(), r.headers["etag"]
    assert need["area_volumes"] == MOSTLY_TELFORD and list(need["area_volumes"]) == [TELFORD, SHROPSHIRE], "by code"
    assert (await client.get(f"/needs/{need['id']}", headers=h)).json()["area_volumes"] == MOSTLY_TELFORD
    listed = (await client.get(f"/exercises/{exercise_id}", headers=h)).json()["needs"]
    assert [n["area_volumes"] for n in listed] == [MOSTLY_TELFORD]

    # another field changed: the volumes stay
    r = await client.patch(f"/needs/{need['id']}", json={"title": "Rooms"}, headers={**h, "If-Match": tag})
    assert r.status_code == 200 and r.json()["area_volumes"] == MOSTLY_TELFORD, r.text
    tag = r.headers["etag"]
    # the same table written in another order changes nothing: same version, no audit row
    audit_rows = await fetchval(fresh_db, "select count(*) from audit_log")
    r = await client.patch(
        f"/needs/{need['id']}", json={"area_volumes": {SHROPSHIRE: 10, TELFORD: 50}}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 200 and r.headers["etag"] == tag
    assert await fetchval(fresh_db, "select count(*) from audit_log") == audit_rows
    # the whole table is replaced
    r = await client.patch(
        f"/needs/{need['id']}", json={"area_volumes": {TELFORD: 30, SHROPSHIRE: 30}}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 200 and r.json()["area_volumes"] == {TELFORD: 30, SHROPSHIRE: 30}
    assert r.headers["etag"] != tag
    tag = r.headers["etag"]
    # the volume and the volumes change together
    r = await client.patch(
        f"/needs/{need['id']}",
        json={"annual_volume": 80, "area_volumes": {TELFORD: 60, SHROPSHIRE: 20}},
        headers={**h, "If-Match": tag},
    )
    assert r.status_code == 200 and r.json()["annual_volume"] == 80, r.text
    tag = r.headers["etag"]
    # null clears them: coverage by population again
    r = await client.patch(f"/needs/{need['id']}", json={"area_volumes": None}, headers={**h, "If-Match": tag})
    assert r.status_code == 200 and r.json()["area_volumes"] is None
    assert await stored_volumes(fresh_db, exercise_id) == 0
    # a need made without them has none
    r = await client.post(f"/exercises/{exercise_id}/needs", json=NEED, headers=h)
    assert r.status_code == 201 and r.json()["area_volumes"] is None


BAD = [
    # a well-formed code the taxonomy does not know: 422, with a did-you-mean as for the need's areas
    ({TELFORD: 50, "E06000052": 10}, 422, "area_volumes.E06000052", "unknown area code 'E06000052'; did you mean "),
    # not an area code at all: 400, told as a need's areas are, by name
    ({TELFORD: 50, "Shropshire": 10}, 400, "area_volumes.Shropshire", "'Shropshire' is not an area code: areas are "),
    # an area outside the need's
    ({TELFORD: 50, "E06000019": 10}, 422, "area_volumes.E06000019", "Herefordshire (E06000019) is not one of the "),
    ({}, 400, "area_volumes", "must have at least one entry"),
    ({TELFORD: 60, SHROPSHIRE: 0}, 400, f"area_volumes.{SHROPSHIRE}", "must be 1 or more"),
    ({TELFORD: 50, SHROPSHIRE: "10"}, 400, f"area_volumes.{SHROPSHIRE}", "must be a whole number of 1 or more; got "),
    ({TELFORD: 50, SHROPSHIRE: 9.5}, 400, f"area_volumes.{SHROPSHIRE}", "must be a whole number of 1 or more; got "),
    ({TELFORD: 50, SHROPSHIRE: 20}, 422, "area_volumes", "the volumes add up to 70 service users a year, but the "),
    ([TELFORD], 400, "area_volumes", "must be an object in braces"),
]


@pytest.mark.parametrize(("volumes", "status", "field", "problem"), BAD)
async def test_area_volumes_breaking_a_rule_are_refused_naming_the_code_and_nothing_is_stored(
    client, keys, fresh_db, volumes, status, field, problem
):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    needs_before = await fetchval(fresh_db, "select count(*) from need")
    r = await client.post(f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": volumes}, headers=h)
    assert r.status_code == status, r.text
    [error] = r.json()["errors"]
    assert error["field"] == field and error["problem"].startswith(problem), error
    assert "Expected" not in r.text and "regex" not in r.text, "in plain words"
    assert await fetchval(fresh_db, "select count(*) from need") == needs_before
    # the same on a need's change: the need stays as it was
    made = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": MOSTLY_TELFORD}, headers=h
    )
    tag = made.headers["etag"]
    r = await client.patch(
        f"/needs/{made.json()['id']}", json={"area_volumes": volumes}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == status, r.text
    assert [(e["field"], e["problem"][: len(problem)]) for e in r.json()["errors"]] == [(field, problem)]
    now = await client.get(f"/needs/{made.json()['id']}", headers=h)
    assert now.headers["etag"] == tag and now.json()["area_volumes"] == MOSTLY_TELFORD
    assert await stored_volumes(fresh_db, exercise_id) == 2


async def test_an_area_given_twice_is_named_with_its_object(client, keys):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    body = (
        '{"title": "Twice", "pathway": "ACCOM", "areas": ["E06000020", "E06000051"], "annual_volume": 60, '
        '"annual_budget": 120000, "area_volumes": {"E06000020": 50, "E06000051": 10, "E06000020": 40}}'
    )
    r = await client.post(
        f"/exercises/{exercise_id}/needs", content=body, headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["field"] == f"area_volumes.{TELFORD}" and error["problem"].startswith("given twice in one object")


async def test_codes_are_told_with_a_suggestion_as_a_needs_areas_are(client, keys):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    r = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": {TELFORD: 50, "Shropshire": 10}}, headers=h
    )
    [error] = r.json()["errors"]
    assert error["suggestion"] == SHROPSHIRE and SHROPSHIRE in error["allowed"]
    # beside another wrong field, the code is still named by its key
    r = await client.post(
        f"/exercises/{exercise_id}/needs",
        json={**NEED, "title": 5, "area_volumes": {TELFORD: 50, "Shropshire": 10}},
        headers=h,
    )
    assert [e["field"] for e in r.json()["errors"]] == ["title", "area_volumes.Shropshire"], r.text
    assert r.json()["errors"][1]["suggestion"] == SHROPSHIRE
    assert error["problem"].endswith(f"did you mean {SHROPSHIRE} (Shropshire)?")
    areas = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "areas": [TELFORD, "Shropshire"]}, headers=h
    )
    assert areas.json()["errors"][0]["problem"] == error["problem"], "the same words as for the need's areas"


async def test_areas_within_another_given_are_refused_and_so_are_areas_outside_the_need(client, keys):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    worcestershire = {**NEED, "areas": [WORCESTERSHIRE], "annual_volume": 60}
    r = await client.post(
        f"/exercises/{exercise_id}/needs",
        json={**worcestershire, "area_volumes": {WORCESTERSHIRE: 40, MALVERN: 20}},
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": f"area_volumes.{MALVERN}",
            "problem": f"Malvern Hills ({MALVERN}) is within Worcestershire ({WORCESTERSHIRE}), which has a volume "
            "too: give a volume for one or the other, not both (one for Worcestershire counts the service users of "
            "Malvern Hills too)",
        }
    ]
    # a district of the need's county, alone, is within the need: its other districts count none
    r = await client.post(
        f"/exercises/{exercise_id}/needs", json={**worcestershire, "area_volumes": {MALVERN: 60}}, headers=h
    )
    assert r.status_code == 201 and r.json()["area_volumes"] == {MALVERN: 60}, r.text
    # a county holding the need's district is not within the need
    r = await client.post(
        f"/exercises/{exercise_id}/needs",
        json={**worcestershire, "areas": [MALVERN], "area_volumes": {WORCESTERSHIRE: 60}},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": f"area_volumes.{WORCESTERSHIRE}",
        "problem": f"Worcestershire ({WORCESTERSHIRE}) is not one of the need's areas (Malvern Hills ({MALVERN})) nor "
        "within one: give volumes for the need's areas or areas inside them",
    }


async def test_the_volume_changed_alone_is_refused_while_the_volumes_add_up_to_the_old_one(client, keys):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    made = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": MOSTLY_TELFORD}, headers=h
    )
    r = await client.patch(
        f"/needs/{made.json()['id']}", json={"annual_volume": 80}, headers={**h, "If-Match": made.headers["etag"]}
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "area_volumes",
            "problem": "the volumes add up to 60 service users a year, but the need's annual_volume is 80: they say "
            "where its service users are, so give each area's share of the 80 (an area left out counts none), or "
            "change annual_volume with them",
        }
    ]


async def a_provider(client, keys, name: str, area: str) -> int:
    """A fictional provider, published, with one accommodation service for 40 adults a year in `area`."""
    r = await client.post(
        "/registrations",
        json={
            "name": name,
            "legal_form": "cic",
            "services": [
                {
                    "pathway": "ACCOM",
                    "name": f"{name} rooms",
                    "description": "Shared houses with tenancy sustainment for adults leaving custody.",
                    "cohorts": ["ADULTS"],
                    "areas": [area],
                    "capacity": {"service_users_per_year": 40},
                    "years_delivering": 5,
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    provider_id: int = r.json()["provider"]["id"]
    r = await client.post(f"/providers/{provider_id}/publish", headers=await keys.headers("admin"))
    assert r.status_code == 200, r.text
    return provider_id


def coverage_of(run: dict, provider_id: int) -> tuple[int, float, list[str]]:
    """(rank, coverage score, coverage evidence) of a provider in a run."""
    ranked = next(s for s in run["ranking"] if s["provider_id"] == provider_id)
    criterion = next(c for c in ranked["criteria"] if c["criterion"] == "coverage")
    return ranked["rank"], criterion["score"], criterion["evidence"]


async def test_most_users_in_telford_the_provider_covering_telford_ranks_above_the_one_covering_shropshire(
    client, keys, fresh_db
):
    # two fictional providers alike but for where they work: Severn in Shropshire (about 326,000 people), Wrekin in
    # Telford and Wrekin (about 187,000); by name Severn comes first, so a tie would put it above Wrekin
    severn = await a_provider(client, keys, "Severn Shelter CIC", SHROPSHIRE)
    wrekin = await a_provider(client, keys, "Wrekin Roofs CIC", TELFORD)
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    made = await client.post(f"/exercises/{exercise_id}/needs", json=NEED, headers=h)
    need_id = made.json()["id"]
    by_people = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    severn_rank, severn_share, _ = coverage_of(by_people, severn)
    wrekin_rank, wrekin_share, evidence = coverage_of(by_people, wrekin)
    assert severn_rank < wrekin_rank and severn_share > 0.5 > wrekin_share, "by population Shropshire weighs more"
    assert "of the people in the need's areas" in evidence[0]

    # the commissioner knows where the service users are: 50 of the 60 in Telford
    r = await client.patch(
        f"/needs/{need_id}", json={"area_volumes": MOSTLY_TELFORD}, headers={**h, "If-Match": made.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    by_users = (await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)).json()
    assert by_users["need"]["area_volumes"] == MOSTLY_TELFORD, "the run keeps the need it was made from"
    severn_rank, severn_share, _ = coverage_of(by_users, severn)
    wrekin_rank, wrekin_share, evidence = coverage_of(by_users, wrekin)
    assert wrekin_rank < severn_rank
    assert wrekin_share == pytest.approx(50 / 60) and severn_share == pytest.approx(10 / 60)
    assert evidence[0].startswith("its services together reach 83% of the need's expected service users (50 of 60")
    # the stored run is given back while nothing changes; the volumes changing make a new one
    again = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == by_users["id"]
    r = await client.patch(
        f"/needs/{need_id}",
        json={"area_volumes": {TELFORD: 10, SHROPSHIRE: 50}},
        headers={**h, "If-Match": r.headers["etag"]},
    )
    turned = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500}, headers=h)
    assert turned.status_code == 201 and turned.json()["id"] != by_users["id"]
    assert coverage_of(turned.json(), severn)[0] < coverage_of(turned.json(), wrekin)[0]


async def test_a_report_says_in_words_that_the_area_volumes_changed_since_the_run(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    made = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": MOSTLY_TELFORD}, headers=h
    )
    assert (await client.post(f"/exercises/{exercise_id}/match", headers=h)).status_code == 201
    report = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "json"}, headers=h)).json()
    [need] = report["needs"]
    assert need["stale_run"] is None
    assert need["area_volumes"] == [
        {"area": TELFORD, "area_name": "Telford and Wrekin", "volume": 50},
        {"area": SHROPSHIRE, "area_name": "Shropshire", "volume": 10},
    ]
    html = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "html"}, headers=h)).text
    assert "60 service users a year (Telford and Wrekin 50, Shropshire 10: coverage weighs the areas by these" in html
    text = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "csv"}, headers=h)).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    need_row = next(row for row in rows if row["row_type"] == "need")
    assert need_row["area_volumes"] == f"{TELFORD}: 50; {SHROPSHIRE}: 10"
    workbook = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "xlsx"}, headers=h)).content
    header, *needs = load_workbook(io.BytesIO(workbook))["needs"].iter_rows(values_only=True)
    assert [row[header.index("area_volumes")] for row in needs] == [f"{TELFORD}: 50; {SHROPSHIRE}: 10"]

    r = await client.patch(
        f"/needs/{made.json()['id']}",
        json={"area_volumes": {TELFORD: 20, SHROPSHIRE: 40}},
        headers={**h, "If-Match": made.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    report = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "json"}, headers=h)).json()
    stale = report["needs"][0]["stale_run"]
    assert [(c["field"], c["in_run_text"], c["now_text"]) for c in stale["changes"]] == [
        (
            "area_volumes",
            "Telford and Wrekin 50 a year; Shropshire 10 a year",
            "Telford and Wrekin 20 a year; Shropshire 40 a year",
        )
    ]
    assert report["needs"][0]["area_volumes"][0]["volume"] == 50, "the figures are the run's"
    html = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "html"}, headers=h)).text
    assert (
        "<tr><td>Area volumes</td><td>Telford and Wrekin 50 a year; Shropshire 10 a year</td>"
        "<td>Telford and Wrekin 20 a year; Shropshire 40 a year</td></tr>"
    ) in html
    text = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "csv"}, headers=h)).text
    need_row = next(row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if row["row_type"] == "need")
    assert need_row["run_status"] == "stale" and need_row["changed_fields"] == "area_volumes"
    # cleared: said as none
    r = await client.patch(
        f"/needs/{made.json()['id']}", json={"area_volumes": None}, headers={**h, "If-Match": r.headers["etag"]}
    )
    report = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "json"}, headers=h)).json()
    [change] = report["needs"][0]["stale_run"]["changes"]
    assert change["now_text"] == "none"


async def test_the_openapi_document_shows_the_field_and_its_rules(client):
    doc = (await client.get("/schema/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for name in ("NeedIn", "NeedPatch"):
        given = next(s for s in schemas[name]["properties"]["area_volumes"]["anyOf"] if s.get("type") == "object")
        assert given["minProperties"] == 1 and given["maxProperties"] == 200
        assert given["additionalProperties"]["type"] == "integer" and given["additionalProperties"]["minimum"] == 1
        assert given["propertyNames"]["pattern"] == "^[EWSN][0-9]{8}$"
        assert TELFORD in given["propertyNames"]["enum"], "the area codes, as for a need's areas"
        assert "add up to annual_volume" in given["description"]
    assert "area_volumes" in schemas["Need"]["properties"]


async def test_the_consoles_need_page_shows_the_area_volumes(client, keys):
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    given = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "area_volumes": MOSTLY_TELFORD}, headers=h
    )
    plain = await client.post(f"/exercises/{exercise_id}/needs", json=NEED, headers=h)
    await signed_in(client, keys, "commissioner")
    page = await client.get(f"/console/needs/{given.json()['id']}")
    assert page.status_code == 200
    assert (
        '<dt class="summary-list__key">People a year by area</dt>'
        '<dd class="summary-list__value">Telford and Wrekin 50, Shropshire 10</dd>'
    ) in page.text
    page = await client.get(f"/console/needs/{plain.json()['id']}")
    assert "Not given: coverage weighs the areas by population" in page.text


async def test_the_published_samples_care_leavers_need_has_area_volumes_which_may_still_be_redistributed(
    client, keys, fresh_db
):
    h = await keys.headers("commissioner")
    need_id = await fetchval(fresh_db, "select id from need where pathway_code = 'ETE' order by id limit 1")
    r = await client.get(f"/needs/{need_id}", headers=h)
    need = r.json()
    assert need["area_volumes"] == {TELFORD: 60, WORCESTERSHIRE: 90} and need["annual_volume"] == 150
    # the exercise is published: its notice (the volume among it) is fixed, the evaluation's settings are not
    r = await client.patch(
        f"/needs/{need_id}",
        json={"area_volumes": {TELFORD: 70, WORCESTERSHIRE: 80}},
        headers={**h, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200 and r.json()["area_volumes"] == {TELFORD: 70, WORCESTERSHIRE: 80}, r.text
    r = await client.patch(
        f"/needs/{need_id}",
        json={"annual_volume": 160, "area_volumes": {TELFORD: 80, WORCESTERSHIRE: 80}},
        headers={**h, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 409 and [e["field"] for e in r.json()["errors"]] == ["annual_volume"], r.text
    # the volume changed alone is told it cannot change, not that the area volumes no longer add up to it
    r = await client.patch(
        f"/needs/{need_id}", json={"annual_volume": 160}, headers={**h, "If-Match": f'"v{need["version"] + 1}"'}
    )
    assert r.status_code == 409 and [e["field"] for e in r.json()["errors"]] == ["annual_volume"], r.text
    # a match run of it weighs Telford's 70 against Worcestershire's 80, not their people (about 187,000 to 608,000):
    # each provider reaches the service users of the local areas it covers (Worcestershire's 80 spread over its
    # districts by population)
    people = json.loads((PROJECT_ROOT / "seed_data" / "population.json").read_text())["areas"]
    expected = {TELFORD: 70.0} | {
        district: 80 * people[district] / people[WORCESTERSHIRE] for district in WORCESTERSHIRE_DISTRICTS
    }
    run = (await client.post(f"/needs/{need_id}/match-runs", headers=h)).json()
    assert run["ranking"]
    for s in run["ranking"]:
        coverage = next(c for c in s["criteria"] if c["criterion"] == "coverage")
        assert "of the need's expected service users" in coverage["evidence"][0]
        reached = sum(expected[a] for a in s["covered_areas"])
        assert coverage["score"] == pytest.approx(reached / 150), s["name"]


async def test_the_match_command_states_the_area_volumes(databases, template_db):
    name = await databases.create("cli-area-volumes", template=template_db)
    try:
        dsn = databases.dsn(name)
        need_id = await fetchval(dsn, "select id from need where pathway_code = 'ETE' order by id limit 1")
        result = run_cli("match", str(need_id), "--top", "1", dsn=dsn)
        assert result.returncode == 0, result.stderr
        assert f"150 service users a year ({TELFORD} 60, {WORCESTERSHIRE} 90), £180,000 a year" in result.stdout
    finally:
        await databases.drop(name)


async def test_a_needs_areas_may_not_hold_an_area_within_another_of_them(client, keys, fresh_db):
    """A need's areas took a county and a district in it (Worcestershire and Worcester: 201), where `area_volumes`
    refuses the same pair; now a 422 naming the district, on a need's making and its change, storing nothing."""
    h = await keys.headers("commissioner")
    exercise_id = await an_exercise(client, h)
    worcester = "E07000237"
    said = (
        f"Worcester ({worcester}) is within Worcestershire ({WORCESTERSHIRE}), also one of the need's areas: list one "
        "or the other, not both (Worcestershire covers Worcester already)"
    )
    needs_before = await fetchval(fresh_db, "select count(*) from need")
    for areas, index in (([WORCESTERSHIRE, worcester], 1), ([worcester, TELFORD, WORCESTERSHIRE], 0)):
        r = await client.post(f"/exercises/{exercise_id}/needs", json={**NEED, "areas": areas}, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [{"field": f"areas[{index}]", "problem": said}]
    region = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "areas": ["E23000016", TELFORD]}, headers=h
    )
    assert region.status_code == 422 and [e["field"] for e in region.json()["errors"]] == ["areas[1]"]
    assert "West Mercia (E23000016)" in region.json()["errors"][0]["problem"]
    assert await fetchval(fresh_db, "select count(*) from need") == needs_before
    # on a change: the need stays as it was
    made = await client.post(f"/exercises/{exercise_id}/needs", json={**NEED, "areas": [WORCESTERSHIRE]}, headers=h)
    assert made.status_code == 201, made.text
    tag = made.headers["etag"]
    r = await client.patch(
        f"/needs/{made.json()['id']}", json={"areas": [WORCESTERSHIRE, worcester]}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "areas[1]", "problem": said}], r.text
    now = await client.get(f"/needs/{made.json()['id']}", headers=h)
    assert now.headers["etag"] == tag and now.json()["areas"] == [WORCESTERSHIRE]
    # an area given twice is told so (it was kept once, silently)
    twice = await client.post(
        f"/exercises/{exercise_id}/needs", json={**NEED, "areas": [TELFORD, WORCESTERSHIRE, TELFORD]}, headers=h
    )
    assert twice.status_code == 422, twice.text
    assert twice.json()["errors"] == [
        {"field": "areas[2]", "problem": f"Telford and Wrekin ({TELFORD}) is areas[0] too: list it once"}
    ], twice.text


async def north_worcestershire(client, h: dict[str, str]) -> tuple[int, dict, Any]:
    """An exercise with a Worcestershire need whose 40 service users are all in Bromsgrove (10) and Redditch (30):
    (its id, the need as sent without its volumes, the response that made it)."""
    exercise_id = await an_exercise(client, h)
    need = {**NEED, "title": "Accommodation, north Worcestershire", "areas": [WORCESTERSHIRE], "annual_volume": 40}
    volumes = {WORCESTERSHIRE_DISTRICTS[0]: 10, WORCESTERSHIRE_DISTRICTS[2]: 30}
    made = await client.post(f"/exercises/{exercise_id}/needs", json={**need, "area_volumes": volumes}, headers=h)
    assert made.status_code == 201, made.text
    return exercise_id, need, made


async def test_a_provider_reaching_none_of_the_service_users_is_excluded_and_their_absence_makes_no_cells(
    client, keys, fresh_db
):
    """All 40 of a Worcestershire need's service users are in Bromsgrove and Redditch. A provider working in
    Redditch is ranked; one working only in Worcester, where none of them are, is excluded (`no_area_coverage`), not
    ranked with coverage 0; the report's grid and partnership options have the need's two districts as its cells,
    not all six of the county."""
    bromsgrove, redditch, worcester = WORCESTERSHIRE_DISTRICTS[0], WORCESTERSHIRE_DISTRICTS[2], "E07000237"
    reaching = await a_provider(client, keys, "Redditch Rooms CIC", redditch)
    elsewhere = await a_provider(client, keys, "Aardvark Worcester Beds CIC", worcester)
    h = await keys.headers("commissioner")
    exercise_id, need, made = await north_worcestershire(client, h)
    run = (await client.post(f"/needs/{made.json()['id']}/match-runs", params={"limit": 500}, headers=h)).json()
    assert reaching in [s["provider_id"] for s in run["ranking"]]
    assert elsewhere not in [s["provider_id"] for s in run["ranking"]]
    [excluded] = [e for e in run["excluded"] if e["provider_id"] == elsewhere]
    assert excluded["reasons"] == [
        {
            "code": "no_area_coverage",
            "message": "covers none of the areas where the need's service users are: Bromsgrove (E07000234), "
            "Redditch (E07000236)",
            "detail": [bromsgrove, redditch],
        }
    ]
    assert all(c["score"] > 0 for s in run["ranking"] for c in s["criteria"] if c["criterion"] == "coverage"), (
        "every provider ranked reaches some of the service users"
    )
    # without the volumes (coverage by population) the Worcester provider is assessed, as before
    plain = await client.post(f"/exercises/{exercise_id}/needs", json=need, headers=h)
    by_people = (await client.post(f"/needs/{plain.json()['id']}/match-runs", params={"limit": 500}, headers=h)).json()
    assert elsewhere in [s["provider_id"] for s in by_people["ranking"]]

    # the report reads the two runs just made (matching the exercise reuses them)
    assert (await client.post(f"/exercises/{exercise_id}/match", headers=h)).status_code == 200
    report = (
        await client.get(f"/exercises/{exercise_id}/report", params={"format": "json", "threshold": 0.1}, headers=h)
    ).json()
    cells = {(c["need_id"], c["area"]) for c in report["grid"]["cells"]}
    assert {a for n, a in cells if n == made.json()["id"]} == {bromsgrove, redditch}
    assert {a for n, a in cells if n == plain.json()["id"]} == set(WORCESTERSHIRE_DISTRICTS)
    planned = {(c["need_id"], c["area"]) for c in report["partnerships"]["cells"]}
    assert planned == cells
    text = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "csv"}, headers=h)).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len([row for row in rows if row["row_type"] == "cell"]) == 2 + 6


async def test_each_cell_states_the_users_expected_there_and_a_shortfall_of_capacity(client, keys, fresh_db):
    """The tester's case: capacity three times a need's volume overall can still fall short in an area. Each cell
    states the service users expected there (the need's per-area volumes) and is a shortfall when the suitable
    capacity stated there is below them; a provider's capacity is spread over its areas by people, as the capacity
    criterion shares it, not evenly."""
    bromsgrove, redditch = WORCESTERSHIRE_DISTRICTS[0], WORCESTERSHIRE_DISTRICTS[2]
    await a_provider(client, keys, "Redditch Rooms CIC", redditch)
    h = await keys.headers("commissioner")
    exercise_id, _, made = await north_worcestershire(client, h)
    assert (await client.post(f"/exercises/{exercise_id}/match", headers=h)).status_code in (200, 201)
    report = (
        await client.get(f"/exercises/{exercise_id}/report", params={"format": "json", "threshold": 0.1}, headers=h)
    ).json()
    cells = {c["area"]: c for c in report["grid"]["cells"] if c["need_id"] == made.json()["id"]}
    assert {a: c["expected_service_users"] for a, c in cells.items()} == {bromsgrove: 10.0, redditch: 30.0}
    for c in cells.values():
        stated = c["market"]["providers"] > c["market"]["unknown_capacity"]
        want = (c["market"]["capacity"] < c["expected_service_users"]) if stated or not c["suitable"] else None
        assert c["capacity_shortfall"] == want, c
    text = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "csv"}, headers=h)).text
    rows = [r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if r["row_type"] == "cell"]
    assert {r["area_code"]: r["expected_service_users"] for r in rows} == {bromsgrove: "10", redditch: "30"}
    assert {r["capacity_shortfall"] for r in rows} <= {"yes", "no", ""}
    html = (await client.get(f"/exercises/{exercise_id}/report", params={"format": "html"}, headers=h)).text
    assert "Service users expected a year" in html
    assert ("shortfall</span>" in html) == any(c["capacity_shortfall"] for c in report["grid"]["cells"])


def test_a_providers_capacity_is_spread_over_its_areas_by_people() -> None:
    s = RankedForReport(rank=1, provider_id=7, name="P", total=0.9, criteria=(), covered_areas=("A", "B"), capacity=100)
    people = {"A": 300.0, "B": 100.0}
    assert area_capacities([s], {7: "P"}, {}, people) == {"A": [("P", 75.0)], "B": [("P", 25.0)]}
