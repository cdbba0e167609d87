"""Until the next release: a large import queued before the upgrade names its
task "advisory.import_jobs.run_import", and the worker imports it by that
name. The code is advisory.transfer.jobs (README, "Upgrading")."""

from advisory.transfer.jobs import run_import  # noqa: F401
