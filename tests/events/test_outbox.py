"""The outbox: every change worth announcing writes its event in the change's own transaction,
carrying the object as the API shows it; a refused or rolled-back change writes none."""

from datetime import date

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.choices import EventType
from events.models import Event
from recommendations import services
from recommendations.choices import Status
from recommendations.reports.snapshots import publish_report
from review import services as review
from tests.conftest import TODAY
from tests.factories import EvidenceFactory, MeasureFactory
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


def record(measure, **fields):
    values = {
        "status": Status.IN_PROGRESS,
        "progress": 40,
        "effective_date": date(2026, 3, 1),
        "note": "Pilots in two banks",
        "by": None,
        "today": TODAY,
    }
    return services.record_status_update(measure=measure, **{**values, **fields})


def events_of(kind):
    return list(Event.objects.filter(type=kind).order_by("id"))


def test_a_recorded_update_writes_its_event_with_the_api_s_representation(analyst_api):
    measure = MeasureFactory()
    Event.objects.all().delete()  # the factory's first entry announced itself

    update = record(measure)

    (event,) = Event.objects.all()
    assert (event.type, event.measure_id, event.pillar_id) == (
        EventType.STATUS_UPDATE_RECORDED,
        measure.pk,
        measure.pillar_id,
    )
    shown = analyst_api.get(reverse("status-update-detail", args=[update.pk])).json()
    # The same object the API shows, its links built against PUBLIC_URL.
    assert event.payload == {
        **shown,
        "url": f"http://127.0.0.1:8000/api/v1/status-updates/{update.pk}/",
    }
    assert event.envelope()["id"] == f"evt_{event.pk}"


def test_a_refused_update_writes_no_event():
    measure = MeasureFactory()
    before = Event.objects.count()

    with pytest.raises(Exception):  # noqa: B017, PT011 (any refusal: the rule is not the point)
        record(measure, status=Status.IMPLEMENTED, progress=100)  # no supporting evidence

    assert Event.objects.count() == before


def test_a_change_rolled_back_leaves_no_event():
    measure = MeasureFactory()
    before = Event.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        record(measure)
        raise RuntimeError("the caller's transaction fails after the update")

    assert Event.objects.count() == before


def test_a_batch_writes_one_event_per_entry_in_order(analyst_api):
    measures = [MeasureFactory() for _ in range(3)]
    cited = EvidenceFactory()
    Event.objects.all().delete()
    rows = [
        services.NewUpdate(
            measure=m.pk,
            status=Status.PLANNED,
            progress=10 * (i + 1),
            confidence="medium",
            effective_date=date(2026, 2, 1),
            note=f"row {i}",
            evidence=(cited,) if i == 0 else (),
        )
        for i, m in enumerate(measures * 2)
    ]

    results = services.record_status_updates(rows, by=None, today=TODAY)

    events = events_of(EventType.STATUS_UPDATE_RECORDED)
    assert [e.payload["id"] for e in events] == [r.pk for r in results]
    assert [e.payload["note"] for e in events] == [f"row {i}" for i in range(6)]
    assert events[0].payload["evidence"] == [cited.pk]
    for event in events[:2]:
        shown = analyst_api.get(reverse("status-update-detail", args=[event.payload["id"]]))
        assert event.payload == {**shown.json(), "url": event.payload["url"]}


def test_announcing_a_batch_costs_the_same_statements_for_any_size():
    def batch(n):
        measures = [MeasureFactory() for _ in range(n)]
        return [
            services.NewUpdate(
                measure=m.pk,
                status=Status.PLANNED,
                progress=10,
                confidence="medium",
                effective_date=date(2026, 2, 1),
                note="",
                evidence=(),
            )
            for m in measures
        ]

    small, large = batch(2), batch(12)

    with CaptureQueriesContext(connection) as few:
        services.record_status_updates(small, by=None, today=TODAY)
    with CaptureQueriesContext(connection) as many:
        services.record_status_updates(large, by=None, today=TODAY)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert Event.objects.filter(type=EventType.STATUS_UPDATE_RECORDED).count() >= 14


def test_a_measure_edit_announces_the_measure():
    measure = MeasureFactory()

    services.update_measure(measure=measure, changes={"priority": "high"}, by=None)

    created, changed = events_of(EventType.MEASURE_CHANGED)
    assert (created.payload["created"], changed.payload["created"]) == (True, False)
    event = changed
    assert event.payload["measure"]["code"] == measure.code
    assert event.payload["measure"]["priority"] == "high"


def test_a_decision_on_a_proposal_is_announced(reporter, analyst):
    measure = MeasureFactory()
    proposal = propose(measure, reporter)

    review.reject(proposal=proposal, by=analyst, reason="No source for the pilots")

    (event,) = events_of(EventType.PROPOSAL_DECIDED)
    assert (event.measure_id, event.payload["state"]) == (measure.pk, "rejected")


@override_settings(PUBLIC_URL="https://tracker.example.org")
def test_a_published_report_is_announced_with_links_to_the_public_address():
    MeasureFactory()

    snapshot, created = publish_report(since=date(2026, 1, 1), until=date(2026, 3, 31), by=None)

    (event,) = events_of(EventType.REPORT_PUBLISHED)
    assert created and event.payload["id"] == snapshot.pk
    assert event.payload["url"].startswith("https://tracker.example.org/api/v1/reports/")


def test_new_evidence_is_announced_once_and_an_edit_is_not(analyst_api):
    from tests.evidence.test_api import EVIDENCE_LIST, new_evidence_body
    from tests.factories import SourceFactory

    created = analyst_api.post(EVIDENCE_LIST, new_evidence_body(SourceFactory()), format="json")
    analyst_api.patch(
        created["Location"],
        {"claim_en": "A sharper claim"},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )

    (event,) = events_of(EventType.EVIDENCE_ADDED)
    assert created.status_code == 201
    assert event.payload == {**created.json(), "url": event.payload["url"]}
    assert event.payload["claim_en"] == "A claim"
