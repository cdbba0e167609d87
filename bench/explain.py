"""Where the time goes: each benchmarked page's slowest SQL queries, with
PostgreSQL's plan for them.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/candor_bench_full \\
    DEBUG=false SECRET_KEY=x ALLOWED_HOSTS=testserver \\
    .venv/bin/python -m bench.explain [--top 3] [--plans] [page name ...]

Requests each page once through Django's test client as bench/queries.py does
(the POST logs one more disagreement), prints its queries' total time and the
slowest ones, and with --plans runs EXPLAIN (ANALYZE, BUFFERS) on the slowest
SELECT of each page.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="page names (default: all)")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from advisory.seeding.scale import ADMIN, ADVISOR, MANAGER
    from bench.queries import endpoints

    users = {"manager": MANAGER, "advisor": ADVISOR, "admin": ADMIN}
    for item in endpoints():
        if args.pages and item["name"] not in args.pages:
            continue
        client = Client()
        if item["user"]:
            client.force_login(User.objects.get(username=users[item["user"]]))
            client.get("/bench/baseline/")  # the session's once-a-minute expiry write
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            if item.get("method") == "POST":
                response = client.post(item["path"], item["form"])
            else:
                response = client.get(item["path"])
            if response.streaming:
                b"".join(response.streaming_content)
        wall = time.perf_counter() - started
        queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
        total = sum(float(q["time"]) for q in queries)
        print(
            f"\n=== {item['name']} {item['path']} — {len(queries)} queries, "
            f"{total:.3f} s in SQL of {wall:.3f} s in all"
        )
        for query in queries[: args.top]:
            print(f"  {float(query['time']):.3f} s  {query['sql'][:600]}")
        slowest = next((q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")), None)
        if args.plans and slowest and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
                print("\n".join("    " + row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
