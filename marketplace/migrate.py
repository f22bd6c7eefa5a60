"""A small forward-only migration runner.

Files `schema/NNNN_name.sql` apply in order, each in its own transaction, and are recorded
in `schema_migration` with a checksum. A session-level advisory lock serialises runners, so
two workers starting at once never race. An applied file that has since changed is an error:
migrations are forward-only, so the fix is a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

LOCK_KEY = 0x5052_4F56  # "PROV"
FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(schema_dir: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(schema_dir.glob("*.sql")):
        m = FILE_RE.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {schema_dir}")
    return found


async def migrate(conn: asyncpg.Connection, schema_dir: Path) -> list[Migration]:
    """Apply pending migrations; returns those applied by this call."""
    migrations = discover(schema_dir)
    await conn.execute("select pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """
            create table if not exists schema_migration (
                version    int primary key,
                name       text not null,
                checksum   text not null,
                applied_at timestamptz not null default now()
            )
            """
        )
        applied = {r["version"]: r for r in await conn.fetch("select version, name, checksum from schema_migration")}
        done: list[Migration] = []
        for m in migrations:
            if m.version in applied:
                if applied[m.version]["checksum"] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} changed after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "insert into schema_migration (version, name, checksum) values ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            done.append(m)
        return done
    finally:
        await conn.execute("select pg_advisory_unlock($1)", LOCK_KEY)


async def reset_schema(conn: asyncpg.Connection) -> None:
    """Drop everything in the public schema (a demo database starting over). Irreversible."""
    await conn.execute("select pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute("drop schema public cascade; create schema public;")
        await conn.execute("drop table if exists schema_migration")
    finally:
        await conn.execute("select pg_advisory_unlock($1)", LOCK_KEY)
