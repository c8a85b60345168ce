"""What the webhooks tests share: a receiver on loopback, a manager of webhooks, quick retries,
and helpers that record changes and run the worker in this process."""

from datetime import date

import pytest
from django.utils import timezone

from recommendations import services as recommendations
from recommendations.choices import Status
from tests.conftest import TODAY
from tests.webhooks.receiver import Receiver
from webhooks import services, worker


@pytest.fixture(autouse=True)
def quick_webhooks(settings):
    """Receivers on loopback are allowed; retries come within a fraction of a second, and an
    attempt gives up after a second."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    settings.WEBHOOK_READ_TIMEOUT = 1
    settings.WEBHOOK_RETRY_FIRST_SECONDS = 0.05
    settings.WEBHOOK_RETRY_MAX_SECONDS = 0.2
    settings.WEBHOOK_LEASE_SECONDS = 10


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def manager(admin_user):
    """A superuser: manages every subscription."""
    admin_user.email = "root@example.org"
    admin_user.save(update_fields=["email"])
    return admin_user


def subscribe(owner, receiver: Receiver, **fields):
    """A subscription of `owner` to `receiver`, whose secret the receiver verifies with."""
    subscription = services.create_subscription(owner=owner, url=receiver.url, **fields)
    receiver.secret = subscription.secret
    return subscription


def record(measure, progress: int = 40, day: date = date(2026, 3, 1), **fields):
    values = {
        "status": Status.IN_PROGRESS,
        "progress": progress,
        "effective_date": day,
        "note": f"Progress {progress}",
        "by": None,
        "today": TODAY,
    }
    return recommendations.record_status_update(measure=measure, **{**values, **fields})


def deliver_until(receiver: Receiver, count: int, *, seconds: float = 20, runs: int = 200) -> bool:
    """Run the worker in this process (retries included) until `receiver` accepted `count`
    deliveries; bounded in runs and time."""
    deadline = timezone.now() + timezone.timedelta(seconds=seconds)
    for _run in range(runs):
        worker.run(seconds=5)
        if len(receiver.accepted()) >= count or timezone.now() > deadline:
            break
        receiver.wait_until(lambda: False, 0.05)  # let a retry come due
    return len(receiver.accepted()) >= count
