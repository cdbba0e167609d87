"""The benchmark's endpoints, and the SQL queries each one runs.

Run by bench/run.py in its own process with the bench settings and the same
database as the server (`python -m bench.queries OUT.json`). It picks the
concrete URLs from the seeded data (the client with the most disagreements,
the manager's team, a date range that exports about 10,000 rows, an engagement
to log against), requests each once through Django's test client as the
user the load generator logs in as, counts the queries with
CaptureQueriesContext (a streamed CSV is read to the end inside it), and
writes the endpoint list with the counts as JSON.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from urllib.parse import urlencode

POST_CLIENTS = 50
POST_COUNTED = 5


def endpoints() -> list[dict]:
    from django.db.models import Count

    from accounts.models import Team, User
    from advisory.models import Client, Disagreement, Engagement
    from advisory.seeding.scale import ADMIN, ADVISOR, MANAGER

    manager = User.objects.get(username=MANAGER)
    admin = User.objects.get(username=ADMIN)
    advisor = User.objects.get(username=ADVISOR)
    team = Team.objects.managed_by(manager).order_by("pk").first()
    visible = Disagreement.objects.visible_to(manager).active()
    top = (
        Client.objects.visible_to(manager)
        .annotate(n=Count("disagreements"))
        .order_by("-n", "pk")
        .values_list("pk", "n")
        .first()
    )
    # The day from which the manager's log holds about 10,000 rows.
    since = (
        visible.order_by("-occurred_on", "-pk").values_list("occurred_on", flat=True)[9999:10000]
    ).first() or datetime.date(2000, 1, 1)
    csv_query = {"format": "csv", "occurred_after": since.isoformat()}
    csv_rows = visible.filter(occurred_on__gte=since).count()
    # The POST logs on one engagement of each of up to POST_CLIENTS of the
    # advisor's clients in turn, as a firm's logging spreads over its clients
    # (on one client, every run would add a few hundred rows to its log).
    engagements: dict[int, int] = {}
    for pk, client_id in (
        Engagement.objects.visible_to(advisor)
        .active()
        .filter(lead_advisor=advisor, client__lead_advisor=advisor, client__is_archived=False)
        .exclude(client__status=Client.Status.LET_GO)
        .order_by("pk")
        .values_list("pk", "client_id")
        .iterator()
    ):
        engagements.setdefault(client_id, pk)
        if len(engagements) == POST_CLIENTS:
            break
    post_engagements = list(engagements.values())
    search = Client.objects.visible_to(manager).order_by("pk").values_list("name", flat=True)[0]
    filters = {"severity": "critical", "tone": "hostile", "decision": "proceeded"}
    form = {
        "engagement": post_engagements[0],
        "occurred_on": datetime.date.today().isoformat(),
        "title": "Benchmark: fee cap refused",
        "topic": "fees",
        "client_request": "We want the whole job for a fixed fee, whatever the scope.",
        "recommendation": "Fix the fee for the defined phases and cap the rest.",
        "rationale": "An open scope under a single fixed fee ends in a dispute.",
        "severity": "moderate",
        "tone": "tense",
        "follow_up_on": "",
    }
    # The engagement picker, as the admin (every engagement in scope) types
    # the first word of a client's name.
    picked = Engagement.objects.visible_to(admin).open_for_work().count()
    word = search.split()[0]
    m, a, ad = "manager", "advisor", "admin"
    return [
        {"name": "healthz", "user": None, "path": "/healthz"},
        {"name": "baseline", "user": m, "path": "/bench/baseline/"},
        {"name": "home (manager)", "user": m, "path": "/"},
        {"name": "home (advisor)", "user": a, "path": "/"},
        {"name": "clients p1", "user": m, "path": "/clients/"},
        {
            "name": "clients search",
            "user": m,
            "path": "/clients/?" + urlencode({"q": search.split()[0]}),
        },
        {
            "name": "disagreements 3 filters",
            "user": m,
            "path": "/disagreements/?" + urlencode(filters),
        },
        {
            "name": "disagreements 3 filters (advisor)",
            "user": a,
            "path": "/disagreements/?" + urlencode(filters),
        },
        {"name": "health board", "user": m, "path": "/health/"},
        {
            "name": "log form (admin)",
            "user": ad,
            "path": "/disagreements/new/",
            "note": f"{picked:,} engagements in scope",
        },
        {
            "name": "engagement picker (admin)",
            "user": ad,
            "path": "/disagreements/new/engagements/?" + urlencode({"q": word}),
            "note": f"{picked:,} engagements in scope",
        },
        {"name": "health board team", "user": m, "path": f"/health/?team={team.pk}"},
        # The search box (advisory/records/search.py): words from the seeded
        # disputes, each in thousands of disagreements at full scale.
        {
            "name": "search (manager)",
            "user": m,
            "path": "/search/?" + urlencode({"q": "payment terms"}),
        },
        {"name": "search (advisor)", "user": a, "path": "/search/?" + urlencode({"q": "pension"})},
        {
            "name": "search (admin)",
            "user": ad,
            "path": "/search/?" + urlencode({"q": "stock count"}),
            "note": "firm-wide",
        },
        {
            "name": "client detail (most disagreements)",
            "user": m,
            "path": f"/clients/{top[0]}/",
            "note": f"{top[1]} disagreements",
        },
        {
            "name": "CSV export",
            "user": m,
            "path": "/disagreements/?" + urlencode(csv_query),
            "connections": 1,
            "note": f"{csv_rows} rows",
            "rows": csv_rows,
        },
        {
            "name": "POST log disagreement",
            "user": a,
            "path": "/disagreements/new/",
            "method": "POST",
            "form": form,
            "engagements": post_engagements,
            "note": f"{len(post_engagements)} clients in turn",
        },
        # The floor again at the end: the machine's load drifts during a run.
        {"name": "baseline (end)", "user": m, "path": "/bench/baseline/"},
    ]


def count_queries(items: list[dict]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from advisory.seeding.scale import ADMIN, ADVISOR, MANAGER

    users = {"manager": MANAGER, "advisor": ADVISOR, "admin": ADMIN}
    for item in items:
        client = Client()
        if item["user"]:
            client.force_login(User.objects.get(username=users[item["user"]]))
            # A session's first request of the minute also moves its expiry
            # (accounts.middleware): done here, so the count is the steady state.
            client.get("/bench/baseline/")
        if item.get("method") == "POST":
            # Whether the client's score moves changes the count (one UPDATE):
            # the most of one log on each of the first POST_COUNTED clients.
            counts = []
            for engagement in item["engagements"][:POST_COUNTED]:
                with CaptureQueriesContext(connection) as queries:
                    response = client.post(item["path"], {**item["form"], "engagement": engagement})
                counts.append(len(queries))
            item["queries"], item["queries_each"] = max(counts), counts
            item["check_status"], item["check_bytes"] = response.status_code, len(response.content)
            continue
        with CaptureQueriesContext(connection) as queries:
            response = client.get(item["path"])
            body = b"".join(response.streaming_content) if response.streaming else response.content
        item["queries"] = len(queries)
        item["check_status"] = response.status_code
        item["check_bytes"] = len(body)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    items = endpoints()
    count_queries(items)
    with open(sys.argv[1], "w") as out:
        json.dump(items, out, indent=2, default=str)


if __name__ == "__main__":
    main()
