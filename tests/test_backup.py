"""A backup made with dumpdata and restored with loaddata gives back identical history and
current state (README, "Backups")."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from evidence.models import Evidence, StatusUpdateEvidence
from recommendations import services
from recommendations.choices import Status
from recommendations.integrity import history_maintenance
from recommendations.models import Measure, ReportSnapshot, StatusUpdate
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from tests.conftest import TODAY

# Groups, permissions and content types are rebuilt by migrate, with ids of their own: users
# name their groups by natural key (--natural-foreign); the rest is data. XML keeps
# recorded_at to the microsecond (JSON rounds it to the millisecond, which could reorder two
# updates recorded in the same millisecond).
BACKED_UP = ["recommendations", "evidence", "auth.user", "authtoken"]


def everything() -> dict:
    return {
        "measures": list(
            Measure.objects.order_by("id").values_list(
                "id", "code", "status", "progress", "status_effective_date", "version", "updated_at"
            )
        ),
        "history": list(
            StatusUpdate.objects.order_by("id").values_list(
                "id",
                "measure_id",
                "status",
                "progress",
                "confidence",
                "effective_date",
                "recorded_at",
                "recorded_by_id",
                "note",
            )
        ),
        "history_evidence": list(
            StatusUpdateEvidence.objects.order_by("id").values_list(
                "id", "status_update_id", "evidence_id"
            )
        ),
        "evidence": Evidence.objects.count(),
        "reports": list(
            ReportSnapshot.objects.values_list("id", "version", "sha256", "report_json")
        ),
    }


@pytest.mark.django_db(transaction=True)
def test_a_dump_restored_into_an_empty_database_gives_identical_history(analyst, tmp_path):
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
    services.record_status_update(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 2, 1),
        by=analyst,
        today=TODAY,
    )
    save_report(report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31)))
    before = everything()
    backup = tmp_path / "backup.xml"
    call_command(
        "dumpdata", *BACKED_UP, format="xml", natural_foreign=True, output=str(backup), verbosity=0
    )

    with history_maintenance(session=True):
        call_command("flush", interactive=False, verbosity=0)
    assert not StatusUpdate.objects.exists()
    call_command("loaddata", str(backup), verbosity=0)

    assert everything() == before
    assert before["history"] and before["history_evidence"] and before["reports"]


@pytest.mark.django_db(transaction=True)
def test_history_restored_from_a_dump_stays_append_only(tmp_path):
    call_command("load_seed", stdout=StringIO())
    backup = tmp_path / "backup.xml"
    call_command(
        "dumpdata", *BACKED_UP, format="xml", natural_foreign=True, output=str(backup), verbosity=0
    )
    with history_maintenance(session=True):
        call_command("flush", interactive=False, verbosity=0)
    call_command("loaddata", str(backup), verbosity=0)

    with pytest.raises(Exception, match="append-only"):
        StatusUpdate.objects.all().delete()

    assert StatusUpdate.objects.count() == 15
