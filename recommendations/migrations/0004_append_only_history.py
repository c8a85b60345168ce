"""History and published reports become append-only in the database."""

from django.db import migrations

from recommendations.migrations import _append_only

TABLES = ("recommendations_statusupdate", "recommendations_reportsnapshot")


def install(apps, schema_editor):
    _append_only.install(schema_editor, TABLES)


def remove(apps, schema_editor):
    _append_only.remove(schema_editor, TABLES)
    _append_only.drop_function(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0003_report_snapshot")]

    operations = [migrations.RunPython(install, remove)]
