"""Proposals in the admin, read-only for now, and who reports for which institution: a
superuser's page, on the audit trail like a user's groups."""

import pytest
from django.urls import reverse

from audit.models import Change
from review import services
from review.models import ReporterInstitution
from tests.conftest import TODAY
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(measure, reporter, analyst):
    proposal = propose(measure, reporter)
    services.request_changes(proposal=proposal, by=analyst, comment="Which banks?")
    services.revise(proposal=proposal, changes={"note": "Two banks"}, by=reporter, today=TODAY)
    return services.approve(proposal=proposal, by=analyst, today=TODAY)


def test_a_proposals_page_shows_its_revisions_and_decisions_read_only(analyst_client, approved):
    page = analyst_client.get(reverse("admin:review_proposal_change", args=[approved.pk]))
    listed = analyst_client.get(reverse("admin:review_proposal_changelist"), {"state": "approved"})

    text = page.content.decode()
    assert page.status_code == 200
    assert "r1 · " in text and "r2 · " in text and "Which banks?" in text
    assert 'name="_save"' not in text
    assert listed.status_code == 200 and "3.2" in listed.content.decode()


def test_nobody_adds_changes_or_deletes_a_proposal_in_the_admin(admin_client, approved):
    add = admin_client.get(reverse("admin:review_proposal_add"))
    delete = admin_client.post(
        reverse("admin:review_proposal_delete", args=[approved.pk]), {"post": "yes"}
    )

    assert (add.status_code, delete.status_code) == (403, 403)


def test_a_reporter_does_not_list_everyones_proposals(client, reporter, approved):
    client.force_login(reporter)

    assert client.get(reverse("admin:review_proposal_changelist")).status_code == 403


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
