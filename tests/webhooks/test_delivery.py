"""The worker, run in this process, delivering to a receiver on loopback that verifies every
delivery with the reference implementation (standardwebhooks): signatures, retries with the
same webhook-id, order per measure, no redirect followed, bounded answers, giving up, leases,
and the next run planned without any new write."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import MeasureFactory
from tests.webhooks.conftest import deliver_until, record, subscribe
from tests.webhooks.receiver import Receiver, fail_first, parsed
from webhooks import services, worker
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Wakeup
from webhooks.sending import Outcome

pytestmark = pytest.mark.django_db


def states(subscription) -> list[str]:
    return list(subscription.deliveries.order_by("event_id").values_list("state", flat=True))


def test_every_delivery_is_signed_as_the_reference_library_verifies_it(manager, receiver):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    first, second = record(measure, 30), record(measure, 60)

    counts = worker.run()

    assert counts == {"delivered": 2, "attempts": 2}
    got = receiver.accepted()
    assert [r.verified for r in got] == [True, True], [r.error for r in got]
    events = subscription.deliveries.order_by("event_id").values_list("event_id", flat=True)
    assert [r.webhook_id for r in got] == [f"evt_{pk}" for pk in events]
    body = parsed(got[0])
    assert set(body) == {"id", "type", "timestamp", "data"}
    assert (body["id"], body["type"]) == (got[0].webhook_id, "status_update.recorded")
    assert [parsed(r)["data"]["id"] for r in got] == [first.pk, second.pk]
    assert got[0].headers["content-type"] == "application/json"
    assert got[0].headers["user-agent"].startswith("policy-tracker-webhooks/")
    assert got[0].signature.startswith("v1,")
    assert states(subscription) == [DeliveryState.DELIVERED] * 2


def test_each_attempt_is_logged_with_its_status_duration_and_answer(manager, receiver):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)

    worker.run()

    delivery = subscription.deliveries.get()
    (attempt,) = delivery.attempts.all()
    assert (attempt.status_code, attempt.error, attempt.response_body) == (200, "", '{"ok": true}')
    assert attempt.duration_ms >= 0
    assert (delivery.attempt_count, delivery.next_attempt_at) == (1, None)
    assert delivery.delivered_at is not None


def test_only_the_first_kilobyte_of_an_answer_is_kept(manager, receiver):
    receiver.answer_body = b"x" * 5000
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)

    worker.run()

    attempt = subscription.deliveries.get().attempts.get()
    assert (attempt.status_code, len(attempt.response_body)) == (200, 1024)


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(manager, receiver):
    receiver.plan = fail_first(2)
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)

    assert deliver_until(receiver, 1)

    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 3
    assert all(r.verified for r in receiver.received)
    delivery = subscription.deliveries.get()
    assert delivery.state == DeliveryState.DELIVERED
    assert [a.status_code for a in delivery.attempts.order_by("id")] == [503, 503, 200]


def test_each_measure_s_events_arrive_in_order_even_when_attempts_fail(manager, receiver):
    # The first five requests fail, whichever deliveries they are: the heads of both
    # measures fail, and their later events must wait for them.
    receiver.plan = fail_first(5, status=500)
    measures = [MeasureFactory(), MeasureFactory()]
    subscribe(manager, receiver)
    for progress in (10, 20, 30):
        for measure in measures:
            record(measure, progress)

    assert deliver_until(receiver, 6)

    for measure in measures:
        seen = [r for r in receiver.received if r.measure == measure.pk]
        accepted = [r.event_number for r in seen if r.answered == 200]
        assert accepted == sorted(accepted) and len(accepted) == 3
        # No later event of the measure was even sent before the earlier one was accepted.
        for index, request in enumerate(seen):
            earlier = [r for r in seen[:index] if r.event_number < request.event_number]
            assert all(
                any(r.event_number == e.event_number and r.answered == 200 for r in seen[:index])
                for e in earlier
            )


def test_a_redirect_is_not_followed(manager, receiver):
    elsewhere = Receiver().start()
    try:
        receiver.plan = lambda received, number: (307, {"Location": elsewhere.url})
        measure = MeasureFactory()
        subscription = subscribe(manager, receiver)
        record(measure)

        worker.run()

        delivery = subscription.deliveries.get()
        assert delivery.state == DeliveryState.PENDING  # retried later, not redirected
        assert delivery.attempts.get().status_code == 307
        assert elsewhere.received == []
    finally:
        elsewhere.stop()


def test_a_receiver_slower_than_the_read_timeout_is_a_failed_attempt(manager, receiver, settings):
    settings.WEBHOOK_READ_TIMEOUT = 0.3
    receiver.stalls = [2]
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)

    worker.run(seconds=0.1)  # the retry, soon due, is not this test's

    attempt = subscription.deliveries.get().attempts.order_by("id").first()
    assert attempt.status_code is None
    assert "timed out" in attempt.error.lower()


def test_a_receiver_that_is_down_is_a_failed_attempt(manager):
    down = Receiver().start()
    url = down.url
    down.stop()  # nothing listens on that port now
    measure = MeasureFactory()
    subscription = services.create_subscription(owner=manager, url=url)
    record(measure)

    worker.run()

    attempt = subscription.deliveries.get().attempts.get()
    assert attempt.status_code is None and "refused" in attempt.error.lower()


def test_when_retries_run_out_the_delivery_fails_and_the_owner_is_told(
    manager, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_HOURS = 0.3 / 3600  # a schedule of 0.3 seconds
    receiver.plan = lambda received, number: (500, {})
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)

    with django_capture_on_commit_callbacks(execute=True):
        for _run in range(40):
            worker.run(seconds=1)
            if subscription.deliveries.get().state != DeliveryState.PENDING:
                break
            receiver.wait_until(lambda: False, 0.05)

    subscription.refresh_from_db()
    assert states(subscription) == [DeliveryState.FAILED]
    assert not subscription.active
    assert "failed" in subscription.paused_reason and "HTTP 500" in subscription.paused_reason
    (message,) = mail.outbox
    assert message.to == ["root@example.org"]
    assert subscription.url in message.subject
    # Paused: a new change plans nothing for it, and nothing more is attempted.
    record(measure, 60)
    assert subscription.deliveries.count() == 1


def test_resuming_a_paused_subscription_sends_what_waited_in_order(manager, receiver):
    subscription = subscribe(manager, receiver)
    measure = MeasureFactory()
    record(measure, 10)
    record(measure, 20)
    services.update_subscription(subscription=subscription, changes={"active": False})

    worker.run()
    assert receiver.received == []

    services.update_subscription(subscription=subscription, changes={"active": True})
    worker.run()

    assert [r.event_number for r in receiver.accepted()] == sorted(
        subscription.deliveries.values_list("event_id", flat=True)
    )


def test_a_redelivery_starts_a_new_schedule_with_the_same_webhook_id(manager, receiver):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)
    worker.run()
    delivery = subscription.deliveries.get()

    services.redeliver(delivery=delivery)
    worker.run()

    delivery.refresh_from_db()
    assert len(receiver.accepted()) == 2
    assert len(set(receiver.ids())) == 1
    assert (delivery.state, delivery.attempt_count, delivery.schedule_attempts) == (
        DeliveryState.DELIVERED,
        2,
        1,
    )


def test_a_delivery_whose_worker_died_is_attempted_again_once_its_lease_expires(manager, receiver):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)
    now = timezone.now()
    lease, [claimed] = worker.claim(now=now, limit=10)  # a worker takes it, then dies

    assert worker.run() == {}  # leased: nothing to do yet
    Delivery.objects.filter(pk=claimed.pk).update(leased_until=now - timedelta(seconds=1))
    worker.run()

    assert [r.webhook_id for r in receiver.accepted()] == [f"evt_{claimed.event_id}"]
    assert states(subscription) == [DeliveryState.DELIVERED]


def test_an_outcome_after_the_lease_was_taken_over_is_logged_and_changes_nothing(manager, receiver):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)
    now = timezone.now()
    slow_lease, [delivery] = worker.claim(now=now, limit=10)
    later = now + timedelta(seconds=60)
    fast_lease, [same] = worker.claim(now=later, limit=10)  # the lease had expired

    late = worker.record(delivery, slow_lease, Outcome(200, 5), later)

    assert late == "lost"
    fresh = subscription.deliveries.get()
    assert (fresh.state, fresh.lease) == (DeliveryState.PENDING, fast_lease)
    assert fresh.attempts.count() == 1


def test_a_failed_run_plans_the_next_one_for_the_retry_without_any_write(
    manager, receiver, settings
):
    # A retry still ahead when the run ends, however slow the machine.
    settings.WEBHOOK_RETRY_FIRST_SECONDS = 30
    receiver.plan = lambda received, number: (503, {})
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    record(measure)
    DBTaskResult.objects.all().delete()

    worker.run()

    delivery = subscription.deliveries.get()
    wakeup = Wakeup.objects.get()
    assert wakeup.due_at == delivery.next_attempt_at
    # The lease's safety run, planned when the batch was claimed, and this retry's.
    planned = list(
        DBTaskResult.objects.order_by("run_after").values_list("run_after", "queue_name")
    )
    assert planned[0] == (delivery.next_attempt_at, "webhooks")


def test_a_run_with_nothing_pending_plans_nothing(manager, receiver):
    measure = MeasureFactory()
    subscribe(manager, receiver)
    record(measure)
    worker.run()
    DBTaskResult.objects.all().delete()

    worker.run()

    assert not DBTaskResult.objects.exists()


def test_runs_that_see_the_same_retry_plan_it_once(manager, receiver, settings):
    # A retry still ahead when the runs below plan it, however slow the machine.
    settings.WEBHOOK_RETRY_FIRST_SECONDS = 30
    receiver.plan = lambda received, number: (503, {})
    measure = MeasureFactory()
    subscribe(manager, receiver)
    record(measure)
    worker.run()
    DBTaskResult.objects.all().delete()
    Wakeup.objects.update(due_at=None)
    due = Delivery.objects.get().next_attempt_at

    for _ in range(3):
        worker.plan_next(timezone.now(), idle=False)

    assert DBTaskResult.objects.count() == 1
    assert Wakeup.objects.get().due_at == due


def test_a_plan_whose_run_was_lost_is_replaced(manager, receiver, settings):
    settings.WEBHOOK_LEASE_SECONDS = 10
    measure = MeasureFactory()
    subscribe(manager, receiver)
    record(measure)
    now = timezone.now()
    Wakeup.objects.update_or_create(pk=1, defaults={"due_at": now - timedelta(seconds=11)})
    DBTaskResult.objects.all().delete()

    worker.plan_next(now, idle=False)

    assert DBTaskResult.objects.count() == 1


def test_the_command_delivers_what_is_due(manager, receiver):
    from io import StringIO

    from django.core.management import call_command

    measure = MeasureFactory()
    subscribe(manager, receiver)
    record(measure)
    out = StringIO()

    call_command("deliver_webhooks", stdout=out)

    assert '"delivered": 1' in out.getvalue() and '"still_pending": 0' in out.getvalue()
    assert len(receiver.accepted()) == 1


def test_a_batch_of_outcomes_is_recorded_in_three_statements_whatever_its_size(manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    measures = [MeasureFactory() for _ in range(6)]
    services.create_subscription(owner=manager, url="http://127.0.0.1:9/in")
    for measure in measures:
        record(measure)
    now = timezone.now()

    def recorded(limit: int) -> int:
        lease, batch = worker.claim(now=now, limit=limit)
        attempted = [worker.Attempted(d, Outcome(200, 3), now) for d in batch]
        with CaptureQueriesContext(connection) as queries:
            states = worker.record_all(attempted, lease)
        assert states == [DeliveryState.DELIVERED] * limit
        return len(queries)

    # SAVEPOINT, the UPDATE ... FROM (VALUES ...), the INSERT of the attempts, RELEASE.
    assert recorded(1) == recorded(5) == 4


def test_the_command_plans_a_run_for_what_waits_when_none_is_planned(manager, receiver):
    from io import StringIO

    from django.core.management import call_command

    measure = MeasureFactory()
    subscribe(manager, receiver)
    record(measure)
    DBTaskResult.objects.all().delete()  # the run queued after the change was lost
    out = StringIO()

    call_command("deliver_webhooks", "--plan", stdout=out)
    call_command("deliver_webhooks", "--plan", stdout=StringIO())  # planned already

    assert out.getvalue().startswith("next run: ")
    assert DBTaskResult.objects.filter(queue_name="webhooks").count() == 1
    assert receiver.received == []  # --plan sends nothing itself
