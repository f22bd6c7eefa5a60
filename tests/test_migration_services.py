"""The services migration (schema/0007) on a database holding data in the previous schema: every expertise line is
now a service, nothing is lost, and the history is intact and records the migration."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from conftest import migrated_before

from marketplace import db
from marketplace.migrate import migrate
from marketplace.seed import load_taxonomy
from marketplace.settings import PROJECT_ROOT
from marketplace.taxonomy import service as taxonomy

SCHEMA = PROJECT_ROOT / "schema"

OLD_PROVIDERS = """
insert into provider (name, legal_form, description, capacity_per_year, status, last_confirmed_at)
values ('One Pathway Trust', 'registered_charity', 'Housing in Telford', 60, 'published', '2026-01-05T09:00:00Z'),
       ('Three Pathways CIC', 'cic', 'Housing, jobs and money advice', 300, 'published', null),
       ('No Capacity Co-op', 'co_operative_society', 'Mentoring', null, 'pending', null),
       ('Nothing Yet Ltd', 'private_company', '', null, 'pending', null)
"""


@pytest.fixture
async def old_db(databases, tmp_path: Path):
    """A database at schema 0006 with providers in the old shape (expertise, coverage, capacity) and history."""
    name = await databases.create("before_services")
    dsn = databases.dsn(name)
    async with migrated_before(dsn, 7, tmp_path) as conn:
        # the taxonomies of schema 0006 (desired outcomes came with 0014)
        tax = msgspec.structs.replace(load_taxonomy(PROJECT_ROOT / "seed_data"), desired_outcomes=[])
        await taxonomy.save(conn, tax)
        await conn.execute(OLD_PROVIDERS)
        ids = [r["id"] for r in await conn.fetch("select id from provider order by id")]
        one, three, no_cap, _ = ids
        await conn.executemany(
            """insert into provider_expertise (provider_id, pathway_code, years_experience, description,
                                               outcomes_evidence, position) values ($1, $2, $3, $4, $5, $6)""",
            [
                (one, "ACCOM", 12, "Supported housing for people leaving custody.", "80% moved on well (n=40)", 0),
                (three, "ACCOM", 5, "Shared houses.", None, 0),
                (three, "ETE", 3, "Job coaching.", "  ", 1),
                (three, "FINANCE", 2, "Money advice.", "Cleared £1.2m of debt in 2025.", 2),
                (no_cap, "ATB", 9, "Mentoring through the gate.", None, 0),
            ],
        )
        await conn.executemany(
            "insert into provider_expertise_cohort (provider_id, pathway_code, cohort_code) values ($1, $2, $3)",
            [
                (one, "ACCOM", "ADULTS"),
                (one, "ACCOM", "WOMEN"),
                (three, "ACCOM", "ADULTS"),
                (three, "ETE", "ADULTS"),
                (three, "FINANCE", "ADULTS"),
                (no_cap, "ATB", "YOUNG_ADULTS"),
            ],
        )
        await conn.executemany(
            "insert into provider_coverage (provider_id, area_code) values ($1, $2)",
            [(one, "E06000020"), (three, "E06000051"), (three, "E06000019"), (no_cap, "E10000034")],
        )
        await conn.execute("select refresh_provider_search($1::bigint[])", ids)
        await conn.executemany(
            """insert into profile_history (resource_id, version, last_action_type, field_name,
                                            replacement_value, updated_by_role)
               values ($1, 1, 'create', 'profile', '{}'::jsonb, 'system')""",
            [(i,) for i in ids],
        )
    yield dsn, ids
    await databases.drop(name)


async def test_each_expertise_line_becomes_a_service_and_nothing_is_lost(old_db) -> None:
    dsn, (one, three, no_cap, nothing) = old_db
    conn = await db.connect(dsn)
    try:
        history_before = await conn.fetch("select * from profile_history order by id")
        applied = await migrate(conn, SCHEMA)
        assert applied[0].name == "services"

        services = await conn.fetch(
            """select s.provider_id, s.pathway_code, s.name, s.description, s.capacity_per_year, s.years_delivering,
                      s.area_codes, s.cohort_codes, s.status, s.uuid, s.last_confirmed_at
               from service s order by s.provider_id, s.position"""
        )
        assert [(s["provider_id"], s["pathway_code"]) for s in services] == [
            (one, "ACCOM"),
            (three, "ACCOM"),
            (three, "ETE"),
            (three, "FINANCE"),
            (no_cap, "ATB"),
        ]
        by = {(s["provider_id"], s["pathway_code"]): s for s in services}
        # the organisation's coverage, cohorts, years and description move onto each of its services
        assert by[one, "ACCOM"]["area_codes"] == ["E06000020"] and by[one, "ACCOM"]["cohort_codes"] == [
            "ADULTS",
            "WOMEN",
        ]
        assert by[three, "FINANCE"]["area_codes"] == ["E06000019", "E06000051"]
        assert by[three, "ETE"]["description"] == "Job coaching." and by[three, "ETE"]["years_delivering"] == 3
        assert by[one, "ACCOM"]["name"] == "Accommodation" and all(s["status"] == "active" for s in services)
        assert len({s["uuid"] for s in services}) == 5
        assert by[one, "ACCOM"]["last_confirmed_at"] is not None
        # one pathway keeps its capacity; several leave it unknown and ask the provider to confirm
        assert by[one, "ACCOM"]["capacity_per_year"] == 60
        assert [by[three, p]["capacity_per_year"] for p in ("ACCOM", "ETE", "FINANCE")] == [None, None, None]
        to_confirm = dict(await conn.fetch("select id, to_confirm from provider"))
        assert to_confirm[one] == [] and to_confirm[no_cap] == [] and to_confirm[nothing] == []
        assert len(to_confirm[three]) == 1 and "300" in to_confirm[three][0]
        # free-text outcomes evidence becomes a self-declared record that keeps the words (blank text: none)
        outcomes = await conn.fetch(
            "select s.provider_id, s.pathway_code, o.source, o.note"
            " from service_outcome o join service s on s.id = o.service_id"
        )
        assert sorted((o["provider_id"], o["pathway_code"], o["source"], o["note"]) for o in outcomes) == sorted(
            [
                (one, "ACCOM", "self_declared", "80% moved on well (n=40)"),
                (three, "FINANCE", "self_declared", "Cleared £1.2m of debt in 2025."),
            ]
        )
        # the history kept every row it had, and records what each provider said before the migration
        history_after = await conn.fetch("select * from profile_history order by id")
        assert history_after[: len(history_before)] == history_before
        migrated = {r["resource_id"]: r for r in history_after[len(history_before) :]}
        assert set(migrated) == {one, three, no_cap}
        assert all(r["last_action_type"] == "migrate" and r["updated_by_role"] == "system" for r in migrated.values())
        before = migrated[three]["previous_value"]
        assert [e["pathway"] for e in before["expertise"]] == ["ACCOM", "ETE", "FINANCE"]
        assert before["coverage"] == ["E06000019", "E06000051"] and before["capacity"] == {
            "service_users_per_year": 300
        }
        assert before["expertise"][2]["outcomes_evidence"] == "Cleared £1.2m of debt in 2025."
        assert len(migrated[three]["replacement_value"]) == 3
        # the old tables are gone; the derived columns and documents are rebuilt from the services
        assert not await conn.fetchval("select to_regclass('provider_expertise') is not null")
        row = await conn.fetchrow(
            "select pathway_codes, area_match_codes, profile_doc::text from provider where id = $1", three
        )
        assert row["pathway_codes"] == ["ACCOM", "ETE", "FINANCE"] and "E23000016" in row["area_match_codes"]
        doc = json.loads(row["profile_doc"])
        assert [s["pathway"] for s in doc["services"]] == ["ACCOM", "ETE", "FINANCE"]
        assert "expertise" not in doc and "coverage" not in doc and "capacity" not in doc
    finally:
        await conn.close()
