"""Issue 12, "Must show": commissioner judgements tried as a new user would, through the real app on a real
PostgreSQL. Each scenario builds its own small fictional market (the seeded providers are archived first, so the
ranking holds only the scenario's providers), registers and publishes it through the API, makes an exercise and a
need, matches, and checks that the provider a commissioner would choose ranks first, for the reason the issue
gives. Names are chosen so that the tie-break by name would put the wrong provider first.

The same problems are checked on the pure core in tests/matching/test_matching_judgements.py; the report's stale runs,
its GET storing nothing and its CSV in tests/test_evidence_integrity.py; the report's strengths in
tests/test_weights_percent.py and tests/test_report_headline.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import Keys, app_settings
from litestar.testing import AsyncTestClient

from marketplace import db
from marketplace.app import create_app

WORCS_DISTRICTS = ["E07000234", "E07000235", "E07000236", "E07000237", "E07000238", "E07000239"]
HEREFORDSHIRE, SHROPSHIRE, TELFORD, WEST_MERCIA = "E06000019", "E06000051", "E06000020", "E23000016"
# the criterion under judgement decides: half the score, the rest spread so that nothing else tells them apart
JUDGED = {"pathway_fit": 10, "capacity": 10, "financial_viability": 10, "quality": 10, "sustainability": 10}


@pytest.fixture
async def market(fresh_db: str) -> AsyncIterator[tuple[AsyncTestClient, dict[str, str], dict[str, str]]]:
    """The real app on a database whose seeded providers are all archived: an empty published market; with an
    admin's and a commissioner's headers."""
    conn = await db.connect(fresh_db)
    try:
        await conn.execute("update provider set status = 'archived'")
    finally:
        await conn.close()
    async with AsyncTestClient(app=create_app(app_settings(fresh_db))) as client:
        keys = Keys(fresh_db)
        yield client, await keys.headers("admin"), await keys.headers("commissioner")


def service(pathway: str, description: str, areas: list[str], **more: Any) -> dict[str, Any]:
    return {
        "pathway": pathway,
        "name": f"{pathway.title()} service",
        "description": description,
        "cohorts": ["ADULTS", "YOUNG_ADULTS", "WOMEN"],
        "areas": areas,
        "capacity": {"service_users_per_year": 60},
        "years_delivering": 4,
        **more,
    }


async def publish(client: AsyncTestClient, admin: dict[str, str], name: str, *services: dict[str, Any], **more: Any):
    r = await client.post(
        "/registrations", json={"name": name, "legal_form": "registered_charity", "services": list(services), **more}
    )
    assert r.status_code == 201, r.text
    provider_id = r.json()["provider"]["id"]
    r = await client.post(f"/providers/{provider_id}/publish", headers=admin)
    assert r.status_code == 200, r.text
    return provider_id


async def ranking(
    client: AsyncTestClient, h: dict[str, str], need: dict[str, Any], weights: dict[str, float]
) -> list[dict[str, Any]]:
    x = await client.post("/exercises", json={"title": "Judgement", "commissioning_body": "Trust"}, headers=h)
    assert x.status_code == 201, x.text
    n = await client.post(
        f"/exercises/{x.json()['id']}/needs",
        json={"title": "Judged need", "annual_volume": 60, "annual_budget": 100_000, **need},
        headers=h,
    )
    assert n.status_code == 201, n.text
    run = await client.post(f"/needs/{n.json()['id']}/match-runs", json={"weights": weights}, headers=h)
    assert run.status_code == 201, run.text
    assert run.json()["weights_percent"] == {k: float(weights.get(k, 0)) for k in run.json()["weights_percent"]}
    return run.json()["ranking"]


def score(ranked: dict[str, Any], criterion: str) -> float:
    return next(c["score"] for c in ranked["criteria"] if c["criterion"] == criterion)


async def test_a_partner_called_tenancy_sustainment_does_not_make_an_advice_agency_rank_first(market):
    client, admin, h = market
    await publish(
        client,
        admin,
        "Aardvark General Advice",
        service("ACCOM", "Housing advice drop-in: help with forms, benefits and landlords.", [TELFORD]),
        service("ETE", "Tenancy sustainment training for housing officers.", [TELFORD]),  # another pathway
        description="General advice agency. We refer to Mercia Tenancy Sustainment Partners CIC.",
        resources={"partner_organisations": ["Mercia Tenancy Sustainment Partners CIC"]},
    )
    await publish(
        client,
        admin,
        "Zebra Homes Trust",
        service(
            "ACCOM", "Tenancy sustainment for prison leavers: weekly visits to help people keep their homes.", [TELFORD]
        ),
    )
    ranked = await ranking(
        client,
        h,
        {"pathway": "ACCOM", "areas": [TELFORD], "local_priorities": [{"text": "tenancy sustainment"}]},
        {**JUDGED, "local_priorities": 50},
    )
    assert [r["name"] for r in ranked] == ["Zebra Homes Trust", "Aardvark General Advice"]
    assert score(ranked[0], "local_priorities") == 1.0
    assert score(ranked[1], "local_priorities") == 0.0, "partner, organisation and other-pathway words are not read"
    quote = next(c for c in ranked[0]["criteria"] if c["criterion"] == "local_priorities")["evidence"][0]
    assert "Tenancy sustainment" in quote


async def test_young_women_at_risk_of_exploitation_ranks_the_women_s_project_above_outdoor_learning(market):
    client, admin, h = market
    await publish(
        client,
        admin,
        "Aardvark Outdoor Learning",
        service("WOMEN_ABUSE", "Outdoor learning and climbing for young people at risk of exclusion.", [SHROPSHIRE]),
    )
    await publish(
        client,
        admin,
        "Zebra Young Women's Project",
        service(
            "WOMEN_ABUSE",
            "One-to-one support for young women at risk of sexual exploitation, with a safe place to stay.",
            [SHROPSHIRE],
        ),
    )
    ranked = await ranking(
        client,
        h,
        {
            "pathway": "WOMEN_ABUSE",
            "areas": [SHROPSHIRE],
            "local_priorities": [{"text": "young women at risk of exploitation"}],
        },
        {**JUDGED, "local_priorities": 50},
    )
    assert [r["name"] for r in ranked] == ["Zebra Young Women's Project", "Aardvark Outdoor Learning"]
    assert score(ranked[0], "local_priorities") == 1.0
    assert score(ranked[1], "local_priorities") <= 0.25, "half the phrase's words is a quarter of a match at most"


async def test_covering_three_of_four_authorities_beats_covering_worcestershire_s_six_districts(market):
    client, admin, h = market
    await publish(client, admin, "Aardvark Worcestershire", service("ETE", "Jobs club and CV help.", WORCS_DISTRICTS))
    await publish(
        client, admin, "Zebra Marches", service("ETE", "Jobs club and CV help.", [SHROPSHIRE, TELFORD, HEREFORDSHIRE])
    )
    ranked = await ranking(
        client,
        h,
        {"pathway": "ETE", "areas": [WEST_MERCIA]},
        {
            "coverage": 50,
            "pathway_fit": 10,
            "financial_viability": 10,
            "quality": 10,
            "sustainability": 10,
            "social_value": 10,
        },
    )
    assert [r["name"] for r in ranked] == ["Zebra Marches", "Aardvark Worcestershire"]
    zebra, aardvark = score(ranked[0], "coverage"), score(ranked[1], "coverage")
    assert zebra > 0.5 > aardvark, "more people, though fewer areas"
    assert zebra + aardvark == pytest.approx(1.0), "together they cover all of West Mercia's people"
