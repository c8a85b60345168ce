"""A backup made with dumpdata and restored with loaddata gives back identical history and
current state (README, "Backups")."""

from datetime import date
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from audit.models import Change
from evidence.models import Evidence, StatusUpdateEvidence
from recommendations import services
from recommendations.choices import Status
from recommendations.integrity import history_maintenance
from recommendations.models import Institution, Measure, ReportSnapshot, StatusUpdate
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from review import services as review
from review.models import ReporterInstitution
from tests.conftest import TODAY, app_models, stored_state
from tokens.models import ApiToken
from tokens.services import create_token

# Groups, permissions and content types are rebuilt by migrate, with ids of their own: users
# name their groups by natural key (--natural-foreign); the rest is data. YAML keeps
# recorded_at to the microsecond (JSON rounds it to the millisecond, which could reorder two
# updates recorded in the same millisecond) and text as it was (Django's XML loader strips
# every field's leading and trailing whitespace: a report's Markdown would lose its last
# newline).
BACKED_UP = ["recommendations", "evidence", "review", "auth.user", "tokens", "audit"]


def everything() -> dict:
    """Every row of every table backed up, and the groups each user is in (by name)."""
    return {
        **stored_state([*app_models("recommendations", "evidence", "review"), User, ApiToken]),
        # The audit trail, its models named (content types are renumbered by migrate).
        "trail": [
            (*row[:-2], (row[-2], row[-1]))
            for row in Change.objects.order_by("id").values_list(
                *[f.attname for f in Change._meta.concrete_fields if f.name != "content_type"],
                "content_type__app_label",
                "content_type__model",
            )
        ],
        "groups": list(
            User.objects.order_by("username", "groups__name").values_list(
                "username", "groups__name"
            )
        ),
    }


def dump_empty_and_restore(backup) -> None:
    """Back up into `backup`, empty the database (history included), and restore it."""
    call_command(
        "dumpdata", *BACKED_UP, format="yaml", natural_foreign=True, output=str(backup), verbosity=0
    )
    with history_maintenance(session=True):
        call_command("flush", interactive=False, verbosity=0)
    assert not StatusUpdate.objects.exists()
    call_command("loaddata", str(backup), verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_a_dump_restored_into_an_empty_database_gives_identical_history(
    analyst, reporter, tmp_path
):
    call_command("load_seed", stdout=StringIO())
    measure = Measure.objects.get(code="3.2")
    services.record_status_update(
        measure=measure,
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date=date(2026, 3, 1),
        by=analyst,
        today=TODAY,
        evidence=[Evidence.objects.first()],
        note="Pilots",
    )
    # Back-dated: recorded later, effective earlier; the restored state must still be March's.
    services.record_status_update(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 2, 1),
        by=analyst,
        today=TODAY,
    )
    save_report(report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31)))
    create_token(user=analyst, name="ci", now=timezone.now())
    # A proposal revised once and approved, another rejected, and a reporter's institution.
    proposed = {"status": Status.IN_PROGRESS, "effective_date": date(2026, 4, 1), "today": TODAY}
    approved = review.propose(measure=measure, progress=35, by=reporter, note="Pilots", **proposed)
    review.request_changes(proposal=approved, by=analyst, comment="Which banks?")
    review.revise(proposal=approved, changes={"note": "Two banks"}, by=reporter, today=TODAY)
    review.approve(proposal=approved, by=analyst, today=TODAY)
    rejected = review.propose(measure=measure, progress=40, by=reporter, **proposed)
    review.reject(proposal=rejected, by=analyst, reason="No source")
    ReporterInstitution.objects.create(user=reporter, institution=Institution.objects.first())
    assert StatusUpdateEvidence.objects.exists() and ReportSnapshot.objects.exists()
    before = everything()

    dump_empty_and_restore(tmp_path / "backup.yaml")

    assert everything() == before
    measure.refresh_from_db()
    assert (measure.status, measure.progress, measure.version) == (Status.IN_PROGRESS, 35, 4)


@pytest.mark.django_db(transaction=True)
def test_history_restored_from_a_dump_stays_append_only(tmp_path):
    call_command("load_seed", stdout=StringIO())

    dump_empty_and_restore(tmp_path / "backup.yaml")

    with pytest.raises(Exception, match="append-only"):
        StatusUpdate.objects.all().delete()
    assert StatusUpdate.objects.count() == 15


@pytest.mark.django_db(transaction=True)
def test_a_restored_report_renders_as_it_was_published(tmp_path):
    call_command("load_seed", stdout=StringIO())
    save_report(report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31)))
    renderings = ("markdown_en", "markdown_zh", "html_en", "html_zh", "csv")
    published = list(ReportSnapshot.objects.values_list(*renderings))
    assert all(text.endswith("\n") for row in published for text in row)

    dump_empty_and_restore(tmp_path / "backup.yaml")

    assert list(ReportSnapshot.objects.values_list(*renderings)) == published
