"""The helpers that replaced repeated code in the shell's rooms (issue 10): each checked on its own."""

from __future__ import annotations

import msgspec
import pytest

from marketplace.engagement import queries as engagement_queries
from marketplace.engagement.models import ResponseIn
from marketplace.providers import queries as provider_queries
from marketplace.providers.models import Premises, ProviderProfile, Resources
from marketplace.taxonomy import models as taxonomy
from marketplace.taxonomy.routes import LIST_TYPES

# --- http.from_zero: a query parameter from 0 ------------------------------------------------------------

FROM_ZERO = {"min_capacity": 10_000_000, "age": 120, "max_cost": 10_000_000}
"""The searches' parameters from 0, and their most."""


@pytest.mark.parametrize("path", ["/providers", "/providers/export"])
async def test_a_parameter_from_zero_keeps_its_zero_minimum_in_the_openapi_document(read_client, path):
    document = (await read_client.get("/schema/openapi.json")).json()
    parameters = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}
    for name, most in FROM_ZERO.items():
        schema = next(s for s in [parameters[name], *parameters[name].get("oneOf", [])] if "maximum" in s)
        assert (schema["minimum"], schema["maximum"]) == (0, most), name


@pytest.mark.parametrize(("name", "value"), [("min_capacity", -1), ("age", 121), ("max_cost", -0.5)])
@pytest.mark.parametrize("path", ["/providers", "/providers/export"])
async def test_a_parameter_from_zero_outside_its_range_is_a_400_naming_it(read_client, path, name, value):
    given = {"format": "csv"} if path.endswith("export") else {}
    r = await read_client.get(path, params={**given, name: value})
    assert r.status_code == 400
    assert name in [e["field"] for e in r.json()["errors"]]


async def test_a_parameter_from_zero_takes_zero(read_client):
    r = await read_client.get("/providers", params={"min_capacity": 0, "max_cost": 0, "age": 0})
    assert r.status_code == 200


# --- taxonomy.routes.LIST_TYPES: a listing's item type, from Taxonomy ----------------------------------------


def test_each_taxonomy_list_is_served_as_its_own_item_type():
    served = {attr: item.__name__ for attr, item in LIST_TYPES.items()}
    assert served == {
        "areas": "Area",
        "pathways": "Pathway",
        "cohorts": "Cohort",
        "sectors": "Sector",
        "legal_forms": "LegalForm",
        "accreditations": "Accreditation",
        "social_value": "SocialValueCommitment",
        "desired_outcomes": "DesiredOutcome",
    }
    assert all(item is getattr(taxonomy, name) for item, name in zip(LIST_TYPES.values(), served.values(), strict=True))


async def test_a_taxonomy_listing_returns_the_whole_list(read_client):
    sectors = (await read_client.get("/sectors")).json()
    social_value = (await read_client.get("/social-value")).json()
    assert sectors and all(set(s) == {"code", "name", "description"} for s in sectors)
    assert social_value and all(set(s) == {"code", "name"} for s in social_value)


# --- providers.queries.write_parts: one delete and insert per part -------------------------------------------

PARTS_SQL = {
    "identifiers": "select identifier from provider_identifier where provider_id = $1 order by 1",
    "premises": "select area_code, description from provider_premises where provider_id = $1 order by 1, 2",
    "accreditations": "select accreditation_code from provider_accreditation where provider_id = $1 order by 1",
    "social_value": "select commitment_code from provider_social_value where provider_id = $1 order by 1",
}


async def _parts(conn, provider_id: int) -> dict[str, list[tuple[object, ...]]]:
    return {part: [tuple(r) for r in await conn.fetch(sql, provider_id)] for part, sql in PARTS_SQL.items()}


async def test_write_parts_replaces_the_parts_named_and_keeps_the_others(conn):
    provider_id = await conn.fetchval(
        "select p.provider_id from provider_premises p join provider_accreditation a using (provider_id) "
        "join provider_social_value s using (provider_id) order by 1 limit 1"
    )
    before = await _parts(conn, provider_id)
    assert all(before[part] for part in ("premises", "accreditations", "social_value"))
    profile = ProviderProfile(
        name="Anyone",
        legal_form="cic",
        identifiers=["GB-COH-DEDUP01", "GB-CHC-DEDUP02"],
        resources=Resources(
            premises=[Premises(area="E06000019", description="A hall"), Premises(area="E06000020", description="Rooms")]
        ),
        accreditations=[],
        social_value=["peer_mentoring"],
    )

    await provider_queries.write_parts(conn, provider_id, profile, only={"identifiers", "premises"})
    after = await _parts(conn, provider_id)
    assert after == {
        **before,
        "identifiers": [("GB-CHC-DEDUP02",), ("GB-COH-DEDUP01",)],
        "premises": [("E06000019", "A hall"), ("E06000020", "Rooms")],
    }

    await provider_queries.write_parts(conn, provider_id, profile)
    assert await _parts(conn, provider_id) == {**after, "accreditations": [], "social_value": [("peer_mentoring",)]}


# --- engagement.queries: a response built from its row by column name ---------------------------------------


async def test_a_response_is_read_with_its_revision_s_time_as_submitted_at(conn):
    exercise_id, provider_id = await conn.fetchrow(
        "select exercise_id, provider_id from engagement_response order by 1, 2 limit 1"
    )
    total, responses = await engagement_queries.fetch_responses(conn, exercise_id)
    assert total == len(responses) > 0
    revisions = await engagement_queries.fetch_revisions(conn, exercise_id, provider_id)
    stored = await conn.fetch(
        "select revision, status, created_at, body::text as body from engagement_response "
        "where exercise_id = $1 and provider_id = $2 order by revision desc",
        exercise_id,
        provider_id,
    )
    assert [(v.revision, v.status, v.saved_at) for v in revisions] == [tuple(s)[:3] for s in stored]
    bodies = [msgspec.json.decode(s["body"], type=ResponseIn) for s in stored]
    assert [(v.needs, v.answers) for v in revisions] == [(b.needs, b.answers) for b in bodies]
    assert all(v.snapshot and v.provider_id == provider_id for v in revisions)
    current = next(r for r in responses if r.provider_id == provider_id)
    assert msgspec.structs.asdict(current) == {
        k: v for k, v in msgspec.structs.asdict(revisions[0]).items() if k not in ("snapshot", "recorded_at")
    }
    assert all(v.recorded_at is not None for v in revisions)  # the database's clock (schema/0031), beside the app's
