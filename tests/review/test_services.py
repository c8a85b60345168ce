"""The review's rules, through its services: each state transition, four eyes, the institutions
a reporter reports for, the rules of history checked at submission and again at approval,
many proposals at once (all or none, in constant statements), and what the database itself
refuses."""

import threading
from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, close_old_connections, connection, transaction

from evidence.models import StatusUpdateEvidence
from recommendations import services as history
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from recommendations.roles import ANALYST, REPORTER, VIEWER, user_has_role
from recommendations.services import StaleVersion
from review import services
from review.choices import ProposalState
from review.models import Proposal, ProposalDecision, ProposalRevision, ReporterInstitution
from tests.conftest import TODAY, make_user
from tests.factories import EvidenceFactory, InstitutionFactory, MeasureFactory
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db


def record(measure, status, progress, day, **kwargs):
    kwargs.setdefault("by", None)
    return history.record_status_update(
        measure=measure, status=status, progress=progress, effective_date=day, today=TODAY, **kwargs
    )


def unchanged(measure: Measure) -> bool:
    """Whether the measure is as a fresh one is: version 1, not assessed, one entry."""
    measure.refresh_from_db()
    return (measure.version, measure.status, measure.status_updates.count()) == (
        1,
        Status.NOT_ASSESSED,
        1,
    )


# Who


def test_a_reporters_updates_need_review_and_an_analysts_do_not(
    reporter, analyst, viewer, admin_user, settings
):
    settings.REVIEW_ANALYST_UPDATES = False

    assert services.updates_need_review(reporter)
    assert not services.updates_need_review(analyst)
    assert not services.updates_need_review(viewer)  # a viewer may do neither
    assert not services.updates_need_review(admin_user)


def test_the_setting_makes_analysts_updates_proposals_too(analyst, admin_user, settings):
    settings.REVIEW_ANALYST_UPDATES = True

    assert services.updates_need_review(analyst)
    assert not services.updates_need_review(admin_user)


def test_the_reporter_group_proposes_and_reads_but_records_nothing(reporter):
    assert user_has_role(reporter)
    assert reporter.has_perm("review.add_proposal")
    assert reporter.has_perm("recommendations.view_measure")
    assert reporter.has_perm("evidence.view_evidence")
    assert not reporter.has_perm("recommendations.add_statusupdate")
    assert not reporter.has_perm("review.review_proposal")
    assert not reporter.has_perm("review.view_proposal")  # everyone's: only its own
    assert not reporter.has_perm("evidence.add_evidence")


def test_analysts_review_and_viewers_only_read(analyst, viewer):
    assert analyst.has_perm("review.review_proposal") and analyst.has_perm("review.add_proposal")
    assert viewer.has_perm("review.view_proposal")
    assert not viewer.has_perm("review.add_proposal")
    assert not viewer.has_perm("review.review_proposal")
    assert not analyst.has_perm("review.view_reporterinstitution")  # access: superusers only


def test_the_reporter_group_is_rebuilt_by_migrate_and_nobody_edits_proposals_outside_the_services():
    reporter_group = Group.objects.get(name=REPORTER)
    reporter_group.permissions.clear()

    call_command("migrate", verbosity=0)

    codenames = {
        name: set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        for name in (REPORTER, ANALYST, VIEWER)
    }
    assert {"add_proposal", "view_measure"} <= codenames[REPORTER]
    assert not {"view_proposal", "view_proposalrevision", "add_statusupdate"} & codenames[REPORTER]
    for perms in codenames.values():
        assert not {"change_proposal", "delete_proposal", "add_reporterinstitution"} & perms


# Proposing


def test_a_proposal_is_pending_and_changes_nothing_of_the_measure(measure, reporter):
    evidence = EvidenceFactory()

    proposal = propose(measure, reporter, evidence=[evidence])

    assert (proposal.state, proposal.revision, proposal.version) == (ProposalState.PENDING, 1, 1)
    assert (proposal.status, proposal.progress, proposal.proposed_by) == (
        Status.IN_PROGRESS,
        30,
        reporter,
    )
    assert list(proposal.evidence.all()) == [evidence]
    [revision] = proposal.revisions.all()
    assert (revision.number, revision.by, revision.evidence) == (1, reporter, [evidence.pk])
    assert not proposal.decisions.exists()
    assert unchanged(measure)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": Status.IMPLEMENTED, "progress": 100}, "evidence"),
        ({"status": Status.IN_PROGRESS, "progress": 30, "day": date(2026, 7, 1)}, "effective_date"),
        ({"status": Status.NOT_ASSESSED, "progress": None}, "status"),
        ({"status": Status.PLANNED, "progress": 120}, "progress"),
        ({"status": Status.STALLED, "progress": 10, "note": ""}, "note"),
        ({"status": Status.PLANNED, "progress": 10, "day": date(2024, 12, 31)}, "effective_date"),
        ({"status": Status.PLANNED, "progress": 10, "note": "x" * 10_001}, "note"),
    ],
    ids=[
        "implemented-without-evidence",
        "future",
        "not-assessed",
        "progress",
        "stalled-no-note",
        "before-history",
        "long-note",
    ],
)
def test_a_proposal_is_checked_by_the_rules_of_history_at_once(measure, reporter, fields, field):
    """The same function as recording checks it (so the same messages), and nothing is
    written."""
    fields = {"note": "Pilots", **fields}
    day = fields.pop("day", date(2026, 3, 1))
    with pytest.raises(ValidationError) as refused_record:
        history.check_update_allowed(measure=measure, effective_date=day, today=TODAY, **fields)

    with pytest.raises(ValidationError) as refused:
        propose(measure, reporter, day=day, **fields)

    assert field in refused.value.message_dict
    assert refused.value.message_dict == refused_record.value.message_dict
    assert not Proposal.objects.exists() and not ProposalRevision.objects.exists()


def test_an_archived_measure_takes_no_proposal(measure, reporter):
    history.update_measure(measure=measure, changes={"archived": True})

    with pytest.raises(ValidationError) as refused:
        propose(measure, reporter)

    assert "measure" in refused.value.message_dict


def test_a_proposal_naming_unknown_evidence_is_refused(measure, reporter):
    with pytest.raises(ValidationError) as refused:
        propose(measure, reporter, evidence=[987654])

    assert refused.value.message_dict == {"evidence": ["No evidence has the id 987654."]}


def test_a_stale_measure_version_is_refused(measure, reporter):
    with pytest.raises(StaleVersion):
        propose(measure, reporter, expected_version=measure.version + 1)

    propose(measure, reporter, expected_version=measure.version)


def test_a_viewer_may_not_propose(measure, viewer):
    with pytest.raises(PermissionDenied):
        propose(measure, viewer)


def test_a_reporter_tied_to_institutions_proposes_only_for_their_measures(
    measure, reporter, institution
):
    other = MeasureFactory(code="4.1")
    ReporterInstitution.objects.create(user=reporter, institution=InstitutionFactory(key="nfra"))

    with pytest.raises(PermissionDenied, match="4.1"):
        propose(other, reporter)
    with pytest.raises(PermissionDenied):
        propose(measure, reporter)  # pboc's, and the reporter reports for nfra only

    ReporterInstitution.objects.create(user=reporter, institution=institution)
    assert propose(measure, reporter).state == ProposalState.PENDING
    with pytest.raises(PermissionDenied):
        propose(other, reporter)


def test_a_reporter_tied_to_no_institution_proposes_for_any_measure(reporter):
    assert propose(MeasureFactory(), reporter).state == ProposalState.PENDING


# Many proposals at once (spreadsheet intake)


def new(measure, status=Status.IN_PROGRESS, progress=30, day=date(2026, 3, 1), **kwargs):
    return services.NewProposal(
        measure=measure.pk, status=status, progress=progress, effective_date=day, **kwargs
    )


def test_many_proposals_are_made_at_once_each_pending_and_no_measure_changes(measure, reporter):
    evidence = EvidenceFactory()
    updates = [
        new(measure, note=" Pilots ", evidence=(evidence,)),
        new(measure, status=Status.PLANNED, progress=10, day=date(2026, 2, 1)),
    ]

    made = services.propose_many(updates, by=reporter, today=TODAY)

    assert unchanged(measure)
    assert [(p.pk is not None, p.state, p.status, p.proposed_by) for p in made] == [
        (True, ProposalState.PENDING, Status.IN_PROGRESS, reporter),
        (True, ProposalState.PENDING, Status.PLANNED, reporter),
    ]
    first = Proposal.objects.get(pk=made[0].pk)
    assert (first.note, list(first.evidence.all())) == ("Pilots", [evidence])
    [revision] = first.revisions.all()
    assert (revision.number, revision.by, revision.evidence) == (1, reporter, [evidence.pk])
    assert ProposalRevision.objects.count() == 2 and not ProposalDecision.objects.exists()


def test_one_refused_proposal_of_many_writes_none_and_says_which(measure, reporter):
    updates = [new(measure), new(measure, status=Status.STALLED, progress=10, note="")]

    made = services.propose_many(updates, by=reporter, today=TODAY)

    assert isinstance(made[0], Proposal) and made[0].pk is None
    assert isinstance(made[1], ValidationError) and list(made[1].message_dict) == ["note"]
    assert not Proposal.objects.exists() and not ProposalRevision.objects.exists()


def test_a_dry_run_of_many_proposals_writes_nothing(measure, reporter):
    made = services.propose_many([new(measure)], by=reporter, today=TODAY, dry_run=True)

    assert made[0].pk is None and not Proposal.objects.exists()


def test_many_proposals_are_refused_on_the_measure_none_of_the_reporters_institutions_leads(
    measure, reporter, institution
):
    other = MeasureFactory(code="4.1")
    ReporterInstitution.objects.create(user=reporter, institution=institution)

    made = services.propose_many(
        [new(measure), new(other)], by=reporter, today=TODAY, languages=("en", "zh-hans")
    )

    assert isinstance(made[0], Proposal)
    refusal = made[1]
    assert "4.1" in refusal.message_dict["measure"][0]
    assert set(refusal.in_languages) == {"en", "zh-hans"}
    assert refusal.in_languages["zh-hans"]["measure"] != refusal.in_languages["en"]["measure"]
    assert not Proposal.objects.exists()


def test_a_viewer_may_not_propose_many(measure, viewer):
    with pytest.raises(PermissionDenied):
        services.propose_many([new(measure)], by=viewer, today=TODAY)


@pytest.mark.parametrize("count", [2, 12])
def test_many_proposals_cost_the_same_statements_whatever_their_number(
    measure, reporter, institution, django_assert_num_queries, count
):
    ReporterInstitution.objects.create(user=reporter, institution=institution)
    evidence = EvidenceFactory()
    updates = [new(measure, progress=n, evidence=(evidence,)) for n in range(1, count + 1)]
    reporter.has_perm(services.PROPOSE_PERMISSION)  # its permissions read, as a request's are

    # 1: the measures; 2: which have supporting evidence; 3: the reporter's institutions;
    # 4: which measures they are responsible for; 5: the evidence named; 6-10: a savepoint,
    # the proposals, their evidence and their revisions inserted, the savepoint released.
    with django_assert_num_queries(10):
        made = services.propose_many(updates, by=reporter, today=TODAY)

    assert Proposal.objects.count() == len(made) == count


# Approving


def test_approving_records_the_update_through_history_with_both_people_and_times(
    measure, reporter, analyst
):
    evidence = EvidenceFactory()
    proposal = propose(measure, reporter, evidence=[evidence])

    approved = services.approve(proposal=proposal, by=analyst, today=TODAY)

    update = StatusUpdate.objects.get(measure=measure, status=Status.IN_PROGRESS)
    assert approved.state == ProposalState.APPROVED
    assert approved.status_update == update and update.proposal == approved
    assert (approved.proposed_by, approved.approved_by) == (reporter, analyst)
    assert approved.approved_at == update.recorded_at
    assert approved.proposed_at < approved.approved_at
    assert (update.recorded_by, update.progress, update.note) == (
        reporter,
        30,
        "Pilots in two banks",
    )
    assert [
        link.evidence for link in StatusUpdateEvidence.objects.filter(status_update=update)
    ] == [evidence]
    measure.refresh_from_db()
    assert (measure.status, measure.progress, measure.version) == (Status.IN_PROGRESS, 30, 2)
    [decision] = approved.decisions.all()
    assert (decision.state, decision.by, decision.revision, decision.at) == (
        ProposalState.APPROVED,
        analyst,
        1,
        update.recorded_at,
    )
    assert approved.version == 2


def test_nobody_approves_their_own_proposal(measure, analyst, second_analyst, settings):
    settings.REVIEW_ANALYST_UPDATES = True
    proposal = propose(measure, analyst)

    for decide in (
        lambda: services.approve(proposal=proposal, by=analyst, today=TODAY),
        lambda: services.reject(proposal=proposal, by=analyst, reason="No"),
        lambda: services.request_changes(proposal=proposal, by=analyst, comment="More"),
    ):
        with pytest.raises(PermissionDenied, match="four eyes"):
            decide()
    assert unchanged(measure)
    assert not ProposalDecision.objects.exists()

    services.approve(proposal=proposal, by=second_analyst, today=TODAY)


def test_the_database_refuses_an_approval_by_the_proposer(measure, reporter, analyst):
    proposal = services.approve(proposal=propose(measure, reporter), by=analyst, today=TODAY)

    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.filter(pk=proposal.pk).update(approved_by=reporter)


def test_the_database_refuses_an_approved_proposal_without_its_entry(measure, reporter, analyst):
    proposal = propose(measure, reporter)

    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.APPROVED)


@pytest.mark.parametrize("role", [REPORTER, VIEWER])
def test_only_reviewers_decide(measure, reporter, django_user_model, role):
    proposal = propose(measure, reporter)
    other = make_user(django_user_model, "other", role)

    with pytest.raises(PermissionDenied):
        services.approve(proposal=proposal, by=other, today=TODAY)
    with pytest.raises(PermissionDenied):
        services.reject(proposal=proposal, by=other, reason="No")


def test_approval_checks_the_rules_again_against_the_state_then_in_force(
    measure, reporter, analyst
):
    """Proposed without a note while the measure was planned; then an analyst recorded it
    implemented, earlier: approving now would move it back with no note. Refused, nothing
    written, and the proposal stays pending for a revision."""
    record(measure, Status.PLANNED, 10, date(2026, 1, 1), note="Planned")
    proposal = propose(measure, reporter, day=date(2026, 5, 1), note="")
    record(measure, Status.IMPLEMENTED, 100, date(2026, 4, 1), evidence=[EvidenceFactory()])
    entries = StatusUpdate.objects.count()

    with pytest.raises(ValidationError) as refused:
        services.approve(proposal=proposal, by=analyst, today=TODAY)

    assert "note" in refused.value.message_dict
    assert StatusUpdate.objects.count() == entries
    proposal.refresh_from_db()
    assert (proposal.state, proposal.version, proposal.decisions.count()) == (
        ProposalState.PENDING,
        1,
        0,
    )

    services.revise(
        proposal=proposal, changes={"note": "The rules were withdrawn"}, by=reporter, today=TODAY
    )
    assert services.approve(proposal=proposal, by=analyst, today=TODAY).state == "approved"


def test_approval_is_refused_once_the_measure_is_archived(measure, reporter, analyst):
    proposal = propose(measure, reporter)
    history.update_measure(measure=measure, changes={"archived": True})

    with pytest.raises(ValidationError, match="archived"):
        services.approve(proposal=proposal, by=analyst, today=TODAY)


def test_a_stale_proposal_version_is_refused(measure, reporter, analyst):
    proposal = propose(measure, reporter)

    with pytest.raises(StaleVersion):
        services.approve(proposal=proposal, by=analyst, expected_version=2, today=TODAY)

    assert services.approve(proposal=proposal, by=analyst, expected_version=1, today=TODAY)


# Rejecting, requesting changes, revising, withdrawing


def test_a_rejection_needs_a_reason_and_is_final(measure, reporter, analyst):
    proposal = propose(measure, reporter)

    with pytest.raises(ValidationError) as blank:
        services.reject(proposal=proposal, by=analyst, reason="  ")
    rejected = services.reject(proposal=proposal, by=analyst, reason="  No source given ")

    assert "reason" in blank.value.message_dict
    assert rejected.state == ProposalState.REJECTED
    [decision] = rejected.decisions.all()
    assert (decision.state, decision.text, decision.by) == ("rejected", "No source given", analyst)
    for act in (
        lambda: services.approve(proposal=proposal, by=analyst, today=TODAY),
        lambda: services.withdraw(proposal=proposal, by=reporter),
        lambda: services.revise(proposal=proposal, changes={"progress": 40}, by=reporter),
    ):
        with pytest.raises(services.TransitionRefused, match="Rejected"):
            act()
    assert unchanged(measure)


def test_changes_requested_then_a_revision_makes_it_pending_again_keeping_each_revision(
    measure, reporter, analyst
):
    first, second = EvidenceFactory(), EvidenceFactory()
    proposal = propose(measure, reporter, evidence=[first])

    with pytest.raises(ValidationError) as blank:
        services.request_changes(proposal=proposal, by=analyst, comment="")
    services.request_changes(proposal=proposal, by=analyst, comment="Cite the rules")
    with pytest.raises(services.TransitionRefused):
        services.approve(proposal=proposal, by=analyst, today=TODAY)
    revised = services.revise(
        proposal=proposal,
        changes={"progress": 40, "evidence": [second], "note": " Rules cited "},
        by=reporter,
        today=TODAY,
    )

    assert "comment" in blank.value.message_dict
    assert (revised.state, revised.revision, revised.version) == (ProposalState.PENDING, 2, 3)
    assert (revised.progress, revised.note, list(revised.evidence.all())) == (
        40,
        "Rules cited",
        [second],
    )
    assert [
        (r.number, r.progress, r.note, r.evidence) for r in revised.revisions.order_by("number")
    ] == [(1, 30, "Pilots in two banks", [first.pk]), (2, 40, "Rules cited", [second.pk])]
    assert [(d.state, d.text, d.revision) for d in revised.decisions.all()] == [
        ("changes_requested", "Cite the rules", 1)
    ]
    approved = services.approve(proposal=proposal, by=analyst, today=TODAY)
    assert approved.status_update.progress == 40
    assert list(approved.status_update.evidence_links.values_list("evidence", flat=True)) == [
        second.pk
    ]


def test_a_revision_is_checked_by_the_rules_and_by_whom(
    measure, reporter, analyst, django_user_model
):
    proposal = propose(measure, reporter)
    colleague = make_user(django_user_model, "ron", REPORTER)

    with pytest.raises(ValidationError) as rule:
        services.revise(
            proposal=proposal,
            changes={"status": "implemented", "progress": 100},
            by=reporter,
            today=TODAY,
        )
    with pytest.raises(ValidationError) as nothing:
        services.revise(proposal=proposal, changes={"progress": 30}, by=reporter, today=TODAY)
    with pytest.raises(ValidationError) as unknown:
        services.revise(proposal=proposal, changes={"measure": 1}, by=reporter, today=TODAY)
    with pytest.raises(PermissionDenied):
        services.revise(proposal=proposal, changes={"progress": 40}, by=colleague, today=TODAY)
    with pytest.raises(PermissionDenied):
        services.revise(proposal=proposal, changes={"progress": 40}, by=analyst, today=TODAY)

    assert "evidence" in rule.value.message_dict
    assert "non_field_errors" in nothing.value.message_dict
    assert "measure" in unknown.value.message_dict
    proposal.refresh_from_db()
    assert (proposal.revision, proposal.version, proposal.revisions.count()) == (1, 1, 1)


def test_a_pending_proposal_may_be_revised_before_anyone_decides(measure, reporter):
    proposal = propose(measure, reporter)

    revised = services.revise(
        proposal=proposal, changes={"confidence": "high"}, by=reporter, today=TODAY
    )

    assert (revised.state, revised.revision, revised.confidence) == ("pending", 2, "high")


@pytest.mark.parametrize("request_changes_first", [False, True])
def test_only_its_proposer_withdraws_an_open_proposal(
    measure, reporter, analyst, request_changes_first
):
    proposal = propose(measure, reporter)
    if request_changes_first:
        services.request_changes(proposal=proposal, by=analyst, comment="More")

    with pytest.raises(PermissionDenied):
        services.withdraw(proposal=proposal, by=analyst)
    withdrawn = services.withdraw(proposal=proposal, by=reporter)

    assert withdrawn.state == ProposalState.WITHDRAWN
    assert withdrawn.decisions.last().state == "withdrawn"
    with pytest.raises(services.TransitionRefused):
        services.withdraw(proposal=proposal, by=reporter)
    with pytest.raises(services.TransitionRefused):
        services.approve(proposal=proposal, by=analyst, today=TODAY)
    assert unchanged(measure)


def test_an_approved_proposal_is_final(measure, reporter, analyst, second_analyst):
    proposal = propose(measure, reporter)
    services.approve(proposal=proposal, by=analyst, today=TODAY)

    with pytest.raises(services.TransitionRefused, match="Approved"):
        services.approve(proposal=proposal, by=second_analyst, today=TODAY)
    with pytest.raises(services.TransitionRefused):
        services.reject(proposal=proposal, by=second_analyst, reason="Too late")
    with pytest.raises(services.TransitionRefused):
        services.withdraw(proposal=proposal, by=reporter)

    assert StatusUpdate.objects.filter(measure=measure).count() == 2


# The database keeps revisions and decisions


def run_sql(sql, params=None):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def decided(measure, reporter, analyst):
    proposal = propose(measure, reporter)
    services.request_changes(proposal=proposal, by=analyst, comment="More")
    return {
        "review_proposalrevision": proposal.revisions.get().pk,
        "review_proposaldecision": proposal.decisions.get().pk,
    }


APPEND_ONLY = ["review_proposalrevision", "review_proposaldecision"]


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_the_database_refuses_to_change_a_revision_or_decision(decided, table):
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(f"UPDATE {table} SET id = id WHERE id = %s", [decided[table]])


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_the_database_refuses_to_delete_a_revision_or_decision(decided, table):
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(f"DELETE FROM {table} WHERE id = %s", [decided[table]])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
@pytest.mark.parametrize("table", APPEND_ONLY)
def test_the_database_refuses_to_truncate_revisions_or_decisions(decided, table):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {table} CASCADE")


def test_the_proposal_row_itself_changes_with_its_state(decided):
    proposal = Proposal.objects.get()

    run_sql("UPDATE review_proposal SET updated_at = updated_at WHERE id = %s", [proposal.pk])


# Two reviewers at once


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL: SQLite lets one writer at a time in, so there is no race",
)
@pytest.mark.django_db(transaction=True)
def test_of_two_reviewers_approving_at_once_one_wins(monkeypatch, django_user_model):
    """The first approval holds the proposal's lock while it records; the second waits for
    it, then finds the proposal approved and is refused. One history entry."""
    reporter = make_user(django_user_model, "rita", REPORTER)
    first, second = (make_user(django_user_model, name, ANALYST) for name in ("ana", "abe"))
    measure = MeasureFactory()
    proposal = propose(measure, reporter)
    recording, release = threading.Event(), threading.Event()
    real = services.record_status_update

    def slow_record(**kwargs):
        if threading.current_thread().name == "first":
            recording.set()
            assert release.wait(15)
        return real(**kwargs)

    monkeypatch.setattr(services, "record_status_update", slow_record)
    outcomes = {}

    def approve(name, user):
        close_old_connections()
        try:
            outcomes[name] = services.approve(proposal=proposal.pk, by=user, today=TODAY)
        except Exception as error:
            outcomes[name] = error
        finally:
            connection.close()

    a = threading.Thread(target=approve, args=("first", first), name="first", daemon=True)
    a.start()
    assert recording.wait(15)
    b = threading.Thread(target=approve, args=("second", second), name="second", daemon=True)
    b.start()
    b.join(1)
    waited = b.is_alive()
    release.set()
    a.join(15)
    b.join(15)

    assert waited, "the second approval did not wait for the first's lock"
    assert isinstance(outcomes["first"], Proposal), outcomes["first"]
    assert isinstance(outcomes["second"], services.TransitionRefused), outcomes["second"]
    assert StatusUpdate.objects.filter(measure=measure).count() == 2
    assert Proposal.objects.get().approved_by == first
