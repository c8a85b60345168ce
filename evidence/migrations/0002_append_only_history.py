"""Evidence attached to a status update is part of the history: append-only too."""

from django.db import migrations

from recommendations.migrations import _append_only

TABLES = ("evidence_statusupdateevidence",)


def install(apps, schema_editor):
    _append_only.install(schema_editor, TABLES)


def remove(apps, schema_editor):
    _append_only.remove(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0001_initial"),
        ("recommendations", "0004_append_only_history"),  # defines the PostgreSQL function
    ]

    operations = [migrations.RunPython(install, remove)]
