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
from marketplace.accounts.auth import Allow
from marketplace.app import create_app
from marketplace.settings import Settings

ROLES = ("anonymous", "admin", "commissioner", "provider")

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
# An operation a role may not use is refused by its guard before anything in the request is read (401 or 403): the
# same checks, without the coverage phase's hundred edge cases an operation, which would only meet the guard.
REFUSED_CONFIG = SchemathesisConfig.from_dict({**CHECKS, "phases": {"coverage": {"enabled": False}}})


def errors_in_plain_words(ctx, response, case):
    """No error shows the decoder's own words (a regular expression, "Expected `int`"): tests/test_messages.py."""
    if response.status_code >= 400 and ("matching regex" in response.text or "Expected `" in response.text):
        raise AssertionError(f"an error in the decoder's words, not plain English: {response.text[:300]}")


@pytest.fixture(scope="session")
def api_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json", config=CONFIG)


@pytest.fixture(scope="session")
def refused_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json", config=REFUSED_CONFIG)


@functools.cache
def admitted() -> dict[tuple[str, str], frozenset[str]]:
    """Each operation (method, OpenAPI path) and the roles its guards admit, read off the app's own route handlers:
    an operation without an `Allow` guard is open to everyone, anonymous callers included."""
    app = create_app(Settings())
    roles: dict[tuple[str, str], frozenset[str]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards = [g for layer in handler.ownership_layers for g in layer.guards or () if isinstance(g, Allow)]
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            admits = frozenset(r for r in ROLES if all(g.admits(r) for g in guards))  # no guard admits anonymous
            for method in handler.http_methods:
                roles[(method.upper(), path)] = admits
    return roles


def may(role: str):
    def matcher(ctx) -> bool:
        return role in admitted()[(ctx.operation.method.upper(), ctx.operation.path)]

    matcher.__name__ = f"{role}_may"
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
    }


schema = schemathesis.pytest.from_fixture("api_schema")
refused = schemathesis.pytest.from_fixture("refused_schema")


def _conformance_test(role: str, operations, max_examples: int):
    @operations.parametrize()
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    def test(case, auth_headers):
        headers = auth_headers[role]
        case.call_and_validate(
            headers=headers or None,
            # with a key: the same request without it must be refused (401)
            additional_checks=[errors_in_plain_words, *([schemathesis.checks.ignored_auth] if headers else [])],
        )

    return test


def _role_tests(role: str):
    """Every operation the role may use, in depth; every other one, as a role that is refused."""
    full = _conformance_test(role, schema.include(may(role)), 15)
    full.__doc__ = f"Every operation open to {role} conforms to the schema."
    refusals = _conformance_test(role, refused.exclude(may(role)), 3)
    refusals.__doc__ = f"Every operation closed to {role} refuses it and conforms to the schema."
    return full, refusals


test_api_as_anonymous, test_api_refuses_anonymous = _role_tests("anonymous")
test_api_as_admin, test_api_refuses_admin = _role_tests("admin")
test_api_as_commissioner, test_api_refuses_commissioner = _role_tests("commissioner")
test_api_as_provider, test_api_refuses_provider = _role_tests("provider")


def test_each_role_is_admitted_where_the_api_says():
    """The role map the tests above split operations by is the guards' own: spot checks against what each guard
    says, so a map that admitted everyone (or no one) fails here."""
    roles = admitted()
    assert roles[("GET", "/providers")] == set(ROLES)
    assert roles[("POST", "/keys")] == {"admin"}
    assert roles[("PATCH", "/providers/{provider_id}")] == {"admin", "provider"}
    assert roles[("POST", "/exercises")] == {"admin", "commissioner"}
    assert roles[("GET", "/exercises/{exercise_id}/responses")] == {"admin", "commissioner", "provider"}


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
