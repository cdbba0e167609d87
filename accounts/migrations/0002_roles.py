"""Create the role groups and give each its permissions.

Later migrations that add models extend the groups the same way. The
permission lists are written out here, not imported, so this migration keeps
meaning what it meant when it was written.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "advisor": [
        "accounts.view_team",
    ],
    "manager": [
        "accounts.view_team",
        "accounts.view_user",
        "accounts.view_health_board",
        "accounts.review_letgo",
    ],
    "admin": [
        "accounts.add_team",
        "accounts.change_team",
        "accounts.view_team",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_user",
        "accounts.view_health_board",
        "accounts.review_letgo",
        "accounts.decide_letgo",
        "auth.view_group",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
    ],
}


def ensure_permissions(apps) -> None:
    """Permissions are normally created after `migrate` finishes; we need them now."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def grant(apps, role_permissions: dict[str, list[str]]) -> None:
    """Give each role group (created if missing) its "app_label.codename" permissions.

    Later migrations call this for the models they add.
    """
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def create_roles(apps, schema_editor):
    grant(apps, ROLE_PERMISSIONS)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
