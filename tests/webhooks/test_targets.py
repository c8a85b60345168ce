"""Receivers on private, loopback, link-local, multicast or reserved addresses are refused
(unless WEBHOOK_ALLOW_PRIVATE_TARGETS): when a subscription is saved, and again before every
attempt, after resolving the host afresh; the attempt connects to the address checked."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.conftest import authenticated_as
from tests.factories import MeasureFactory
from tests.webhooks.conftest import record
from webhooks import services, targets, worker
from webhooks.choices import DeliveryState
from webhooks.models import Subscription

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # a public address; nothing here connects to it


@pytest.fixture
def private_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.fixture
def dns(monkeypatch):
    """Names resolve as the test says, never through the network."""
    names: dict[str, list[str]] = {}
    system = targets.resolve

    def resolve(host, port):
        return names[host] if host in names else system(host, port)

    monkeypatch.setattr(targets, "resolve", resolve)
    return names


@pytest.mark.usefixtures("private_refused")
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[fc00::1]/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "public"),  # carrier-grade NAT
        ("http://localhost:8000/hook", "loopback"),  # a name that resolves to loopback
    ],
)
def test_a_receiver_on_a_non_public_address_is_refused(manager, url, words):
    with pytest.raises(ValidationError) as refused:
        services.create_subscription(owner=manager, url=url)

    (message,) = refused.value.message_dict["url"]
    assert words in message
    assert not Subscription.objects.exists()


@pytest.mark.usefixtures("private_refused")
def test_the_api_refuses_it_with_a_400_naming_the_address(manager, api):
    response = authenticated_as(api, manager).post(
        reverse("webhook-list"), {"url": "http://169.254.169.254/latest/"}, format="json"
    )

    assert response.status_code == 400
    assert "169.254.169.254" in response.json()["url"][0]


@pytest.mark.usefixtures("private_refused")
def test_a_name_resolving_to_a_public_and_a_private_address_is_refused(manager, dns):
    dns["hooks.example.test"] = [PUBLIC, "10.0.0.7"]

    with pytest.raises(ValidationError, match="10.0.0.7"):
        services.create_subscription(owner=manager, url="https://hooks.example.test/in")


@pytest.mark.usefixtures("private_refused")
def test_a_public_receiver_is_accepted(manager, dns):
    dns["hooks.example.test"] = [PUBLIC]

    services.create_subscription(owner=manager, url="https://hooks.example.test/in")
    services.create_subscription(owner=manager, url=f"http://{PUBLIC}:8443/in")

    assert Subscription.objects.count() == 2


def test_a_name_that_resolves_to_a_private_address_by_delivery_time_gets_nothing(
    manager, receiver, dns, settings
):
    # Saved while the name pointed at a public address; by the time of the attempt it
    # points at the tracker's own network (DNS rebinding).
    measure = MeasureFactory()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    dns["rebind.example.test"] = [PUBLIC]
    subscription = services.create_subscription(
        owner=manager, url=f"http://rebind.example.test:{receiver.port}/hook"
    )
    receiver.secret = subscription.secret
    record(measure)
    dns["rebind.example.test"] = ["127.0.0.1"]

    worker.run()

    delivery = subscription.deliveries.get()
    attempt = delivery.attempts.get()
    assert (attempt.status_code, delivery.state) == (None, DeliveryState.PENDING)
    assert "127.0.0.1" in attempt.error and "loopback" in attempt.error
    assert receiver.received == []


def test_an_attempt_connects_to_the_address_it_checked_and_names_the_host(manager, receiver, dns):
    dns["hooks.example.test"] = ["127.0.0.1"]  # allowed here: tests allow private targets
    measure = MeasureFactory()
    subscription = services.create_subscription(
        owner=manager, url=f"http://hooks.example.test:{receiver.port}/in?x=1"
    )
    receiver.secret = subscription.secret
    record(measure)

    worker.run()

    (got,) = receiver.accepted()
    assert got.verified
    assert got.headers["host"] == f"hooks.example.test:{receiver.port}"


def test_an_ipv6_receiver_gets_its_host_in_brackets():
    target = targets.Target("http", "::1", 8080, "/", "::1")

    assert target.host_header == "[::1]:8080"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org", ("https", "example.org", 443, "/")),
        ("http://example.org:8080/a/b?c=d", ("http", "example.org", 8080, "/a/b?c=d")),
        ("HTTPS://Example.org./x", ("https", "example.org", 443, "/x")),
    ],
)
def test_a_url_is_taken_apart_for_the_attempt(url, expected):
    assert targets.split(url) == expected
