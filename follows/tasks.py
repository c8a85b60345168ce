"""Background work on the task framework (django-tasks; `manage.py db_worker` runs it)."""

from django.utils import timezone
from django_tasks import task

from . import services
from .periods import digest_day


@task(queue_name="digests")
def send_due_digests() -> dict[str, int]:
    """Send the digests due now, having first planned the next run (the next hour boundary
    plus a few minutes): a run that fails half-way still leaves the chain going. Two runs at
    once (two chains, two workers) send nothing twice: each digest is claimed before it goes
    (services.claim_digest). Returns how many ended in each outcome."""
    now = timezone.now()
    services.schedule_next_run(now=now)
    return dict(services.send_due_digests(today=digest_day(now), now=now))
