"""Webhooks in the admin: made through the service with the secret shown once (in the
admin's language), each manager's own subscriptions, pause and resume, a new secret after a
confirmation, deliveries read-only and redelivered, the outbox's depth for superusers."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from tests.factories import MeasureFactory
from tests.webhooks.conftest import record, subscribe
from webhooks import services, worker
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
    return {
        "url": URL,
        "description": "",
        "pillar": "",
        "measure": "",
        "active": "on",
        "language": "en",
        **fields,
    }


def rotate_url(subscription):
    return reverse("admin:webhooks_subscription_rotate_secret", args=[subscription.pk])


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


def test_a_new_subscription_is_in_the_admins_language_and_its_language_changes(
    admin_client, admin_user
):
    add = reverse("admin:webhooks_subscription_add")

    page = admin_client.get(add, HTTP_ACCEPT_LANGUAGE="zh-hans")
    admin_client.post(add, form(language="zh"))
    subscription = Subscription.objects.get()
    admin_client.post(
        reverse("admin:webhooks_subscription_change", args=[subscription.pk]),
        form(language="en"),
    )

    assert page.context["adminform"].form.initial["language"] == "zh"
    assert subscription.language == "zh"
    subscription.refresh_from_db()
    assert subscription.language == "en"


def test_a_new_secret_is_asked_for_and_then_shown_once(admin_client, admin_user):
    subscription = services.create_subscription(owner=admin_user, url=URL, description="Bank A")
    old = subscription.secret
    change = admin_client.get(reverse("admin:webhooks_subscription_change", args=[subscription.pk]))

    asked = admin_client.get(rotate_url(subscription))

    assert rotate_url(subscription) in change.content.decode()
    assert asked.status_code == 200
    assert 'name="version" value="1"' in asked.content.decode()
    assert "24 hours" in asked.content.decode()
    subscription.refresh_from_db()
    assert (subscription.secret, subscription.version, subscription.previous_secret) == (
        old,
        1,
        "",
    )
    assert not LogEntry.objects.exists()

    done = admin_client.post(rotate_url(subscription), {"version": 1})

    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    subscription.refresh_from_db()
    assert subscription.previous_secret == old != subscription.secret
    assert subscription.version == 2
    text = done.content.decode()
    assert f'<code id="webhook-secret">{subscription.secret}</code>' in text
    assert old not in text
    assert 'id="previous-secret-until"' in text
    (entry,) = LogEntry.objects.all()
    assert (entry.object_id, entry.user_id) == (str(subscription.pk), admin_user.pk)
    assert entry.get_change_message() == "Changed secret."
    assert subscription.secret not in entry.change_message and old not in entry.change_message
    history = admin_client.get(
        reverse("admin:webhooks_subscription_history", args=[subscription.pk])
    )
    assert "Changed secret." in history.content.decode()
    assert subscription.secret not in history.content.decode()
    again = admin_client.get(reverse("admin:webhooks_subscription_change", args=[subscription.pk]))
    assert subscription.secret not in again.content.decode()


def test_after_a_new_secret_in_the_admin_deliveries_are_signed_with_both(
    admin_client, manager, receiver
):
    measure = MeasureFactory()
    subscription = subscribe(manager, receiver)
    old = subscription.secret

    admin_client.post(rotate_url(subscription), {"version": subscription.version})
    record(measure)
    worker.run()

    subscription.refresh_from_db()
    (got,) = receiver.accepted()
    assert got.verified  # the receiver still holds the old secret
    assert got.signature.count("v1,") == 2
    headers = {k: got.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    for secret in (subscription.secret, old):
        assert Webhook(secret).verify(got.body, headers)


def test_a_stale_version_gives_no_new_secret_and_says_why(admin_client, admin_user):
    subscription = services.create_subscription(owner=admin_user, url=URL)
    services.update_subscription(subscription=subscription, changes={"description": "Renamed"})
    old = Subscription.objects.get().secret

    response = admin_client.post(rotate_url(subscription), {"version": 1}, follow=True)

    assert response.redirect_chain == [(rotate_url(subscription), 302)]
    text = response.content.decode()
    assert "Nothing was changed" in text and "version 2" in text
    assert 'name="version" value="2"' in text  # the page as it is now, to confirm again
    subscription.refresh_from_db()
    assert (subscription.secret, subscription.version) == (old, 2)
    assert subscription.secret not in text
    assert not LogEntry.objects.exists()


def test_a_page_without_a_version_gives_no_new_secret(admin_client, admin_user):
    subscription = services.create_subscription(owner=admin_user, url=URL)

    response = admin_client.post(rotate_url(subscription), {})

    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.version == 1 and not subscription.previous_secret


def test_only_who_may_change_a_subscription_gives_it_a_new_secret(
    integrator_client, admin_user, analyst
):
    theirs = services.create_subscription(owner=admin_user, url=URL)
    mine = services.create_subscription(owner=analyst, url=URL)

    assert integrator_client.get(rotate_url(theirs)).status_code == 404
    assert integrator_client.post(rotate_url(theirs), {"version": 1}).status_code == 404
    assert integrator_client.get(rotate_url(mine)).status_code == 200
    assert integrator_client.post(rotate_url(mine), {"version": 1}).status_code == 200
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (theirs.version, mine.version) == (1, 2)


@pytest.mark.parametrize("role", ["analyst_client", "viewer_client"])
def test_a_user_without_the_permission_gets_no_new_secret(request, role, admin_user):
    browser = request.getfixturevalue(role)
    subscription = services.create_subscription(owner=admin_user, url=URL)

    assert browser.get(rotate_url(subscription)).status_code == 403
    assert browser.post(rotate_url(subscription), {"version": 1}).status_code == 403
    subscription.refresh_from_db()
    assert subscription.version == 1
