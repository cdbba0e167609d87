"""Give the role groups their permissions on the advisory records.

Nobody gets delete: records are archived, never deleted. The lists are written
out rather than imported so the migration keeps its meaning.
"""

from importlib import import_module

from django.db import migrations

EVERYONE = [
    "advisory.add_client",
    "advisory.change_client",
    "advisory.view_client",
    "advisory.add_engagement",
    "advisory.change_engagement",
    "advisory.view_engagement",
    "advisory.add_disagreement",
    "advisory.change_disagreement",
    "advisory.view_disagreement",
    "advisory.add_amendment",
    "advisory.view_amendment",
    "advisory.add_comment",
    "advisory.view_comment",
    "advisory.add_evidencefile",
    "advisory.view_evidencefile",
]
ROLE_PERMISSIONS = {
    "advisor": EVERYONE,
    "manager": [*EVERYONE, "advisory.review_disagreement"],
    "admin": [*EVERYONE, "advisory.review_disagreement"],
}


def grant(apps, schema_editor):
    import_module("accounts.migrations.0002_roles").grant(apps, ROLE_PERMISSIONS)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group:
            codenames = [perm.split(".")[1] for perm in perms]
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label="advisory", codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("advisory", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
