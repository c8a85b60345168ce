"""The audit trail's change counter (freshness), behind the ETag of GET /api/v1/changes/."""

from django.db import migrations

from freshness import triggers

TABLES = ("audit_change",)


def install(apps, schema_editor):
    triggers.install(schema_editor, TABLES)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_changes ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_truncate ON {table}")
        else:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_count_{op}")
        schema_editor.execute('DELETE FROM freshness_tablechanges WHERE "table" = %s', [table])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("freshness", "0001_table_changes"),
    ]

    operations = [migrations.RunPython(install, remove)]
