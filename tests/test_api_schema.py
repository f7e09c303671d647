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


def test_each_schema_name_means_one_schema():
    """Ninja names a component after its class: two classes of one name (a status page's
    answer and the shutdown's status, say) become one component, and one endpoint is then
    documented with the other's shape. Every name must be used by one class only."""
    import collections

    from ninja import Schema

    from bailanys.api import api

    components = api.get_openapi_schema()["components"]["schemas"]
    classes = collections.defaultdict(set)
    pending = list(Schema.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("bailanys.") and cls.__name__ in components:
            classes[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    assert classes, "no schema of ours found"
    assert {name: found for name, found in classes.items() if len(found) > 1} == {}
    token = api.get_openapi_schema()["paths"]["/api/v1/requests/{token}"]["get"]
    shape = token["responses"][200]["content"]["application/json"]["schema"]["$ref"]
    assert "recipient_phone_masked" in components[shape.rsplit("/", 1)[1]]["properties"]
