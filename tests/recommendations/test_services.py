from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import ProtectedError
from django.utils import timezone

from recommendations import selectors, services
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from recommendations.services import StaleVersion
from tests.conftest import TODAY
from tests.factories import EvidenceFactory, MeasureFactory, link_evidence

pytestmark = pytest.mark.django_db


def record(measure, *, status, progress, effective_date=date(2026, 1, 15), note="", **kwargs):
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("by", None)
    return services.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=effective_date,
        note=note,
        **kwargs,
    )


def state(measure):
    measure.refresh_from_db()
    return measure.status, measure.progress, measure.status_effective_date, measure.version


def test_a_new_measure_starts_its_history_not_assessed():
    measure = MeasureFactory(starts_on=date(2025, 4, 15))

    history = list(measure.status_updates.values_list("status", "progress", "effective_date"))

    assert history == [(Status.NOT_ASSESSED, None, date(2025, 4, 15))]
    assert state(measure) == (Status.NOT_ASSESSED, None, date(2025, 4, 15), 1)


def test_a_history_cannot_start_in_the_future():
    measure = Measure(pillar=MeasureFactory().pillar, code="9.9", title_zh="新", title_en="New")

    with pytest.raises(ValidationError) as error:
        services.create_measure(measure=measure, starts_on=date(2026, 7, 1), today=TODAY)

    assert "cannot start in the future" in str(error.value.message_dict["starts_on"])
    assert not Measure.objects.filter(code="9.9").exists()


def test_recording_an_update_refreshes_the_current_state_and_bumps_the_version(analyst):
    measure = MeasureFactory()

    update = record(
        measure, status=Status.IN_PROGRESS, progress=40, by=analyst, effective_date=date(2026, 3, 1)
    )

    assert state(measure) == (Status.IN_PROGRESS, 40, date(2026, 3, 1), 2)
    assert update.recorded_by == analyst
    assert update.confidence == "medium"


def test_a_back_dated_update_leaves_the_later_state_current():
    measure = MeasureFactory()
    record(measure, status=Status.IN_PROGRESS, progress=50, effective_date=date(2026, 5, 1))

    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 2, 1))

    assert state(measure) == (Status.IN_PROGRESS, 50, date(2026, 5, 1), 3)
    assert measure.status_updates.count() == 3


def test_a_back_dated_update_later_than_the_current_one_becomes_current():
    measure = MeasureFactory()
    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 2, 1))

    record(measure, status=Status.IN_PROGRESS, progress=30, effective_date=date(2026, 3, 1))

    assert state(measure)[:3] == (Status.IN_PROGRESS, 30, date(2026, 3, 1))


def test_of_two_updates_effective_the_same_day_the_later_recorded_is_current():
    measure = MeasureFactory()
    record(measure, status=Status.IN_PROGRESS, progress=20, effective_date=date(2026, 3, 1))

    record(measure, status=Status.IN_PROGRESS, progress=35, effective_date=date(2026, 3, 1))

    assert state(measure)[:2] == (Status.IN_PROGRESS, 35)


@pytest.mark.parametrize(
    ("status", "progress", "field", "message"),
    [
        (Status.NOT_ASSESSED, None, "status", "first entry"),
        (Status.IN_PROGRESS, None, "progress", "Give the progress"),
        (Status.IN_PROGRESS, 101, "progress", "from 0 to 100"),
        (Status.IN_PROGRESS, -1, "progress", "from 0 to 100"),
        (Status.NOT_STARTED, 10, "progress", "0%"),
        (Status.IMPLEMENTED, 90, "progress", "100%"),
        ("finished", 100, "status", "not a known status"),
    ],
)
def test_an_update_that_breaks_a_rule_of_state_writes_nothing(status, progress, field, message):
    measure = MeasureFactory()
    before = state(measure)

    with pytest.raises(ValidationError) as error:
        record(measure, status=status, progress=progress)

    assert message in " ".join(error.value.message_dict[field])
    assert state(measure) == before
    assert measure.status_updates.count() == 1


def test_implemented_without_evidence_writes_nothing():
    measure = MeasureFactory()

    with pytest.raises(ValidationError) as error:
        record(measure, status=Status.IMPLEMENTED, progress=100)

    assert "evidence" in error.value.message_dict
    assert measure.status_updates.count() == 1


def test_implemented_with_evidence_on_the_update_is_recorded_with_it():
    measure = MeasureFactory()
    proof = EvidenceFactory()

    update = record(measure, status=Status.IMPLEMENTED, progress=100, evidence=[proof])

    assert list(update.evidence.all()) == [proof]
    assert state(measure)[:2] == (Status.IMPLEMENTED, 100)


def test_implemented_with_supporting_evidence_on_the_measure_is_recorded():
    measure = MeasureFactory()
    link_evidence(EvidenceFactory(), measure, stance="supports")

    record(measure, status=Status.IMPLEMENTED, progress=100)

    assert state(measure)[0] == Status.IMPLEMENTED


def test_evidence_that_only_gives_context_does_not_show_implementation():
    measure = MeasureFactory()
    link_evidence(EvidenceFactory(), measure, stance="context")

    with pytest.raises(ValidationError, match="evidence"):
        record(measure, status=Status.IMPLEMENTED, progress=100)


def test_an_update_effective_in_the_future_writes_nothing():
    measure = MeasureFactory()

    with pytest.raises(ValidationError) as error:
        record(measure, status=Status.PLANNED, progress=5, effective_date=date(2026, 7, 1))

    assert "future" in error.value.message_dict["effective_date"][0]
    assert measure.status_updates.count() == 1


def test_an_update_effective_today_is_allowed():
    measure = MeasureFactory()

    record(measure, status=Status.PLANNED, progress=5, effective_date=TODAY)

    assert state(measure)[2] == TODAY


def test_an_update_before_the_history_starts_writes_nothing():
    measure = MeasureFactory(starts_on=date(2025, 4, 15))

    with pytest.raises(ValidationError) as error:
        record(measure, status=Status.PLANNED, progress=5, effective_date=date(2025, 4, 14))

    assert "starts on 2025-04-15" in error.value.message_dict["effective_date"][0]
    assert measure.status_updates.count() == 1


def test_a_regression_without_a_note_writes_nothing():
    measure = MeasureFactory()
    record(
        measure,
        status=Status.IMPLEMENTED,
        progress=100,
        evidence=[EvidenceFactory()],
        effective_date=date(2026, 3, 1),
    )

    with pytest.raises(ValidationError) as error:
        record(
            measure,
            status=Status.IN_PROGRESS,
            progress=60,
            note="  ",
            effective_date=date(2026, 4, 1),
        )

    assert "back to" in error.value.message_dict["note"][0]
    assert state(measure)[:2] == (Status.IMPLEMENTED, 100)
    assert measure.status_updates.count() == 2


def test_a_regression_with_a_note_is_recorded():
    measure = MeasureFactory()
    record(
        measure, status=Status.PARTIALLY_IMPLEMENTED, progress=70, effective_date=date(2026, 3, 1)
    )

    record(
        measure,
        status=Status.PLANNED,
        progress=20,
        note="Pilot cancelled; re-planning.",
        effective_date=date(2026, 4, 1),
    )

    assert state(measure)[:2] == (Status.PLANNED, 20)


def test_a_back_dated_update_is_judged_against_the_state_on_its_date():
    measure = MeasureFactory()
    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 2, 1))
    record(
        measure, status=Status.PARTIALLY_IMPLEMENTED, progress=70, effective_date=date(2026, 5, 1)
    )

    # In force on 2026-03-01 was "planned": moving to "in progress" then is progress, not a
    # regression from today's "partially implemented".
    record(measure, status=Status.IN_PROGRESS, progress=30, effective_date=date(2026, 3, 1))

    assert measure.status_updates.count() == 4
    assert state(measure)[:2] == (Status.PARTIALLY_IMPLEMENTED, 70)


@pytest.mark.parametrize(
    ("status", "message"),
    [(Status.STALLED, "blocking"), (Status.ABANDONED, "abandoned")],
)
def test_stopping_a_measure_needs_a_note(status, message):
    measure = MeasureFactory()
    record(measure, status=Status.IN_PROGRESS, progress=30)

    with pytest.raises(ValidationError) as error:
        record(measure, status=status, progress=30)

    assert message in error.value.message_dict["note"][0]
    assert measure.status_updates.count() == 2


def test_a_stale_version_writes_nothing():
    measure = MeasureFactory()
    seen = measure.version
    record(measure, status=Status.PLANNED, progress=10)

    with pytest.raises(StaleVersion) as error:
        record(measure, status=Status.IN_PROGRESS, progress=20, expected_version=seen)

    assert error.value.current == 2
    assert "version" in error.value.message_dict
    assert state(measure)[:2] == (Status.PLANNED, 10)


def test_the_current_version_is_accepted():
    measure = MeasureFactory()

    record(measure, status=Status.PLANNED, progress=10, expected_version=1)

    assert state(measure)[3] == 2


def test_an_archived_measure_takes_no_update():
    measure = MeasureFactory()
    services.update_measure(measure=measure, changes={"archived": True})

    with pytest.raises(ValidationError) as error:
        record(measure, status=Status.PLANNED, progress=10)

    assert "archived" in error.value.message_dict["measure"][0]


def test_every_broken_rule_is_reported_at_once():
    measure = MeasureFactory()

    with pytest.raises(ValidationError) as error:
        record(measure, status=Status.IMPLEMENTED, progress=80, effective_date=date(2027, 1, 1))

    assert set(error.value.message_dict) == {"progress", "effective_date", "evidence"}


def test_update_measure_changes_fields_and_bumps_the_version():
    measure = MeasureFactory(title_en="Old")

    services.update_measure(
        measure=measure, changes={"title_en": "New", "priority": "high"}, expected_version=1
    )

    measure.refresh_from_db()
    assert (measure.title_en, measure.priority, measure.version) == ("New", "high", 2)


def test_update_measure_with_no_change_writes_nothing():
    measure = MeasureFactory(title_en="Same")

    services.update_measure(measure=measure, changes={"title_en": "Same"})

    assert Measure.objects.get(pk=measure.pk).version == 1


def test_update_measure_refuses_derived_fields():
    measure = MeasureFactory()

    with pytest.raises(ValidationError) as error:
        services.update_measure(measure=measure, changes={"status": Status.IMPLEMENTED})

    assert "status" in error.value.message_dict
    assert state(measure)[0] == Status.NOT_ASSESSED


def test_update_measure_refuses_a_stale_version():
    measure = MeasureFactory()
    services.update_measure(measure=measure, changes={"priority": "low"})

    with pytest.raises(StaleVersion):
        services.update_measure(measure=measure, changes={"priority": "high"}, expected_version=1)

    assert Measure.objects.get(pk=measure.pk).priority == "low"


def test_update_measure_validates_values():
    measure = MeasureFactory()

    with pytest.raises(ValidationError) as error:
        services.update_measure(measure=measure, changes={"review_every_days": 0})

    assert "review_every_days" in error.value.message_dict


def test_a_measure_with_history_cannot_be_deleted():
    measure = MeasureFactory()

    with pytest.raises(ProtectedError):
        measure.delete()

    assert StatusUpdate.objects.filter(measure=measure).exists()


def test_a_note_longer_than_the_limit_is_refused_and_nothing_is_written():
    from recommendations.models.history import NOTE_MAX_LENGTH

    measure = MeasureFactory()
    record(measure, status=Status.PLANNED, progress=10, note="x" * NOTE_MAX_LENGTH)

    with pytest.raises(ValidationError) as refused:
        record(measure, status=Status.IN_PROGRESS, progress=20, note="x" * (NOTE_MAX_LENGTH + 1))

    assert "at most 10000 characters" in refused.value.message_dict["note"][0]
    assert state(measure)[:2] == (Status.PLANNED, 10)
    assert measure.status_updates.count() == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: app servers on several machines"
)
def test_app_servers_with_different_clocks_agree_on_history_and_state(monkeypatch):
    measure = MeasureFactory()
    day = date(2026, 3, 1)
    first = record(measure, status=Status.PLANNED, progress=10, effective_date=day)
    # The next write comes from an app server whose clock is two minutes slow.
    slow = timezone.now() - timedelta(minutes=2)
    monkeypatch.setattr(services.timezone, "now", lambda: slow)

    second = record(measure, status=Status.IN_PROGRESS, progress=40, effective_date=day)

    history = list(selectors.status_history(measure=measure).values_list("id", flat=True))
    as_of = selectors.measures_as_of(day=day).get(pk=measure.pk)
    assert second.recorded_at > first.recorded_at  # the database's clock, in commit order
    assert history[:2] == [second.pk, first.pk]
    assert state(measure)[:2] == (Status.IN_PROGRESS, 40)
    assert (as_of.status_then, as_of.progress_then) == (Status.IN_PROGRESS, 40)
    assert measure.updated_at > slow


def test_a_back_dated_update_that_would_turn_the_next_entry_into_a_regression_needs_a_note():
    measure = MeasureFactory()
    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 5, 20))

    with pytest.raises(ValidationError) as error:
        record(
            measure,
            status=Status.IN_PROGRESS,
            progress=50,
            effective_date=date(2026, 5, 1),
        )

    assert "2026-05-20" in error.value.message_dict["note"][0]
    assert measure.status_updates.count() == 2
    assert state(measure)[:2] == (Status.PLANNED, 10)


def test_a_back_dated_update_with_a_note_explaining_the_later_move_is_recorded():
    measure = MeasureFactory()
    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 5, 20))

    record(
        measure,
        status=Status.IN_PROGRESS,
        progress=50,
        effective_date=date(2026, 5, 1),
        note="Pilot started in May; re-planned on 20 May after the budget review.",
    )

    assert measure.status_updates.count() == 3
    assert state(measure)[:2] == (Status.PLANNED, 10)


def test_a_back_dated_update_below_the_next_entry_needs_no_note():
    measure = MeasureFactory()
    record(measure, status=Status.IN_PROGRESS, progress=40, effective_date=date(2026, 5, 20))

    record(measure, status=Status.PLANNED, progress=10, effective_date=date(2026, 5, 1))

    assert measure.status_updates.count() == 3
