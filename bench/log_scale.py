"""`make bench-log`: the log's costs at scale (docs/performance.md, "The log").

Fills a scratch database with ENTRIES log entries (default 1,000,000; the
entries are synthetic, only their digests matter to the tree), then times:

- signing a tree head over all of them (read every digest, compute the root,
  sign): what the worker does every hour;
- building the tree's levels and making PROOFS inclusion proofs (default
  3,000: one client's pack with a few thousand entries);
- checking every proof as verify.py would, and a consistency proof between
  two heads.

The database is a temporary SQLite file unless LOG_BENCH_DATABASE_URL names
one on this machine whose name contains "bench" (its log is emptied first,
so never a real one). It prints a table and writes bench/log_scale.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10_000


def main() -> int:
    entries = int(os.environ.get("ENTRIES", "1000000"))
    proofs = int(os.environ.get("PROOFS", "3000"))
    work = Path(tempfile.mkdtemp(prefix="candor-log-bench-"))
    url = os.environ.get("LOG_BENCH_DATABASE_URL", f"sqlite:///{work / 'log.sqlite3'}")
    problem = database_problem(url)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["LOG_SIGNING_KEY_FILE"] = str(work / "key.pem")
    os.environ["TSA_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    result = run(entries, proofs, work)
    result["database"] = connection.vendor
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    for name, value in result.items():
        print(f"{name:28} {value}")
    output = Path(os.environ.get("LOG_BENCH_OUTPUT", ROOT / "bench" / "log_scale.json"))
    output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def database_problem(url: str) -> str | None:
    """Why the log benchmark refuses `url`: it empties the database's log."""
    from bench.run import database_url_problem

    problem = database_url_problem(url)
    if problem:
        return problem
    if "bench" not in urlsplit(url).path and not url.startswith("sqlite"):
        return (
            "The log benchmark empties the log of the database it is given: it only runs "
            "on one whose name contains 'bench'. Refusing."
        )
    return None


def run(entries: int, proofs: int, work: Path) -> dict:
    from advisory.history import heads, signing
    from advisory.history.merkle import Tree
    from advisory.history.verifier import leaf_hash, verify_consistency, verify_inclusion
    from advisory.models import LogEntry, TreeHead

    signing.create_key(work / "key.pem")
    LogEntry.objects.all().delete()
    TreeHead.objects.all().delete()
    started = time.perf_counter()
    for start in range(0, entries, BATCH):
        rows = []
        for index in range(start, min(start + BATCH, entries)):
            salt = secrets.token_bytes(16)
            canonical = f'{{"bench":{index}}}'
            rows.append(
                LogEntry(
                    index=index,
                    history_model="bench.synthetic",
                    history_id=index,
                    canonical=canonical,
                    salt=salt.hex(),
                    digest=hashlib.sha256(salt + canonical.encode()).hexdigest(),
                )
            )
        LogEntry.objects.bulk_create(rows)
    filled = time.perf_counter() - started

    started = time.perf_counter()
    first = heads.tree_head_sign()
    head_seconds = time.perf_counter() - started

    started = time.perf_counter()
    tree = Tree(heads.leaf_hashes(entries))
    build_seconds = time.perf_counter() - started
    step = max(1, entries // proofs)
    wanted = list(range(0, entries, step))[:proofs]
    started = time.perf_counter()
    made = {index: tree.inclusion_proof(index, entries) for index in wanted}
    proof_seconds = time.perf_counter() - started

    root = bytes.fromhex(first.root_hash)
    digests = dict(LogEntry.objects.filter(index__in=wanted).values_list("index", "digest"))
    started = time.perf_counter()
    checked = all(
        verify_inclusion(index, entries, leaf_hash(bytes.fromhex(digests[index])), proof, root)
        for index, proof in made.items()
    )
    check_seconds = time.perf_counter() - started
    half = entries // 2
    consistent = verify_consistency(
        half, entries, tree.root(half), root, tree.consistency_proof(half, entries)
    )
    return {
        "entries": entries,
        "fill_seconds": round(filled, 1),
        "tree_head_seconds": round(head_seconds, 2),
        "tree_levels_seconds": round(build_seconds, 2),
        "inclusion_proofs": len(made),
        "proofs_seconds": round(proof_seconds, 3),
        "proofs_checked_seconds": round(check_seconds, 3),
        "proof_hashes": len(next(iter(made.values()))),
        "all_proofs_verify": checked,
        "consistency_verifies": consistent,
    }


if __name__ == "__main__":
    sys.exit(main())
