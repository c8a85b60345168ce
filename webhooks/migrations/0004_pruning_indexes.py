"""The indexes pruning reads (webhooks/pruning.py): the oldest delivered, and the oldest failed,
deliveries first, and the oldest finished task results (django-tasks-db's table has no index on
`finished_at`; the index is ours, and tests/webhooks/test_pruning.py checks it survives).

The deliveries table is large by the time it needs pruning, and a plain CREATE INDEX blocks
its writes (each status update's fan-out) while it builds: on PostgreSQL they are built
CONCURRENTLY, outside a transaction, with no statement timeout. SQLite builds them plainly."""

from django.db import migrations, models

TASK_RESULTS = "django_tasks_database_dbtaskresult"
TASK_RESULTS_INDEX = "webhooks_task_result_finished"


def concurrently(schema_editor) -> str:
    return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""


class NoStatementTimeout:
    """On PostgreSQL, lifts the connection's statement_timeout (settings.py) while an index
    builds, then puts it back (RESET: the value the connection started with)."""

    def __init__(self, schema_editor):
        self.schema_editor = schema_editor
        self.postgres = schema_editor.connection.vendor == "postgresql"

    def __enter__(self):
        if self.postgres:
            self.schema_editor.execute("SET statement_timeout = 0")

    def __exit__(self, *exc):
        if self.postgres:
            self.schema_editor.execute("RESET statement_timeout")


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL (the migration is not atomic)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        with NoStatementTimeout(schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.add_index(model, self.index, concurrently=True)
            else:
                schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)


def add_task_results_index(apps, schema_editor):
    with NoStatementTimeout(schema_editor):
        schema_editor.execute(
            f"CREATE INDEX {concurrently(schema_editor)}IF NOT EXISTS {TASK_RESULTS_INDEX} "
            f"ON {TASK_RESULTS} (finished_at) WHERE finished_at IS NOT NULL"
        )


def remove_task_results_index(apps, schema_editor):
    schema_editor.execute(
        f"DROP INDEX {concurrently(schema_editor)}IF EXISTS {TASK_RESULTS_INDEX}"
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("webhooks", "0003_prunerun"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("state", "delivered")),
                fields=["delivered_at"],
                name="delivery_delivered_age",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("state", "failed")),
                fields=["schedule_started_at"],
                name="delivery_failed_age",
            ),
        ),
        migrations.RunPython(add_task_results_index, remove_task_results_index),
    ]
