from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("logapp", "0003_remove_note_size")]

    operations = [
        migrations.RenameField("note", "body", "text"),
        migrations.RenameField("historicalnote", "body", "text"),
    ]
