"""Fixtures of the import tests (module and pages)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from advisory.transfer import jobs as import_jobs
from tests.advisory.transfer.importing import csv_bytes, new_client


@pytest.fixture(autouse=True)
def _media(media):
    """Uploads waiting for confirmation are files: never in the real MEDIA_ROOT."""


@pytest.fixture
def logged_in_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def clients_file(tmp_path, acme):
    file = tmp_path / "clients.csv"
    file.write_bytes(
        csv_bytes([new_client(), {"name": "Acme Holdings", "sector": "Aerospace"}], bom=True)
    )
    return file


@pytest.fixture
def small_background(monkeypatch):
    """Files with more than 2 changes run in the background (500 in production)."""
    monkeypatch.setattr(import_jobs, "BACKGROUND_ROWS", 2)


@pytest.fixture
def held_jobs(monkeypatch) -> list[str]:
    """Queued jobs wait in this list until the test runs them (`run_import.call`)."""
    held: list[str] = []
    monkeypatch.setattr(import_jobs, "run_import", SimpleNamespace(enqueue=held.append))
    return held
