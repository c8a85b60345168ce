"""The subscriptions' change counter (freshness), behind the ETags of GET /api/v1/webhooks/.
Deliveries and their attempts get none: they change with every attempt, and a counter's
commit-time lock would be taken by every status update that plans a delivery."""

from django.db import migrations

from freshness import triggers

TABLES = ("webhooks_subscription",)


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
        ("webhooks", "0001_subscriptions_and_deliveries"),
        ("recommendations", "0004_append_only_history"),  # defines the PostgreSQL function
        ("freshness", "0001_table_changes"),
    ]

    operations = [migrations.RunPython(install, remove)]
