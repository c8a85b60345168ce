"""Indexes for picking a piece of evidence in an autocomplete widget (admin EvidenceAdmin
.autocomplete_search_fields): the beginning of its key, and a word of its claim (pg_trgm
trigrams, for Django's UPPER(claim) LIKE UPPER('%word%')). PostgreSQL only: SQLite reads the
table, which holds a test's few rows."""

from django.db import migrations

INDEXES = {
    "evidence_key_prefix_idx": "(UPPER(key) text_pattern_ops)",
    "evidence_claim_zh_trgm_idx": "USING gin (UPPER(claim_zh) gin_trgm_ops)",
    "evidence_claim_en_trgm_idx": "USING gin (UPPER(claim_en) gin_trgm_ops)",
}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON evidence_evidence {definition}")


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0005_revisions_required_and_append_only"),
        # pg_trgm
        ("recommendations", "0008_measure_autocomplete_indexes"),
    ]

    operations = [migrations.RunPython(install, remove)]
