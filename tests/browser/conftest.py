"""End-to-end tests: Playwright driving Debian's Chromium against live_server.

They run whenever /usr/bin/chromium exists and are skipped, with the reason,
when it does not — except under CI=true, where a missing browser fails.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps

from advisory.seeding.demo import seed_people

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Data migrations that give the role groups their permissions, in order.
ROLE_MIGRATIONS = [
    "advisory.migrations.0002_roles",
    "advisory.migrations.0004_health_roles",
    "advisory.migrations.0007_letgo_roles",
]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not CHROMIUM.exists():
        reason = f"browser tests need {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; the ORM calls the
    tests and fixtures make are still synchronous and safe.

    For the rest of the session: Playwright's loop runs until the session ends,
    and pytest may order other packages' tests after the first browser test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(autouse=True)
def _role_groups(transactional_db) -> None:
    """Put back the role groups and their permissions that data migrations made.

    Each transactional test ends by flushing every table, which also removes
    rows that migrations inserted; permissions come back through post_migrate,
    the groups do not.
    """
    create_role_groups()


def create_role_groups() -> None:
    """The role groups and their permissions, as the data migrations make them."""
    import_module("accounts.migrations.0002_roles").create_roles(apps, schema_editor=None)
    for migration in ROLE_MIGRATIONS:
        import_module(migration).grant(apps, schema_editor=None)


@pytest.fixture
def demo() -> None:
    """The demo teams and users (password candor-demo-pass), without the records."""
    seed_people()


@pytest.fixture
def console_errors(page) -> list[str]:
    """Messages the page logs as errors (a CSP violation shows up here)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def axe_violations(page, impacts: Iterable[str] | None = None) -> list[str]:
    """Accessibility violations axe-core finds on the current page.

    `impacts` keeps only those of these impacts ("minor", "moderate",
    "serious", "critical"); by default every violation counts. Each is
    described with its impact and the first elements it found.
    """
    # Evaluated through the DevTools protocol: the page's strict CSP forbids
    # injecting a <script>, and should.
    page.evaluate(_axe_source())
    result = page.evaluate("async () => await axe.run()")
    wanted = None if impacts is None else set(impacts)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:3])
        for v in result["violations"]
        if wanted is None or v["impact"] in wanted
    ]
