"""The test run's settings: Candor's own, plus tests/logapp, a history-tracked
model whose migrations add, remove and rename a field (for the log's checks)."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.logapp"]
