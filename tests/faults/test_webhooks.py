"""Faults under webhook delivery, with the real worker (`manage.py db_worker`) on a throwaway
PostgreSQL database and a receiver on loopback that verifies every delivery with the
reference implementation (standardwebhooks):

- a worker killed (SIGKILL) while the receiver stalls on a delivery: once its lease expires,
  another worker delivers it again, with the same webhook-id;
- the receiver down for a while, then back: everything arrives, in order per measure;
- two workers at once: each delivery is attempted once per attempt of its schedule.

Each scenario is bounded in time (seconds, not minutes)."""

import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.db import connection

from tests.serving import free_port, seeded_database
from tests.webhooks.processes import Worker, record_updates, subscribe, worker_environment
from tests.webhooks.receiver import Receiver, fail_first

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Fault scenarios need PostgreSQL (DATABASE_URL=postgres://...)",
    ),
]


@pytest.fixture(scope="module")
def database(reliability_summary):
    """A migrated, seeded PostgreSQL database of its own, dropped at the end."""
    database = seeded_database(f"tracker_webhook_faults_{os.getpid()}", Path(tempfile.gettempdir()))
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def fresh(database):
    """No subscription or delivery left by an earlier scenario."""
    database.rows("DELETE FROM webhooks_deliveryattempt")
    database.rows("DELETE FROM webhooks_delivery")
    database.rows("DELETE FROM webhooks_subscription")
    database.rows("DELETE FROM django_tasks_database_dbtaskresult")
    database.rows("DELETE FROM webhooks_wakeup")
    return database


@pytest.fixture
def workers(tmp_path):
    """workers(environment, count) starts `count` workers; all are stopped after the test."""
    started: list[Worker] = []

    def start(environment: dict, count: int = 1) -> list[Worker]:
        made = [
            Worker(environment, tmp_path / f"worker-{len(started) + n}.log").start()
            for n in range(count)
        ]
        started.extend(made)
        return made

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(port: int = 0, **fields) -> Receiver:
        receiver = Receiver(**fields).start(port)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def attempts_by_id(database) -> dict[str, int]:
    """webhook-id -> the attempts the database logged for its delivery."""
    return {
        f"evt_{event}": count
        for event, count in database.rows(
            "SELECT d.event_id, count(a.id) FROM webhooks_delivery d "
            "LEFT JOIN webhooks_deliveryattempt a ON a.delivery_id = d.id GROUP BY d.event_id"
        )
    }


def in_order_per_measure(received) -> bool:
    by_measure = defaultdict(list)
    for r in received:
        by_measure[r.measure].append(r.event_number)
    return all(numbers == sorted(numbers) for numbers in by_measure.values())


def test_a_worker_killed_mid_delivery_is_redelivered_with_the_same_webhook_id(
    fresh, workers, receivers, reliability_summary
):
    # The attempt waits on the receiver far longer than it takes to kill the worker; the lease
    # outlasts the attempt's timeouts.
    environment = worker_environment(
        fresh.url, WEBHOOK_READ_TIMEOUT="20", WEBHOOK_LEASE_SECONDS="6"
    )
    receiver = receivers(stalls=[25])
    receiver.secret = subscribe(environment, receiver.url)["secret"]
    [written] = record_updates(environment, measures=1, per_measure=1, tag="killed")
    [first] = workers(environment)

    assert receiver.wait_until(lambda: len(receiver.received) == 1, seconds=20), first.output()
    began = time.monotonic()
    first.kill()
    receiver.release.set()  # the stalled request ends; nobody reads its answer
    [second] = workers(environment)
    redelivered = receiver.wait_until(lambda: len(receiver.received) == 2, seconds=30)
    waited = round(time.monotonic() - began, 1)

    assert redelivered, second.output()
    one, two = receiver.received
    assert one.webhook_id == two.webhook_id and one.verified and two.verified
    assert two.data["data"]["id"] == written["update"]
    assert fresh.value("SELECT state FROM webhooks_delivery") == "delivered"
    # The killed attempt left no record; the one that succeeded did.
    assert attempts_by_id(fresh) == {two.webhook_id: 1}
    reliability_summary["webhooks_worker_killed"] = {
        "redelivered_after_seconds": waited,
        "lease_seconds": 6,
        "webhook_id": two.webhook_id,
    }


def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    fresh, workers, receivers, reliability_summary
):
    environment = worker_environment(fresh.url)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    secret = subscribe(environment, url)["secret"]
    written = record_updates(environment, measures=3, per_measure=4, tag="down")
    workers(environment)

    time.sleep(3)  # every attempt meanwhile is refused: nothing listens
    failed_while_down = fresh.value("SELECT count(*) FROM webhooks_deliveryattempt")
    receiver = receivers(port, secret=secret)
    arrived = receiver.wait_for(len(written), seconds=45)

    assert arrived, f"{len(receiver.accepted())} of {len(written)} arrived"
    assert failed_while_down >= 3
    accepted = receiver.accepted()
    assert all(r.verified for r in receiver.received)
    assert len({r.webhook_id for r in accepted}) == len(accepted) == len(written)
    assert in_order_per_measure(accepted)
    assert fresh.value("SELECT count(*) FROM webhooks_delivery WHERE state <> 'delivered'") == 0
    reliability_summary["webhooks_receiver_down"] = {
        "deliveries": len(written),
        "attempts_refused_while_down": failed_while_down,
    }


def test_two_workers_attempt_each_delivery_once_per_attempt_of_its_schedule(
    fresh, workers, receivers, reliability_summary
):
    environment = worker_environment(fresh.url)
    receiver = receivers(plan=fail_first(6))
    receiver.secret = subscribe(environment, receiver.url)["secret"]
    workers(environment, 2)
    written = record_updates(environment, measures=5, per_measure=6, tag="two")

    arrived = receiver.wait_for(len(written), seconds=60)

    assert arrived, f"{len(receiver.accepted())} of {len(written)} arrived"
    time.sleep(1)  # nothing more should come
    assert all(r.verified for r in receiver.received)
    sent = Counter(r.webhook_id for r in receiver.received)
    assert sum(sent.values()) == len(written) + 6
    assert sent == Counter(attempts_by_id(fresh))  # each attempt logged, none repeated
    accepted = receiver.accepted()
    assert len({r.webhook_id for r in accepted}) == len(accepted) == len(written)
    assert in_order_per_measure(accepted)
    reliability_summary["webhooks_two_workers"] = {
        "deliveries": len(written),
        "attempts": sum(sent.values()),
        "failures_planned": 6,
    }
