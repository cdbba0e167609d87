"""Bad input, tried on the API: what the schemathesis contract test
(tests/advisory/api/test_api_contract.py) doesn't generate.

Schemathesis sends values of the wrong type and out of the schema's range.
Here, values of the right type that are hostile anyway go into every writable
text, date and number field (NUL bytes, 100k characters, markup, dates at the
ends of the calendar, 2**63, 1e309), and bodies no JSON client sends (invalid
UTF-8, NaN and Infinity, deep nesting, form data, the wrong content type).
Never a server error; a refused request stores nothing; an accepted one
stores the text as sent (trimmed, as DRF's CharField does) and answers JSON.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client as Browser
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import ApiToken
from advisory.models import Client, Comment, Disagreement, Engagement
from tests.security.fuzzing import BY_KIND, FUZZ, row_counts
from tests.security.test_fuzz import YESTERDAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager) -> Browser:
    _, secret = ApiToken.objects.issue(user=manager, name="fuzz")
    return Browser(headers={"Authorization": f"Bearer {secret}"})


def endpoints(acme, engagement, dispute, advisor) -> list[tuple]:
    """(method, url, valid body, {field: kind}, model written, text fields stored)."""
    return [
        (
            "post",
            "/api/clients/",
            {
                "name": "Fuzz API Ltd",
                "kind": "organization",
                "sector": "Retail",
                "contact_email": "a@example.com",
                "lead_advisor": advisor.pk,
                "team": acme.team_id,
                "client_since": "2020-01-01",
                "notes": "n",
            },
            {
                "name": "text",
                "sector": "text",
                "contact_name": "text",
                "contact_email": "text",
                "contact_phone": "text",
                "client_since": "date",
                "notes": "text",
                "lead_advisor": "number",
                "team": "number",
            },
            Client,
            ["sector", "contact_name", "contact_phone", "notes"],
        ),
        (
            "patch",
            f"/api/clients/{acme.pk}/",
            {"version": acme.version, "notes": "n"},
            {"version": "number", "notes": "text", "change_reason": "text", "client_since": "date"},
            Client,
            ["notes"],
        ),
        (
            "post",
            "/api/engagements/",
            {
                "client": acme.pk,
                "title": "Fuzz API job",
                "lead_advisor": advisor.pk,
                "status": "active",
                "fee": "10.00",
                "start_date": "2024-01-01",
            },
            {
                "title": "text",
                "service_line": "text",
                "description": "text",
                "fee": "number",
                "start_date": "date",
                "end_date": "date",
                "members": "number",
            },
            Engagement,
            ["title", "service_line", "description"],
        ),
        (
            "post",
            "/api/disagreements/",
            {
                "engagement": engagement.pk,
                "occurred_on": YESTERDAY,
                "title": "Fuzz API dispute",
                "topic": "scope",
                "client_request": "r",
                "recommendation": "c",
                "rationale": "w",
                "severity": "low",
                "tone": "tense",
            },
            {
                "title": "text",
                "client_request": "text",
                "recommendation": "text",
                "rationale": "text",
                "occurred_on": "date",
                "follow_up_on": "date",
                "engagement": "number",
            },
            Disagreement,
            ["title", "client_request", "recommendation", "rationale"],
        ),
        (
            "post",
            f"/api/disagreements/{dispute.pk}/decision/",
            {
                "version": dispute.version,
                "decision": "proceeded",
                "decided_on": YESTERDAY,
                "risk_acknowledged": True,
                "acknowledged_on": YESTERDAY,
                "acknowledgment_method": "email",
                "client_words": "I accept the risk.",
            },
            {
                "version": "number",
                "decided_on": "date",
                "acknowledged_on": "date",
                "client_words": "text",
            },
            Disagreement,
            ["client_words"],
        ),
        (
            "post",
            f"/api/disagreements/{dispute.pk}/comments/",
            {"body": "Seen."},
            {"body": "text"},
            Comment,
            ["body"],
        ),
    ]


def as_json_value(kind: str, value: str):
    """Numbers go as JSON numbers where they are numbers, else as strings."""
    if kind == "number":
        try:
            return int(value)
        except ValueError:
            return value
    return value


@pytest.mark.parametrize("index", range(6))
def test_hostile_values_in_every_api_write(index, api, acme, acme_engagement, dispute, advisor):
    method, url, valid, fields, model, texts = endpoints(acme, acme_engagement, dispute, advisor)[
        index
    ]
    send = getattr(api, method)
    with transaction.atomic():
        accepted = send(url, valid, content_type="application/json")
        assert accepted.status_code in (200, 201), accepted.content[:300]
        transaction.set_rollback(True)

    @given(data=st.data())
    @FUZZ
    def run(data) -> None:
        names = data.draw(st.sets(st.sampled_from(sorted(fields)), min_size=1, max_size=3))
        spoiled = {n: as_json_value(fields[n], data.draw(BY_KIND[fields[n]])) for n in names}
        before = row_counts()
        with transaction.atomic():
            response = send(url, {**valid, **spoiled}, content_type="application/json")
            status = response.status_code
            assert status < 500, (status, spoiled)
            assert response["Content-Type"].startswith("application/json"), spoiled
            if status >= 400:
                assert row_counts() == before, spoiled
                assert response.json(), spoiled  # says what is wrong
            else:
                record = model.objects.get(pk=response.json()["id"])
                for name in texts:
                    if isinstance(spoiled.get(name), str):
                        assert getattr(record, name) == spoiled[name].strip(), name
            transaction.set_rollback(True)

    run()


RAW_BODIES = [
    (b'{"name": "\xff\xfe bad utf-8"}', "application/json"),
    (b'{"name": "\\ud800 lone surrogate"}', "application/json"),
    (b'{"name": "nul \\u0000 byte"}', "application/json"),
    (b'{"fee": 1e309, "title": "x"}', "application/json"),
    (b'{"fee": NaN, "title": "x"}', "application/json"),
    (b'{"fee": Infinity, "title": "x"}', "application/json"),
    (b'{"fee": 99999999999999999999999999999999999999}', "application/json"),
    (b'{"version": 9223372036854775808}', "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b'{"name": "' + b"x" * 200_000 + b'"}', "application/json"),
    (b"", "application/json"),
    (b"null", "application/json"),
    (b"[]", "application/json"),
    (b'"a string"', "application/json"),
    (b"name=Globex&kind=organization", "application/x-www-form-urlencoded"),
    (b"--b\r\nContent-Disposition: form-data; name=name\r\n\r\nG\r\n--b--", "multipart/form-data"),
    (b"<client><name>G</name></client>", "application/xml"),
    (b'{"name": "G"}', "text/plain"),
    ('{"name": "G"}'.encode("utf-16"), "application/json"),
]
URLS = [
    ("post", "/api/clients/"),
    ("post", "/api/engagements/"),
    ("post", "/api/disagreements/"),
    ("patch", "/api/clients/{acme}/"),
    ("patch", "/api/engagements/{engagement}/"),
    ("patch", "/api/disagreements/{dispute}/"),
    ("post", "/api/disagreements/{dispute}/decision/"),
    ("post", "/api/disagreements/{dispute}/outcome/"),
    ("post", "/api/disagreements/{dispute}/comments/"),
]


@pytest.mark.parametrize("method, url", URLS)
def test_bodies_no_json_client_sends(method, url, api, acme, acme_engagement, dispute):
    url = url.format(acme=acme.pk, engagement=acme_engagement.pk, dispute=dispute.pk)
    send = getattr(api, method)
    for body, content_type in RAW_BODIES:
        before = row_counts()
        with transaction.atomic():
            response = send(url, body, content_type=content_type)
            assert 400 <= response.status_code < 500, (response.status_code, body[:80])
            assert row_counts() == before, body[:80]
            assert json.loads(response.content), body[:80]
            transaction.set_rollback(True)


@pytest.mark.parametrize(
    "query",
    [
        {"search": "nul\x00byte"},
        {"search": "x" * 100_000},
        {"page": str(2**63)},
        {"page": "-1"},
        {"page_size": str(2**63)},
        {"ordering": "-\x00"},
        {"occurred_after": "0001-01-01", "occurred_before": "9999-12-31"},
        {"occurred_after": "2026-02-30"},
        {"client": str(2**63)},
        {"engagement": "-1"},
        {"severity": "<script>alert(7331)</script>"},
    ],
)
@pytest.mark.parametrize("url", ["/api/clients/", "/api/engagements/", "/api/disagreements/"])
def test_hostile_query_strings(url, query, api, dispute):
    response = api.get(url, query)
    assert response.status_code in (200, 400, 404), (response.status_code, query)
    assert response["Content-Type"].startswith("application/json")
