"""Settings for `make bench` only: the app's settings plus a baseline page.

The baseline (`/bench/baseline/`, bench/urls.py) renders base.html and
nothing else, the floor every page is compared with. It exists only under this
settings module, so production never serves it.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
