"""The measure list and the feed build their rows without serializers (api/rows.py); they must
give exactly the JSON the serializers give for the same record."""

from datetime import date

import pytest
from django.urls import reverse

from evidence.models import EvidenceMeasure
from recommendations import selectors, services
from recommendations.api.serializers import RecordedStatusUpdateSerializer
from recommendations.choices import Status
from recommendations.models import Measure, MeasureInstitution, MeasureRisk
from tests.conftest import TODAY
from tests.factories import (
    EvidenceFactory,
    InstitutionFactory,
    MeasureFactory,
    PillarFactory,
    RiskFactory,
    ScenarioFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked_history(analyst):
    pillar = PillarFactory(number=4)
    risks = [RiskFactory(order=order) for order in (2, 1, 3)]
    scenarios = [ScenarioFactory(order=order) for order in (3, 1)]
    institutions = [InstitutionFactory() for _ in range(3)]
    for index in range(4):
        measure = MeasureFactory(
            pillar=pillar,
            code=f"4.{index + 1}",
            priority="high" if index else "",
            target_date=date(2026, 12, 31) if index % 2 else None,
        )
        for risk in risks[: index + 1]:
            MeasureRisk.objects.create(measure=measure, risk=risk, rationale_en=f"why {index}")
        measure.scenarios.add(*scenarios[:index])
        for role, institution in zip(
            ("support", "lead", "lead"), institutions[:index], strict=False
        ):
            MeasureInstitution.objects.create(measure=measure, institution=institution, role=role)
        EvidenceMeasure.objects.create(
            measure=measure, evidence=EvidenceFactory(date=None), stance="context"
        )
        if index:
            services.record_status_update(
                measure=measure,
                status=Status.IN_PROGRESS,
                progress=10 * index,
                effective_date=date(2026, 3, index),
                by=analyst,
                today=TODAY,
                evidence=[
                    EvidenceFactory(date=date(2026, 1, index), date_precision="day"),
                    EvidenceFactory(date=None),
                ],
            )
            services.record_status_update(
                measure=measure,
                status=Status.PLANNED,
                progress=5,
                note="back-dated",
                effective_date=date(2026, 2, index),
                by=None,
                today=TODAY,
            )


@pytest.mark.parametrize(
    "params", [{}, {"as_of": "2026-02-15"}, {"as_of": "2026-06-01"}, {"ordering": "-progress"}]
)
def test_the_measure_list_gives_what_the_serializer_gives(analyst_api, linked_history, params):
    listed = analyst_api.get(reverse("measure-list"), {**params, "page_size": 100}).json()

    assert listed["results"]
    for row in listed["results"]:
        detail = analyst_api.get(reverse("measure-detail", args=[row["id"]]), params).json()
        assert row == detail


def test_the_feed_gives_what_the_serializer_gives(analyst_api, linked_history):
    listed = analyst_api.get(reverse("status-update-list"), {"page_size": 100}).json()

    assert any(row["evidence"] for row in listed["results"])
    for row in listed["results"]:
        detail = analyst_api.get(reverse("status-update-detail", args=[row["id"]])).json()
        assert row == detail


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/St_Johns"])
def test_a_moment_reads_as_drfs_datetime_field_writes_it(zone, settings):
    from datetime import UTC, datetime

    from django.utils import timezone
    from rest_framework.fields import DateTimeField

    from recommendations.api.rows import moment

    settings.TIME_ZONE = zone
    with timezone.override(zone):
        for value in (
            datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2025, 12, 31, 16, 0, 0, 1, tzinfo=UTC),
            None,
        ):
            drf = DateTimeField().to_representation(value) if value else None
            assert moment(value, timezone.get_current_timezone()) == drf


def test_the_measure_list_built_once_per_process_shows_each_requests_own_data(
    linked_history, viewer_api, analyst
):
    first = viewer_api.get(reverse("measure-list")).json()["results"]
    code = first[0]["code"]

    services.record_status_update(
        measure=Measure.objects.get(code=code),
        status=Status.IN_PROGRESS,
        progress=77,
        effective_date=date(2026, 4, 1),
        by=analyst,
        today=TODAY,
        note="again",
        evidence=[],
    )
    EvidenceMeasure.objects.create(
        measure=Measure.objects.get(code=code), evidence=EvidenceFactory(), stance="context"
    )
    second = viewer_api.get(reverse("measure-list")).json()["results"]

    assert (second[0]["progress"], second[0]["evidence_count"]) == (
        77,
        first[0]["evidence_count"] + 1,
    )


@pytest.mark.parametrize("key", [None, "rows-key"])
def test_a_recorded_update_gives_what_the_serializer_gives(analyst_api, key):
    measure = MeasureFactory()
    pieces = [
        EvidenceFactory(date=date(2026, 1, 2), date_precision="day"),
        EvidenceFactory(date=None),
        EvidenceFactory(date=date(2026, 1, 5), date_precision="day"),
    ]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

    response = analyst_api.post(
        reverse("measure-status-updates", args=[measure.pk]),
        {
            "status": Status.IMPLEMENTED,
            "progress": 100,
            "effective_date": "2026-03-01",
            "evidence": [piece.pk for piece in pieces],
        },
        format="json",
        **headers,
    )

    # What the service loaded, against the serializer over the rows read back.
    assert response.status_code == 201
    stored = selectors.status_history().get(pk=response.json()["id"])
    context = {"request": response.wsgi_request}
    assert response.json() == RecordedStatusUpdateSerializer(stored, context=context).data
    assert len(response.json()["evidence"]) == 3
