"""Accounts, roles and provider self-service, through the real app on a real PostgreSQL.

Each test has a database of its own (a clone of the seeded template)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from conftest import TEST_SECRET, app_settings, fetchval, served_at_once

from marketplace import db
from marketplace.accounts.models import key_hash
from marketplace.app import create_app
from marketplace.providers.models import TOO_SHORT

pytestmark = pytest.mark.asyncio


async def three_providers(dsn: str) -> tuple[int, int, int]:
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch(
            """select id from provider where status = 'published' and 'ACCOM' = any(pathway_codes)
               and cardinality(coverage_codes) > 0 order by id limit 3"""
        )
        return rows[0]["id"], rows[1]["id"], rows[2]["id"]
    finally:
        await conn.close()


async def two_providers(dsn: str) -> tuple[int, int]:
    own, other, _ = await three_providers(dsn)
    return own, other


async def snapshot(dsn: str, provider_id: int) -> str:
    """Everything stored about a provider, to show a refused request changed nothing."""
    conn = await db.connect(dsn)
    try:
        parts = []
        for sql in (
            "select row_to_json(p)::text from provider p where id = $1",
            "select coalesce(json_agg(service_doc(s) order by s.id), '[]')::text from service s where provider_id = $1",
            "select coalesce(json_agg(t order by t.accreditation_code), '[]')::text "
            "from provider_accreditation t where provider_id = $1",
            "select coalesce(json_agg(t order by t.commitment_code), '[]')::text "
            "from provider_social_value t where provider_id = $1",
            "select coalesce(json_agg(t order by t.id), '[]')::text from provider_premises t where provider_id = $1",
            "select count(*)::text from profile_history where resource_id = $1",
        ):
            parts.append(await conn.fetchval(sql, provider_id))  # noqa: PERF401 - one awaited query at a time
        return "\n".join(parts)
    finally:
        await conn.close()


async def etag(client, provider_id: int, headers: dict) -> str:
    r = await client.get(f"/providers/{provider_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


# (method, path template, body, owner may do it)
WRITES = [
    ("PATCH", "/providers/{id}", {"description": "Updated by the matrix test."}, True),
    (
        "POST",
        "/providers/{id}/services",
        {
            "pathway": "FINANCE",
            "name": "Debt advice",
            "description": "Debt advice.",
            "cohorts": ["ADULTS"],
            "areas": ["E06000019"],
        },
        True,
    ),
    ("PATCH", "/providers/{id}/services/{sid}", {"areas": ["E06000019"]}, True),
    ("DELETE", "/providers/{id}/services/{sid}", None, True),
    ("PUT", "/providers/{id}/accreditations", {"accreditations": ["cyber_essentials"]}, True),
    ("PUT", "/providers/{id}/social-value", {"social_value": ["local_supply_chain"]}, True),
    ("PATCH", "/providers/{id}/resources", {"volunteers": 77}, True),
    ("PATCH", "/providers/{id}/finances", {"reserves_months": 2.5}, True),
    ("PATCH", "/providers/{id}/contact", {"email": "new@example.org"}, True),
    ("POST", "/providers/{id}/confirm", None, True),
    ("POST", "/providers/{id}/archive", None, False),
    ("POST", "/providers/{id}/verify", None, False),
]


@pytest.mark.parametrize(("method", "template", "body", "owner_may"), WRITES, ids=[f"{m} {t}" for m, t, _, _ in WRITES])
async def test_authorisation_matrix(client, keys, fresh_db, method, template, body, owner_may):
    own, other, third = await three_providers(fresh_db)
    admin = await keys.headers("admin")
    as_role = {
        "anonymous": {},
        "other provider": await keys.headers("provider", other),
        "commissioner": await keys.headers("commissioner"),
        "own provider": await keys.headers("provider", own),
        "admin": admin,
    }
    expected = {
        "anonymous": 401,
        "other provider": 403,
        "commissioner": 403,
        "own provider": 200 if owner_may else 403,
        "admin": 200,
    }
    other_before = await snapshot(fresh_db, other)
    for role, headers in as_role.items():
        target = third if role == "admin" else own  # the owner's success must not pre-empt the admin's
        sid = (await client.get(f"/providers/{target}/services", headers=admin)).json()[0]["id"]
        path = template.format(id=target, sid=sid)
        before = await snapshot(fresh_db, target)
        tag_of = path if "/services/" in path else f"/providers/{target}"  # a service has its own version
        tag = (await client.get(tag_of, headers=admin)).headers["etag"]
        send = {**headers, "If-Match": tag, "Content-Type": "application/json"}
        r = await client.request(
            method,
            path,
            headers=send,
            content=None if body is None else json.dumps(body),
            **({"json": None} if body is None else {}),
        )
        success = r.status_code in (200, 201, 204)
        assert (200 if success else r.status_code) == expected[role], (role, r.status_code, r.text)
        if expected[role] >= 400:
            assert r.json()["error"] == {401: "unauthorized", 403: "forbidden"}[expected[role]]
            assert await snapshot(fresh_db, target) == before, f"{role}: a refused request changed the profile"
        else:
            assert await snapshot(fresh_db, target) != before, f"{role}: nothing was written"
    assert await snapshot(fresh_db, other) == other_before, "the other provider's row changed"


ADMIN_ONLY_READS = ["/keys", "/audit"]


@pytest.mark.parametrize("path", ADMIN_ONLY_READS)
async def test_admin_only_reads(client, keys, fresh_db, path):
    own, _ = await two_providers(fresh_db)
    assert (await client.get(path)).status_code == 401
    for role, provider in (("commissioner", None), ("provider", own)):
        r = await client.get(path, headers=await keys.headers(role, provider))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert (await client.get(path, headers=await keys.headers("admin"))).status_code == 200


async def test_key_management_needs_admin(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    body = {"role": "commissioner", "name": "Probation commissioning team"}
    assert (await client.post("/keys", json=body)).status_code == 401
    assert (await client.post("/keys", json=body, headers=await keys.headers("commissioner"))).status_code == 403
    assert (await client.post("/keys", json=body, headers=await keys.headers("provider", own))).status_code == 403
    key_id, _ = await keys.make("commissioner")
    assert (await client.post(f"/keys/{key_id}/revoke", headers=await keys.headers("provider", own))).status_code == 403
    # a provider key for a provider there is none of: the body's field is at fault (422), not the address (404)
    nobody = {"role": "provider", "name": "Nobody's key", "provider_id": 999_999}
    r = await client.post("/keys", json=nobody, headers=await keys.headers("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "provider_id", "problem": "no provider has id 999999"}]
    # a name of spaces (or invisible characters) names nobody: a 400 naming `name`, not the database's constraint
    admin = await keys.headers("admin")
    keys_before = await fetchval(fresh_db, "select count(*) from api_key")
    for blank in ("   ", "\u200b", "\u00a0 "):
        r = await client.post("/keys", json={"role": "admin", "name": blank}, headers=admin)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name", r.text
        assert "at least one character that is not a space" in r.json()["errors"][0]["problem"]
    assert await fetchval(fresh_db, "select count(*) from api_key") == keys_before
    # a provider_id for a key of another role: said so (it suggested provider_id for provider_id), nothing made
    for role in ("admin", "commissioner", "auditor"):
        r = await client.post("/keys", json={"role": role, "provider_id": own, "name": "x"}, headers=admin)
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == [
            {"field": "provider_id", "problem": f"taken only with role provider, not with role {role}"}
        ]
    r = await client.post("/keys", json={"role": "provider", "provider": own, "name": "x"}, headers=admin)
    assert r.json()["errors"] == [
        {"field": "provider", "problem": "unknown field; did you mean provider_id?", "suggestion": "provider_id"}
    ]
    r = await client.post("/keys", json={"role": "admin", "provider": own, "name": "x"}, headers=admin)
    assert r.json()["errors"] == [{"field": "provider", "problem": "unknown field"}]  # not a field admins' take
    assert await fetchval(fresh_db, "select count(*) from api_key") == keys_before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "published"),
        ("version", 99),
        ("id", 1),
        ("verified_at", "2026-01-01T00:00:00Z"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("last_confirmed_at", "2026-01-01T00:00:00Z"),
        ("sector", "private"),
        ("is_sample", False),
    ],
)
async def test_mass_assignment_is_refused_and_writes_nothing(client, keys, fresh_db, field, value):
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    before = await snapshot(fresh_db, own)
    r = await client.patch(
        f"/providers/{own}",
        json={"description": "sneaky", field: value},
        headers={**headers, "If-Match": await etag(client, own, headers)},
    )
    assert r.status_code == 400
    problem = next(e for e in r.json()["errors"] if e["field"] == field)
    assert "marketplace" in problem["problem"]
    assert await snapshot(fresh_db, own) == before


async def test_a_body_with_several_wrong_fields_is_told_every_one_and_nothing_is_stored(client, keys, fresh_db):
    """The decoder stops at the first problem: a client sending a profile change with three wrong fields was told of
    the first, fixed it, and learnt of the second only by sending again. Every top-level field that is wrong is named
    at once, in the body's order, each with its own problem (unknown fields last); nothing is stored."""
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    before = await client.get(f"/providers/{own}", headers=headers)
    r = await client.patch(
        f"/providers/{own}",
        json={"founded_year": "1999", "website": "ftp://example.org", "name": "Fine Name", "qualty": 1},
        headers={**headers, "If-Match": before.headers["etag"]},
    )
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["founded_year", "website", "qualty"], errors
    assert errors[0]["problem"] == "must be a whole number from 1600 to 2100, or null; got text", errors[0]
    assert errors[1]["problem"].startswith("must be a web address starting https:// or http://"), errors[1]
    assert errors[2]["problem"] == "unknown field", errors[2]
    assert all(e["field"] in r.json()["message"] for e in errors), r.json()["message"]
    after = await client.get(f"/providers/{own}", headers=headers)
    assert after.headers["etag"] == before.headers["etag"] and after.json() == before.json()
    # a field with no name: said in words (the decoder's own words came through), of the object holding it
    r = await client.patch(f"/providers/{own}", json={"": "x"}, headers={**headers, "If-Match": before.headers["etag"]})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "body", "problem": 'a field with an empty name ("") is not one this object has'}
    ], r.text
    r = await client.patch(
        f"/providers/{own}", json={"contact": {"": "x"}}, headers={**headers, "If-Match": before.headers["etag"]}
    )
    assert r.json()["errors"][0]["field"] == "contact", r.text
    # one field wrong: one problem, as before
    r = await client.patch(
        f"/providers/{own}", json={"founded_year": 1066}, headers={**headers, "If-Match": before.headers["etag"]}
    )
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["founded_year"], r.text
    # within a nested object, its first problem, named by its path, beside the other fields'
    r = await client.patch(
        f"/providers/{own}",
        json={"resources": {"volunteers": "x"}, "founded_year": "1999"},
        headers={**headers, "If-Match": before.headers["etag"]},
    )
    assert [e["field"] for e in r.json()["errors"]] == ["resources.volunteers", "founded_year"], r.text
    # and on another room's body
    r = await client.post(
        "/exercises", json={"title": 5, "commissioning_body": ""}, headers=await keys.headers("commissioner")
    )
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["title", "commissioning_body"], r.text
    assert await fetchval(fresh_db, "select count(*) from exercise where title = '5'") == 0


async def test_unknown_fields_are_400_naming_the_path(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    r = await client.patch(
        f"/providers/{own}",
        json={"resources": {"volunters": 3}},
        headers={**headers, "If-Match": await etag(client, own, headers)},
    )
    assert r.status_code == 400
    assert r.json()["errors"][0] == {
        "field": "resources.volunters",
        "problem": "unknown field; did you mean volunteers?",
        "suggestion": "volunteers",
    }
    # a word that is no typo of a field is suggested nothing
    r = await client.patch(
        f"/providers/{own}", json={"colour": "red"}, headers={**headers, "If-Match": await etag(client, own, headers)}
    )
    assert r.json()["errors"][0] == {"field": "colour", "problem": "unknown field"}
    # a criterion misspelt among a run's weights
    need_id = await fetchval(fresh_db, "select min(id) from need")
    r = await client.post(
        f"/needs/{need_id}/match-runs", json={"weights": {"qualty": 20}}, headers=await keys.headers("commissioner")
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "weights.qualty", r.text
    assert r.json()["errors"][0]["suggestion"] == "quality"


async def test_nested_validation_names_the_path_with_allowed_values_and_a_suggestion(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    before = await snapshot(fresh_db, own)
    r = await client.post(
        f"/providers/{own}/services",
        json={
            "pathway": "ACOM",
            "name": "Housing advice",
            "description": "Housing advice.",
            "cohorts": ["ADULTS"],
            "areas": ["E06000019"],
        },
        headers=headers,
    )
    assert r.status_code == 422
    problem = r.json()["errors"][0]
    assert problem["field"] == "pathway"
    assert "unknown pathway code 'ACOM'" in problem["problem"]
    assert problem["suggestion"] == "ACCOM" and "ACCOM" in problem["allowed"]
    assert await snapshot(fresh_db, own) == before


async def test_if_match_is_required_and_must_be_current(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    r = await client.patch(f"/providers/{own}", json={"description": "x"}, headers=headers)
    assert r.status_code == 428 and r.json()["error"] == "precondition_required"
    tag = await etag(client, own, headers)
    r = await client.patch(
        f"/providers/{own}", json={"description": "First change."}, headers={**headers, "If-Match": tag}
    )
    assert r.status_code == 200
    new_tag = r.headers["etag"]
    assert new_tag != tag and r.json()["version"] == int(tag.strip('"v')) + 1
    r = await client.patch(
        f"/providers/{own}", json={"description": "Based on an old copy."}, headers={**headers, "If-Match": tag}
    )
    assert r.status_code == 412
    assert r.json()["current_version"] == int(new_tag.strip('"v')) and r.json()["current_etag"] == new_tag
    r = await client.patch(f"/providers/{own}", json={"description": "x"}, headers={**headers, "If-Match": '"abc"'})
    assert r.status_code == 412 and r.json()["current_etag"] == new_tag  # not an ETag we issued: matches nothing
    weak = "W/" + new_tag
    r = await client.patch(f"/providers/{own}", json={"description": "x"}, headers={**headers, "If-Match": weak})
    assert r.status_code == 412, "a weak ETag never matches (strong comparison)"
    for malformed in ("v1", '"v1', "*"):
        bad = {**headers, "If-Match": malformed}
        r = await client.patch(f"/providers/{own}", json={"description": "x"}, headers=bad)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "If-Match", malformed
    r = await client.patch(
        f"/providers/{own}", json={"description": "Listed."}, headers={**headers, "If-Match": f'"v999", {new_tag}'}
    )
    assert r.status_code == 200, "one of a list of ETags is enough"


async def test_patch_semantics_absent_null_and_nested(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    before = (await client.get(f"/providers/{own}", headers=headers)).json()
    r = await client.patch(
        f"/providers/{own}",
        json={"website": None, "resources": {"volunteers": 12}, "finances": {"annual_income": None}},
        headers={**headers, "If-Match": await etag(client, own, headers)},
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["website"] is None and after["finances"]["annual_income"] is None
    assert after["finances"]["reserves_months"] == before["finances"]["reserves_months"]
    assert after["resources"]["volunteers"] == 12
    # fields not mentioned keep their values, nested ones too
    assert after["resources"]["premises"] == before["resources"]["premises"]
    assert after["resources"]["match_funding_per_year"] == before["resources"]["match_funding_per_year"]
    assert after["name"] == before["name"] and after["services"] == before["services"]
    r = await client.patch(f"/providers/{own}", json={"name": None}, headers={**headers, "If-Match": r.headers["etag"]})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name"


async def test_every_change_is_in_the_history_with_who_and_what(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    key_id, key = await keys.make("provider", own)
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-history-0001"}
    before = (await client.get(f"/providers/{own}", headers=headers)).json()
    r = await client.patch(
        f"/providers/{own}",
        json={"description": "New words.", "resources": {"volunteers": 5}},
        headers={**headers, "If-Match": await etag(client, own, headers)},
    )
    assert r.status_code == 200
    rid = r.headers["x-request-id"]  # the server's own id; the client's is kept in the audit log beside it
    assert rid != "req-history-0001" and len(rid) == 32
    history = (await client.get(f"/providers/{own}/history", headers=headers)).json()
    newest = history["items"][:2]
    assert {h["field_name"] for h in newest} == {"description", "resources.volunteers"}
    for h in newest:
        assert h["resource_id"] == own and h["resource_type"] == "provider"
        assert h["last_action_type"] == "update" and h["updated_by"] == key_id and h["updated_by_role"] == "provider"
        assert h["request_id"] == rid and h["version"] == before["version"] + 1
    by_field = {h["field_name"]: h for h in newest}
    assert by_field["description"]["previous_value"] == before["description"]
    assert by_field["description"]["replacement_value"] == "New words."
    assert by_field["resources.volunteers"]["replacement_value"] == 5
    # the oldest entry is the creation of the profile
    total = history["total"]
    last_page = (
        await client.get(f"/providers/{own}/history", params={"per_page": 1, "page": total}, headers=headers)
    ).json()
    assert last_page["items"][0]["last_action_type"] == "create"
    ids = [h["id"] for h in history["items"]]
    assert ids == sorted(ids, reverse=True)


async def test_history_is_visible_to_owner_commissioner_admin_only(client, keys, fresh_db):
    own, other = await two_providers(fresh_db)
    assert (await client.get(f"/providers/{own}/history")).status_code == 401
    assert (
        await client.get(f"/providers/{own}/history", headers=await keys.headers("provider", other))
    ).status_code == 403
    for headers in (
        await keys.headers("provider", own),
        await keys.headers("commissioner"),
        await keys.headers("admin"),
    ):
        assert (await client.get(f"/providers/{own}/history", headers=headers)).status_code == 200


async def test_concurrent_patches_with_one_etag_one_wins(at_once, keys, fresh_db):
    """Eight writers PATCH one profile at once with the one ETag they read: the profile's row is locked for the
    change (providers.queries.lock_provider), so one is made and seven are told the version moved on."""
    client = at_once  # requests served at once, as by one worker (litestar's test client serves one at a time)
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    tag = await etag(client, own, headers)
    n = 8
    conn = await db.connect(fresh_db)
    history_before = await conn.fetchval("select count(*) from profile_history where resource_id = $1", own)
    responses = await asyncio.gather(
        *(
            client.patch(
                f"/providers/{own}", json={"description": f"Writer {i} was here."}, headers={**headers, "If-Match": tag}
            )
            for i in range(n)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (n - 1)
    winner = next(r for r in responses if r.status_code == 200).json()["description"]
    try:
        assert await conn.fetchval("select description from provider where id = $1", own) == winner
        assert (
            await conn.fetchval("select count(*) from profile_history where resource_id = $1", own)
            == history_before + 1
        )
        newest = await conn.fetchrow(
            "select field_name, replacement_value from profile_history where resource_id = $1 order by id desc limit 1",
            own,
        )
        assert (newest["field_name"], newest["replacement_value"]) == ("description", winner)
    finally:
        await conn.close()


async def test_keys_are_stored_only_as_hmac_and_revocation_is_immediate(client, keys, fresh_db):
    admin = await keys.headers("admin")
    r = await client.post("/keys", json={"role": "commissioner", "name": "West Mercia commissioning"}, headers=admin)
    assert r.status_code == 201
    made = r.json()
    key, key_id = made["key"], made["api_key"]["id"]
    assert key.startswith("prv_") and len(key) == 47
    conn = await db.connect(fresh_db)
    try:
        for table in ("api_key", "audit_log", "profile_history"):
            dump = await conn.fetchval(f"select coalesce(json_agg(t), '[]')::text from {table} t")
            assert key not in dump and key[4:] not in dump, f"the plain key is stored in {table}"
        stored = await conn.fetchval("select key_hash from api_key where id = $1", key_id)
        assert bytes(stored) == key_hash(TEST_SECRET.encode(), key)
        assert await conn.fetchval("select last_used_at from api_key where id = $1", key_id) is None
        commissioner = {"Authorization": f"Bearer {key}"}
        assert (await client.get("/providers", params={"status": "pending"}, headers=commissioner)).status_code == 200
        assert await conn.fetchval("select last_used_at from api_key where id = $1", key_id) is not None
        listed = (await client.get("/keys", headers=admin)).json()
        assert key_id in [k["id"] for k in listed] and all("key" not in k for k in listed)
        first = await client.post(f"/keys/{key_id}/revoke", headers=admin)
        assert first.status_code == 200 and first.json()["revoked_at"] is not None
        r = await client.get("/providers", params={"status": "pending"}, headers=commissioner)
        assert r.status_code == 401 and "revoked" in r.json()["message"]
        # revoked again: as it was, and no second revocation in the audit log
        again = await client.post(f"/keys/{key_id}/revoke", headers=admin)
        assert again.status_code == 200 and again.json()["revoked_at"] == first.json()["revoked_at"]
        audited = await conn.fetchval("select count(*) from audit_log where detail = $1", f"revoked key {key_id}")
        assert audited == 1
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        ("Bearer nonsense", "malformed"),
        ("Basic abc", "Bearer"),
        ("Bearer prv_" + "A" * 43, "unknown"),
        ("Bearer", "Bearer"),
    ],
)
async def test_bad_keys_get_401_with_a_reason(client, authorization, reason):
    r = await client.get("/providers", headers={"Authorization": authorization})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized" and reason in r.json()["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_401_and_403_differ(client, keys):
    r = await client.get("/audit")
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    assert "API key" in r.json()["message"]
    r = await client.get("/audit", headers=await keys.headers("commissioner"))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    assert "commissioner" in r.json()["message"]


async def test_the_audit_log_holds_writes_and_denials_and_filters(client, keys, fresh_db):
    own, other = await two_providers(fresh_db)
    _, admin_key = await keys.make("admin")
    admin = {"Authorization": f"Bearer {admin_key}"}
    other_id, other_key = await keys.make("provider", other)
    owner = await keys.headers("provider", own)
    await client.patch(
        f"/providers/{own}",
        json={"description": "x"},
        headers={"Authorization": f"Bearer {other_key}", "If-Match": await etag(client, own, admin)},
    )
    await client.get("/audit")
    r = await client.patch(
        f"/providers/{own}",
        json={"description": "Owner's words."},
        headers={**owner, "If-Match": await etag(client, own, admin)},
    )
    assert r.status_code == 200
    log = (await client.get("/audit", headers=admin)).json()["items"]
    denied = [e for e in log if e["outcome"] == "denied"]
    assert any(e["status"] == 403 and e["key_id"] == other_id and e["provider_id"] == own for e in denied)
    assert any(e["status"] == 401 and e["key_id"] is None and e["path"] == "/audit" for e in denied)
    writes = [e for e in log if e["outcome"] == "write"]
    assert any(e["provider_id"] == own and "description" in e["detail"] for e in writes)
    by_key = (await client.get("/audit", params={"key_id": other_id}, headers=admin)).json()["items"]
    assert by_key and all(e["key_id"] == other_id for e in by_key)
    by_provider = (await client.get("/audit", params={"provider_id": own, "outcome": "write"}, headers=admin)).json()[
        "items"
    ]
    assert by_provider and all(e["provider_id"] == own and e["outcome"] == "write" for e in by_provider)
    future = (await client.get("/audit", params={"since": "2100-01-01T00:00:00Z"}, headers=admin)).json()
    assert future["total"] == 0 and future["pages"] == 0 and future["items"] == []
    r = await client.get("/audit", params={"since": "2026-01-01T00:00:00"}, headers=admin)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "since"
    # told in words, never the parser's, and the value as sent
    for since, problem in (
        (
            "garbage",
            "must be a time written YYYY-MM-DDThh:mm:ssZ (or with its offset, +01:00), or a date, "
            "YYYY-MM-DD, e.g. 2026-11-22T09:00:00Z; got 'garbage'",
        ),
        ("2026-02-30", "'2026-02-30' is no date and time in the calendar: check the day, month and hour"),
        (
            "2026-11-30T25:00:00Z",
            "'2026-11-30T25:00:00Z' is no date and time in the calendar: check the day, month and hour",
        ),
    ):
        r = await client.get("/audit", params={"since": since}, headers=admin)
        assert r.status_code == 400 and r.json()["errors"] == [{"field": "since", "problem": problem}], r.text
    # a date is the start of that day in the UK; until must come after since
    everything = (await client.get("/audit", params={"per_page": 100}, headers=admin)).json()
    day = everything["items"][0]["at"][:10]
    same_day = (await client.get("/audit", params={"since": day, "per_page": 100}, headers=admin)).json()
    assert same_day["total"] > 0
    r = await client.get("/audit", params={"since": day, "until": day}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "until"
    assert "later than since" in r.json()["errors"][0]["problem"]


@pytest.mark.parametrize("table", ["profile_history", "audit_log"])
async def test_history_and_audit_are_append_only_in_the_database(fresh_db, table):
    conn = await db.connect(fresh_db)
    try:
        await conn.execute("insert into audit_log (method, path, status, outcome) values ('GET', '/x', 401, 'denied')")
        column = "field_name" if table == "profile_history" else "detail"
        for sql in (f"update {table} set {column} = {column}", f"delete from {table}", f"truncate {table} cascade"):
            with pytest.raises(Exception, match="append-only"):
                await conn.execute(sql)
        assert await conn.fetchval(f"select count(*) from {table}") > 0
    finally:
        await conn.close()


async def test_registration_gives_a_pending_profile_and_a_key(client, keys, fresh_db):
    profile = {
        "name": "Ledbury Lanterns Community Interest Company",
        "legal_form": "cic",
        "identifiers": ["GB-COH-19999001"],
        "description": "Sample: evening drop-in and mentoring for young adults in Ledbury.",
        "services": [
            {
                "pathway": "ATB",
                "name": "Ledbury peer mentoring",
                "cohorts": ["YOUNG_ADULTS"],
                "years_delivering": 3,
                "description": "Peer mentoring for young adults leaving custody.",
                "areas": ["E06000019"],
                "eligibility": {"min_age": 18, "max_age": 25},
            }
        ],
    }
    r = await client.post("/registrations", json=profile)
    assert r.status_code == 201, r.text
    body = r.json()
    pid, key = body["provider"]["id"], body["api_key"]["key"]
    assert body["provider"]["status"] == "pending" and body["api_key"]["api_key"]["provider_id"] == pid
    [service] = body["provider"]["services"]
    assert service["name"] == "Ledbury peer mentoring" and service["eligibility"]["max_age"] == 25
    assert service["uuid"] and service["id"] and service["last_confirmed_at"] is not None
    mine = {"Authorization": f"Bearer {key}"}
    # pending: invisible to anonymous callers, visible to the owner and to commissioners
    assert (await client.get(f"/providers/{pid}")).status_code == 404
    assert pid not in [
        i["id"] for i in (await client.get("/providers", params={"q": "Ledbury Lanterns"})).json()["items"]
    ]
    assert (await client.get(f"/providers/{pid}", headers=mine)).status_code == 200
    commissioner = await keys.headers("commissioner")
    pending = (
        await client.get("/providers", params={"status": "pending", "q": "Ledbury Lanterns"}, headers=commissioner)
    ).json()
    assert pid in [i["id"] for i in pending["items"]]
    assert (await client.get("/providers", params={"status": "pending"})).status_code == 401
    # the key edits this profile and no other
    r = await client.patch(f"/providers/{pid}", json={"founded_year": 2023}, headers={**mine, "If-Match": '"v1"'})
    assert r.status_code == 200
    # an admin publishes it
    admin = await keys.headers("admin")
    assert (await client.post(f"/providers/{pid}/publish", headers=mine)).status_code == 403
    r = await client.post(f"/providers/{pid}/publish", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert (await client.get(f"/providers/{pid}")).status_code == 200
    # the same identifier cannot register twice
    again = await client.post("/registrations", json={**profile, "name": "Someone Else CIC"})
    assert again.status_code == 409


async def test_a_provider_cannot_take_a_name_another_provider_holds(client, keys, fresh_db):
    """A commissioner reading the directory must be able to tell organisations apart: registering as, or renaming
    to, a name another provider holds is a 409 naming `name`, compared whatever the case, spacing or invisible
    characters; nothing is stored. Invisible characters and spaces at a name's ends are not kept."""
    conn = await db.connect(fresh_db)
    try:
        held = await conn.fetchval(
            "select name from provider where status = 'published' and name like '% %' order by id limit 1"
        )
        providers_before = await conn.fetchval("select count(*) from provider")
    finally:
        await conn.close()
    first, rest = held.split(" ", 1)
    for alike in (held, held.upper(), f"  {first}   {rest}\u200b", f"\ufeff{first}\u00a0{rest}"):
        r = await client.post("/registrations", json={"name": alike, "legal_form": "cic"})
        assert r.status_code == 409, (alike, r.text)
        assert r.json()["errors"][0]["field"] == "name" and held in r.json()["errors"][0]["problem"]
    conn = await db.connect(fresh_db)
    try:
        assert await conn.fetchval("select count(*) from provider") == providers_before
    finally:
        await conn.close()
    # a name of its own, sent with a zero-width space at its end, is kept without it
    r = await client.post("/registrations", json={"name": "Wyre Forest Lanterns CIC\u200b", "legal_form": "cic"})
    assert r.status_code == 201, r.text
    mine = r.json()["provider"]
    assert mine["name"] == "Wyre Forest Lanterns CIC"
    own = {"Authorization": f"Bearer {r.json()['api_key']['key']}"}
    path = f"/providers/{mine['id']}"
    renamed = await client.patch(path, json={"name": held.lower()}, headers={**own, "If-Match": '"v1"'})
    assert renamed.status_code == 409 and renamed.json()["errors"][0]["field"] == "name", renamed.text
    assert (await client.get(path, headers=own)).json()["name"] == "Wyre Forest Lanterns CIC"
    # invisible characters inside it are not kept either: the name is found by what it shows (one kept a zero-width
    # space inside, and neither a search for its words nor reconciling its name found it)
    hidden = await client.patch(
        path, json={"name": "Wyre Forest\u200b Lan\u00adterns\u2060 CIC"}, headers={**own, "If-Match": '"v1"'}
    )
    assert hidden.status_code == 200 and hidden.json()["name"] == "Wyre Forest Lanterns CIC", hidden.text
    assert hidden.headers["etag"] == '"v1"'  # the name it had: nothing changed
    # its own name in other letters is still its own
    recased = await client.patch(path, json={"name": "WYRE FOREST LANTERNS CIC"}, headers={**own, "If-Match": '"v1"'})
    assert recased.status_code == 200, recased.text
    # a name that differs only in accents is the same name; one with a letter of another script in a word is refused
    accented = held.replace("e", "é", 1).replace("a", "á", 1)
    assert accented != held
    r = await client.post("/registrations", json={"name": accented, "legal_form": "cic"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "name", (accented, r.text)
    looks_alike = held[:-1] + {"e": "е", "a": "а", "o": "о", "t": "т", "s": "ѕ"}.get(held[-1].lower(), "т")
    r = await client.post("/registrations", json={"name": looks_alike, "legal_form": "cic"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name", (looks_alike, r.text)
    assert "mixes Cyrillic and Latin letters" in r.json()["errors"][0]["problem"]


async def test_every_invisible_character_is_left_out_of_a_name_so_none_makes_a_name_anothers_is_not(
    client, keys, fresh_db
):
    """Unicode's default-ignorable characters, not a hand-made list: a variation selector, a tag character, a
    Mongolian vowel separator, a Khmer inherent vowel or an invisible times inside a held name made a name that
    showed as the held one and was taken (201); a name of them only, or one visible character and one of them, was
    stored or refused by the database's check as a conflict."""
    held = await fetchval(fresh_db, "select name from provider where status = 'published' order by id limit 1")
    r = await client.post("/registrations", json={"name": "Ledbury Invisible Test CIC", "legal_form": "cic"})
    assert r.status_code == 201, r.text
    own = {"Authorization": f"Bearer {r.json()['api_key']['key']}", "If-Match": '"v1"'}
    path = f"/providers/{r.json()['provider']['id']}"
    for hidden in ("\ufe0f", "\ufe00", "\U000e0041", "\U000e0020", "\u180e", "\u17b4", "\u2062", "\u3164"):
        alike = held[:2] + hidden + held[2:]
        renamed = await client.patch(path, json={"name": alike}, headers=own)
        assert renamed.status_code == 409, (hidden.encode("unicode_escape"), renamed.text)
        assert renamed.json()["errors"][0]["field"] == "name" and held in renamed.json()["errors"][0]["problem"]
    for blank in ("\ufe0f", "\ufe0f\ufe0f", "\u3164\u3164"):
        r = await client.patch(path, json={"name": blank}, headers=own)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name", r.text
    for short in ("A\u200b", " A", "A\u00ad", "\u00a0A\u00a0", "A\u3000", "\U000e0041\U000e0041"):
        r = await client.patch(path, json={"name": short}, headers=own)
        assert r.status_code == 422, (short.encode("unicode_escape"), r.text)
        assert r.json()["errors"] == [{"field": "name", "problem": TOO_SHORT}], r.text
    assert (await client.get(path, headers=own)).json()["name"] == "Ledbury Invisible Test CIC"
    # a service's name and an exercise's title of invisible characters only say nothing: refused
    sid = (await client.get("/providers/1")).json()["services"][0]["id"]
    first = {**await keys.headers("provider", 1), "If-Match": '"v1"'}
    r = await client.patch(f"/providers/1/services/{sid}", json={"name": "\ufe0f"}, headers=first)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name", r.text
    made = await client.post("/exercises", json={"title": "\ufe0f"}, headers=await keys.headers("commissioner"))
    assert made.status_code == 400 and made.json()["errors"][0]["field"] == "title", made.text
    # a web address or an e-mail address with a no-break space or a line separator in it is refused
    for field, value in (("website", "https://a.org/\u00a0"), ("website", "https://a.org/\u2028")):
        r = await client.patch(path, json={field: value}, headers=own)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, r.text
    r = await client.patch(path, json={"contact": {"email": "a@b.c\u00a0d"}}, headers=own)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "contact.email", r.text


async def test_two_registrations_of_one_new_name_at_once_one_is_made(fresh_db):
    """Two organisations register one new name at the same moment, from addresses of their own: one is made, the
    other told the name is taken (claims to a name wait for each other: providers.queries.lock_name; no index makes
    names unique). Sent at once, as one worker serves them (litestar's test client serves one at a time), and from
    two addresses, as registrations from one address already wait for each other (the per-client limit's lock)."""
    app = create_app(app_settings(fresh_db))
    async with served_at_once(app) as first:
        second = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.2", 123)), base_url=str(first.base_url)
        )
        async with second:
            both = await asyncio.gather(
                *(
                    c.post("/registrations", json={"name": "Twin Brook Trust", "legal_form": "cic"})
                    for c in (first, second)
                )
            )
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    refused = next(r for r in both if r.status_code == 409)
    assert refused.json()["errors"][0]["field"] == "name", refused.text
    assert await fetchval(fresh_db, "select count(*) from provider where name = 'Twin Brook Trust'") == 1


async def test_a_pending_providers_name_is_not_repeated_to_a_caller_who_cannot_see_it(client, keys, fresh_db):
    """The name clash of a name a pending (unpublished) profile holds is still a 409 naming `name`, but a caller who
    may not see that profile (anonymous, another provider) is not told its exact name as stored; staff are."""
    pending = await client.post("/registrations", json={"name": "Pending Secret Org <b>", "legal_form": "cic"})
    assert pending.status_code == 201, pending.text
    pid = pending.json()["provider"]["id"]
    again = await client.post("/registrations", json={"name": "pending secret org <B>", "legal_form": "cic"})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name", again.text
    problem = again.json()["errors"][0]["problem"]
    assert "Pending Secret Org" not in again.text and "<b>" not in again.text
    assert problem.startswith("a provider not yet published in the directory already has this name")
    assert "add the place or the legal form as registered; if it is your organisation, ask an admin" in problem
    other = await fetchval(fresh_db, "select id from provider where status = 'published' order by id limit 1")
    own = await keys.headers("provider", other)
    tag = (await client.get(f"/providers/{other}", headers=own)).headers["etag"]
    renamed = await client.patch(
        f"/providers/{other}", json={"name": "PENDING SECRET ORG <b>"}, headers={**own, "If-Match": tag}
    )
    assert renamed.status_code == 409 and "Pending Secret Org" not in renamed.text, renamed.text
    admin = await keys.headers("admin")
    renamed = await client.patch(
        f"/providers/{other}", json={"name": "PENDING SECRET ORG <b>"}, headers={**admin, "If-Match": tag}
    )
    assert renamed.status_code == 409 and "'Pending Secret Org <b>'" in renamed.json()["errors"][0]["problem"]
    assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
    again = await client.post("/registrations", json={"name": "pending secret org <B>", "legal_form": "cic"})
    assert again.status_code == 409 and "'Pending Secret Org <b>'" in again.json()["errors"][0]["problem"]


async def test_an_archived_provider_publishes_again_only_under_a_name_nobody_holds_and_its_key_changes_nothing(
    client, keys, fresh_db
):
    """Archived, a provider is out of the directory, so its name is free to register; publishing it again under the
    name another provider took meanwhile is a 409 naming `name` (both were published under one name), and while it is
    archived its own key changes nothing and answers no market engagement (409); it still reads its profile."""
    admin = await keys.headers("admin")
    made = (await client.post("/registrations", json={"name": "Archive Me Ltd", "legal_form": "cic"})).json()
    old, own = made["provider"]["id"], {"Authorization": f"Bearer {made['api_key']['key']}"}
    assert (await client.post(f"/providers/{old}/archive", headers=admin)).status_code == 200
    twin = await client.post("/registrations", json={"name": "archive me ltd", "legal_form": "cic"})
    assert twin.status_code == 201, twin.text
    assert (await client.post(f"/providers/{twin.json()['provider']['id']}/publish", headers=admin)).status_code == 200
    audit_rows = await fetchval(fresh_db, "select count(*) from audit_log")
    again = await client.post(f"/providers/{old}/publish", headers=admin)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name", again.text
    assert "archive me ltd" in again.json()["errors"][0]["problem"] and f"PATCH /providers/{old}" in again.text
    assert (await client.get(f"/providers/{old}", headers=admin)).json()["status"] == "archived"
    assert await fetchval(fresh_db, "select count(*) from audit_log") == audit_rows
    # its own key, while it is archived
    current = await client.get(f"/providers/{old}", headers=own)
    assert current.status_code == 200
    tag = {**own, "If-Match": current.headers["etag"]}
    service = {
        "pathway": "ETE",
        "name": "Jobs club",
        "description": "Weekly.",
        "areas": ["E06000020"],
        "cohorts": ["ADULTS"],
    }
    exercise_id = await fetchval(fresh_db, "select min(exercise_id) from engagement")
    need_id = await fetchval(fresh_db, "select min(id) from need where exercise_id = $1", exercise_id)
    for method, path, body, headers in (
        ("PATCH", f"/providers/{old}", {"description": "still here"}, tag),
        ("POST", f"/providers/{old}/services", service, own),
        ("POST", f"/providers/{old}/confirm", None, own),
        ("POST", f"/exercises/{exercise_id}/clarifications", {"question": "May we still bid?"}, own),
        ("POST", f"/exercises/{exercise_id}/responses", {"needs": [{"need_id": need_id, "intent": "lead"}]}, own),
    ):
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 409, (method, path, r.text)
        assert f"provider {old} is archived" in r.json()["message"], r.text
    assert await fetchval(fresh_db, "select count(*) from audit_log") == audit_rows
    # renamed by an admin, it is published again, and its key works again
    renamed = await client.patch(
        f"/providers/{old}",
        json={"name": "Archive Me (Ledbury) Ltd"},
        headers={**admin, "If-Match": current.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    assert (await client.post(f"/providers/{old}/publish", headers=admin)).status_code == 200
    confirmed = await client.post(f"/providers/{old}/confirm", headers=own)
    assert confirmed.status_code == 200 and confirmed.headers["etag"] == renamed.headers["etag"]  # a version: unmoved


async def test_registration_is_rate_limited_per_client(databases, template_db):
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app

    name = await databases.create("rate", template=template_db)
    app = create_app(app_settings(databases.dsn(name), registration_limit=2))
    async with AsyncTestClient(app=app) as client:
        statuses = []
        for i in range(3):
            r = await client.post(
                "/registrations", json={"name": f"Tiny Group {i}", "legal_form": "unincorporated_association"}
            )
            statuses.append(r.status_code)
        assert statuses == [201, 201, 429]
        assert int(r.headers["retry-after"]) > 0 and r.json()["error"] == "too_many_requests"
    conn = await db.connect(databases.dsn(name))
    try:
        assert await conn.fetchval("select count(*) from provider where name like 'Tiny Group %'") == 2
    finally:
        await conn.close()
        await databases.drop(name)


async def test_verified_identifiers_are_locked_for_the_provider(client, keys, fresh_db):
    conn = await db.connect(fresh_db)
    own = await conn.fetchval(
        "select provider_id from provider_identifier where identifier like 'GB-CHC-%' order by 1 limit 1"
    )
    await conn.close()
    admin = await keys.headers("admin")
    owner = await keys.headers("provider", own)
    assert (await client.post(f"/providers/{own}/verify", headers=admin)).json()["verified_at"] is not None
    before = await snapshot(fresh_db, own)
    r = await client.patch(
        f"/providers/{own}", json={"identifiers": []}, headers={**owner, "If-Match": await etag(client, own, owner)}
    )
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "identifiers"
    assert await snapshot(fresh_db, own) == before


async def test_a_profile_sent_with_its_sets_in_another_order_changes_nothing(client, keys, fresh_db):
    """Identifiers, accreditations and social value commitments are sets: the same members in another order (or
    twice) are the profile as it is: 200, version and ETag unmoved, no history; verified identifiers sent so are no
    attempt to change them (no 403). A real change records the lists as they are stored, by code."""
    conn = await db.connect(fresh_db)
    own = await conn.fetchval(
        """select p.id from provider p where p.status = 'published'
             and (select count(*) from provider_identifier i where i.provider_id = p.id) >= 2
             and (select count(*) from provider_accreditation a where a.provider_id = p.id) >= 2
             and (select count(*) from provider_social_value v where v.provider_id = p.id) >= 2
           order by p.id limit 1"""
    )
    await conn.close()
    admin = await keys.headers("admin")
    owner = await keys.headers("provider", own)
    assert (await client.post(f"/providers/{own}/verify", headers=admin)).status_code == 200
    held = await client.get(f"/providers/{own}", headers=owner)
    tag, profile = held.headers["etag"], held.json()
    before = await snapshot(fresh_db, own)
    sets = {f: [*reversed(profile[f]), profile[f][0]] for f in ("identifiers", "accreditations", "social_value")}
    for method, path, body in [
        ("PATCH", f"/providers/{own}", sets),
        ("PUT", f"/providers/{own}/accreditations", {"accreditations": sets["accreditations"]}),
        ("PUT", f"/providers/{own}/social-value", {"social_value": sets["social_value"]}),
    ]:
        r = await client.request(method, path, json=body, headers={**owner, "If-Match": tag})
        assert r.status_code == 200 and r.headers["etag"] == tag, (path, r.text)
        assert r.json() == profile, path
    assert await snapshot(fresh_db, own) == before
    new = sorted({"trusted_charity", "iso_9001", "rsq"} - set(profile["accreditations"]))[0]
    r = await client.put(
        f"/providers/{own}/accreditations",
        json={"accreditations": [new, *sets["accreditations"]]},
        headers={**owner, "If-Match": tag},
    )
    assert r.status_code == 200 and r.headers["etag"] != tag, r.text
    assert r.json()["accreditations"] == sorted([new, *profile["accreditations"]])
    newest = (await client.get(f"/providers/{own}/history", headers=owner)).json()["items"][0]
    assert newest["field_name"] == "accreditations"
    assert newest["replacement_value"] == r.json()["accreditations"]  # as stored


async def test_a_profiles_funding_sources_partners_and_premises_in_another_order_change_nothing(client, keys, fresh_db):
    """Funding sources, partner organisations and premises are sets too (nothing reads a place in them; the API's
    field descriptions say so): the same members in another order, on PATCH /providers/{id} or its resources, are
    the profile as it is: 200, version and ETag unmoved, no history, kept in the order held. A real change to one of
    them (with a reordering of the others) records that one alone, as sent."""
    own = await fetchval(
        fresh_db,
        """select p.id from provider p where p.status = 'published'
             and cardinality(p.other_funding_sources) >= 2 and cardinality(p.partner_organisations) >= 2
             and (select count(*) from provider_premises m where m.provider_id = p.id) >= 2
           order by p.id limit 1""",
    )
    owner = await keys.headers("provider", own)
    held = await client.get(f"/providers/{own}", headers=owner)
    tag, profile = held.headers["etag"], held.json()
    before = await snapshot(fresh_db, own)
    lists = ("other_funding_sources", "partner_organisations", "premises")
    reordered = {f: list(reversed(profile["resources"][f])) for f in lists}
    for path, body in [
        *((f"/providers/{own}/resources", {f: reordered[f]}) for f in lists),
        (f"/providers/{own}/resources", reordered),
        (f"/providers/{own}", {"resources": reordered}),
    ]:
        r = await client.patch(path, json=body, headers={**owner, "If-Match": tag})
        assert r.status_code == 200 and r.headers["etag"] == tag, (body, r.text)
        assert r.json() == profile, body
    assert await snapshot(fresh_db, own) == before
    sources = [*reordered["other_funding_sources"], "Ledbury town council grant"]
    r = await client.patch(
        f"/providers/{own}/resources",
        json={**reordered, "other_funding_sources": sources},
        headers={**owner, "If-Match": tag},
    )
    assert r.status_code == 200 and r.headers["etag"] != tag, r.text
    resources = r.json()["resources"]
    assert resources["other_funding_sources"] == sources
    assert {f: resources[f] for f in lists[1:]} == {f: profile["resources"][f] for f in lists[1:]}
    history = (await client.get(f"/providers/{own}/history", headers=owner)).json()["items"]
    newest = [e for e in history if e["version"] == history[0]["version"]]
    assert [(e["field_name"], e["replacement_value"]) for e in newest] == [("resources.other_funding_sources", sources)]
    schema = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    for name in ("Resources", "ResourcesPatch"):
        for f in lists:
            said = str(schema[name]["properties"][f])
            assert "order means nothing" in said, (name, f, said)


async def test_reserves_are_kept_to_two_decimal_places_as_stored_and_recorded(client, keys, fresh_db):
    """Reserves in months are stored to 2 decimal places: more are rounded (a half up, as written), so the response,
    the history and the stored value agree, and the same reserves sent again to more places change nothing."""
    own, _ = await two_providers(fresh_db)
    headers = await keys.headers("provider", own)
    r = await client.patch(
        f"/providers/{own}/finances",
        json={"reserves_months": 3.335},
        headers={**headers, "If-Match": await etag(client, own, headers)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["finances"]["reserves_months"] == 3.34  # not 3.33, its binary value's rounding
    newest = (await client.get(f"/providers/{own}/history", headers=headers)).json()["items"][0]
    assert (newest["field_name"], newest["replacement_value"]) == ("finances.reserves_months", 3.34)
    tag, before = r.headers["etag"], await snapshot(fresh_db, own)
    again = await client.patch(
        f"/providers/{own}/finances", json={"reserves_months": 3.3449}, headers={**headers, "If-Match": tag}
    )
    assert again.status_code == 200 and again.headers["etag"] == tag and again.json() == r.json()
    assert await snapshot(fresh_db, own) == before


async def test_confirm_refreshes_the_stale_flag(client, keys, fresh_db):
    conn = await db.connect(fresh_db)
    stale = await conn.fetchval(
        "select id from provider where status = 'published' "
        "and last_confirmed_at < now() - interval '13 months' limit 1"
    )
    await conn.close()
    owner = await keys.headers("provider", stale)
    assert (await client.get(f"/providers/{stale}")).json()["stale"] is True
    r = await client.post(f"/providers/{stale}/confirm", headers=owner)
    assert r.status_code == 200 and r.json()["stale"] is False
    history = (await client.get(f"/providers/{stale}/history", headers=owner)).json()["items"]
    assert history[0]["last_action_type"] == "confirm" and history[0]["field_name"] == "last_confirmed_at"
    # the times as the profile writes them (they were Python's "2026-11-30 16:06:49.346326+00:00")
    assert history[0]["replacement_value"] == r.json()["last_confirmed_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", history[0]["previous_value"])


async def test_sub_resources(client, keys, fresh_db):
    own, _ = await two_providers(fresh_db)
    h = await keys.headers("provider", own)

    async def send(method, path, body=None):
        r = await client.request(
            method,
            f"/providers/{own}{path}",
            headers={**h, "If-Match": await etag(client, own, h)},
            **({} if body is None else {"json": body}),
        )
        assert r.status_code == 200, r.text
        return r.json()

    p = await send("PUT", "/accreditations", {"accreditations": ["cyber_essentials", "cyber_essentials"]})
    assert p["accreditations"] == ["cyber_essentials"]
    p = await send("PATCH", "/contact", {"phone": "01632 960999"})
    assert p["contact"]["phone"] == "01632 960999"
    p = await send("PATCH", "/finances", {"accounts_year_end": "2026-03-31", "accounts_scrutiny": "audited"})
    assert p["finances"]["accounts_year_end"] == "2026-03-31" and p["finances"]["accounts_scrutiny"] == "audited"
    for gone in ("/expertise/ACCOM", "/coverage", "/capacity"):  # the old parts are services now
        r = await client.request(
            "PUT" if gone != "/capacity" else "PATCH", f"/providers/{own}{gone}", headers=h, json={}
        )
        assert r.status_code in (404, 405), (gone, r.status_code)


async def test_refused_requests_do_not_strand_database_connections(databases, template_db):
    """Many 401s in a row, more than the pool holds: the app still answers and shuts down cleanly."""
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app

    name = await databases.create("leak", template=template_db)
    app = create_app(app_settings(databases.dsn(name), pool_max_size=3))
    client = AsyncTestClient(app=app)
    await asyncio.wait_for(client.__aenter__(), 10)
    try:
        for _ in range(10):
            r = await asyncio.wait_for(
                client.get("/providers", headers={"Authorization": "Bearer prv_" + "B" * 43}), 10
            )
            assert r.status_code == 401
        r = await asyncio.wait_for(client.get("/providers"), 10)
        assert r.status_code == 200
    finally:
        await asyncio.wait_for(client.__aexit__(None, None, None), 10)
        await databases.drop(name)


async def test_an_if_match_sent_to_an_action_is_honoured(client, keys, fresh_db):
    """confirm, publish, archive and verify change no content, so need no If-Match; one sent was ignored (a publish
    with If-Match "v1" on a profile at "v4" went through). It must name the current version: 412 otherwise, and
    nothing changes."""
    provider_id = await fetchval(fresh_db, "select min(id) from provider where status = 'published'")
    owner = await keys.headers("provider", provider_id)
    current = (await client.get(f"/providers/{provider_id}")).headers["etag"]
    stale = '"v999"'
    before = (await client.get(f"/providers/{provider_id}/history", headers=owner)).json()["total"]
    r = await client.post(f"/providers/{provider_id}/confirm", headers={**owner, "If-Match": stale})
    assert r.status_code == 412 and r.json()["current_etag"] == current
    r = await client.post(
        f"/providers/{provider_id}/archive", headers={**(await keys.headers("admin")), "If-Match": stale}
    )
    assert r.status_code == 412
    assert (await client.get(f"/providers/{provider_id}/history", headers=owner)).json()["total"] == before
    assert (await client.get(f"/providers/{provider_id}")).json()["status"] == "published"
    assert (
        await client.post(f"/providers/{provider_id}/confirm", headers={**owner, "If-Match": current})
    ).status_code == 200
    assert (await client.post(f"/providers/{provider_id}/confirm", headers=owner)).status_code == 200  # none: fine
