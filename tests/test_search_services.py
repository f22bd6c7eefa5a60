"""Search over services, through the HTTP API, against a brute-force oracle.

The oracle reads the database's own tables (provider, service, service_area, service_cohort,
service_accreditation, provider_accreditation, area, legal_form) and decides in Python, service by service, what
a search means: service-level filters hold for one active service, accreditations are the organisation's or that
same service's, facets count providers by their matched services. Providers made here through the API give the
new filters something to tell apart (the demo data states no ages, genders, costs or complexity), and one
provider has accommodation in Shropshire and employment in Telford: "accommodation in Telford" must not find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from marketplace import db

DELIVERY = ["in_person", "outreach", "remote", "residential"]

SHROPSHIRE, TELFORD, HEREFORDSHIRE, WORCESTERSHIRE, WORCESTER = (
    "E06000051",
    "E06000020",
    "E06000019",
    "E10000034",
    "E07000237",
)


def a_service(pathway: str, areas: list[str], **fields) -> dict:
    return {
        "pathway": pathway,
        "name": fields.pop("name", f"{pathway} in {', '.join(areas)}"),
        "description": "A service made by the search tests.",
        "cohorts": fields.pop("cohorts", ["ADULTS"]),
        "areas": areas,
        **fields,
    }


MADE = [
    {  # the single-service conjunction: accommodation in Shropshire, employment in Telford
        "name": "Severn Split Services CIC",
        "legal_form": "cic",
        "accreditations": ["iso_9001"],
        "services": [
            a_service("ACCOM", [SHROPSHIRE], capacity={"service_users_per_year": 120}),
            a_service("ETE", [TELFORD], capacity={"service_users_per_year": 80}, accreditations=["matrix_standard"]),
        ],
    },
    {  # eligibility, complexity, delivery, cost, and a service accreditation
        "name": "Wye Valley Women and Men Trust",
        "legal_form": "registered_charity",
        "identifiers": ["GB-CHC-1234567"],
        "services": [
            a_service(
                "WOMEN_ABUSE",
                [HEREFORDSHIRE],
                cohorts=["WOMEN", "VICTIMS"],
                eligibility={"min_age": 16, "max_age": 25, "gender": "women"},
                complexity_levels=["high"],
                delivery_modes=["residential"],
                cost={"amount": 450, "unit": "per_place_per_year"},
                capacity={"service_users_per_year": 30},
                accreditations=["leading_lights"],
            ),
            a_service(
                "DRUGS",
                [WORCESTER],
                eligibility={"min_age": 18, "gender": "men"},
                complexity_levels=["low", "medium"],
                delivery_modes=["outreach", "remote"],
                cost={"amount": 30.5, "unit": "per_hour"},
            ),
            a_service(
                "YOUTH_DIVERSION",
                [WORCESTERSHIRE],
                cohorts=["CYP"],
                eligibility={"min_age": 10, "max_age": 17},
                delivery_modes=["in_person"],
                accreditations=["matrix_standard"],
            ),
        ],
    },
    {"name": "Ledbury Lantern Collective", "legal_form": "co_operative_society", "services": []},  # no service
]

QUERIES = [
    {},
    {"pathway": "ACCOM"},
    {"pathway": ["WOMEN_ABUSE", "DRUGS"]},
    {"area": WORCESTERSHIRE},
    {"area": TELFORD, "pathway": "ACCOM"},
    {"area": TELFORD, "pathway": "ACCOM", "min_capacity": 50},
    {"area": SHROPSHIRE, "pathway": "ACCOM", "min_capacity": 50},
    {"area": TELFORD, "min_capacity": 100},
    {"cohort": "WOMEN", "area": HEREFORDSHIRE},
    {"age": 17},
    {"age": 16, "gender": "women"},
    {"age": 30, "gender": "women"},
    {"gender": "men"},
    {"gender": "men", "area": HEREFORDSHIRE},
    {"complexity": "high"},
    {"complexity": ["low", "medium"], "delivery_mode": "remote"},
    {"delivery_mode": ["residential", "in_person"]},
    {"max_cost": 450},
    {"max_cost": 449.99},
    {"max_cost": 30.5, "pathway": "WOMEN_ABUSE"},
    {"accreditation": "leading_lights"},
    {"accreditation": ["iso_9001", "matrix_standard"]},
    {"accreditation": ["leading_lights", "matrix_standard"]},
    {"accreditation": "approved_provider_mentoring"},
    {"accreditation": "approved_provider_mentoring", "pathway": "ATB"},
    {"sector": "social_enterprise", "pathway": "ETE"},
    {"legal_form": "registered_charity", "area": WORCESTER, "min_capacity": 20},
]


@dataclass
class Svc:
    id: int
    pathway: str
    active: bool
    areas: set[str]
    cohorts: set[str]
    accreditations: set[str]
    capacity: int | None
    min_age: int | None
    max_age: int | None
    gender: str
    complexity: set[str]
    delivery: set[str]
    cost: Decimal | None


@dataclass
class Org:
    id: int
    name: str
    status: str
    sector: str
    legal_form: str
    accreditations: set[str]
    services: list[Svc] = field(default_factory=list)


class Oracle:
    """The directory as its tables say, searched one provider and one service at a time."""

    def __init__(self, orgs: list[Org], parent: dict[str, str | None]) -> None:
        self.orgs, self.parent = orgs, parent

    @classmethod
    async def load(cls, dsn: str) -> Oracle:
        conn = await db.connect(dsn)
        try:
            parent = {r["code"]: r["parent_code"] for r in await conn.fetch("select code, parent_code from area")}
            orgs = {
                r["id"]: Org(r["id"], r["name"], r["status"], r["sector_code"], r["legal_form"], set(r["acc"]))
                for r in await conn.fetch(
                    """select p.id, p.name, p.status, lf.sector_code, p.legal_form,
                              array(select accreditation_code from provider_accreditation a
                                    where a.provider_id = p.id) as acc
                       from provider p join legal_form lf on lf.code = p.legal_form"""
                )
            }
            for r in await conn.fetch(
                """select s.*,
                          array(select area_code from service_area x where x.service_id = s.id) as service_areas,
                          array(select cohort_code from service_cohort x where x.service_id = s.id) as service_cohorts,
                          array(select accreditation_code from service_accreditation x
                                where x.service_id = s.id) as service_accreditations
                   from service s order by s.provider_id, s.position, s.id"""
            ):
                orgs[r["provider_id"]].services.append(
                    Svc(
                        r["id"],
                        r["pathway_code"],
                        r["status"] == "active",
                        set(r["service_areas"]),
                        set(r["service_cohorts"]),
                        set(r["service_accreditations"]),
                        r["capacity_per_year"],
                        r["min_age"],
                        r["max_age"],
                        r["gender"],
                        set(r["complexity_levels"]),
                        set(r["delivery_modes"]),
                        r["cost_amount"],
                    )
                )
        finally:
            await conn.close()
        return cls(list(orgs.values()), parent)

    def lineage(self, code: str) -> list[str]:
        out = []
        at: str | None = code
        while at is not None:
            out.append(at)
            at = self.parent[at]
        return out

    def covers(self, service_area: str, asked: str) -> bool:
        """Hierarchy-aware: the asked area is the service's area, inside it, or around it."""
        return asked in self.lineage(service_area) or service_area in self.lineage(asked)

    def meets(self, org: Org, s: Svc, q: dict) -> bool:
        def values(key: str) -> list:
            v = q.get(key, [])
            return v if isinstance(v, list) else [v]

        age, cost = q.get("age"), q.get("max_cost")
        return (
            s.active
            and (not values("pathway") or s.pathway in values("pathway"))
            and (not values("area") or any(self.covers(a, x) for a in s.areas for x in values("area")))
            and (not values("cohort") or bool(s.cohorts & set(values("cohort"))))
            and ("min_capacity" not in q or (s.capacity is not None and s.capacity >= q["min_capacity"]))
            and (age is None or ((s.min_age is None or s.min_age <= age) and (s.max_age is None or age <= s.max_age)))
            and ("gender" not in q or s.gender in (q["gender"], "both"))
            and (not values("complexity") or bool(s.complexity & set(values("complexity"))))
            and (not values("delivery_mode") or bool(s.delivery & set(values("delivery_mode"))))
            and (cost is None or (s.cost is not None and s.cost <= Decimal(str(cost))))
            and set(values("accreditation")) <= org.accreditations | s.accreditations
        )

    def search(self, q: dict) -> dict[int, list[int]]:
        """Provider id -> the ids of its matched services."""
        service_level = {"pathway", "area", "cohort", "min_capacity", "age", "gender", "complexity"}
        service_level |= {"delivery_mode", "max_cost"}
        out = {}
        for org in self.orgs:
            if org.status != q.get("status", "published"):
                continue
            if q.get("sector", org.sector) != org.sector or q.get("legal_form", org.legal_form) != org.legal_form:
                continue
            matched = [s.id for s in org.services if self.meets(org, s, q)]
            asks_for_a_service = bool(service_level & set(q))
            org_enough = (
                {q["accreditation"]} if isinstance(q.get("accreditation"), str) else set(q.get("accreditation", []))
            )
            if matched or (not asks_for_a_service and org_enough <= org.accreditations):
                out[org.id] = matched
        return out

    def facets(self, q: dict) -> dict[str, dict[str, int]]:
        found = self.search(q)
        by_id = {o.id: o for o in self.orgs}
        counts: dict[str, dict[str, int]] = {"pathway": {}, "area": {}, "sector": {}}
        for pid, matched in found.items():
            services = [s for s in by_id[pid].services if s.id in matched]
            for code in {s.pathway for s in services}:
                counts["pathway"][code] = counts["pathway"].get(code, 0) + 1
            for code in {x for s in services for a in s.areas for x in self.parent if self.covers(a, x)}:
                counts["area"][code] = counts["area"].get(code, 0) + 1
            counts["sector"][by_id[pid].sector] = counts["sector"].get(by_id[pid].sector, 0) + 1
        return counts


async def everything_found(client, q: dict) -> dict[int, list[int]]:
    """Every provider a search returns, walking the pages, with the ids of its matched services."""
    found: dict[int, list[int]] = {}
    page = 1
    while True:
        r = await client.get("/providers", params={**q, "per_page": 100, "page": page, "facets": "false"})
        assert r.status_code == 200, r.text
        body = r.json()
        for item in body["items"]:
            found[item["id"]] = [s["id"] for s in item["matched_services"]]
        if page >= max(body["pages"], 1):
            assert len(found) == body["total"]
            return found
        page += 1


@pytest.fixture
async def made(client, keys, fresh_db) -> list[int]:
    """The providers above, registered through the API and published by an admin."""
    admin = await keys.headers("admin")
    ids = []
    for body in MADE:
        r = await client.post("/registrations", json=body)
        assert r.status_code == 201, r.text
        pid = r.json()["provider"]["id"]
        assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
        ids.append(pid)
    return ids


async def test_service_filters_hold_for_one_service_as_the_tables_say(client, fresh_db, made):
    oracle = await Oracle.load(fresh_db)
    assert sum(len(o.services) > 4 for o in oracle.orgs if o.status == "published"), "some spill out of the layers"
    split, eligible, empty = made
    for q in QUERIES:
        expected = oracle.search(q)
        found = await everything_found(client, q)
        assert found.keys() == expected.keys(), q
        assert {pid: sorted(ids) for pid, ids in found.items()} == {
            pid: sorted(ids) for pid, ids in expected.items()
        }, q
    # what the made providers show
    telford_accom = await everything_found(client, {"area": TELFORD, "pathway": "ACCOM", "min_capacity": 50})
    assert (
        split not in telford_accom
    )  # accommodation in Shropshire + employment in Telford is not accommodation in Telford
    shropshire = await everything_found(client, {"area": SHROPSHIRE, "pathway": "ACCOM", "min_capacity": 50})
    assert len(shropshire[split]) == 1
    assert empty in await everything_found(client, {}) and empty not in await everything_found(client, {"age": 30})
    women_30 = await everything_found(client, {"age": 30, "gender": "women"})
    assert eligible not in women_30  # its women's service stops at 25; its service for men does not serve women
    assert eligible in await everything_found(client, {"age": 25, "gender": "women"})
    both_accreditations = await everything_found(client, {"accreditation": ["leading_lights", "matrix_standard"]})
    assert eligible not in both_accreditations  # held by two different services


async def test_facets_count_providers_by_their_matched_services(client, fresh_db, made):
    oracle = await Oracle.load(fresh_db)
    for q in [{}, {"pathway": "ACCOM"}, {"area": TELFORD, "min_capacity": 50}, {"gender": "women"}, {"age": 17}]:
        r = await client.get("/providers", params={**q, "per_page": 1})
        assert r.status_code == 200, r.text
        facets = r.json()["facets"]
        got = {name: {f["code"]: f["count"] for f in facets[name] if f["count"]} for name in facets}
        assert got == oracle.facets(q), q
    # a pathway facet counts providers with a matched service there: under an area filter, only services there
    r = await client.get("/providers", params={"area": TELFORD, "min_capacity": 50, "per_page": 1})
    pathways = {f["code"]: f["count"] for f in r.json()["facets"]["pathway"]}
    alone = await everything_found(client, {"area": TELFORD, "min_capacity": 50, "pathway": "ACCOM"})
    assert pathways["ACCOM"] == len(alone)


async def test_a_result_names_the_services_that_matched(client, made):
    split = made[0]
    r = await client.get("/providers", params={"area": TELFORD, "pathway": "ETE", "per_page": 100})
    (item,) = [i for i in r.json()["items"] if i["id"] == split]
    assert [(s["pathway"], s["areas"], s["service_users_per_year"]) for s in item["matched_services"]] == [
        ("ETE", [TELFORD], 80)
    ]
    assert sorted(item["pathways"]) == ["ACCOM", "ETE"]  # the organisation's summary stays whole
    r = await client.get("/providers", params={"max_cost": 450, "per_page": 100})
    (item,) = [i for i in r.json()["items"] if i["id"] == made[1]]
    assert {s["pathway"]: s["cost"] for s in item["matched_services"]} == {
        "WOMEN_ABUSE": {"amount": 450.0, "unit": "per_place_per_year"},
        "DRUGS": {"amount": 30.5, "unit": "per_hour"},
    }


async def test_a_changed_service_moves_its_provider_at_once(client, keys, made):
    split = made[0]
    h = await keys.headers("provider", split)
    services = (await client.get(f"/providers/{split}/services", headers=h)).json()
    accom = next(s for s in services if s["pathway"] == "ACCOM")
    q = {"area": TELFORD, "pathway": "ACCOM", "min_capacity": 50}
    assert split not in await everything_found(client, q)
    r = await client.patch(
        f"/providers/{split}/services/{accom['id']}",
        json={"areas": [SHROPSHIRE, TELFORD]},
        headers={**h, "If-Match": f'"v{accom["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert (await everything_found(client, q))[split] == [accom["id"]]
    r = await client.patch(
        f"/providers/{split}/services/{accom['id']}", json={"status": "inactive"}, headers={**h, "If-Match": '"v2"'}
    )
    assert r.status_code == 200, r.text
    assert split not in await everything_found(client, q)  # an inactive service is not searched


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"complexity": "hihg"}, "complexity", ["high", "low", "medium"]),
        (
            {"delivery_mode": ["remote", "outreech"]},
            "delivery_mode",
            ["in_person", "outreach", "remote", "residential"],
        ),
        ({"gender": "both"}, "gender", ["men", "women"]),
    ],
)
async def test_an_unknown_value_gets_the_allowed_values(read_client, params, field, allowed):
    r = await read_client.get("/providers", params=params)
    assert r.status_code == 400
    (problem,) = r.json()["errors"]
    assert (problem["field"], problem["allowed"]) == (field, allowed)
    if field != "gender":
        assert problem["suggestion"] in allowed


@pytest.mark.parametrize(
    "params",
    [
        {"age": -1},
        {"age": 121},
        {"age": "old"},
        {"max_cost": -0.01},
        {"max_cost": 10_000_001},
        {"max_cost": "nan"},
        {"max_cost": "inf"},
        {"max_cost": "cheap"},
    ],
)
async def test_out_of_range_numbers_get_a_400_naming_the_field(read_client, params):
    r = await read_client.get("/providers", params=params)
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == list(params)


async def test_the_new_filters_are_documented(read_client):
    spec = (await read_client.get("/schema/openapi.json")).json()
    search = spec["paths"]["/providers"]["get"]
    params = {p["name"]: p for p in search["parameters"]}
    assert {"age", "gender", "complexity", "delivery_mode", "max_cost"} <= set(params)
    assert "one active service" in search["description"]
    assert "low" in str(params["complexity"]["schema"]) and "women" in str(params["gender"]["schema"])
    summary = spec["components"]["schemas"]["ProviderSummary"]
    assert "matched_services" in summary["properties"]
