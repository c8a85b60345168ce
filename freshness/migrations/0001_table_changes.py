"""Change counters, and the triggers that keep them for every table the API shows."""

from django.db import migrations, models

from freshness import triggers


# The tables as they were when this migration was written: a table tracked later gets its
# triggers from a migration of its own.
TABLES = (
    "auth_user",
    "evidence_evidence",
    "evidence_evidence_institutions",
    "evidence_evidencefigure",
    "evidence_evidenceinnovationmechanism",
    "evidence_evidencemeasure",
    "evidence_evidencerevision",
    "evidence_evidencerisk",
    "evidence_evidencescenario",
    "evidence_source",
    "evidence_statusupdateevidence",
    "recommendations_innovationmechanism",
    "recommendations_institution",
    "recommendations_measure",
    "recommendations_measure_scenarios",
    "recommendations_measureinstitution",
    "recommendations_measurerisk",
    "recommendations_pillar",
    "recommendations_reportsnapshot",
    "recommendations_risk",
    "recommendations_riskmechanism",
    "recommendations_scenario",
    "recommendations_statusupdate",
)


def install(apps, schema_editor):
    triggers.install(schema_editor, TABLES)


def remove(apps, schema_editor):
    triggers.remove(schema_editor, TABLES)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("evidence", "0005_revisions_required_and_append_only"),
        ("recommendations", "0005_seed_value"),
    ]

    operations = [
        migrations.CreateModel(
            name="TableChanges",
            fields=[
                ("table", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("changes", models.BigIntegerField(default=0)),
            ],
            options={
                "ordering": ["table"],
                "verbose_name": "table change counter",
                "verbose_name_plural": "table change counters",
                "default_permissions": (),
            },
        ),
        migrations.RunPython(install, remove),
    ]
