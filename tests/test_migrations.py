"""The migration runner on a real PostgreSQL: empty database, re-run, concurrent runners, forward-only."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from marketplace import db
from marketplace.migrate import MigrationError, discover, migrate
from marketplace.settings import PROJECT_ROOT

SCHEMA = PROJECT_ROOT / "schema"


@pytest.fixture
async def empty_db(databases):
    name = await databases.create("empty")
    yield databases.dsn(name)
    await databases.drop(name)


async def test_applies_every_migration_to_an_empty_database_then_is_a_no_op(empty_db):
    conn = await db.connect(empty_db)
    try:
        applied = await migrate(conn, SCHEMA)
        assert [m.version for m in applied] == [m.version for m in discover(SCHEMA)]
        assert len(applied) >= 2
        recorded = await conn.fetch("select version, checksum from schema_migration order by version")
        assert [(r["version"], r["checksum"]) for r in recorded] == [(m.version, m.checksum) for m in applied]
        assert await conn.fetchval("select to_regclass('provider') is not null")
        assert await migrate(conn, SCHEMA) == []
        assert await conn.fetchval("select count(*) from schema_migration") == len(applied)
    finally:
        await conn.close()


async def test_concurrent_runners_do_not_collide(empty_db):
    conns = [await db.connect(empty_db) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, SCHEMA) for c in conns))
        total = len(discover(SCHEMA))
        # every migration applied exactly once, by whichever runner held the lock
        assert sorted(len(r) for r in results) == [0, 0, 0, total]
        assert await conns[0].fetchval("select count(*) from schema_migration") == total
    finally:
        for c in conns:
            await c.close()


async def test_an_applied_migration_that_changed_is_refused(empty_db, tmp_path: Path):
    schema = tmp_path / "schema"
    shutil.copytree(SCHEMA, schema)
    conn = await db.connect(empty_db)
    try:
        await migrate(conn, schema)
        first = sorted(schema.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after the fact\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, schema)
    finally:
        await conn.close()


async def test_a_failing_migration_is_rolled_back_and_not_recorded(empty_db, tmp_path: Path):
    schema = tmp_path / "schema"
    shutil.copytree(SCHEMA, schema)
    (schema / "9999_broken.sql").write_text("create table half_done (id int);\nselect no_such_function();\n")
    conn = await db.connect(empty_db)
    try:
        with pytest.raises(Exception, match="no_such_function"):
            await migrate(conn, schema)
        assert await conn.fetchval("select to_regclass('half_done')") is None
        assert await conn.fetchval("select count(*) from schema_migration where version = 9999") == 0
        assert await conn.fetchval("select count(*) from schema_migration") == len(discover(SCHEMA))
    finally:
        await conn.close()


def test_badly_named_files_are_refused(tmp_path: Path):
    (tmp_path / "1_first.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("insert into provider (name, legal_form) values ('Ab', 'no_such_form')", "ForeignKeyViolationError"),
        ("insert into provider (name, legal_form, status) values ('Ab', 'cic', 'deleted')", "CheckViolationError"),
        ("insert into provider (name, legal_form, website) values ('Ab', 'cic', 'ftp://x')", "CheckViolationError"),
        ("insert into provider (name, legal_form) values (' ', 'cic')", "CheckViolationError"),
        (
            "insert into provider_identifier (identifier, provider_id) "
            "values ('GB-XXX-1', (select min(id) from provider))",
            "CheckViolationError",
        ),
        (
            "insert into provider_identifier (identifier, provider_id) "
            "select identifier, provider_id from provider_identifier limit 1",
            "UniqueViolationError",
        ),
        (
            "insert into service (provider_id, pathway_code, name, description) "
            "values ((select min(id) from provider), 'NOPE', 'x', 'x')",
            "ForeignKeyViolationError",
        ),
        (
            "insert into service_area (service_id, area_code) values ((select min(id) from service), 'E99999999')",
            "ForeignKeyViolationError",
        ),
        (
            "insert into service (provider_id, pathway_code, name, description, min_age, max_age) "
            "values ((select min(id) from provider), 'ACCOM', 'x', 'x', 30, 18)",
            "CheckViolationError",
        ),
        ("update provider set version = 0 where id = (select min(id) from provider)", "CheckViolationError"),
        ("insert into area (code, name, kind) values ('X1', 'Nowhere', 'county')", "CheckViolationError"),
    ],
)
async def test_the_database_itself_refuses_bad_rows(conn, sql, error):
    with pytest.raises(Exception) as info:
        async with conn.transaction():  # a savepoint inside the test's rolled-back transaction
            await conn.execute(sql)
    assert type(info.value).__name__ == error
