"""The delivery task, on Django's task framework (queue "webhooks"), and the daily pruning
(queue "maintenance"). With the database backend (settings.TASKS) `manage.py db_worker` runs
them; any backend that supports deferred tasks (run_after) will do, RQ's or Celery's included."""

import functools
import logging
from datetime import datetime

from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from config.db import prepared_cursor

from . import pruning, worker

logger = logging.getLogger(__name__)


@task(queue_name="webhooks")
def deliver_webhooks() -> dict:
    """Deliver what is due for up to WEBHOOK_RUN_SECONDS, then plan the next run (retries
    included: it re-enqueues itself for when the next delivery is due). Returns the counts of
    what its attempts came to."""
    return worker.run()


@task(queue_name="maintenance")
def prune_daily() -> dict[str, int]:
    """Prune old deliveries and task results (pruning.prune), having first planned the next
    run (tomorrow at pruning.RUN_AT): a run that fails half-way still leaves the chain going.
    Two runs at once (two chains, two workers) plan one next run and delete each row once.
    Returns what it deleted."""
    now = timezone.now()
    pruning.schedule_next_run(now=now)
    pruned = pruning.prune(now=now)
    logger.info("Pruned %s", pruned.as_dict())
    return pruned.as_dict()


def enqueue(run_after: datetime | None = None) -> None:
    """A delivery run, now or at `run_after`."""
    deliver = deliver_webhooks.using(run_after=run_after) if run_after else deliver_webhooks
    deliver.enqueue()


def enqueue_unless_queued() -> None:
    """A delivery run now, unless the database queue already holds one that is due and has
    not started: that one will see whatever committed before it starts. Under a stream of
    changes, most commits then read one row instead of enqueueing a run each. Other backends
    cannot be asked: a run is enqueued every time."""
    backend = deliver_webhooks.get_backend()
    if isinstance(backend, DatabaseBackend) and run_waiting(backend.alias):
        return
    enqueue()


def run_waiting(backend: str) -> bool:
    """Whether the database queue holds a delivery run that is due and has not started: the
    worker's own "ready" condition (django_tasks_db's DBTaskResult.objects.ready()), in one
    statement written once rather than a queryset built for every commit."""
    run_after = DBTaskResult._meta.get_field("run_after")

    def moment(value: datetime):
        return run_after.get_db_prep_value(value, connection)  # as the column stores it

    with prepared_cursor() as cursor:
        cursor.execute(
            waiting_sql(),
            [
                TaskResultStatus.READY,
                deliver_webhooks.queue_name,
                deliver_webhooks.module_path,
                backend,
                moment(get_date_max()),
                moment(timezone.now()),
            ],
        )
        return cursor.fetchone() is not None


@functools.cache
def waiting_sql() -> str:
    table = connection.ops.quote_name(DBTaskResult._meta.db_table)
    return (
        f"SELECT 1 FROM {table} WHERE status = %s AND queue_name = %s AND task_path = %s "
        "AND backend_name = %s AND (run_after = %s OR run_after <= %s) LIMIT 1"
    )
