"""The reconciliation service for OpenRefine under /reconcile, on the seeded demo directory through the real app:
requests shaped like OpenRefine's own (batches of 10 queries, form-encoded POSTs and GETs, `type`, `limit`,
`properties: [{pid, v}]`), every request sent and every response received valid against the W3C Entity
Reconciliation API 0.2 schemas in ../shared/standards (offline: tests/standards_schemas.py), the validator shown to
reject the spec's own invalid examples; scores, clear winners, identifiers, areas, types, limits; previews and
suggestions; CORS on everything; bad input a 4xx naming the field. And the quality of `match: true` on misspelt
names of a generated 2,000-provider directory (bench/reconcile_quality.py)."""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import Databases, app_settings, bench_module
from litestar.testing import AsyncTestClient
from standards_schemas import assert_reconciliation_valid, reconciliation_dir, reconciliation_problems

from marketplace.app import create_app
from marketplace.reconciliation import scoring
from marketplace.settings import PROJECT_ROOT, Settings
from marketplace.types import fold

pytestmark = pytest.mark.asyncio

CORS = "access-control-allow-origin"
SEED = json.loads((PROJECT_ROOT / "seed_data" / "providers.json").read_text())
PUBLISHED = [p for p in SEED if p.get("status", "published") == "published"]
PENDING = [p for p in SEED if p.get("status") == "pending"]


async def provider_ids(client: Any) -> dict[str, int]:
    """name -> id of every published provider, from the API itself."""
    found: dict[str, int] = {}
    page = 1
    while True:
        r = await client.get("/providers", params={"page": page, "per_page": 100})
        body = r.json()
        found.update({p["name"]: p["id"] for p in body["items"]})
        if page >= body["pages"]:
            return found
        page += 1


async def reconcile(client: Any, batch: dict[str, Any], *, method: str = "POST") -> dict[str, Any]:
    """Send a query batch as OpenRefine does (validated first); the result batch (validated)."""
    assert_reconciliation_valid("reconciliation-query-batch.json", batch)
    if method == "POST":
        r = await client.post("/reconcile", data={"queries": json.dumps(batch)})
        assert r.request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    else:
        r = await client.get("/reconcile", params={"queries": json.dumps(batch)})
    assert r.status_code == 200, r.text
    assert r.headers.get(CORS) == "*"
    body = r.json()
    assert_reconciliation_valid("reconciliation-result-batch.json", body)
    assert set(body) == set(batch)
    for result in body.values():
        scores = [c["score"] for c in result["result"]]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= s <= 100 for s in scores)
        assert sum(c["match"] for c in result["result"]) <= 1
    return body


def misspell(name: str) -> str:
    """A typo in the longest word: two letters swapped in its middle."""
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    words[i] = w[:2] + w[3] + w[2] + w[4:]
    return " ".join(words)


# --- the validator can fail ------------------------------------------------------------------------------------


SCHEMA_OF = {
    "manifest": "manifest.json",
    "reconciliation-query-batch": "reconciliation-query-batch.json",
    "reconciliation-result-batch": "reconciliation-result-batch.json",
    "suggest-entities-response": "suggest-entities-response.json",
    "suggest-types-response": "suggest-types-response.json",
    "suggest-properties-response": "suggest-properties-response.json",
}


async def test_the_validator_passes_the_specs_valid_examples_and_rejects_its_invalid_ones() -> None:
    examples = reconciliation_dir() / "examples"
    seen = {"valid": 0, "invalid": 0}
    for folder, schema in SCHEMA_OF.items():
        for kind in ("valid", "invalid"):
            for path in sorted((examples / folder / kind).glob("*.json")):
                found = reconciliation_problems(schema, json.loads(path.read_text()))
                assert (not found) if kind == "valid" else found, f"{folder}/{kind}/{path.name}: {found}"
                seen[kind] += 1
    assert seen["valid"] >= 20 and seen["invalid"] >= 15  # manifests, query and result batches at least


# --- the manifest ----------------------------------------------------------------------------------------------


async def test_manifest_is_valid_and_says_what_openrefine_needs(read_client: Any) -> None:
    r = await read_client.get("/reconcile")
    assert r.status_code == 200 and r.headers.get(CORS) == "*"
    m = r.json()
    assert_reconciliation_valid("manifest.json", m)
    assert m["versions"] == ["0.2"]
    base = str(read_client.base_url).rstrip("/")
    assert m["identifierSpace"].startswith(base) and m["schemaSpace"].startswith(base)
    assert m["view"]["url"] == f"{base}/providers/{{{{id}}}}"
    assert m["preview"]["url"] == f"{base}/reconcile/preview?id={{{{id}}}}"
    assert m["preview"]["width"] > 0 and m["preview"]["height"] > 0
    assert m["defaultTypes"] == [{"id": "organisation", "name": "Organisation"}]
    assert {p["id"] for p in m["properties"]} == {"org_id", "charity_number", "company_number", "area"}
    assert m["batchSize"] == 10
    assert {k: v["service_path"] for k, v in m["suggest"].items()} == {
        "entity": "/reconcile/suggest/entity",
        "type": "/reconcile/suggest/type",
        "property": "/reconcile/suggest/property",
    }
    assert "90" in m["match_rule"]
    # the view URL leads to the provider's page in the API
    first = PUBLISHED[0]["name"]
    ids = await provider_ids(read_client)
    view = m["view"]["url"].replace("{{id}}", str(ids[first])).removeprefix(base)
    assert (await read_client.get(view)).json()["name"] == first


# --- batches as OpenRefine sends them -------------------------------------------------------------------------


async def test_a_batch_of_ten_misspelt_names_finds_each_provider_first_and_matches_clear_winners(
    read_client: Any,
) -> None:
    ids = await provider_ids(read_client)
    chosen = PUBLISHED[::12][:10]
    assert len(chosen) == 10
    batch = {
        f"q{i}": {"query": misspell(p["name"]), "type": "organisation", "type_strict": "should", "limit": 3}
        for i, p in enumerate(chosen)
    }
    body = await reconcile(read_client, batch)
    matched = 0
    for i, p in enumerate(chosen):
        result = body[f"q{i}"]["result"]
        assert 1 <= len(result) <= 3  # limit honoured
        assert result[0]["id"] == str(ids[p["name"]]), (batch[f"q{i}"], result)
        assert result[0]["name"] == p["name"] and result[0]["type"] == [{"id": "organisation", "name": "Organisation"}]
        matched += result[0]["match"]
        if result[0]["match"]:
            assert result[0]["score"] >= scoring.MATCH_SCORE
            assert len(result) == 1 or result[0]["score"] - result[1]["score"] >= scoring.MATCH_GAP
    assert matched >= 8  # one swapped pair of letters: nearly all clear winners in this small directory
    # the same batch by GET gives the same answer
    assert await reconcile(read_client, batch, method="GET") == body


async def test_exact_names_are_matches_and_nonsense_matches_nothing(read_client: Any) -> None:
    ids = await provider_ids(read_client)
    names = [p["name"] for p in PUBLISHED[1:60:6]][:9]
    batch: dict[str, Any] = {f"q{i}": {"query": n} for i, n in enumerate(names)}
    batch["q9"] = {"query": "Zyxwv Qqqq Holdings"}
    body = await reconcile(read_client, batch)
    for i, n in enumerate(names):
        top = body[f"q{i}"]["result"][0]
        assert (top["id"], top["score"], top["match"]) == (str(ids[n]), 100, True)
    assert not any(c["match"] for c in body["q9"]["result"])


async def test_folding_accents_case_ampersands_saint_and_legal_suffixes(read_client: Any) -> None:
    ids = await provider_ids(read_client)
    cic = next(p["name"] for p in PUBLISHED if p["name"].endswith(" CIC"))
    trust = next(p["name"] for p in PUBLISHED if p["name"].endswith(" Trust"))
    ltd = next(p["name"] for p in PUBLISHED if p["name"].endswith(" Ltd"))
    variants = {
        cic: cic.removesuffix(" CIC") + " Community Interest Company",
        trust: trust.upper().removesuffix(" TRUST"),
        ltd: ltd.removesuffix(" Ltd") + " Limited",
    }
    e_name = next(p["name"] for p in PUBLISHED if "e" in p["name"] and p["name"] not in variants)
    variants[e_name] = "The " + e_name.replace("e", "é", 2)
    batch = {f"q{i}": {"query": typed} for i, typed in enumerate(variants.values())}
    body = await reconcile(read_client, batch)
    for i, name in enumerate(variants):
        top = body[f"q{i}"]["result"][0]
        assert top["id"] == str(ids[name]) and top["match"], (variants[name], body[f"q{i}"])
    # the rules themselves (pure)
    key = scoring.name_key
    assert (
        key("St John’s & Barbourne Trust Ltd").core == key("saint johns and barbourne").core == "st johns and barbourne"
    )
    assert key("Kiln St Ceramics") == key("Kiln Street Ceramics")  # St: Saint or Street, read alike
    assert key("St John’s & Barbourne Trust Ltd").suffixes == {"trust", "ltd"}
    assert key("Severn Co-operative Community Interest Company").core == key("severn cooperative cic").core
    assert key("The Trust").core == "trust"  # a name that is nothing but a suffix keeps it
    assert scoring.score(key("Severn Housing Ltd"), key("Severn Housing Limited")) == 100
    assert scoring.score(key("Severn Housing"), key("Severn Housing CIC")) == 100 - scoring.SUFFIX_ABSENT
    assert scoring.score(key("Severn Housing Ltd"), key("Severn Housing CIC")) < 100 - scoring.SUFFIX_ABSENT
    assert scoring.score(key("Severn Housng Trust"), key("Severn Housing Trust")) >= scoring.MATCH_SCORE
    assert scoring.score(key("Severn Housing"), key("Wye Recovery")) < 50


async def test_a_contradicting_legal_form_is_never_the_match_and_co_op_is_co_operative(read_client: Any) -> None:
    """A Ltd and a CIC of one name are two legal entities: the CIC stays the first candidate, with its score, but is
    not the match (an automatic match on the wrong organisation is the costly mistake), and says why. "Co-op" and
    "Coop" are the UK's short form of "Co-operative": they score as the full form does."""
    ids = await provider_ids(read_client)
    cic, coop = ids["Greenwood Tenancy Solutions CIC"], ids["Bewdley Bank Housing Co-operative"]
    batch = {
        "q0": {"query": "Greenwood Tenancy Solutions Ltd"},
        "q1": {"query": "Greenwood Tenancy Solutions CIC"},
        "q2": {"query": "Greenwood Tenancy Solutions"},  # no legal form stated: nothing contradicts
        "q3": {"query": "Bewdley Bank Housing Co-op"},
        "q4": {"query": "Bewdley Bank Housing Coop"},
        "q5": {"query": "Bewdley Bank Housing Cooperative"},
    }
    for method in ("POST", "GET"):
        body = await reconcile(read_client, batch, method=method)
        top = body["q0"]["result"][0]
        assert top["id"] == str(cic) and top["score"] >= scoring.MATCH_SCORE and not top["match"], top
        assert {"id": "legal_form_clash", "value": True} in top["features"]
        assert "not a match: the name says CIC, the query Ltd" in top["description"]
        for q in ("q1", "q2"):
            top = body[q]["result"][0]
            assert top["id"] == str(cic) and top["match"], body[q]
            assert {"id": "legal_form_clash", "value": False} in top["features"]
        for q in ("q3", "q4", "q5"):
            top = body[q]["result"][0]
            assert (top["id"], top["score"], top["match"]) == (str(coop), 100, True), (q, body[q])
    # the recorded legal form contradicts a stated one too: a CIO is never a CIC; a registered charity may be a
    # charitable company ("Ltd"), so that one stands
    severnbank = ids["Severnbank Women's Centre"]
    asked = await reconcile(read_client, {"q0": {"query": "Severnbank Womens Centre CIC"}})
    top = asked["q0"]["result"][0]
    assert (top["id"], top["match"]) == (str(severnbank), False), top
    assert {"id": "legal_form_clash", "value": True} in top["features"]
    assert top["description"].endswith(
        "not a match: its recorded legal form is Charitable incorporated organisation (CIO), the query says CIC "
        "(another legal entity)"
    ), top["description"]
    plain = await reconcile(read_client, {"q0": {"query": "Severnbank Womens Centre CIO"}})
    assert plain["q0"]["result"][0]["match"] is True, plain
    key = scoring.name_key
    assert scoring.recorded_form_clash(key("Severn Housing CIC"), "cio") == "cic"
    assert scoring.recorded_form_clash(key("Severn Housing Ltd"), "registered_charity") is None
    assert scoring.recorded_form_clash(key("Severn Housing"), "cio") is None  # no form stated
    assert scoring.recorded_form_clash(key("Severn Housing CIC"), "a_form_the_taxonomy_added") is None
    assert key("Severn Co-op").core == key("Severn Coop").core == key("Severn Co-operative").core
    assert scoring.legal_form_clash(key("Severn Housing Ltd"), key("Severn Housing CIC")) == ("ltd", "cic")
    assert scoring.legal_form_clash(key("Severn Housing Limited"), key("Severn Housing Ltd")) is None
    assert scoring.legal_form_clash(key("Severn Housing Trust"), key("Severn Housing CIC")) is None  # no form stated


async def test_an_identifier_is_decisive_whatever_the_name(read_client: Any) -> None:
    ids = await provider_ids(read_client)
    charity = next(p for p in PUBLISHED if any(i.startswith("GB-CHC-") for i in p.get("identifiers", [])))
    company = next(p for p in PUBLISHED if any(i.startswith("GB-COH-") for i in p.get("identifiers", [])))
    chc = next(i for i in charity["identifiers"] if i.startswith("GB-CHC-"))
    coh = next(i for i in company["identifiers"] if i.startswith("GB-COH-"))
    other = next(p["name"] for p in PUBLISHED if p is not charity and p is not company)
    batch = {
        # a bare charity number (as a number, as OpenRefine sends a numeric cell), and a name of another provider
        "q0": {"query": other, "properties": [{"pid": "charity_number", "v": int(chc.removeprefix("GB-CHC-"))}]},
        # a company number without its leading zeros, no name at all
        "q1": {"properties": [{"pid": "company_number", "v": coh.removeprefix("GB-COH-").lstrip("0")}]},
        # a full org-id, lower case with spaces
        "q2": {"query": "x", "properties": [{"pid": "org_id", "v": [" " + chc.lower() + " "]}]},
        # an org-id nobody holds: the name decides
        "q3": {"query": charity["name"], "properties": [{"pid": "org_id", "v": "GB-CHC-9999999"}]},
    }
    body = await reconcile(read_client, batch)
    q0 = body["q0"]["result"]
    assert (q0[0]["id"], q0[0]["score"], q0[0]["match"]) == (str(ids[charity["name"]]), 100, True)
    assert {"id": "identifier_match", "value": True} in q0[0]["features"]
    assert any(c["id"] == str(ids[other]) and not c["match"] for c in q0)  # the name's provider, not a match
    q1 = body["q1"]["result"]
    assert [(c["id"], c["match"]) for c in q1] == [(str(ids[company["name"]]), True)]
    assert body["q2"]["result"][0]["id"] == str(ids[charity["name"]]) and body["q2"]["result"][0]["match"]
    q3 = body["q3"]["result"][0]
    assert (q3["id"], q3["match"]) == (str(ids[charity["name"]]), True)
    assert {"id": "identifier_match", "value": False} in q3["features"]


async def test_pending_providers_are_never_candidates(read_client: Any) -> None:
    assert PENDING, "the demo data has a pending provider"
    p = PENDING[0]
    batch = {"q0": {"query": p["name"]}}
    if p.get("identifiers"):
        batch["q1"] = {"properties": [{"pid": "org_id", "v": p["identifiers"][0]}]}
    body = await reconcile(read_client, batch)
    assert all(c["name"] != p["name"] for r in body.values() for c in r["result"])
    assert body.get("q1", {"result": []})["result"] == []


async def test_area_narrows_by_code_or_name_and_type_is_honoured(read_client: Any) -> None:
    ids = await provider_ids(read_client)
    p = next(x for x in PUBLISHED if x["services"] and all(a == "E06000020" for s in x["services"] for a in s["areas"]))
    pid = str(ids[p["name"]])
    batch = {
        "q0": {"query": p["name"], "properties": [{"pid": "area", "v": "E06000020"}]},
        "q1": {"query": p["name"], "properties": [{"pid": "area", "v": "telford and wrekin"}]},
        "q2": {"query": p["name"], "properties": [{"pid": "area", "v": "E06000019"}]},  # Herefordshire
        "q3": {"query": p["name"], "properties": [{"pid": "area", "v": "Atlantis"}]},
        "q4": {"query": p["name"], "properties": [{"pid": "area", "v": "E23000016"}]},  # the region above
        "q5": {"query": p["name"], "type": "person"},
        "q6": {"query": p["name"], "type": ["person", "organisation"]},
        "q7": {"query": p["name"], "limit": 1},
        "q8": {"query": p["name"] + "\x00"},  # a NUL byte (the database refuses them in text): read as a space
    }
    body = await reconcile(read_client, batch)
    assert body["q0"]["result"][0]["id"] == pid and body["q1"]["result"][0]["id"] == pid
    assert all(c["id"] != pid for c in body["q2"]["result"])
    assert body["q3"]["result"] == []
    assert body["q4"]["result"][0]["id"] == pid
    assert body["q5"]["result"] == []
    assert body["q6"]["result"][0]["id"] == pid
    assert len(body["q7"]["result"]) == 1
    assert body["q8"]["result"][0]["id"] == pid


# --- bad input: a 4xx naming the field ------------------------------------------------------------------------


async def both_ways(client: Any, queries: str) -> list[tuple[str, Any]]:
    """A batch of `queries` sent as OpenRefine sends it (a form POST) and as a GET: (method, response) each."""
    return [
        ("POST", await client.post("/reconcile", data={"queries": queries})),
        ("GET", await client.get("/reconcile", params={"queries": queries})),
    ]


async def test_bad_batches_are_422_naming_the_field_with_cors(read_client: Any) -> None:
    examples = reconciliation_dir() / "examples" / "reconciliation-query-batch" / "invalid"
    cases: list[tuple[str, str]] = [
        ("{not json", "queries"),
        ("[]", "queries"),
        ('{"q0": {"query": "x", "limit": 0}}', "queries.q0.limit"),
        ('{"q0": {"query": "x", "limit": 2.5}}', "queries.q0.limit"),
        ('{"q0": {"query": "x", "limit": "3"}}', "queries.q0.limit"),
        ('{"q0": {"query": "x", "limit": 1e999}}', "queries.q0.limit"),
        ('{"q0": {"query": "x", "properties": [{"pid": "colour", "v": "red"}]}}', "queries.q0.properties[0].pid"),
        ('{"q0": {"query": "x", "properties": [{"pid": "area"}]}}', "queries.q0.properties[0].v"),
        ('{"q0": {"query": "x", "typo": 1}}', "queries.q0.typo"),
        ('{"q0": {"query": "x", "type_strict": "maybe"}}', "queries.q0.type_strict"),
        (json.dumps({f"q{i}": {"query": "x"} for i in range(101)}), "queries"),
    ]
    for path in sorted(examples.glob("*.json")):  # the spec's own invalid batches
        text = path.read_text()
        assert reconciliation_problems("reconciliation-query-batch.json", json.loads(text))
        cases.append((text, "queries."))
    for text, field in cases:
        for method, r in await both_ways(read_client, text):
            # a GET's queries are at most 2,000 characters (a URL's length is limited): beyond, a 400 naming it
            assert r.status_code == (400 if method == "GET" and len(text) > 2000 else 422), (text, r.text)
            assert r.headers.get(CORS) == "*"
            body = r.json()
            assert body["errors"][0]["field"].startswith(field), (text, body)
            for decoders_words in ("Expected `", "JSON is malformed", "out of range", "Invalid enum value", "byte"):
                assert decoders_words not in body["message"], (text, body)  # plain words (marketplace.messages)
    # the form itself: no queries, an unknown field, or not a form at all
    for data in ({}, {"queries": "{}", "extend": "{}"}):
        r = await read_client.post("/reconcile", data=data)
        assert r.status_code == 400 and r.headers.get(CORS) == "*", r.text
    for media in ("text/plain", "application/json"):
        r = await read_client.post("/reconcile", content=b'{"queries": "{}"}', headers={"Content-Type": media})
        assert r.status_code == 415 and r.headers.get(CORS) == "*", r.text
        assert "form-encoded" in r.json()["message"]
    # a form body is refused where the API takes only JSON
    r = await read_client.post(
        "/registrations", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415
    r = await read_client.get("/reconcile", params={"querys": "{}"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "querys"


async def test_queries_must_be_utf8_and_accents_sent_as_utf8_are_read_as_written(read_client: Any) -> None:
    """A form's bytes (percent-encoded or not) and a query string's are UTF-8: `queries` whose bytes are not (é sent
    as Latin-1's 0xE9) is a 400 naming it, not read as other text (Latin-1 or U+FFFD) and matched against that. An
    accent sent as UTF-8 is read as written: percent-encoded (a browser's or OpenRefine's form), as raw bytes in the
    body, or percent-encoded in a GET."""
    ids = await provider_ids(read_client)
    name = next(
        p["name"] for p in PUBLISHED if "e" in p["name"] and p["name"].isascii() and not set(p["name"]) & set("&=+%;")
    )
    typed = name.replace("e", "é", 1)
    text = json.dumps({"q0": {"query": typed}}, ensure_ascii=False)  # é as é, not as the JSON escape \u00e9
    plain = (await reconcile(read_client, {"q0": {"query": name}}))["q0"]["result"][0]
    assert (plain["id"], plain["score"]) == (str(ids[name]), 100)

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    latin1 = [
        ("POST", await read_client.post("/reconcile", content=b"queries=" + text.encode("latin-1"), headers=form)),
        (
            "POST",
            await read_client.post(
                "/reconcile", content=("queries=" + quote_plus(text, encoding="latin-1")).encode(), headers=form
            ),
        ),
        ("GET", await read_client.get("/reconcile?queries=" + quote(text, encoding="latin-1"))),
    ]
    for method, r in latin1:
        assert r.status_code == 400, (method, r.status_code, r.text)
        assert r.headers.get(CORS) == "*"
        assert r.json()["error"] == "invalid_input"
        (error,) = r.json()["errors"]
        assert error["field"] == "queries" and "UTF-8" in error["problem"], (method, error)
        assert ("body" if method == "POST" else "query string") in error["problem"], (method, error)

    utf8 = [
        ("POST", await read_client.post("/reconcile", data={"queries": text})),  # %C3%A9, as a form sends it
        ("POST", await read_client.post("/reconcile", content=b"queries=" + text.encode(), headers=form)),  # raw
        ("GET", await read_client.get("/reconcile", params={"queries": text})),
        ("GET", await read_client.get("/reconcile?queries=" + quote(text))),
    ]
    for method, r in utf8:
        assert r.status_code == 200, (method, r.text)
        top = r.json()["q0"]["result"][0]
        assert (top["id"], top["score"], top["match"]) == (str(ids[name]), plain["score"], True), (method, top)
    # a U+FFFD written as UTF-8 is text like any other, not a sign of bytes that were not UTF-8
    replacement = json.dumps({"q0": {"query": name + " \ufffd"}}, ensure_ascii=False)
    r = await read_client.post("/reconcile", content=b"queries=" + replacement.encode(), headers=form)
    assert r.status_code == 200 and r.json()["q0"]["result"][0]["id"] == str(ids[name]), r.text


async def test_a_query_or_a_query_s_field_given_twice_is_refused_naming_it(read_client: Any) -> None:
    """As every JSON body is told (README): a key given twice is not read as the last one, silently dropping the
    first query; GET and POST alike."""
    cases = [
        ('{"q0": {"query": "Wyvern Pathways"}, "q0": {"query": "Marchlight Housing Trust"}}', "queries.q0"),
        ('{"q0": {"query": "Wyvern Pathways", "query": "Marchlight Housing Trust"}}', "queries.q0.query"),
        (
            '{"q0": {"query": "x"}, "q1": {"query": "y", "properties": [{"pid": "area", "v": "a", "v": "b"}]}}',
            "queries.q1.properties[0].v",
        ),
    ]
    for text, field in cases:
        for method, r in await both_ways(read_client, text):
            assert r.status_code == 422, (method, text, r.text)
            assert r.headers.get(CORS) == "*"
            (error,) = r.json()["errors"]
            assert error["field"] == field, (method, text, error)
            assert "given twice" in error["problem"], error


# --- JSONP and CORS ------------------------------------------------------------------------------------------------


async def test_jsonp_with_a_safe_callback_only(read_client: Any) -> None:
    r = await read_client.get("/reconcile", params={"callback": "jQuery1234_5678", "_": "1700000000"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    text = r.text
    assert text.startswith("/**/jQuery1234_5678(") and text.endswith(");")
    assert_reconciliation_valid("manifest.json", json.loads(text[len("/**/jQuery1234_5678(") : -2]))
    batch = {"q0": {"query": PUBLISHED[0]["name"]}}
    r = await read_client.get("/reconcile", params={"callback": "cb", "queries": json.dumps(batch)})
    assert r.text.startswith("/**/cb(") and json.loads(r.text[len("/**/cb(") : -2])["q0"]["result"]
    for bad in ("alert(1)//", "a b", "1abc", "x;y", "", "a" * 300, "</script>"):
        r = await read_client.get("/reconcile", params={"callback": bad})
        assert r.status_code == 400, bad
        assert r.headers["content-type"].startswith("application/json")
    for bad in ("alert(1)", "1abc"):  # told what a name takes, with an example, in every service taking one
        for path in (
            "/reconcile",
            "/reconcile/suggest/entity",
            "/reconcile/suggest/type",
            "/reconcile/suggest/property",
        ):
            prefix = {"prefix": "a"} if "suggest" in path else {}
            r = await read_client.get(path, params={"callback": bad, **prefix})
            assert r.status_code == 400, (path, bad)
            (error,) = r.json()["errors"]
            assert error["field"] == "callback", error
            assert "jQuery1234_5678" in error["problem"] and "not in the form" not in error["problem"], error


async def test_preflight_is_answered_for_any_origin(read_client: Any) -> None:
    for path in ("/reconcile", "/reconcile/suggest/entity", "/reconcile/preview"):
        r = await read_client.options(
            path,
            headers={
                "Origin": "http://127.0.0.1:3333",
                "Access-Control-Request-Method": "POST" if path == "/reconcile" else "GET",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert r.status_code in (200, 204), (path, r.text)
        assert r.headers.get(CORS) == "*"
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "content-type" in r.headers["access-control-allow-headers"].lower()


# --- preview and suggest -------------------------------------------------------------------------------------------


async def test_preview_is_a_small_escaped_html_fragment(read_client: Any) -> None:
    ids = await provider_ids(read_client)
    p = next(x for x in PUBLISHED if x.get("identifiers"))
    r = await read_client.get("/reconcile/preview", params={"id": ids[p["name"]]})
    assert r.status_code == 200 and r.headers.get(CORS) == "*"
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<html" not in html and len(html) < 4000
    escaped = p["name"].replace("&", "&amp;").replace("'", "&#39;")
    assert escaped in html and p["identifiers"][0] in html
    assert f"/providers/{ids[p['name']]}" in html
    for missing in (999_999, ids.get("nope", 999_998)):
        r = await read_client.get("/reconcile/preview", params={"id": missing})
        assert r.status_code == 404 and r.headers.get(CORS) == "*" and r.json()["error"] == "not_found"
    r = await read_client.get("/reconcile/preview", params={"id": "abc"})
    assert r.status_code == 400


async def test_preview_escapes_what_a_provider_wrote(client: Any, keys: Any) -> None:
    admin = await keys.headers("admin")
    r = await client.post(
        "/registrations",
        json={"name": "Evil <script>alert(1)</script> & Co", "legal_form": "cic", "description": "<b>bold</b>"},
    )
    assert r.status_code == 201, r.text
    pid = r.json()["provider"]["id"] if "provider" in r.json() else r.json()["id"]
    r = await client.get("/reconcile/preview", params={"id": pid})
    assert r.status_code == 404  # pending: not in the published directory
    r = await client.post(f"/providers/{pid}/publish", headers={**admin, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    html = (await client.get("/reconcile/preview", params={"id": pid})).text
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
    body = await reconcile(client, {"q0": {"query": "Evil script alert & Co"}})
    assert body["q0"]["result"][0]["id"] == str(pid)


async def test_suggest_services_answer_as_the_spec_says(read_client: Any) -> None:
    name = PUBLISHED[3]["name"]
    prefix = name.split()[0][:4].lower()
    r = await read_client.get("/reconcile/suggest/entity", params={"prefix": prefix})
    assert r.status_code == 200 and r.headers.get(CORS) == "*"
    body = r.json()
    assert_reconciliation_valid("suggest-entities-response.json", body)
    names = [s["name"] for s in body["result"]]
    assert name in names or len(names) == 10
    assert all(prefix in fold(n) for n in names)
    assert names[0].lower().startswith(prefix)
    r2 = await read_client.get("/reconcile/suggest/entity", params={"prefix": prefix, "cursor": 1, "limit": 2})
    assert [s["id"] for s in r2.json()["result"]] == [s["id"] for s in body["result"][1:3]]
    pending = PENDING[0]["name"]
    r = await read_client.get("/reconcile/suggest/entity", params={"prefix": pending})
    assert all(s["name"] != pending for s in r.json()["result"])
    r = await read_client.get("/reconcile/suggest/entity", params={"prefix": "\x00"})
    assert r.status_code == 200 and r.json()["result"] == []
    r = await read_client.get("/reconcile/suggest/entity", params={"prefix": "100%_"})
    assert r.status_code == 200 and r.json()["result"] == []
    r = await read_client.get("/reconcile/suggest/type", params={"prefix": "org"})
    assert_reconciliation_valid("suggest-types-response.json", r.json())
    assert r.json()["result"] == [{"id": "organisation", "name": "Organisation"}]
    r = await read_client.get("/reconcile/suggest/property", params={"prefix": "char"})
    assert_reconciliation_valid("suggest-properties-response.json", r.json())
    assert [p["id"] for p in r.json()["result"]] == ["charity_number"]
    r = await read_client.get("/reconcile/suggest/property", params={"prefix": "", "callback": "cb"})
    assert r.text.startswith("/**/cb(") and len(json.loads(r.text[7:-2])["result"]) == 4


SUGGEST_SCHEMAS = {
    "entity": "suggest-entities-response.json",
    "type": "suggest-types-response.json",
    "property": "suggest-properties-response.json",
}


async def test_every_suggest_service_pages_with_the_specs_cursor(read_client: Any) -> None:
    """The spec's suggest query is `prefix` and an optional `cursor`, the number of suggestions to skip (so a client
    fetches more): every suggest service takes it, and `limit`, the same way (the type and property services refused
    both); a cursor that is not a count is a 400 naming it."""
    for kind, schema in SUGGEST_SCHEMAS.items():
        path = f"/reconcile/suggest/{kind}"
        prefix = "tr" if kind == "entity" else ""
        every = await read_client.get(path, params={"prefix": prefix, "limit": 50})
        assert every.status_code == 200, (kind, every.text)
        ids = [s["id"] for s in every.json()["result"]]
        assert len(ids) >= 1
        for cursor, limit in [(0, 2), (1, 2), (len(ids), 2), (0, 1)]:
            r = await read_client.get(path, params={"prefix": prefix, "cursor": cursor, "limit": limit})
            assert r.status_code == 200, (kind, cursor, r.text)
            assert_reconciliation_valid(schema, r.json())
            assert [s["id"] for s in r.json()["result"]] == ids[cursor : cursor + limit], (kind, cursor, limit)
        r = await read_client.get(path, params={"prefix": prefix, "cursor": 1, "callback": "cb"})
        assert r.text.startswith("/**/cb(") and [s["id"] for s in json.loads(r.text[7:-2])["result"]] == ids[1:11]
        r = await read_client.get(path, params={"prefix": prefix, "cursor": -1})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor", (kind, r.text)


# --- quality of match: true --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def generated_dsn(databases: Databases) -> str:
    """A 2,000-provider generated directory (bench/generate.py), loaded as the benchmarks load it."""
    load = bench_module("load")
    name = await databases.create("recon")
    dsn = databases.dsn(name)
    await load.prepare_schema(dsn, Settings.from_env().seed_dir)
    import asyncio

    await asyncio.to_thread(load.build_directory, dsn, 2000, 5, workers=1)
    return dsn


async def test_match_true_is_precise_on_misspelt_names_of_a_generated_directory(generated_dsn: str) -> None:
    quality = bench_module("reconcile_quality")
    import asyncpg

    conn = await asyncpg.connect(generated_dsn)
    try:
        rows = await conn.fetch("select id, name from provider where status = 'published'")
    finally:
        await conn.close()
    samples = quality.sample({r["id"]: r["name"] for r in rows}, 200, seed=random.Random(5).randrange(1000))
    assert len(samples) == 200 and all(s[1] != s[2] for s in samples)
    async with AsyncTestClient(app=create_app(app_settings(generated_dsn))) as client:
        result = await quality.evaluate(client, samples)
    assert result["precision"] >= 0.95, result
    assert result["recall"] >= 0.6, result
    assert result["right_one_ranked_first"] >= 0.8, result
