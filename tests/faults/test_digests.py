"""Two real workers (`manage.py db_worker`, separate processes) running two chains of the
digest task at once on PostgreSQL: each reader gets yesterday's digest exactly once, and one
next run is planned, not two."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.serving import ROOT, app_environment, manage, seeded_database

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Fault scenarios need PostgreSQL (DATABASE_URL=postgres://...)",
    ),
]

READERS = 8
# The readers, each following pillar 1 with a daily digest, and a change in pillar 1 that
# happened yesterday (the outbox stamps events with the database's clock: moved back a day).
SETUP = f"""
from datetime import timedelta
from django.contrib.auth.models import Group, User
from django.utils import timezone
from events.models import Event
from follows import services
from follows.models import DigestSettings
from follows.tasks import send_due_digests
from recommendations import services as recommendations
from recommendations.models import Measure, Pillar

today = timezone.localdate()
measure = Measure.objects.filter(pillar__number=1, archived=False).order_by("code").first()
recommendations.record_status_update(
    measure=measure, status="in_progress", progress=30, confidence="medium",
    effective_date=today - timedelta(days=1), note="Pilots", by=None, today=today,
)
Event.objects.update(occurred_at=timezone.now() - timedelta(days=1))
for n in range({READERS}):
    user = User.objects.create_user(f"reader{{n}}", email=f"reader{{n}}@example.org")
    user.groups.add(Group.objects.get(name="viewer"))
    services.follow(user=user, pillar=Pillar.objects.get(number=1))
DigestSettings.objects.update(frequency="daily", created_at=timezone.now() - timedelta(days=30))
# Two chains at once: two runs due now.
send_due_digests.enqueue()
send_due_digests.enqueue()
"""


@pytest.fixture
def database():
    database = seeded_database(f"tracker_digests_{os.getpid()}", Path(tempfile.gettempdir()))
    try:
        yield database
    finally:
        database.drop()


def worker(environment: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "digests",
            "--batch",
            "--no-startup-delay",
            "--no-reload",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def test_two_workers_running_two_chains_send_each_digest_once(database, tmp_path):
    maildir = tmp_path / "mail"
    maildir.mkdir()
    environment = app_environment(
        database.url,
        EMAIL_BACKEND="tests.follows.mailers.DirectoryBackend",
        DIGEST_TEST_MAILDIR=str(maildir),
    )
    manage(environment, "shell", "-c", SETUP)

    workers = [worker(environment, tmp_path / f"worker{n}.log") for n in range(2)]
    deadline = time.monotonic() + 120
    for process in workers:
        process.wait(timeout=max(1, deadline - time.monotonic()))

    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(2))
    assert [p.returncode for p in workers] == [0, 0], logs
    sent = sorted(
        line.removeprefix("To: ")
        for message in maildir.iterdir()
        for line in message.read_text().splitlines()
        if line.startswith("To: ")
    )
    assert sent == sorted(f"reader{n}@example.org" for n in range(READERS)), logs
    assert database.rows("SELECT state, COUNT(*) FROM follows_digestsent GROUP BY state") == [
        ("sent", READERS)
    ]
    # Both runs ran; they planned one next run between them.
    assert (
        database.value(
            "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'follows.tasks.send_due_digests' AND status = 'SUCCESSFUL'"
        )
        == 2
    )
    assert (
        database.value(
            "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'follows.tasks.send_due_digests' AND status = 'READY'"
        )
        == 1
    )
