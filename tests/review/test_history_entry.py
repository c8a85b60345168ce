"""An approved proposal's entry of history says who proposed it and when, who approved it and
when; the API shows both, and the database refuses one person in both roles."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from recommendations.models import StatusUpdate
from review import services
from tests.conftest import TODAY
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


def test_the_entry_carries_proposer_approver_and_both_times(measure, reporter, analyst, api):
    proposal = propose(measure, reporter)

    approved = services.approve(proposal=proposal, by=analyst, today=TODAY)

    update = StatusUpdate.objects.get(pk=approved.status_update_id)
    assert (update.recorded_by, update.approved_by) == (reporter, analyst)
    assert update.proposed_at == proposal.proposed_at < update.recorded_at
    api.force_authenticate(analyst)
    shown = api.get(reverse("status-update-detail", args=[update.pk])).json()
    assert (shown["recorded_by"], shown["approved_by"]) == (reporter.username, analyst.username)
    listed = api.get(reverse("status-update-list"), {"measure": measure.pk}).json()["results"]
    (row,) = [entry for entry in listed if entry["id"] == update.pk]
    assert row == shown  # the feed's plain rows say the same


def test_an_entry_recorded_directly_has_no_approval(measure, analyst, api):
    api.force_authenticate(analyst)
    shown = api.get(reverse("status-update-list"), {"measure": measure.pk}).json()["results"][0]

    assert (shown["proposed_at"], shown["approved_by"]) == (None, None)


def test_the_database_refuses_an_entry_approved_by_its_own_author(measure, analyst):
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusUpdate.objects.create(
            measure=measure,
            status="planned",
            progress=10,
            confidence="medium",
            effective_date=TODAY,
            recorded_by=analyst,
            approved_by=analyst,
            proposed_at=timezone.now() - timedelta(hours=1),
        )
