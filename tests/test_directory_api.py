"""Commissioner search and profiles, through the real app on a real, seeded PostgreSQL.

Expected results come from independent SQL over the normalised profile tables, never from
hard-coded counts, so the tests hold whatever the demo data says."""

from __future__ import annotations

import pytest

WORCESTERSHIRE, REDDITCH, HEREFORDSHIRE, WEST_MERCIA = "E10000034", "E07000236", "E06000019", "E23000016"


async def ids_where(conn, sql: str, *args) -> set[int]:
    return {r[0] for r in await conn.fetch(sql, *args)}


async def all_ids(client, **params) -> set[int]:
    """Every id a search returns, walking the pages."""
    found: set[int] = set()
    page = 1
    while True:
        r = await client.get("/providers", params={**params, "per_page": 100, "page": page, "facets": "false"})
        assert r.status_code == 200, r.text
        body = r.json()
        found |= {item["id"] for item in body["items"]}
        if page >= body["pages"]:
            assert len(found) == body["total"]
            return found
        page += 1


PUBLISHED = "select id from provider where status = 'published'"
# providers with an active service meeting a condition on s (service) or sa (one of its areas)
WITH_A_SERVICE = " and id in (select s.provider_id from service s where s.status = 'active' and {})"
WITH_A_SERVICE_IN = (
    " and id in (select s.provider_id from service s join service_area sa on sa.service_id = s.id"
    " where s.status = 'active' and {})"
)


async def test_listing_shows_published_providers_sorted_by_name(read_client, conn):
    r = await read_client.get("/providers", params={"per_page": 100})
    assert r.status_code == 200
    body = r.json()
    expected = await ids_where(conn, PUBLISHED)
    assert body["total"] == len(expected)
    names = [(i["name"], i["id"]) for i in body["items"]]
    assert names == sorted(names)
    assert await all_ids(read_client) == expected
    assert await conn.fetchval("select count(*) from provider where status <> 'published'") > 0
    assert body["pages"] == 2  # as every page of a list says
    # relevance without words to rank by was sorted by name without a word
    r = await read_client.get("/providers", params={"sort": "relevance"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sort", r.text
    assert (await read_client.get("/providers", params={"sort": "relevance", "q": "housing"})).status_code == 200


async def test_pathway_filter(read_client, conn):
    expected = await ids_where(conn, PUBLISHED + WITH_A_SERVICE.format("s.pathway_code = 'WOMEN_ABUSE'"))
    assert expected
    assert await all_ids(read_client, pathway="WOMEN_ABUSE") == expected


async def test_several_values_of_one_filter_are_alternatives(read_client, conn):
    expected = await ids_where(
        conn, PUBLISHED + WITH_A_SERVICE.format("s.pathway_code in ('WOMEN_ABUSE', 'WOMEN_SEXWORK')")
    )
    assert await all_ids(read_client, pathway=["WOMEN_ABUSE", "WOMEN_SEXWORK"]) == expected


async def test_area_filter_is_hierarchy_aware(read_client, conn):
    # Worcestershire finds providers with a service in any of its districts, the county, or the whole region.
    expected = await ids_where(
        conn,
        PUBLISHED
        + WITH_A_SERVICE_IN.format(
            """(sa.area_code in (select descendant from area_closure where ancestor = $1)
                or sa.area_code in (select ancestor from area_closure where descendant = $1))"""
        ),
        WORCESTERSHIRE,
    )
    found = await all_ids(read_client, area=WORCESTERSHIRE)
    assert found == expected
    redditch = await ids_where(conn, PUBLISHED + WITH_A_SERVICE_IN.format("sa.area_code = $1"), REDDITCH)
    region_wide = await ids_where(conn, PUBLISHED + WITH_A_SERVICE_IN.format("sa.area_code = $1"), WEST_MERCIA)
    assert redditch and region_wide
    assert redditch <= found and region_wide <= found
    # ... and a provider whose services are all in Herefordshire only is not among them
    hereford_only = await ids_where(
        conn,
        PUBLISHED
        + """ and id in (select s.provider_id from service s join service_area sa on sa.service_id = s.id
                        where s.status = 'active'
                        group by s.provider_id having array_agg(distinct sa.area_code) = array[$1])""",
        HEREFORDSHIRE,
    )
    assert hereford_only and not (hereford_only & found)


async def test_cohort_sector_legal_form_and_capacity_filters(read_client, conn):
    assert await all_ids(read_client, cohort="CYP") == await ids_where(
        conn,
        PUBLISHED + WITH_A_SERVICE.format("s.id in (select service_id from service_cohort where cohort_code = 'CYP')"),
    )
    assert await all_ids(read_client, sector="co_operative") == await ids_where(
        conn, PUBLISHED + " and legal_form in (select code from legal_form where sector_code = 'co_operative')"
    )
    assert await all_ids(read_client, legal_form="cic") == await ids_where(conn, PUBLISHED + " and legal_form = 'cic'")
    at_least_500 = await ids_where(conn, PUBLISHED + WITH_A_SERVICE.format("s.capacity_per_year >= 500"))
    assert at_least_500 and await all_ids(read_client, min_capacity=500) == at_least_500


async def test_accreditations_are_all_required(read_client, conn):
    # every code held by the organisation or by one and the same active service of it
    assert await conn.fetchval("select count(*) from service_accreditation") > 0  # the demo data has both kinds
    held = """(c in (select accreditation_code from provider_accreditation where provider_id = s.provider_id)
                   or c in (select accreditation_code from service_accreditation where service_id = s.id))"""
    for codes in (["iso_9001", "cyber_essentials"], ["iso_9001"], ["matrix_standard"]):
        expected = await ids_where(
            conn, PUBLISHED + WITH_A_SERVICE.format(f"(select bool_and({held}) from unnest($1::text[]) as c)"), codes
        )
        assert expected, codes
        assert await all_ids(read_client, accreditation=codes) == expected, codes


async def test_filters_combine(read_client, conn):
    # pathway and area hold for one service; the sector for the organisation
    expected = await ids_where(
        conn,
        PUBLISHED
        + " and legal_form in (select code from legal_form where sector_code = 'third_sector')"
        + WITH_A_SERVICE_IN.format(
            """s.pathway_code = 'ACCOM' and sa.area_code in (
                   select descendant from area_closure where ancestor = $1
                   union select ancestor from area_closure where descendant = $1)"""
        ),
        "E06000020",
    )
    assert await all_ids(read_client, pathway="ACCOM", sector="third_sector", area="E06000020") == expected


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("acommodation", "accommodation"),
        ("Herefrodshire", "herefordshire"),
        ("employmnet", "employment"),
        ("ACCOMMODATION", "accommodation"),
    ],
)
async def test_free_text_tolerates_typos_and_case(read_client, typed, meant):
    exact = await all_ids(read_client, q=meant)
    assert exact, f"the demo data mentions {meant}"
    assert await all_ids(read_client, q=typed) == exact
    body = (await read_client.get("/providers", params={"q": typed})).json()
    assert meant in body["interpreted_query"][0]


async def test_free_text_folds_accents_both_ways(read_client, conn):
    accented = await conn.fetchval(
        "select name from provider where status = 'published' and name ~ '[éèêáàâíóôúüç]' order by id limit 1"
    )
    assert accented, "the demo data has an accented name"
    word = next(w for w in accented.split() if any(ch in w for ch in "éèêáàâíóôúüç"))
    plain = word.translate(str.maketrans("éèêáàâíóôúüç", "eeeaaaioouuc"))
    for typed in (word, plain):
        r = await read_client.get("/providers", params={"q": typed})
        assert accented in [i["name"] for i in r.json()["items"]], typed


async def test_free_text_finds_pathway_synonyms_and_ranks_by_relevance(read_client, conn):
    housing = await all_ids(read_client, q="housing")
    accom = await ids_where(conn, PUBLISHED + WITH_A_SERVICE.format("s.pathway_code = 'ACCOM'"))
    assert accom <= housing  # "housing" is a synonym of the accommodation pathway
    items = (await read_client.get("/providers", params={"q": "housing", "per_page": 100})).json()["items"]
    scores = [i["relevance"] for i in items]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1] > 0


async def test_a_word_nothing_resembles_finds_nothing(read_client):
    body = (await read_client.get("/providers", params={"q": "accommodation zzqxjv"})).json()
    assert body["total"] == 0 and body["items"] == []
    assert body["interpreted_query"][1] == []


async def test_facets_count_what_each_filter_would_return(read_client):
    body = (await read_client.get("/providers", params={"sector": "third_sector"})).json()
    facets = body["facets"]
    assert {f["code"] for f in facets["sector"] if f["count"]} == {"third_sector"}
    for facet in ("pathway", "area"):
        for entry in facets[facet][:6]:
            total = (
                await read_client.get(
                    "/providers", params={"sector": "third_sector", facet: entry["code"], "per_page": 1}
                )
            ).json()["total"]
            assert entry["count"] == total, (facet, entry)
    women = next(f for f in facets["pathway"] if f["code"] == "WOMEN_SEXWORK")
    accom = next(f for f in facets["pathway"] if f["code"] == "ACCOM")
    assert women["count"] < accom["count"], "the demo market is thin for the women's pathways"


async def test_pagination_edges(read_client):
    total = (await read_client.get("/providers", params={"per_page": 1})).json()["total"]
    per_page = 7
    last = -(-total // per_page)
    body = (await read_client.get("/providers", params={"per_page": per_page, "page": last})).json()
    assert body["pages"] == last and len(body["items"]) == total - per_page * (last - 1)
    beyond = (await read_client.get("/providers", params={"per_page": per_page, "page": last + 1})).json()
    assert beyond["items"] == [] and beyond["total"] == total
    first = (await read_client.get("/providers", params={"per_page": per_page})).json()["items"]
    second = (await read_client.get("/providers", params={"per_page": per_page, "page": 2})).json()["items"]
    assert not {i["id"] for i in first} & {i["id"] for i in second}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 101}, "per_page"),
        ({"per_page": 0}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"min_capacity": -1}, "min_capacity"),
        ({"q": "x" * 201}, "q"),
        ({"facets": "maybe"}, "facets"),
    ],
)
async def test_bad_parameters_get_a_400_naming_the_field(read_client, params, field):
    r = await read_client.get("/providers", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["error"] == "invalid_input"
    assert field in [e["field"] for e in body["errors"]]


async def test_an_unknown_code_gets_the_allowed_values_and_a_suggestion(read_client):
    r = await read_client.get("/providers", params={"pathway": "ACOM"})
    assert r.status_code == 400
    (problem,) = r.json()["errors"]
    assert problem["field"] == "pathway"
    assert "ACOM" in problem["problem"]
    assert "ACCOM" in problem["allowed"] and problem["suggestion"] == "ACCOM"
    r = await read_client.get("/providers", params={"area": "E0600019"})
    assert r.json()["errors"][0]["suggestion"] == "E06000019"


async def test_an_unknown_query_parameter_is_refused(read_client):
    r = await read_client.get("/providers", params={"pathwya": "ACCOM"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "pathwya"


async def test_profile_with_etag(read_client, conn):
    pid = await conn.fetchval(
        "select id from provider where status = 'published' and cardinality(pathway_codes) > 1 order by id limit 1"
    )
    r = await read_client.get(f"/providers/{pid}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == pid
    assert r.headers["etag"] == f'"v{body["version"]}"'
    services = await conn.fetch(
        """select id, pathway_code, years_delivering,
                  array(select area_code from service_area where service_id = s.id order by 1) as areas
           from service s where provider_id = $1 order by position, id""",
        pid,
    )
    assert [(s["id"], s["pathway"], s["years_delivering"], s["areas"]) for s in body["services"]] == [
        tuple(s) for s in services
    ]
    assert body["sector"] and body["legal_form"] and body["is_sample"] is True
    for key in ("resources", "finances", "accreditations", "social_value", "identifiers", "contact"):
        assert key in body


async def test_stale_flag_follows_last_confirmation(read_client, conn):
    stale = await conn.fetchval(
        "select id from provider where status = 'published' "
        "and last_confirmed_at < now() - interval '13 months' limit 1"
    )
    fresh = await conn.fetchval(
        "select id from provider where status = 'published' "
        "and last_confirmed_at > now() - interval '11 months' limit 1"
    )
    assert (await read_client.get(f"/providers/{stale}")).json()["stale"] is True
    assert (await read_client.get(f"/providers/{fresh}")).json()["stale"] is False
    listed = {
        i["id"]: i["stale"] for i in (await read_client.get("/providers", params={"per_page": 100})).json()["items"]
    }
    listed |= {
        i["id"]: i["stale"]
        for i in (await read_client.get("/providers", params={"per_page": 100, "page": 2})).json()["items"]
    }
    assert listed[stale] is True and listed[fresh] is False


async def test_unknown_and_unpublished_profiles_are_404(read_client, conn):
    assert (await read_client.get("/providers/999999999")).status_code == 404
    pending = await conn.fetchval("select id from provider where status = 'pending' limit 1")
    r = await read_client.get(f"/providers/{pending}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await read_client.get("/providers/abc")).status_code in (400, 404)


async def test_taxonomies(read_client):
    tree = (await read_client.get("/areas")).json()
    assert [n["code"] for n in tree] == [WEST_MERCIA]
    children = {n["name"]: n for n in tree[0]["children"]}
    assert set(children) == {"Worcestershire", "Herefordshire", "Shropshire", "Telford and Wrekin"}
    assert len(children["Worcestershire"]["children"]) == 6
    pathways = (await read_client.get("/pathways")).json()
    assert {"ACCOM", "WOMEN_ABUSE", "WOMEN_SEXWORK", "RJ_VICTIMS", "YOUTH_DIVERSION"} <= {p["code"] for p in pathways}
    assert all(p["synonyms"] for p in pathways)
    forms = {f["code"]: f["sector"] for f in (await read_client.get("/legal-forms")).json()}
    assert forms["cic"] == "social_enterprise" and forms["co_operative_society"] == "co_operative"
    assert {c["code"] for c in (await read_client.get("/cohorts")).json()} >= {
        "ADULTS",
        "YOUNG_ADULTS",
        "CYP",
        "WOMEN",
        "FAMILIES",
        "VICTIMS",
    }


async def test_health_and_ready(read_client):
    assert (await read_client.get("/health")).json() == {"status": "ok"}
    assert (await read_client.get("/ready")).json() == {"status": "ready"}


async def test_ready_says_503_with_a_reason_when_the_database_is_gone(databases, template_db):
    from conftest import app_settings
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app

    name = await databases.create("gone", template=template_db)
    async with AsyncTestClient(app=create_app(app_settings(databases.dsn(name)))) as client:
        assert (await client.get("/ready")).status_code == 200
        await databases.drop(name)
        r = await client.get("/ready")
        assert r.status_code == 503
        assert r.json()["error"] == "database_unavailable" and r.json()["message"]
        r = await client.get("/providers")
        assert r.status_code == 503 and r.json()["error"] == "database_unavailable"


async def test_openapi_documents_every_operation(read_client):
    spec = (await read_client.get("/schema/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (method, path)
            assert any(code.startswith("2") for code in op["responses"]), (method, path)
    search = spec["paths"]["/providers"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {
        "pathway",
        "area",
        "cohort",
        "sector",
        "legal_form",
        "accreditation",
        "min_capacity",
        "q",
        "page",
        "per_page",
    }
    assert "400" in search["responses"]
    assert "ErrorBody" in str(search["responses"]["400"])


async def test_stored_profile_document_reads_as_the_child_tables_say(conn):
    """GET reads the document kept on the provider row (schema/0006) plus the row's live fields; that must
    equal the profile assembled now from the row and the child tables, for every provider, and a row without
    the document must be read the same."""
    import datetime as dt

    from marketplace.providers import queries

    now = dt.datetime.now(dt.UTC)
    statuses = ["pending", "published", "archived"]
    rows = await conn.fetch("""
        select p.id, p.version, (select count(*) from service s where s.provider_id = p.id) as services,
               array(select distinct a.area_code from service s join service_area a on a.service_id = s.id
                     where s.provider_id = p.id order by 1) as areas,
               array(select i.identifier from provider_identifier i
                     where i.provider_id = p.id order by 1) as identifiers
        from provider p order by p.id""")
    assert len(rows) > 100
    for r in rows:
        body, version = await queries.fetch_provider_json(conn, r["id"], now=now, statuses=statuses)
        provider = queries._profile_decoder.decode(body)
        assert version == provider.version == r["version"] and provider.id == r["id"]
        areas = sorted({a for s in provider.services for a in s.areas})
        assert (len(provider.services), areas, provider.identifiers) == (r["services"], r["areas"], r["identifiers"])
    stored = {r["id"]: r["doc"] for r in await conn.fetch("select id, profile_doc::text as doc from provider")}
    fresh = {
        r["id"]: r["doc"] for r in await conn.fetch("select id, provider_profile_doc(id)::text as doc from provider")
    }
    assert stored == fresh
    first = rows[0]["id"]
    before = await queries.fetch_provider(conn, first, now=now, statuses=statuses)
    await conn.execute("update provider set profile_doc = null where id = $1", first)
    assert await queries.fetch_provider(conn, first, now=now, statuses=statuses) == before


async def test_requests_leave_nothing_behind_in_the_parameter_guard(read_client):
    """The unknown-parameter guard remembers each route's parameters once; Litestar hands guards a new copy of
    the handler on every request, and a cache keyed by that copy kept one per request (a leak)."""
    from marketplace import http

    for _ in range(3):
        assert (await read_client.get("/providers", params={"pathway": "ACCOM"})).status_code == 200
    size = len(http._DECLARED)
    for _ in range(50):
        assert (await read_client.get("/providers", params={"pathway": "ACCOM"})).status_code == 200
        assert (await read_client.get("/pathways")).status_code == 200
    assert len(http._DECLARED) <= size + 1  # /pathways may be new; nothing per request
