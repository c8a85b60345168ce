"""Webhooks in the admin: made through the service with the secret shown once, each manager's
own subscriptions, pause and resume, deliveries read-only and redelivered, the outbox's
depth for superusers."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import MeasureFactory
from tests.webhooks.conftest import record
from webhooks import services
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def integrator_client(client, analyst):
    analyst.user_permissions.add(Permission.objects.get(codename="manage_subscription"))
    client.force_login(analyst)
    return client


def form(**fields):
    return {"url": URL, "description": "", "pillar": "", "measure": "", "active": "on", **fields}


def test_adding_a_subscription_shows_its_secret_once(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:webhooks_subscription_add"),
        form(description="Bank A", events=["status_update.recorded", "measure.changed"]),
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    subscription = Subscription.objects.get()
    assert subscription.secret in response.content.decode()
    assert (subscription.owner, subscription.events) == (
        admin_user,
        ["status_update.recorded", "measure.changed"],
    )
    change = admin_client.get(reverse("admin:webhooks_subscription_change", args=[subscription.pk]))
    assert subscription.secret not in change.content.decode()


def test_a_refused_url_is_shown_on_its_field(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    response = admin_client.post(
        reverse("admin:webhooks_subscription_add"), form(url="http://10.0.0.8/in")
    )

    assert response.status_code == 200
    assert "private address" in str(response.context["adminform"].form.errors["url"])
    assert not Subscription.objects.exists()


def test_a_manager_sees_only_its_own_subscriptions(integrator_client, analyst, admin_user):
    mine = services.create_subscription(owner=analyst, url=URL, description="mine")
    theirs = services.create_subscription(owner=admin_user, url=URL, description="theirs")

    listed = integrator_client.get(reverse("admin:webhooks_subscription_changelist"))
    other = integrator_client.get(reverse("admin:webhooks_subscription_change", args=[theirs.pk]))

    assert [s.pk for s in listed.context["cl"].result_list] == [mine.pk]
    assert other.status_code == 302  # "does not exist": back to the admin's home
    assert "webhook-outbox" not in listed.content.decode()  # superusers only


def test_an_analyst_without_the_permission_sees_no_webhooks(analyst_client):
    assert analyst_client.get(reverse("admin:webhooks_subscription_changelist")).status_code == 403
    assert analyst_client.get(reverse("admin:webhooks_delivery_changelist")).status_code == 403


def test_changing_a_subscription_goes_through_the_service(admin_client, admin_user):
    subscription = services.create_subscription(owner=admin_user, url=URL)

    response = admin_client.post(
        reverse("admin:webhooks_subscription_change", args=[subscription.pk]),
        form(description="Renamed", active=""),
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.description, subscription.active, subscription.version) == (
        "Renamed",
        False,
        2,
    )
    assert subscription.paused_reason


def test_pausing_and_resuming_from_the_list(admin_client, admin_user):
    subscription = services.create_subscription(owner=admin_user, url=URL)
    url = reverse("admin:webhooks_subscription_changelist")

    admin_client.post(url, {"action": "pause", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert not subscription.active and subscription.paused_at
    admin_client.post(url, {"action": "resume", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.active and subscription.paused_at is None


def test_superusers_see_the_outbox_depth_and_its_oldest_event(admin_client, admin_user):
    measure = MeasureFactory()
    services.create_subscription(owner=admin_user, url=URL)
    record(measure)
    record(measure, 60)

    response = admin_client.get(reverse("admin:webhooks_subscription_changelist"))

    text = response.content.decode()
    assert "2 deliveries wait to be made" in text
    assert "status update recorded" in text


def test_deliveries_are_read_only_and_redelivered(admin_client, admin_user):
    measure = MeasureFactory()
    subscription = services.create_subscription(owner=admin_user, url=URL)
    record(measure)
    delivery = subscription.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, next_attempt_at=None)
    url = reverse("admin:webhooks_delivery_changelist")

    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    admin_client.post(url, {"action": "redeliver", "_selected_action": [delivery.pk]})

    assert page.status_code == 200 and f"evt_{delivery.event_id}" in page.content.decode()
    assert admin_client.get(reverse("admin:webhooks_delivery_add")).status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING


def test_the_home_page_shows_superusers_the_outbox(admin_client, admin_user, analyst_client):
    measure = MeasureFactory()
    services.create_subscription(owner=admin_user, url=URL)
    record(measure)

    home = admin_client.get(reverse("admin:index")).content.decode()

    assert 'id="outbox"' in home
    assert "1 delivery waits to be made" in home
    assert "?state__exact=pending" in home
    analysts_home = analyst_client.get(reverse("admin:index")).content.decode()
    assert 'id="outbox"' not in analysts_home


def test_the_home_page_says_when_the_outbox_is_empty(admin_client):
    home = admin_client.get(reverse("admin:index")).content.decode()

    assert "Every delivery has been made: the outbox is empty." in home
