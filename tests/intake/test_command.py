"""manage.py import_status_updates FILE [--commit] [--user NAME]: a dry run, or a dry run then
the record (or, for a reporter, the proposals)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from intake.models import Import
from recommendations.models import StatusUpdate
from review.models import Proposal
from tests.conftest import TODAY
from tests.factories import MeasureFactory
from tests.intake.files import csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ["1.1", "planned", "10", "2026-01-05", "high", "Plan adopted", ""],
    ["1.1", "stalled", "10", "2026-03-01", "medium", "", ""],
]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def measure():
    return MeasureFactory(code="1.1")


def run(*args) -> str:
    out = StringIO()
    call_command("import_status_updates", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_dry_run_reports_each_row_and_records_nothing(tmp_path, measure):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS))
    history = StatusUpdate.objects.count()

    out = run(str(path))

    assert StatusUpdate.objects.count() == history
    assert "updates.csv (CSV, read as UTF-8): 2 rows: 1 to record" in out
    assert "row 3: F “note”: Say what is blocking the measure." in out
    assert "Dry run: nothing recorded." in out
    imported = Import.objects.get()
    assert (imported.channel, imported.uploaded_by, imported.state) == ("command", None, "checked")


def test_commit_records_the_valid_rows(tmp_path, measure, analyst):
    path = tmp_path / "updates.xlsx"
    path.write_bytes(xlsx_bytes(ROWS[:1]))

    out = run(str(path), "--commit", "--user", "ana")

    assert "Recorded 1 status updates" in out
    update = StatusUpdate.objects.latest("id")
    assert (update.status, update.recorded_by) == ("planned", analyst)
    assert Import.objects.get().state == "confirmed"


def test_committing_the_same_file_again_records_nothing(tmp_path, measure):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS[:1]))
    run(str(path), "--commit")
    history = StatusUpdate.objects.count()

    out = run(str(path), "--commit")

    assert "Recorded 0 status updates (1 already recorded" in out
    assert StatusUpdate.objects.count() == history


def test_a_bad_file_is_a_command_error(tmp_path, measure):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS, headings=["measure code", "state"]))

    with pytest.raises(CommandError, match="Unknown columns: B “state”"):
        run(str(path))
    assert not Import.objects.exists()


def test_messages_come_in_the_language_asked_for(tmp_path, measure):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS))

    out = run(str(path), "--lang", "zh")

    assert "row 3: F “note”: " in out
    assert "Say what is blocking" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "missing.csv"),
        (["{path}", "--user", "nobody"], "There is no user 'nobody'"),
        (["{path}", "--user", "vic"], "Only analysts and reporters may import"),
    ],
)
def test_what_cannot_run_is_a_command_error(tmp_path, measure, viewer, args, message):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS))

    with pytest.raises(CommandError, match=message):
        run(*(arg.format(path=path) for arg in args))


def test_a_reporters_rows_are_proposed_for_review_in_its_name(tmp_path, measure, reporter):
    path = tmp_path / "updates.csv"
    path.write_bytes(csv_bytes(ROWS))
    history = StatusUpdate.objects.count()

    dry = run(str(path), "--user", "rita")
    out = run(str(path), "--commit", "--user", "rita")

    assert "2 rows: 1 to propose for review, 0 already proposed, 0 already recorded" in dry
    assert "Dry run: nothing proposed. Propose the valid rows for review with --commit" in dry
    assert "Proposed 1 status updates for review (0 already proposed" in out
    assert StatusUpdate.objects.count() == history
    proposal = Proposal.objects.get()
    assert (proposal.proposed_by, proposal.state, proposal.note) == (
        reporter,
        "pending",
        "Plan adopted",
    )
    assert Import.objects.filter(route="propose", state="confirmed").count() == 1
