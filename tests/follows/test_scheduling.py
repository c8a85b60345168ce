"""Scheduling: each run of the task plans the next (five past the next hour) before sending;
one run is planned per hour however many try; `schedule_digests` starts the chain and
`send_digests` sends what is due, for cron or by hand."""

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from follows import services
from follows.choices import Frequency
from follows.models import DigestRun, DigestSent
from follows.periods import digest_day, next_run
from follows.tasks import send_due_digests
from recommendations.choices import Status
from tests.factories import MeasureFactory

from .conftest import SHANGHAI, YESTERDAY, follow, happening_at, record, subscribe

pytestmark = pytest.mark.django_db

TASK_PATH = "follows.tasks.send_due_digests"


def planned() -> list:
    return list(
        DBTaskResult.objects.filter(task_path=TASK_PATH)
        .order_by("run_after")
        .values_list("run_after", "queue_name")
    )


@pytest.fixture
def news(follower):
    measure = MeasureFactory(code="3.2")
    follow(follower, measure=measure)
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10)
    return measure


def test_runs_are_five_past_each_hour_and_write_for_the_day_five_minutes_ago():
    at = datetime(2026, 6, 30, 10, 2, tzinfo=SHANGHAI)

    assert next_run(at) == datetime(2026, 6, 30, 10, 5, tzinfo=SHANGHAI)
    assert next_run(at + timedelta(minutes=3)) == datetime(2026, 6, 30, 11, 5, tzinfo=SHANGHAI)
    assert digest_day(datetime(2026, 7, 1, 0, 3, tzinfo=SHANGHAI)).isoformat() == "2026-06-30"
    assert digest_day(datetime(2026, 7, 1, 0, 5, tzinfo=SHANGHAI)).isoformat() == "2026-07-01"


def test_one_run_is_planned_per_hour_however_many_try():
    now = datetime(2026, 6, 30, 10, 2, tzinfo=SHANGHAI)

    first = services.schedule_next_run(now=now)
    again = services.schedule_next_run(now=now + timedelta(minutes=1))

    assert first is not None and again is None
    assert planned() == [(datetime(2026, 6, 30, 10, 5, tzinfo=SHANGHAI), "digests")]
    assert DigestRun.objects.get().task_id == str(DBTaskResult.objects.get().id)


def test_a_run_plans_the_next_then_sends_what_is_due(news, monkeypatch):
    now = datetime(2026, 6, 30, 10, 5, 3, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: now)

    outcomes = send_due_digests.call()

    assert outcomes == {"sent": 1}
    assert len(mail.outbox) == 1
    assert planned() == [(datetime(2026, 6, 30, 11, 5, tzinfo=SHANGHAI), "digests")]


def test_two_runs_at_once_plan_one_next_run_and_send_once(news, monkeypatch):
    now = datetime(2026, 6, 30, 10, 5, 3, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: now)

    outcomes = [send_due_digests.call(), send_due_digests.call()]

    assert outcomes == [{"sent": 1}, {"skipped": 1}]
    assert len(mail.outbox) == 1
    assert len(planned()) == 1


def test_a_run_that_fails_has_planned_the_next_already(news, monkeypatch):
    now = datetime(2026, 6, 30, 10, 5, 3, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: now)

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "send_due_digests", broken)

    with pytest.raises(RuntimeError):
        send_due_digests.call()

    assert len(planned()) == 1


def test_planned_runs_are_forgotten_after_a_week():
    start = datetime(2026, 6, 1, 10, 2, tzinfo=SHANGHAI)
    services.schedule_next_run(now=start)

    services.schedule_next_run(now=start + timedelta(days=8))

    assert DigestRun.objects.count() == 1


def test_the_schedule_command_starts_the_chain_once():
    out = StringIO()

    call_command("schedule_digests", stdout=out)
    call_command("schedule_digests", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Digests: planned a run at ")
    assert lines[1].endswith("is planned already.")
    assert len(planned()) == 1


def test_the_send_command_reports_each_reader_and_sends_once(follower, news):
    out = StringIO()

    call_command("send_digests", "--date", "2026-06-30", stdout=out)
    call_command("send_digests", "--date", "2026-06-30", stdout=out)

    assert out.getvalue().splitlines() == [
        "fay: daily 2026-06-29: sent",
        "Digests as of 2026-06-30: 1 sent.",
        "Digests as of 2026-06-30: 1 skipped.",
    ]
    assert len(mail.outbox) == 1


def test_the_send_command_can_keep_to_one_frequency(follower, news):
    out = StringIO()

    call_command("send_digests", "--period", "weekly", "--date", "2026-06-30", stdout=out)

    assert out.getvalue().splitlines() == ["Digests as of 2026-06-30: none due."]
    assert DigestSent.objects.count() == 0
    subscribe(follower, frequency=Frequency.WEEKLY)
    call_command("send_digests", "--period", "weekly", "--date", "2026-06-30", stdout=out)
    assert DigestSent.objects.get().period_start.isoformat() == "2026-06-22"


def test_the_send_command_refuses_a_date_it_cannot_read():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("send_digests", "--date", "30/06/2026", stdout=StringIO())
