"""Every status update's evidence names the revision it cited; revisions are append-only, like
history (the triggers of recommendations 0004)."""

import django.db.models.deletion
from django.db import migrations, models

from recommendations.migrations import _append_only


def install_triggers(apps, schema_editor):
    _append_only.install(schema_editor, ("evidence_evidencerevision",))
    if schema_editor.connection.vendor == "sqlite":
        # SQLite rebuilt the links' table to make the column required: its triggers went too.
        _append_only.remove(schema_editor, ("evidence_statusupdateevidence",))
        _append_only.install(schema_editor, ("evidence_statusupdateevidence",))


def remove_triggers(apps, schema_editor):
    _append_only.remove(schema_editor, ("evidence_evidencerevision",))


class Migration(migrations.Migration):
    dependencies = [("evidence", "0004_evidence_revisions")]

    operations = [
        migrations.AlterField(
            model_name="statusupdateevidence",
            name="revision",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="status_update_links",
                to="evidence.evidencerevision",
                verbose_name="cited revision",
            ),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.AlterModelOptions(
            name="statusupdateevidence",
            options={
                "ordering": ["status_update", "-evidence__date", "evidence"],
                "verbose_name": "evidence of a status update",
                "verbose_name_plural": "evidence of status updates",
            },
        ),
    ]
