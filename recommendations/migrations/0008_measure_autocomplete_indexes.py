"""Indexes for picking a measure in an autocomplete widget (admin MeasureAdmin
.autocomplete_search_fields): the beginning of its code, and a word of its title (pg_trgm
trigrams, for Django's UPPER(title) LIKE UPPER('%word%')). PostgreSQL only: SQLite reads the
table, which holds a test's few rows."""

from django.db import migrations

INDEXES = {
    "measure_code_prefix_idx": "(UPPER(code) text_pattern_ops)",
    "measure_title_zh_trgm_idx": "USING gin (UPPER(title_zh) gin_trgm_ops)",
    "measure_title_en_trgm_idx": "USING gin (UPPER(title_en) gin_trgm_ops)",
}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON recommendations_measure {definition}")


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0007_row_count_function")]

    operations = [migrations.RunPython(install, remove)]
