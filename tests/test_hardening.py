"""Regression tests for the hostile review's findings (issue 13): each was a 500, a silent misreading of a request,
or a leak, and each must stay fixed."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import asyncpg
import pytest
from conftest import app_settings, fetchval, served_at_once
from litestar.testing import AsyncTestClient
from test_messages import _asgi

from marketplace import db, http
from marketplace.app import create_app
from marketplace.clock import FixedClock
from marketplace.errors import NotAcceptable
from marketplace.standards.tabular import FLAT_COLUMNS

pytestmark = pytest.mark.asyncio

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"name": ' * 1000 + "1" + "}" * 1000
NOT_UTF8 = b'{"name": "\xff\xfe Trust"}'
BODY_METHODS = ("post", "put", "patch")
NOON = dt.datetime(2026, 11, 2, 12, 0, 10, tzinfo=dt.UTC)


async def body_operations(client) -> list[tuple[str, str]]:
    """Every operation that takes a JSON body, with its path's ids set to 1 (file uploads take other types)."""
    doc = (await client.get("/schema/openapi.json")).json()
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "application/json" in op.get("requestBody", {}).get("content", {}):
                concrete = re.sub(r"\{[a-z_]+_id\}", "1", path)  # every id in a path: the seeded first one
                concrete = concrete.replace("{pathway}", "ACCOM").replace("{code}", "iso_9001").replace("{index}", "0")
                ops.append((method.upper(), concrete))
    return ops


async def test_undecodable_bodies_are_400_on_every_endpoint_that_takes_one(read_client, read_keys):
    admin = await read_keys.headers("admin")
    provider = await read_keys.headers("provider", 1)  # market responses and clarification questions are a provider's
    ops = await body_operations(read_client)
    assert len(ops) >= 8
    for method, path in ops:
        key = provider if "/responses" in path or path.endswith("/clarifications") else admin
        for body, problem in (
            (DEEP, "nested too deeply"),
            (DEEP_OBJECT, "nested too deeply"),
            (NOT_UTF8, "not valid UTF-8"),
        ):
            r = await read_client.request(
                method, path, content=body, headers={**key, "Content-Type": "application/json", "If-Match": '"v1"'}
            )
            assert r.status_code == 400, (method, path, problem, r.status_code, r.text[:200])
            assert r.json()["errors"] == [{"field": "body", "problem": problem}]
            assert r.json()["message"] == f"body: {problem}"  # named in the message too


async def test_a_body_that_is_not_declared_json_is_415(read_client):
    r = await read_client.post(
        "/registrations",
        content=b'{"name": "Plain Text Trust", "legal_form": "cic"}',
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    r = await read_client.post("/registrations", content=b'{"name": "No Type Trust", "legal_form": "cic"}')
    assert r.status_code == 415


async def test_every_operation_that_takes_a_body_documents_its_415(read_client):
    """strict_requests refuses a body of another media type before any handler reads it, on every POST, PUT and
    PATCH (schemathesis once sent a verification's body with an empty Content-Type and found the 415 undocumented)."""
    document = (await read_client.get("/schema/openapi.json")).json()
    ops = [
        (m, path, op)
        for path, item in document["paths"].items()
        for m, op in item.items()
        if m in ("post", "put", "patch")
    ]
    assert len(ops) > 30
    for method, path, op in ops:
        assert "415" in op["responses"], (method, path)
        body = op["responses"]["415"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
        assert list(op["responses"]) == sorted(op["responses"]), (method, path)


@pytest.mark.parametrize("path", ["/providers/%201", "/providers/1%20", "/providers/+1", "/providers/%2B1"])
async def test_ids_are_read_as_written(read_client, path):
    assert (await read_client.get(path)).status_code == 404
    assert (await read_client.get("/providers/1")).status_code == 200


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer nonsense", "Bearer prv_" + "a" * 43, "Bearer"])
async def test_a_presented_credential_must_be_valid_everywhere(read_client, authorization):
    for path in ("/pathways", "/areas", "/providers/1", "/providers"):
        r = await read_client.get(path, headers={"Authorization": authorization})
        assert r.status_code == 401, (path, r.status_code)
    assert (await read_client.get("/pathways")).status_code == 200


async def test_a_revoked_key_is_refused_on_the_taxonomies_too(client, keys):
    key_id, key = await keys.make("commissioner")
    admin = await keys.headers("admin")
    assert (await client.get("/pathways", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    assert (await client.post(f"/keys/{key_id}/revoke", headers=admin)).status_code == 200
    assert (await client.get("/pathways", headers={"Authorization": f"Bearer {key}"})).status_code == 401


async def test_driver_messages_are_never_echoed(read_client, read_keys):
    """A time whose zone moves it out of the calendar in UTC (schema-valid: schemathesis sent one) is refused with
    the field named, before the database driver sees it; the driver's own words never reach the client."""
    admin = await read_keys.headers("admin")
    for field, value in (("since", "0001-01-01T00:00:00+01:00"), ("until", "0001-01-01T00:01:00+00:11")):
        r = await read_client.get("/audit", params={field: value}, headers=admin)
        assert r.status_code == 422, r.text
        [problem] = r.json()["errors"]
        assert problem["field"] == field
        assert problem["problem"] == "must be a time between 0001-01-01 and 9999-12-31 in UTC"
        assert "datetime" not in r.text and "$4" not in r.text and "argument" not in r.text
    at_the_edge = await read_client.get("/audit", params={"since": "0001-01-01T00:00:00Z"}, headers=admin)
    assert at_the_edge.status_code == 200


async def test_a_value_the_database_refuses_is_a_400_without_the_drivers_words(read_client, read_keys, monkeypatch):
    """The safety net behind the checks (`http._bad_data`): a value that reached the driver and was refused there (as
    the out-of-calendar time above did before it was checked) is a 400 in the app's words, never the driver's."""
    from marketplace.accounts import service

    async def refused(*_: object, **__: object) -> None:
        raise asyncpg.DataError(
            "invalid input for query argument $4: datetime.datetime(1, 1, 1) (date value out of range)"
        )

    monkeypatch.setattr(service, "audit_log", refused)
    r = await read_client.get("/audit", headers=await read_keys.headers("admin"))
    assert r.status_code == 400
    assert r.json()["message"] == "a value in the request is out of the range it can take"
    assert "datetime" not in r.text and "$4" not in r.text and "argument" not in r.text


async def test_error_bodies_stay_small_whatever_the_input(read_client):
    r = await read_client.get("/providers", params={"pathway": [f"NOPE_{i}" for i in range(200)]})
    assert r.status_code == 400
    body = r.json()
    assert len(body["errors"]) == 10 and body["message"].endswith("; and 190 more")
    assert len(r.content) < 5_000


async def test_the_report_negotiates_before_any_work(client, keys, fresh_db):
    h = await keys.headers("commissioner")
    exercise = (await client.get("/exercises", headers=h)).json()["items"][0]["id"]
    conn = await db.connect(fresh_db)
    try:
        runs = await conn.fetchval("select count(*) from match_run")
        for accept in ("text/html;q=.", "text/html;q=1.2.3", "image/png", "application/xml"):
            r = await client.get(f"/exercises/{exercise}/report", headers={**h, "Accept": accept})
            assert r.status_code == 406, (accept, r.status_code)
            assert await conn.fetchval("select count(*) from match_run") == runs, "refused before matching anything"
    finally:
        await conn.close()
    accept = "text/csv;q=0.5, text/html;q=0.9, application/json;q=.9"
    r = await client.get(f"/exercises/{exercise}/report", headers={**h, "Accept": accept})
    # q=.9 is not a quality value (RFC 9110 12.4.2): that range counts for nothing
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff" and "no-store" in r.headers["cache-control"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = await client.get(f"/exercises/{exercise}/report", params={"format": "csv"}, headers=h)
    assert r.headers["content-type"] == "text/csv; charset=utf-8" and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, "json"),
        ("", "json"),
        ("text/csv;q=0.1, application/json", "json"),
        ("text/csv, application/json;q=0.9", "csv"),
        ("application/json;q=0, */*", "html"),  # refused by name: a wildcard does not bring it back
        ("text/csv;q=0, text/*", "html"),
        ("text/*;q=0.2, text/csv;q=0.3", "csv"),
        ("text/*;q=0.9, application/*;q=0.4", "html"),
        ("application/*", "json"),
        ("TEXT/CSV", "csv"),
        ("text/html;level=1;q=0.5, text/csv;q=0.6", "csv"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, */*;q=0.1", "xlsx"),
        ("text/csv;q=.9, text/html;q=0.2", "html"),  # `.9` is no quality value: that range counts for nothing
    ],
)
async def test_reports_negotiate_by_quality_value_and_specificity(accept, fmt):
    assert http.negotiate_report(accept) == fmt


@pytest.mark.parametrize("accept", ["image/png", "text/csv;q=0", "*/*;q=0", "application/*;q=0, text/*;q=0", "json"])
async def test_a_report_nobody_accepts_is_406_naming_the_types(accept):
    with pytest.raises(NotAcceptable) as refused:
        http.negotiate_report(accept)
    [problem] = refused.value.problems
    assert problem.field == "Accept" and problem.allowed == list(http.REPORT_MEDIA.values())


async def test_a_query_string_too_long_is_a_414_naming_query(read_client):
    """The server refuses an address of 64 KiB or more with a bare 414 before the app sees it; the app reads at most
    32,768 characters of query string and answers a longer one with a body saying so."""
    r = await read_client.get("/providers", params={"q": "x" * 40_000})
    assert r.status_code == 414
    assert r.json()["error"] == "uri_too_long"
    [problem] = r.json()["errors"]
    assert problem["field"] == "query" and problem["problem"].startswith("is 40,002 characters long; at most 32,768")
    doc = (await read_client.get("/schema/openapi.json")).json()
    assert all("414" in op["responses"] for item in doc["paths"].values() for op in item.values() if "responses" in op)
    # no parameter the document allows is refused for its length: its longest value, percent-encoded (a 4-byte
    # character is 12 characters), fits (GET /reconcile's queries, 2,000 characters, is the longest)
    longest = max(
        12 * (p["schema"].get("maxLength") or max(o.get("maxLength", 0) for o in p["schema"].get("oneOf", [{}])))
        + len(p["name"])
        + 1
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
        if p["in"] == "query"
    )
    assert 12 * 2000 < longest <= http.MAX_QUERY, longest


NOT_UTF8_QUERY = "not valid UTF-8: the query string must be UTF-8 (é percent-encoded is %C3%A9, not Latin-1's %E9)"


async def test_a_query_parameter_whose_bytes_are_not_utf8_is_a_400_naming_it(read_client):
    """`?q=caf%E9` (é as Latin-1's byte) was read as "caf\ufffd" and searched for; now a 400 naming `q` alone, the
    same whether the byte is percent-encoded or sent as it is. A name that is not UTF-8 is named with its bad bytes
    as \\xNN. An é sent as UTF-8, percent-encoded or not, is searched for as written."""
    r = await read_client.get("/providers?q=caf%E9&per_page=1")
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_input"
    assert r.json()["errors"] == [{"field": "q", "problem": NOT_UTF8_QUERY}]
    assert r.json()["message"] == f"q: {NOT_UTF8_QUERY}"
    status, body = _asgi(read_client, "GET", "/providers", query=b"q=caf\xe9&per_page=1")  # the byte as it is
    assert (status, body["errors"]) == (400, [{"field": "q", "problem": NOT_UTF8_QUERY}])
    r = await read_client.get("/providers?caf%E9=1&q=x%FF&per_page=1")  # a name, then a value: each named
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [
        {"field": "caf\\xe9", "problem": f"its name is {NOT_UTF8_QUERY}"},
        {"field": "q", "problem": NOT_UTF8_QUERY},
    ]

    encoded = await read_client.get("/providers?q=caf%C3%A9&per_page=1")
    assert encoded.status_code == 200, encoded.text
    status, body = _asgi(read_client, "GET", "/providers", query="q=café&per_page=1".encode())
    assert status == 200 and body == encoded.json()  # the same search
    plus = await read_client.get("/providers?q=caf%C3%A9+trust&per_page=1")  # `+` a space, as a form sends it
    assert plus.status_code == 200, plus.text
    # a byte sent as it is in a query string too long to read: the 414 (its handler could not read the address)
    status, body = _asgi(read_client, "GET", "/providers", query=b"q=caf\xe9" + b"x" * 40_000)
    assert status == 414 and body["errors"][0]["field"] == "query"


async def test_a_console_address_whose_bytes_are_not_utf8_is_a_400_page(read_client):
    """A console page's address with a parameter that is not UTF-8 is told so on a console page, not in JSON."""
    r = await read_client.get("/console/sign-in?next=%2Fconsole%2Fhom%E9")
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert "Next: not valid UTF-8" in r.text and "%C3%A9" in r.text, r.text


async def test_a_post_whose_query_string_is_not_utf8_stores_nothing(client, keys, fresh_db):
    """POST /imports?filename=caf%E9.csv stored a dry run named "caf\ufffd.csv"; now a 400 naming `filename`, and
    nothing is stored."""
    admin = await keys.headers("admin")
    row = {"provider_name": "Ledbury Lanterns CIC", "legal_form": "cic"}  # one organisation, good or bad
    csv = (",".join(FLAT_COLUMNS) + "\r\n" + ",".join(row.get(c, "") for c in FLAT_COLUMNS) + "\r\n").encode()
    before = await fetchval(fresh_db, "select count(*) from import_run")
    r = await client.post("/imports?filename=caf%E9.csv", content=csv, headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [{"field": "filename", "problem": NOT_UTF8_QUERY}]
    assert await fetchval(fresh_db, "select count(*) from import_run") == before
    r = await client.post("/imports?filename=caf%C3%A9.csv", content=csv, headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json()["filename"] == "café.csv", r.text  # the same, as UTF-8, is stored
    assert await fetchval(fresh_db, "select count(*) from import_run") == before + 1


async def test_responses_that_carry_a_new_key_are_never_cached(client, keys):
    admin = await keys.headers("admin")
    r = await client.post("/keys", json={"role": "commissioner", "name": "cache test"}, headers=admin)
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    r = await client.post("/registrations", json={"name": "Cache Test Trust", "legal_form": "cic"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "name", ["\u200b\u200b\u200b", "Good\u202eliarT", "Trust\u0085 Ltd", "\u2066Trust\u2069", "\u00ad\ufeff"]
)
async def test_names_that_read_as_something_else_are_refused(client, name):
    r = await client.post("/registrations", json={"name": name, "legal_form": "cic"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name", name


async def test_names_are_stored_in_nfc(client):
    decomposed = "Cafe\u0301 Communities CIC"  # e + combining acute accent
    r = await client.post("/registrations", json={"name": decomposed, "legal_form": "cic"})
    assert r.status_code == 201
    assert r.json()["provider"]["name"] == "Caf\u00e9 Communities CIC"


async def test_the_openapi_document_says_if_match_is_required(read_client):
    doc = (await read_client.get("/schema/openapi.json")).json()
    params = [
        p
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        for p in op.get("parameters", [])
        if p.get("name") == "If-Match"
    ]
    assert params and all(p["required"] for p in params)


async def test_the_registration_limit_is_exact_under_concurrency(databases, template_db):
    """Twenty registrations from one address at once, ten allowed: exactly ten are made (one address's
    registrations are counted one at a time: accounts.queries.lock_registrations). Sent at once, as one worker serves
    them: litestar's test client serves one request at a time, so its gathered requests never raced."""
    name = await databases.create("race", template=template_db)
    app = create_app(app_settings(databases.dsn(name), registration_limit=10))
    async with served_at_once(app) as client:
        results = await asyncio.gather(
            *(
                client.post(
                    "/registrations", json={"name": f"Racing Group {i}", "legal_form": "unincorporated_association"}
                )
                for i in range(20)
            )
        )
    assert sorted(r.status_code for r in results) == [201] * 10 + [429] * 10
    made = await fetchval(databases.dsn(name), "select count(*) from provider where name like 'Racing Group %'")
    assert made == 10
    await databases.drop(name)


async def test_connections_cut_under_requests_give_503_never_500(databases, template_db):
    """Every database connection the app holds is terminated, again and again, while requests run: each request
    either succeeds or is a 503 with Retry-After. The requests are served at once, as by one worker, so connections
    are cut in the middle of them (litestar's test client serves one request at a time and holds up the test's loop
    while it does, so the cuts only ever fell between requests)."""
    name = await databases.create("cut", template=template_db)
    dsn = databases.dsn(name)
    app = create_app(app_settings(dsn, pool_min_size=4, pool_max_size=4))
    killer = await db.connect(dsn)
    statuses: list[int] = []
    try:
        async with served_at_once(app) as client:

            async def cut() -> None:
                for _ in range(15):
                    await killer.execute("""select pg_terminate_backend(pid) from pg_stat_activity
                                            where datname = current_database() and pid <> pg_backend_pid()""")
                    await asyncio.sleep(0.02)

            async def read(i: int) -> None:
                r = (
                    await client.get(f"/providers/{1 + i % 50}")
                    if i % 2
                    else await client.get("/providers", params={"q": "housing", "per_page": 5})
                )
                statuses.append(r.status_code)
                if r.status_code == 503:
                    assert r.headers["retry-after"] and r.json()["error"] == "database_unavailable"

            await asyncio.gather(cut(), *(read(i) for i in range(120)))
    finally:
        await killer.close()
        await databases.drop(name)
    assert set(statuses) <= {200, 404, 503}, sorted(set(statuses))
    assert 200 in statuses


@pytest.mark.parametrize(
    "lost",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        # seen under `make chaos` too: the protocol still mid-operation when the server went away
        asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    ],
)
async def test_a_connection_lost_at_its_release_does_not_change_the_answer(client, keys, monkeypatch, lost):
    """Found by `make chaos`: PostgreSQL terminated a connection between a request's last query and the release of
    its connection. asyncpg's release resets the connection first, the reset failed, and the failure escaped the
    cleanup as an exception group: a 412 became a 500, and a committed PATCH a 503. The request's own answer
    stands; the pool replaces the connection. (The pool's own reset, `db.keep_session`, sends nothing: the failure
    is arranged in asyncpg's part of every release, `Connection._reset`, which rolls back a transaction left open.)"""
    real_reset = asyncpg.Connection._reset
    failing: list[bool] = []  # the next release fails once when this holds an item

    async def reset(self, *args, **kwargs):
        if failing:
            failing.pop()
            raise lost
        return await real_reset(self, *args, **kwargs)

    from marketplace import concurrency

    real_check = concurrency.check_if_match

    def check_if_match(if_match, current):  # the handler's last step before its answer: its connection fails next
        failing.append(True)
        return real_check(if_match, current)

    monkeypatch.setattr(asyncpg.Connection, "_reset", reset)
    monkeypatch.setattr(concurrency, "check_if_match", check_if_match)
    admin = await keys.headers("admin")
    etag = (await client.get("/providers/1", headers=admin)).headers["etag"]
    stale = await client.patch("/providers/1", json={"description": "x"}, headers={**admin, "If-Match": '"v999"'})
    assert stale.status_code == 412, stale.text
    assert not failing, "the release failed as arranged"
    done = await client.patch("/providers/1", json={"description": "Kept."}, headers={**admin, "If-Match": etag})
    assert done.status_code == 200, done.text
    assert not failing
    assert (await client.get("/providers/1")).json()["description"] == "Kept."


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("founded_year", "1999", "must be a whole number"),
        ("founded_year", 1999.5, "must be a whole number"),
        ("founded_year", True, "must be a whole number"),
        ("name", 12, "must be text"),
    ],
)
async def test_a_body_value_of_the_wrong_type_is_refused_not_converted(client, field, value, problem):
    """A body is read as the JSON it is: a year sent as the text "1999" is a mistake in the client, which a lenient
    reading (the framework's own, which converts text to numbers) would hide, and store as if it were right. A number
    with no fraction is a whole number, as JSON Schema says (1999.0 is taken)."""
    body = {"name": "Typed Values Trust", "legal_form": "cic", field: value}
    r = await client.post("/registrations", json=body)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["field"] == field and error["problem"].startswith(problem), error
    assert (await client.get("/providers", params={"q": "Typed Values Trust"})).json()["items"] == []
    body["founded_year"] = 1999.0
    r = await client.post("/registrations", json=body if field == "founded_year" else {**body, field: "Typed"})
    assert r.status_code == 201 and r.json()["provider"]["founded_year"] == 1999, r.text


@pytest.mark.parametrize(
    ("path", "field"),
    [("/providers/export", "format"), ("/reconcile/preview", "id"), ("/reconcile/suggest/entity", "prefix")],
)
async def test_a_missing_required_query_parameter_is_named_in_the_errors(read_client, read_keys, path, field):
    r = await read_client.get(path, headers=await read_keys.headers("admin"))
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": field, "problem": "required"}]


ACTIONS = [
    "/keys/999999/revoke",
    "/providers/1/confirm",
    "/providers/1/publish",
    "/providers/1/archive",
    "/providers/1/verify",
    "/exercises/1/match",
    "/exercises/1/partnerships",
    "/exercises/1/reports",
]
"""The actions that take no input (besides a response's withdrawal, tests/test_engagement.py)."""


async def test_every_change_documents_the_body_it_takes(read_client):
    """Every POST, PUT and PATCH says what body it takes, the actions that take none too (no body, or {}): what a
    client may send is the schema's, and anything else is refused."""
    document = (await read_client.get("/schema/openapi.json")).json()
    ops = [(m, path, op) for path, item in document["paths"].items() for m, op in item.items() if m in BODY_METHODS]
    assert len(ops) > 30
    assert [(m, path) for m, path, op in ops if not op.get("requestBody", {}).get("content")] == []


async def test_an_action_that_takes_no_input_refuses_a_field_naming_it(client, keys, fresh_db):
    """An action's body (none, or {}) holds no field: one sent is a 400 naming it, before anything is done, as every
    other body's unknown field is."""
    admin = await keys.headers("admin")
    status = "select status from provider where id = 1"
    before = await fetchval(fresh_db, status)
    for path in ACTIONS:
        r = await client.post(path, headers=admin, json={"surprise": 1})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.json()["errors"] == [{"field": "surprise", "problem": "unknown field"}], path
    assert await fetchval(fresh_db, status) == before
    r = await client.post("/providers/1/confirm", headers=admin, json={})
    assert r.status_code == 200, r.text
    assert (await client.post("/providers/1/confirm", headers=admin)).status_code == 200


async def test_a_delete_with_a_body_is_refused_and_nothing_is_deleted(client, keys, fresh_db):
    """No DELETE reads a body: one sent (`{"x": 1}`) was ignored unseen and the service deleted."""
    provider_id, service_id = await a_providers_service(fresh_db)
    owner = await keys.headers("provider", provider_id)
    etag = (await client.get(f"/providers/{provider_id}/services/{service_id}")).headers["etag"]
    headers = {**owner, "If-Match": etag, "Content-Type": "application/json"}
    r = await client.request(
        "DELETE", f"/providers/{provider_id}/services/{service_id}", content=b'{"x": 1}', headers=headers
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "body", "problem": "this operation takes no body: send none"}]
    assert (await client.get(f"/providers/{provider_id}/services/{service_id}")).status_code == 200
    r = await client.request(
        "DELETE", f"/providers/{provider_id}/services/{service_id}", headers={**owner, "If-Match": etag}
    )
    assert r.status_code == 204, r.text


async def a_providers_service(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "select s.provider_id, s.id from service s join provider p on p.id = s.provider_id "
            "where p.status = 'published' and s.status = 'active' order by s.id limit 1"
        )
        return row["provider_id"], row["id"]
    finally:
        await conn.close()


async def test_a_method_an_address_does_not_take_is_told_the_ones_it_does(read_client):
    """A 405 said only "Method Not Allowed": it names the methods the address takes, as its Allow header does."""
    r = await read_client.delete("/exercises")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    allowed = [m for m in r.headers["allow"].split(", ") if m != "OPTIONS"]
    assert sorted(allowed) == ["GET", "POST"], r.headers["allow"]
    assert r.json()["message"] == f"DELETE is not one of the methods /exercises takes: {', '.join(allowed)}"


async def test_exports_without_a_key_are_limited_per_address_and_minute(fresh_db, keys, monkeypatch):
    """`spend_budget` let every caller without a key through: GET /providers/export (up to 50,000 rows, 0.4 s an
    xlsx on the demo) was unlimited anonymously, and a key at its limit had only to leave itself out. An export
    without a key now counts against its address's limit (429 with Retry-After past it), apart from other
    addresses' and from any key's."""
    from litestar.testing.transport import TestClientTransport

    parse = TestClientTransport.parse_request

    def from_address(self, request):  # the test client sends every request from "testclient": say which
        scope = parse(self, request)
        if address := request.headers.get("x-test-address"):
            scope["client"] = (address, 50000)
        return scope

    monkeypatch.setattr(TestClientTransport, "parse_request", from_address)
    clock = FixedClock(NOON)
    one, other = {"x-test-address": "192.0.2.1"}, {"x-test-address": "192.0.2.2"}
    p12 = {**one, **await keys.headers("provider", 12)}
    settings = app_settings(fresh_db, expensive_limit=2, anonymous_expensive_limit=3)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        for _ in range(2):
            assert (await client.get("/providers/export?format=csv", headers=p12)).status_code == 200
        r = await client.get("/providers/export?format=csv", headers=p12)
        assert r.status_code == 429 and r.headers["retry-after"] == "50", r.text
        for _ in range(3):  # the key left out: its address's own limit, no more
            assert (await client.get("/providers/export?format=csv", headers=one)).status_code == 200
        r = await client.get("/providers/export?format=hsds", headers=one)
        assert r.status_code == 429 and r.headers["retry-after"] == "50", r.text
        assert r.json()["message"] == (
            "this address has made 3 exports without an API key this minute: try again in 50 s (with a key, the "
            "key's own limit applies)"
        )
        assert (await client.get("/providers?q=housing", headers=one)).status_code == 200, "a search is not limited"
        assert (await client.get("/providers/export?format=csv", headers=other)).status_code == 200
        clock.at = NOON + dt.timedelta(minutes=1)
        assert (await client.get("/providers/export?format=csv", headers=one)).status_code == 200


async def test_links_and_the_cookies_secure_flag_follow_the_configured_base_url(fresh_db, keys):
    """Links written into bodies (reconciliation's manifest and previews, /hsds) followed the request's Host header
    (`Host: evil.example` gave links there), and the console's cookies were Secure only when the request itself came
    over https, never behind a proxy that ends TLS. With `MARKETPLACE_BASE_URL` set, both follow it; unset, they
    follow the request, as before."""
    from test_console import CSRF

    evil = {"Host": "evil.example"}
    async with AsyncTestClient(app=create_app(app_settings(fresh_db))) as client:
        assert (await client.get("/reconcile", headers=evil)).json()[
            "identifierSpace"
        ] == "http://evil.example/providers/"
    base = "https://provision.example.org/directory"
    async with AsyncTestClient(app=create_app(app_settings(fresh_db, base_url=base + "/"))) as client:
        manifest = (await client.get("/reconcile", headers=evil)).json()
        assert manifest["identifierSpace"] == f"{base}/providers/"
        assert manifest["preview"]["url"].startswith(f"{base}/reconcile/preview?id=")
        hsds = (await client.get("/hsds", headers=evil)).json()
        assert hsds["openapi_url"] == f"{base}/schema/openapi.json"
        pid = await fetchval(fresh_db, "select id from provider where status = 'published' order by id limit 1")
        preview = await client.get("/reconcile/preview", params={"id": pid}, headers=evil)
        assert f'href="{base}/providers/{pid}"' in preview.text and "evil.example" not in preview.text
        client.follow_redirects = False
        page = await client.get("/console/sign-in")  # plain HTTP here, https to the clients
        token = CSRF.search(page.text).group(1)
        cookies = [v for k, v in page.headers.multi_items() if k == "set-cookie"]
        assert cookies and all("Secure" in c for c in cookies), cookies
        _, key = await keys.make("commissioner")
        sent = {"Cookie": "; ".join(c.split(";")[0] for c in cookies)}  # as a browser over https sends them back
        data = {"csrf_token": token, "api_key": key, "next": "/console/home"}
        done = await client.post("/console/sign-in", data=data, headers=sent)
        assert done.status_code == 303, done.text
        session = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and "provision_session=" in v)
        assert "Secure" in session and "HttpOnly" in session


async def test_an_export_refused_for_a_bad_code_spends_nothing_of_the_keys_limit(fresh_db, keys):
    """An export with a code that is not the taxonomy's (`pathway=ACOM`) was refused (400) after the key's budget was
    spent: three typos used up a limit of 2. The search is checked first now."""
    p12 = await keys.headers("provider", 12)
    settings = app_settings(fresh_db, expensive_limit=2)
    async with AsyncTestClient(app=create_app(settings, clock=FixedClock(NOON))) as client:
        for _ in range(3):
            r = await client.get("/providers/export?format=csv&pathway=ACOM", headers=p12)
            assert r.status_code == 400 and r.json()["errors"][0]["field"] == "pathway", r.text
        for _ in range(2):
            assert (await client.get("/providers/export?format=csv&pathway=ACCOM", headers=p12)).status_code == 200
        assert (await client.get("/providers/export?format=csv&pathway=ACCOM", headers=p12)).status_code == 429


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),  # no route: refused while routing, before any middleware
        ("GET", "/providers/%201", 404),
        ("DELETE", "/providers", 405),  # a method the path does not take
        ("GET", "/console/nowhere", 404),  # a console address: its error page
    ],
)
async def test_a_byte_sent_as_it_is_in_a_refused_address_is_still_a_4xx(read_client, method, path, status):
    """`GET /nowhere?q=\\xe9` (the byte sent as it is, not percent-encoded) was a 500: the router refused the address
    before any middleware had read the query string as UTF-8, and the error's handler, reading the address, could
    not decode it."""
    got, body = _asgi(read_client, method, path, query=b"q=caf\xe9")
    assert got == status, body
    if path.startswith("/console/"):
        assert b"<html" in body  # the console's page
    else:
        assert body["error"] in ("not_found", "method_not_allowed"), body
