"""Every table that must be append-only, or counted for the API's ETags, has its triggers after
all migrations: SQLite drops a table's triggers when a migration rebuilds it (see
recommendations/migrations/_sqlite_rebuild.py)."""

import pytest
from django.db import connection

from freshness.triggers import TRACKED

pytestmark = pytest.mark.django_db

APPEND_ONLY = (
    "audit_change",
    "evidence_evidencerevision",
    "evidence_statusupdateevidence",
    "recommendations_reportsnapshot",
    "recommendations_statusupdate",
    "review_proposaldecision",
    "review_proposalrevision",
)


def triggers_of(table: str) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [table],
            )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_an_append_only_table_keeps_its_triggers(table):
    expected = (
        {"append_only_rows", "append_only_truncate"}
        if connection.vendor == "postgresql"
        else {f"{table}_append_only_update", f"{table}_append_only_delete"}
    )

    assert expected <= triggers_of(table)


@pytest.mark.parametrize("table", TRACKED)
def test_a_counted_table_keeps_its_triggers(table):
    expected = (
        {"count_changes", "count_truncate"}
        if connection.vendor == "postgresql"
        else {f"{table}_count_{op}" for op in ("insert", "update", "delete")}
    )

    assert expected <= triggers_of(table)
