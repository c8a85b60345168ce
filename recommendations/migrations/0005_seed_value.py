"""What the seed gave each record it loaded (recommendations.seed).

No back-fill here: a database seeded before this table existed has no provenance, and the
next `load_seed` adopts each record it finds, taking the fixture's values as what the seed
gave it. A field that differs is then reported as a conflict and kept, never overwritten, and
a link the fixture has but the database lacks is taken as removed by people, not added again.
Guessing here, from whatever fixtures/ holds when the migration runs, would decide the same
with less information.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recommendations', '0004_append_only_history'),
    ]

    operations = [
        migrations.CreateModel(
            name='SeedValue',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model', models.CharField(max_length=100, verbose_name='model')),
                ('record', models.CharField(max_length=255, verbose_name='record')),
                ('field', models.CharField(blank=True, max_length=100, verbose_name='field')),
                ('value', models.JSONField(null=True, verbose_name='seeded value')),
                ('loaded_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='loaded at')),
            ],
            options={
                'verbose_name': 'seed value',
                'verbose_name_plural': 'seed values',
                'ordering': ['model', 'record', 'field'],
                'constraints': [models.UniqueConstraint(fields=('model', 'record', 'field'), name='recommendations_seedvalue_unique')],
            },
        ),
    ]
