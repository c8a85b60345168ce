"""Guarantees the database keeps about history, whoever writes to it.

- History is append-only. Triggers (migration 0004 here, 0002 and 0005 in evidence) refuse
  UPDATE, DELETE and TRUNCATE of status updates, their evidence links, the evidence revisions
  they cite and published report snapshots, on PostgreSQL and on SQLite.
  `history_maintenance()` lifts them for one transaction: only purging synthetic data and
  flushing a test database use it.
- Status updates become visible in id order. Writers of history take one lock before they
  insert and hold it to commit (`serialise_history_writes`), so a row never commits after a
  row with a higher id: a feed paged by id never skips one. They are recorded at the
  database's clock read under that lock, so `recorded_at` follows the same order, whichever
  app server wrote them.
- A write's transaction takes no savepoint it does not need. A service's atomic block nested in
  a caller's transaction is a savepoint (two more round trips), so that a failure leaves the
  caller's transaction usable; inside `whole_transaction()`, where any failure rolls back the
  whole transaction, the services' blocks (`atomic()`) take none.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

# Whether this thread is inside whole_transaction().
_whole = ContextVar("whole_transaction", default=False)

# pg_advisory_xact_lock key of history writers (any fixed 64-bit number; "tracker" in ASCII).
HISTORY_WRITE_LOCK = 0x747261636B6572
# The PostgreSQL setting, and the SQLite function, that the append-only triggers consult.
MAINTENANCE_SETTING = "tracker.history_maintenance"
MAINTENANCE_FUNCTION = "tracker_history_maintenance"


@contextmanager
def whole_transaction(using: str = "default"):
    """One transaction that any error inside rolls back whole: the caller does not go on in
    it after a failure. The services' atomic blocks inside it need no savepoints, and take
    none (`atomic`). The API runs an idempotent request's write, with its key, in one."""
    with transaction.atomic(using=using):
        token = _whole.set(True)
        try:
            yield
        finally:
            _whole.reset(token)


def atomic(using: str = "default"):
    """transaction.atomic for a service's writes: a savepoint when nested in a caller's
    transaction (a refusal or failure leaves the caller's transaction as it was), none when
    nested in whole_transaction(), where a failure rolls everything back anyway."""
    return transaction.atomic(using=using, savepoint=not _whole.get())


def serialise_history_writes(using: str = "default") -> datetime:
    """Wait for other history writers to commit; hold the turn until this transaction ends.
    Return the database's clock at the moment the turn was granted.

    Call it inside the transaction, right before inserting status updates, and record them at
    the moment it returns: on PostgreSQL, taken from one clock, the database's, under the
    lock, moments follow commit order whatever the app servers' clocks say. SQLite needs no
    lock (it lets one writer at a time hold the database from its first write to commit) and
    serves one machine, whose clock every process shares; its own clock counts only
    milliseconds, so the moment is the app's.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        # The CTE runs first: the clock is read once the lock is held.
        cursor.execute(
            "WITH turn AS MATERIALIZED (SELECT pg_advisory_xact_lock(%s)) "
            "SELECT clock_timestamp() FROM turn",
            [HISTORY_WRITE_LOCK],
        )
        return cursor.fetchone()[0]


@contextmanager
def history_maintenance(using: str = "default", *, session: bool = False):
    """Let this transaction (or, with `session`, this connection until the block ends)
    change or delete history rows, which the database otherwise refuses."""
    connection = connections[using]
    if session:
        _set_maintenance(connection, True, local=False)
        try:
            yield
        finally:
            _set_maintenance(connection, False, local=False)
        return
    with transaction.atomic(using=using):
        _set_maintenance(connection, True, local=True)
        try:
            yield
        finally:
            # Also when this block is a savepoint of a longer transaction.
            _set_maintenance(connection, False, local=True)


def _set_maintenance(connection, on: bool, *, local: bool) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            scope = "LOCAL " if local else ""
            cursor.execute(f"SET {scope}{MAINTENANCE_SETTING} = '{'on' if on else 'off'}'")
    else:
        connection.history_maintenance = on


def register_sqlite_function(sender, connection, **kwargs) -> None:
    """On each new SQLite connection, define the function the append-only triggers call.

    A connection without it (another client) cannot change history at all: the triggers
    fail closed.
    """
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            MAINTENANCE_FUNCTION,
            0,
            lambda: int(bool(getattr(connection, "history_maintenance", False))),
        )


def lift_statement_timeout(using: str = "default") -> None:
    """Let this transaction's statements run as long as they need: settings give every
    connection the web's statement timeout, and batch work (loading synthetic data, a
    report over years of history) takes longer. Ends with the transaction."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
