"""Keep a table's triggers across SQLite's table rebuild.

SQLite cannot add a constraint (or, often, a column) in place: Django copies the table to a
new one and drops the old, and the old table's triggers (append-only, change counters) go
with it. `kept_triggers(table, operations)` wraps schema operations with two steps: the
triggers' SQL is read before, and whatever of it is missing afterwards is created again.
PostgreSQL alters tables in place; the steps do nothing there.
"""

from django.db import migrations


def kept_triggers(table: str, operations: list) -> list:
    saved: list[str] = []

    def read(apps, schema_editor):
        saved.clear()
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "ORDER BY name",
                [table],
            )
            saved.extend(sql for (sql,) in cursor.fetchall())

    def restore(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [table],
            )
            present = {sql for (sql,) in cursor.fetchall()}
        for sql in saved:
            if sql not in present:
                schema_editor.execute(sql, None)

    return [
        migrations.RunPython(read, restore),
        *operations,
        migrations.RunPython(restore, read),
    ]
