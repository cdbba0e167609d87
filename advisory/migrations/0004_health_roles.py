"""Managers and admins may override a client's band; everyone may see health."""

from importlib import import_module

from django.db import migrations

EVERYONE = ["advisory.view_healthsnapshot", "advisory.view_bandoverride"]
REVIEWERS = [*EVERYONE, "advisory.override_band", "advisory.add_bandoverride"]
ROLE_PERMISSIONS = {"advisor": EVERYONE, "manager": REVIEWERS, "admin": REVIEWERS}


def grant(apps, schema_editor):
    import_module("accounts.migrations.0002_roles").grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("advisory", "0003_health")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
