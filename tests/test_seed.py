"""Seed data: loaded through the API's own types, checked against the taxonomies, errors named precisely."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path

import msgspec
import pytest

from marketplace import db
from marketplace.migrate import migrate, reset_schema
from marketplace.providers.models import Service, ServiceIn, service_of
from marketplace.seed import SeedError, load_providers, load_sample_engagement, load_taxonomy, seed
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
        record["services"][0]["pathway"] = "acom"

    with pytest.raises(SeedError) as info:
        seed_dir = bad_seed(3, change)
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)
    message = str(info.value)
    assert message.startswith("providers.json: record 3 (")
    assert "services[0].pathway" in message


def test_an_unknown_code_is_named_with_file_record_and_field(bad_seed):
    def change(record):
        record["services"][1]["areas"][0] = "E06999999"

    seed_dir = bad_seed(5, change)
    with pytest.raises(
        SeedError, match=r"providers\.json: record 5 \('.+'\): services\[1\]\.areas\[0\]: unknown area code 'E06999999'"
    ):
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda s: s.update(eligibility={"min_age": 18, "max_age": 10}), "eligibility.max_age", "below the minimum"),
        (lambda s: s.update(capacity={"places_available": 3}), "capacity.places_as_of", "go together"),
        (lambda s: s.update(years_delivering=150), "years_delivering", "more years than the organisation"),
        (lambda s: s.update(cost={"amount": 120, "unit": "per_week"}), "cost.unit", "Invalid enum value 'per_week'"),
        (lambda s: s["outcomes"].append({"outcome": "x", "measure": "y"}), "outcomes[", "period"),
        (lambda s: s.update(accreditations=["rsq", "leading_light"]), "accreditations[1]", "unknown accreditation"),
    ],
)
def test_a_bad_service_is_named_with_its_field_path(bad_seed, change, field, problem):
    """A service's own rules (checked with the API's service_problems) and its schema, named down to the field."""

    def edit(record):
        service = record["services"][2]
        service.setdefault("outcomes", [])
        change(service)

    seed_dir = bad_seed(0, edit)
    with pytest.raises(SeedError) as info:
        load_providers(seed_dir, load_taxonomy(seed_dir), today=TODAY)
    message = str(info.value)
    assert message.startswith("providers.json: record 0 ('Marchlight Housing Trust'): services[2].")
    assert f"services[2].{field}" in message and problem in message, message


def test_a_sample_question_with_one_choice_twice_is_named_with_its_field_path(seed_dir: Path, tmp_path: Path):
    """The sample engagement's questions are checked as adding them checks them: a choice given twice (spaces around
    it do not count) names the question and the choice."""
    sample = json.loads((seed_dir / "engagement.json").read_text())
    k = next(i for i, q in enumerate(sample["questions"]) if q["kind"] == "single_choice")
    sample["questions"][k]["choices"].append(f" {sample['questions'][k]['choices'][0]} ")
    path = tmp_path / "engagement.json"
    path.write_text(json.dumps(sample))
    n = len(sample["questions"][k]["choices"]) - 1
    with pytest.raises(SeedError, match=rf"^engagement\.json: questions\[{k}\]\.choices\[{n}\]: the same choice as"):
        load_sample_engagement(path)
    assert load_sample_engagement(seed_dir / "engagement.json").questions


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


def _sets(x: ServiceIn) -> ServiceIn:
    """The code lists in one order (the database returns them by code or by the taxonomy's order)."""
    return msgspec.structs.replace(
        x, cohorts=sorted(x.cohorts), areas=sorted(x.areas), accreditations=sorted(x.accreditations)
    )


async def test_the_seed_loads_as_written_and_the_derived_columns_follow_its_services(conn, seed_dir: Path):
    """Every seed service is in the database as the file says, and the denormalised arrays used by search and
    matching are what the file implies (computed here from the file and the area tree, not from SQL): a service's
    areas with everything above and below them; a provider's pathways, cohorts, coverage and accreditations from its
    active services only (plus its own accreditations)."""
    taxonomy = load_taxonomy(seed_dir)
    parent = {a.code: a.parent for a in taxonomy.areas}

    def up(code: str) -> set[str]:
        return {code} | (up(parent[code]) if parent[code] else set())

    down = {a: {b for b in parent if a in up(b)} for a in parent}
    sector = {lf.code: lf.sector for lf in taxonomy.legal_forms}
    rows = {
        r["name"]: r
        for r in await conn.fetch(
            """select p.name, p.sector, p.pathway_codes, p.cohort_codes, p.coverage_codes, p.area_match_codes,
                      p.accreditation_codes, p.accounts_year_end, p.accounts_scrutiny,
                      coalesce(json_agg(json_build_object(
                          'doc', service_doc(s), 'cohort_codes', s.cohort_codes, 'area_codes', s.area_codes,
                          'area_match_codes', s.area_match_codes, 'accreditation_codes', s.accreditation_codes)
                          order by s.position, s.id) filter (where s.id is not null), '[]')::text as services
               from provider p left join service s on s.provider_id = p.id
               where p.is_sample group by p.id"""
        )
    }
    providers = load_providers(seed_dir, taxonomy, today=TODAY)
    assert sorted(rows) == sorted(p.name for p in providers)
    for p in providers:
        row = rows[p.name]
        services = json.loads(row["services"])
        stored = [service_of(msgspec.convert(x["doc"], Service, strict=False)) for x in services]
        assert [_sets(x) for x in stored] == [_sets(x) for x in p.services], p.name
        for x, given in zip(services, p.services, strict=True):
            assert x["cohort_codes"] == sorted(given.cohorts)
            assert x["area_codes"] == sorted(given.areas)
            assert x["area_match_codes"] == sorted(set().union(*(up(a) | down[a] for a in given.areas)))
            assert x["accreditation_codes"] == sorted(given.accreditations)
        active = [x for x in p.services if x.status == "active"]
        assert row["sector"] == sector[p.legal_form]
        assert row["pathway_codes"] == sorted({x.pathway for x in active}), p.name
        assert row["cohort_codes"] == sorted({c for x in active for c in x.cohorts}), p.name
        assert row["coverage_codes"] == sorted({d for x in active for a in x.areas for d in down[a]}), p.name
        assert row["area_match_codes"] == sorted({b for x in active for a in x.areas for b in up(a) | down[a]})
        assert row["accreditation_codes"] == sorted({*p.accreditations, *(a for x in active for a in x.accreditations)})
        assert (row["accounts_year_end"], row["accounts_scrutiny"]) == (
            p.finances.accounts_year_end,
            p.finances.accounts_scrutiny,
        )
    assert any(x.status == "inactive" for p in providers for x in p.services), "the check above covers inactive ones"
    assert await conn.fetchval("select count(*) from provider where search_doc = ''::tsvector") == 0


async def test_the_seeded_market_has_the_variety_the_issue_asks_for(conn):
    """Checked on the loaded data: a large regional charity with three services in different areas and capacities,
    small CICs with one service, a co-operative whose two services cover different counties, costs and outcomes
    records on most services but not all, women's and youth services that say whom they serve."""
    services = [
        dict(r)
        for r in await conn.fetch(
            """select p.id as provider_id, p.name as provider, p.legal_form, p.sector, p.annual_income, s.id,
                      s.pathway_code, s.area_codes, s.capacity_per_year, s.places_available, s.places_as_of,
                      s.cost_amount, s.cost_unit, s.min_age, s.max_age, s.gender, s.status,
                      array(select o.source from service_outcome o where o.service_id = s.id) as sources,
                      array(select o.reference from service_outcome o where o.service_id = s.id
                            and o.source = 'independently_evaluated') as references
               from service s join provider p on p.id = s.provider_id
               where p.is_sample and s.status = 'active'"""
        )
    ]
    by_provider: dict[int, list[dict]] = {}
    for x in services:
        by_provider.setdefault(x["provider_id"], []).append(x)
    parent = dict(await conn.fetch("select code, parent_code from area"))
    kind = dict(await conn.fetch("select code, kind from area"))

    def county(code: str) -> str | None:
        """The county or unitary authority an area is in (None for the whole region)."""
        return parent[code] if kind[code] == "district" else code if kind[code] in ("county", "unitary") else None

    def three_distinct(group: list[dict]) -> bool:
        with_capacity = [x for x in group if x["capacity_per_year"] is not None]
        return any(
            len({tuple(x["area_codes"]) for x in trio}) == 3 and len({x["capacity_per_year"] for x in trio}) == 3
            for trio in itertools.combinations(with_capacity, 3)
        )

    large_regional = [
        group
        for group in by_provider.values()
        if group[0]["sector"] == "third_sector"
        and (group[0]["annual_income"] or 0) >= 5_000_000
        and three_distinct(group)
    ]
    assert large_regional, "a large charity with three services in different areas and with different capacities"
    one_service_cics = [g for g in by_provider.values() if g[0]["legal_form"] == "cic" and len(g) == 1]
    assert len(one_service_cics) >= 3
    co_ops = [
        group
        for group in by_provider.values()
        if group[0]["sector"] == "co_operative"
        and len(group) == 2
        and {county(a) for a in group[0]["area_codes"]}.isdisjoint({county(a) for a in group[1]["area_codes"]})
        and None not in {county(a) for x in group for a in x["area_codes"]}
    ]
    assert co_ops, "a co-operative whose two services cover different counties"

    with_cost = [x for x in services if x["cost_amount"] is not None]
    with_outcomes = [x for x in services if x["sources"]]
    assert len(services) / 2 < len(with_cost) < len(services), "costs on most services, missing on some"
    assert len(services) / 2 < len(with_outcomes) < len(services), "outcomes records on most, missing on some"
    assert {x["cost_unit"] for x in with_cost} == {"per_service_user", "per_place_per_year", "per_hour", "per_session"}
    sources = [source for x in services for source in x["sources"]]
    assert sources.count("self_declared") > len(sources) / 2
    assert sources.count("independently_evaluated") >= 5 and sources.count("commissioner_reported") >= 3
    assert all(ref for x in services for ref in x["references"]), "an independent evaluation names its reference"
    assert any(x["places_available"] is not None and x["places_as_of"] is not None for x in services)

    women = [x for x in services if x["pathway_code"] in ("WOMEN_ABUSE", "WOMEN_SEXWORK")]
    assert women and all(x["gender"] == "women" for x in women)
    youth = [x for x in services if x["pathway_code"] == "YOUTH_DIVERSION"]
    assert any((x["min_age"], x["max_age"]) == (10, 17) for x in youth)
    assert all(x["max_age"] is not None and x["max_age"] <= 21 for x in youth)
    assert any(x["gender"] == "men" for x in services)
    assert (
        await conn.fetchval(
            "select count(*) filter (where accounts_year_end is not null and accounts_scrutiny is not null)::float"
            " / count(*) from provider where is_sample"
        )
        > 0.75
    )


async def test_the_sample_exercise_seeds_into_a_directory_that_already_has_providers(
    databases, seed_dir: Path, tmp_path: Path
):
    """A database seeded before exercises existed still gets the sample exercise on the next seed."""
    name = await databases.create("seed-ex")
    conn = await db.connect(databases.dsn(name))
    before_engagement = tmp_path / "seed"  # (its published sample would keep the exercise: responses are evidence)
    shutil.copytree(seed_dir, before_engagement, ignore=shutil.ignore_patterns("engagement.json"))
    try:
        await migrate(conn, PROJECT_ROOT / "schema")
        await seed(conn, before_engagement, today=TODAY)
        # the sample appraisal on the exercise is frozen: only the tables' owner, setting its trigger aside, removes it
        await conn.execute("alter table appraisal disable trigger appraisal_frozen; delete from appraisal")
        await conn.execute("delete from need; delete from exercise")
        assert await seed(conn, seed_dir, today=TODAY) == 0  # providers are not loaded twice ...
        assert await conn.fetchval("select count(*) from exercise") == 1  # ... but the exercise comes back
        assert await conn.fetchval("select count(*) from need") >= 5
    finally:
        await conn.close()
        await databases.drop(name)


async def test_the_sample_appraisals_decision_is_in_the_audit_log_as_the_apis_are(conn):
    """The audit log holds every write: the seed recorded "created appraisal 1" but not its decision, which the
    change history had. The sample's decision is audited as a decision made through the API is."""
    rows = await conn.fetch(
        "select method, status, detail from audit_log where detail like '% appraisal ' || $1 || '%' order by id",
        str(await conn.fetchval("select id from appraisal where is_sample")),
    )
    appraisal_id, option = await conn.fetchrow("select id, decision->>'option' from appraisal where is_sample")
    assert [(r["method"], r["status"], r["detail"]) for r in rows] == [
        ("SEED", 201, f"created appraisal {appraisal_id}"),
        ("SEED", 201, f"decided appraisal {appraisal_id}: {option} (frozen)"),
    ]
