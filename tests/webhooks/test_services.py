"""Subscriptions and the fan-out: a delivery per event and matching subscription, planned in
the event's own transaction with one statement, whatever the number of subscriptions."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from events.choices import EventType
from events.models import Event
from evidence import services as evidence_services
from recommendations import services as recommendations
from recommendations.choices import Language, Status
from recommendations.services import StaleVersion
from tests.conftest import TODAY
from tests.factories import MeasureFactory, SourceFactory
from tests.webhooks.conftest import record
from webhooks import services
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


def subscription(owner, **fields):
    return services.create_subscription(owner=owner, url=URL, **fields)


def planned(subscription) -> list[tuple[str, int | None]]:
    return [
        (d.event.type, d.measure_id)
        for d in subscription.deliveries.select_related("event").order_by("event_id")
    ]


def test_a_new_subscription_has_a_standard_webhooks_secret(manager):
    made = subscription(manager)

    assert made.secret.startswith("whsec_")
    assert len(made.secret) > len("whsec_") + 32  # 32 random bytes in base64
    assert made.secret != subscription(manager).secret


def test_a_status_update_plans_a_delivery_for_each_active_subscription(manager):
    measure = MeasureFactory()
    everything, paused = subscription(manager), subscription(manager, active=False)

    update = record(measure)

    (delivery,) = everything.deliveries.all()
    assert (delivery.event.payload["id"], delivery.measure_id) == (update.pk, measure.pk)
    assert (delivery.state, delivery.attempt_count) == (DeliveryState.PENDING, 0)
    assert not paused.deliveries.exists()


def test_a_subscription_takes_only_the_event_types_it_names(manager):
    measure = MeasureFactory()
    changes_only = subscription(manager, events=[EventType.MEASURE_CHANGED])

    record(measure)
    recommendations.update_measure(measure=measure, changes={"priority": "high"}, by=None)

    assert planned(changes_only) == [(EventType.MEASURE_CHANGED, measure.pk)]


def test_a_pillar_or_measure_filter_takes_only_their_events(manager):
    first, second = MeasureFactory(), MeasureFactory()
    of_pillar = subscription(manager, pillar=first.pillar)
    of_measure = subscription(manager, measure=second)
    everything = subscription(manager)

    record(first)
    record(second)
    evidence_services.save_evidence(
        evidence=None,
        by=None,
        fields={"source": SourceFactory(), "claim_zh": "证据", "claim_en": "Evidence"},
    )

    assert planned(of_pillar) == [(EventType.STATUS_UPDATE_RECORDED, first.pk)]
    assert planned(of_measure) == [(EventType.STATUS_UPDATE_RECORDED, second.pk)]
    assert [kind for kind, _measure in planned(everything)] == [
        EventType.STATUS_UPDATE_RECORDED,
        EventType.STATUS_UPDATE_RECORDED,
        EventType.EVIDENCE_ADDED,
    ]


def test_an_inactive_owner_s_subscription_gets_nothing(manager, django_user_model):
    owner = django_user_model.objects.create_user("gone", is_active=True)
    theirs = subscription(owner)
    owner.is_active = False
    owner.save()

    record(MeasureFactory())

    assert not theirs.deliveries.exists()


def test_the_fan_out_is_one_statement_whatever_the_number_of_subscriptions(manager):
    measure = MeasureFactory()

    def statements(progress: int) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            record(measure, progress=progress)
        return [q["sql"] for q in queries if "webhooks_" in q["sql"]]

    none = statements(10)
    for _ in range(5):
        subscription(manager)
    five = statements(20)

    assert len(none) == len(five) == 1
    # On PostgreSQL the event's own INSERT writes its deliveries (one statement for both).
    assert none[0].startswith(
        'WITH written AS (INSERT INTO "events_event"'
        if connection.vendor == "postgresql"
        else 'INSERT INTO "webhooks_delivery"'
    )
    assert 'INSERT INTO "webhooks_delivery"' in none[0]
    assert Delivery.objects.count() == 5


def test_a_batch_of_updates_plans_its_deliveries_in_one_statement(manager):
    measures = [MeasureFactory() for _ in range(3)]
    subscription(manager)
    subscription(manager)
    rows = [
        recommendations.NewUpdate(
            measure=m.pk,
            status=Status.PLANNED,
            progress=10,
            confidence="medium",
            effective_date=date(2026, 2, 1),
            note="",
            evidence=(),
        )
        for m in measures
    ]

    with CaptureQueriesContext(connection) as queries:
        recommendations.record_status_updates(rows, by=None, today=TODAY)

    assert sum('INTO "webhooks_delivery"' in q["sql"] for q in queries) == 1
    assert Delivery.objects.count() == 6


def test_a_change_rolled_back_leaves_no_delivery(manager):
    measure = MeasureFactory()
    subscription(manager)

    with pytest.raises(RuntimeError), transaction.atomic():
        record(measure)
        raise RuntimeError("the caller's transaction fails after the update")

    assert not Delivery.objects.exists()


def test_a_delivery_run_is_enqueued_once_the_change_commits(
    manager, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr("webhooks.tasks.enqueue", lambda run_after=None: enqueued.append(1))
    measure = MeasureFactory()

    with django_capture_on_commit_callbacks(execute=True):
        record(measure)  # no subscription: no delivery, nothing to enqueue
    subscription(manager)
    with django_capture_on_commit_callbacks(execute=True):
        record(measure, progress=50)

    assert enqueued == [1]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://example.org/x"}, "url"),
        ({"url": "http://user:pass@example.org/x"}, "url"),
        ({"url": "http://example.org:99999/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"events": ["status.changed"]}, "events"),
        ({"events": ["measure.changed", "measure.changed"]}, "events"),
    ],
)
def test_a_subscription_that_could_not_be_delivered_is_refused(manager, fields, field):
    with pytest.raises(ValidationError) as refused:
        services.create_subscription(owner=manager, **{"url": URL, **fields})

    assert field in refused.value.message_dict
    assert not Subscription.objects.exists()


def test_a_pillar_and_a_measure_together_are_refused(manager):
    measure = MeasureFactory()

    with pytest.raises(ValidationError, match="not both"):
        subscription(manager, pillar=measure.pillar, measure=measure)


def test_the_database_refuses_a_secret_without_its_prefix(manager):
    made = subscription(manager)

    with pytest.raises(IntegrityError):
        Subscription.objects.filter(pk=made.pk).update(secret="plain")


def test_a_stale_version_changes_nothing(manager):
    made = subscription(manager)
    services.update_subscription(subscription=made, changes={"description": "Bank A"})

    with pytest.raises(StaleVersion):
        services.update_subscription(
            subscription=made, changes={"description": "Bank B"}, expected_version=1
        )

    made.refresh_from_db()
    assert (made.description, made.version) == ("Bank A", 2)


def test_pausing_and_resuming_say_when_and_why(manager):
    made = subscription(manager)

    paused = services.update_subscription(subscription=made, changes={"active": False})
    assert paused.paused_at is not None and "owner" in paused.paused_reason
    resumed = services.update_subscription(subscription=made, changes={"active": True})
    assert (resumed.paused_at, resumed.paused_reason) == (None, "")


def test_rotating_the_secret_keeps_the_old_one_signing_for_a_while(manager, settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    made = subscription(manager)
    old = made.secret

    rotated = services.rotate_secret(subscription=made)

    assert rotated.secret != old
    now = rotated.updated_at
    assert rotated.signing_secrets(now) == [rotated.secret, old]
    later = now + timedelta(hours=25)
    assert rotated.signing_secrets(later) == [rotated.secret]


def test_a_subscription_is_in_the_default_language_unless_told_and_changes_language(manager):
    made = subscription(manager)
    chinese = subscription(manager, language="zh")

    changed = services.update_subscription(subscription=made, changes={"language": "zh"})

    assert (made.language, chinese.language, changed.language) == ("en", "zh", "zh")
    with pytest.raises(ValidationError) as refused:
        services.update_subscription(subscription=made, changes={"language": "fr"})
    assert "language" in refused.value.message_dict
    assert Subscription.objects.get(pk=made.pk).language == "zh"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-hans", "zh"), ("zh-cn", "zh"), ("en-us", "en"), ("fr", "en"), (None, "en")],
)
def test_a_requests_language_is_zh_or_en(code, expected):
    assert Language.of(code) == expected


@pytest.mark.parametrize(
    ("language", "subject", "said"),
    [
        ("zh", "Webhook 已暂停：" + URL, "原因：Gone"),
        ("en", "Webhook paused: " + URL, "Why: Gone"),
    ],
)
def test_the_owner_is_told_of_a_pause_in_the_subscriptions_language(
    manager, settings, language, subject, said
):
    settings.LANGUAGE_CODE = "en" if language == "zh" else "zh-hans"  # not the default's
    made = subscription(manager, language=language)
    services.pause_subscription(subscription=made, reason="Gone", now=made.created_at)
    made.refresh_from_db()

    services.tell_owner_paused(made)

    (message,) = mail.outbox
    assert message.to == ["root@example.org"]
    assert message.subject == subject
    assert said in message.body
    assert f"/api/v1/webhooks/{made.pk}/" in message.body


def test_deleting_a_subscription_deletes_its_deliveries_not_the_events(manager):
    made = subscription(manager)
    record(MeasureFactory())
    events = Event.objects.count()

    services.delete_subscription(subscription=made)

    assert not Delivery.objects.exists()
    assert Event.objects.count() == events


def test_a_commit_finds_a_waiting_run_instead_of_queueing_another(
    manager, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    measure = MeasureFactory()
    subscription(manager)
    DBTaskResult.objects.all().delete()

    for progress in (10, 20, 30):
        with django_capture_on_commit_callbacks(execute=True):
            record(measure, progress)

    assert DBTaskResult.objects.filter(queue_name="webhooks").count() == 1


def test_redelivering_a_delivery_pruned_since_it_was_read_says_it_is_gone(manager):
    subscription(manager)
    record(MeasureFactory())
    delivery = Delivery.objects.order_by("id").first()
    Delivery.objects.filter(pk=delivery.pk).delete()

    with pytest.raises(Delivery.DoesNotExist):
        services.redeliver(delivery=delivery)
