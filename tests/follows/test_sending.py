"""Sending: each due digest goes once per period, as plain text with an HTML alternative, to
the reader's address, in the reader's language; nothing to say, no e-mail; a refusal by the
mail server is tried again by the next run; a claim is never sent twice, by two runs or by two
workers at once."""

import threading
from datetime import date, datetime

import pytest
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from follows import services
from follows.choices import DigestState, Frequency
from follows.models import DigestSent, DigestSettings
from follows.selectors import due_recipients
from recommendations.choices import Status
from tests.factories import MeasureFactory

from .conftest import SEND_DAY, SHANGHAI, YESTERDAY, follow, happening_at, record, subscribe

pytestmark = pytest.mark.django_db


def send(**kwargs):
    return services.send_due_digests(today=SEND_DAY, **kwargs)


@pytest.fixture
def news(follower):
    """Something changed yesterday in what the follower follows."""
    measure = MeasureFactory(code="3.2", title_en="Promote privacy")
    follow(follower, measure=measure)
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10)
    return measure


def test_a_due_digest_is_sent_as_text_and_html_to_the_reader(follower, news):
    outcomes = send()

    [message] = mail.outbox
    assert message.to == ["fay@example.org"]
    assert message.subject == "Policy tracker: what changed on 2026-06-29"
    assert "3.2 Promote privacy" in message.body
    [(html, kind)] = message.alternatives
    assert kind == "text/html" and "<h3" in html
    assert outcomes == {"sent": 1}
    row = DigestSent.objects.get()
    assert (row.state, row.frequency, row.period_start, row.period_end, row.changes) == (
        DigestState.SENT,
        Frequency.DAILY,
        date(2026, 6, 29),
        date(2026, 6, 29),
        1,
    )
    assert row.sent_at is not None and row.email == "fay@example.org"


def test_the_digest_goes_in_chinese_to_a_chinese_reader(follower, news):
    subscribe(follower, language="zh")

    send()

    [message] = mail.outbox
    assert message.subject == "政策建议落实追踪：2026-06-29 的变化"


def test_sending_twice_sends_once(follower, news):
    first = send()
    second = send()

    assert len(mail.outbox) == 1
    assert (first, second) == ({"sent": 1}, {"skipped": 1})
    assert DigestSent.objects.count() == 1


def test_nothing_to_say_sends_nothing_and_is_remembered(follower):
    follow(follower, measure=MeasureFactory())

    assert send() == {"empty": 1}

    assert mail.outbox == []
    assert DigestSent.objects.get().state == DigestState.EMPTY
    assert send() == {"skipped": 1}


def test_a_weekly_reader_gets_the_week_on_their_day_only_once(follower, news):
    subscribe(follower, frequency=Frequency.WEEKLY, weekday=1)
    with happening_at(datetime(2026, 6, 23, 9, tzinfo=SHANGHAI)):
        record(news, status=Status.IN_PROGRESS, progress=20, day=date(2026, 6, 23))

    monday = services.send_due_digests(today=date(2026, 6, 29))
    tuesday = services.send_due_digests(today=date(2026, 6, 30))

    assert (monday, tuesday) == ({"sent": 1}, {"skipped": 1})
    assert mail.outbox[0].subject == "Policy tracker: what changed from 2026-06-22 to 2026-06-28"


def test_off_no_follows_no_address_or_an_inactive_account_get_nothing(
    follower, news, django_user_model
):
    subscribe(follower, frequency=Frequency.OFF)
    lurker = subscribe(django_user_model.objects.create_user("lurker"))  # follows nothing
    gone = subscribe(django_user_model.objects.create_user("gone", is_active=False))
    follow(gone, measure=news)
    silent = django_user_model.objects.create_user("silent")
    subscribe(silent, email="")
    follow(silent, measure=news)

    outcomes = send()

    assert mail.outbox == []
    assert outcomes == {"skipped": 1}  # silent: no address to send to
    assert lurker.pk not in DigestSent.objects.values_list("user", flat=True)


def test_a_new_follower_waits_for_the_next_full_period(follower, news):
    DigestSettings.objects.filter(user=follower).update(
        created_at=datetime(2026, 6, 30, 1, tzinfo=SHANGHAI)  # after the 29th ended
    )

    assert send() == {}
    assert services.send_due_digests(today=date(2026, 7, 1)) == {"empty": 1}


def test_a_refused_digest_is_marked_failed_and_sent_by_the_next_run(follower, news, settings):
    settings.EMAIL_BACKEND = "tests.follows.mailers.RefusingBackend"

    assert send() == {"failed": 1}

    row = DigestSent.objects.get()
    assert (row.state, row.attempts) == (DigestState.FAILED, 1)
    assert "SMTPRecipientsRefused" in row.error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send() == {"sent": 1}
    row.refresh_from_db()
    assert (row.state, row.attempts, row.error) == (DigestState.SENT, 2, "")
    assert len(mail.outbox) == 1


def test_a_digest_refused_too_often_is_given_up(follower, news, settings):
    settings.EMAIL_BACKEND = "tests.follows.mailers.RefusingBackend"
    settings.DIGEST_MAX_ATTEMPTS = 2

    outcomes = [send(), send(), send()]

    assert outcomes == [{"failed": 1}, {"failed": 1}, {"skipped": 1}]
    assert DigestSent.objects.get().attempts == 2


def test_a_digest_left_sending_by_a_stopped_worker_is_never_sent_again(follower, news):
    [recipient] = due_recipients(today=SEND_DAY)
    services.claim_digest(recipient=recipient, now=YESTERDAY)  # the worker stops here

    assert send() == {"skipped": 1}

    assert mail.outbox == []
    assert DigestSent.objects.get().state == DigestState.SENDING


def test_a_claim_taken_in_between_is_not_taken_again(follower, news):
    [stale] = due_recipients(today=SEND_DAY)  # read before another run claims it
    services.send_due_digests(today=SEND_DAY)

    assert services.send_digest(recipient=stale, today=SEND_DAY, now=YESTERDAY) == "skipped"

    assert len(mail.outbox) == 1


def test_choosing_who_is_due_costs_the_same_queries_for_one_reader_or_many(django_user_model, news):
    def due_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            due_recipients(today=SEND_DAY)
        return len(queries)

    one = due_queries()
    for n in range(5):
        reader = subscribe(django_user_model.objects.create_user(f"reader{n}"))
        follow(reader, measure=news)
    services.send_due_digests(today=SEND_DAY)

    # 1: the settings of active followers, with their users; 2: the periods' claims.
    assert one == due_queries() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections at once")
def test_two_workers_at_once_send_each_digest_once(django_user_model):
    readers = []
    measure = MeasureFactory(code="3.2")
    with happening_at(YESTERDAY):
        record(measure, status=Status.PLANNED, progress=10)
    for n in range(6):
        reader = subscribe(django_user_model.objects.create_user(f"reader{n}"))
        follow(reader, measure=measure)
        readers.append(reader)
    start = threading.Barrier(2, timeout=30)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(services.send_due_digests(today=SEND_DAY))
        except Exception as error:  # reported below, with the thread's own traceback lost
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        f"reader{n}@example.org" for n in range(6)
    )
    assert sum(result.get("sent", 0) for result in results) == 6
    assert DigestSent.objects.filter(state=DigestState.SENT).count() == 6
