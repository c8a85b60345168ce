"""record_status_updates: many updates recorded as record_status_update would record them one
after the other (same rules, same history, same states and versions), in a constant number of
statements per batch."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from evidence.choices import Stance
from evidence.models import StatusUpdateEvidence
from freshness.models import TableChanges
from recommendations import services
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from recommendations.services import NewUpdate, Refused
from tests.conftest import TODAY
from tests.factories import EvidenceFactory, MeasureFactory, link_evidence

pytestmark = pytest.mark.django_db


@pytest.fixture
def measures():
    first, second, archived, supported = (MeasureFactory(code=f"B.{n}") for n in range(4))
    Measure.objects.filter(pk=archived.pk).update(archived=True)
    link_evidence(EvidenceFactory(key="support"), supported, Stance.SUPPORTS)
    return {"first": first, "second": second, "archived": archived, "supported": supported}


def updates(measures, evidence) -> list[NewUpdate]:
    """A mix: moves up the ladder, a regression with and without a note, back-dated entries
    (one into this batch's own entries), a future date, an archived measure, `implemented`
    with and without evidence, a measure that does not exist."""
    first, second = measures["first"].pk, measures["second"].pk
    return [
        NewUpdate(first, Status.PLANNED, 10, date(2026, 1, 10), "high", "Plan adopted"),
        NewUpdate(first, Status.IN_PROGRESS, 40, date(2026, 3, 1)),
        NewUpdate(first, Status.PLANNED, 20, date(2026, 4, 1)),  # a regression, no note
        NewUpdate(first, Status.PLANNED, 20, date(2026, 4, 1), note="Budget cut"),
        # Back-dated before the batch's own entries: in force on that date is "planned".
        NewUpdate(first, Status.NOT_STARTED, 0, date(2026, 2, 1)),
        NewUpdate(first, Status.IN_PROGRESS, 30, date(2026, 2, 1)),
        NewUpdate(second, Status.IMPLEMENTED, 100, date(2026, 5, 1)),  # no evidence
        NewUpdate(second, Status.IMPLEMENTED, 100, date(2026, 5, 1), evidence=(evidence,)),
        NewUpdate(second, Status.IN_PROGRESS, 50, date(2026, 7, 1)),  # the future
        NewUpdate(measures["archived"].pk, Status.PLANNED, 10, date(2026, 1, 1)),
        NewUpdate(measures["supported"].pk, Status.IMPLEMENTED, 100, date(2026, 6, 1)),
        NewUpdate(measures["supported"].pk, Status.NOT_ASSESSED, None, date(2026, 6, 2)),
        NewUpdate(999_999, Status.PLANNED, 10, date(2026, 1, 1)),
    ]


def one_by_one(batch: list[NewUpdate], by) -> list:
    results = []
    for update in batch:
        try:
            results.append(
                services.record_status_update(
                    measure=update.measure,
                    status=update.status,
                    progress=update.progress,
                    effective_date=update.effective_date,
                    confidence=update.confidence,
                    note=update.note,
                    evidence=update.evidence,
                    by=by,
                    today=TODAY,
                )
            )
        except Measure.DoesNotExist:
            results.append(ValidationError({"measure": "unknown"}))
        except ValidationError as error:
            results.append(error)
    return results


def history() -> list[tuple]:
    return list(
        StatusUpdate.objects.order_by(
            "measure__code", "effective_date", "recorded_at", "id"
        ).values_list("measure__code", "status", "progress", "confidence", "effective_date", "note")
    )


def states() -> list[tuple]:
    return list(
        Measure.objects.order_by("code").values_list(
            "code", "status", "progress", "status_effective_date", "version"
        )
    )


def outcome(result) -> str | dict:
    if isinstance(result, ValidationError):
        return {field: len(messages) for field, messages in result.message_dict.items()}
    return "recorded"


def test_a_batch_records_what_one_update_after_another_would(measures, analyst):
    evidence = EvidenceFactory(key="proof")
    batch = updates(measures, evidence)
    with transaction.atomic():
        expected = [outcome(result) for result in one_by_one(batch, analyst)]
        expected_history, expected_states = history(), states()
        transaction.set_rollback(True)

    results = services.record_status_updates(batch, by=analyst, today=TODAY)

    assert [outcome(result) for result in results] == expected
    assert history() == expected_history
    assert states() == expected_states
    assert expected == [
        "recorded",
        "recorded",
        {"note": 1},  # a regression with no note
        "recorded",
        {"note": 1},  # back to "not started" from "planned", in force on its date
        "recorded",
        {"evidence": 1},
        "recorded",
        {"effective_date": 1, "note": 1},  # the future, and down from "implemented"
        {"measure": 1},  # archived
        "recorded",  # supported by the measure's evidence
        {"confidence": 1, "status": 1},  # "not assessed" is only a first entry
        {"measure": 1},
    ]
    implemented = results[7]
    assert list(implemented.evidence_links.values_list("evidence__key", flat=True)) == ["proof"]
    assert implemented.evidence_links.get().revision.version == evidence.version


def test_a_dry_run_says_the_same_and_leaves_nothing_behind(measures, analyst):
    evidence = EvidenceFactory(key="proof")
    batch = updates(measures, evidence)
    before = (history(), states(), list(TableChanges.objects.values_list("table", "changes")))
    links = StatusUpdateEvidence.objects.count()

    dry = services.record_status_updates(batch, by=analyst, today=TODAY, dry_run=True)

    assert (history(), states(), list(TableChanges.objects.values_list("table", "changes"))) == (
        before
    )
    assert StatusUpdateEvidence.objects.count() == links
    assert all(result.pk is None for result in dry if isinstance(result, StatusUpdate))
    recorded = services.record_status_updates(batch, by=analyst, today=TODAY)
    assert [outcome(result) for result in dry] == [outcome(result) for result in recorded]


def test_refusals_carry_their_messages_in_each_language_asked_for(measures, analyst):
    first = measures["first"].pk
    batch = [
        NewUpdate(first, Status.STALLED, 10, date(2026, 1, 10)),
        NewUpdate(999_999, Status.PLANNED, 10, date(2026, 1, 1)),
    ]

    stalled, unknown = services.record_status_updates(
        batch, by=analyst, today=TODAY, languages=("en", "zh-hans")
    )

    assert isinstance(stalled, Refused)
    assert stalled.in_languages["en"] == {"note": ["Say what is blocking the measure."]}
    assert stalled.in_languages["zh-hans"]["note"][0] != "Say what is blocking the measure."
    assert set(unknown.in_languages) == {"en", "zh-hans"}


def test_a_batch_runs_the_same_statements_per_batch_however_many_updates(analyst):
    many = [MeasureFactory(code=f"Q.{n}") for n in range(60)]

    def run(count: int) -> int:
        batch = [
            NewUpdate(many[n % 60].pk, Status.IN_PROGRESS, 10 + n % 80, date(2026, 1, 1 + n // 60))
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            results = services.record_status_updates(batch, by=analyst, today=TODAY)
            transaction.set_rollback(True)
        assert all(isinstance(result, StatusUpdate) for result in results)
        return len(queries)

    # One batch each, however many updates. (SQLite takes at most 999 parameters a statement:
    # Django splits an INSERT of status updates, ten columns each, every 99 rows.)
    assert run(10) == run(90)
