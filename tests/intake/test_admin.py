"""The admin: upload a file, see each row's outcome on its row and column, confirm it, and
download the templates. Analysts and superusers; a reporter, whose rows are proposed, sees its
own imports; viewers are refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from intake import services
from intake.models import Import
from recommendations.models import StatusUpdate
from review.models import Proposal
from tests.conftest import TODAY
from tests.factories import MeasureFactory
from tests.intake.files import csv_bytes, csv_rows, xlsx_rows

pytestmark = pytest.mark.django_db

ROWS = [
    ["1.1", "planned", "10", "2026-01-05", "high", "Plan adopted", ""],
    ["1.1", "in_progress", "150", "2026-03-01", "medium", "", ""],
]
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def measure():
    return MeasureFactory(code="1.1")


def upload(client, data: bytes, **extra):
    return client.post(
        reverse("admin:intake_import_add"),
        {"file": SimpleUploadedFile("updates.csv", data)},
        **extra,
    )


def test_an_upload_shows_the_dry_run_row_by_row_with_errors_on_their_column(
    analyst_client, measure
):
    history = StatusUpdate.objects.count()

    response = upload(analyst_client, csv_bytes(ROWS))

    imported = Import.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:intake_import_change", args=[imported.pk])
    assert StatusUpdate.objects.count() == history
    page = analyst_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "C “progress (%)”</span> Progress is a percentage from 0 to 100." in html
    assert "Confirm: record 1 status update" in html
    assert "The row with errors is left out." in html
    # Errors first.
    assert html.index("Progress is a percentage") < html.index("Plan adopted")


def test_the_confirm_button_records_and_says_what_it_did(analyst_client, measure):
    upload(analyst_client, csv_bytes(ROWS))
    imported = Import.objects.get()

    response = analyst_client.post(
        reverse("admin:intake_import_confirm", args=[imported.pk]),
        {"version": imported.version},
        follow=True,
    )

    html = response.content.decode()
    assert "Recorded 1 status updates; 0 rows were already recorded, 1 rows with errors" in html
    assert "This import is confirmed" in html
    assert StatusUpdate.objects.filter(note="Plan adopted").exists()


def test_a_confirmation_refused_now_says_so_and_records_nothing(analyst_client, measure):
    upload(analyst_client, csv_bytes(ROWS[:1]))
    imported = Import.objects.get()
    measure.archived = True
    measure.save(update_fields=["archived"])

    response = analyst_client.post(
        reverse("admin:intake_import_confirm", args=[imported.pk]), follow=True
    )

    assert "Nothing was recorded." in response.content.decode()
    assert not StatusUpdate.objects.filter(note="Plan adopted").exists()


def test_a_file_that_cannot_be_imported_is_refused_on_the_form(analyst_client, measure):
    response = upload(analyst_client, csv_bytes(ROWS, headings=["measure", "state"]))

    assert response.status_code == 200
    assert "Unknown columns: B “state”." in response.content.decode()
    assert not Import.objects.exists()


def test_the_pages_read_in_chinese(analyst_client, measure):
    upload(analyst_client, csv_bytes(ROWS))
    imported = Import.objects.get()

    form = analyst_client.get(reverse("admin:intake_import_add"), **ZH).content.decode()
    page = analyst_client.get(
        reverse("admin:intake_import_change", args=[imported.pk]), **ZH
    ).content.decode()

    assert "检查文件" in form
    assert "进度须为 0 至 100 之间的百分比" in page or "进度" in page
    assert "Progress is a percentage" not in page


def test_only_rows_with_errors_can_be_shown(analyst_client, measure):
    upload(analyst_client, csv_bytes(ROWS))
    url = reverse("admin:intake_import_change", args=[Import.objects.get().pk])

    html = analyst_client.get(url, {"errors": "1"}).content.decode()

    assert "Plan adopted" not in html and "Showing 1 of 1 rows" in html


@pytest.mark.parametrize(
    ("lang", "fmt"), [("en", "csv"), ("zh", "csv"), ("en", "xlsx"), ("zh", "xlsx")]
)
def test_the_templates_download(analyst_client, lang, fmt):
    response = analyst_client.get(reverse("admin:intake_import_template", args=[lang, fmt]))

    assert response.status_code == 200
    rows = csv_rows(response.content) if fmt == "csv" else xlsx_rows(response.content)
    headings = [row for row in rows if row[0] and not str(row[0]).startswith("#")][0]
    assert headings[0] == ("措施编号" if lang == "zh" else "measure code")


def test_a_viewer_sees_no_imports(viewer_client, analyst, measure):
    imported = services.check_file(
        data=csv_bytes(ROWS), filename="f.csv", by=analyst, channel="api", today=TODAY
    )

    for url in (
        reverse("admin:intake_import_changelist"),
        reverse("admin:intake_import_add"),
        reverse("admin:intake_import_change", args=[imported.pk]),
        reverse("admin:intake_import_template", args=["en", "csv"]),
    ):
        assert viewer_client.get(url).status_code == 403, url
    refused = viewer_client.post(reverse("admin:intake_import_confirm", args=[imported.pk]))
    assert refused.status_code == 403
    assert not Import.objects.get().confirmed


def test_the_list_links_each_import(analyst_client, measure):
    upload(analyst_client, csv_bytes(ROWS))

    html = analyst_client.get(reverse("admin:intake_import_changelist")).content.decode()

    assert reverse("admin:intake_import_change", args=[Import.objects.get().pk]) in html
    assert "updates.csv" in html


# A reporter's import: its rows are proposed for review


@pytest.fixture
def reporter_client(reporter):
    browser = Client()
    browser.force_login(reporter)
    return browser


def test_a_reporter_uploads_sees_what_would_be_proposed_and_confirms_proposals(
    reporter_client, measure
):
    form = reporter_client.get(reverse("admin:intake_import_add")).content.decode()
    upload(reporter_client, csv_bytes(ROWS))
    imported = Import.objects.get()
    page = reporter_client.get(reverse("admin:intake_import_change", args=[imported.pk]))
    history = StatusUpdate.objects.count()

    confirmed = reporter_client.post(
        reverse("admin:intake_import_confirm", args=[imported.pk]),
        {"version": imported.version},
        follow=True,
    )

    assert "Your status updates go to review" in form
    html = page.content.decode()
    assert "would propose" in html and "would record" not in html
    assert "Confirm: propose 1 status update for review" in html
    done = confirmed.content.decode()
    assert "Proposed 1 status updates for review; 0 rows were already proposed" in done
    assert "wait for review" in done
    assert Proposal.objects.get().note == "Plan adopted"
    assert StatusUpdate.objects.count() == history


def test_a_reporter_sees_only_its_own_imports(reporter_client, analyst, measure):
    theirs = services.check_file(
        data=csv_bytes(ROWS), filename="theirs.csv", by=analyst, channel="api", today=TODAY
    )
    upload(reporter_client, csv_bytes(ROWS))

    listed = reporter_client.get(reverse("admin:intake_import_changelist")).content.decode()
    page = reporter_client.get(reverse("admin:intake_import_change", args=[theirs.pk]))
    confirm = reporter_client.post(reverse("admin:intake_import_confirm", args=[theirs.pk]))

    assert "updates.csv" in listed and "theirs.csv" not in listed
    assert page.status_code == confirm.status_code == 404
    assert not Import.objects.get(pk=theirs.pk).confirmed


def test_an_analyst_sees_a_reporters_import_but_does_not_confirm_it(
    reporter_client, analyst_client, measure
):
    upload(reporter_client, csv_bytes(ROWS))
    imported = Import.objects.get()

    html = analyst_client.get(
        reverse("admin:intake_import_change", args=[imported.pk])
    ).content.decode()
    refused = analyst_client.post(
        reverse("admin:intake_import_confirm", args=[imported.pk]), follow=True
    ).content.decode()

    assert "Nothing is proposed until whoever uploaded this import confirms it." in html
    assert "Confirm:" not in html
    assert "Nothing was proposed. Only whoever uploaded this import may confirm it" in refused
    assert not Proposal.objects.exists()
