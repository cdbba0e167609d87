"""Migration 0019 (the let-go letter's fields) leaves the log verifying, and a
case approved before it keeps its letter: the first field saved after it
offers the new draft beside the old letter instead of replacing it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from advisory.history import log, verification
from advisory.letgo.services import letgo_update_offboarding
from advisory.models import LetGoCase
from advisory.models.letgo import FEES_DEFAULT, FILES_DEFAULT
from tests.factories import ClientFactory, UserFactory
from tests.records import deadline

LETTER = "Dear Pat,\n\nWe will stop acting for you on 6 January 2027.\n\nYours sincerely"


@pytest.mark.usefixtures("_as_found")
@pytest.mark.django_db(transaction=True)
def test_a_case_logged_before_0019_still_verifies_and_keeps_its_letter():
    # No role: an earlier migrating test may have flushed the groups.
    someone = UserFactory(role="")
    acme = ClientFactory(lead_advisor=someone)
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    state = executor.migrate([("advisory", "0018_disagreement_recent_search_index")])

    # An approved case as 0018 stored it, its history entry logged then.
    apps = state.apps
    values = {
        "client_id": acme.pk,
        "proposed_by_id": someone.pk,
        "proposed_at": timezone.now(),
        "reason": "hostile_conduct",
        "justification": "Threats on every call.",
        "status": "approved",
        "decided_by_id": someone.pk,
        "decided_at": timezone.now(),
        "notice_days": 30,
        "letter": LETTER,
    }
    case = apps.get_model("advisory", "LetGoCase").objects.create(**values)
    entry = apps.get_model("advisory", "HistoricalLetGoCase").objects.create(
        id=case.pk,
        history_date=timezone.now(),
        history_type="+",
        history_change_reason="Approved",
        history_user_id=someone.pk,
        **values,
    )
    log.append(entry)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    out = StringIO()
    call_command("verify_log", stdout=out)
    assert "Log intact" in out.getvalue()
    assert verification.verify().ok
    case = LetGoCase.objects.get(pk=case.pk)
    assert (case.letter, case.letter_draft, case.letter_choice_pending) == (LETTER, "", False)
    assert (case.deadlines, case.files_note, case.fees_note) == ([], FILES_DEFAULT, FEES_DEFAULT)

    # Its letter was never drafted from fields: the first save offers the
    # draft beside it and overwrites nothing.
    admin = UserFactory(role="")
    admin.is_superuser = True  # has every permission, without the role groups
    admin.save()
    saved = letgo_update_offboarding(
        case, by=admin, expected_version=case.version, deadlines=[deadline()]
    )
    assert saved.letter == LETTER
    assert saved.letter_choice_pending
    assert deadline()["description"] in saved.letter_draft
