"""The triggers that keep freshness_tablechanges, shared by the migrations that install them.

PostgreSQL: a deferred constraint trigger per tracked table counts each committing transaction
that wrote it once (a transaction-local setting remembers it was counted). It runs at commit
and first takes one advisory lock, so transactions update counters one at a time and in one
order (no deadlock between counters), and only for the moment of their commit. Bulk loads
(`bulk_changes()`) skip the per-row triggers and count each table once themselves.

SQLite lets one writer at a time hold the database: a plain trigger per row does.
"""

from contextlib import contextmanager

from django.db import connections

# Every table a body of the API shows. tests/freshness checks that each table of the
# recommendations, evidence and review apps is here or in UNTRACKED, so a new table gets a
# decision.
TRACKED = (
    "audit_change",
    "auth_user",
    "evidence_evidence",
    "evidence_evidence_institutions",
    "evidence_evidencefigure",
    "evidence_evidenceinnovationmechanism",
    "evidence_evidencemeasure",
    "evidence_evidencerisk",
    "evidence_evidencerevision",
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
    "review_proposal",
    "review_proposaldecision",
    "review_proposalevidence",
    "review_proposalrevision",
    "webhooks_subscription",
)
# Tables no API body shows.
UNTRACKED = (
    "recommendations_idempotencykey",
    "recommendations_seedvalue",
    "review_reporterinstitution",
)

COUNTER_LOCK = 7_311_042  # pg_advisory_xact_lock key; integrity.HISTORY_WRITE_LOCK is another
BULK_SETTING = "tracker.bulk_changes"

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tracker_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tracker.counted_' || TG_TABLE_NAME, true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('tracker.counted_' || TG_TABLE_NAME, 'on', true);
        PERFORM pg_advisory_xact_lock({COUNTER_LOCK});
        INSERT INTO freshness_tablechanges ("table", changes) VALUES (TG_TABLE_NAME, 1)
        ON CONFLICT ("table") DO UPDATE SET changes = freshness_tablechanges.changes + 1;
    END IF;
    RETURN NULL;
END $$;
"""


def postgres_triggers(table: str) -> list[str]:
    return [
        f"CREATE CONSTRAINT TRIGGER count_changes AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"WHEN (current_setting('{BULK_SETTING}', true) IS DISTINCT FROM 'on') "
        "EXECUTE FUNCTION tracker_count_change()",
        f"CREATE TRIGGER count_truncate AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION tracker_count_change()",
    ]


def sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_count_{op.lower()} AFTER {op} ON {table} BEGIN "
        f"INSERT INTO freshness_tablechanges (\"table\", changes) VALUES ('{table}', 1) "
        'ON CONFLICT ("table") DO UPDATE SET changes = changes + 1; END'
        for op in ("INSERT", "UPDATE", "DELETE")
    ]


def install(schema_editor, tables) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, None)  # no parameters: keep its % signs
    elif vendor != "sqlite":
        raise NotImplementedError(f"No change counters for {vendor}")
    for table in tables:
        for sql in postgres_triggers(table) if vendor == "postgresql" else sqlite_triggers(table):
            schema_editor.execute(sql, None)
        schema_editor.execute(
            'INSERT INTO freshness_tablechanges ("table", changes) VALUES (%s, 0)', [table]
        )


def remove(schema_editor, tables) -> None:
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_changes ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS count_truncate ON {table}")
        else:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_count_{op}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_count_change()")


@contextmanager
def bulk_changes(tables, using: str = "default"):
    """Inside a transaction: write many rows of `tables` without a trigger per row on
    PostgreSQL; each table is counted once, at the end. Elsewhere it changes nothing."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [BULK_SETTING])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [BULK_SETTING])
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COUNTER_LOCK])
        for table in sorted(tables):
            cursor.execute(
                'INSERT INTO freshness_tablechanges ("table", changes) VALUES (%s, 1) '
                'ON CONFLICT ("table") DO UPDATE SET changes = freshness_tablechanges.changes + 1',
                [table],
            )
