"""Revisions and decisions of proposals are append-only in the database, like history (the
triggers of recommendations/migrations/_append_only.py refuse UPDATE, DELETE and TRUNCATE);
the tables a proposal's body shows get change counters (freshness), behind the ETags of
GET /api/v1/proposals/."""

from django.db import migrations

from freshness import triggers
from recommendations.migrations import _append_only

APPEND_ONLY = ("review_proposalrevision", "review_proposaldecision")
COUNTED = (
    "review_proposal",
    "review_proposaldecision",
    "review_proposalevidence",
    "review_proposalrevision",
)


def install(apps, schema_editor):
    _append_only.install(schema_editor, APPEND_ONLY)
    triggers.install(schema_editor, COUNTED)


def remove(apps, schema_editor):
    _append_only.remove(schema_editor, APPEND_ONLY)
    vendor = schema_editor.connection.vendor
    for table in COUNTED:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_changes ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_truncate ON {table}")
        else:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_count_{op}")
        schema_editor.execute('DELETE FROM freshness_tablechanges WHERE "table" = %s', [table])


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_proposals"),
        ("recommendations", "0004_append_only_history"),  # defines the PostgreSQL function
        ("freshness", "0001_table_changes"),
    ]

    operations = [migrations.RunPython(install, remove)]
