"""Rules that hold for every row are database constraints: they stop writes that bypass the
services too."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from tests.factories import MeasureFactory, PillarFactory

pytestmark = pytest.mark.django_db


def insert_update(measure, **fields):
    values = {
        "status": Status.IN_PROGRESS,
        "progress": 50,
        "confidence": "medium",
        "effective_date": date(2026, 1, 1),
        "recorded_at": timezone.now(),
        **fields,
    }
    with transaction.atomic():
        StatusUpdate.objects.create(measure=measure, **values)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "finished"},
        {"progress": 101},
        {"progress": None},
        {"status": Status.NOT_ASSESSED, "progress": 0, "confidence": ""},
        {"status": Status.NOT_STARTED, "progress": 5},
        {"status": Status.IMPLEMENTED, "progress": 99},
        {"confidence": ""},
        {"confidence": "certain"},
        {"status": Status.NOT_ASSESSED, "progress": None, "confidence": "high"},
    ],
    ids=lambda fields: ",".join(f"{k}={v}" for k, v in fields.items()),
)
def test_the_database_refuses_a_status_update_that_breaks_a_rule(fields):
    measure = MeasureFactory()

    with pytest.raises(IntegrityError):
        insert_update(measure, **fields)

    assert measure.status_updates.count() == 1


def test_the_database_accepts_a_valid_status_update():
    measure = MeasureFactory()

    insert_update(measure, status=Status.IMPLEMENTED, progress=100)

    assert measure.status_updates.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "finished"},
        {"status": Status.IN_PROGRESS, "progress": 150},
        {"status": Status.IN_PROGRESS, "progress": None},
        {"priority": "urgent"},
        {"review_every_days": 0},
    ],
    ids=lambda fields: ",".join(f"{k}={v}" for k, v in fields.items()),
)
def test_the_database_refuses_a_measure_state_that_breaks_a_rule(fields):
    measure = MeasureFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Measure.objects.filter(pk=measure.pk).update(**fields)

    measure.refresh_from_db()
    assert measure.status == Status.NOT_ASSESSED


def test_measure_codes_are_unique():
    MeasureFactory(code="3.2")

    with pytest.raises(IntegrityError), transaction.atomic():
        Measure.objects.create(pillar=PillarFactory(), code="3.2", title_zh="重复", title_en="Dup")


def test_pillar_numbers_are_unique():
    PillarFactory(number=3)

    with pytest.raises(IntegrityError), transaction.atomic():
        PillarFactory._meta.model.objects.create(
            number=3, title_zh="x", title_en="x", aim_zh="x", aim_en="x"
        )
