"""Schemathesis against our own OpenAPI schema: no 500s, answers match the schema."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bailanys.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_schema(case, transactional_db):
    # transactional: a WSGI call ends with request_finished, which closes the
    # connection; a test wrapped in one transaction would lose it on PostgreSQL.
    # A phone number's validity cannot be written as a JSON Schema, so a
    # schema-valid body may still be refused with a 422 naming the field.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
