"""The Open Referral UK (HSDS 3.0) read API under /hsds on the seeded demo directory: every response of every
endpoint valid against both the HSDS 3.0 and the ORUK 3.0 official schemas (offline, tests/standards_schemas.py),
published providers and active services only, HSDS paging, filters, 404s with a JSON body, strict query parameters,
and Access-Control-Allow-Origin: * on every response."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from standards_schemas import assert_valid, problems, standards_dir

from marketplace.standards.service import GSS_URI, derived_id, term_id

pytestmark = pytest.mark.asyncio

CORS = "access-control-allow-origin"


async def get_ok(client: Any, url: str, template: str, **params: Any) -> Any:
    """GET `url`: a 200 with CORS, valid as the response of `template` in both standards. Its body."""
    r = await client.get(url, params=params)
    assert r.status_code == 200, (url, params, r.text)
    assert r.headers.get(CORS) == "*", url
    body = r.json()
    assert_valid(template, body)
    return body


async def all_pages(client: Any, url: str, template: str, per_page: int, **params: Any) -> list[dict[str, Any]]:
    """Every record of a paged list, checking each page's arithmetic on the way."""
    first = await get_ok(client, url, template, per_page=per_page, **params)
    total = first["total_items"]
    pages = math.ceil(total / per_page)
    assert first["total_pages"] == pages
    records: list[dict[str, Any]] = []
    for n in range(1, pages + 1):
        body = first if n == 1 else await get_ok(client, url, template, page=n, per_page=per_page, **params)
        expected_size = min(per_page, total - (n - 1) * per_page)
        assert (body["page_number"], body["size"], len(body["contents"])) == (n, expected_size, expected_size)
        assert (body["first_page"], body["last_page"], body["empty"]) == (n == 1, n == pages, False)
        assert body["total_items"] == total and body["total_pages"] == pages
        records += body["contents"]
    assert len(records) == total
    assert len({r["id"] for r in records}) == total, "a record on two pages"
    return records


# --- the validator itself ---------------------------------------------------------------------------------


async def test_the_validator_tells_the_official_passing_mocks_from_the_failing_ones() -> None:
    mocks = standards_dir() / "oruk-3.0" / "validator-mocks"
    cases = {"api_details.json": "/", "service_list.json": "/services", "service_full.json": "/services/{id}"}
    for name, template in cases.items():
        good = json.loads((mocks / "V3.0-UK-Default" / name).read_text())
        bad = json.loads((mocks / "V3.0-UK-Fail" / name).read_text())
        assert problems("hsds", template, good) == problems("oruk", template, good) == [], name
        assert problems("oruk", template, bad), f"ORUK's failing {name} passed"
    # and what our own responses would get wrong is caught: a null where HSDS wants a number, a bad UUID
    assert problems("hsds", "/services/{id}", {"id": "1", "name": "x", "status": "active"})
    assert problems("oruk", "/services/{id}", {"id": str(uuid.uuid4()), "name": "x", "status": "open"})
    assert problems(
        "hsds", "/services/{id}", {"id": str(uuid.uuid4()), "name": "x", "status": "active", "minimum_age": None}
    )


# --- every endpoint, every response valid in both standards -----------------------------------------------


async def test_root_says_the_version_and_absolute_urls(read_client: Any) -> None:
    for url in ("/hsds", "/hsds/"):
        body = await get_ok(read_client, url, "/")
        assert body["version"] == "HSDS-UK-3.0"
        assert body["profile"].startswith("https://")
        assert body["openapi_url"].startswith("http") and body["openapi_url"].endswith("/schema/openapi.json")
        assert (await read_client.get(urlsplit(body["openapi_url"]).path)).status_code == 200


async def test_every_service_list_page_and_every_service_is_valid(read_client: Any) -> None:
    services = await all_pages(read_client, "/hsds/services", "/services", per_page=37)
    assert len(services) > 100
    for brief in services:
        full = await get_ok(read_client, f"/hsds/services/{brief['id']}", "/services/{id}")
        assert {k: full[k] for k in brief} == brief, "the list and the item disagree"
        assert full["status"] == "active"
        assert full["organization"]["id"] == full["organization_id"]
        kinds = {a["taxonomy_term"]["taxonomy"] for a in full["attributes"]}
        assert "Reducing-reoffending pathways" in kinds  # every service has its pathway
        for attribute in full.get("attributes", []):
            assert (
                attribute["link_id"] == full["id"] and attribute["taxonomy_term_id"] == attribute["taxonomy_term"]["id"]
            )
        for area in full.get("service_areas", []):
            assert area["uri"].startswith(GSS_URI) and len(area["uri"]) == len(GSS_URI) + 9


async def test_every_organization_and_taxonomy_is_valid(read_client: Any) -> None:
    orgs = await all_pages(read_client, "/hsds/organizations", "/organizations", per_page=50)
    assert len(orgs) > 100
    identified = 0
    for brief in orgs:
        full = await get_ok(read_client, f"/hsds/organizations/{brief['id']}", "/organizations/{id}")
        assert {k: full[k] for k in brief} == brief
        assert all(s["organization_id"] == full["id"] for s in full.get("services", []))
        for oid in full.get("organization_identifiers", []):
            assert oid["identifier_scheme"].startswith("GB-") and oid["organization_id"] == full["id"]
            identified += 1
    assert identified > 0, "no org-id in the demo directory"

    taxonomies = await all_pages(read_client, "/hsds/taxonomies", "/taxonomies", per_page=1)
    assert len(taxonomies) == 2
    for taxonomy in taxonomies:
        full = await get_ok(read_client, f"/hsds/taxonomies/{taxonomy['id']}", "/taxonomies/{id}")
        assert full["taxonomy_terms"] and all(t["taxonomy_id"] == taxonomy["id"] for t in full["taxonomy_terms"])
        only = await all_pages(read_client, "/hsds/taxonomy_terms", "/taxonomy_terms", 5, taxonomy_id=taxonomy["id"])
        assert [t["id"] for t in only] == [t["id"] for t in full["taxonomy_terms"]]
    terms = await all_pages(read_client, "/hsds/taxonomy_terms", "/taxonomy_terms", per_page=4)
    for t in terms:
        full = await get_ok(read_client, f"/hsds/taxonomy_terms/{t['id']}", "/taxonomy_terms/{id}")
        assert full["id"] == t["id"] and full["taxonomy_detail"]["id"] == t["taxonomy_id"]


async def test_ids_are_the_stable_uuids(read_client: Any, conn: Any) -> None:
    services = await all_pages(read_client, "/hsds/services", "/services", per_page=100)
    stored = {
        str(r["uuid"]): str(r["org"])
        for r in await conn.fetch(
            "select s.uuid, p.uuid as org from service s join provider p on p.id = s.provider_id"
            " where p.status = 'published' and s.status = 'active'"
        )
    }
    assert {s["id"]: s["organization_id"] for s in services} == stored
    assert await conn.fetchval("select count(*) = count(distinct uuid) and bool_and(uuid is not null) from provider")
    assert term_id("pathways", "ACCOM") == term_id("pathways", "ACCOM") != term_id("cohorts", "ACCOM")


# --- published only -----------------------------------------------------------------------------------------


async def test_pending_and_archived_providers_never_appear(read_client: Any, conn: Any) -> None:
    hidden = await conn.fetch(
        "select p.uuid, array_agg(s.uuid) filter (where s.uuid is not null) as services from provider p"
        " left join service s on s.provider_id = p.id where p.status <> 'published' group by p.uuid"
    )
    assert len(hidden) >= 2, "the demo data should hold pending and archived providers"
    published = await conn.fetchval("select count(*) from provider where status = 'published'")
    orgs = await all_pages(read_client, "/hsds/organizations", "/organizations", per_page=100)
    assert len(orgs) == published
    services = await all_pages(read_client, "/hsds/services", "/services", per_page=100)
    shown_orgs = {o["id"] for o in orgs} | {s["organization_id"] for s in services}
    shown_services = {s["id"] for s in services}
    for row in hidden:
        assert str(row["uuid"]) not in shown_orgs
        r = await read_client.get(f"/hsds/organizations/{row['uuid']}")
        assert r.status_code == 404 and r.json()["error"] == "not_found" and r.headers[CORS] == "*"
        r = await read_client.get("/hsds/services", params={"organization_id": str(row["uuid"])})
        assert r.status_code == 200 and r.json()["total_items"] == 0 and r.json()["empty"] is True
        for service_uuid in row["services"] or []:
            assert str(service_uuid) not in shown_services
            assert (await read_client.get(f"/hsds/services/{service_uuid}")).status_code == 404


async def test_inactive_services_and_newly_archived_providers_disappear(client: Any, fresh_db: str) -> None:
    from marketplace import db

    conn = await db.connect(fresh_db)
    try:
        row = await conn.fetchrow(
            "select s.uuid, p.id, p.uuid as org from service s join provider p on p.id = s.provider_id"
            " where p.status = 'published' order by s.id limit 1"
        )
        assert (await client.get(f"/hsds/services/{row['uuid']}")).status_code == 200
        await conn.execute("update service set status = 'inactive' where uuid = $1", row["uuid"])
        assert (await client.get(f"/hsds/services/{row['uuid']}")).status_code == 404
        org = await get_ok(client, f"/hsds/organizations/{row['org']}", "/organizations/{id}")
        assert str(row["uuid"]) not in {s["id"] for s in org["services"]}
        await conn.execute("update provider set status = 'archived' where id = $1", row["id"])
        assert (await client.get(f"/hsds/organizations/{row['org']}")).status_code == 404
    finally:
        await conn.close()


# --- paging and filters -------------------------------------------------------------------------------------


async def test_paging_past_the_end_is_an_empty_page(read_client: Any) -> None:
    first = await get_ok(read_client, "/hsds/services", "/services", per_page=10)
    beyond = first["total_pages"] + 1
    body = await get_ok(read_client, "/hsds/services", "/services", page=beyond, per_page=10)
    assert body["contents"] == [] and body["empty"] is True and body["size"] == 0
    assert (body["page_number"], body["first_page"], body["last_page"]) == (beyond, False, True)
    assert body["total_items"] == first["total_items"]
    assert first["size"] == 10 and first["first_page"] is True and first["last_page"] is False
    for bad in ({"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}):
        r = await read_client.get("/hsds/services", params=bad)
        assert r.status_code == 400 and r.headers[CORS] == "*", bad
        assert r.json()["errors"][0]["field"] in bad


async def test_filters(read_client: Any) -> None:
    everything = await all_pages(read_client, "/hsds/services", "/services", per_page=100)
    org = everything[0]["organization_id"]
    mine = await all_pages(read_client, "/hsds/services", "/services", 3, organization_id=org)
    assert {s["id"] for s in mine} == {s["id"] for s in everything if s["organization_id"] == org}

    accom = term_id("pathways", "ACCOM")
    housed = await all_pages(read_client, "/hsds/services", "/services", 20, taxonomy_term_id=accom)
    assert 0 < len(housed) < len(everything)
    for s in housed[:5]:
        full = await get_ok(read_client, f"/hsds/services/{s['id']}", "/services/{id}")
        assert accom in {a["taxonomy_term_id"] for a in full["attributes"]}
    cohort_terms = (await get_ok(read_client, "/hsds/taxonomy_terms", "/taxonomy_terms", per_page=100))["contents"]
    cohort = next(t for t in cohort_terms if t["taxonomy"] == "Cohorts of service users")
    for_cohort = await all_pages(read_client, "/hsds/services", "/services", 20, taxonomy_term_id=cohort["id"])
    for s in for_cohort[:5]:
        full = await get_ok(read_client, f"/hsds/services/{s['id']}", "/services/{id}")
        assert cohort["id"] in {a["taxonomy_term_id"] for a in full["attributes"]}
    unknown_term = await get_ok(read_client, "/hsds/services", "/services", taxonomy_term_id=str(uuid.uuid4()))
    assert unknown_term["total_items"] == 0 and unknown_term["total_pages"] == 0 and unknown_term["empty"]

    word = everything[0]["name"].split()[0]
    found = await all_pages(read_client, "/hsds/services", "/services", 50, search=word.upper())
    assert everything[0]["id"] in {s["id"] for s in found} and len(found) <= len(everything)
    nothing = await get_ok(read_client, "/hsds/services", "/services", search="zzqxj nothing-like-this")
    assert nothing["total_items"] == 0

    past = await get_ok(read_client, "/hsds/services", "/services", modified_after="2000-01-01T00:00:00Z")
    assert past["total_items"] == len(everything)
    future = await get_ok(read_client, "/hsds/services", "/services", modified_after="2999-01-01")
    assert future["total_items"] == 0
    for edge in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-01-01t00:00:00z"):
        assert (await get_ok(read_client, "/hsds/services", "/services", modified_after=edge))["total_items"] in (
            0,
            len(everything),
        )
    latest = max(s["last_modified"] for s in everything)
    recent = await all_pages(read_client, "/hsds/services", "/services", 100, modified_after=latest)
    assert recent and all(s["last_modified"] >= latest for s in recent)

    orgs = await get_ok(read_client, "/hsds/organizations", "/organizations", search=word)
    assert orgs["total_items"] >= 1


async def test_bad_filters_are_a_400_naming_the_field(read_client: Any) -> None:
    for params in (
        {"organization_id": "not-a-uuid"},
        {"taxonomy_term_id": "12"},
        {"modified_after": "yesterday"},
        {"format": "ndjson"},
        {"search": " ".join(["w"] * 11)},
    ):
        r = await read_client.get("/hsds/services", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers[CORS] == "*"
        assert r.json()["errors"][0]["field"] == next(iter(params))
    r = await read_client.get("/hsds/taxonomy_terms", params={"taxonomy_id": "nope"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "taxonomy_id"


async def test_unknown_query_parameters_are_refused(read_client: Any) -> None:
    for url in ("/hsds/services", "/hsds/organizations", "/hsds/taxonomy_terms", "/hsds"):
        r = await read_client.get(url, params={"full": "true"})
        assert r.status_code == 400 and r.headers[CORS] == "*", url
        assert r.json()["errors"][0]["field"] == "full"
    ok = await get_ok(read_client, "/hsds/services", "/services", format="json", per_page=1)
    assert ok["size"] == 1


# --- errors and CORS ----------------------------------------------------------------------------------------


async def test_unknown_ids_are_a_404_with_a_json_body_and_cors(read_client: Any) -> None:
    for kind in ("services", "organizations", "taxonomies", "taxonomy_terms"):
        for ident in (str(uuid.uuid4()), "not-a-uuid", "12"):
            r = await read_client.get(f"/hsds/{kind}/{ident}")
            assert r.status_code == 404, (kind, ident)
            assert r.headers[CORS] == "*"
            assert r.json()["status"] == 404 and r.json()["error"] == "not_found"
    r = await read_client.get("/hsds/no-such-thing")
    assert r.status_code == 404 and r.headers[CORS] == "*" and r.json()["status"] == 404
    r = await read_client.get("/hsds/services/%20x")
    assert r.status_code == 404 and r.headers[CORS] == "*"
    r = await read_client.post("/hsds/services", json={})
    assert r.status_code == 405 and r.headers[CORS] == "*"
    r = await read_client.get("/hsds/services", headers={"Authorization": "Bearer prv_not_a_key"})
    assert r.status_code == 401 and r.headers[CORS] == "*"
    # only /hsds speaks CORS
    assert CORS not in (await read_client.get("/pathways")).headers


# --- the mapping --------------------------------------------------------------------------------------------


async def test_a_service_maps_eligibility_cost_areas_and_contacts(read_client: Any, conn: Any) -> None:
    row = await conn.fetchrow(
        """select s.uuid, s.min_age, s.max_age, s.cost_amount, s.last_confirmed_at, p.contact_phone,
                  p.contact_email, p.other_funding_sources,
                  (select array_agg(area_code order by area_code) from service_area a
                    where a.service_id = s.id) as areas
           from service s join provider p on p.id = s.provider_id
           where p.status = 'published' and s.status = 'active' and s.cost_amount is not null and s.min_age is not null
             and p.contact_phone is not null and cardinality(p.other_funding_sources) > 0
           order by s.id limit 1"""
    )
    assert row is not None, "the demo data should hold a fully described service"
    full = await get_ok(read_client, f"/hsds/services/{row['uuid']}", "/services/{id}")
    assert full["minimum_age"] == row["min_age"]
    assert full.get("maximum_age") == row["max_age"]
    assert (
        full["cost_options"][0]["amount"] == float(row["cost_amount"]) and full["cost_options"][0]["currency"] == "GBP"
    )
    assert sorted(a["uri"].removeprefix(GSS_URI) for a in full["service_areas"]) == row["areas"]
    assert full["phones"][0]["number"] == row["contact_phone"]
    assert full["contacts"][0]["email"] == row["contact_email"]
    assert "funding" not in full, "the provider's funding is the organization's, not the service's"
    if row["last_confirmed_at"]:
        assert full["assured_date"] == row["last_confirmed_at"].date().isoformat()


async def test_funding_is_the_organizations_once_not_repeated_under_its_services(read_client: Any, conn: Any) -> None:
    """HSDS links a funding record to an organization or to a service: the provider's funding sources are the
    organization's, listed once on it, so that adding up an organization's and its services' funding counts each
    source once. Their ids are uuid5s of the organization and the source: the same in every answer."""
    row = await conn.fetchrow(
        """select p.uuid, p.other_funding_sources from provider p
           where p.status = 'published' and cardinality(p.other_funding_sources) > 1
             and (select count(*) from service s where s.provider_id = p.id and s.status = 'active') > 1
           order by p.id limit 1"""
    )
    assert row is not None, "the demo data should hold a provider with two funding sources and two services"
    org_id = str(row["uuid"])
    sources = [s for s in row["other_funding_sources"] if s.strip()]
    org = await get_ok(read_client, f"/hsds/organizations/{org_id}", "/organizations/{id}")
    assert [f["source"] for f in org["funding"]] == sources
    for f in org["funding"]:
        assert f["organization_id"] == org_id and "service_id" not in f
        assert f["id"] == derived_id("funding", org_id, f["source"])
    assert len({f["id"] for f in org["funding"]}) == len(sources)
    again = await get_ok(read_client, f"/hsds/organizations/{org_id}", "/organizations/{id}")
    assert again["funding"] == org["funding"], "funding ids change between requests"

    assert len(org["services"]) > 1
    counted = list(org["funding"])
    for brief in org["services"]:
        full = await get_ok(read_client, f"/hsds/services/{brief['id']}", "/services/{id}")
        counted += full.get("funding", [])
    assert [f["source"] for f in counted] == sources, "a funding source counted more than once"
