"""Advisors and managers propose let-go cases; admins decide (accounts.decide_letgo)."""

from importlib import import_module

from django.db import migrations

PROPOSERS = ["advisory.add_letgocase", "advisory.view_letgocase"]
ROLE_PERMISSIONS = {
    "advisor": PROPOSERS,
    "manager": PROPOSERS,
    "admin": [*PROPOSERS, "advisory.change_letgocase", "advisory.view_chainlink"],
}


def grant(apps, schema_editor):
    import_module("accounts.migrations.0002_roles").grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("advisory", "0006_letgo_and_chain")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
