"""Many API clients writing at once, in real threads against PostgreSQL: every answered write
is exactly one history row, each measure's stored state and version agree with its history,
and retries under one Idempotency-Key write once (README, "Rules of the API")."""

import random
import threading
import time
from datetime import date, timedelta

import pytest
from django.db import close_old_connections, connection, connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from evidence import services as evidence_services
from evidence.models import Evidence
from recommendations import services
from recommendations.api import idempotency
from recommendations.api.idempotency import REPLAYED_HEADER
from recommendations.models import IdempotencyKey, Measure, StatusUpdate
from tests.factories import HISTORY_STARTS_ON, EvidenceFactory, MeasureFactory, link_evidence

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only: SQLite lets one writer at a time in, so there is no race to test",
    ),
    pytest.mark.django_db(transaction=True),
]

# Every wait in these tests gives up after this long, so a deadlock fails instead of hanging.
WAIT = 15


@pytest.fixture(autouse=True)
def unthrottled(monkeypatch):
    # Hundreds of requests of one user in a few seconds are the point here, not a flood.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "100000/minute"})


def measure_url(measure_id):
    return reverse("measure-detail", args=[measure_id])


def history_url(measure_id):
    return reverse("measure-status-updates", args=[measure_id])


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def in_thread(target, *args):
    """Run `target` in a thread of its own, with its own database connection, closed at the
    end; return the thread and a list that receives target's result or exception."""
    outcome = []

    def run():
        close_old_connections()
        try:
            outcome.append(target(*args))
        except Exception as error:  # reported by the test, which names the request
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def recomputed_state(measure):
    """The state the measure's history says it is in: its latest entry, ties broken by the
    latest recorded, then the highest id."""
    latest = measure.status_updates.order_by("-effective_date", "-recorded_at", "-id").first()
    return (latest.status, latest.progress, latest.effective_date)


def stored_state(measure):
    return (measure.status, measure.progress, measure.status_effective_date)


# Many writers, few measures


class Writer:
    """One integration: reads a measure's ETag, posts an update with If-Match and, when
    someone else got there first (412), reads again and retries, a bounded number of times."""

    ATTEMPTS = 20
    RETRIES = 40

    def __init__(self, number, user, measure_ids, deadline):
        self.number = number
        self.user = user
        self.measure_ids = measure_ids
        self.deadline = deadline
        self.random = random.Random(number)
        self.answers = []  # (status code, measure id, created id or None)
        self.errors = []  # requests that raised instead of answering

    def body(self, attempt):
        # Any day of the history so far: many updates are back-dated behind the latest one.
        span = (timezone.localdate() - HISTORY_STARTS_ON).days
        day = HISTORY_STARTS_ON + timedelta(self.random.randint(0, span))
        return {
            "status": "in_progress",
            "progress": self.random.randint(1, 99),
            "effective_date": day.isoformat(),
            "confidence": "medium",
            "note": f"writer {self.number}, attempt {attempt}",
        }

    def run(self):
        client = client_for(self.user)
        for attempt in range(self.ATTEMPTS):
            measure_id = self.measure_ids[(self.number + attempt) % len(self.measure_ids)]
            body = self.body(attempt)
            for _retry in range(self.RETRIES):
                if time.monotonic() > self.deadline:
                    return
                try:
                    etag = client.get(measure_url(measure_id))["ETag"]
                    response = client.post(
                        history_url(measure_id), body, format="json", HTTP_IF_MATCH=etag
                    )
                except Exception as error:
                    self.errors.append((measure_id, attempt, repr(error)))
                    break
                created = response.json()["id"] if response.status_code == 201 else None
                self.answers.append((response.status_code, measure_id, created))
                if response.status_code != 412:
                    break


def test_concurrent_writers_each_get_exactly_one_row_and_state_follows_history(analyst):
    measures = [MeasureFactory(), MeasureFactory(), MeasureFactory()]
    ids = [m.pk for m in measures]
    last_id_before = StatusUpdate.objects.order_by("-id").values_list("id", flat=True).first()
    deadline = time.monotonic() + 20
    writers = [Writer(number, analyst, ids, deadline) for number in range(8)]

    threads = [in_thread(writer.run)[0] for writer in writers]
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic() + 5))

    assert not any(thread.is_alive() for thread in threads), "a writer is still running"
    answers = [answer for writer in writers for answer in writer.answers]
    errors = [error for writer in writers for error in writer.errors]
    codes = sorted({code for code, _, _ in answers})
    created = [pk for code, _, pk in answers if code == 201]
    new_rows = set(StatusUpdate.objects.filter(id__gt=last_id_before).values_list("id", flat=True))
    assert errors == []
    assert not [code for code in codes if code >= 500]
    assert set(codes) == {201, 412}, codes  # 412: the writers did race each other
    assert len(created) == len(set(created)) == len(new_rows)
    assert set(created) == new_rows
    assert len(created) >= len(writers)  # every writer got through at least once
    for measure in Measure.objects.filter(pk__in=ids):
        assert measure.version == measure.status_updates.count(), measure.code
        assert stored_state(measure) == recomputed_state(measure), measure.code


# One Idempotency-Key, several retries at once


def post_with_key(user, measure_id, key, body, barrier=None):
    client = client_for(user)
    if barrier is not None:
        barrier.wait(WAIT)
    return client.post(
        history_url(measure_id),
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        HTTP_IF_MATCH='"1"',
    )


BODY = {"status": "in_progress", "progress": 30, "effective_date": "2026-01-15", "note": "Pilot"}


def test_concurrent_retries_with_one_idempotency_key_write_one_row(analyst):
    measure = MeasureFactory()
    barrier = threading.Barrier(5)

    runs = [
        in_thread(post_with_key, analyst, measure.pk, "same-key", BODY, barrier) for _ in range(5)
    ]
    for thread, _ in runs:
        thread.join(WAIT)

    responses = [outcome[0] for _, outcome in runs]
    assert not [r for r in responses if isinstance(r, Exception)], responses
    codes = sorted(r.status_code for r in responses)
    originals = [r for r in responses if r.status_code == 201 and REPLAYED_HEADER not in r]
    replays = [r for r in responses if r.status_code == 201 and REPLAYED_HEADER in r]
    assert set(codes) <= {201, 409}, codes
    assert len(originals) == 1
    assert all(r[REPLAYED_HEADER] == "true" for r in replays)
    assert {r.json()["id"] for r in replays} <= {originals[0].json()["id"]}
    assert measure.status_updates.count() == 2  # the first entry and this one
    assert Measure.objects.get(pk=measure.pk).version == 2


# Writers of one piece of evidence holding one ETag


def patch_evidence(user, evidence_id, figures, barrier):
    client = client_for(user)
    barrier.wait(WAIT)
    return client.patch(
        reverse("evidence-detail", args=[evidence_id]),
        {"figures": figures},
        format="json",
        HTTP_IF_MATCH='"1"',
    )


def test_of_writers_holding_one_evidence_etag_exactly_one_replaces_the_figures(analyst):
    evidence = EvidenceFactory()
    barrier = threading.Barrier(5)
    lists = [
        [{"value": str(n), "measures_zh": "数", "measures_en": f"writer {n}"}] for n in range(5)
    ]

    runs = [in_thread(patch_evidence, analyst, evidence.pk, figures, barrier) for figures in lists]
    for thread, _ in runs:
        thread.join(WAIT)

    responses = [outcome[0] for _, outcome in runs]
    assert not [r for r in responses if isinstance(r, Exception)], responses
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert {r.status_code for r in responses if r not in winners} <= {409, 412}
    stored = Evidence.objects.get(pk=evidence.pk)
    assert stored.version == 2
    assert list(stored.figures.values_list("measures_en", flat=True)) == [
        winners[0].json()["figures"][0]["measures_en"]
    ]


# A retry while the first request is still running


class Gate:
    """Holds the first request inside the service, after its row is inserted and before its
    transaction commits, until released."""

    def __init__(self, monkeypatch):
        self.original = services.refresh_current_state
        self.entered, self.release = threading.Event(), threading.Event()
        monkeypatch.setattr(services, "refresh_current_state", self.wait_then_refresh)

    def wait_then_refresh(self, measure, **kwargs):
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(WAIT)
        return self.original(measure, **kwargs)


def test_a_retry_while_the_first_request_runs_is_a_409_and_writes_nothing(analyst, monkeypatch):
    measure = MeasureFactory()
    gate = Gate(monkeypatch)
    first, first_outcome = in_thread(post_with_key, analyst, measure.pk, "slow-key", BODY)
    assert gate.entered.wait(WAIT), "the first request never reached the service"

    during = post_with_key(analyst, measure.pk, "slow-key", BODY)
    gate.release.set()
    first.join(WAIT)
    after = post_with_key(analyst, measure.pk, "slow-key", BODY)

    original = first_outcome[0]
    assert during.status_code == 409
    assert "still being processed" in during.json()["detail"]
    assert original.status_code == 201 and REPLAYED_HEADER not in original
    assert after.status_code == 201 and after[REPLAYED_HEADER] == "true"
    assert after.json() == original.json()
    assert measure.status_updates.count() == 2
    assert IdempotencyKey.objects.get(key="slow-key").response_status == 201


# A retry that arrives just as the first attempt is refused


class RefusedFirst:
    """Holds the first attempt just before it locks the measure, then lets it find the
    measure changed (a 412, which forgets its key) at the moment a retry has failed to claim
    the key and is about to read it back."""

    def __init__(self, monkeypatch):
        self.lock_measure = services.lock_measure
        self.get_key = idempotency.existing_key
        self.inside, self.go, self.done = threading.Event(), threading.Event(), threading.Event()
        monkeypatch.setattr(services, "lock_measure", self.slow_lock)
        monkeypatch.setattr(idempotency, "existing_key", self.read_key_back)

    def slow_lock(self, *args, **kwargs):
        if not self.inside.is_set():  # the first attempt only
            self.inside.set()
            self.go.wait(WAIT)
        return self.lock_measure(*args, **kwargs)

    def read_key_back(self, user, key):
        self.go.set()
        self.done.wait(WAIT)
        return self.get_key(user, key)

    def first_attempt(self, user, measure_id):
        try:
            return post_with_key(user, measure_id, "racing-key", BODY)
        finally:
            self.done.set()


def test_a_retry_racing_the_refusal_of_the_first_attempt_is_not_a_500(analyst, monkeypatch):
    measure = MeasureFactory()
    race = RefusedFirst(monkeypatch)
    first, first_outcome = in_thread(race.first_attempt, analyst, measure.pk)
    assert race.inside.wait(WAIT)
    services.record_status_update(
        measure=measure, status="planned", progress=10, effective_date=date(2026, 1, 1), by=None
    )
    retry = APIClient(raise_request_exception=False)
    retry.force_authenticate(analyst)

    response = retry.post(
        history_url(measure.pk),
        BODY,
        format="json",
        HTTP_IDEMPOTENCY_KEY="racing-key",
        HTTP_IF_MATCH='"1"',
    )
    first.join(WAIT)

    assert first_outcome[0].status_code == 412
    assert response.status_code in {409, 412}, response.status_code
    assert measure.status_updates.count() == 2  # the first entry and the direct one


# A connection lost while the key is checked


class LostConnection:
    """Cuts the request's database connection right after its Idempotency-Key is claimed,
    as a database restart or a pg_terminate_backend would."""

    def __init__(self, monkeypatch):
        self.claim = idempotency.claim
        monkeypatch.setattr(idempotency, "claim", self.claim_then_cut)

    def claim_then_cut(self, request, key):
        record = self.claim(request, key)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                # Waits until the backend has gone.
                cursor.execute(
                    "SELECT pg_terminate_backend(%s, 5000)",
                    [connection.connection.info.backend_pid],
                )
        finally:
            other.close()
        return record


def test_a_connection_lost_while_checking_the_key_is_a_503_not_a_false_409(analyst, monkeypatch):
    measure = MeasureFactory()
    LostConnection(monkeypatch)

    thread, outcome = in_thread(post_with_key, analyst, measure.pk, "lost-key", BODY)
    thread.join(WAIT)

    response = outcome[0]
    assert not isinstance(response, Exception), response
    assert measure.status_updates.count() == 1
    assert response.status_code == 503, (response.status_code, response.json())
    assert response["Retry-After"] == "1"


# A status update racing the removal of the support it relies on


def someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_implemented_waiting_on_the_removal_of_the_last_support_is_refused(analyst, monkeypatch):
    """An evidence writer has locked the measure to take its only supporting link away (it
    may: the measure is in progress); an update making the measure implemented on the
    strength of that link waits for the lock, and then must find the link gone: the check is
    read after the wait, not as the statement that waited began."""
    measure = MeasureFactory()
    evidence = EvidenceFactory()
    link_evidence(evidence, measure)
    services.record_status_update(
        measure=measure, status="in_progress", progress=60, effective_date=date(2026, 1, 1), by=None
    )
    checked, release = threading.Event(), threading.Event()
    check = evidence_services.check_still_supported

    def check_then_hold(**kwargs):
        check(**kwargs)  # locks the measure
        checked.set()
        release.wait(WAIT)

    monkeypatch.setattr(evidence_services, "check_still_supported", check_then_hold)

    def remove_link():
        return evidence_services.save_evidence(
            evidence=Evidence.objects.get(pk=evidence.pk), fields={}, links={"measures": []}
        )

    def make_implemented():
        body = {"status": "implemented", "progress": 100, "effective_date": "2026-02-01"}
        return client_for(analyst).post(history_url(measure.pk), body, format="json")

    writer, written = in_thread(remove_link)
    assert checked.wait(WAIT), "the evidence writer never locked the measure"
    poster, posted = in_thread(make_implemented)
    deadline = time.monotonic() + WAIT
    while not someone_waits_for_a_lock():
        assert time.monotonic() < deadline, "the update never waited for the measure"
        time.sleep(0.02)
    release.set()
    writer.join(WAIT)
    poster.join(WAIT)

    assert not isinstance(written[0], Exception), written
    response = posted[0]
    assert response.status_code == 400, response.json()
    assert "evidence" in response.json()
    assert Measure.objects.get(pk=measure.pk).status == "in_progress"
