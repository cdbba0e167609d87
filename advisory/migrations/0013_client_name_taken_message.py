# The unique client name's message names no team (issue: hardening, round two).
# Only the message changes: no SQL runs (`sqlmigrate advisory 0013` is a no-op).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("advisory", "0012_chain_tail_function"),
    ]

    operations = [
        migrations.AlterConstraint(
            model_name="client",
            name="client_name_unique_ci",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="client_name_unique_ci",
                violation_error_message=(
                    "That name is already in use in the firm; "
                    "ask an admin if you believe this is your client."
                ),
            ),
        ),
    ]
