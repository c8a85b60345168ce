"""The real worker: `manage.py db_worker` in a process of its own, on a throwaway database
(PostgreSQL when the tests run on it, a SQLite file otherwise), delivering changes recorded by
another process to a receiver on loopback that verifies every delivery with the reference
implementation. Retries come from the worker re-enqueueing itself: nothing is written after
the changes."""

import os
from collections import defaultdict

import pytest

from tests.serving import seeded_database
from tests.webhooks.processes import Worker, record_updates, subscribe, worker_environment
from tests.webhooks.receiver import Receiver, fail_first


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A migrated, seeded database and the worker's environment."""
    folder = tmp_path_factory.mktemp("webhooks-worker")
    database = seeded_database(f"webhooks_worker_{os.getpid()}", folder)
    environment = worker_environment(database.url)
    try:
        yield environment, folder
    finally:
        database.drop()


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def test_the_worker_delivers_retries_and_keeps_each_measures_order(app, receiver):
    environment, folder = app
    receiver.plan = fail_first(3)
    receiver.secret = subscribe(environment, receiver.url)["secret"]
    written = record_updates(environment, measures=2, per_measure=3, tag="order")
    worker = Worker(environment, folder / "worker.log").start()
    try:
        arrived = receiver.wait_for(len(written), seconds=45)
    finally:
        worker.stop()

    assert arrived, f"{len(receiver.accepted())} of {len(written)} arrived\n{worker.output()}"
    assert all(r.verified for r in receiver.received), [r.error for r in receiver.received]
    accepted = receiver.accepted()
    assert sorted(r.data["data"]["id"] for r in accepted) == sorted(w["update"] for w in written)
    by_measure = defaultdict(list)
    for r in accepted:
        by_measure[r.measure].append(r.data["data"]["id"])
    for measure, updates in by_measure.items():
        assert updates == sorted(updates), measure
    # The three failures were retried with the same webhook-ids; nothing arrived twice.
    assert len(receiver.received) == len(written) + 3
    assert len({r.webhook_id for r in accepted}) == len(written)
