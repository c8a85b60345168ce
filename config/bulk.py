"""Many rows updated, each with its own values, in one statement per batch.

Django's bulk_update writes `SET field = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END` for
every field, building each branch as an expression in Python: recording 10,000 rows of a
spreadsheet spent 75 s there (bench/intake.py). This sends `UPDATE … FROM (VALUES …)` instead,
which PostgreSQL and SQLite (3.33 and later) both take: the values go as parameters, and the
database joins them to the rows by primary key.

It sends no signal, as bulk_update does not: use it only where nothing listens (the audit
trail records none of the fields it writes).
"""

from collections.abc import Sequence

from django.db import connections
from django.db.models import Model

BATCH = 500


def update_rows(
    model: type[Model], rows: Sequence[Model], fields: Sequence[str], *, using: str = "default"
) -> None:
    """Write `fields` of each of `rows` (instances of `model` with their primary key) as they
    hold them now, BATCH rows a statement."""
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    table, key = quote(meta.db_table), meta.pk
    columns = [meta.get_field(name) for name in fields]
    postgres = connection.vendor == "postgresql"
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        params: list = []
        for row in chunk:
            params.append(key.get_db_prep_value(row.pk, connection))
            params += [
                column.get_db_prep_save(getattr(row, column.attname), connection)
                for column in columns
            ]
        one = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        values = ", ".join([one] * len(chunk))
        if postgres:
            # Each value cast to its column's type: a column of NULLs has none of its own.
            names = ", ".join(["k", *(f"v{i}" for i in range(len(columns)))])
            sets = ", ".join(
                f"{quote(column.column)} = CAST(v.v{i} AS {column.db_type(connection)})"
                for i, column in enumerate(columns)
            )
            sql = (
                f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v({names}) "
                f"WHERE {table}.{quote(key.column)} = CAST(v.k AS {key.db_type(connection)})"
            )
        else:
            # SQLite names a VALUES list's columns column1, column2, ...
            sets = ", ".join(
                f"{quote(column.column)} = v.column{i + 2}" for i, column in enumerate(columns)
            )
            sql = (
                f"UPDATE {table} SET {sets} FROM (VALUES {values}) AS v "
                f"WHERE {table}.{quote(key.column)} = v.column1"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
