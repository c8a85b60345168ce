"""Importing a spreadsheet through the service: a dry run that records nothing, row by row
outcomes checked by the recording rules (rows of one measure against each other), confirmation
all or nothing, and re-imports that record nothing. A reporter's import, whose rows are
proposed: test_proposing.py."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.models import Change
from evidence.models import EvidenceRevision, StatusUpdateEvidence
from freshness.models import TableChanges
from intake import services
from intake.models import Import, ImportRow
from recommendations import services as recording
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from tests.conftest import TODAY
from tests.factories import EvidenceFactory, MeasureFactory
from tests.intake.files import HEADINGS_ZH, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

Outcome = ImportRow.Outcome


@pytest.fixture
def measures():
    EvidenceFactory(key="proof")
    return {code: MeasureFactory(code=code) for code in ("1.1", "1.2", "2.1")}


def check(data: bytes, by, name: str = "updates.csv") -> Import:
    return services.check_file(data=data, filename=name, by=by, channel="api", today=TODAY)


def confirm(imported: Import, by, **kwargs) -> Import:
    return services.confirm(imported, by=by, today=TODAY, **kwargs)


def outcomes(imported: Import) -> dict[int, str]:
    return dict(imported.row_results.order_by("number").values_list("number", "outcome"))


def problems(imported: Import, number: int) -> list[tuple[str, str, str]]:
    """(column, field, English message) of each problem of a row."""
    row = imported.row_results.get(number=number)
    return [(p["column"], p["field"], " ".join(p["messages"]["en"])) for p in row.problems]


def snapshot() -> tuple:
    """What a dry run must leave as it was: history and its citations, states, revisions,
    the audit trail and the change counters."""
    return (
        list(StatusUpdate.objects.order_by("pk").values_list()),
        list(StatusUpdateEvidence.objects.order_by("pk").values_list()),
        list(Measure.objects.order_by("pk").values_list()),
        list(EvidenceRevision.objects.order_by("pk").values_list("pk")),
        list(Change.objects.order_by("pk").values_list("pk")),
        list(TableChanges.objects.order_by("table").values_list()),
    )


ROWS = [
    ["1.1", "planned", "10", "2026-01-05", "high", "Plan adopted", ""],
    ["1.1", "in_progress", "40", "2026-03-01", "medium", "", "proof"],
    ["1.2", "implemented", "100", "2026-02-01", "high", "", ""],  # no evidence
    ["2.1", "In progress", "150", "2026-02-01", "Medium", "", ""],  # progress out of range
    ["9.9", "planned", "10", "2026-01-05", "high", "", ""],  # no such measure
]


def test_a_dry_run_checks_every_row_and_records_nothing(measures, analyst):
    before = snapshot()

    imported = check(csv_bytes(ROWS), analyst)

    assert snapshot() == before
    assert (imported.rows, imported.to_record, imported.already, imported.errors) == (5, 2, 0, 3)
    assert imported.state == Import.State.CHECKED and imported.uploaded_by == analyst
    assert (imported.format, imported.encoding) == ("csv", "utf-8")
    assert outcomes(imported) == {
        2: Outcome.RECORD,
        3: Outcome.RECORD,
        4: Outcome.ERROR,
        5: Outcome.ERROR,
        6: Outcome.ERROR,
    }
    [(column, field, message)] = problems(imported, 4)
    assert (column, field) == ("G", "evidence") and "evidence" in message
    assert problems(imported, 5) == [("C", "progress", "Progress is a percentage from 0 to 100.")]
    assert problems(imported, 6) == [("A", "measure", "There is no measure with the code “9.9”.")]
    row = imported.row_results.get(number=3)
    assert row.values == {
        "measure": "1.1",
        "status": "in_progress",
        "progress": 40,
        "effective_date": "2026-03-01",
        "confidence": "medium",
        "note": "",
        "evidence": ["proof"],
    }


def test_problems_are_kept_in_english_and_chinese(measures, analyst):
    imported = check(csv_bytes([["1.1", "stalled", "10", "2026-01-05", "high", "", ""]]), analyst)

    [problem] = imported.row_results.get().problems

    assert problem["messages"]["en"] == ["Say what is blocking the measure."]
    assert problem["messages"]["zh-hans"][0] != "Say what is blocking the measure."
    assert (problem["column"], problem["heading"]) == ("F", "note")


def test_a_row_is_checked_against_the_state_the_rows_before_it_make(measures, analyst):
    rows = [
        # Listed out of date order: checked by effective date, so the second row is the
        # move back from "in progress" that needs a note.
        ["1.1", "planned", "20", "2026-04-01", "high", "", ""],
        ["1.1", "in_progress", "40", "2026-03-01", "high", "", ""],
        ["1.2", "in_progress", "40", "2026-03-01", "high", "", ""],
        ["1.2", "planned", "20", "2026-04-01", "high", "Budget cut", ""],
    ]

    imported = check(csv_bytes(rows), analyst)

    assert outcomes(imported) == {2: "error", 3: "record", 4: "record", 5: "record"}
    [(column, field, message)] = problems(imported, 2)
    assert (column, field) == ("F", "note") and "back to" in message


def test_confirmation_records_every_valid_row_in_order(measures, analyst):
    imported = check(csv_bytes(ROWS), analyst)

    confirmed = confirm(imported, analyst)

    assert confirmed.state == Import.State.CONFIRMED
    assert (confirmed.confirmed_by, confirmed.to_record, confirmed.errors) == (analyst, 2, 3)
    history = StatusUpdate.objects.filter(measure__code="1.1").order_by("effective_date")
    assert [(u.status, u.progress, u.recorded_by) for u in history] == [
        (Status.NOT_ASSESSED, None, None),
        (Status.PLANNED, 10, analyst),
        (Status.IN_PROGRESS, 40, analyst),
    ]
    assert list(history.last().evidence_links.values_list("evidence__key", flat=True)) == ["proof"]
    measure = Measure.objects.get(code="1.1")
    assert (measure.status, measure.progress, measure.version) == (Status.IN_PROGRESS, 40, 3)
    recorded = confirmed.row_results.filter(outcome=Outcome.RECORDED)
    assert sorted(recorded.values_list("status_update__progress", flat=True)) == [10, 40]


def test_confirmation_records_nothing_if_a_row_is_refused_now_and_says_which(measures, analyst):
    rows = [
        ["1.1", "planned", "10", "2026-01-05", "high", "", ""],
        ["1.2", "planned", "10", "2026-01-05", "high", "", ""],
    ]
    imported = check(csv_bytes(rows), analyst)
    # Meanwhile measure 1.1 moves on: the import's "planned" of January now reads as a move
    # back from it, without a note.
    recording.record_status_update(
        measure=measures["1.1"],
        status=Status.IN_PROGRESS,
        progress=50,
        effective_date=date(2026, 1, 1),
        note="",
        by=analyst,
        today=TODAY,
    )
    before = snapshot()

    with pytest.raises(ValidationError) as refused:
        confirm(imported, analyst)

    assert snapshot()[:3] == before[:3]
    assert list(refused.value.message_dict) == ["row 2"]
    assert "note" in refused.value.message_dict["row 2"][0]
    imported.refresh_from_db()
    assert (imported.state, imported.errors, imported.version) == ("checked", 1, 2)
    assert outcomes(imported) == {2: "error", 3: "record"}
    # Confirmed again, it records the row that is still valid.
    assert confirm(imported, analyst).to_record == 1


def test_an_import_is_confirmed_once(measures, analyst):
    imported = confirm(check(csv_bytes(ROWS[:1]), analyst), analyst)

    with pytest.raises(ValidationError, match="was confirmed on"):
        confirm(imported, analyst)


def test_a_stale_version_is_refused(measures, analyst):
    imported = check(csv_bytes(ROWS[:1]), analyst)

    with pytest.raises(recording.StaleVersion):
        confirm(imported, analyst, expected_version=7)

    assert confirm(imported, analyst, expected_version=1).to_record == 1


def test_importing_the_same_file_again_records_nothing(measures, analyst):
    data = csv_bytes(ROWS[:2])
    confirm(check(data, analyst), analyst)
    count = StatusUpdate.objects.count()

    again = check(data, analyst)

    assert outcomes(again) == {2: Outcome.ALREADY, 3: Outcome.ALREADY}
    assert (again.to_record, again.already) == (0, 2)
    assert confirm(again, analyst).to_record == 0
    assert StatusUpdate.objects.count() == count
    first, second = (imported.row_results.get(number=2).key for imported in Import.objects.all())
    assert first == second


def test_identical_rows_are_as_many_entries_and_each_is_recorded_once(measures, analyst):
    row = ["1.1", "planned", "10", "2026-01-05", "high", "Reported twice", ""]
    imported = check(csv_bytes([row, row]), analyst)
    keys = list(imported.row_results.values_list("key", flat=True))

    confirm(imported, analyst)
    again = check(csv_bytes([row, row, row]), analyst)

    assert len(set(keys)) == 2
    assert StatusUpdate.objects.filter(note="Reported twice").count() == 2
    assert outcomes(again) == {2: "already", 3: "already", 4: "record"}


def test_confirming_the_same_import_twice_at_once_records_it_once(measures, analyst):
    first = check(csv_bytes(ROWS[:2]), analyst)
    second = check(csv_bytes(ROWS[:2]), analyst)

    confirm(first, analyst)
    confirmed = confirm(second, analyst)

    assert confirmed.to_record == 0 and confirmed.already == 2
    assert StatusUpdate.objects.filter(measure__code="1.1").count() == 3


def test_a_dry_run_that_must_write_to_check_leaves_nothing_behind(measures, analyst):
    """Two rows back-dated before the measure's state: the second is checked against the
    history with the first in it, which the dry run writes and rolls back, citing evidence
    that has no revision yet (written, and rolled back, too)."""
    recording.record_status_update(
        measure=measures["1.1"],
        status=Status.IN_PROGRESS,
        progress=50,
        effective_date=date(2026, 5, 1),
        note="",
        by=analyst,
        today=TODAY,
    )
    EvidenceFactory(key="unrevised")
    rows = [
        ["1.1", "planned", "10", "2026-02-01", "high", "", "unrevised"],
        ["1.1", "not_started", "0", "2026-03-01", "high", "", ""],  # down from planned: a note
    ]
    before = snapshot()

    imported = check(csv_bytes(rows), analyst)

    assert snapshot() == before
    assert outcomes(imported) == {2: "record", 3: "error"}
    assert problems(imported, 3)[0][:2] == ("F", "note")


def test_chinese_headings_and_labels_are_read(measures, analyst):
    rows = [["1.1", "推进中", "30%", "2026年3月1日", "中", "试点", ""]]

    imported = check(csv_bytes(rows, headings=HEADINGS_ZH), analyst)

    assert outcomes(imported) == {2: "record"}
    assert imported.row_results.get().values["status"] == "in_progress"


def test_an_xlsx_with_typed_cells_is_read(measures, analyst):
    def percent(sheet):
        sheet["C3"].number_format = "0%"

    rows = [
        ["1.1", "planned", 10, date(2026, 1, 5), "high", "", None],
        ["1.2", "in progress", 0.4, 46082, "low", 12, None],  # 40%, a date serial, a number
        [3.1, "planned", "10", "2026/1/5", "high", "", None],  # a code Excel made a number
    ]

    imported = check(xlsx_bytes(rows, edit=percent), analyst, "updates.xlsx")

    values = [row.values for row in imported.row_results.order_by("number")]
    assert (imported.format, imported.encoding) == ("xlsx", "")
    assert values[0]["effective_date"] == "2026-01-05"
    assert (values[1]["progress"], values[1]["effective_date"], values[1]["note"]) == (
        40,
        "2026-03-01",
        "12",
    )
    assert values[2]["measure"] == "3.1"
    assert outcomes(imported) == {2: "record", 3: "record", 4: "error"}


def test_analysts_and_superusers_record_and_viewers_do_not_import(
    viewer, analyst, django_user_model
):
    root = django_user_model.objects.create_superuser("root", password="x")

    assert services.route(analyst) == services.route(root) == services.route(None) == "record"
    with pytest.raises(PermissionDenied):
        services.route(viewer)
    with pytest.raises(PermissionDenied):
        check(csv_bytes(ROWS), viewer)
    assert not Import.objects.exists()


def test_a_dry_run_in_a_callers_transaction_leaves_it_usable(measures, analyst):
    with transaction.atomic():
        imported = check(csv_bytes(ROWS), analyst)
        assert Import.objects.filter(pk=imported.pk).exists()
