from __future__ import annotations

import datetime

from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from advisory.history.entries import FieldChange, HistoryEntry, history_entries
from advisory.models import Client, Disagreement
from advisory.records.services import client_save, engagement_save
from advisory.records.versioning import record_save
from tests.factories import ClientFactory, UserFactory


def _count_queries(obj, **kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        history_entries(obj, **kwargs)
    return len(queries)


def test_it_records_who_created_a_client_and_why(advisor, team):
    client = ClientFactory.build(
        name="Globex", sector="Energy", lead_advisor=advisor, team=team, contact_email=""
    )
    client_save(client, by=advisor, reason="Won the tender")

    [entry] = history_entries(client)

    assert entry.action == "Created"
    assert entry.user == advisor
    assert entry.reason == "Won the tender"
    changes = {change.label: (change.old, change.new) for change in entry.changes}
    assert changes["Name"] == ("—", "Globex")
    assert changes["Kind"] == ("—", "Organization")
    assert changes["Lead advisor"] == ("—", "Alice Tester")
    assert changes["Team"] == ("—", "Corporate Advisory")
    assert changes["Archived"] == ("—", "No")
    # Empty values, internal fields and fields kept out of history are not listed.
    assert not {"Contact e-mail", "Client since", "Id", "Version", "Updated at"} & changes.keys()


def test_it_lists_exactly_the_fields_changed_with_display_values(dispute, manager):
    dispute.title = "Stock count skipped again"
    dispute.decision = Disagreement.Decision.PROCEEDED
    record_save(dispute, by=manager, reason="Typo", expected_version=dispute.version)

    entry = history_entries(dispute)[0]

    assert entry.action == "Changed"
    assert entry.user == manager
    assert entry.reason == "Typo"
    assert entry.changes == [
        FieldChange("Short title", "Stock count skipped", "Stock count skipped again"),
        FieldChange("Client's decision", "Pending", "Proceeded against advice"),
    ]


def test_it_shows_dates_and_empty_values_readably(dispute, manager):
    dispute.follow_up_on = datetime.date(2030, 1, 31)
    record_save(dispute, by=manager, expected_version=dispute.version)
    dispute.follow_up_on = None
    record_save(dispute, by=manager, expected_version=dispute.version)

    cleared, set_ = history_entries(dispute)[:2]

    # As every page writes a day: config/formats/en/formats.py.
    assert set_.changes == [FieldChange("Follow-up date", "—", "31 Jan 2030")]
    assert cleared.changes == [FieldChange("Follow-up date", "31 Jan 2030", "—")]
    assert cleared.reason == ""


def test_it_names_the_lead_advisor_rather_than_an_id(acme, manager):
    acme.lead_advisor = manager
    record_save(acme, by=manager, reason="Handover", expected_version=acme.version)

    entry = history_entries(acme)[0]

    assert entry.changes == [FieldChange("Lead advisor", "Alice Tester", "Charlie Tester")]


def test_it_names_the_engagement_members_before_and_after(acme_engagement, advisor, manager):
    engagement_save(acme_engagement, by=advisor, members=[manager, advisor], reason="Staffing")
    engagement_save(
        acme_engagement,
        by=manager,
        members=[manager],
        reason="Alice moved on",
        expected_version=acme_engagement.version,
    )

    # One entry per save, whether it changed fields, members or both.
    removed, added, created = history_entries(acme_engagement)

    assert created.action == "Created"
    assert added.changes == [FieldChange("Members", "—", "Alice Tester, Charlie Tester")]
    assert added.user == advisor
    assert removed.changes == [
        FieldChange("Members", "Alice Tester, Charlie Tester", "Charlie Tester")
    ]
    assert removed.user == manager
    assert removed.reason == "Alice moved on"


def test_a_save_changing_fields_and_members_is_one_entry(acme_engagement, advisor, manager):
    acme_engagement.title = "Annual audit 2027"
    engagement_save(acme_engagement, by=advisor, members=[manager], reason="Rolled over")

    latest, _created = history_entries(acme_engagement)

    assert latest.reason == "Rolled over"
    assert latest.changes == [
        FieldChange("Title", "Annual audit 2026", "Annual audit 2027"),
        FieldChange("Members", "—", "Charlie Tester"),
    ]


def test_it_shows_the_oldest_entry_shown_against_the_one_before_it(acme, advisor):
    for sector in ["Energy", "Retail", "Banking"]:
        acme.sector = sector
        record_save(acme, by=advisor, expected_version=acme.version)

    entries = history_entries(acme, limit=2)

    assert [entry.changes for entry in entries] == [
        [FieldChange("Sector", "Retail", "Banking")],
        [FieldChange("Sector", "Energy", "Retail")],
    ]


def _client_changed(times: int, *, lead: list, team) -> Client:
    client = ClientFactory(lead_advisor=lead[0], team=team)
    for n in range(times):
        client.sector = f"Sector {n}"
        client.lead_advisor = lead[n % len(lead)]
        record_save(client, by=lead[0], reason=f"Change {n}", expected_version=client.version)
    return client


def test_its_query_count_does_not_grow_with_the_changes(advisor, manager, team):
    few = _client_changed(3, lead=[advisor, manager], team=team)
    many = _client_changed(30, lead=[advisor, manager, UserFactory(first_name="Erin")], team=team)

    # The history, then the users and the team named in it.
    assert _count_queries(few) == 3
    assert _count_queries(many) == 3
    # A page without the Created entry names no team.
    assert _count_queries(many, limit=10) == 2


def test_its_query_count_for_members_does_not_grow_with_the_changes(acme_engagement, advisor):
    colleagues = UserFactory.create_batch(5)
    engagement_save(acme_engagement, by=advisor, members=colleagues[:2])
    few = _count_queries(acme_engagement)
    for n in range(30):
        engagement_save(acme_engagement, by=advisor, members=colleagues[n % 5 : n % 5 + 2])

    # The history, its members, then the users and the client named in it.
    assert _count_queries(acme_engagement) == few == 4


def test_the_include_escapes_what_was_recorded(dispute, manager):
    dispute.client_request = "<script>alert('x')</script>\nSecond line"
    record_save(dispute, by=manager, reason="<b>Quoted</b>", expected_version=dispute.version)

    html = render_to_string("advisory/_history.html", {"entries": history_entries(dispute)})

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;<br>Second line" in html
    assert "&lt;b&gt;Quoted&lt;/b&gt;" in html
    assert "Charlie Tester" in html
    assert "system" in html  # the factory-made record has no user


def test_the_include_shows_when_and_the_change_table(dispute):
    entry = HistoryEntry(
        when=datetime.datetime(2026, 3, 4, 9, 5, tzinfo=datetime.UTC),
        user=None,
        action="Changed",
        reason="",
        changes=[FieldChange("Tone", "Tense", "Hostile")],
    )

    html = render_to_string("advisory/_history.html", {"entries": [entry]})

    assert 'datetime="2026-03-04T09:05:00+00:00"' in html
    assert "4 Mar 2026, 09:05" in html
    assert '<th scope="col" class="w-25">Field</th>' in html
    assert "Hostile" in html


def test_the_include_says_when_there_is_nothing(db):
    html = render_to_string("advisory/_history.html", {"entries": []})

    assert "No changes recorded." in html


def test_it_names_an_engagement_without_a_query_for_its_client(dispute):
    [entry] = history_entries(dispute)

    assert FieldChange("Engagement", "—", "Acme Holdings · Annual audit 2026") in entry.changes
    # The history, then the engagement (with its client), the client and the user.
    assert _count_queries(dispute) == 4
