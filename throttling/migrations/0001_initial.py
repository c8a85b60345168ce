from django.db import migrations, models


def unlogged(apps, schema_editor):
    """Counts that expire within minutes need no WAL, no fsync and no replica."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE throttling_counter SET UNLOGGED")


def logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE throttling_counter SET LOGGED")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Counter',
            fields=[
                ('client', models.CharField(max_length=200, primary_key=True, serialize=False, verbose_name='client')),
                ('slot', models.BigIntegerField(verbose_name='window')),
                ('hits', models.PositiveIntegerField(verbose_name='requests in this window')),
                ('previous', models.PositiveIntegerField(verbose_name='requests in the window before')),
                ('expires', models.BigIntegerField(verbose_name='expires (Unix time)')),
            ],
            options={
                'verbose_name': 'throttling count',
                'verbose_name_plural': 'throttling counts',
                'default_permissions': (),
            },
        ),
        migrations.RunPython(unlogged, logged, elidable=False),
    ]
