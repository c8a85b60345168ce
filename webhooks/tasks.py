"""The delivery task, on Django's task framework (queue "webhooks"). With the database
backend (settings.TASKS) `manage.py db_worker` runs it; any backend that supports deferred
tasks (run_after) will do, RQ's or Celery's included."""

from datetime import datetime

from django_tasks import task

from . import worker


@task(queue_name="webhooks")
def deliver_webhooks() -> dict:
    """Deliver what is due for up to WEBHOOK_RUN_SECONDS, then plan the next run (retries
    included: it re-enqueues itself for when the next delivery is due). Returns the counts of
    what its attempts came to."""
    return worker.run()


def enqueue(run_after: datetime | None = None) -> None:
    """A delivery run, now or at `run_after`."""
    deliver = deliver_webhooks.using(run_after=run_after) if run_after else deliver_webhooks
    deliver.enqueue()
