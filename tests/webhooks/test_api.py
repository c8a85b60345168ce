"""/api/v1/webhooks/: subscriptions managed by superusers and holders of the permission (their
own), the secret shown once, If-Match on writes, deliveries with their attempts, redelivery
and a new secret. Every answer is checked against the OpenAPI schema."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.conftest import authenticated_as
from tests.factories import MeasureFactory
from tests.webhooks.conftest import record, subscribe
from webhooks import services, worker
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, DeliveryAttempt, Subscription

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def root_api(api, manager):
    return authenticated_as(api, manager)


@pytest.fixture
def integrator(analyst):
    """An analyst who may manage webhooks (its own)."""
    analyst.user_permissions.add(Permission.objects.get(codename="manage_subscription"))
    return type(analyst).objects.get(pk=analyst.pk)  # permissions read afresh


def list_url():
    return reverse("webhook-list")


def detail_url(subscription):
    return reverse("webhook-detail", args=[subscription.pk])


def test_creating_a_subscription_shows_its_secret_once(root_api):
    measure = MeasureFactory()

    created = root_api.post(
        list_url(),
        {"url": URL, "events": ["status_update.recorded"], "measure": measure.pk},
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["events"], body["measure"], body["measure_code"]) == (
        URL,
        ["status_update.recorded"],
        measure.pk,
        measure.code,
    )
    assert (body["active"], body["owner"], body["version"]) == (True, "admin", 1)
    assert created["ETag"] == '"1"'
    read = root_api.get(created["Location"])
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert body["secret"] == Subscription.objects.get().secret


def test_a_retry_with_the_same_idempotency_key_replays_the_secret(root_api):
    first = root_api.post(list_url(), {"url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = root_api.post(list_url(), {"url": URL}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] == first.json()["secret"]
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/"}, "url"),
        ({"url": URL, "events": ["nothing.happened"]}, "events[0]"),
        ({"url": URL, "pillar": 999}, "pillar"),
        ({"url": URL, "pillar": "1"}, "pillar"),
        ({"url": URL, "measure": 999999}, "measure"),
        ({"url": URL, "secret": "whsec_mine"}, "secret"),
        ({"url": URL, "colour": "red"}, "colour"),
        ({}, "url"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(root_api, body, field):
    response = root_api.post(list_url(), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Subscription.objects.exists()


def test_a_pillar_is_named_by_its_number(root_api):
    measure = MeasureFactory()

    response = root_api.post(
        list_url(), {"url": URL, "pillar": measure.pillar.number}, format="json"
    )

    assert response.status_code == 201
    assert Subscription.objects.get().pillar == measure.pillar


def test_an_analyst_without_the_permission_is_refused_everything(analyst_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)

    assert analyst_api.get(list_url()).status_code == 403
    assert analyst_api.get(detail_url(subscription)).status_code == 403
    assert analyst_api.post(list_url(), {"url": URL}, format="json").status_code == 403


def test_a_holder_of_the_permission_manages_only_its_own(api, integrator, manager):
    theirs = services.create_subscription(owner=manager, url=URL, description="root's")
    client = authenticated_as(api, integrator)

    created = client.post(list_url(), {"url": URL, "description": "mine"}, format="json")
    listed = client.get(list_url())

    assert created.status_code == 201
    assert [s["description"] for s in listed.json()["results"]] == ["mine"]
    assert client.get(detail_url(theirs)).status_code == 404
    assert client.patch(detail_url(theirs), {"active": False}, format="json").status_code == 404


def test_a_superuser_sees_every_subscription_and_filters_them(root_api, integrator):
    services.create_subscription(owner=integrator, url=URL, description="ana's")
    services.create_subscription(owner=integrator, url=URL, description="paused", active=False)

    everyone = root_api.get(list_url())
    paused = root_api.get(list_url(), {"active": "false", "owner": "ana"})

    assert everyone.json()["count"] == 2
    assert [s["description"] for s in paused.json()["results"]] == ["paused"]
    assert root_api.get(list_url(), {"owner": "nobody"}).status_code == 400


def test_the_list_costs_the_same_queries_for_any_number_of_subscriptions(
    root_api, manager, django_assert_num_queries
):
    measure = MeasureFactory()
    for n in range(4):
        services.create_subscription(owner=manager, url=URL, description=f"s{n}", measure=measure)

    # 1: the change counters (the ETag); 2: COUNT for the page; 3: the page with its owner,
    # pillar and measure.
    with django_assert_num_queries(3):
        response = root_api.get(list_url(), {"page_size": 100})

    assert response.status_code == 200 and response.json()["count"] == 4


# On PostgreSQL the change counters move when a transaction commits.
@pytest.mark.django_db(transaction=True)
def test_an_unchanged_list_is_a_304(root_api, manager):
    services.create_subscription(owner=manager, url=URL)
    first = root_api.get(list_url())

    again = root_api.get(list_url(), HTTP_IF_NONE_MATCH=first["ETag"])
    services.create_subscription(owner=manager, url=URL)
    changed = root_api.get(list_url(), HTTP_IF_NONE_MATCH=first["ETag"])

    assert (again.status_code, changed.status_code) == (304, 200)


def test_a_patch_with_a_stale_if_match_is_a_412_and_changes_nothing(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)
    services.update_subscription(subscription=subscription, changes={"description": "v2"})

    response = root_api.patch(
        detail_url(subscription), {"description": "v3"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    subscription.refresh_from_db()
    assert subscription.description == "v2"


def test_pausing_and_resuming_through_the_api(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)

    paused = root_api.patch(
        detail_url(subscription), {"active": False}, format="json", HTTP_IF_MATCH='"1"'
    )
    resumed = root_api.patch(detail_url(subscription), {"active": True}, format="json")

    assert paused.status_code == 200 and paused["ETag"] == '"2"'
    assert (paused.json()["active"], paused.json()["paused_reason"]) == (
        False,
        "Paused by its owner.",
    )
    assert (resumed.json()["active"], resumed.json()["paused_at"]) == (True, None)


def test_a_body_read_from_the_api_may_be_sent_back(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)
    body = root_api.get(detail_url(subscription)).json()

    response = root_api.patch(detail_url(subscription), body, format="json")

    assert response.status_code == 200, response.json()


def test_deleting_a_subscription(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)

    stale = root_api.delete(detail_url(subscription), HTTP_IF_MATCH='"7"')
    deleted = root_api.delete(detail_url(subscription), HTTP_IF_MATCH='"1"')

    assert (stale.status_code, deleted.status_code) == (412, 204)
    assert not Subscription.objects.exists()


def test_a_put_is_not_served(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)

    assert root_api.put(detail_url(subscription), {"url": URL}, format="json").status_code == 405


# Deliveries


def deliveries_url(subscription):
    return reverse("webhook-deliveries", args=[subscription.pk])


def test_deliveries_show_their_attempts_newest_first(root_api, manager, receiver):
    measure = MeasureFactory()
    receiver.plan = lambda received, number: (502 if number == 1 else 200, {})
    subscription = subscribe(manager, receiver)
    record(measure)
    worker.run()
    Delivery.objects.update(next_attempt_at=Delivery.objects.get().next_attempt_at)
    for _ in range(20):
        worker.run()
        if receiver.accepted():
            break
        receiver.wait_until(lambda: False, 0.05)

    response = root_api.get(deliveries_url(subscription))

    assert response.status_code == 200
    (delivery,) = response.json()["results"]
    assert delivery["event"]["id"] == f"evt_{Delivery.objects.get().event_id}"
    assert delivery["event"]["type"] == "status_update.recorded"
    assert (delivery["state"], delivery["attempt_count"]) == ("delivered", 2)
    assert [a["status_code"] for a in delivery["attempts"]] == [200, 502]


def test_the_deliveries_list_costs_the_same_queries_for_any_number(
    root_api, manager, django_assert_num_queries
):
    measure = MeasureFactory()
    subscription = services.create_subscription(owner=manager, url=URL)
    for progress in (10, 20, 30, 40):
        record(measure, progress)
    for delivery in Delivery.objects.all():
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery=delivery,
                attempted_at=delivery.created_at,
                status_code=500,
                duration_ms=3,
            )
            for _ in range(3)
        )

    # 1: the subscription, if the user manages it; 2: COUNT; 3: the page with each event;
    # 4: their attempts, prefetched.
    with django_assert_num_queries(4):
        response = root_api.get(deliveries_url(subscription), {"page_size": 100})

    assert response.status_code == 200 and response.json()["count"] == 4


def test_deliveries_filter_by_state(root_api, manager):
    measure = MeasureFactory()
    subscription = services.create_subscription(owner=manager, url=URL)
    record(measure)
    record(measure, 60)
    Delivery.objects.filter(pk=Delivery.objects.order_by("id").first().pk).update(
        state=DeliveryState.DELIVERED, next_attempt_at=None
    )

    pending = root_api.get(deliveries_url(subscription), {"state": "pending"})
    bad = root_api.get(deliveries_url(subscription), {"state": "lost"})
    unknown = root_api.get(deliveries_url(subscription), {"colour": "red"})

    assert pending.json()["count"] == 1
    assert (bad.status_code, unknown.status_code) == (400, 400)


def test_a_delivery_is_redelivered(root_api, manager):
    measure = MeasureFactory()
    subscription = services.create_subscription(owner=manager, url=URL)
    record(measure)
    delivery = subscription.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, next_attempt_at=None)
    url = reverse("webhook-redeliver", args=[subscription.pk, delivery.pk])

    response = root_api.post(url, {}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "pending"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.schedule_attempts) == (DeliveryState.PENDING, 0)


def test_a_delivery_of_another_subscription_is_a_404(root_api, manager):
    measure = MeasureFactory()
    mine = services.create_subscription(owner=manager, url=URL)
    other = services.create_subscription(owner=manager, url=URL)
    record(measure)
    theirs = other.deliveries.get()

    response = root_api.post(reverse("webhook-redeliver", args=[mine.pk, theirs.pk]))

    assert response.status_code == 404


def test_rotating_the_secret_shows_the_new_one_once(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)
    url = reverse("webhook-rotate-secret", args=[subscription.pk])

    stale = root_api.post(url, HTTP_IF_MATCH='"5"')
    rotated = root_api.post(url, HTTP_IF_MATCH='"1"')

    assert stale.status_code == 412
    assert rotated.status_code == 200 and rotated["ETag"] == '"2"'
    subscription.refresh_from_db()
    assert rotated.json()["secret"] == subscription.secret != subscription.previous_secret


def test_a_subscription_is_made_in_the_requests_language_unless_it_names_one(root_api):
    chinese = root_api.post(list_url(), {"url": URL}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    named = root_api.post(
        list_url(),
        {"url": URL, "language": "en"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    default = root_api.post(list_url(), {"url": URL}, format="json")

    assert [r.status_code for r in (chinese, named, default)] == [201, 201, 201]
    assert [r.json()["language"] for r in (chinese, named, default)] == ["zh", "en", "en"]
    assert list(Subscription.objects.values_list("language", flat=True)) == ["zh", "en", "en"]


def test_a_subscriptions_language_is_changed_and_must_be_one_offered(root_api, manager):
    subscription = services.create_subscription(owner=manager, url=URL)

    changed = root_api.patch(
        detail_url(subscription), {"language": "zh"}, format="json", HTTP_IF_MATCH='"1"'
    )
    # Django's code is not the API's: zh and en, as digests and reports.
    refused = root_api.patch(detail_url(subscription), {"language": "zh-hans"}, format="json")

    assert changed.status_code == 200, changed.json()
    assert (changed.json()["language"], changed["ETag"]) == ("zh", '"2"')
    assert refused.status_code == 400 and "language" in refused.json()
    subscription.refresh_from_db()
    assert (subscription.language, subscription.version) == ("zh", 2)
    assert root_api.get(detail_url(subscription)).json()["language"] == "zh"
