"""Helpers shared by the import tests (the module's and the pages')."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from advisory.models import Client
from advisory.transfer import imports
from advisory.transfer import jobs as import_jobs

CLIENT_HEADER = [c.name for c in imports.COLUMNS[imports.CLIENTS]]


ENGAGEMENT_HEADER = [c.name for c in imports.COLUMNS[imports.ENGAGEMENTS]]


HistoricalClient = Client.history.model


RUN_IMPORT = import_jobs.run_import


def csv_bytes(
    rows: list[list[str]] | list[dict],
    *,
    header: list[str] | None = None,
    delimiter: str = ",",
    bom: bool = False,
    newline: str = "\n",
) -> bytes:
    if rows and isinstance(rows[0], dict):
        header = header or CLIENT_HEADER
        rows = [[row.get(name, "") for name in header] for row in rows]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def new_client(**values) -> dict:
    return {
        "name": "Bluebird Bakeries",
        "kind": "organization",
        "sector": "Food",
        "contact_name": "Sam Baker",
        "contact_email": "sam@bluebird.example",
        "lead_advisor": "alice",
        **values,
    }


def plan(kind: str, data: bytes, user) -> imports.Plan:
    return imports.plan_import(imports.read_table(data, kind), user=user)


def problems(result: imports.Plan) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in result.problems]


def upload(client, data: bytes, *, kind: str = "clients", name: str = "clients.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("import-upload"), {"kind": kind, "file": file})


def import_files(media) -> list:
    folder = media / "imports"
    return list(folder.iterdir()) if folder.exists() else []


def big_file() -> bytes:
    return csv_bytes([new_client(name=f"Client {n}") for n in range(3)], bom=True)
