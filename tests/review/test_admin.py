"""Proposals in the admin: the review queue on the home page and each decision from it, a
proposer's own proposals, proposing, revising and withdrawing in the admin, the record form
sending a user whose updates go to review to the proposal form, and who reports for which
institution (a superuser's page, on the audit trail like a user's groups)."""

from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import Change
from recommendations import services as history
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from review import services
from review.choices import ProposalState
from review.models import Proposal, ProposalDecision, ProposalRevision, ReporterInstitution
from tests.conftest import TODAY, make_user, stored_state
from tests.factories import EvidenceFactory, InstitutionFactory, MeasureFactory, link_evidence
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")
ADD = reverse("admin:review_proposal_add")


def decide_url(proposal) -> str:
    return reverse("admin:review_proposal_decide", args=[proposal.pk])


def page_url(proposal) -> str:
    return reverse("admin:review_proposal_change", args=[proposal.pk])


def decide(client, proposal, action, text="", version=None, next_url=HOME):
    return client.post(
        decide_url(proposal),
        {
            "action": action,
            "text": text,
            "expected_version": proposal.version if version is None else version,
            "next": next_url,
        },
    )


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def review_rows() -> list:
    """Every proposal, revision and decision, to compare before and after."""
    return stored_state([Proposal, ProposalRevision, ProposalDecision, StatusUpdate, Measure])


@pytest.fixture
def reporter_client(client, reporter):
    client.force_login(reporter)
    return client


@pytest.fixture
def pending(measure, reporter):
    """Measure 3.2 in progress at 30% since 2026-01-01, and a proposal to move it to
    partially implemented at 60% on 2026-03-01, citing a piece of evidence."""
    history.record_status_update(
        measure=measure,
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date=date(2026, 1, 1),
        by=None,
        today=TODAY,
    )
    evidence = EvidenceFactory(claim_en="Two banks run the pilot.")
    link_evidence(evidence, measure)
    return propose(
        measure,
        reporter,
        status=Status.PARTIALLY_IMPLEMENTED,
        progress=60,
        evidence=[evidence],
        note="Pilots in two banks",
    )


@pytest.fixture
def approved(measure, reporter, analyst):
    proposal = propose(measure, reporter)
    services.request_changes(proposal=proposal, by=analyst, comment="Which banks?")
    services.revise(proposal=proposal, changes={"note": "Two banks"}, by=reporter, today=TODAY)
    return services.approve(proposal=proposal, by=analyst, today=TODAY)


# The queue on the home page


def test_the_home_page_queues_pending_proposals_oldest_first_for_a_reviewer(
    analyst_client, reporter
):
    first, second, third = (
        propose(MeasureFactory(code=code), reporter) for code in ("1.1", "1.2", "1.3")
    )
    services.withdraw(proposal=second, by=reporter)

    response = analyst_client.get(HOME)

    queue = response.context["review_queue"]
    assert [panel["proposal"].pk for panel in queue["panels"]] == [first.pk, third.pk]
    assert queue["total"] == 2
    html = response.content.decode()
    assert "Proposals waiting for review (2)" in html
    assert "?state__exact=pending" in html


def test_the_queue_shows_the_current_state_beside_the_proposed_one_and_marks_what_changes(
    analyst_client, pending
):
    response = analyst_client.get(HOME)

    [panel] = response.context["review_queue"]["panels"]
    lines = [(line.now, line.proposed, line.difference) for line in panel["lines"]]
    assert lines == [
        ("In progress", "Partially implemented", "changed"),
        ("30%", "60%", "+30"),
        ("2026-01-01", "2026-03-01", "59 days later"),
    ]
    html = response.content.decode()
    assert html.count('<tr class="changed">') == 3
    evidence = pending.evidence.get()
    assert f'href="/admin/evidence/evidence/{evidence.pk}/change/">Two banks run the pilot.' in html
    assert "Pilots in two banks" in html and "proposed by rita on" in html
    assert f'name="expected_version" value="{pending.version}"' in html


def test_the_queue_marks_a_regression_and_leaves_unchanged_fields_unmarked(
    analyst_client, measure, reporter
):
    history.record_status_update(
        measure=measure,
        status=Status.PARTIALLY_IMPLEMENTED,
        progress=60,
        effective_date=date(2026, 1, 1),
        evidence=[link_evidence(EvidenceFactory(), measure).evidence],
        by=None,
        today=TODAY,
    )
    propose(measure, reporter, status=Status.IN_PROGRESS, progress=60, day=date(2026, 1, 1))

    [panel] = analyst_client.get(HOME).context["review_queue"]["panels"]

    assert [line.difference for line in panel["lines"]] == ["a regression", "", ""]


def test_the_queue_shows_the_revision_and_the_comment_it_was_sent_back_with(
    analyst_client, second_analyst, reporter, pending
):
    services.request_changes(proposal=pending, by=second_analyst, comment="Which banks?")
    services.revise(proposal=pending, changes={"progress": 50}, by=reporter, today=TODAY)

    html = analyst_client.get(HOME).content.decode()

    assert "revision 2" in html
    assert "“Which banks?” — abe" in html


def test_the_queue_shows_the_oldest_ten_and_counts_them_all(analyst_client, reporter):
    proposals = [propose(MeasureFactory(), reporter) for _n in range(12)]

    response = analyst_client.get(HOME)

    queue = response.context["review_queue"]
    assert [panel["proposal"].pk for panel in queue["panels"]] == [p.pk for p in proposals[:10]]
    assert queue["total"] == 12
    assert "The 10 that have waited longest." in response.content.decode()


def add_pending(count: int, reporter, reviewer) -> None:
    """`count` pending proposals, each citing evidence and revised after a request for
    changes: all that a panel shows."""
    for _n in range(count):
        measure = MeasureFactory()
        evidence = EvidenceFactory()
        link_evidence(evidence, measure)
        proposal = propose(measure, reporter, evidence=[evidence])
        services.request_changes(proposal=proposal, by=reviewer, comment="Which banks?")
        services.revise(proposal=proposal, changes={"progress": 40}, by=reporter, today=TODAY)


@pytest.mark.parametrize("count", [1, 15])
def test_the_home_page_runs_the_same_queries_for_one_or_many_pending_proposals(
    analyst_client, analyst, reporter, django_assert_num_queries, count
):
    add_pending(count, reporter, analyst)
    analyst_client.get(HOME)  # the session and the caches warmed up

    # The page's own 7 (the session, the user, the user's permissions, the measures' states,
    # the pillars, the latest updates, the app list's permissions…) and the queue's three:
    # its rows (with their measure, proposer and latest decision), their evidence, its count.
    with django_assert_num_queries(10):
        response = analyst_client.get(HOME)

    assert response.context["review_queue"]["total"] == count


def test_a_proposers_home_page_runs_the_same_queries_for_few_or_many_proposals(
    reporter_client, reporter, analyst
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            reporter_client.get(HOME)
        return len(captured)

    add_pending(1, reporter, analyst)
    reporter_client.get(HOME)
    few = queries()
    add_pending(12, reporter, analyst)
    for proposal in Proposal.objects.order_by("id")[:6]:
        services.reject(proposal=proposal, by=analyst, reason="No")

    assert queries() == few


def test_viewers_and_reporters_see_no_queue(viewer_client, pending):
    assert "review_queue" not in viewer_client.get(HOME).context


def test_a_reviewer_sees_their_own_proposal_without_buttons_and_why(
    client, analyst, measure, settings
):
    settings.REVIEW_ANALYST_UPDATES = True
    own = propose(measure, analyst)
    client.force_login(analyst)

    html = client.get(HOME).content.decode()

    assert "You proposed this: another reviewer decides on it (four eyes)." in html
    assert f'action="{decide_url(own)}"' in html  # only to withdraw it
    assert 'value="approve"' not in html


# Deciding


def test_a_reviewer_approves_with_one_click_and_the_measure_changes(
    analyst_client, analyst, pending, measure
):
    response = decide(analyst_client, pending, "approve")

    assert response.status_code == 302 and response["Location"] == HOME
    pending.refresh_from_db()
    measure.refresh_from_db()
    assert (pending.state, pending.approved_by) == (ProposalState.APPROVED, analyst)
    assert (measure.status, measure.progress) == (Status.PARTIALLY_IMPLEMENTED, 60)
    assert said(response) == [
        f"Approved proposal {pending.pk}: measure 3.2 is now Partially implemented, 60%, "
        "since 2026-03-01."
    ]


def test_a_reviewer_rejects_with_a_reason(analyst_client, pending, measure):
    response = decide(analyst_client, pending, "reject", text="No source for the second bank")

    pending.refresh_from_db()
    assert pending.state == ProposalState.REJECTED
    assert pending.decisions.get().text == "No source for the second bank"
    assert said(response) == [
        f"Rejected proposal {pending.pk} for measure 3.2; its proposer sees your reason."
    ]
    measure.refresh_from_db()
    assert measure.status == Status.IN_PROGRESS


def test_a_reviewer_requests_changes_with_a_comment(analyst_client, pending):
    response = decide(analyst_client, pending, "request_changes", text="Which banks?")

    pending.refresh_from_db()
    assert pending.state == ProposalState.CHANGES_REQUESTED
    assert pending.decisions.get().text == "Which banks?"
    assert said(response) == [
        f"Sent proposal {pending.pk} for measure 3.2 back to rita with your comment."
    ]


@pytest.mark.parametrize("action", ["reject", "request_changes"])
def test_a_rejection_or_request_without_its_text_writes_nothing_and_says_why(
    analyst_client, pending, action
):
    before = review_rows()

    response = decide(analyst_client, pending, action, text="   ")

    assert response.status_code == 302
    assert review_rows() == before
    [message] = said(response)
    assert message.startswith(f"Proposal {pending.pk}: nothing was done. Say ")


def test_a_stale_decision_is_refused_and_writes_nothing(
    analyst_client, reporter, pending, second_analyst
):
    loaded = pending.version
    services.request_changes(proposal=pending, by=second_analyst, comment="Which banks?")
    services.revise(proposal=pending, changes={"progress": 50}, by=reporter, today=TODAY)
    before = review_rows()

    response = decide(analyst_client, pending, "approve", version=loaded)

    assert review_rows() == before
    [message] = said(response)
    assert "has changed since you loaded it" in message and "Reload it" in message


def test_a_decision_on_a_decided_proposal_is_refused(analyst_client, second_analyst, pending):
    services.reject(proposal=pending, by=second_analyst, reason="Duplicate")
    pending.refresh_from_db()
    before = review_rows()

    response = decide(analyst_client, pending, "approve")

    assert review_rows() == before
    assert said(response) == [
        f"Proposal {pending.pk}: nothing was done. Proposal {pending.pk} is “Rejected”: only a "
        "pending proposal can be approved."
    ]


def test_an_approval_the_rules_now_refuse_writes_nothing_and_says_why(
    analyst_client, pending, measure
):
    history.update_measure(measure=measure, changes={"archived": True})
    before = review_rows()

    response = decide(analyst_client, pending, "approve")

    assert review_rows() == before
    [message] = said(response)
    assert "archived" in message


def test_nobody_decides_on_their_own_proposal(client, analyst, measure, settings):
    settings.REVIEW_ANALYST_UPDATES = True
    own = propose(measure, analyst)
    client.force_login(analyst)

    response = decide(client, own, "approve")

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.state == ProposalState.PENDING


def test_a_reporter_cannot_decide(reporter_client, reporter, pending, django_user_model):
    others = propose(MeasureFactory(), make_user(django_user_model, "rex", "reporter"))
    before = review_rows()

    own = decide(reporter_client, pending, "approve")
    someone_elses = decide(reporter_client, others, "reject", text="No")

    assert (own.status_code, someone_elses.status_code) == (403, 404)
    assert review_rows() == before


def test_a_viewer_cannot_decide(viewer_client, pending):
    assert decide(viewer_client, pending, "approve").status_code == 403


def test_a_decision_goes_back_only_to_a_page_of_this_site(analyst_client, pending):
    elsewhere = decide(
        analyst_client, pending, "request_changes", "x", next_url="https://x.example/"
    )
    pending.refresh_from_db()
    here = decide(
        analyst_client, pending, "approve", version=pending.version, next_url=page_url(pending)
    )

    assert elsewhere["Location"] == HOME
    assert here["Location"] == page_url(pending)


def test_the_decide_view_takes_only_what_its_forms_post(analyst_client, pending):
    assert analyst_client.get(decide_url(pending)).status_code == 405
    assert decide(analyst_client, pending, "publish").status_code == 400
    assert analyst_client.post(decide_url(pending), {"action": "approve"}).status_code == 400
    assert decide(analyst_client, Proposal(pk=987654, version=1), "approve").status_code == 404


def test_a_proposals_page_has_the_same_decision_panel(analyst_client, pending):
    page = analyst_client.get(page_url(pending))

    html = page.content.decode()
    assert page.context["review_panel"]["may_decide"]
    assert 'value="approve"' in html and 'value="request_changes"' in html
    assert f'name="next" value="{page_url(pending)}"' in html


def test_a_proposals_page_shows_its_revisions_and_decisions_read_only(analyst_client, approved):
    page = analyst_client.get(page_url(approved))
    listed = analyst_client.get(reverse("admin:review_proposal_changelist"), {"state": "approved"})

    text = page.content.decode()
    assert page.status_code == 200
    assert "r1 · " in text and "r2 · " in text and "Which banks?" in text
    assert 'name="_save"' not in text
    assert "review_panel" not in page.context  # decided: nothing left to do
    assert listed.status_code == 200 and "3.2" in listed.content.decode()


# A reporter's proposals


def propose_form(measure, **fields) -> dict:
    return {
        "measure": measure.pk,
        "status": Status.IN_PROGRESS,
        "progress": 30,
        "confidence": "medium",
        "effective_date": "2025-06-01",
        "note": "Pilots in two banks",
        "expected_version": measure.version,
        "_save": "Save",
        **fields,
    }


def test_a_reporter_proposes_in_the_admin_and_the_measure_does_not_change(
    reporter_client, reporter, measure
):
    evidence = EvidenceFactory()

    form = reporter_client.get(ADD, {"measure": measure.pk})
    response = reporter_client.post(ADD, propose_form(measure, evidence=[evidence.pk]))

    assert form.status_code == 200
    assert form.context["adminform"].form.initial["expected_version"] == measure.version
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response["Location"] == page_url(proposal)
    assert (proposal.proposed_by, proposal.state, proposal.revision) == (
        reporter,
        ProposalState.PENDING,
        1,
    )
    assert list(proposal.evidence.all()) == [evidence]
    assert "It waits for review" in said(response)[0]
    measure.refresh_from_db()
    assert (measure.status, measure.status_updates.count()) == (Status.NOT_ASSESSED, 1)


def test_a_proposal_the_rules_refuse_is_shown_on_its_field_and_writes_nothing(
    reporter_client, measure
):
    response = reporter_client.post(
        ADD, propose_form(measure, status=Status.STALLED, progress=10, note="")
    )

    assert response.status_code == 200
    assert "note" in response.context["adminform"].form.errors
    assert not Proposal.objects.exists()


def test_a_stale_measure_on_the_proposal_form_is_refused(reporter_client, measure):
    response = reporter_client.post(
        ADD, propose_form(measure, expected_version=measure.version + 1)
    )

    assert "has changed since you loaded it" in str(response.context["adminform"].form.errors)
    assert not Proposal.objects.exists()


def test_a_reporter_tied_to_institutions_is_told_on_the_form_which_measures_are_theirs(
    reporter_client, reporter, measure
):
    ReporterInstitution.objects.create(user=reporter, institution=InstitutionFactory(key="nfra"))

    response = reporter_client.post(ADD, propose_form(measure))

    assert "None of the institutions you report for" in str(
        response.context["adminform"].form.non_field_errors()
    )
    assert not Proposal.objects.exists()


def test_a_reporter_sees_the_comment_and_revises(reporter_client, analyst, pending):
    services.request_changes(proposal=pending, by=analyst, comment="Which banks?")
    pending.refresh_from_db()

    home = reporter_client.get(HOME).content.decode()
    page = reporter_client.get(page_url(pending))
    form = page.context["adminform"].form
    data = {
        **{name: form.initial[name] for name in ("status", "confidence", "effective_date")},
        "progress": 55,
        "note": "Pilots in ICBC and BOC",
        "evidence": [piece.pk for piece in form.initial["evidence"]],
        "expected_version": pending.version,
        "_save": "Save",
    }
    response = reporter_client.post(page_url(pending), data)

    assert "“Which banks?”" in home
    assert "Which banks?" in page.content.decode()
    assert response.status_code == 302, response.context["adminform"].form.errors
    pending.refresh_from_db()
    assert (pending.state, pending.revision, pending.progress) == (ProposalState.PENDING, 2, 55)
    assert pending.note == "Pilots in ICBC and BOC"
    assert pending.evidence.count() == 1  # kept
    assert said(response)[-1].startswith(f"Revised: proposal {pending.pk}, revision 2")


def test_a_revision_that_changes_nothing_is_refused_on_the_form(reporter_client, pending):
    form = reporter_client.get(page_url(pending)).context["adminform"].form
    data = {name: form.initial[name] for name in ("status", "progress", "confidence", "note")}
    data.update(
        effective_date="2026-03-01",
        evidence=[piece.pk for piece in form.initial["evidence"]],
        expected_version=pending.version,
    )

    response = reporter_client.post(page_url(pending), data)

    assert "changes nothing" in str(response.context["adminform"].form.non_field_errors())
    pending.refresh_from_db()
    assert pending.revision == 1


def test_a_reporter_withdraws_an_open_proposal(reporter_client, pending):
    response = decide(reporter_client, pending, "withdraw")

    pending.refresh_from_db()
    assert pending.state == ProposalState.WITHDRAWN
    assert said(response) == [
        f"Withdrew proposal {pending.pk} for measure 3.2; nothing was recorded."
    ]


def test_a_reporter_sees_their_proposals_and_what_was_decided(
    reporter_client, reporter, analyst, pending
):
    rejected = propose(MeasureFactory(code="4.1"), reporter)
    services.reject(proposal=rejected, by=analyst, reason="No source for it")

    response = reporter_client.get(HOME)

    rows = [row["proposal"].pk for row in response.context["own_proposals"]["rows"]]
    assert rows == [pending.pk, rejected.pk]  # the open one first
    html = response.content.decode()
    assert "Your proposals" in html
    assert "ana, " in html and "“No source for it”" in html
    assert html.count('value="withdraw"') == 1  # the open one only
    assert "can read everything here but change nothing" not in html


def test_a_decided_proposal_is_read_only_for_its_proposer(reporter_client, analyst, pending):
    services.reject(proposal=pending, by=analyst, reason="No")
    pending.refresh_from_db()

    page = reporter_client.get(page_url(pending))
    post = reporter_client.post(page_url(pending), {"progress": 70})

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert post.status_code == 403


def test_a_reporter_lists_and_opens_only_their_own_proposals(
    reporter_client, pending, django_user_model
):
    others = propose(MeasureFactory(), make_user(django_user_model, "rex", "reporter"))

    listed = reporter_client.get(reverse("admin:review_proposal_changelist"))
    opened = reporter_client.get(page_url(others))

    assert [p.pk for p in listed.context["cl"].result_list] == [pending.pk]
    assert opened.status_code == 302  # "does not exist", as Django says of what one may not see


def test_nobody_adds_changes_or_deletes_a_proposal_who_records_directly(admin_client, approved):
    add = admin_client.get(ADD)
    delete = admin_client.post(
        reverse("admin:review_proposal_delete", args=[approved.pk]), {"post": "yes"}
    )

    assert (add.status_code, delete.status_code) == (403, 403)


def test_an_analyst_does_not_propose_in_the_admin_without_the_setting(analyst_client):
    assert analyst_client.get(ADD).status_code == 403


def test_a_reporter_proposes_from_a_measures_page(reporter_client, measure):
    page = reporter_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    html = page.content.decode()
    assert f'href="{ADD}?measure={measure.pk}"' in html
    assert "Record a status update" not in html


# The record form, when updates go to review


def test_an_analyst_whose_updates_go_to_review_proposes_from_the_record_form(
    analyst_client, analyst, measure, settings
):
    settings.REVIEW_ANALYST_UPDATES = True
    record_form = reverse("admin:recommendations_statusupdate_add")

    sent = analyst_client.get(record_form, {"measure": measure.pk, "status": "planned"})
    form = analyst_client.get(sent["Location"])
    response = analyst_client.post(ADD, propose_form(measure, status=Status.PLANNED, progress=10))

    assert sent.status_code == 302
    assert sent["Location"] == f"{ADD}?measure={measure.pk}&status=planned"
    assert "Your status updates go to review" in said(sent)[0]
    assert form.context["adminform"].form.initial["status"] == "planned"
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    assert (proposal.proposed_by, proposal.status) == (analyst, Status.PLANNED)
    assert measure.status_updates.count() == 1  # nothing recorded


def test_a_post_to_the_record_form_records_nothing_when_updates_go_to_review(
    analyst_client, measure, settings
):
    settings.REVIEW_ANALYST_UPDATES = True

    response = analyst_client.post(
        reverse("admin:recommendations_statusupdate_add"),
        propose_form(measure, status=Status.PLANNED, progress=10),
    )

    assert response.status_code == 302 and response["Location"] == ADD
    assert measure.status_updates.count() == 1
    assert not Proposal.objects.exists()


def test_the_record_form_records_as_before_when_updates_do_not_go_to_review(
    analyst_client, measure
):
    response = analyst_client.get(
        reverse("admin:recommendations_statusupdate_add"), {"measure": measure.pk}
    )

    assert response.status_code == 200


# Who reports for which institution


def test_a_superuser_ties_a_reporter_to_an_institution_on_the_record(
    admin_client, analyst_client, reporter, institution
):
    url = reverse("admin:review_reporterinstitution_add")

    added = admin_client.post(url, {"user": reporter.pk, "institution": institution.pk})

    assert added.status_code == 302
    tie = ReporterInstitution.objects.get()
    assert (tie.user, tie.institution) == (reporter, institution)
    change = Change.objects.get(content_type__model="reporterinstitution")
    assert (change.action, change.parent_model, change.parent_id) == (
        Change.Action.CREATE,
        "auth.user",
        reporter.pk,
    )
    assert analyst_client.get(url).status_code == 403
    assert (
        analyst_client.get(reverse("admin:review_reporterinstitution_changelist")).status_code
        == 403
    )
