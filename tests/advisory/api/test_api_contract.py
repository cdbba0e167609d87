"""Contract test: schemathesis reads the live OpenAPI schema, generates requests
for every operation (valid and invalid ones) and checks the answers.

- Valid requests: no server error, and every answer (status, content type,
  body) is one the schema describes.
- Invalid requests (wrong types, out-of-range values, missing fields): no
  server error, and they are refused with a 4xx.

Generated ids are mapped onto real records (some out of the caller's scope),
so the checks reach the record code, not only 404s. Bounded: a few examples
per operation, no shrinking, so it stays fast.

Each operation runs as a plain Hypothesis test over `operation.as_strategy()`
rather than through schemathesis's pytest plugin (`from_fixture` /
`parametrize`), which fails on pytest 9.2 (it sets `Node._nodeid`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken
from accounts.roles import Role
from advisory.models import Comment, LetGoCase
from config.wsgi import application
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

EXAMPLES = 10
POSITIVE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A refusal must be one the schema lists too (an undocumented 400 is a lie).
NEGATIVE = [not_a_server_error, negative_data_rejection, status_code_conformance]
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@contextlib.contextmanager
def connections_kept_open() -> Iterator[None]:
    """Call the WSGI app inside the test's transaction, as Django's test client
    does: a finished request would otherwise close the database connection
    (PostgreSQL) and lose the test's data."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def load_schema() -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"generation": {"no-shrink": True}})
    return schemathesis.openapi.from_wsgi("/api/schema/", application, config=config)


@pytest.fixture
def records(acme, acme_engagement, dispute, manager) -> dict[str, list[int]]:
    """Ids to aim at, per collection: the manager's own and an outsider's."""
    outsider = UserFactory(username="olga", role=Role.ADVISOR)
    globex = ClientFactory(name="Globex", lead_advisor=outsider)
    globex_engagement = EngagementFactory(client=globex)
    Comment.objects.create(disagreement=dispute, author=manager, body="Seen.")
    case = LetGoCase.objects.create(
        client=acme, proposed_by=manager, reason="other", justification="Enough."
    )
    return {
        "clients": [acme.pk, globex.pk],
        "engagements": [acme_engagement.pk, globex_engagement.pk],
        "disagreements": [
            dispute.pk,
            DisagreementFactory(engagement=acme_engagement).pk,
            DisagreementFactory(engagement=globex_engagement).pk,
        ],
        "letgo-cases": [case.pk],
    }


@pytest.fixture
def auth(manager) -> dict[str, str]:
    _, secret = ApiToken.objects.issue(user=manager, name="contract test")
    return {"Authorization": f"Bearer {secret}"}


def aim(case, records: dict[str, list[int]]) -> None:
    """Point a generated non-negative id at one of the real records."""
    value = (case.path_parameters or {}).get("id")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        ids = records[case.operation.path.split("/")[2]]
        case.path_parameters["id"] = ids[value % len(ids)]


def run_every_operation(mode: GenerationMode, checks: list, records: dict, auth: dict) -> int:
    """Run `EXAMPLES` generated requests per operation; fail listing every problem."""
    with connections_kept_open():
        operations = [result.ok() for result in load_schema().get_all_operations()]
        failures = [
            f"{operation.label}:\n{problem}"
            for operation in operations
            if (problem := run_operation(operation, mode, checks, records, auth))
        ]
    assert not failures, "\n\n".join(failures)
    return len(operations)


def run_operation(operation, mode: GenerationMode, checks: list, records: dict, auth: dict):
    """The problem schemathesis found with one operation, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @HYPOTHESIS
    def run(case) -> None:
        aim(case, records)
        case.call_and_validate(headers=auth, checks=checks)

    try:
        run()
    # Schemathesis raises its check failures as a BaseExceptionGroup.
    except (Exception, BaseExceptionGroup) as exc:
        return exc
    return None


def test_valid_requests_get_answers_the_schema_describes(records, auth):
    assert run_every_operation(GenerationMode.POSITIVE, POSITIVE, records, auth) >= 15


def test_invalid_requests_are_refused_without_a_server_error(records, auth):
    run_every_operation(GenerationMode.NEGATIVE, NEGATIVE, records, auth)


# Paging values every list refuses; their answers must be listed in the schema too.
BAD_PAGING = [{"page_size": "-1"}, {"page_size": "many"}, {"page": "0"}, {"page": "99999"}]


def test_bad_paging_gets_an_answer_the_schema_lists(records, auth):
    """Hypothesis may not reach these in a few examples; every paged list gets them."""
    checked, failures = 0, []
    with connections_kept_open():
        for result in load_schema().get_all_operations():
            operation = result.ok()
            names = {parameter.name for parameter in operation.query}
            if operation.method.upper() != "GET" or not {"page", "page_size"} <= names:
                continue
            path = (
                {"id": records[operation.path.split("/")[2]][0]} if "{id}" in operation.path else {}
            )
            for query in BAD_PAGING:
                case = operation.Case(path_parameters=path, query=query)
                checked += 1
                try:
                    case.call_and_validate(
                        headers=auth, checks=[not_a_server_error, status_code_conformance]
                    )
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.label} {query}: {exc}")
    assert checked >= 4 * 5
    assert not failures, "\n".join(failures)


def test_every_operation_lists_the_429_for_too_many_invalid_tokens():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert len(operations) >= 15
    for operation in operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"]
