"""The function the admin counts large lists with (config.admin_paginator): PostgreSQL only;
SQLite counts exactly."""

from django.db import migrations

# tracker_row_count(query, exact_below): PostgreSQL's estimate of the rows `query` returns (an
# EXPLAIN, no scan of the rows) when it is `exact_below` or more, else their exact count.
ROW_COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION tracker_row_count(query text, exact_below bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
    estimate bigint;
    exact bigint;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    estimate := round((plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric);
    IF estimate >= exact_below THEN
        RETURN estimate;
    END IF;
    EXECUTE 'SELECT count(*) FROM (' || query || ') AS counted' INTO exact;
    RETURN exact;
END $$;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_COUNT_FUNCTION, None)  # no parameters: keep its % signs


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_row_count(text, bigint)")


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0006_reportsnapshot_publish_permission")]

    operations = [migrations.RunPython(install, remove)]
