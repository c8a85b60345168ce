"""The round trip: a status history exported (the API's or the admin's export, CSV or XLSX, in
English or Chinese) and imported into a freshly seeded database is the same history: the same
entries, in the same order, with the same notes and evidence, and the same current states and
versions. Recorded at and by are the import's own (the importer records)."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from intake import services
from recommendations import services as recording
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db

# (measure, status, progress, effective date, confidence, note, evidence keys), recorded in
# this order: back-dated entries, two entries of one day, notes a spreadsheet would take for a
# formula, notes on several lines, Chinese, and evidence.
HISTORY = [
    ("1.1", Status.PLANNED, 10, date(2025, 6, 1), "high", "Plan adopted", []),
    ("1.1", Status.IN_PROGRESS, 40, date(2025, 9, 1), "medium", "", ["chatgpt_launch_2022"]),
    ("1.1", Status.IN_PROGRESS, 45, date(2025, 9, 1), "medium", "Corrected the same day", []),
    ("1.1", Status.PLANNED, 20, date(2025, 7, 1), "low", "-5% budget; =SUM(A1)", []),
    ("1.1", Status.STALLED, 45, date(2025, 10, 1), "high", "Awaiting the law\nSecond line", []),
    (
        "3.2",
        Status.IMPLEMENTED,
        100,
        date(2025, 8, 1),
        "high",
        "隐私计算平台已上线",
        ["chatgpt_launch_2022", "genai_first_year_2022"],
    ),
    (
        "3.2",
        Status.IMPLEMENTED,
        100,
        date(2025, 8, 1),
        "high",
        "隐私计算平台已上线",
        ["genai_first_year_2022"],
    ),
    ("5.3", Status.NOT_STARTED, 0, date(2025, 5, 1), "medium", "@mention", []),
]


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """A fresh seed, loaded once for the module: each test's transaction is a savepoint inside
    the one that loaded it, rolled back after the module's last test (a load takes seconds)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_seed", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def history() -> list[tuple]:
    """Every entry in the one history order, as an export cannot tell them apart otherwise."""
    return [
        (
            update.measure.code,
            update.status,
            update.progress,
            update.confidence,
            update.effective_date,
            update.note,
            sorted(link.evidence.key for link in update.evidence_links.all()),
        )
        for update in StatusUpdate.objects.select_related("measure")
        .prefetch_related("evidence_links__evidence")
        .order_by("measure__code", "effective_date", "recorded_at", "id")
    ]


def states() -> list[tuple]:
    return list(
        Measure.objects.order_by("code").values_list(
            "code", "status", "progress", "status_effective_date", "version"
        )
    )


def record_history(analyst) -> None:
    from evidence.models import Evidence

    for code, status, progress, day, confidence, note, keys in HISTORY:
        recording.record_status_update(
            measure=Measure.objects.get(code=code),
            status=status,
            progress=progress,
            effective_date=day,
            confidence=confidence,
            note=note,
            evidence=list(Evidence.objects.filter(key__in=keys)),
            by=analyst,
            today=TODAY,
        )


def export_from_the_api(client, fmt: str, lang: str) -> bytes:
    response = client.get(reverse("status-update-export"), {"file": fmt, "lang": lang})
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def export_from_the_admin(client, fmt: str, lang: str) -> bytes:
    language = "zh-hans" if lang == "zh" else "en"
    response = client.get(
        reverse("admin:recommendations_statusupdate_export", args=[fmt]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("export", "fmt", "lang"),
    [
        (export_from_the_api, "csv", "zh"),
        (export_from_the_api, "csv", "en"),
        (export_from_the_api, "xlsx", "en"),
        (export_from_the_admin, "csv", "en"),
        (export_from_the_admin, "xlsx", "zh"),
    ],
    ids=["api-csv-zh", "api-csv-en", "api-xlsx-en", "admin-csv-en", "admin-xlsx-zh"],
)
def test_an_exported_history_imported_into_a_fresh_seed_is_the_same_history(
    client, analyst, monkeypatch, export, fmt, lang
):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)
    fresh = (history(), states())
    client.force_login(analyst)
    with transaction.atomic():
        record_history(analyst)
        expected = (history(), states())
        exported = export(client, fmt, lang)
        transaction.set_rollback(True)
    assert (history(), states()) == fresh  # the freshly seeded database again

    imported = services.check_file(
        data=exported, filename=f"history.{fmt}", by=analyst, channel="api", today=TODAY
    )
    assert imported.errors == 0, [row.problems for row in imported.row_results.all()]
    assert (imported.to_record, imported.already) == (len(HISTORY), 15)
    services.confirm(imported, by=analyst, today=TODAY)

    assert (history(), states()) == expected
    again = services.check_file(
        data=exported, filename=f"history.{fmt}", by=analyst, channel="api", today=TODAY
    )
    assert (again.to_record, again.already) == (0, len(HISTORY) + 15)


def test_an_entry_citing_evidence_without_a_key_does_not_import_silently(client, analyst):
    from evidence.models import Evidence

    piece = Evidence.objects.get(key="chatgpt_launch_2022")
    recording.record_status_update(
        measure=Measure.objects.get(code="1.1"),
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2025, 6, 1),
        confidence="high",
        evidence=[piece],
        by=analyst,
        today=TODAY,
    )
    Evidence.objects.filter(pk=piece.pk).update(key=None)
    client.force_login(analyst)
    exported = export_from_the_api(client, "csv", "en")

    imported = services.check_file(
        data=exported, filename="history.csv", by=analyst, channel="api", today=TODAY
    )

    [row] = imported.row_results.filter(outcome="error")
    [problem] = row.problems
    assert problem["field"] == "evidence"
    assert "evidence without a key cannot be imported" in problem["messages"]["en"][0]
