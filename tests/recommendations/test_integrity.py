"""What the database itself guarantees about history, whoever writes to it."""

import threading
from datetime import date

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.models import StatusUpdateEvidence
from recommendations import services
from recommendations.choices import Status
from recommendations.integrity import history_maintenance
from recommendations.models import Measure, ReportSnapshot, StatusUpdate
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from tests.conftest import TODAY
from tests.factories import EvidenceFactory, MeasureFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: concurrent writers and TRUNCATE"
)


def record(measure, status=Status.PLANNED, progress=10, day=date(2026, 1, 1), **kwargs):
    return services.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=day,
        by=None,
        today=TODAY,
        **kwargs,
    )


def run_sql(sql, params=None):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


# Append-only in the database


@pytest.fixture
def history_rows(db):
    measure = MeasureFactory()
    update = record(measure, evidence=[EvidenceFactory()])
    snapshot, _ = save_report(
        report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31))
    )
    link = StatusUpdateEvidence.objects.get(status_update=update)
    return {
        "recommendations_statusupdate": update.pk,
        "evidence_statusupdateevidence": link.pk,
        "recommendations_reportsnapshot": snapshot.pk,
    }


TABLES = [
    "recommendations_statusupdate",
    "evidence_statusupdateevidence",
    "recommendations_reportsnapshot",
]


@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_to_update_a_history_row(history_rows, table):
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(f"UPDATE {table} SET id = id WHERE id = %s", [history_rows[table]])


@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_to_delete_a_history_row(history_rows, table):
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(f"DELETE FROM {table} WHERE id = %s", [history_rows[table]])

    assert table_count(table) >= 1


@postgres_only
@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_to_truncate_history(history_rows, table):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks to block it
            cursor.execute(f"TRUNCATE {table} CASCADE")

    assert table_count(table) >= 1


def test_the_orm_cannot_rewrite_history_either(history_rows):
    update = StatusUpdate.objects.get(pk=history_rows["recommendations_statusupdate"])

    with pytest.raises(IntegrityError), transaction.atomic():
        StatusUpdate.objects.filter(pk=update.pk).update(note="rewritten")

    assert StatusUpdate.objects.get(pk=update.pk).note == ""


def test_maintenance_lifts_the_guard_for_one_transaction_only(history_rows):
    table = "recommendations_reportsnapshot"

    with history_maintenance():
        run_sql(f"DELETE FROM {table} WHERE id = %s", [history_rows[table]])
    with pytest.raises(IntegrityError):
        run_sql("DELETE FROM recommendations_statusupdate")

    assert not ReportSnapshot.objects.exists()
    assert StatusUpdate.objects.exists()


def test_appending_history_is_allowed(history_rows):
    measure = Measure.objects.get()

    record(measure, Status.IN_PROGRESS, 30, date(2026, 2, 1))

    assert measure.status_updates.count() == 3


def table_count(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


# All or nothing


@pytest.mark.django_db
def test_a_failure_between_the_history_insert_and_the_state_refresh_leaves_neither(
    monkeypatch,
):
    measure = MeasureFactory()

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(services, "refresh_current_state", crash)
    with pytest.raises(RuntimeError):
        record(measure, Status.IN_PROGRESS, 40, evidence=[EvidenceFactory()])

    measure.refresh_from_db()
    assert (measure.status, measure.version) == (Status.NOT_ASSESSED, 1)
    assert measure.status_updates.count() == 1
    assert not StatusUpdateEvidence.objects.exists()


# No gaps in the feed


def feed_ids(client, cursor_url=None):
    """Every id the feed serves from `cursor_url` (or the start), and where to resume."""
    ids, url = [], cursor_url or reverse("status-update-list")
    params = None if cursor_url else {"page_size": 100}  # a cursor URL carries its own
    resume = None
    while url:
        page = client.get(url, params).json()
        ids += [row["id"] for row in page["results"]]
        resume = page["resume"] or resume
        url, params = page["next"], None
    return ids, resume


class PausedWriters:
    """Writers that record an update and, once its row is inserted, wait for their release
    before committing."""

    def __init__(self, monkeypatch):
        self.original = services.refresh_current_state
        self.events, self.committed = {}, {}
        monkeypatch.setattr(services, "refresh_current_state", self.refresh_then_wait)

    def refresh_then_wait(self, measure, **kwargs):
        refreshed = self.original(measure, **kwargs)
        inserted, release = self.events[threading.current_thread().name]
        inserted.set()
        release.wait(10)
        return refreshed

    def start(self, name, measure):
        self.events[name] = (threading.Event(), threading.Event())
        thread = threading.Thread(target=self.write, args=(name, measure.pk), name=name)
        thread.start()
        return thread, *self.events[name]

    def write(self, name, measure_pk):
        close_old_connections()
        try:
            update = record(
                Measure.objects.get(pk=measure_pk), Status.IN_PROGRESS, 20, date(2026, 2, 1)
            )
            self.committed[name] = update.pk
        finally:
            connection.close()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_that_commits_late_is_never_skipped_by_the_feed(admin_user, monkeypatch):
    """Writer A inserts first and commits last; writer B starts after A's insert. Without
    serialisation B would take a higher id and commit first, a reader would page past it,
    and A's row would never be served. With it, B waits for A, so ids commit in order."""
    first, second = MeasureFactory(), MeasureFactory()
    reader = APIClient()
    reader.force_authenticate(admin_user)
    _, cursor = feed_ids(reader)
    writers = PausedWriters(monkeypatch)

    a, a_inserted, a_release = writers.start("A", first)
    assert a_inserted.wait(10)
    b, b_inserted, b_release = writers.start("B", second)
    b_release.set()  # B would commit at once if it could insert
    b_waited = not b_inserted.wait(1.5)
    seen_during, cursor = feed_ids(reader, cursor)
    a_release.set()
    a.join(10)
    b.join(10)
    seen_after, _ = feed_ids(reader, cursor)

    assert b_waited, "B inserted while A held the history lock"
    assert seen_during == []
    assert seen_after == [writers.committed["A"], writers.committed["B"]]
