"""Pruning (webhooks/pruning.py, `manage.py prune_webhooks`, the daily task): old delivered and
failed deliveries go with their attempts, each kind after its own time; pending ones, recent
ones and events stay; finished task results go after a week; batches cost the same queries
whatever their size, use the indexes, and two prunings at once delete each row once."""

import shutil
import subprocess
import threading
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from events.choices import EventType
from events.models import Event
from webhooks import pruning, services
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, DeliveryAttempt, PruneRun
from webhooks.tasks import deliver_webhooks, prune_daily

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"
PRUNE_TASK = "webhooks.tasks.prune_daily"
SHANGHAI = timezone.get_fixed_timezone(8 * 60)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def subscription(manager):
    return services.create_subscription(owner=manager, url=URL)


@pytest.fixture
def now():
    return timezone.now()


def deliveries(
    subscription, state: str, *, days_ago: float, now: datetime, count: int = 1, attempts: int = 1
) -> list[int]:
    """`count` deliveries in `state`, each of a new event and with `attempts` attempts, whose
    age (delivered: since delivered; failed and pending: since their schedule began) is
    `days_ago`; their ids."""
    at = now - timedelta(days=days_ago)
    events = Event.objects.bulk_create(
        Event(type=EventType.MEASURE_CHANGED, payload={}) for _ in range(count)
    )
    made = Delivery.objects.bulk_create(
        Delivery(
            subscription=subscription,
            event=event,
            state=state,
            attempt_count=attempts,
            schedule_started_at=at,
            schedule_attempts=attempts,
            next_attempt_at=at if state == DeliveryState.PENDING else None,
            delivered_at=at if state == DeliveryState.DELIVERED else None,
            created_at=at,
        )
        for event in events
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery,
            attempted_at=at,
            status_code=200 if state == DeliveryState.DELIVERED else 500,
            duration_ms=5,
        )
        for delivery in made
        for _ in range(attempts)
    )
    return [delivery.pk for delivery in made]


def task_result(status: str, *, finished_days_ago: float | None, now: datetime):
    """A delivery run's task result, `status`, finished so many days ago (None: not finished)."""
    result = deliver_webhooks.enqueue()
    finished_at = None if finished_days_ago is None else now - timedelta(days=finished_days_ago)
    DBTaskResult.objects.filter(pk=result.id).update(status=status, finished_at=finished_at)
    return str(result.id)


def remaining(ids: list[int]) -> list[int]:
    return sorted(Delivery.objects.filter(pk__in=ids).values_list("pk", flat=True))


def attempts_of(ids: list[int]) -> int:
    return DeliveryAttempt.objects.filter(delivery_id__in=ids).count()


def task_results() -> set[str]:
    return {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}


# What goes and what stays


def test_old_delivered_deliveries_go_with_their_attempts_pending_and_recent_ones_stay(
    subscription, now
):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=31, now=now, count=3)
    recent = deliveries(subscription, DeliveryState.DELIVERED, days_ago=29, now=now)
    ancient_pending = deliveries(
        subscription, DeliveryState.PENDING, days_ago=400, now=now, attempts=40
    )
    events = Event.objects.count()

    pruned = pruning.prune(now=now)

    assert remaining(old) == [] and attempts_of(old) == 0
    assert remaining(recent) == recent and attempts_of(recent) == 1
    assert remaining(ancient_pending) == ancient_pending and attempts_of(ancient_pending) == 40
    assert Event.objects.count() == events  # the outbox keeps every event
    assert (pruned.delivered, pruned.failed, pruned.attempts) == (3, 0, 3)


def test_failed_deliveries_are_kept_longer_by_their_own_setting(subscription, now, settings):
    failed_40 = deliveries(subscription, DeliveryState.FAILED, days_ago=40, now=now, attempts=30)
    failed_91 = deliveries(subscription, DeliveryState.FAILED, days_ago=91, now=now, attempts=30)

    first = pruning.prune(now=now)

    assert remaining(failed_40) == failed_40 and attempts_of(failed_40) == 30
    assert remaining(failed_91) == [] and attempts_of(failed_91) == 0
    assert (first.failed, first.attempts) == (1, 30)

    settings.WEBHOOK_KEEP_FAILED_DAYS = 35
    second = pruning.prune(now=now)

    assert remaining(failed_40) == [] and second.failed == 1


def test_a_redelivered_delivery_is_pending_and_kept(subscription, now):
    (failed,) = deliveries(subscription, DeliveryState.FAILED, days_ago=200, now=now)
    services.redeliver(delivery=Delivery.objects.get(pk=failed))

    pruning.prune(now=now)

    assert Delivery.objects.get(pk=failed).state == DeliveryState.PENDING
    assert attempts_of([failed]) == 1


def test_finished_task_results_go_after_a_week_ready_and_running_ones_stay(now):
    old_ok = task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=8, now=now)
    old_failed = task_result(TaskResultStatus.FAILED, finished_days_ago=8, now=now)
    recent = task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=6, now=now)
    ready = task_result(TaskResultStatus.READY, finished_days_ago=None, now=now)
    running = task_result(TaskResultStatus.RUNNING, finished_days_ago=None, now=now)
    DBTaskResult.objects.filter(pk__in=[ready, running]).update(
        enqueued_at=now - timedelta(days=30)
    )

    pruned = pruning.prune(now=now)

    assert task_results() == {recent, ready, running}
    assert old_ok not in task_results() and old_failed not in task_results()
    assert pruned.task_results == 2


def test_keep_days_below_one_are_refused(now):
    with pytest.raises(ValueError, match="keep_days must be 1 or more"):
        pruning.Cutoffs.of(now, keep_days=0)
    with pytest.raises(ValueError, match="batch must be 1 or more"):
        pruning.prune(now=now, batch=0)


# Batches


def test_deliveries_go_in_batches_each_reported(subscription, now):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=5)
    failed = deliveries(subscription, DeliveryState.FAILED, days_ago=100, now=now, attempts=3)
    reported = []

    pruned = pruning.prune(now=now, batch=2, progress=reported.append)

    assert [(b.kind, b.number, b.rows, b.attempts) for b in reported] == [
        ("delivered", 1, 2, 2),
        ("delivered", 2, 2, 2),
        ("delivered", 3, 1, 1),
        ("failed", 1, 1, 3),
    ]
    assert remaining(old + failed) == []
    assert pruned.as_dict() == {
        "delivered": 5,
        "failed": 1,
        "attempts": 8,
        "task_results": 0,
        "batches": 4,
    }


def test_the_oldest_go_first_and_a_batch_takes_no_more_than_its_size(subscription, now):
    oldest = deliveries(subscription, DeliveryState.DELIVERED, days_ago=50, now=now, count=2)
    newer = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=2)

    assert pruning.delete_deliveries(pruning.DELIVERED, now - timedelta(days=30), 2) == (2, 2)

    assert remaining(oldest) == [] and remaining(newer) == newer


def test_a_batch_costs_the_same_queries_whatever_its_size(
    subscription, now, django_assert_num_queries
):
    deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=2, attempts=1)
    deliveries(subscription, DeliveryState.DELIVERED, days_ago=35, now=now, count=60, attempts=3)
    before = now - timedelta(days=30)

    # The savepoint, the ids (locked), DELETE attempts, DELETE deliveries, its release.
    with django_assert_num_queries(5):
        assert pruning.delete_deliveries(pruning.DELIVERED, before, 2) == (2, 2)
    with django_assert_num_queries(5):
        assert pruning.delete_deliveries(pruning.DELIVERED, before, 500) == (60, 180)
    # An empty batch: the savepoint, the ids, the release.
    with django_assert_num_queries(3):
        assert pruning.delete_deliveries(pruning.DELIVERED, before, 500) == (0, 0)


def test_a_batch_of_task_results_costs_the_same_queries_whatever_its_size(
    now, django_assert_num_queries
):
    for _ in range(7):
        task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=10, now=now)
    before = now - timedelta(days=7)

    # The savepoint, the ids (locked), DELETE, the release.
    with django_assert_num_queries(4):
        assert pruning.delete_task_results(before, 2) == 2
    with django_assert_num_queries(4):
        assert pruning.delete_task_results(before, 500) == 5


def test_a_whole_pruning_costs_its_batches_queries_and_no_more(
    subscription, now, django_assert_num_queries
):
    deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=4)
    deliveries(subscription, DeliveryState.FAILED, days_ago=100, now=now, count=1)
    task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=10, now=now)

    # Delivered: two full batches (5 each) and an empty one (3); failed: a short one (5);
    # task results: a short one (4).
    with django_assert_num_queries(5 + 5 + 3 + 5 + 4):
        pruned = pruning.prune(now=now, batch=2)

    assert (pruned.delivered, pruned.failed, pruned.task_results, pruned.batches) == (4, 1, 1, 4)


def plan(queryset) -> str:
    """The query plan of `queryset`'s batch (its first 500), with sequential scans discouraged
    on PostgreSQL, whose planner prefers them on tables this small: whether an index serves."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.values_list("pk", flat=True)[:500].explain()


def test_batches_are_found_through_indexes(now):
    assert "delivery_delivered_age" in plan(pruning.old_deliveries(pruning.DELIVERED, now))
    assert "delivery_failed_age" in plan(pruning.old_deliveries(pruning.FAILED, now))
    assert "webhooks_task_result_finished" in plan(pruning.old_task_results(now))


def test_the_task_results_index_outlives_django_tasks_db_s_migrations():
    # Ours, on another app's table: SQLite drops it if a later migration rebuilds the table.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, DBTaskResult._meta.db_table)

    assert constraints["webhooks_task_result_finished"]["columns"] == ["finished_at"]


# Dry runs


def test_a_dry_run_counts_and_writes_nothing(subscription, now):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=3)
    failed = deliveries(subscription, DeliveryState.FAILED, days_ago=100, now=now, attempts=4)
    results = {task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=10, now=now)}

    with CaptureQueriesContext(connection) as queries:
        pruned = pruning.prune(now=now, batch=2, dry_run=True)

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert remaining(old + failed) == sorted(old + failed)
    assert attempts_of(old + failed) == 7
    assert task_results() == results
    assert pruned.as_dict() == {
        "delivered": 3,
        "failed": 1,
        "attempts": 7,
        "task_results": 1,
        "batches": 4,  # 2 + 1 of deliveries, 1 of task results
    }


# The command


def prune_command(*args) -> list[str]:
    out = StringIO()
    call_command("prune_webhooks", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_command_prunes_and_reports_each_batch(subscription, now):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=3)
    failed = deliveries(subscription, DeliveryState.FAILED, days_ago=100, now=now, attempts=2)
    kept = deliveries(subscription, DeliveryState.FAILED, days_ago=40, now=now)
    task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=10, now=now)

    lines = prune_command("--batch", "2")

    assert lines[0].startswith("Pruning deliveries delivered before ")
    assert lines[1:] == [
        "delivered deliveries: batch 1: 2 deleted, with 2 attempts",
        "delivered deliveries: batch 2: 1 deleted, with 1 attempts",
        "failed deliveries: batch 1: 1 deleted, with 2 attempts",
        "task results: batch 1: 1 deleted",
        "Deleted 3 delivered and 1 failed deliveries with 5 attempts, and 1 task results, "
        "in 4 batches.",
    ]
    assert remaining(old + failed + kept) == kept
    assert not DBTaskResult.objects.exists()


def test_the_command_s_dry_run_deletes_nothing(subscription, now):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=3)

    lines = prune_command("--dry-run", "--batch", "2")

    assert lines[-1] == (
        "Would delete 3 delivered and 0 failed deliveries with 3 attempts, and 0 task results, "
        "in 2 batches (dry run: nothing deleted)."
    )
    assert remaining(old) == old and attempts_of(old) == 3


def test_the_command_takes_other_retention_periods(subscription, now):
    delivered = deliveries(subscription, DeliveryState.DELIVERED, days_ago=3, now=now)
    failed = deliveries(subscription, DeliveryState.FAILED, days_ago=8, now=now)
    result = task_result(TaskResultStatus.SUCCESSFUL, finished_days_ago=2, now=now)

    prune_command("--keep-days", "4", "--keep-failed-days", "9", "--task-results-keep-days", "3")

    assert remaining(delivered + failed) == delivered + failed
    assert result in task_results()

    prune_command("--keep-days", "2", "--keep-failed-days", "7", "--task-results-keep-days", "1")

    assert remaining(delivered + failed) == []
    assert task_results() == set()


def test_the_command_is_silent_at_verbosity_zero(subscription, now):
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now)

    assert prune_command("--verbosity", "0") == []
    assert remaining(old) == []


def test_the_command_refuses_less_than_a_day():
    with pytest.raises(CommandError, match="1 or more"):
        call_command("prune_webhooks", "--keep-days", "0", stdout=StringIO())


# The daily task


def planned() -> list:
    return list(
        DBTaskResult.objects.filter(task_path=PRUNE_TASK)
        .order_by("run_after")
        .values_list("run_after", "queue_name")
    )


def test_runs_are_at_half_past_three_local_time():
    at = datetime(2026, 6, 30, 3, 29, tzinfo=SHANGHAI)

    assert pruning.next_run(at) == datetime(2026, 6, 30, 3, 30, tzinfo=SHANGHAI)
    assert pruning.next_run(at + timedelta(minutes=1)) == datetime(
        2026, 7, 1, 3, 30, tzinfo=SHANGHAI
    )


def test_the_daily_task_plans_the_next_day_once_and_prunes(subscription, monkeypatch):
    now = datetime(2026, 6, 30, 3, 30, 2, tzinfo=SHANGHAI)
    old = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now)
    monkeypatch.setattr(timezone, "now", lambda: now)

    # Two runs at once (two chains, two workers): one next run, each row deleted once.
    outcomes = [prune_daily.call(), prune_daily.call()]

    assert [o["delivered"] for o in outcomes] == [1, 0]
    assert remaining(old) == []
    assert planned() == [(datetime(2026, 7, 1, 3, 30, tzinfo=SHANGHAI), "maintenance")]
    assert PruneRun.objects.get().task_id == str(DBTaskResult.objects.get().id)


def test_a_run_that_fails_has_planned_the_next_already(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(pruning, "prune", broken)

    with pytest.raises(RuntimeError):
        prune_daily.call()

    assert len(planned()) == 1


def test_planned_runs_are_forgotten_after_a_week():
    start = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
    pruning.schedule_next_run(now=start)

    pruning.schedule_next_run(now=start + timedelta(days=8))

    assert PruneRun.objects.count() == 1


def test_the_schedule_option_starts_the_chain_once():
    first, again = prune_command("--schedule"), prune_command("--schedule")

    assert first[0].startswith("Pruning: planned a run at ")
    assert again[0].endswith("is planned already.")
    assert len(planned()) == 1


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_plans_the_pruning_before_it_starts_the_worker():
    dry = subprocess.run(  # noqa: S603 (a fixed command)
        ["make", "-n", "run"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    assert "manage.py prune_webhooks --schedule" in dry
    assert dry.index("prune_webhooks --schedule") < dry.index("db_worker")


# Two at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections at once")
def test_a_pruning_skips_the_rows_another_holds_and_deletes_each_once(manager, now):
    subscription = services.create_subscription(owner=manager, url=URL)
    held = deliveries(subscription, DeliveryState.DELIVERED, days_ago=50, now=now, count=2)
    others = deliveries(subscription, DeliveryState.DELIVERED, days_ago=40, now=now, count=3)
    locked, release, errors = threading.Event(), threading.Event(), []

    def another_pruning():
        """Holds a batch's locks on the oldest two, as a pruning in the middle of a batch."""
        try:
            with transaction.atomic():
                list(Delivery.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(timeout=30)
                pruning.delete_deliveries(pruning.DELIVERED, now - timedelta(days=30), 10)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=another_pruning)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        mine = pruning.prune(now=now)  # not blocked: it skips the two held
    finally:
        release.set()
        thread.join(timeout=30)

    assert errors == [] and not thread.is_alive()
    assert mine.delivered == 3
    assert remaining(held + others) == []
