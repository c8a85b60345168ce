"""Append-only triggers for history tables, shared by the migrations that install them.

The database refuses UPDATE, DELETE and TRUNCATE of these tables unless
recommendations.integrity.history_maintenance() is on for the transaction.
"""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION tracker_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tracker.history_maintenance', true) = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% of % refused: history is append-only; record a new entry instead',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
"""


def postgres_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION tracker_append_only()",
        f"CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION tracker_append_only()",
    ]


def sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only_{op.lower()} BEFORE {op} ON {table} "
        "WHEN NOT tracker_history_maintenance() BEGIN "
        f"SELECT RAISE(ABORT, '{op} of {table} refused: history is append-only; "
        "record a new entry instead'); END"
        for op in ("UPDATE", "DELETE")
    ]


def install(schema_editor, tables):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, None)  # no parameters: keep its % signs
        for table in tables:
            for sql in postgres_triggers(table):
                schema_editor.execute(sql, None)
    elif vendor == "sqlite":
        for table in tables:
            for sql in sqlite_triggers(table):
                schema_editor.execute(sql, None)
    else:
        raise NotImplementedError(f"No append-only triggers for {vendor}")


def remove(schema_editor, tables):
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS append_only_rows ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS append_only_truncate ON {table}")
        elif vendor == "sqlite":
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{op}")


def drop_function(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_append_only()")
