"""The set-based documents migration (schema/0023) on the seeded directory: every profile and service document reads
to the byte as it did, the stored ones included, and the refresh every write runs is planned once."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from conftest import migrated_before

from marketplace.migrate import migrate
from marketplace.seed import load_seed, write_seed
from marketplace.settings import PROJECT_ROOT

DOCS = {
    "stored profiles": "select id, profile_doc::text from provider order by id",
    "profiles": "select id, provider_profile_doc(id)::text from provider order by id",
    "services": "select id, service_doc(s)::text from service s order by id",
    "service lists": """select p.id, (select coalesce(json_agg(service_doc(s) order by s.position, s.id), '[]')::text
                                      from service s where s.provider_id = p.id) from provider p order by p.id""",
}


async def test_documents_read_the_same_after_the_migration_and_after_a_refresh(databases, tmp_path: Path):
    name = await databases.create("before_set_docs")
    try:
        async with migrated_before(databases.dsn(name), 23, tmp_path) as conn:
            # the seeded directory alone: today's code writes and reads the sample engagement, exercises and
            # appraisals as the newer schema holds them (questions, schema/0025; a need's area volumes, schema/0028),
            # and the documents are the providers' and services'
            data = msgspec.structs.replace(
                load_seed(PROJECT_ROOT / "seed_data"), engagement=None, exercises=[], appraisals=[]
            )
            assert await write_seed(conn, data) > 0
            await conn.execute("select refresh_provider_search(array(select id from provider))")
            before = {label: [tuple(r) for r in await conn.fetch(sql)] for label, sql in DOCS.items()}
            # the seeded directory's verified evidence is in the documents
            assert any(json.loads(doc)["verifications"] for _, doc in before["services"])
            assert any(s["verifications"] for _, doc in before["profiles"] for s in json.loads(doc)["services"])

            applied = await migrate(conn, PROJECT_ROOT / "schema")
            assert [m.version for m in applied][:1] == [23]
            assert {label: [tuple(r) for r in await conn.fetch(sql)] for label, sql in DOCS.items()} == before

            await conn.execute("select refresh_provider_search(array(select id from provider))")  # as writes do
            assert {label: [tuple(r) for r in await conn.fetch(sql)] for label, sql in DOCS.items()} == before

            storage = "select attstorage from pg_attribute where attrelid = 'provider'::regclass and attname = $1"
            assert await conn.fetchval(storage, "profile_doc") == b"e"  # a "char": external, never compressed
            config = await conn.fetchval("select proconfig from pg_proc where proname = 'refresh_provider_search'")
            assert config == ["plan_cache_mode=force_generic_plan"]
    finally:
        await databases.drop(name)
