"""Property-based tests over the whole OpenAPI schema, against `marketplace serve` on a loopback port:
every operation, no server errors, and every response conforms to the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig


# A schema-valid request may still be refused, for reasons no schema can state: 412/428 (the
# If-Match version is not the current one, or missing), 422 (a rule across fields, such as more years'
# experience than the organisation has existed), 409 (an identifier registered to someone else), 429
# (the registration rate limit). Everything else schema-valid must be accepted.
CONFIG = SchemathesisConfig.from_dict({
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "428", "429"]}}
})


@pytest.fixture(scope="session")
def api_schema(live_server: str):
    return schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json", config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()


def test_the_schema_covers_every_route(live_server: str, api_schema):
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert ("GET", "/providers") in operations
    assert ("GET", "/providers/{provider_id}") in operations
    assert ("GET", "/ready") in operations
