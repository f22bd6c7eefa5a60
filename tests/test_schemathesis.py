"""Property-based tests over the whole OpenAPI schema, against `marketplace serve` on a loopback port:
every operation, as every kind of caller, with no server errors, every response conforming to the
documented schema, and every operation that needs a key refusing requests without one."""

from __future__ import annotations

import functools
import re

import pytest
import schemathesis
from conftest import Keys
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from marketplace import db
from marketplace.accounts.auth import Allow, changes_something
from marketplace.app import create_app
from marketplace.settings import Settings

ROLES = ("anonymous", "admin", "commissioner", "provider", "auditor")

# A schema-valid request may still be refused, for reasons no schema can state: 412/428 (the
# If-Match version is not the current one, or missing), 422 (a rule across fields, such as more years'
# experience than the organisation has existed), 409 (an identifier registered to someone else), 429
# (the registration rate limit). Everything else schema-valid must be accepted. A well-formed If-Match we never
# issued, or a weak one, matches nothing (412, RFC 9110 13.1.1); a malformed one is a 400. A schema-violating
# request may be refused for its length first (414: a query string over http.MAX_QUERY).
CHECKS = {
    "output": {"sanitization": {"enabled": False}},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "428", "429"]
        },
        # a change without If-Match is 428 Precondition Required (RFC 6585), not a 400
        "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]},
        "negative_data_rejection": {
            "expected-statuses": [
                "400",
                "401",
                "403",
                "404",
                "405",
                "406",
                "409",
                "412",
                "414",
                "415",
                "422",
                "428",
                "429",
            ]
        },
    },
}
CONFIG = SchemathesisConfig.from_dict(CHECKS)
# The coverage phase (every edge case the schema defines: lengths, bounds, formats, a hundred requests or so an
# operation) tests how an operation reads its input, which is the same whoever calls it: each operation gets it once,
# as the first role of DEEP_ORDER it admits. Every role it admits also sends it 15 random valid and invalid requests;
# every role it refuses, 3 (its guard refuses them before anything in the request is read: 401 or 403).
WITHOUT_COVERAGE = SchemathesisConfig.from_dict({**CHECKS, "phases": {"coverage": {"enabled": False}}})
DEEP_ORDER = ("admin", "commissioner", "provider", "anonymous", "auditor")
EXAMPLES = {"deep": 15, "admitted": 15, "refused": 3}


def errors_in_plain_words(ctx, response, case):
    """No error shows the decoder's own words (a regular expression, "Expected `int`"): tests/test_messages.py."""
    if response.status_code >= 400 and ("matching regex" in response.text or "Expected `" in response.text):
        raise AssertionError(f"an error in the decoder's words, not plain English: {response.text[:300]}")


@pytest.fixture(scope="session")
def api_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json", config=CONFIG)


@pytest.fixture(scope="session")
def schema_without_coverage(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json", config=WITHOUT_COVERAGE)


@functools.cache
def admitted() -> dict[tuple[str, str], frozenset[str]]:
    """Each documented operation (method, OpenAPI path) and the roles its guards admit, read off the app's own route
    handlers: an operation without an `Allow` guard is open to everyone, anonymous callers included, but for the
    auditor, who may send no operation that changes something (`auditors_only_read`, on every route)."""
    app = create_app(Settings())
    roles: dict[tuple[str, str], frozenset[str]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not handler.resolve_include_in_schema():
                continue
            guards = [g for layer in handler.ownership_layers for g in layer.guards or () if isinstance(g, Allow)]
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                roles[(method.upper(), path)] = frozenset(  # no guard admits anonymous
                    r
                    for r in ROLES
                    if all(g.admits(r, method) for g in guards)
                    and not (r == "auditor" and changes_something(method, handler))
                )
    return roles


def group(role: str, operation: tuple[str, str]) -> str:
    """How `role` tests `operation`: "deep" (with the coverage phase), "admitted" or "refused"."""
    roles = admitted()[operation]
    if role not in roles:
        return "refused"
    return "deep" if role == next(r for r in DEEP_ORDER if r in roles) else "admitted"


def in_group(role: str, name: str):
    def matcher(ctx) -> bool:
        return group(role, (ctx.operation.method.upper(), ctx.operation.path)) == name

    matcher.__name__ = f"{role}_{name}"
    return matcher


@pytest.fixture(scope="session")
async def auth_headers(live_server) -> dict[str, dict[str, str]]:
    keys = Keys(live_server.dsn)
    conn = await db.connect(live_server.dsn)
    try:  # ids the admin run is unlikely to revoke at random (it tries small numbers and the schema's bounds)
        await conn.execute("select setval(pg_get_serial_sequence('api_key', 'id'), 777777)")
    finally:
        await conn.close()
    return {
        "anonymous": {},
        "admin": await keys.headers("admin"),
        "commissioner": await keys.headers("commissioner"),
        "provider": await keys.headers("provider", 1),
        "auditor": await keys.headers("auditor"),
    }


schema = schemathesis.pytest.from_fixture("api_schema")
without_coverage = schemathesis.pytest.from_fixture("schema_without_coverage")


def _conformance_test(role: str, name: str):
    operations = (schema if name == "deep" else without_coverage).include(in_group(role, name))

    @operations.parametrize()
    @settings(max_examples=EXAMPLES[name], deadline=None, suppress_health_check=list(HealthCheck))
    def test(case, auth_headers):
        headers = auth_headers[role]
        declared = {p.name for p in case.operation.query}
        for name, value in list((case.query or {}).items()):
            # an unknown parameter generated with an empty list is sent as no parameter at all: an invalid case made
            # of one (`{"": []}`) and a missing Authorization (which `headers` puts back) went out valid, was answered
            # 200, and failed as "schema-violating request accepted". Sent as `name=`, it stays invalid.
            if value == [] and name not in declared:
                case.query[name] = ""
        case.call_and_validate(
            headers=headers or None,
            # with a key: the same request without it must be refused (401)
            additional_checks=[errors_in_plain_words, *([schemathesis.checks.ignored_auth] if headers else [])],
        )

    test.__doc__ = {
        "deep": f"Every operation tested in depth as {role} conforms to the schema, edge cases included.",
        "admitted": f"Every other operation open to {role} conforms to the schema.",
        "refused": f"Every operation closed to {role} refuses it and conforms to the schema.",
    }[name]
    return test


# test_api_in_depth_as_admin, test_api_as_commissioner, test_api_refuses_provider, ...: a test for each role and
# group the role has operations in
_TEST_NAMES = {"deep": "test_api_in_depth_as_", "admitted": "test_api_as_", "refused": "test_api_refuses_"}
for _role in ROLES:
    for _name in sorted({group(_role, op) for op in admitted()}):
        globals()[_TEST_NAMES[_name] + _role] = _conformance_test(_role, _name)


def test_each_role_is_admitted_where_the_api_says():
    """The role map the tests above split operations by is the guards' own: spot checks against what each guard
    says, so a map that admitted everyone (or no one) fails here."""
    roles = admitted()
    assert roles[("GET", "/providers")] == set(ROLES)
    assert roles[("POST", "/keys")] == {"admin"}
    assert roles[("PATCH", "/providers/{provider_id}")] == {"admin", "provider"}
    assert roles[("POST", "/exercises")] == {"admin", "commissioner"}
    assert roles[("GET", "/exercises/{exercise_id}/responses")] == {"admin", "commissioner", "provider", "auditor"}
    assert roles[("GET", "/audit")] == roles[("GET", "/changes")] == {"admin", "auditor"}
    assert roles[("POST", "/registrations")] == set(ROLES) - {
        "auditor"
    }  # anyone may join, but an auditor changes nothing
    assert roles[("POST", "/reconcile")] == set(ROLES)  # queries: a read
    assert roles[("GET", "/providers/{provider_id}/history")] == {"admin", "commissioner", "provider", "auditor"}


def test_every_documented_operation_is_tested_in_depth_once(api_schema):
    """Each operation of the OpenAPI document is in the role map, and exactly one role tests it in depth."""
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert sorted(operations ^ set(admitted())) == []
    for operation in operations:  # an operation no role may use would never be tested in depth
        assert sum(group(role, operation) == "deep" for role in ROLES) == 1, operation


def test_the_schema_covers_every_route(api_schema):
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    for expected in [
        ("GET", "/providers"),
        ("GET", "/providers/{provider_id}"),
        ("PATCH", "/providers/{provider_id}"),
        ("POST", "/registrations"),
        ("GET", "/audit"),
        ("POST", "/keys"),
        ("GET", "/ready"),
    ]:
        assert expected in operations
