"""/api/v1/imports/: upload (a dry run), read, confirm, and the template; a reporter's rows
proposed for review. Every response is checked against the OpenAPI schema
(tests/openapi_validation.py)."""

import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.test import APIClient

from intake import services
from intake.models import Import
from recommendations import services as recording
from recommendations.models import StatusUpdate
from review.models import Proposal
from tests.conftest import TODAY, authenticated_as, stored_state
from tests.factories import MeasureFactory
from tests.intake.files import HEADINGS_ZH, csv_bytes, csv_rows, xlsx_bytes, xlsx_rows

pytestmark = pytest.mark.django_db

ROWS = [
    ["1.1", "planned", "10", "2026-01-05", "high", "Plan adopted", ""],
    ["1.1", "in_progress", "150", "2026-03-01", "medium", "", ""],
]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def measure():
    return MeasureFactory(code="1.1")


def upload(api, data: bytes, name: str = "updates.csv", **extra):
    return api.post(
        reverse("import-list"),
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
        **extra,
    )


def test_an_upload_is_a_dry_run_answered_with_each_rows_outcome(analyst_api, measure):
    before = stored_state()

    response = upload(analyst_api, csv_bytes(ROWS))

    assert response.status_code == 201, response.content
    assert stored_state() == before
    body = response.json()
    assert response["Location"].endswith(reverse("import-detail", args=[body["id"]]))
    assert response["ETag"] == '"1"'
    assert (body["state"], body["row_count"], body["to_record"], body["with_errors"]) == (
        "checked",
        2,
        1,
        1,
    )
    assert (body["uploaded_by"], body["channel"], body["format"]) == ("ana", "api", "csv")
    first, second = body["rows"]
    assert (first["row"], first["outcome"], first["problems"]) == (2, "record", [])
    assert first["values"]["status"] == "planned"
    assert second["outcome"] == "error"
    assert second["problems"] == [
        {
            "field": "progress",
            "column": "C",
            "heading": "progress (%)",
            "messages": ["Progress is a percentage from 0 to 100."],
        }
    ]


def test_problems_read_in_the_language_of_the_request(analyst_api, measure):
    created = upload(analyst_api, csv_bytes(ROWS)).json()

    response = analyst_api.get(
        reverse("import-detail", args=[created["id"]]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    with translation.override("zh-hans"):
        expected = _("Progress is a percentage from 0 to 100.")
    assert response.json()["rows"][1]["problems"][0]["messages"] == [expected]
    assert expected != "Progress is a percentage from 0 to 100."


def test_a_confirmation_records_the_valid_rows(analyst_api, measure):
    created = upload(analyst_api, csv_bytes(ROWS)).json()

    response = analyst_api.post(
        reverse("import-confirm", args=[created["id"]]), HTTP_IF_MATCH=f'"{created["version"]}"'
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["confirmed_by"], body["to_record"]) == ("confirmed", "ana", 1)
    assert body["rows"][0]["outcome"] == "recorded"
    update = StatusUpdate.objects.get(pk=body["rows"][0]["status_update"])
    assert (update.status, update.note, update.recorded_by.username) == (
        "planned",
        "Plan adopted",
        "ana",
    )
    assert response["ETag"] == f'"{body["version"]}"'


def test_a_second_confirmation_is_a_400(analyst_api, measure):
    created = upload(analyst_api, csv_bytes(ROWS[:1])).json()
    url = reverse("import-confirm", args=[created["id"]])
    analyst_api.post(url)

    response = analyst_api.post(url)

    assert response.status_code == 400
    assert "was confirmed on" in response.json()["non_field_errors"][0]


def test_a_confirmation_refused_now_names_the_row_and_records_nothing(analyst_api, measure):
    created = upload(analyst_api, csv_bytes(ROWS[:1] + [ROWS[0]])).json()
    # Meanwhile the measure is archived: it takes no update.
    recording.update_measure(measure=measure, changes={"archived": True})
    before = stored_state()

    response = analyst_api.post(reverse("import-confirm", args=[created["id"]]))

    assert response.status_code == 400
    assert set(response.json()) == {"row 2", "row 3"}
    assert "archived" in response.json()["row 2"][0]
    assert stored_state()["recommendations.StatusUpdate"] == before["recommendations.StatusUpdate"]
    after = analyst_api.get(reverse("import-detail", args=[created["id"]])).json()
    assert [row["outcome"] for row in after["rows"]] == ["error", "error"]
    assert after["version"] == 2


def test_a_refused_confirmation_with_an_idempotency_key_keeps_the_rows_new_outcomes(
    analyst_api, measure
):
    created = upload(analyst_api, csv_bytes(ROWS[:1])).json()
    recording.update_measure(measure=measure, changes={"archived": True})
    url = reverse("import-confirm", args=[created["id"]])

    response = analyst_api.post(url, HTTP_IDEMPOTENCY_KEY="confirm-1", HTTP_IF_MATCH='"1"')
    # A retry confirms what it saw: the outcomes have changed since (412).
    retried = analyst_api.post(url, HTTP_IDEMPOTENCY_KEY="confirm-1", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400 and "row 2" in response.json()
    assert retried.status_code == 412
    after = analyst_api.get(reverse("import-detail", args=[created["id"]])).json()
    assert (after["version"], after["state"]) == (2, "checked")
    assert after["rows"][0]["outcome"] == "error"
    assert "archived" in after["rows"][0]["problems"][0]["messages"][0]


def test_a_confirmation_with_a_stale_if_match_is_a_412(analyst_api, measure):
    created = upload(analyst_api, csv_bytes(ROWS[:1])).json()

    response = analyst_api.post(
        reverse("import-confirm", args=[created["id"]]), HTTP_IF_MATCH='"7"'
    )

    assert response.status_code == 412
    assert response.json()["current_version"] == 1
    assert not Import.objects.get().confirmed


def test_a_retry_with_the_same_key_replays_and_another_file_is_a_422(analyst_api, measure):
    key = uuid.uuid4().hex
    first = upload(analyst_api, csv_bytes(ROWS), HTTP_IDEMPOTENCY_KEY=key)

    replay = upload(analyst_api, csv_bytes(ROWS), HTTP_IDEMPOTENCY_KEY=key)
    other = upload(analyst_api, csv_bytes(ROWS[:1]), HTTP_IDEMPOTENCY_KEY=key)

    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert Import.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "file"),
        ({"file": SimpleUploadedFile("a.csv", b"")}, "file"),
        ({"file": SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n\x00")}, "file"),
        ({"file": SimpleUploadedFile("a.csv", b"a,b\n1,2\n"), "colour": "red"}, "colour"),
    ],
    ids=["no file", "empty", "an image", "an unknown field"],
)
def test_a_bad_upload_is_a_400_and_stores_nothing(analyst_api, measure, body, field):
    response = analyst_api.post(reverse("import-list"), body, format="multipart")

    assert response.status_code == 400
    assert field in response.json()
    assert not Import.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(analyst_api, settings):
    settings.IMPORT_MAX_BYTES = 1000

    response = upload(analyst_api, b"x" * 200_000)

    assert response.status_code == 400
    assert "IMPORT_MAX_BYTES" in response.json()["file"][0]


def test_a_json_body_is_a_415(analyst_api):
    response = analyst_api.post(reverse("import-list"), {"file": "x"}, format="json")

    assert response.status_code == 415


def test_the_list_shows_imports_newest_first(analyst_api, measure):
    for rows in (ROWS[:1], ROWS):
        upload(analyst_api, csv_bytes(rows))

    response = analyst_api.get(reverse("import-list"))

    assert response.status_code == 200
    assert [item["row_count"] for item in response.json()["results"]] == [2, 1]
    assert "rows" not in response.json()["results"][0]
    assert analyst_api.get(reverse("import-list"), {"colour": "red"}).status_code == 400


@pytest.mark.parametrize(
    ("lang", "headings"),
    [("en", ["measure code", "status", "progress (%)"]), ("zh", HEADINGS_ZH[:3])],
)
def test_the_template_is_served_in_each_format_and_language(analyst_api, lang, headings):
    as_csv = analyst_api.get(reverse("import-template"), {"lang": lang, "file": "csv"})
    as_xlsx = analyst_api.get(reverse("import-template"), {"lang": lang, "file": "xlsx"})

    assert as_csv.status_code == as_xlsx.status_code == 200
    assert as_csv["Content-Disposition"] == (
        f'attachment; filename="status-updates-template_{lang}.csv"'
    )
    rows = csv_rows(as_csv.content)
    assert all(row[0].startswith("#") for row in rows[:-1])
    assert rows[-1][:3] == headings
    assert as_xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert xlsx_rows(as_xlsx.content)[0][:3] == headings


def test_the_template_lists_the_statuses_a_row_may_say(analyst_api):
    text = analyst_api.get(reverse("import-template"), {"lang": "zh"}).content.decode("utf-8-sig")

    assert "已规划 (planned)" in text and "未评估" not in text
    assert "高 (high)" in text


def test_a_filled_in_template_imports(analyst_api, measure):
    template = analyst_api.get(reverse("import-template"), {"file": "xlsx"}).content
    from io import BytesIO

    from openpyxl import load_workbook

    workbook = load_workbook(BytesIO(template))
    workbook.worksheets[0].append(["1.1", "Planned", 10, date(2026, 1, 5), "High", "", ""])
    out = BytesIO()
    workbook.save(out)

    response = upload(analyst_api, out.getvalue(), "filled.xlsx")

    assert response.status_code == 201, response.content
    assert response.json()["rows"][0]["outcome"] == "record"


def test_a_bad_template_request_is_a_400(analyst_api):
    assert analyst_api.get(reverse("import-template"), {"file": "pdf"}).status_code == 400
    assert analyst_api.get(reverse("import-template"), {"colour": "red"}).status_code == 400


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "import-list", []),
        ("post", "import-list", []),
        ("get", "import-detail", [1]),
        ("post", "import-confirm", [1]),
        ("get", "import-template", []),
    ],
)
def test_a_viewer_is_refused_everything(viewer_api, analyst, measure, method, name, args):
    imported = Import.objects.create(
        filename="f.csv", digest="0" * 64, size=1, format="csv", channel="api"
    )
    url = reverse(name, args=[imported.pk] if args else [])

    if method == "post" and name == "import-list":
        response = upload(viewer_api, csv_bytes(ROWS))
    else:
        response = getattr(viewer_api, method)(url)

    assert response.status_code == 403
    assert Import.objects.count() == 1 and not Import.objects.get().confirmed


def test_a_superuser_imports(api, django_user_model, measure):
    root = django_user_model.objects.create_superuser("root", password="x")

    response = upload(authenticated_as(api, root), csv_bytes(ROWS[:1]))

    assert response.status_code == 201


def test_an_xlsx_upload_with_a_formula_is_a_400_naming_the_cell(analyst_api, measure):
    def formula(sheet):
        sheet["C2"] = "=5*2"

    response = upload(analyst_api, xlsx_bytes(ROWS[:1], edit=formula), "f.xlsx")

    assert response.status_code == 400
    assert "Cell C2 holds a formula" in response.json()["file"][0]


# A reporter's import: its rows are proposed for review


@pytest.fixture
def reporter_api(api, reporter):
    return authenticated_as(api, reporter)


def test_a_reporters_upload_answers_what_would_be_proposed(reporter_api, measure):
    before = stored_state(), Proposal.objects.count()

    response = upload(reporter_api, csv_bytes(ROWS))

    assert response.status_code == 201, response.content
    assert (stored_state(), Proposal.objects.count()) == before
    body = response.json()
    assert (body["route"], body["to_propose"], body["to_record"], body["with_errors"]) == (
        "propose",
        1,
        0,
        1,
    )
    assert [row["outcome"] for row in body["rows"]] == ["propose", "error"]
    assert body["rows"][0]["proposal"] is None


def test_a_reporters_confirmation_proposes_and_records_nothing(reporter_api, measure):
    created = upload(reporter_api, csv_bytes(ROWS)).json()
    history = StatusUpdate.objects.count()

    response = reporter_api.post(
        reverse("import-confirm", args=[created["id"]]), HTTP_IF_MATCH=f'"{created["version"]}"'
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["confirmed_by"], body["to_propose"]) == ("confirmed", "rita", 1)
    row = body["rows"][0]
    assert (row["outcome"], row["status_update"]) == ("proposed", None)
    assert StatusUpdate.objects.count() == history
    proposal = reporter_api.get(reverse("proposal-detail", args=[row["proposal"]])).json()
    assert (proposal["state"], proposal["note"]) == ("pending", "Plan adopted")


def test_importing_the_same_file_again_proposes_nothing(reporter_api, measure):
    first = upload(reporter_api, csv_bytes(ROWS)).json()
    reporter_api.post(reverse("import-confirm", args=[first["id"]]))

    again = upload(reporter_api, csv_bytes(ROWS)).json()
    confirmed = reporter_api.post(reverse("import-confirm", args=[again["id"]])).json()

    assert [row["outcome"] for row in again["rows"]] == ["already_proposed", "error"]
    assert (again["to_propose"], again["already_proposed"]) == (0, 1)
    assert confirmed["to_propose"] == 0
    assert Proposal.objects.count() == 1


def test_a_reporter_sees_only_its_own_imports_and_an_analyst_sees_all(
    reporter_api, analyst, measure
):
    theirs = services.check_file(
        data=csv_bytes(ROWS), filename="theirs.csv", by=analyst, channel="api", today=TODAY
    )
    mine = upload(reporter_api, csv_bytes(ROWS), "mine.csv").json()

    listed = reporter_api.get(reverse("import-list")).json()["results"]
    hidden = reporter_api.get(reverse("import-detail", args=[theirs.pk]))
    confirm_theirs = reporter_api.post(reverse("import-confirm", args=[theirs.pk]))
    seen_by_analyst = authenticated_as(APIClient(), analyst).get(reverse("import-list")).json()

    assert [item["filename"] for item in listed] == ["mine.csv"]
    assert hidden.status_code == confirm_theirs.status_code == 404
    assert {item["id"] for item in seen_by_analyst["results"]} == {theirs.pk, mine["id"]}
    assert not Import.objects.get(pk=theirs.pk).confirmed


def test_an_analyst_may_not_confirm_a_reporters_import(reporter_api, analyst, measure):
    created = upload(reporter_api, csv_bytes(ROWS)).json()
    analyst_api = authenticated_as(APIClient(), analyst)

    response = analyst_api.post(reverse("import-confirm", args=[created["id"]]))

    assert response.status_code == 403
    assert "Only whoever uploaded this import" in response.json()["detail"]
    assert not Proposal.objects.exists() and not Import.objects.get().confirmed


def test_a_confirmation_refused_now_proposes_nothing_and_names_the_row(reporter_api, measure):
    created = upload(reporter_api, csv_bytes(ROWS[:1])).json()
    recording.update_measure(measure=measure, changes={"archived": True})

    response = reporter_api.post(reverse("import-confirm", args=[created["id"]]))

    assert response.status_code == 400
    assert "archived" in response.json()["row 2"][0]
    assert not Proposal.objects.exists()
