"""The search page (/search/?q=…): clients, engagements and disagreements in the
user's scope, ranked, highlighted, escaped; bad input gets a message, never a 500.

Runs on SQLite (plain matching) and, with DATABASE_URL, on PostgreSQL (full-text
search over the GIN indexes): the same expectations hold for both.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from advisory.models import Client, Comment
from advisory.records import search
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db

URL = reverse("search")
XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


def _section(response, kind: str):
    return next(s for s in response.context["sections"] if s.kind == kind)


def _found(response, kind: str) -> list[str]:
    """The titles listed under `kind`, without the highlighting."""
    return [
        str(row.title).replace("<mark>", "").replace("</mark>", "")
        for row in _section(response, kind).rows
    ]


def _search(client, q: str, **params):
    return client.get(URL, {"q": q, **params})


# --- Finding -------------------------------------------------------------------


def test_it_finds_clients_engagements_and_disagreements(client, advisor, dispute):
    client.force_login(advisor)

    response = _search(client, "acme")
    assert response.status_code == 200
    assert _found(response, "client") == ["Acme Holdings"]

    response = _search(client, "annual audit")
    assert _found(response, "engagement") == ["Annual audit 2026"]
    assert _section(response, "engagement").rows[0].context == "Engagement · Acme Holdings"

    response = _search(client, "stock count")
    assert _found(response, "disagreement") == ["Stock count skipped"]
    row = _section(response, "disagreement").rows[0]
    assert row.url == dispute.get_absolute_url()
    assert row.context == "Acme Holdings · Annual audit 2026"
    page = response.content.decode()
    assert "<mark>Stock</mark> <mark>count</mark> skipped" in page
    assert f'href="{dispute.get_absolute_url()}"' in page


def test_it_searches_the_request_the_recommendation_and_the_outcome(
    client, advisor, acme_engagement
):
    DisagreementFactory(engagement=acme_engagement, title="One", client_request="Use escrow.")
    DisagreementFactory(engagement=acme_engagement, title="Two", recommendation="No barter.")
    DisagreementFactory(
        engagement=acme_engagement, title="Three", outcome="The regulator fined them."
    )
    client.force_login(advisor)

    assert _found(_search(client, "escrow"), "disagreement") == ["One"]
    assert _found(_search(client, "barter"), "disagreement") == ["Two"]
    assert _found(_search(client, "regulator"), "disagreement") == ["Three"]
    snippet = str(_section(_search(client, "regulator"), "disagreement").rows[0].snippet)
    assert "<mark>regulator</mark>" in snippet


def test_a_word_finds_longer_words_that_start_with_it(client, advisor, team):
    ClientFactory(name="Harbour Logistics Ltd", lead_advisor=advisor, team=team)
    client.force_login(advisor)

    assert _found(_search(client, "harb"), "client") == ["Harbour Logistics Ltd"]
    assert _found(_search(client, "HARBOUR logist"), "client") == ["Harbour Logistics Ltd"]


def test_or_finds_either_word_and_a_minus_leaves_a_word_out(client, advisor, acme_engagement):
    DisagreementFactory(engagement=acme_engagement, title="Escrow for the deposit")
    DisagreementFactory(engagement=acme_engagement, title="Escrow for the fees")
    DisagreementFactory(engagement=acme_engagement, title="Barter instead of fees")
    client.force_login(advisor)

    assert sorted(_found(_search(client, "escrow or barter"), "disagreement")) == [
        "Barter instead of fees",
        "Escrow for the deposit",
        "Escrow for the fees",
    ]
    assert _found(_search(client, "escrow -deposit"), "disagreement") == ["Escrow for the fees"]


def test_a_matching_comment_finds_its_disagreement(client, advisor, manager, dispute):
    Comment.objects.create(disagreement=dispute, author=manager, body="Ask about the forklifts.")
    client.force_login(advisor)

    response = _search(client, "forklifts")

    row = _section(response, "disagreement").rows[0]
    assert _found(response, "disagreement") == ["Stock count skipped"]
    assert row.url == dispute.get_absolute_url()
    assert row.comment == "In a comment by Charlie Tester"
    assert "<mark>forklifts</mark>" in str(row.snippet)


def test_a_disagreement_found_by_its_text_and_a_comment_is_listed_once(
    client, advisor, manager, dispute
):
    Comment.objects.create(disagreement=dispute, author=manager, body="The stock count matters.")
    client.force_login(advisor)

    assert _found(_search(client, "stock count"), "disagreement") == ["Stock count skipped"]


def test_archived_and_let_go_records_are_found_and_labelled(client, advisor, acme, dispute):
    dispute.is_archived = True
    dispute.save()
    gone = ClientFactory(
        name="Acme Offshore", lead_advisor=advisor, team=acme.team, status=Client.Status.LET_GO
    )
    client.force_login(advisor)

    response = _search(client, "acme")
    rows = {row.url: row.labels for row in _section(response, "client").rows}
    assert rows == {acme.get_absolute_url(): [], gone.get_absolute_url(): ["Let go"]}
    row = _section(_search(client, "stock count"), "disagreement").rows[0]
    assert row.labels == ["Archived"]
    assert '<span class="badge text-bg-secondary">Archived</span>' in (
        _search(client, "stock count").content.decode()
    )


def test_nothing_found_says_so(client, advisor, dispute):
    client.force_login(advisor)

    response = _search(client, "zeppelin")

    assert response.status_code == 200
    assert "Nothing in your clients, engagements or disagreements matches “zeppelin”." in (
        response.content.decode()
    )


def test_the_page_without_a_query_shows_the_search_box(client, advisor):
    client.force_login(advisor)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="search-q"' in page
    assert response.context["sections"] is None


def test_every_page_has_the_search_box_in_the_navigation(client, advisor):
    client.force_login(advisor)

    page = client.get(reverse("dashboard")).content.decode()

    assert f'action="{URL}"' in page
    assert 'id="nav-search"' in page
    assert 'aria-keyshortcuts="/"' in page


# --- Ranking -------------------------------------------------------------------


def test_a_title_match_ranks_above_a_match_in_the_text(client, advisor, acme_engagement):
    # The text match is the more recent, so only the ranking puts the title first.
    DisagreementFactory(engagement=acme_engagement, title="Escrow refused")
    DisagreementFactory(
        engagement=acme_engagement, title="Deposit held back", recommendation="Use an escrow."
    )
    DisagreementFactory(
        engagement=acme_engagement, title="Payment late", outcome="Paid through escrow in the end."
    )
    client.force_login(advisor)

    assert _found(_search(client, "escrow"), "disagreement") == [
        "Escrow refused",
        "Deposit held back",
        "Payment late",
    ]


def test_clients_are_ranked_by_where_the_word_appears(client, advisor, team):
    ClientFactory(
        name="Globex", sector="Energy", notes="Harbour side office.", lead_advisor=advisor
    )
    ClientFactory(name="Initech", sector="Harbour services", lead_advisor=advisor)
    ClientFactory(name="Harbour Logistics Ltd", lead_advisor=advisor)
    client.force_login(advisor)

    assert _found(_search(client, "harbour"), "client") == [
        "Harbour Logistics Ltd",
        "Initech",
        "Globex",
    ]


# --- Escaping --------------------------------------------------------------------


def test_highlighted_text_is_escaped(client, advisor, acme_engagement):
    DisagreementFactory(
        engagement=acme_engagement,
        title=f"Escrow {XSS}",
        client_request='Escrow <img src=x onerror="alert(1)"> please',
    )
    ClientFactory(name=f"Escrow {XSS} Ltd", lead_advisor=advisor)
    client.force_login(advisor)

    response = _search(client, "escrow")

    page = response.content.decode()
    assert XSS not in page
    assert "<img src=x" not in page
    assert f"<mark>Escrow</mark> {XSS_ESCAPED}" in page
    # Escaped (plain matching), or left out of the snippet (PostgreSQL's
    # headline drops what its parser reads as a tag): never markup.
    snippet = str(_section(response, "disagreement").rows[0].snippet)
    assert snippet.startswith(
        (
            "<mark>Escrow</mark> &lt;img src=x onerror=&quot;alert(1)&quot;&gt; please",
            "<mark>Escrow</mark>   please",
        )
    )


def test_a_query_with_markup_is_escaped_and_finds_the_words(client, advisor, dispute):
    client.force_login(advisor)

    response = _search(client, f"stock {XSS}")

    page = response.content.decode()
    assert XSS not in page
    assert XSS_ESCAPED in page  # shown back in the box and the title, escaped
    assert response.status_code == 200


def test_markers_typed_into_a_record_cannot_open_or_close_markup(client, advisor, acme_engagement):
    DisagreementFactory(
        engagement=acme_engagement,
        title=f"Escrow {search.STOP}</mark>{search.START}<b>",
    )
    client.force_login(advisor)

    title = str(_section(_search(client, "escrow"), "disagreement").rows[0].title)

    assert title.count("<mark>") == title.count("</mark>") == 1
    assert "&lt;/mark&gt;" in title
    assert "&lt;b&gt;" in title
    assert "<b>" not in title


# --- Scope -----------------------------------------------------------------------


@pytest.fixture
def zenith(other_advisor) -> Client:
    """Another team's client, with a word nobody else uses everywhere it can be."""
    zenith = ClientFactory(name="Zenith Quixotic", lead_advisor=other_advisor, notes="quixotic")
    engagement = EngagementFactory(client=zenith, title="Quixotic review")
    disagreement = DisagreementFactory(
        engagement=engagement, title="Quixotic trust", recommendation="Quixotic advice."
    )
    Comment.objects.create(disagreement=disagreement, author=other_advisor, body="Quixotic.")
    return zenith


@pytest.mark.parametrize("who", ["advisor", "manager"])
def test_another_teams_records_are_never_found(client, request, who, dispute, zenith):
    client.force_login(request.getfixturevalue(who))

    response = _search(client, "quixotic")

    assert response.status_code == 200
    assert response.context["total"] == 0
    page = response.content.decode()
    assert "Zenith" not in page
    assert "Quixotic trust" not in page
    assert "Nothing in your clients" in page
    for kind in search.KINDS:
        more = _search(client, "quixotic", kind=kind)
        assert "Zenith" not in more.content.decode()
        assert _section(more, kind).rows == []


def test_the_other_team_and_an_admin_do_find_them(client, other_advisor, admin, zenith):
    for user in (other_advisor, admin):
        client.force_login(user)
        response = _search(client, "quixotic")
        assert _found(response, "client") == ["Zenith Quixotic"]
        assert _found(response, "engagement") == ["Quixotic review"]
        assert _found(response, "disagreement") == ["Quixotic trust"]


def test_a_comment_on_another_teams_disagreement_finds_nothing(client, advisor, zenith):
    client.force_login(advisor)

    assert _search(client, "quixotic -trust -review -zenith").context["total"] == 0


# --- Bad input -------------------------------------------------------------------


@pytest.mark.parametrize("q", ["", "   ", "\t\n"])
def test_an_empty_query_gets_a_message(client, advisor, q):
    client.force_login(advisor)

    response = _search(client, q)

    assert response.status_code == 400
    assert search.EMPTY in response.content.decode()
    assert response.context["sections"] is None


@pytest.mark.parametrize("q", ["!!!", "- - -", '""'])
def test_a_query_without_words_gets_the_same_message(client, advisor, q):
    client.force_login(advisor)

    response = _search(client, q)

    assert response.status_code == 400
    assert search.EMPTY in response.content.decode()


def test_an_over_long_query_gets_a_message_and_no_search(
    client, advisor, dispute, django_assert_max_num_queries
):
    client.force_login(advisor)
    client.get(URL)  # the session's first request of the minute writes its expiry

    with django_assert_max_num_queries(3):  # the session and the user: no search
        response = _search(client, "stock " * 40)

    assert response.status_code == 400
    page = response.content.decode()
    assert "That search is too long: use at most 200 characters" in page
    assert 'aria-invalid="true"' in page
    assert response.context["sections"] is None


def test_a_query_of_exactly_the_longest_length_is_searched(client, advisor, dispute):
    client.force_login(advisor)
    query = ("stock " * 40)[:200]

    response = _search(client, query)

    assert response.status_code == 200
    assert _found(response, "disagreement") == ["Stock count skipped"]


def test_only_left_out_words_get_a_message(client, advisor, dispute):
    client.force_login(advisor)

    response = _search(client, "-stock -count")

    assert response.status_code == 400
    assert search.ONLY_EXCLUDED in response.content.decode()


@pytest.mark.parametrize(
    "q", ["stock\x00count", "stock\x1b[0m", "a:* & | !", "(stock", "'", "\\", "stock & !"]
)
def test_odd_characters_never_cause_a_server_error(client, advisor, dispute, q):
    client.force_login(advisor)

    assert _search(client, q).status_code in (200, 400)


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999999999999999999", "٣"])
def test_a_bad_page_number_shows_a_page(client, advisor, dispute, page):
    client.force_login(advisor)

    response = _search(client, "stock", kind="disagreement", page=page)

    assert response.status_code == 200


def test_an_unknown_kind_searches_everything(client, advisor, dispute):
    client.force_login(advisor)

    response = _search(client, "acme", kind="invoice")

    assert [s.kind for s in response.context["sections"]] == list(search.KINDS)


# --- Access ------------------------------------------------------------------------


def test_signed_out_people_are_sent_to_log_in(client):
    response = _search(client, "acme")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_role_may_not_search(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=""))

    assert _search(client, "acme").status_code == 403


def test_it_takes_no_post(client, advisor):
    client.force_login(advisor)

    assert client.post(URL, {"q": "acme"}).status_code == 405


# --- More results and query counts ----------------------------------------------------


@pytest.fixture
def many(advisor, team, manager) -> None:
    """More records of each kind than a page shows, each with a comment."""
    for n in range(search.PER_PAGE + 5):
        acme = ClientFactory(name=f"Walrus {n:02d} Ltd", lead_advisor=advisor, team=team)
        engagement = EngagementFactory(client=acme, title=f"Walrus audit {n:02d}")
        disagreement = DisagreementFactory(engagement=engagement, title=f"Walrus count {n:02d}")
        Comment.objects.create(disagreement=disagreement, author=manager, body="Walrus noted.")


def test_each_kind_shows_a_page_and_offers_more(client, advisor, many):
    client.force_login(advisor)

    response = _search(client, "walrus")

    page = response.content.decode()
    for kind in search.KINDS:
        section = _section(response, kind)
        assert len(section.rows) == search.PER_PAGE
        assert section.more
    assert "More disagreements matching “walrus”" in page
    assert "?q=walrus&amp;kind=disagreement&amp;page=2" in page

    second = _search(client, "walrus", kind="disagreement", page="2")
    assert [s.kind for s in second.context["sections"]] == ["disagreement"]
    assert len(_section(second, "disagreement").rows) == 5
    assert not _section(second, "disagreement").more
    first = set(_found(response, "disagreement"))
    assert first.isdisjoint(_found(second, "disagreement"))
    assert 'rel="prev"' in second.content.decode()


@pytest.mark.parametrize("who", ["advisor", "admin"])
def test_the_page_costs_the_same_queries_however_many_records_match(
    client, request, who, many, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(who))
    client.get(URL)  # the session's first request of the minute writes its expiry

    # The session, the user and the bell's unread count (3); the ids of the
    # clients in scope, or for an admin (whose scope is everything, so no ids)
    # their two-factor device; clients and engagements one each; disagreements
    # three: their own ranks, their comments' ranks, the page's rows (a fourth
    # loads the comments shown, when a comment ranks above its disagreement).
    # On PostgreSQL, for a word in fewer than WINDOW disagreements, three
    # more: the newest disagreements matching the whole word in the last
    # RECENT_DAYS, then in all of them, then matching it as a prefix in the
    # last RECENT_DAYS, looked through first (search._Postgres._window).
    with django_assert_num_queries(9 + 3 * (connection.vendor == "postgresql")):
        response = _search(client, "walrus")

    assert response.context["total"] == 3 * search.PER_PAGE
