"""Seed data: loaded through the API's own types, checked against the taxonomies, errors named precisely."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from marketplace import db
from marketplace.migrate import migrate, reset_schema
from marketplace.seed import SeedError, load_providers, load_taxonomy, seed
from marketplace.settings import PROJECT_ROOT

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def bad_seed(seed_dir: Path, tmp_path: Path):
    """A copy of the seed files; the test edits one record of providers.json."""
    target = tmp_path / "seed"
    shutil.copytree(seed_dir, target)

    def edit(index: int, change) -> Path:
        path = target / "providers.json"
        records = json.loads(path.read_text())
        change(records[index])
        path.write_text(json.dumps(records))
        return target

    return edit


def test_the_shipped_seed_files_load_and_agree_with_the_taxonomies(seed_dir: Path):
    taxonomy = load_taxonomy(seed_dir)
    providers = load_providers(seed_dir, taxonomy, today=TODAY)
    assert len(providers) >= 100
    assert len({p.name for p in providers}) == len(providers), "provider names are unique"
    assert {a.code for a in taxonomy.areas} >= {"E23000016", "E10000034", "E06000019", "E06000051", "E06000020"}
    worcestershire_districts = {a.code for a in taxonomy.areas if a.parent == "E10000034"}
    assert len(worcestershire_districts) == 6
    assert len(taxonomy.pathways) == 11
    legal_forms = {lf.code for lf in taxonomy.legal_forms}
    assert {p.legal_form for p in providers} <= legal_forms
    # a realistic mix: every sector represented
    sector_of = {lf.code: lf.sector for lf in taxonomy.legal_forms}
    assert {sector_of[p.legal_form] for p in providers} == {s.code for s in taxonomy.sectors}


def test_a_bad_field_is_named_with_file_record_and_path(bad_seed):
    def change(record):
        record["expertise"][0]["pathway"] = "acom"

    with pytest.raises(SeedError) as info:
        seed_dir = bad_seed(3, change)
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)
    message = str(info.value)
    assert message.startswith("providers.json: record 3 (")
    assert "expertise[0].pathway" in message


def test_an_unknown_code_is_named_with_file_record_and_field(bad_seed):
    def change(record):
        record["coverage"] = ["E06000019", "E06999999"]

    seed_dir = bad_seed(5, change)
    with pytest.raises(
        SeedError, match=r"providers\.json: record 5 \('.+'\): coverage\[1\]: unknown area code 'E06999999'"
    ):
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)


def test_an_unknown_field_is_refused(bad_seed):
    def change(record):
        record["turnover"] = 5

    seed_dir = bad_seed(0, change)
    with pytest.raises(SeedError, match=r"record 0 .*turnover"):
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)


def test_a_repeated_identifier_is_refused(bad_seed, seed_dir: Path):
    records = json.loads((seed_dir / "providers.json").read_text())
    first, later = [
        i for i, r in enumerate(records) if r.get("identifiers") and r["legal_form"] == "registered_charity"
    ][:2]

    def change(record):
        record["identifiers"] = records[first]["identifiers"]

    path = bad_seed(later, change)
    with pytest.raises(SeedError, match=rf"record {later} .*identifiers: .* also used by record {first}"):
        load_providers(path, load_taxonomy(path), today=TODAY)


async def test_seeding_twice_adds_nothing_and_reset_rebuilds(databases, seed_dir: Path):
    name = await databases.create("seed")
    conn = await db.connect(databases.dsn(name))
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        loaded = await seed(conn, seed_dir, today=TODAY)
        expected = len(load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY))
        assert loaded == expected
        assert await seed(conn, seed_dir, today=TODAY) == 0
        assert await conn.fetchval("select count(*) from provider") == expected
        # every demo profile starts its history with a 'create' record
        assert await conn.fetchval("select count(*) from profile_history where last_action_type = 'create'") == expected
        await conn.execute("update provider set name = 'Changed by hand' where id = (select min(id) from provider)")
        await reset_schema(conn)  # what `marketplace seed --reset` does first: history is append-only
        await migrate(conn, PROJECT_ROOT / "schema")
        assert await seed(conn, seed_dir, today=TODAY) == expected
        assert await conn.fetchval("select count(*) from provider where name = 'Changed by hand'") == 0
        assert await conn.fetchval("select bool_and(is_sample) from provider")
    finally:
        await conn.close()
        await databases.drop(name)


async def test_derived_search_columns_agree_with_the_profile_tables(conn):
    """The denormalised arrays used by search are rebuilt from the normalised rows, not typed in."""
    mismatches = await conn.fetch(
        """
        select p.id from provider p
        where p.pathway_codes is distinct from
                  coalesce((select array_agg(e.pathway_code order by e.pathway_code) from provider_expertise e
                            where e.provider_id = p.id), '{}')
           or p.coverage_codes is distinct from
                  coalesce((select array_agg(distinct c.descendant order by c.descendant) from provider_coverage pc
                            join area_closure c on c.ancestor = pc.area_code where pc.provider_id = p.id), '{}')
           or p.sector is distinct from (select sector_code from legal_form where code = p.legal_form)
        """
    )
    assert mismatches == []
    assert await conn.fetchval("select count(*) from provider where search_doc = ''::tsvector") == 0


async def test_the_sample_exercise_seeds_into_a_directory_that_already_has_providers(databases, seed_dir: Path):
    """A database seeded before exercises existed still gets the sample exercise on the next seed."""
    name = await databases.create("seed-ex")
    conn = await db.connect(databases.dsn(name))
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        await seed(conn, seed_dir, today=TODAY)
        await conn.execute("delete from need; delete from exercise")
        assert await seed(conn, seed_dir, today=TODAY) == 0  # providers are not loaded twice ...
        assert await conn.fetchval("select count(*) from exercise") == 1  # ... but the exercise comes back
        assert await conn.fetchval("select count(*) from need") >= 5
    finally:
        await conn.close()
        await databases.drop(name)
