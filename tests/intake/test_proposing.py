"""A reporter's import, through the service: its rows are proposed for review, never recorded.
The dry run checks each row as one proposal is checked (the review app's rules, institution
ties included), confirmation proposes every valid row or none, and importing again proposes
nothing."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from intake import services
from intake.models import Import, ImportRow
from recommendations import services as recording
from recommendations.choices import Status
from recommendations.models import MeasureInstitution
from review import services as reviewing
from review.choices import ProposalState
from review.models import Proposal, ProposalEvidence, ProposalRevision, ReporterInstitution
from tests.conftest import TODAY, make_user
from tests.factories import EvidenceFactory, InstitutionFactory, MeasureFactory
from tests.intake.files import csv_bytes
from tests.intake.test_services import outcomes, problems, snapshot

pytestmark = pytest.mark.django_db

Outcome = ImportRow.Outcome

ROWS = [
    ["1.1", "in_progress", "40", "2026-03-01", "high", " Pilots in two banks ", "proof"],
    ["1.2", "planned", "10", "2026-02-01", "medium", "", ""],
    ["1.2", "stalled", "10", "2026-04-01", "low", "", ""],  # stalled: a note
]


@pytest.fixture
def measures():
    EvidenceFactory(key="proof")
    return {code: MeasureFactory(code=code) for code in ("1.1", "1.2", "2.1")}


def check(data: bytes, by) -> Import:
    return services.check_file(data=data, filename="updates.csv", by=by, channel="api", today=TODAY)


def confirm(imported: Import, by) -> Import:
    return services.confirm(imported, by=by, today=TODAY)


def states(measures: dict) -> list[tuple]:
    """What a proposal must leave as it was: each measure's state and history."""
    return [
        (m.status, m.progress, m.version, m.status_updates.count())
        for m in (type(m).objects.get(pk=m.pk) for m in measures.values())
    ]


def test_the_rows_of_whoever_needs_review_are_proposed_and_of_anyone_else_recorded(
    analyst, reporter, viewer, admin_user, settings
):
    settings.REVIEW_ANALYST_UPDATES = False
    assert services.route(reporter) == services.PROPOSE
    assert services.route(analyst) == services.route(admin_user) == services.RECORD
    assert services.route(None) == services.RECORD
    with pytest.raises(PermissionDenied):
        services.route(viewer)

    settings.REVIEW_ANALYST_UPDATES = True

    assert services.route(analyst) == services.PROPOSE
    assert services.route(admin_user) == services.RECORD


def test_a_reporters_dry_run_shows_what_would_be_proposed_and_writes_nothing(measures, reporter):
    before = snapshot(), Proposal.objects.count()

    imported = check(csv_bytes(ROWS), reporter)

    assert (snapshot(), Proposal.objects.count()) == before
    assert (imported.route, imported.proposes) == ("propose", True)
    assert (imported.rows, imported.to_propose, imported.to_record, imported.errors) == (3, 2, 0, 1)
    assert outcomes(imported) == {2: Outcome.PROPOSE, 3: Outcome.PROPOSE, 4: Outcome.ERROR}
    assert problems(imported, 4) == [("F", "note", "Say what is blocking the measure.")]


def test_each_row_is_checked_against_the_measures_state_now_as_one_proposal_is(
    measures, reporter, analyst
):
    """Proposals change no state: a measure's second row is judged as if it were proposed on
    its own, not as a move from the first (which an analyst's import would record first)."""
    rows = [
        ["1.1", "in_progress", "40", "2026-03-01", "high", "", ""],
        ["1.1", "planned", "20", "2026-04-01", "high", "", ""],  # from in progress: a note
    ]

    proposed = check(csv_bytes(rows), reporter)
    recorded = check(csv_bytes(rows), analyst)

    assert outcomes(proposed) == {2: Outcome.PROPOSE, 3: Outcome.PROPOSE}
    assert outcomes(recorded) == {2: Outcome.RECORD, 3: Outcome.ERROR}


def test_a_row_for_a_measure_none_of_the_reporters_institutions_is_responsible_for_is_an_error(
    measures, reporter
):
    pboc = InstitutionFactory(key="pboc")
    MeasureInstitution.objects.create(measure=measures["1.1"], institution=pboc, role="lead")
    ReporterInstitution.objects.create(user=reporter, institution=pboc)

    imported = check(csv_bytes(ROWS[:2]), reporter)

    assert outcomes(imported) == {2: Outcome.PROPOSE, 3: Outcome.ERROR}
    [(column, field, message)] = problems(imported, 3)
    assert (column, field) == ("A", "measure")
    assert message.startswith(
        "None of the institutions you report for is responsible for measure 1.2"
    )


def test_confirmation_proposes_every_valid_row_and_changes_no_measure(measures, reporter):
    imported = check(csv_bytes(ROWS), reporter)
    before = states(measures)

    confirmed = confirm(imported, reporter)

    assert states(measures) == before
    assert (confirmed.state, confirmed.confirmed_by, confirmed.to_propose) == (
        "confirmed",
        reporter,
        2,
    )
    proposals = Proposal.objects.order_by("effective_date")
    assert [(p.measure.code, p.status, p.state, p.proposed_by) for p in proposals] == [
        ("1.2", Status.PLANNED, ProposalState.PENDING, reporter),
        ("1.1", Status.IN_PROGRESS, ProposalState.PENDING, reporter),
    ]
    pilot = proposals.last()
    assert pilot.note == "Pilots in two banks"
    assert list(pilot.evidence.values_list("key", flat=True)) == ["proof"]
    [revision] = pilot.revisions.all()
    assert (revision.number, revision.by, revision.evidence) == (
        1,
        reporter,
        [pilot.evidence.get().pk],
    )
    row = confirmed.row_results.get(number=2)
    assert (row.outcome, row.proposal, row.status_update) == (Outcome.PROPOSED, pilot, None)


def test_importing_the_same_file_again_proposes_nothing(measures, reporter):
    data = csv_bytes(ROWS[:2] + [ROWS[1]])  # the last two rows alike: two proposals
    confirm(check(data, reporter), reporter)
    count = Proposal.objects.count()

    again = check(data, reporter)
    confirmed = confirm(again, reporter)

    assert count == 3
    assert outcomes(again) == {
        2: Outcome.ALREADY_PROPOSED,
        3: Outcome.ALREADY_PROPOSED,
        4: Outcome.ALREADY_PROPOSED,
    }
    assert (again.to_propose, again.already_proposed) == (0, 3)
    assert (confirmed.to_propose, confirmed.already_proposed) == (0, 3)
    assert Proposal.objects.count() == count


def test_an_approved_row_is_already_recorded_and_a_rejected_one_is_proposed_again(
    measures, reporter, analyst
):
    data = csv_bytes(ROWS[:2])
    confirm(check(data, reporter), reporter)
    pilot, plan = Proposal.objects.order_by("measure__code")
    reviewing.approve(proposal=pilot, by=analyst, today=TODAY)
    reviewing.reject(proposal=plan, by=analyst, reason="No source")

    again = check(data, reporter)

    assert outcomes(again) == {2: Outcome.ALREADY, 3: Outcome.PROPOSE}


def test_another_reporters_proposal_is_not_this_ones(measures, reporter, django_user_model):
    colleague = make_user(django_user_model, "rhea", "reporter")
    confirm(check(csv_bytes(ROWS[:1]), colleague), colleague)

    imported = check(csv_bytes(ROWS[:1]), reporter)

    assert outcomes(imported) == {2: Outcome.PROPOSE}


def test_confirmation_proposes_nothing_if_a_row_is_refused_now_and_says_which(measures, reporter):
    imported = check(csv_bytes(ROWS[:2]), reporter)
    # Meanwhile measure 1.2 is archived: it takes no update, proposed or not.
    recording.update_measure(measure=measures["1.2"], changes={"archived": True})

    with pytest.raises(ValidationError) as refused:
        confirm(imported, reporter)

    assert list(refused.value.message_dict) == ["row 3"]
    assert "archived" in refused.value.message_dict["row 3"][0]
    assert not Proposal.objects.exists()
    assert not ProposalRevision.objects.exists() and not ProposalEvidence.objects.exists()
    imported.refresh_from_db()
    assert (imported.state, imported.to_propose, imported.errors, imported.version) == (
        "checked",
        1,
        1,
        2,
    )
    assert outcomes(imported) == {2: Outcome.PROPOSE, 3: Outcome.ERROR}
    # Confirmed again, it proposes the row that is still valid.
    assert confirm(imported, reporter).to_propose == 1
    assert Proposal.objects.get().measure.code == "1.1"


def test_only_whoever_uploaded_a_file_of_proposals_confirms_it(measures, reporter, analyst):
    imported = check(csv_bytes(ROWS[:1]), reporter)

    with pytest.raises(PermissionDenied, match="Only whoever uploaded this import"):
        confirm(imported, analyst)

    assert not Proposal.objects.exists() and not Import.objects.get().confirmed


def test_rows_become_what_the_dry_run_said_or_the_file_is_uploaded_again(
    measures, analyst, settings
):
    imported = check(csv_bytes(ROWS[:1]), analyst)
    settings.REVIEW_ANALYST_UPDATES = True

    with pytest.raises(ValidationError, match="upload the file again"):
        confirm(imported, analyst)

    assert not Proposal.objects.exists() and not Import.objects.get().confirmed


def queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def rows_for(measures: dict, count: int, day: str) -> list[list]:
    """`count` rows on `day`, over the measures, with progress 1, 2, ..."""
    codes = list(measures)
    return [
        [codes[n % len(codes)], "in_progress", str(n + 1), day, "high", "", "proof"]
        for n in range(count)
    ]


def test_the_queries_of_a_dry_run_and_a_confirmation_do_not_grow_with_rows(measures, reporter):
    small = csv_bytes(rows_for(measures, 3, "2026-02-01"))
    large = csv_bytes(rows_for(measures, 30, "2026-03-01"))
    services.route(reporter)  # its permissions read once, as a request reads them
    imported = {}

    checks = [
        queries(lambda data=data: imported.setdefault(len(imported), check(data, reporter)))
        for data in (small, large)
    ]
    confirms = [queries(lambda n=n: confirm(imported[n], reporter)) for n in (0, 1)]
    again = [queries(lambda data=data: check(data, reporter)) for data in (small, large)]

    assert Proposal.objects.count() == 33
    assert checks[0] == checks[1]
    assert confirms[0] == confirms[1]
    assert again[0] == again[1]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL: SQLite lets one writer at a time in, so there is no race",
)
@pytest.mark.django_db(transaction=True)
def test_one_file_confirmed_twice_at_once_is_proposed_once(monkeypatch, measures, reporter):
    """The first confirmation holds the reporter's row while it proposes; the second waits for
    it, then finds the rows proposed."""
    first, second = (check(csv_bytes(ROWS[:2]), reporter) for _ in range(2))
    proposing, release = threading.Event(), threading.Event()
    real = reviewing.propose_many

    def slow_propose_many(*args, **kwargs):
        if threading.current_thread().name == "first":
            proposing.set()
            assert release.wait(15)
        return real(*args, **kwargs)

    monkeypatch.setattr(reviewing, "propose_many", slow_propose_many)
    confirmed = {}

    def run(name, imported):
        close_old_connections()
        try:
            confirmed[name] = services.confirm(imported.pk, by=reporter, today=TODAY)
        except Exception as error:
            confirmed[name] = error
        finally:
            connection.close()

    a = threading.Thread(target=run, args=("first", first), name="first", daemon=True)
    a.start()
    assert proposing.wait(15)
    b = threading.Thread(target=run, args=("second", second), name="second", daemon=True)
    b.start()
    b.join(1)
    waited = b.is_alive()
    release.set()
    a.join(15)
    b.join(15)

    assert waited, "the second confirmation did not wait for the first"
    assert (confirmed["first"].to_propose, confirmed["first"].already_proposed) == (2, 0)
    assert (confirmed["second"].to_propose, confirmed["second"].already_proposed) == (0, 2)
    assert Proposal.objects.count() == 2
