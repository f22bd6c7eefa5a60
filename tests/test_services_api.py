"""A provider's services through the API: the same rules as profiles (owner and admins only, If-Match, a history
record per changed field, marketplace-held fields refused, field paths and suggestions in errors, nothing stored on
error), and the full profile embeds them."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import fetchval

from marketplace import db

pytestmark = pytest.mark.asyncio

TENANCY = {
    "pathway": "ACCOM",
    "name": "Tenancy sustainment, Telford",
    "description": "Floating support for adults leaving custody into their own tenancy in Telford & Wrekin.",
    "cohorts": ["ADULTS"],
    "areas": ["E06000020"],
    "eligibility": {"min_age": 18, "gender": "both"},
    "capacity": {"service_users_per_year": 60, "places_available": 5, "places_as_of": "2026-11-20"},
    "delivery_modes": ["in_person", "outreach"],
    "complexity_levels": ["medium", "high"],
    "cost": {"amount": 1850.5, "unit": "per_service_user"},
    "years_delivering": 4,
    "outcomes": [
        {
            "outcome": "Tenancy sustained at six months",
            "measure": "share of people supported still in their tenancy",
            "period": "April 2025 to March 2026",
            "value": 78,
            "people": 54,
            "source": "commissioner_reported",
            "reference": "Telford & Wrekin Council contract return, Q4 2025-26",
        }
    ],
    "accreditations": ["iso_9001"],
}


async def a_provider(dsn: str) -> int:
    conn = await db.connect(dsn)
    try:
        pid: int = await conn.fetchval(
            "select min(id) from provider where status = 'published' and founded_year < 2020"
        )
        return pid
    finally:
        await conn.close()


async def stored(dsn: str, provider_id: int) -> str:
    """Everything stored about a provider's services and its history length."""
    conn = await db.connect(dsn)
    try:
        services = await conn.fetchval(
            "select coalesce(json_agg(service_doc(s) order by s.id), '[]')::text from service s where provider_id = $1",
            provider_id,
        )
        history = await conn.fetchval("select count(*) from profile_history where resource_id = $1", provider_id)
        version = await conn.fetchval("select version from provider where id = $1", provider_id)
        return f"{services}\n{history}\n{version}"
    finally:
        await conn.close()


async def test_a_service_is_added_read_changed_and_removed_with_history(client, keys, fresh_db):
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    profile_tag = (await client.get(f"/providers/{pid}")).headers["etag"]
    r = await client.post(f"/providers/{pid}/services", json=TENANCY, headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    sid = made["id"]
    assert r.headers["etag"] == '"v1"' and made["version"] == 1 and len(made["uuid"]) == 36
    assert {k: made[k] for k in TENANCY if k not in ("cost", "eligibility", "outcomes")} == {
        k: v for k, v in TENANCY.items() if k not in ("cost", "eligibility", "outcomes")
    }
    assert made["outcomes"] == [{**TENANCY["outcomes"][0], "note": None, "desired_outcomes": []}]
    assert made["cost"] == {"amount": 1850.5, "unit": "per_service_user"}
    assert made["eligibility"] == {"min_age": 18, "max_age": None, "gender": "both"}
    # the profile embeds it, and its version (ETag) moved on
    profile = await client.get(f"/providers/{pid}")
    assert profile.headers["etag"] != profile_tag
    assert sid in [s["id"] for s in profile.json()["services"]]
    assert (await client.get(f"/providers/{pid}/services/{sid}")).json() == made
    # a change: field by field in eligibility and capacity, lists replaced
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        headers={**h, "If-Match": '"v1"'},
        json={
            "capacity": {"places_available": 2, "places_as_of": "2026-11-27"},  # counted anew, dated anew
            "areas": ["E06000020", "E06000051"],
            "cost": None,
        },
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["version"] == 2 and r.headers["etag"] == '"v2"'
    assert changed["capacity"] == {"service_users_per_year": 60, "places_available": 2, "places_as_of": "2026-11-27"}
    assert changed["areas"] == ["E06000020", "E06000051"] and changed["cost"] is None
    history = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"]
    fields = [(e["last_action_type"], e["field_name"]) for e in history if e["version"] == history[0]["version"]]
    assert ("update", f"services[{sid}].capacity.places_available") in fields
    # the edit confirmed the service as it is now, and the history says when it had been confirmed before
    confirmed = next(e for e in history if e["field_name"] == f"services[{sid}].last_confirmed_at")
    assert (confirmed["previous_value"], confirmed["replacement_value"]) == (
        made["last_confirmed_at"],
        changed["last_confirmed_at"],
    )
    assert confirmed["version"] == history[0]["version"] and len(fields) == 5
    assert ("update", f"services[{sid}].areas") in fields and ("update", f"services[{sid}].cost") in fields
    places = next(e for e in history if e["field_name"] == f"services[{sid}].capacity.places_available")
    assert (places["previous_value"], places["replacement_value"]) == (5, 2)
    assert ("create", f"services[{sid}]") in [(e["last_action_type"], e["field_name"]) for e in history]
    # search sees the new area at once
    found = (await client.get("/providers", params={"area": "E06000051", "pathway": "ACCOM", "per_page": 100})).json()
    assert pid in [i["id"] for i in found["items"]]
    # removing it needs the current version; its last state stays in the history
    assert (
        await client.delete(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'})
    ).status_code == 412
    assert (await client.delete(f"/providers/{pid}/services/{sid}", headers=h)).status_code == 428
    assert (
        await client.delete(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v2"'})
    ).status_code == 204
    assert (await client.get(f"/providers/{pid}/services/{sid}")).status_code == 404
    gone = f"service {sid} of provider {pid} not found"
    again = await client.delete(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v2"'})
    assert again.status_code == 404 and again.json()["message"] == gone
    edit = await client.patch(f"/providers/{pid}/services/{sid}", json={"name": "x"}, headers={**h, "If-Match": '"v2"'})
    assert edit.status_code == 404 and edit.json()["message"] == gone
    history = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"]
    assert history[0]["last_action_type"] == "delete" and history[0]["replacement_value"] is None
    assert history[0]["previous_value"]["name"] == TENANCY["name"]


async def test_a_service_sent_with_its_sets_in_another_order_changes_nothing(client, keys, fresh_db):
    """Areas, cohorts, accreditations, delivery modes, complexity levels and an outcomes record's desired outcomes are
    sets: the same members in another order (or twice) are the service as it is: 200, version and ETag unmoved, no
    history. A real change records the lists as they are stored (areas and accreditations by code, cohorts in the
    taxonomy's order), and an outcomes record whose desired outcomes are only reordered stays verified."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    body = {
        **TENANCY,
        "cohorts": ["ADULTS", "YOUNG_ADULTS", "CARE_LEAVERS"],
        "areas": ["E06000020", "E06000051"],
        "accreditations": ["matrix_standard", "iso_9001"],
        "outcomes": [{**TENANCY["outcomes"][0], "desired_outcomes": ["ACCOM_KEEP", "ACCOM_OBTAIN"]}],
    }
    made = await client.post(f"/providers/{pid}/services", json=body, headers=h)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    history = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"]
    assert (
        history[0]["replacement_value"]["accreditations"]
        == ["iso_9001", "matrix_standard"]
        == made.json()["accreditations"]
    )  # as stored: by code
    admin = await keys.headers("admin")
    verified = await client.post(
        f"/providers/{pid}/services/{sid}/outcomes/0/verification",
        json={"seen": "contract return seen"},
        headers={**admin, "If-Match": (await client.get(f"/providers/{pid}")).headers["etag"]},
    )
    assert verified.status_code == 200, verified.text
    before = await stored(fresh_db, pid)
    held = (await client.get(f"/providers/{pid}/services/{sid}")).json()
    reordered = {
        "cohorts": ["CARE_LEAVERS", "ADULTS", "YOUNG_ADULTS", "ADULTS"],
        "areas": ["E06000051", "E06000020"],
        "accreditations": ["matrix_standard", "iso_9001"],
        "delivery_modes": ["outreach", "in_person"],
        "complexity_levels": ["high", "medium"],
        "outcomes": [{**TENANCY["outcomes"][0], "desired_outcomes": ["ACCOM_OBTAIN", "ACCOM_KEEP"]}],
    }
    for field, value in reordered.items():
        r = await client.patch(
            f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'}, json={field: value}
        )
        assert r.status_code == 200 and r.headers["etag"] == '"v1"', (field, r.text)
        assert r.json() == held, field
    r = await client.patch(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'}, json=reordered)
    assert r.status_code == 200 and r.headers["etag"] == '"v1"' and r.json() == held
    assert await stored(fresh_db, pid) == before
    # a problem names the value where it was sent, not where it would be stored
    wrong = {"accreditations": ["matrix_standard", "iso_9002"]}
    r = await client.patch(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'}, json=wrong)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "accreditations[1]", r.text
    # a real change: the history holds the lists as stored; the reordered outcomes record is still the one verified
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        headers={**h, "If-Match": '"v1"'},
        json={
            **reordered,
            "areas": ["E06000051", "E06000019", "E06000020"],
            "cohorts": ["CARE_LEAVERS", "YOUNG_ADULTS"],
        },
    )
    assert r.status_code == 200 and r.headers["etag"] == '"v2"', r.text
    assert r.json()["areas"] == ["E06000019", "E06000020", "E06000051"]
    assert r.json()["cohorts"] == ["YOUNG_ADULTS", "CARE_LEAVERS"]  # the taxonomy's order, not by code
    assert [v["subject"] for v in r.json()["verifications"]] == ["outcomes[0]"]
    history = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"]
    recorded = {e["field_name"]: e["replacement_value"] for e in history if e["version"] == history[0]["version"]}
    assert recorded == {
        f"services[{sid}].areas": r.json()["areas"],
        f"services[{sid}].cohorts": r.json()["cohorts"],
        f"services[{sid}].last_confirmed_at": r.json()["last_confirmed_at"],  # an edit confirms the service
    }


async def test_bad_services_are_refused_naming_the_field_and_nothing_is_stored(client, keys, fresh_db):
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    before = await stored(fresh_db, pid)
    cases = [
        ({**TENANCY, "areas": ["E06000020", "E0600002"]}, 400, "areas[1]"),
        ({**TENANCY, "cohorts": ["ADULT"]}, 422, "cohorts[0]"),
        ({**TENANCY, "pathway": "ACOM"}, 422, "pathway"),
        ({**TENANCY, "eligibility": {"min_age": 30, "max_age": 18}}, 422, "eligibility.max_age"),
        ({**TENANCY, "capacity": {"places_available": 3}}, 422, "capacity.places_as_of"),
        # the first date Python has would be stored as -infinity
        ({**TENANCY, "capacity": {"places_available": 3, "places_as_of": "0001-01-01"}}, 422, "capacity.places_as_of"),
        ({**TENANCY, "cost": {"amount": -1, "unit": "per_hour"}}, 400, "cost.amount"),
        ({**TENANCY, "cost": {"amount": 10, "unit": "per_fortnight"}}, 400, "cost.unit"),
        ({**TENANCY, "cost": {"amount": 140.555, "unit": "per_hour"}}, 422, "cost.amount"),  # stored to the penny
        ({**TENANCY, "years_delivering": 190}, 422, "years_delivering"),
        ({**TENANCY, "outcomes": [{"outcome": "x", "measure": "y"}]}, 400, "outcomes[0].period"),
        ({**TENANCY, "id": 5}, 400, "id"),
        ({**TENANCY, "uuid": "0" * 36}, 400, "uuid"),
        ({**TENANCY, "version": 9}, 400, "version"),
        ({k: v for k, v in TENANCY.items() if k != "areas"}, 400, "areas"),
        # one record twice: verifying one verified both, and the history named one
        ({**TENANCY, "outcomes": [TENANCY["outcomes"][0]] * 2}, 422, "outcomes[1]"),
    ]
    for body, status, field in cases:
        r = await client.post(f"/providers/{pid}/services", json=body, headers=h)
        assert r.status_code == status, (field, r.status_code, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (field, r.json())
    held = await client.post(f"/providers/{pid}/services", json={**TENANCY, "version": 9}, headers=h)
    assert held.json()["errors"][0]["problem"].startswith("set by the marketplace")
    suggestion = await client.post(f"/providers/{pid}/services", json={**TENANCY, "pathway": "ACOM"}, headers=h)
    assert suggestion.json()["errors"][0]["suggestion"] == "ACCOM"
    assert await stored(fresh_db, pid) == before
    # a profile's free-text lists hold each thing once, as first written; a place given twice is one place
    current = await client.get(f"/providers/{pid}", headers=h)
    place = {"area": "E06000020", "description": "Drop-in office"}
    r = await client.patch(
        f"/providers/{pid}/resources",
        json={
            "other_funding_sources": ["Lottery", "lottery ", "Council grant"],
            "partner_organisations": ["Shelter Partners", " SHELTER PARTNERS"],
            "premises": [place, {**place, "description": "drop-in office "}],
        },
        headers={**h, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    resources = r.json()["resources"]
    assert resources["other_funding_sources"] == ["Lottery", "Council grant"]
    assert resources["partner_organisations"] == ["Shelter Partners"]
    assert resources["premises"] == [place]


async def test_figures_are_what_is_stored_a_cost_to_the_penny_an_outcome_to_four_places(client, keys, fresh_db):
    """A cost is kept to the penny: more decimal places are a 422 naming the field (never rounded: it is someone's
    price; a rule the schema cannot state of a float), on a new service, a change and a registration. An outcomes
    record's figure is kept to 4 places: more are rounded, so the response, the history and the stored record agree,
    and the same figure sent again (to any number of places that rounds to it) changes nothing."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    before = await stored(fresh_db, pid)
    r = await client.post(
        f"/providers/{pid}/services", json={**TENANCY, "cost": {"amount": 140.555, "unit": "per_hour"}}, headers=h
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "cost.amount", "problem": "at most 2 decimal places (pounds and pence), not 140.555"}
    ]
    registration = {
        "name": "Bromyard Bridges CIC",
        "legal_form": "cic",
        "services": [{**TENANCY, "areas": ["E06000019"]}],
    }
    registration["services"].append({**registration["services"][0], "cost": {"amount": 0.001, "unit": "per_hour"}})
    r = await client.post("/registrations", json=registration)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "services[1].cost.amount", r.text
    assert await stored(fresh_db, pid) == before
    outcome = {**TENANCY["outcomes"][0], "value": 78.123456}
    made = await client.post(
        f"/providers/{pid}/services",
        json={**TENANCY, "cost": {"amount": 140.56, "unit": "per_hour"}, "outcomes": [outcome]},
        headers=h,
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert made.json()["cost"]["amount"] == 140.56 and made.json()["outcomes"][0]["value"] == 78.1235
    history = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"]
    assert history[0]["replacement_value"]["outcomes"][0]["value"] == 78.1235  # as stored
    held = made.json()
    for patch in ({"cost": {"amount": 140.560, "unit": "per_hour"}}, {"outcomes": [{**outcome, "value": 78.12349}]}):
        r = await client.patch(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'}, json=patch)
        assert r.status_code == 200 and r.headers["etag"] == '"v1"' and r.json() == held, (patch, r.text)
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        headers={**h, "If-Match": '"v1"'},
        json={"cost": {"amount": 140.555, "unit": "per_hour"}},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cost.amount", r.text
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        headers={**h, "If-Match": '"v1"'},
        json={"outcomes": [{**outcome, "value": 2.00025}]},
    )
    assert (
        r.status_code == 200 and r.headers["etag"] == '"v2"' and r.json()["outcomes"][0]["value"] == 2.0003
    )  # a half up, as written
    newest = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"][0]
    assert newest["field_name"] == f"services[{sid}].outcomes"
    assert (newest["previous_value"][0]["value"], newest["replacement_value"][0]["value"]) == (78.1235, 2.0003)


async def test_only_the_owner_and_admins_change_services(client, keys, fresh_db):
    pid = await a_provider(fresh_db)
    sid = (await client.get(f"/providers/{pid}/services")).json()[0]["id"]
    other = await fetchval(fresh_db, "select min(id) from provider where id <> $1", pid)
    before = await stored(fresh_db, pid)
    for headers, status in (
        ({}, 401),
        (await keys.headers("provider", other), 403),
        (await keys.headers("commissioner"), 403),
    ):
        assert (await client.post(f"/providers/{pid}/services", json=TENANCY, headers=headers)).status_code == status
        r = await client.patch(
            f"/providers/{pid}/services/{sid}", json={"name": "Mine now"}, headers={**headers, "If-Match": '"v1"'}
        )
        assert r.status_code == status
        r = await client.delete(f"/providers/{pid}/services/{sid}", headers={**headers, "If-Match": '"v1"'})
        assert r.status_code == status
    assert await stored(fresh_db, pid) == before
    admin = await keys.headers("admin")
    r = await client.patch(
        f"/providers/{pid}/services/{sid}", json={"status": "inactive"}, headers={**admin, "If-Match": '"v1"'}
    )
    assert r.status_code == 200 and r.json()["status"] == "inactive"
    # another provider's service is not reachable through this provider's path
    theirs = (await client.get(f"/providers/{other}/services")).json()[0]["id"]
    assert (await client.get(f"/providers/{pid}/services/{theirs}")).status_code == 404


async def test_two_edits_from_one_version_one_wins(client, keys, fresh_db):
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    sid = (await client.get(f"/providers/{pid}/services")).json()[0]["id"]
    first = await client.patch(
        f"/providers/{pid}/services/{sid}", json={"name": "First"}, headers={**h, "If-Match": '"v1"'}
    )
    second = await client.patch(
        f"/providers/{pid}/services/{sid}", json={"name": "Second"}, headers={**h, "If-Match": '"v1"'}
    )
    assert (first.status_code, second.status_code) == (200, 412)
    assert second.json()["current_etag"] == '"v2"'
    assert (await client.get(f"/providers/{pid}/services/{sid}")).json()["name"] == "First"


async def test_adding_a_service_needs_no_if_match_but_honours_one_sent(client, keys, fresh_db):
    """A new service overwrites nothing, so it needs no If-Match; but one sent is a precondition: a stale one (the
    profile's version moved on) is a 412 and stores nothing; the current one adds it."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    tag = (await client.get(f"/providers/{pid}", headers=h)).headers["etag"]
    assert (await client.post(f"/providers/{pid}/services", json=TENANCY, headers=h)).status_code == 201
    before = await stored(fresh_db, pid)
    stale = await client.post(f"/providers/{pid}/services", json=TENANCY, headers={**h, "If-Match": tag})
    assert stale.status_code == 412, stale.text
    current = stale.json()["current_etag"]
    assert current != tag and await stored(fresh_db, pid) == before
    again = await client.post(f"/providers/{pid}/services", json=TENANCY, headers={**h, "If-Match": current})
    assert again.status_code == 201, again.text


async def test_confirming_the_profile_confirms_its_services_and_clears_what_was_asked(client, keys, fresh_db):
    pid = await a_provider(fresh_db)
    conn = await db.connect(fresh_db)
    try:
        await conn.execute("update provider set to_confirm = array['the capacity of each service'] where id = $1", pid)
    finally:
        await conn.close()
    h = await keys.headers("provider", pid)
    assert (await client.get(f"/providers/{pid}")).json()["to_confirm"] == ["the capacity of each service"]
    r = await client.post(f"/providers/{pid}/confirm", headers=h)
    assert r.status_code == 200 and r.json()["to_confirm"] == []
    confirmed = dt.datetime.fromisoformat(r.json()["last_confirmed_at"])
    assert all(dt.datetime.fromisoformat(s["last_confirmed_at"]) == confirmed for s in r.json()["services"])
    again = (await client.get(f"/providers/{pid}")).json()["services"]
    assert [dt.datetime.fromisoformat(s["last_confirmed_at"]) for s in again] == [confirmed] * len(again)


async def test_registration_with_services_names_the_service_in_errors(client):
    profile = {
        "name": "Bromyard Bridges CIC",
        "legal_form": "cic",
        "services": [
            {**TENANCY, "areas": ["E06000019"]},
            {**TENANCY, "name": "Second", "areas": ["E06000019"], "accreditations": ["iso_9002"]},
        ],
    }
    r = await client.post("/registrations", json=profile)
    assert r.status_code == 422, r.text
    problem = r.json()["errors"][0]
    assert problem["field"] == "services[1].accreditations[0]" and problem["suggestion"] == "iso_9001"


async def test_a_founding_year_after_this_year_or_younger_than_a_service_is_refused_on_founded_year(
    client, keys, fresh_db
):
    """A founding year in the future, or one that makes the organisation younger than a service says it has been
    delivered, is refused on `founded_year` (naming the service): accepting it used to leave every later edit of that
    service refused on `years_delivering`, a field its editor never touched."""
    h = await keys.headers("provider", 1)
    profile = (await client.get("/providers/1", headers=h)).json()
    this_year = dt.datetime.now(dt.UTC).year
    r = await client.patch(
        "/providers/1", json={"founded_year": this_year + 1}, headers={**h, "If-Match": f'"v{profile["version"]}"'}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "founded_year", "problem": f"is after this year ({this_year})"}]
    oldest = max(profile["services"], key=lambda s: s["years_delivering"])
    assert oldest["years_delivering"] >= 2, "the seeded provider 1 has a service delivered for years"
    r = await client.patch(
        "/providers/1", json={"founded_year": this_year}, headers={**h, "If-Match": f'"v{profile["version"]}"'}
    )
    assert r.status_code == 422, r.text
    [problem] = [e for e in r.json()["errors"] if f"(id {oldest['id']})" in e["problem"]]
    assert problem["field"] == "founded_year" and f'"{oldest["name"]}"' in problem["problem"]
    after = (await client.get("/providers/1", headers=h)).json()
    assert after["version"] == profile["version"] and after["founded_year"] == profile["founded_year"]


async def test_a_profiles_and_its_services_times_are_the_apps_clocks(fresh_db, keys):
    """Made and changed at the app's clock's time, as exercises, needs and appraisals are (a provider's and a service's
    times were the database's now(), and the profile's updated_at moved with it)."""
    from conftest import app_settings
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from marketplace.clock import FixedClock

    clock = FixedClock(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC))
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        r = await client.post("/registrations", json={"name": "Clockwork Trust", "legal_form": "cic"})
        assert r.status_code == 201, r.text
        made = r.json()["provider"]
        assert made["created_at"] == made["updated_at"] == "2027-03-01T09:00:00Z"
        own = {"Authorization": f"Bearer {r.json()['api_key']['key']}"}
        path = f"/providers/{made['id']}"

        clock.at = dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC)
        r = await client.patch(path, json={"description": "Clocks."}, headers={**own, "If-Match": '"v1"'})
        assert r.status_code == 200 and r.json()["updated_at"] == "2027-03-02T09:00:00Z", r.text

        clock.at = dt.datetime(2027, 3, 3, 9, 0, tzinfo=dt.UTC)
        r = await client.post(f"{path}/services", json=TENANCY, headers=own)
        assert r.status_code == 201, r.text
        service = r.json()
        assert service["created_at"] == service["updated_at"] == "2027-03-03T09:00:00Z"
        assert (await client.get(path, headers=own)).json()["updated_at"] == "2027-03-03T09:00:00Z"

        clock.at = dt.datetime(2027, 3, 4, 9, 0, tzinfo=dt.UTC)
        r = await client.patch(
            f"{path}/services/{service['id']}",
            json={"years_delivering": 1},
            headers={**own, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200 and r.json()["updated_at"] == "2027-03-04T09:00:00Z", r.text
        assert (await client.get(path, headers=own)).json()["updated_at"] == "2027-03-04T09:00:00Z"


async def test_places_and_accounts_dated_after_today_are_refused(fresh_db, keys):
    """Places counted and accounts closed cannot be dated after today (the app's clock, in England): a 422 naming the
    field and today, on a service, a change to a service, a profile and a registration; today itself is fine."""
    from conftest import app_settings
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from marketplace.clock import FixedClock

    clock = FixedClock(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC))
    tomorrow = {"places_available": 2, "places_as_of": "2027-03-02"}
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        r = await client.post(
            "/registrations",
            json={"name": "Early Bird CIC", "legal_form": "cic", "finances": {"accounts_year_end": "2027-03-31"}},
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [
            {"field": "finances.accounts_year_end", "problem": "must not be after today (2027-03-01)"}
        ]
        r = await client.post("/registrations", json={"name": "Early Bird CIC", "legal_form": "cic"})
        assert r.status_code == 201, r.text
        own = {"Authorization": f"Bearer {r.json()['api_key']['key']}"}
        path = f"/providers/{r.json()['provider']['id']}"
        r = await client.patch(
            path, json={"finances": {"accounts_year_end": "2027-03-31"}}, headers={**own, "If-Match": '"v1"'}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "finances.accounts_year_end", r.text
        # the finances part on its own: the field as this body names it
        r = await client.patch(
            f"{path}/finances", json={"accounts_year_end": "2027-03-31"}, headers={**own, "If-Match": '"v1"'}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "accounts_year_end", r.text
        r = await client.post(f"{path}/services", json={**TENANCY, "capacity": tomorrow}, headers=own)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [
            {"field": "capacity.places_as_of", "problem": "must not be after today (2027-03-01)"}
        ]
        r = await client.post(
            f"{path}/services", json={**TENANCY, "capacity": {**tomorrow, "places_as_of": "2027-03-01"}}, headers=own
        )
        assert r.status_code == 201, r.text
        service = r.json()
        r = await client.patch(
            f"{path}/services/{service['id']}",
            json={"capacity": tomorrow},
            headers={**own, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "capacity.places_as_of", r.text
        r = await client.get(f"{path}/services/{service['id']}", headers=own)
        assert r.json()["capacity"]["places_as_of"] == "2027-03-01"
        r = await client.patch(
            path, json={"finances": {"accounts_year_end": "2026-03-31"}}, headers={**own, "If-Match": '"v2"'}
        )
        assert r.status_code == 200, r.text


async def test_places_counted_anew_are_dated_anew(client, keys, fresh_db):
    """A PATCH of places_available alone kept the date of the count before: a new count shown as an old one. It is
    a 422 naming capacity.places_as_of and nothing changes; with the date it is taken; other capacity fields alone
    need no date."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    made = await client.post(f"/providers/{pid}/services", json=TENANCY, headers=h)
    assert made.status_code == 201, made.text
    path, tag = f"/providers/{pid}/services/{made.json()['id']}", made.headers["etag"]
    r = await client.patch(path, json={"capacity": {"places_available": 0}}, headers={**h, "If-Match": tag})
    assert r.status_code == 422, r.text
    (problem,) = r.json()["errors"]
    assert problem["field"] == "capacity.places_as_of" and "(2026-11-20)" in problem["problem"]
    assert (await client.get(path, headers=h)).json()["capacity"]["places_available"] == 5
    r = await client.patch(
        path, json={"capacity": {"places_available": 0, "places_as_of": "2026-11-25"}}, headers={**h, "If-Match": tag}
    )
    assert r.status_code == 200 and r.json()["capacity"]["places_as_of"] == "2026-11-25", r.text
    r = await client.patch(
        path, json={"capacity": {"service_users_per_year": 70}}, headers={**h, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200, r.text


async def test_outcome_figures_and_capacity_that_cannot_be_right_are_refused(client, keys, fresh_db):
    """A tester saved "% of rehab residents completing their placement" at 171 for 0 people, and a service taking no
    one a year with 500 places free: each is a 422 naming the field, on a new service, a change and a registration,
    and nothing is stored. A percentage that is a change may pass 100; a figure of 0 to 100 is kept."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    before = await stored(fresh_db, pid)
    record = {**TENANCY["outcomes"][0], "measure": "% of rehab residents completing their placement"}
    bad = {
        **TENANCY,
        "outcomes": [{**record, "value": 171, "people": 0}],
        "capacity": {"service_users_per_year": 0, "places_available": 500, "places_as_of": "2026-11-20"},
    }
    r = await client.post(f"/providers/{pid}/services", json=bad, headers=h)
    assert r.status_code == 422, r.text
    problems = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert set(problems) == {"outcomes[0].people", "outcomes[0].value", "capacity.places_available"}, problems
    assert "from 0 to 100; got 171" in problems["outcomes[0].value"]
    assert "no one" in problems["outcomes[0].people"] and "no one a year" in problems["capacity.places_available"]
    r = await client.post(
        "/registrations", json={"name": "Bromyard Bridges CIC", "legal_form": "cic", "services": [bad]}
    )
    assert r.status_code == 422 and "services[0].outcomes[0].value" in {e["field"] for e in r.json()["errors"]}
    assert await stored(fresh_db, pid) == before
    made = await client.post(f"/providers/{pid}/services", json={**TENANCY, "outcomes": [record]}, headers=h)
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    for field, value in (("value", -3), ("value", 100.5), ("people", 0)):
        r = await client.patch(
            f"/providers/{pid}/services/{sid}",
            headers={**h, "If-Match": '"v1"'},
            json={"outcomes": [{**record, field: value}]},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == f"outcomes[0].{field}", (field, r.text)
    for measure, value in (("% increase in people in work", 171), ("people starting work", 171), ("% completing", 100)):
        r = await client.patch(
            f"/providers/{pid}/services/{sid}",
            headers={**h, "If-Match": made.headers["etag"]},
            json={"outcomes": [{**record, "measure": measure, "value": value}]},
        )
        assert r.status_code == 200, (measure, r.text)
        made = r


async def test_an_outcomes_period_is_a_period_that_is_over(fresh_db, keys):
    """A tester saved an outcomes record over "2031" (a year not yet over) and one over nonsense: an outcomes record
    gives the results of a period that is over, in a form read as one. Either is a 422 naming the record's period and
    saying the forms, on a new service, a change and a registration (the app's clock's today, not the system's);
    the forms the demo data and the docs use are kept, and a record stored before the rule still reads."""
    from conftest import app_settings
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from marketplace.clock import FixedClock

    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    before = await stored(fresh_db, pid)
    record = TENANCY["outcomes"][0]
    clock = FixedClock(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC))  # the financial year 2026/27 runs to 31 March
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        periods = ["2031", "lots of it", "2026/27", "March 2027", "2025 to 2024", "2024/26"]
        body = {**TENANCY, "outcomes": [{**record, "period": p, "value": i} for i, p in enumerate(periods)]}
        r = await client.post(f"/providers/{pid}/services", json=body, headers=h)
        assert r.status_code == 422, r.text
        problems = {e["field"]: e["problem"] for e in r.json()["errors"]}
        assert set(problems) == {f"outcomes[{i}].period" for i in range(len(periods))}, problems
        assert problems["outcomes[0].period"] == (
            "'2031' has not ended yet (it runs to 31 December 2031; today is 2027-03-01): an outcomes record gives "
            "the results of a period that is over"
        )
        assert "it runs to 31 March 2027" in problems["outcomes[2].period"]
        assert "it runs to 31 March 2027" in problems["outcomes[3].period"]
        for i in (1, 4, 5):
            assert problems[f"outcomes[{i}].period"].startswith(f"{periods[i]!r} is not a period: give a year (2024), ")
            assert "a financial or academic year (2024/25 or 2024-25)" in problems[f"outcomes[{i}].period"]
        r = await client.post(
            "/registrations",
            json={
                "name": "Periodic Table CIC",
                "legal_form": "cic",
                "services": [{**TENANCY, "outcomes": [record, {**record, "period": "2031"}]}],
            },
        )
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["services[0].outcomes[1].period"]
        assert await stored(fresh_db, pid) == before
        # the forms in use: a year, a financial or academic year, a month, a range, words after it
        kept = [
            "2025",
            "2025/26",
            "2025-26",
            "2024/25 academic year",
            "February 2027",
            "April 2025 to March 2026",
            "2020 to 2025",
            "2023 releases, followed up to 2025",
            "2024 participants",
        ]
        body = {**TENANCY, "outcomes": [{**record, "period": p, "value": i} for i, p in enumerate(kept)]}
        r = await client.post(f"/providers/{pid}/services", json=body, headers=h)
        assert r.status_code == 201, r.text
        assert [o["period"] for o in r.json()["outcomes"]] == kept
        path, tag = f"/providers/{pid}/services/{r.json()['id']}", r.headers["etag"]
        r = await client.patch(path, json={"outcomes": [{**record, "period": "2027"}]}, headers={**h, "If-Match": tag})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["outcomes[0].period"], r.text
    # a record stored before the rule (free text, or a year then to come) reads as it is
    conn = await db.connect(fresh_db)
    try:
        await conn.execute(
            "update service_outcome set period = 'whenever' where service_id = $1 and position = 0",
            int(path.rsplit("/", 1)[1]),
        )
    finally:
        await conn.close()
    async with AsyncTestClient(app=create_app(app_settings(fresh_db))) as client:
        r = await client.get(path, headers=h)
        assert r.status_code == 200 and r.json()["outcomes"][0]["period"] == "whenever", r.text
        assert (await client.get(f"/providers/{pid}", headers=h)).status_code == 200


async def test_a_services_areas_may_not_hold_a_county_and_one_of_its_districts(client, keys, fresh_db):
    """A need may not list a county and one of its districts (the county covers it already); a service could. It is
    the need's rule: a 422 naming the district's place in areas and both areas, on a new service, a change and a
    registration, and nothing is stored."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    before = await stored(fresh_db, pid)
    both = {**TENANCY, "areas": ["E07000237", "E06000020", "E10000034"]}  # Worcester, Telford, Worcestershire
    r = await client.post(f"/providers/{pid}/services", json=both, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "areas[0]",
            "problem": "Worcester (E07000237) is within Worcestershire (E10000034), also one of the service's areas: "
            "list one or the other, not both (Worcestershire covers Worcester already)",
        }
    ]
    r = await client.post(
        "/registrations", json={"name": "Shire and Town CIC", "legal_form": "cic", "services": [TENANCY, both]}
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["services[1].areas[0]"], r.text
    assert await stored(fresh_db, pid) == before
    r = await client.post(f"/providers/{pid}/services", json={**TENANCY, "areas": ["E10000034"]}, headers=h)
    assert r.status_code == 201, r.text
    path, tag = f"/providers/{pid}/services/{r.json()['id']}", r.headers["etag"]
    r = await client.patch(path, json={"areas": ["E10000034", "E07000237"]}, headers={**h, "If-Match": tag})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["areas[1]"], r.text
    assert (await client.get(path, headers=h)).json()["areas"] == ["E10000034"]


async def test_an_outcomes_free_text_is_stored_trimmed_and_an_empty_note_as_none(client, keys, fresh_db):
    """An outcomes record's text is stored as a spreadsheet's cell gives it back (tests/test_imports: the round trip):
    spaces at the ends off, an empty or blank note or reference none; an outcome or a measure of spaces only says
    nothing, a 422 naming it."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    record = {**TENANCY["outcomes"][0], "outcome": " Housed\u200b", "note": "Seen by the panel ", "reference": " "}
    r = await client.post(
        f"/providers/{pid}/services",
        json={**TENANCY, "outcomes": [record, {**record, "value": 1, "note": "", "reference": "Return "}]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    got = [(o["outcome"], o["note"], o["reference"]) for o in r.json()["outcomes"]]
    assert got == [("Housed", "Seen by the panel", None), ("Housed", None, "Return")]
    blank = {**record, "outcome": " ", "measure": "\u200b"}
    r = await client.post(f"/providers/{pid}/services", json={**TENANCY, "outcomes": [blank]}, headers=h)
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"outcomes[0].outcome", "outcomes[0].measure"}


async def test_the_api_says_which_lists_order_means_nothing_and_which_it_keeps(client):
    """Each set-like list of a profile and a service says in its field description that its order means nothing (a
    reordering is no change: tests above, and tests/test_accounts_and_updates.py); a service's outcomes records say
    their order is kept and meaningful (a record is named by its place, as verified)."""
    schema = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]

    def said(model: str, field: str) -> str:
        return str(schema[model]["properties"][field])

    sets = {
        ("ServiceIn", "ServicePatch"): ("cohorts", "areas", "delivery_modes", "complexity_levels", "accreditations"),
        ("Provider", "NewProvider", "ProviderPatch"): ("identifiers", "accreditations", "social_value"),
        ("AccreditationList",): ("accreditations",),
        ("SocialValueList",): ("social_value",),
        ("OutcomeRecord",): ("desired_outcomes",),
    }
    for models, fields in sets.items():
        for model in models:
            for field in fields:
                assert "order means nothing" in said(model, field), (model, field, said(model, field))
    for model in ("ServiceIn", "ServicePatch"):
        assert "in the order given and kept" in said(model, "outcomes"), said(model, "outcomes")


async def test_a_figure_sent_as_a_whole_or_a_decimal_number_is_compared_by_value(client, keys, fresh_db):
    """JSON's 950 and 950.0 are one number: every figure of a service and a profile sent again written the other way
    (cost, capacity, ages, years, an outcome's value and people; volunteers, match funding, income, reserves) changes
    nothing (version and ETag unmoved, no history), and 950 to 950.5 is still a change, recorded by value."""
    pid = await a_provider(fresh_db)
    h = await keys.headers("provider", pid)
    outcome = {**TENANCY["outcomes"][0], "value": 78, "people": 54}
    made = await client.post(
        f"/providers/{pid}/services",
        json={**TENANCY, "cost": {"amount": 950, "unit": "per_hour"}, "outcomes": [outcome]},
        headers=h,
    )
    assert made.status_code == 201, made.text
    sid, held = made.json()["id"], made.json()
    before = await stored(fresh_db, pid)
    for body in (
        {"cost": {"amount": 950.0, "unit": "per_hour"}},
        {"capacity": {"service_users_per_year": 60.0, "places_available": 5.0}},
        {"eligibility": {"min_age": 18.0}},
        {"years_delivering": 4.0},
        {"outcomes": [{**outcome, "value": 78.0, "people": 54.0}]},
    ):
        r = await client.patch(f"/providers/{pid}/services/{sid}", headers={**h, "If-Match": '"v1"'}, json=body)
        assert r.status_code == 200 and r.headers["etag"] == '"v1"' and r.json() == held, (body, r.text)
    assert await stored(fresh_db, pid) == before
    profile = await client.get(f"/providers/{pid}", headers=h)
    tag, resources, finances = profile.headers["etag"], profile.json()["resources"], profile.json()["finances"]
    assert finances["annual_income"] is not None and finances["reserves_months"] is not None
    for path, body in (
        ("resources", {"volunteers": float(resources["volunteers"])}),
        ("resources", {"match_funding_per_year": float(resources["match_funding_per_year"])}),
        ("finances", {"annual_income": float(finances["annual_income"])}),
        ("finances", {"reserves_months": float(finances["reserves_months"])}),
    ):
        r = await client.patch(f"/providers/{pid}/{path}", headers={**h, "If-Match": tag}, json=body)
        assert r.status_code == 200 and r.headers["etag"] == tag and r.json() == profile.json(), (body, r.text)
    assert await stored(fresh_db, pid) == before
    r = await client.patch(
        f"/providers/{pid}/services/{sid}",
        headers={**h, "If-Match": '"v1"'},
        json={"cost": {"amount": 950.5, "unit": "per_hour"}},
    )
    assert r.status_code == 200 and r.headers["etag"] == '"v2"' and r.json()["cost"]["amount"] == 950.5, r.text
    newest = (await client.get(f"/providers/{pid}/history", headers=h)).json()["items"][0]
    assert (newest["field_name"], newest["previous_value"], newest["replacement_value"]) == (
        f"services[{sid}].cost.amount",
        950,
        950.5,
    )
