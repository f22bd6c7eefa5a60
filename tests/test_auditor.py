"""The auditor role: reads what admins and commissioners read (the audit log and the change history too), changes
nothing (every write is a 403 with the usual JSON body, recorded as denied). In the console it signs in to read the
audit log, the change history and the commissioning pages, without their forms (tests/test_console_audit.py)."""

from __future__ import annotations

import os
import re

import pytest
from conftest import TEST_SECRET, app_settings, fetchval, run_cli
from litestar.testing import AsyncTestClient
from test_console import CSRF
from test_imports import CSV, flat_csv, sheet_row

from marketplace.accounts.auth import READ_ONLY, changes_something
from marketplace.app import create_app
from marketplace.settings import Settings


async def test_an_admin_makes_an_auditor_key_and_no_one_else_can(client, keys):
    admin = await keys.headers("admin")
    made = await client.post("/keys", json={"role": "auditor", "name": "External auditor"}, headers=admin)
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["api_key"]["role"] == "auditor" and key["api_key"]["provider_id"] is None
    auditor = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/audit", headers=auditor)).status_code == 200
    for role in ("commissioner", "auditor"):
        r = await client.post("/keys", json={"role": "auditor", "name": "x"}, headers=await keys.headers(role))
        assert r.status_code == 403, (role, r.text)
    r = await client.post("/keys", json={"role": "auditor", "name": "x", "provider_id": 1}, headers=admin)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "provider_id"


async def test_the_command_line_makes_an_auditor_key(client, fresh_db):
    env = {**os.environ, "MARKETPLACE_SECRET": TEST_SECRET}
    made = run_cli("keys", "create", "--role", "auditor", "--name", "External auditor", env=env, dsn=fresh_db)
    assert made.returncode == 0, made.stderr
    assert "(auditor" in made.stdout
    key = made.stdout.strip().splitlines()[-1]
    auditor = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/changes?table=api_key", headers=auditor)).status_code == 200
    refused = await client.post("/exercises", json={"title": "x", "commissioning_body": "y"}, headers=auditor)
    assert refused.status_code == 403
    listed = run_cli("keys", "list", env=env, dsn=fresh_db)
    assert re.search(r"auditor\s", listed.stdout), listed.stdout


READS = [
    "/audit",
    "/changes?table=need&record_id=1",
    "/keys",
    "/exercises",
    "/exercises/1",
    "/exercises/1/needs",
    "/needs/1",
    "/needs/1/match-runs",
    "/exercises/1/report",
    "/exercises/1/reports",
    "/exercises/1/appraisals",
    "/appraisals",
    "/appraisals/1",
    "/appraisals/1/scores",
    "/appraisals/1/report?format=csv",
    "/exercises/1/responses",
    "/exercises/1/clarifications",
    "/exercises/1/questions",
    "/providers?status=pending",
    "/providers/1/history",
]


@pytest.mark.parametrize("path", READS)
async def test_the_auditor_reads_what_staff_read(read_client, read_keys, path):
    auditor = await read_keys.headers("auditor")
    staff = await read_keys.headers("admin")
    as_auditor = await read_client.get(path, headers=auditor)
    assert as_auditor.status_code == 200, (path, as_auditor.text[:300])
    as_staff = await read_client.get(path, headers=staff)
    assert as_staff.status_code == 200
    if path not in ("/audit", "/keys", "/changes?table=need&record_id=1") and "/report" not in path:
        assert as_auditor.content == as_staff.content, path  # (the logs grow as keys are made; reports are dated)


async def test_the_auditor_reads_responses_imports_match_runs_and_frozen_reports(client, keys, fresh_db):
    auditor = await keys.headers("auditor")
    commissioner = await keys.headers("commissioner")
    provider_id = await fetchval(fresh_db, "select min(provider_id) from engagement_response where exercise_id = 1")
    assert (await client.get(f"/exercises/1/responses/{provider_id}", headers=auditor)).status_code == 200
    revisions = await client.get(f"/exercises/1/responses/{provider_id}/revisions", headers=auditor)
    assert revisions.status_code == 200
    run = await client.post("/needs/1/match-runs?limit=5", headers=commissioner)
    assert run.status_code in (200, 201), run.text
    assert (await client.get(f"/match-runs/{run.json()['id']}", headers=auditor)).json() == run.json()
    frozen = await client.post("/exercises/1/reports", headers=commissioner)
    if frozen.status_code == 201:
        assert (await client.get(f"/reports/{frozen.json()['id']}", headers=auditor)).status_code == 200
    admin = await keys.headers("admin")
    rows = [sheet_row("Auditor Test Trust")]
    dry_run = await client.post("/imports?filename=a.csv", content=flat_csv(rows), headers={**admin, **CSV})
    assert dry_run.status_code == 201, dry_run.text
    assert (await client.get(f"/imports/{dry_run.json()['id']}", headers=auditor)).json() == dry_run.json()


def _writes() -> list[tuple[str, str]]:
    """Every operation of the API that changes something: its method and path (as the OpenAPI document writes it)."""
    return [
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
        for route in create_app(Settings()).routes
        for handler in getattr(route, "route_handlers", ())
        if handler.resolve_include_in_schema()
        for method in sorted(handler.http_methods)
        if changes_something(method, handler)
    ]


WRITES = _writes()


def concrete(path: str) -> str:
    """A path's parameters filled in: ids 1, codes iso_9001."""
    return re.sub(r"\{\w+\}", lambda m: "iso_9001" if m.group(0) == "{code}" else "1", path)


def test_every_write_is_counted_and_the_reconciliation_queries_are_reads():
    assert len(WRITES) > 40
    assert ("POST", "/registrations") in WRITES and ("DELETE", "/needs/{need_id}") in WRITES
    assert ("POST", "/reconcile") not in WRITES  # queries sent as a form: a read
    assert "GET" in READ_ONLY and "POST" not in READ_ONLY


async def test_every_write_documents_its_403(read_client):
    document = (await read_client.get("/schema/openapi.json")).json()
    for method, path in WRITES:
        responses = document["paths"][path][method.lower()]["responses"]
        assert "403" in responses and "auditor" in responses["403"]["description"], (method, path)


async def test_every_write_is_forbidden_to_the_auditor_with_the_usual_json_error(keys, fresh_db):
    key_id, key = await keys.make("auditor")
    auditor = {"Authorization": f"Bearer {key}", "If-Match": '"v1"'}
    history = await fetchval(fresh_db, "select count(*) from change_history")
    # more denials than a client may have in a minute (the limit itself: tests/test_audit.py)
    async with AsyncTestClient(app=create_app(app_settings(fresh_db, denial_limit=1000))) as client:
        for method, path in WRITES:
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = await client.request(method, concrete(path), headers=auditor, **body)
            assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
            assert r.json() == {
                "status": 403,
                "error": "forbidden",
                "message": "the auditor role only reads: it may not change anything",
                "errors": [],
            }, (method, path)
        form = {"queries": '{"q0": {"query": "Hollybrook"}}'}
        reconciled = await client.post("/reconcile", data=form, headers=auditor)
        assert reconciled.status_code == 200, reconciled.text
    assert await fetchval(fresh_db, "select count(*) from change_history") == history
    writes = await fetchval(fresh_db, "select count(*) from audit_log where key_id = $1 and outcome = 'write'", key_id)
    denied = await fetchval(
        fresh_db, "select count(*) from audit_log where key_id = $1 and outcome = 'denied' and role = 'auditor'", key_id
    )
    assert writes == 0
    assert denied >= 2  # the first denial of the minute at once, the rest counted into one row (when the app stopped)


async def test_the_console_signs_an_auditor_key_in_to_read(client, keys, fresh_db):
    """Once refused at sign-in (it read through the API only), an auditor's key now starts a session, as any key:
    the console's pages that change something refuse it as the API does (tests/test_console_audit.py)."""
    key_id, key = await keys.make("auditor")
    client.follow_redirects = False
    form = await client.get("/console/sign-in")
    token = CSRF.search(form.text).group(1)
    r = await client.post("/console/sign-in", data={"csrf_token": token, "api_key": key, "next": "/console/audit"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/audit"
    assert await fetchval(fresh_db, "select count(*) from console_session where key_id = $1", key_id) == 1
    denied = await fetchval(fresh_db, "select count(*) from audit_log where key_id = $1 and outcome = 'denied'", key_id)
    assert denied == 0
    assert (await client.get("/console/audit")).status_code == 200
