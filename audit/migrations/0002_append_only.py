"""The audit trail is append-only in the database, like status history: the same triggers
refuse UPDATE, DELETE and TRUNCATE (recommendations/migrations/_append_only.py)."""

from django.db import migrations

from recommendations.migrations import _append_only

TABLES = ("audit_change",)


def install(apps, schema_editor):
    _append_only.install(schema_editor, TABLES)


def remove(apps, schema_editor):
    _append_only.remove(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_change"),
        ("recommendations", "0004_append_only_history"),  # defines the PostgreSQL function
    ]

    operations = [migrations.RunPython(install, remove)]
