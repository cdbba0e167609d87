"""The disengagement letter is built from the case's fields (issue 19, point 1).

The notice period (1 to 365 days), the effective date it sets from the approval,
the engagements ending, the deadlines the client must watch, what happens to
files and fees, and the referral: the letter is drafted from them each time
one changes. A letter nobody edited follows the new draft; an edited one is
kept, and the new draft waits beside it until the admin chooses. Completion
checks the deadlines from the rows. Bad input is refused at its field and
changes nothing.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from advisory.letgo.services import (
    PLACEHOLDER,
    AlreadyCompleted,
    clean_deadlines,
    draft_letter,
    letgo_choose_letter,
    letgo_complete,
    letgo_complete_check,
    letgo_decide,
    letgo_propose,
    letgo_update_offboarding,
    letter_problems,
)
from advisory.models import Engagement, LetGoCase
from advisory.models.letgo import FEES_DEFAULT, FILES_DEFAULT, LETTER_LIMIT
from tests.factories import EngagementFactory
from tests.records import deadline, fresh, offboarding_data, tick_all

pytestmark = pytest.mark.django_db

Status = LetGoCase.Status
NOTICE_MESSAGE = "The notice period must be between 1 and 365 days."


def url(name: str, case: LetGoCase) -> str:
    return reverse(name, args=[case.pk])


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def day(date: datetime.date) -> str:
    """A date as the letter writes it."""
    return f"{date:%-d %B %Y}"


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def state(case: LetGoCase) -> tuple:
    """Everything a refused save must leave as it was."""
    case = fresh(case)
    return (
        case.status,
        case.version,
        case.notice_days,
        case.deadlines,
        case.files_note,
        case.fees_note,
        case.referral_note,
        case.letter,
        case.letter_draft,
        case.letter_choice_pending,
        [getattr(case, name) for name in LetGoCase.CHECKLIST],
        case.history.count(),
    )


def update(case: LetGoCase, by, **fields) -> LetGoCase:
    return letgo_update_offboarding(case, by=by, expected_version=fresh(case).version, **fields)


@pytest.fixture
def approved(acme, advisor, admin, dispute) -> LetGoCase:
    case = letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="Three overrides this year, each against written advice.",
        evidence=[dispute],
    )
    return letgo_decide(case, by=admin, approve=True, note="Agreed.")


@pytest.fixture
def edited(approved, admin) -> LetGoCase:
    """The drafted letter, with a sentence the admin added by hand."""
    return update(approved, admin, letter=fresh(approved).letter + "\n\nP.S. Written by hand.")


# --- The letter, from each field --------------------------------------------------


def test_the_approval_drafts_the_letter_and_keeps_the_draft(approved):
    case = fresh(approved)

    assert case.letter == case.letter_draft == draft_letter(case)
    assert not case.letter_choice_pending


def test_the_notice_period_sets_the_effective_date_from_the_approval(approved, admin):
    case = update(approved, admin, notice_days=45)

    approval = timezone.localdate(case.decided_at)
    assert case.letter.startswith(day(approval))
    assert (
        f"Our work for you ends on {day(approval + datetime.timedelta(days=45))}, "
        "45 days from the date of this letter" in case.letter
    )


def test_a_one_day_notice_reads_in_the_singular(approved, admin):
    assert "1 day from the date of this letter" in update(approved, admin, notice_days=1).letter


def test_the_letter_names_each_engagement_ending_with_its_service_line(acme, approved, admin):
    EngagementFactory(client=acme, title="Payroll 2027", service_line="Payroll")
    EngagementFactory(client=acme, title="Audit 2024", status=Engagement.Status.COMPLETED)

    case = update(approved, admin, check_conflicts=True)  # any save drafts it again

    assert "- Annual audit 2026 (Audit)\n- Payroll 2027 (Payroll)\n" in case.letter
    assert "Audit 2024" not in case.letter


def test_each_deadline_is_stated_with_its_date_soonest_first(approved, admin):
    rows = [deadline("Pay the corporation tax", 90), deadline("File the VAT return", 30)]

    case = update(approved, admin, deadlines=rows)

    assert (
        f"- {day(in_days(30))}: File the VAT return\n"
        f"- {day(in_days(90))}: Pay the corporation tax\n" in case.letter
    )
    assert not PLACEHOLDER.search(case.letter)
    # Kept as entered, dates as ISO text: the History tab and the log read them.
    assert case.deadlines == [
        {"description": "Pay the corporation tax", "due_on": in_days(90).isoformat()},
        {"description": "File the VAT return", "due_on": in_days(30).isoformat()},
    ]


def test_without_a_deadline_the_letter_keeps_the_placeholder(approved):
    assert (
        "[list the filing, payment or regulatory deadlines the client must meet, "
        "with their dates]" in fresh(approved).letter
    )


def test_files_and_fees_come_from_their_fields(approved, admin):
    assert FILES_DEFAULT in fresh(approved).letter and FEES_DEFAULT in fresh(approved).letter

    case = update(
        approved,
        admin,
        files_note="Your ledgers go back by courier on 1 March.",
        fees_note="We will refund the £2,400 retainer.",
    )

    assert "Your files and property. Your ledgers go back by courier on 1 March." in case.letter
    assert "Fees. We will refund the £2,400 retainer." in case.letter
    assert FILES_DEFAULT not in case.letter and FEES_DEFAULT not in case.letter


def test_files_or_fees_left_empty_leave_a_placeholder(approved, admin):
    case = update(approved, admin, files_note="", fees_note="")

    assert "[say what happens to the client's files and property]" in case.letter
    assert "[say what happens to fees paid for work not yet done" in case.letter


def test_the_referral_note_reaches_the_letter(approved, admin):
    case = update(approved, admin, referral_note="Harrow & Quint LLP handle groups like yours.")

    assert (
        "appoint another adviser without delay. Harrow & Quint LLP handle groups like yours. "
        "We will cooperate" in case.letter
    )


def test_square_brackets_in_an_engagement_title_are_not_a_placeholder(acme, approved, admin):
    EngagementFactory(client=acme, title="Audit [group]")
    case = tick_all(approved, admin)

    assert "- Audit [group]" in case.letter
    assert letter_problems(case) == []


# No square bracket: the fields refuse them (test_brackets_in_a_field_are_refused).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="[]"),
    max_size=300,
)
LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters="[]"),
    min_size=1,
    max_size=200,
)
DEADLINES = st.lists(
    st.tuples(LINE, st.integers(min_value=0, max_value=5 * 365)), min_size=1, max_size=20
)


@hypothesis_settings(
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    notice_days=st.integers(min_value=1, max_value=365),
    deadlines=DEADLINES,
    files_note=TEXT.filter(str.strip),
    fees_note=TEXT.filter(str.strip),
    referral_note=TEXT,
)
def test_no_placeholder_survives_a_complete_set_of_fields(
    approved, notice_days, deadlines, files_note, fees_note, referral_note
):
    """Whatever the fields hold (within what the form accepts), the letter
    drafted from them has no placeholder, states every deadline, gives the
    effective date and names every engagement ending: nothing for completion
    to refuse in it. (The case is not saved: each example drafts afresh.)"""
    case = fresh(approved)
    case.notice_days = notice_days
    case.deadlines = clean_deadlines(
        [{"description": text, "due_on": in_days(days)} for text, days in deadlines]
    )
    case.files_note, case.fees_note = files_note.strip(), fees_note.strip()
    case.referral_note = referral_note.strip()

    case.letter = draft_letter(case)

    assert PLACEHOLDER.findall(case.letter) == []
    assert letter_problems(case) == []


# --- Drafting again, and the admin's own wording -----------------------------------


def test_a_field_change_redrafts_a_letter_nobody_edited(approved, admin):
    case = update(approved, admin, deadlines=[deadline()])

    assert case.letter == case.letter_draft == draft_letter(case)
    assert deadline()["description"] in case.letter
    assert not case.letter_choice_pending


def test_saving_with_no_field_change_keeps_the_edited_letter_without_asking(edited, admin):
    case = update(edited, admin, check_conflicts=True)

    assert case.letter.endswith("P.S. Written by hand.")
    assert not case.letter_choice_pending


def test_a_field_change_after_an_edit_keeps_the_edit_and_offers_the_new_draft(edited, admin):
    case = update(edited, admin, deadlines=[deadline()])

    assert case.letter == fresh(edited).letter  # nothing overwritten
    assert case.letter_choice_pending
    assert case.letter_draft == draft_letter(case)
    assert deadline()["description"] in case.letter_draft
    assert deadline()["description"] not in case.letter


def test_choosing_the_new_draft_replaces_the_edited_letter(edited, admin):
    pending = update(edited, admin, deadlines=[deadline()])

    case = letgo_choose_letter(pending, by=admin, expected_version=pending.version, keep_draft=True)

    assert case.letter == pending.letter_draft
    assert not case.letter_choice_pending
    entry = case.history.first()
    assert entry.history_user == admin
    assert entry.history_change_reason == (
        "Letter: the new draft from the case replaces the edited letter"
    )


def test_keeping_the_edited_letter_keeps_it_and_the_next_change_asks_again(edited, admin):
    pending = update(edited, admin, deadlines=[deadline()])

    kept = letgo_choose_letter(
        pending, by=admin, expected_version=pending.version, keep_draft=False
    )

    assert kept.letter == pending.letter
    assert not kept.letter_choice_pending
    assert kept.history.first().history_change_reason == (
        "Letter: the edited letter is kept over the new draft from the case"
    )
    again = update(kept, admin, notice_days=60)
    assert again.letter == pending.letter
    assert again.letter_choice_pending


def test_an_edit_back_to_the_draft_ends_the_wait(edited, admin):
    pending = update(edited, admin, deadlines=[deadline()])

    case = update(pending, admin, letter=pending.letter_draft)

    assert not case.letter_choice_pending
    assert case.letter == case.letter_draft


def test_the_letter_is_compared_without_the_browsers_line_ends(approved, admin):
    """A textarea posts "\\r\\n": the drafted letter sent back unchanged is not an edit."""
    as_posted = fresh(approved).letter.replace("\n", "\r\n") + "\r\n"

    case = update(approved, admin, letter=as_posted, deadlines=[deadline()])

    assert not case.letter_choice_pending
    assert deadline()["description"] in case.letter


def test_choosing_when_no_draft_waits_is_refused(approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError, match="No newer draft is waiting"):
        letgo_choose_letter(approved, by=admin, expected_version=approved.version, keep_draft=True)

    assert state(approved) == before


def test_every_change_is_in_the_cases_history_with_who_and_why(client, admin, advisor, approved):
    update(approved, admin, deadlines=[deadline("File the VAT return", 30)], notice_days=60)
    client.force_login(advisor)  # the proposer reads it too

    response = client.get(url("letgo-history", approved))

    assert response.status_code == 200
    entry = response.context["entries"][0]
    assert (entry.user, entry.reason) == (admin, "Offboarding updated")
    changes = {change.label: change for change in entry.changes}
    assert changes["Deadlines the client must watch"].old == "—"
    assert changes["Deadlines the client must watch"].new == (
        f"File the VAT return: {in_days(30):%-d %b %Y}"
    )
    assert (changes["Notice period (days)"].old, changes["Notice period (days)"].new) == (
        "30",
        "60",
    )
    assert "Disengagement letter" in changes
    assert "File the VAT return" in response.content.decode()


# --- Completion checks the deadlines from the rows ---------------------------------


def refusal(case: LetGoCase, admin) -> str:
    case = fresh(case)
    with pytest.raises(ValidationError) as raised:
        letgo_complete_check(case, by=admin, expected_version=case.version)
    return " ".join(raised.value.messages)


def test_completion_is_refused_without_a_deadline_row(approved, admin):
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    case = update(approved, admin, **ticks)

    message = refusal(case, admin)

    assert "it states no deadline the client must watch" in message
    assert "Complete the offboarding checklist" not in message


def test_completion_is_refused_for_a_deadline_row_without_a_date(approved, admin):
    """The form refuses such a row; one stored some other way is still caught."""
    case = tick_all(approved, admin)
    LetGoCase.objects.filter(pk=case.pk).update(
        deadlines=[{"description": "File the VAT return", "due_on": ""}]
    )

    assert "deadline 1: Give the date of this deadline" in refusal(case, admin)


def test_completion_is_refused_for_a_deadline_that_has_passed_since(approved, admin):
    case = tick_all(approved, admin)
    passed = in_days(-1)
    LetGoCase.objects.filter(pk=case.pk).update(
        deadlines=[{"description": "File the VAT return", "due_on": passed.isoformat()}]
    )

    assert f"deadline 1: This date ({passed:%-d %b %Y}) has passed" in refusal(case, admin)


def test_completion_is_refused_when_the_edited_letter_leaves_out_a_deadline(approved, admin):
    case = tick_all(approved, admin)
    row = deadline()
    line = f"- {day(row['due_on'])}: {row['description']}\n"
    case = update(case, admin, letter=fresh(case).letter.replace(line, ""))

    assert refusal(case, admin) == (
        "The letter is not ready: it does not state the deadline "
        f"“{row['description']}” on {day(row['due_on'])}."
    )


def test_completion_is_refused_while_a_new_draft_waits_for_the_choice(approved, admin):
    case = tick_all(approved, admin)
    case = update(case, admin, letter=fresh(case).letter + "\n\nP.S. By hand.")
    case = update(case, admin, notice_days=60)

    assert "a newer draft from the case's fields waits beside your edited letter" in (
        refusal(case, admin)
    )


def test_a_complete_case_completes_and_a_second_admin_is_told(approved, admin, other_admin):
    case = tick_all(approved, admin)
    letgo_complete(case, by=admin, expected_version=case.version)
    before = state(case)

    with pytest.raises(AlreadyCompleted):
        letgo_complete(fresh(case), by=other_admin, expected_version=case.version)

    assert state(case) == before


@pytest.fixture
def other_admin(db):
    from accounts.roles import Role
    from tests.factories import UserFactory

    return UserFactory(username="erin", first_name="Erin", role=Role.ADMIN)


# --- Bad input: a clear message at the field, nothing changed ----------------------


@pytest.mark.parametrize("days", [0, 366, 100_000, -5])
def test_a_notice_period_outside_1_to_365_days_is_refused(days, approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        update(approved, admin, notice_days=days)

    assert raised.value.message_dict == {"notice_days": [NOTICE_MESSAGE]}
    assert state(approved) == before


@pytest.mark.parametrize("letter", ["", "  \r\n  "])
def test_an_empty_letter_is_refused_when_saved(letter, approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        update(approved, admin, letter=letter)

    assert raised.value.message_dict["letter"] == [
        "The letter is empty: write it, or draft it again from the case."
    ]
    assert state(approved) == before


def test_a_letter_over_20000_characters_is_refused(approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        update(approved, admin, letter="x" * (LETTER_LIMIT + 1))

    assert raised.value.message_dict["letter"] == [
        "The letter is 20,001 characters long; keep it to 20,000."
    ]
    assert state(approved) == before
    assert len(update(approved, admin, letter="x" * LETTER_LIMIT).letter) == LETTER_LIMIT


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"description": "File the VAT return", "due_on": ""}, "Give the date of this deadline."),
        ({"description": "", "due_on": "2099-01-31"}, "Say what the client must do by this date."),
        (
            {"description": "File the VAT return", "due_on": "2020-01-31"},
            "This date (31 Jan 2020) has passed",
        ),
        (
            {"description": "File [which?] return", "due_on": "2099-01-31"},
            "Square brackets mark text still to be filled in",
        ),
    ],
    ids=["no date", "no description", "in the past", "brackets"],
)
def test_a_bad_deadline_row_is_refused(row, message, approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        update(approved, admin, deadlines=[deadline(), row])

    [error] = raised.value.message_dict["deadlines"]
    assert error.startswith(f"Deadline 2: {message}")
    assert state(approved) == before


@pytest.mark.parametrize("field", ["files_note", "fees_note", "referral_note"])
def test_brackets_in_a_field_are_refused(field, approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        update(approved, admin, **{field: "See [attachment]"})

    assert raised.value.message_dict == {
        field: ["Square brackets mark text still to be filled in: write this without them."]
    }
    assert state(approved) == before


# --- The case page: the form, its errors, the choice -------------------------------


def post_offboarding(client, case, **overrides):
    return client.post(url("letgo-offboarding", case), offboarding_data(case, **overrides))


def summary_links(page: str) -> list[str]:
    """The error summary's links, as "#id: text"."""
    block = page.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    return [
        f"#{target}: {text}"
        for target, text in re.findall(r'<a href="#([^"]+)" class="alert-link">([^<]+)</a>', block)
    ]


def test_the_page_shows_the_fields_the_effective_date_and_the_engagements(client, admin, approved):
    client.force_login(admin)

    page = client.get(url("letgo-detail", approved)).content.decode()

    effective = timezone.localdate(fresh(approved).decided_at) + datetime.timedelta(days=30)
    assert f"{effective:%-d %b %Y}: 30 days after the approval" in page
    assert "Annual audit 2026" in page.split('id="engagements-ending"')[1]
    for label in (
        'for="id_notice_days"',
        'for="id_deadlines-0-description"',
        'for="id_deadlines-0-due_on"',
        'for="id_files_note"',
        'for="id_fees_note"',
        'for="id_referral_note"',
        'for="id_letter"',
    ):
        assert label in page
    assert "<legend" in page and "Deadline 1</legend>" in page
    assert url("letgo-history", approved) in page


def test_the_form_saves_deadlines_and_redrafts_the_letter(client, admin, approved):
    client.force_login(admin)

    response = post_offboarding(
        client,
        approved,
        deadlines=[deadline("File the VAT return", 30)],
        notice_days="60",
        fees_note="We will send a final invoice.",
    )

    assert response.status_code == 302
    assert response.url == url("letgo-detail", approved) + "#offboarding"
    assert shown_messages(response) == ["Offboarding saved."]
    case = fresh(approved)
    assert case.deadlines == [
        {"description": "File the VAT return", "due_on": in_days(30).isoformat()}
    ]
    assert f"- {day(in_days(30))}: File the VAT return" in case.letter
    assert "Fees. We will send a final invoice." in case.letter
    assert "60 days from the date of this letter" in case.letter
    assert not case.letter_choice_pending


def test_a_row_can_be_removed_and_blank_rows_add_nothing(client, admin, approved):
    update(approved, admin, deadlines=[deadline("First", 10), deadline("Second", 20)])
    client.force_login(admin)
    case = fresh(approved)
    rows = [{**case.deadlines[0], "DELETE": True}, case.deadlines[1]]

    response = post_offboarding(client, case, deadlines=rows)

    assert response.status_code == 302
    assert [row["description"] for row in fresh(approved).deadlines] == ["Second"]
    assert "First" not in fresh(approved).letter


@pytest.mark.parametrize("notice", ["0", "366", "100000", "thirty"])
def test_a_bad_notice_period_is_shown_at_its_field_and_saves_nothing(
    notice, client, admin, approved
):
    client.force_login(admin)
    before = state(approved)

    response = post_offboarding(client, approved, notice_days=notice)

    assert response.status_code == 400
    errors = response.context["offboarding_form"].errors["notice_days"]
    assert any(NOTICE_MESSAGE in error for error in errors)
    page = response.content.decode()
    assert summary_links(page)[0].startswith("#id_notice_days: Notice period (days): ")
    field = page.split('id="id_notice_days"')[0].rsplit("<input", 1)[1]
    assert 'aria-invalid="true"' in field and "id_notice_days_error" in field
    assert state(approved) == before


def test_bad_deadline_rows_are_shown_at_their_fields_and_save_nothing(client, admin, approved):
    client.force_login(admin)
    before = state(approved)

    response = post_offboarding(
        client,
        approved,
        deadlines=[
            {"description": "File the VAT return", "due_on": ""},
            {"description": "", "due_on": in_days(5)},
            {"description": "Pay the tax", "due_on": in_days(-3)},
        ],
    )

    assert response.status_code == 400
    forms = response.context["deadline_forms"].forms
    assert forms[0].errors == {"due_on": ["Give the date of this deadline."]}
    assert forms[1].errors == {"description": ["Say what the client must do by this date."]}
    assert forms[2].errors["due_on"][0].startswith(f"This date ({in_days(-3):%-d %b %Y}) has")
    links = summary_links(response.content.decode())
    assert "#id_deadlines-0-due_on: Deadline 1, by: Give the date of this deadline." in links
    assert (
        "#id_deadlines-1-description: Deadline 2, what the client must do: "
        "Say what the client must do by this date."
    ) in links
    assert any(link.startswith("#id_deadlines-2-due_on: Deadline 3, by: ") for link in links)
    assert state(approved) == before


@pytest.mark.parametrize(
    ("letter", "message"),
    [
        ("   ", "The letter is empty: write it, or draft it again from the case."),
        ("x" * 20_001, "The letter is 20,001 characters long; keep it to 20,000."),
    ],
    ids=["empty", "too long"],
)
def test_a_bad_letter_is_shown_at_its_field_and_saves_nothing(
    letter, message, client, admin, approved
):
    client.force_login(admin)
    before = state(approved)

    response = post_offboarding(client, approved, letter=letter, check_conflicts="on")

    assert response.status_code == 400
    assert response.context["offboarding_form"].errors["letter"] == [message]
    assert f"#id_letter: Disengagement letter: {message}" in summary_links(
        response.content.decode()
    )
    assert state(approved) == before


def test_the_letter_field_has_no_maxlength_that_would_cut_a_paste_silently(client, admin, approved):
    client.force_login(admin)

    page = client.get(url("letgo-detail", approved)).content.decode()

    textarea = page.split('id="id_letter"')[0].rsplit("<textarea", 1)[1]
    assert "maxlength" not in textarea


def test_the_page_shows_both_letters_and_the_choice(client, admin, edited):
    pending = update(edited, admin, deadlines=[deadline("File the VAT return", 30)])
    client.force_login(admin)

    page = client.get(url("letgo-detail", pending)).content.decode()

    choice = page.split('id="letter-choice"')[1].split("</section>")[0]
    assert "Your edited letter (now in force)" in choice
    assert "P.S. Written by hand." in choice
    assert "New draft from the case's fields" in choice
    assert (
        '<mark><span class="visually-hidden">Differs from the draft: </span>P.S. Written by hand.'
        in choice
    )
    assert "Differs from your letter: </span>Deadlines you must watch." in choice
    assert "File the VAT return" in choice
    assert 'name="keep" value="draft"' in choice and 'name="keep" value="edited"' in choice


def test_editing_and_changing_a_field_in_one_save_sends_the_admin_to_the_choice(
    client, admin, approved
):
    client.force_login(admin)

    response = post_offboarding(
        client,
        approved,
        letter=fresh(approved).letter + "\n\nP.S. By hand.",
        deadlines=[deadline()],
    )

    assert response.status_code == 302
    assert response.url == url("letgo-detail", approved) + "#letter-choice"
    assert "choose which one to keep" in shown_messages(response)[0]
    assert fresh(approved).letter.endswith("P.S. By hand.")


@pytest.mark.parametrize(("keep", "draft"), [("draft", True), ("edited", False)])
def test_the_choice_through_the_page(keep, draft, client, admin, edited):
    pending = update(edited, admin, deadlines=[deadline()])
    client.force_login(admin)

    response = client.post(
        url("letgo-letter-choice", pending), {"version": pending.version, "keep": keep}
    )

    assert response.status_code == 302
    case = fresh(pending)
    assert case.letter == (pending.letter_draft if draft else pending.letter)
    assert not case.letter_choice_pending


@pytest.mark.parametrize(
    "data",
    [{"keep": "nonsense"}, {"keep": "draft", "version": "x"}, {}],
    ids=["unknown choice", "bad version", "nothing"],
)
def test_a_bad_choice_saves_nothing(data, client, admin, edited):
    pending = update(edited, admin, deadlines=[deadline()])
    client.force_login(admin)
    before = state(pending)
    data.setdefault("version", pending.version)

    response = client.post(url("letgo-letter-choice", pending), data)

    assert response.status_code == 302
    assert shown_messages(response) == [
        "Choose which letter to keep: the new draft or your edited one."
    ]
    assert state(pending) == before


def test_a_stale_choice_saves_nothing(client, admin, edited):
    pending = update(edited, admin, deadlines=[deadline()])
    stale = pending.version
    update(pending, admin, check_conflicts=True)
    client.force_login(admin)
    before = state(pending)

    response = client.post(url("letgo-letter-choice", pending), {"version": stale, "keep": "draft"})

    assert shown_messages(response) == [
        "The case changed while you were reading it; check it again."
    ]
    assert state(pending) == before


@pytest.mark.parametrize("role", ["advisor", "manager", "other_advisor"])
def test_the_choice_is_403_below_admin(role, request, client, admin, edited):
    pending = update(edited, admin, deadlines=[deadline()])
    client.force_login(request.getfixturevalue(role))
    before = state(pending)

    response = client.post(
        url("letgo-letter-choice", pending), {"version": pending.version, "keep": "draft"}
    )

    assert response.status_code == 403
    assert state(pending) == before


def test_the_choice_is_404_for_an_unknown_case_and_405_for_get(client, admin, approved):
    client.force_login(admin)

    missing = reverse("letgo-letter-choice", args=[approved.pk + 1000])
    assert client.post(missing, {"version": 1, "keep": "draft"}).status_code == 404
    assert client.get(url("letgo-letter-choice", approved)).status_code == 405


def test_the_history_tab_is_404_for_an_outsider(client, other_advisor, approved):
    client.force_login(other_advisor)

    assert client.get(url("letgo-history", approved)).status_code == 404


def test_saving_bad_deadlines_is_403_below_admin(client, manager, approved):
    client.force_login(manager)
    before = state(approved)

    response = post_offboarding(client, approved, deadlines=[deadline()])

    assert response.status_code == 403
    assert state(approved) == before


def test_more_than_20_deadlines_are_refused_saying_so(client, admin, approved):
    client.force_login(admin)
    before = state(approved)
    rows = [deadline(f"Deadline number {n}", 10 + n) for n in range(21)]

    response = post_offboarding(client, approved, deadlines=rows)

    assert response.status_code == 400
    assert response.context["deadline_forms"].non_form_errors() == [
        "State at most 20 deadlines: the letter lists each one."
    ]
    assert state(approved) == before


def test_a_form_without_its_deadline_rows_says_to_reload(client, admin, approved):
    client.force_login(admin)
    before = state(approved)
    data = offboarding_data(approved)
    del data["deadlines-TOTAL_FORMS"]

    response = client.post(url("letgo-offboarding", approved), data)

    assert response.status_code == 400
    assert "reload the page and try again" in response.content.decode()
    assert state(approved) == before


def test_the_completion_summary_lists_the_deadlines_the_letter_states(client, admin, approved):
    case = tick_all(approved, admin)
    client.force_login(admin)

    response = client.post(url("letgo-complete", case), {"version": fresh(case).version})

    assert response.status_code == 200
    row = deadline()
    assert f"<li>{row['due_on']:%-d %b %Y}: {row['description']}</li>" in response.content.decode()
    assert fresh(case).status == Status.APPROVED


def test_the_api_gives_the_letters_fields(client, admin, approved):
    update(approved, admin, deadlines=[deadline("File the VAT return", 30)], fees_note="Refund.")
    client.force_login(admin)

    case = client.get(f"/api/letgo-cases/{approved.pk}/").json()

    assert case["deadlines"] == [
        {"description": "File the VAT return", "due_on": in_days(30).isoformat()}
    ]
    assert (case["fees_note"], case["files_note"]) == ("Refund.", FILES_DEFAULT)
    assert case["letter_choice_pending"] is False
