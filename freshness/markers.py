"""Reads of the change counters (freshness.triggers keeps them)."""

from django.db import connection

from .models import TableChanges
from .triggers import TRACKED


def tables_of(*models) -> tuple[str, ...]:
    """The tracked tables behind `models` (Django models, auto-created through tables too)."""
    tables = tuple(sorted({model._meta.db_table for model in models}))
    untracked = sorted(set(tables) - set(TRACKED))
    if untracked:
        raise ValueError(f"Not tracked by freshness.triggers: {', '.join(untracked)}")
    return tables


def changes(tables: tuple[str, ...] = TRACKED) -> int:
    """How many times `tables` have changed in all: it goes up with every committed write to
    any of them and never down. One query on a table of a few dozen rows."""
    table = TableChanges._meta.db_table
    placeholders = ", ".join(["%s"] * len(tables))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT COALESCE(SUM(changes), 0) FROM {table} WHERE "table" IN ({placeholders})',
            list(tables),
        )
        return int(cursor.fetchone()[0])


def all_changes_sql(vendor: str) -> str:
    """A scalar subquery of every table's counter as one JSON object ({"table": changes}),
    for a statement the request sends anyway to carry (tokens.selectors: the token lookup),
    so that a conditional read needs no round trip of its own."""
    table = TableChanges._meta.db_table
    if vendor == "postgresql":
        return f'SELECT json_object_agg("table", changes)::text FROM {table}'
    return f'SELECT json_group_object("table", changes) FROM {table}'


def changes_in(counters: dict, tables: tuple[str, ...]) -> int:
    """`changes(tables)` from counters read earlier in the request (all_changes_sql)."""
    return sum(counters.get(table, 0) for table in tables)
