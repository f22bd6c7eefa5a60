"""The API's own database role (schema/0008_app_role.sql): the append-only tables stay append-only even for it, and
every other table it may write has its changes recorded (schema/0027_change_history.sql) or is named as not.

Triggers refuse UPDATE and DELETE on the histories, the audit log and the stored runs; a superuser or an owner could
set them aside (disable the trigger, switch the replication role, alter or drop the table). The API connects as a role
that can do none of that, and `serve` refuses to start as one that could."""

from __future__ import annotations

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
                "select count(*) from pg_trigger where tgrelid = $1::regclass and tgenabled = 'O' and not tgisinternal",
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
            if name in db.APPEND_ONLY
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
