"""Change counters, and the triggers that keep them for every table the API shows."""

from django.db import migrations, models

from freshness import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor, triggers.TRACKED)


def remove(apps, schema_editor):
    triggers.remove(schema_editor, triggers.TRACKED)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("evidence", "0003_source_evidence_version"),
        ("recommendations", "0005_seed_value"),
    ]

    operations = [
        migrations.CreateModel(
            name="TableChanges",
            fields=[
                ("table", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("changes", models.BigIntegerField(default=0)),
            ],
            options={"ordering": ["table"]},
        ),
        migrations.RunPython(install, remove),
    ]
