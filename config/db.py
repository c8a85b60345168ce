"""Statements a change sends on every write, prepared once per database connection.

Django keeps PostgreSQL's prepared statements off (`prepare_threshold` None) so that
connection poolers work, and binds parameters on the client: every statement is parsed and
planned anew. The outbox's statement (an event with its webhook deliveries, a WITH of two
INSERTs and a join) spent more time being planned than run: 0.58 ms of the database's CPU
per status update unprepared, 0.17 ms prepared (bench/README.md). `prepared_cursor()` gives
such a statement a cursor that binds on the server and prepares it on first use; psycopg
keeps it for the connection's life. Queries still go through Django's cursor wrapper (logged
and counted in tests, errors translated).

`DB_PREPARED_STATEMENTS=0` turns it off, for a pooler in transaction mode that cannot keep a
prepared statement between transactions (PgBouncer before 1.21, or without
`max_prepared_statements`). SQLite prepares nothing: its cursor is the usual one."""

from contextlib import contextmanager

from django.conf import settings
from django.db import connection


def enabled() -> bool:
    return connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS


@contextmanager
def prepared_cursor():
    """A cursor whose statements are prepared on the server (PostgreSQL, when enabled), or
    the connection's usual cursor."""
    if not enabled():
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor
    from django.db.backends.utils import CursorWrapper

    class Preparing(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    class Logged(CursorDebugWrapper):
        def execute(self, sql, params=None):
            # Logged as written: psycopg keeps no text of a prepared statement's execution.
            with self.debug_sql(sql, params):
                return CursorWrapper.execute(self, sql, params)

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = Preparing(connection.connection)
    wrapper = Logged if connection.queries_logged else CursorWrapper
    with wrapper(raw, connection) as cursor:
        yield cursor
