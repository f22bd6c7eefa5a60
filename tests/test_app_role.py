"""The API's own database role (schema/0008_app_role.sql): the append-only tables stay append-only even for it, and
every other table it may write has its changes recorded (schema/0027_change_history.sql) or is named as not.

Triggers refuse UPDATE and DELETE on the histories, the audit log and the stored runs; a superuser or an owner could
set them aside (disable the trigger, switch the replication role, alter or drop the table). The API connects as a role
that can do none of that, and `serve` refuses to start as one that could."""

from __future__ import annotations

import json
import os
from typing import get_args

import asyncpg
import pytest
from conftest import run_cli

from marketplace import db
from marketplace.accounts.models import CODED, NUMBERED, RecordTable

ATTEMPTS = {
    "update": "update {t} set id = default",
    "delete": "delete from {t}",
    "truncate": "truncate {t}",
    "disable its triggers": "alter table {t} disable trigger all",
    "drop it": "drop table {t}",
}


@pytest.fixture
async def as_app(fresh_db):
    conn = await asyncpg.connect(db.with_user(fresh_db, db.APP_ROLE))
    yield conn
    await conn.close()


@pytest.mark.parametrize("table", db.APPEND_ONLY)
@pytest.mark.parametrize("attempt", ATTEMPTS)
async def test_the_app_role_cannot_rewrite_an_append_only_table(as_app, fresh_db, table, attempt):
    owner = await asyncpg.connect(fresh_db)
    try:
        rows = await owner.fetchval(f"select count(*) from {table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_app.execute(ATTEMPTS[attempt].format(t=table))
        assert await owner.fetchval(f"select count(*) from {table}") == rows
        assert (
            await owner.fetchval(
                "select count(*) from pg_trigger t join pg_proc p on p.oid = t.tgfoid "
                "where t.tgrelid = $1::regclass and t.tgenabled = 'O' and p.proname = 'reject_change'",
                table,
            )
            == 2
        ), "both of its triggers still enabled"
    finally:
        await owner.close()


async def test_the_app_role_is_no_superuser_and_cannot_set_triggers_aside(as_app):
    assert await as_app.fetchval("select current_user") == db.APP_ROLE
    assert await db.role_problem(as_app) is None
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute("set session_replication_role = replica")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute("alter role marketplace_app superuser")
    # what it is for still works: reading, and adding to the history
    assert await as_app.fetchval("select count(*) from profile_history") > 0


async def test_every_table_is_granted_and_every_append_only_table_is_named(fresh_db):
    """A table a later migration adds is open to the API (default privileges); one with the append-only trigger
    must be in db.APPEND_ONLY, so that its UPDATE and DELETE are revoked and the check in `serve` covers it."""
    owner = await asyncpg.connect(fresh_db)
    try:
        rows = await owner.fetch(
            """select c.relname,
                      has_table_privilege($1, c.oid, 'SELECT') as s, has_table_privilege($1, c.oid, 'INSERT') as i,
                      has_table_privilege($1, c.oid, 'UPDATE') as u, has_table_privilege($1, c.oid, 'DELETE') as d,
                      exists (select from pg_trigger t join pg_proc p on p.oid = t.tgfoid
                               where t.tgrelid = c.oid and p.proname = 'reject_change') as append_only
                 from pg_class c
                where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition""",
            db.APP_ROLE,
        )
    finally:
        await owner.close()
    by_name = {r["relname"]: r for r in rows}
    assert {n for n, r in by_name.items() if r["append_only"]} == set(db.APPEND_ONLY)
    for name, r in by_name.items():
        expected = (
            (True, False, False, False)
            if name == "schema_migration" or name in db.READ_ONLY
            else (True, True, False, False)
            if name in db.APPEND_ONLY or name == "api_key"  # a key: its last use and revocation only (below)
            else (True, True, True, True)
        )
        assert (r["s"], r["i"], r["u"], r["d"]) == expected, name


async def test_every_table_the_app_may_write_is_append_only_recorded_or_named_as_not(fresh_db):
    """Each table the API's role may insert into, update or delete from is append-only (db.APPEND_ONLY), has the
    change history's row triggers for all three (schema/0027), or is in db.NOT_RECORDED with its reason; none is
    both, and the role may truncate none (no row trigger sees a TRUNCATE). A table a later migration adds fails here
    until it is one of the three."""
    owner = await asyncpg.connect(fresh_db)
    try:
        rows = await owner.fetch(
            """select c.relname,
                      has_table_privilege($1, c.oid, 'INSERT') or has_table_privilege($1, c.oid, 'UPDATE')
                          or has_table_privilege($1, c.oid, 'DELETE') as writable,
                      has_table_privilege($1, c.oid, 'TRUNCATE') as truncatable,
                      array(select (case when t.tgtype & 4 <> 0 then 'insert ' else '' end)
                                   || (case when t.tgtype & 16 <> 0 then 'update ' else '' end)
                                   || (case when t.tgtype & 8 <> 0 then 'delete' else '' end)
                              from pg_trigger t join pg_proc p on p.oid = t.tgfoid
                             where t.tgrelid = c.oid and p.proname = 'record_change' and t.tgtype & 1 = 1
                               and t.tgenabled = 'O') as recorded
                 from pg_class c
                where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition""",
            db.APP_ROLE,
        )
    finally:
        await owner.close()
    writable = {r["relname"] for r in rows if r["writable"]}
    recorded = {r["relname"] for r in rows if r["recorded"]}
    assert all(r["recorded"] == ["insert update delete"] for r in rows if r["recorded"]), (
        "one row trigger for all three"
    )
    assert not [r["relname"] for r in rows if r["truncatable"]]
    assert sorted(writable - set(db.APPEND_ONLY) - recorded - set(db.NOT_RECORDED)) == [], "neither recorded nor named"
    assert sorted(set(db.NOT_RECORDED) - writable) == [], "named as not recorded, but not a table the API may write"
    assert sorted(recorded & (set(db.NOT_RECORDED) | set(db.APPEND_ONLY))) == [], "recorded and named as not"
    assert all(len(reason) > 20 for reason in db.NOT_RECORDED.values())


async def test_the_histories_record_tables_are_the_apis(fresh_db):
    """GET /changes takes a record's table (accounts.models.RecordTable) and checks its id as a number or a code
    (NUMBERED): the same tables the triggers name, the same kinds of id as their columns."""
    owner = await asyncpg.connect(fresh_db)
    try:
        rows = await owner.fetch(
            """select distinct encode(t.tgargs, 'escape') as args
                 from pg_trigger t join pg_proc p on p.oid = t.tgfoid where p.proname = 'record_change'"""
        )
        kinds = {}
        column_type = (
            "select format_type(atttypid, null) from pg_attribute where attrelid = $1::regclass and attname = $2"
        )
        for r in rows:
            record_table, id_column = r["args"].split("\\000")[:2]
            kinds.setdefault(record_table, set()).add(
                await owner.fetchval(column_type, record_table, "id" if id_column.endswith("_id") else id_column)
            )
    finally:
        await owner.close()
    assert set(kinds) == set(get_args(RecordTable))
    assert {t for t, k in kinds.items() if k == {"bigint"}} == NUMBERED
    assert {t for t, k in kinds.items() if k == {"text"}} == CODED


async def test_a_role_that_may_add_to_the_change_history_could_forge_it(fresh_db):
    """Only the history's triggers add to it: `serve` refuses a role granted INSERT on it, as one that could write
    changes no one made."""
    owner = await asyncpg.connect(fresh_db)
    try:
        await owner.execute(f"grant insert on change_history to {db.APP_ROLE}")
        app = await asyncpg.connect(db.with_user(fresh_db, db.APP_ROLE))
        try:
            assert await db.role_problem(app) == f"the role {db.APP_ROLE} may change_history:INSERT"
        finally:
            await app.close()
    finally:
        await owner.close()


async def test_serve_refuses_a_role_that_could_rewrite_the_history(databases, template_db):
    name = await databases.create("owner", template=template_db)
    result = run_cli("serve", "--port", "1", env={**os.environ, "DATABASE_URL": databases.dsn(name)}, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "must not be able to rewrite its own history" in result.stderr and "is a superuser" in result.stderr


# -- what the API's role could do around the API without a trace (schema/0031) ------------------------------------


async def test_the_app_role_can_revoke_a_key_but_not_give_it_another_secret_role_or_provider(as_app, fresh_db):
    """An UPDATE of key_hash alone (which the change history leaves out) gave one key another's secret, unrecorded:
    the role may now change only a key's last use and revocation, and `serve` refuses one that may change more."""
    for column, value in (("key_hash", "'\\x00'::bytea"), ("role", "'admin'"), ("provider_id", "null")):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_app.execute(f"update api_key set {column} = {value} where id = 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute("delete from api_key where id = 1")
    key = await as_app.fetchval(  # as the app makes one (keys are made by the API, not the seed)
        "insert into api_key (name, role, key_hash, hint) values ('t', 'auditor', $1, 'aud_') returning id", bytes(32)
    )
    revoked = await as_app.execute("update api_key set last_used_at = now(), revoked_at = now() where id = $1", key)
    assert revoked == "UPDATE 1"  # what it may change
    owner = await asyncpg.connect(fresh_db)
    try:
        await owner.execute(f"grant update (key_hash) on api_key to {db.APP_ROLE}")
        assert await db.role_problem(as_app) == f"the role {db.APP_ROLE} may api_key.key_hash:UPDATE"
    finally:
        await owner.execute(f"revoke update (key_hash) on api_key from {db.APP_ROLE}")
        await owner.close()


@pytest.mark.parametrize(
    ("table", "forged"),
    [
        (
            "audit_log",
            "insert into audit_log (at, key_id, role, method, path, status, outcome, detail) "
            "values ('2026-12-01 09:00+00', 1, 'admin', 'POST', '/providers/5/publish', 200, 'write', 'backdated')",
        ),
        (
            "profile_history",
            "insert into profile_history (resource_id, version, last_action_date, last_action_type, field_name, "
            "previous_value, replacement_value, updated_by, updated_by_role) "
            "values (2, 1, '2020-01-01', 'update', 'name', '\"x\"', '\"y\"', 1, 'admin')",
        ),
        (
            "engagement_response",
            "insert into engagement_response (exercise_id, provider_id, revision, status, body, snapshot, created_at, "
            "created_by, recorded_at) select exercise_id, provider_id, revision + 100, status, body, snapshot, "
            "created_at, created_by, '2026-10-01 09:00+00' from engagement_response limit 1",
        ),
    ],
)
async def test_the_app_role_cannot_add_a_record_dated_other_than_now(as_app, fresh_db, table, forged):
    """The audit log's, the profile history's and a response's times of recording were whatever the inserting
    client said (a backdated admin "publish", a rename dated before the profile existed): the database refuses any
    but its own clock, and its default is that."""
    before = await as_app.fetchval(f"select count(*) from {table}")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="the database's clock"):
        await as_app.execute(forged)
    assert await as_app.fetchval(f"select count(*) from {table}") == before
    if table == "engagement_response":
        assert before > 0, "the seeded responses to copy from"


async def test_a_providers_standing_and_its_evidence_verifications_changed_around_the_api_are_recorded(
    as_app, fresh_db
):
    """Publishing a pending profile, or rewriting what an admin saw, as the API's role left no trace (its profile's
    history is the app's to write): both are in the change history now, under the provider, with no key."""
    pending = await as_app.fetchval("select id from provider where status = 'pending' order by id limit 1")
    verification = await as_app.fetchval("select id from evidence_verification order by id limit 1")
    assert pending is not None and verification is not None, "the seed has a pending profile and a verification"
    owner_of = await as_app.fetchval("select provider_id from evidence_verification where id = $1", verification)
    async with as_app.transaction():
        await as_app.execute("update provider set status = 'published' where id = $1", pending)
        await as_app.execute(
            "update evidence_verification set seen = 'forged: nothing seen' where id = $1", verification
        )
    rows = await as_app.fetch(
        "select table_name, record_id, key_id, role, before, after from change_history "
        "where record_table = 'provider' order by id desc limit 2"
    )
    assert {(r["table_name"], r["record_id"]) for r in rows} == {
        ("provider", str(pending)),
        ("evidence_verification", str(owner_of)),
    }
    standing = next(r for r in rows if r["table_name"] == "provider")
    assert (json.loads(standing["before"]), json.loads(standing["after"])) == (
        {"status": "pending"},
        {"status": "published"},
    )
    assert all(r["key_id"] is None and r["role"] is None for r in rows)
    seen = next(r for r in rows if r["table_name"] == "evidence_verification")
    assert json.loads(seen["after"]) == {"seen": "forged: nothing seen"}
