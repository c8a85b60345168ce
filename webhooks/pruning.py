"""Pruning: the tables that would otherwise grow for ever lose their old rows, in bounded
batches (README, "Webhooks", Pruning).

- Delivered deliveries, with their attempts, WEBHOOK_KEEP_DAYS (30) after they were delivered.
- Failed deliveries, with their attempts, WEBHOOK_KEEP_FAILED_DAYS (90) after their last
  schedule of retries began (they failed WEBHOOK_RETRY_HOURS after it): kept longer, since
  their owner may still redeliver them once the receiver is fixed.
- Finished results of background tasks (django-tasks-db's table: every delivery run, digest
  run and pruning run leaves one) TASK_RESULTS_KEEP_DAYS (7) after they finished.

Pending deliveries are never touched, whatever their age. Events are kept: they are the
outbox's record of what changed, and digests read them by period.

Each batch (PRUNE_BATCH rows) is its own short transaction of a constant number of statements,
each served by an index (migration 0004): it takes the oldest rows past the cut-off, locked
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's transactions take the write lock when they
begin), deletes their attempts, then them. Two prunings at once take different rows; a worker
or a redelivery waits for the batch's commit, never sees half of it. The cut-offs are fixed
when pruning starts, so it ends however fast new rows come."""

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from .choices import DeliveryState
from .models import Delivery, DeliveryAttempt, PruneRun

logger = logging.getLogger(__name__)

# The daily run starts at this local time (settings.TIME_ZONE): a quiet hour.
RUN_AT = time(3, 30)
# How long the planned runs are remembered (they only need to outlive the next one).
RUNS_KEPT = timedelta(days=7)

DELIVERED, FAILED, TASK_RESULTS = "delivered", "failed", "task_results"


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go: delivered before `delivered`, failed deliveries whose last
    schedule began before `failed`, task results finished before `task_results`."""

    delivered: datetime
    failed: datetime
    task_results: datetime

    @classmethod
    def of(
        cls,
        now: datetime,
        *,
        keep_days: int | None = None,
        keep_failed_days: int | None = None,
        task_results_keep_days: int | None = None,
    ) -> "Cutoffs":
        """The cut-offs at `now`, keeping so many days (default: the settings). Raises
        ValueError for a number of days below 1."""
        days = {
            "keep_days": keep_days,
            "keep_failed_days": keep_failed_days,
            "task_results_keep_days": task_results_keep_days,
        }
        defaults = {
            "keep_days": settings.WEBHOOK_KEEP_DAYS,
            "keep_failed_days": settings.WEBHOOK_KEEP_FAILED_DAYS,
            "task_results_keep_days": settings.TASK_RESULTS_KEEP_DAYS,
        }
        days = {name: defaults[name] if value is None else value for name, value in days.items()}
        for name, value in days.items():
            if value < 1:
                raise ValueError(f"{name} must be 1 or more, got {value}")
        return cls(
            delivered=now - timedelta(days=days["keep_days"]),
            failed=now - timedelta(days=days["keep_failed_days"]),
            task_results=now - timedelta(days=days["task_results_keep_days"]),
        )


@dataclass(frozen=True)
class Batch:
    """One batch deleted: of what (DELIVERED, FAILED, TASK_RESULTS), its number among that
    kind's batches, how many rows, and (deliveries) how many attempts with them."""

    kind: str
    number: int
    rows: int
    attempts: int = 0


@dataclass
class Pruned:
    """What a pruning deleted (or, dry, would delete)."""

    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    task_results: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# What is old


def old_deliveries(kind: str, before: datetime) -> QuerySet[Delivery]:
    """Deliveries in a final state past the cut-off, oldest first (the partial indexes
    delivery_delivered_age and delivery_failed_age serve both the filter and the order)."""
    if kind == DELIVERED:
        return Delivery.objects.filter(
            state=DeliveryState.DELIVERED, delivered_at__lt=before
        ).order_by("delivered_at")
    if kind == FAILED:
        return Delivery.objects.filter(
            state=DeliveryState.FAILED, schedule_started_at__lt=before
        ).order_by("schedule_started_at")
    raise ValueError(f"Not a kind of delivery pruned: {kind!r}")


def old_task_results(before: datetime) -> QuerySet[DBTaskResult]:
    """Finished task results (django-tasks-db's own `finished()`: successful or failed; never
    one ready or running) that finished before the cut-off, oldest first (the index
    webhooks_task_result_finished)."""
    return DBTaskResult.objects.finished().filter(finished_at__lt=before).order_by("finished_at")


# Deleting, batch by batch


def delete_deliveries(kind: str, before: datetime, size: int) -> tuple[int, int]:
    """Delete up to `size` of old_deliveries(kind, before) with their attempts, in one
    transaction of three statements; (deliveries, attempts) deleted."""
    with transaction.atomic():
        ids = list(
            old_deliveries(kind, before)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return 0, 0
        attempts, _by_model = DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
        # One DELETE: Delivery.objects...delete() would read the rows again to cascade to
        # their attempts (gone already), then delete them 100 at a time.
        deliveries = Delivery.objects.filter(pk__in=ids)._raw_delete(Delivery.objects.db)
    return deliveries, attempts


def delete_task_results(before: datetime, size: int) -> int:
    """Delete up to `size` of old_task_results(before), in one transaction of two statements;
    how many."""
    with transaction.atomic():
        ids = list(
            old_task_results(before)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return 0
        deleted, _by_model = DBTaskResult.objects.filter(pk__in=ids).delete()
    return deleted


def prune(
    *,
    now: datetime | None = None,
    cutoffs: Cutoffs | None = None,
    batch: int | None = None,
    dry_run: bool = False,
    progress: Callable[[Batch], None] | None = None,
) -> Pruned:
    """Delete what is older than `cutoffs` (default: the settings' as of `now`), `batch`
    (PRUNE_BATCH) rows at a time, each batch committed on its own; `progress` is called after
    each. `dry_run` deletes nothing and counts what would go. Returns the totals."""
    cutoffs = cutoffs or Cutoffs.of(now or timezone.now())
    size = settings.PRUNE_BATCH if batch is None else batch
    if size < 1:
        raise ValueError(f"batch must be 1 or more, got {size}")
    if dry_run:
        return count(cutoffs, size)
    pruned = Pruned()

    def note(batch: Batch) -> None:
        setattr(pruned, batch.kind, getattr(pruned, batch.kind) + batch.rows)
        pruned.attempts += batch.attempts
        pruned.batches += 1
        if progress is not None:
            progress(batch)

    for kind, before in ((DELIVERED, cutoffs.delivered), (FAILED, cutoffs.failed)):
        number = 0
        while True:
            deliveries, attempts = delete_deliveries(kind, before, size)
            if deliveries:
                number += 1
                note(Batch(kind, number, deliveries, attempts))
            # A short batch is the last (rows it skipped are another pruning's, locked).
            if deliveries < size:
                break
    number = 0
    while True:
        deleted = delete_task_results(cutoffs.task_results, size)
        if deleted:
            number += 1
            note(Batch(TASK_RESULTS, number, deleted))
        if deleted < size:
            break
    return pruned


def count(cutoffs: Cutoffs, size: int) -> Pruned:
    """What prune() would delete now (`batches`: in how many batches of `size`)."""
    delivered = old_deliveries(DELIVERED, cutoffs.delivered)
    failed = old_deliveries(FAILED, cutoffs.failed)
    pruned = Pruned(
        delivered=delivered.count(),
        failed=failed.count(),
        attempts=sum(
            DeliveryAttempt.objects.filter(delivery__in=old.values("pk")).count()
            for old in (delivered, failed)
        ),
        task_results=old_task_results(cutoffs.task_results).count(),
    )
    pruned.batches = sum(
        -(-rows // size) for rows in (pruned.delivered, pruned.failed, pruned.task_results)
    )
    return pruned


# The daily run


def next_run(now: datetime) -> datetime:
    """The first RUN_AT (local time) after `now`."""
    zone = timezone.get_current_timezone()
    day = timezone.localtime(now, zone).date()
    candidate = datetime.combine(day, RUN_AT, tzinfo=zone)
    if candidate <= now:
        candidate = datetime.combine(day + timedelta(days=1), RUN_AT, tzinfo=zone)
    return candidate


def schedule_next_run(*, now: datetime) -> PruneRun | None:
    """Plan the pruning task for the next RUN_AT after `now`; None when that run is planned
    already.

    As follows.services.schedule_next_run does for digests: the run is claimed by its unique
    `run_at` in the transaction that enqueues the task (with the database backend the task's
    row is in the same transaction), so however many runs, workers or starts try, one task
    is planned per day, and one chain goes on. Planned runs older than RUNS_KEPT are
    forgotten."""
    from .tasks import prune_daily  # here: the tasks module imports this one

    run_at = next_run(now)
    try:
        with transaction.atomic():
            run = PruneRun.objects.create(run_at=run_at, enqueued_at=now)
            result = prune_daily.using(run_after=run_at).enqueue()
            run.task_id = str(result.id)
            run.save(update_fields=["task_id"])
    except IntegrityError:
        return None
    PruneRun.objects.filter(run_at__lt=now - RUNS_KEPT).delete()
    return run
