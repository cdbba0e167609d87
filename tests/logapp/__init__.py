"""A test-only app whose one history-tracked model has had a field added, one
removed and one renamed, migration by migration (tests/upgrade/test_log_migrations.py).
Installed by tests/settings.py only."""
