"""An analyst's other flows in a real browser, in Chinese and English: correct an entry,
export a list, preview and publish a report."""

import csv
import io

import pytest

from recommendations.reports.status import last_complete_period

from .support import ANALYST_USER, REGRESSION_MEASURE, t

pytestmark = pytest.mark.browser

MEASURES = "/admin/recommendations/measure/"
SNAPSHOTS = "/admin/recommendations/reportsnapshot/"


def test_correct_an_entry(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    before = served.status_updates(REGRESSION_MEASURE)
    page.goto(f"{MEASURES}{served.measure_id(REGRESSION_MEASURE)}/change/")
    page.get_by_role("link", name=t(lang, "Status history")).click()
    page.locator("#result_list tbody tr th a").first.click()
    page.get_by_role("link", name=t(lang, "Correct this entry")).click()
    shots.take(page, "correction-form")

    assert page.locator("#id_status").input_value() == "partially_implemented"
    assert (
        page.locator("#id_note")
        .input_value()
        .startswith(t(lang, "Corrects the entry of %(day)s (#%(id)s): ").split("%")[0])
    )
    page.fill("#id_progress", "55")
    page.fill("#id_note", page.locator("#id_note").input_value() + "55%, not 60%.")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/measure/*/change/")

    assert served.status_updates(REGRESSION_MEASURE) == before + 1


def test_export_the_measure_list(signed_in, lang, shots):
    page = signed_in(ANALYST_USER)
    page.goto(MEASURES)
    shots.take(page, "measures")

    with page.expect_download() as info:
        page.get_by_role("link", name=t(lang, "Export CSV")).click()
    with open(info.value.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    with page.expect_download() as info:
        page.get_by_role("link", name=t(lang, "Export XLSX")).click()
    with open(info.value.path(), "rb") as workbook:
        magic = workbook.read(2)

    assert len(rows) == 1 + 15
    assert [row[0] for row in rows[1:4]] == ["1.1", "1.2", "1.3"]
    assert magic == b"PK"  # an Office Open XML file is a zip archive


def test_preview_and_publish_a_report(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    page.goto(SNAPSHOTS)
    published = page.locator("#result_list tbody tr").count()
    page.get_by_role("link", name=t(lang, "Preview or publish a report")).click()
    page.select_option("#id_period", "month")
    page.locator("input[type=submit].default").first.click()
    frame = page.frame_locator("iframe[sandbox]")
    assert frame.locator("h1").is_visible()
    shots.take(page, "preview")

    publish = page.get_by_role("button", name=t(lang, "Publish this report as a snapshot"))
    if publish.count():  # the month may have been published by the other language's run
        publish.click()
        page.wait_for_load_state()
    since, until = last_complete_period("month", served.today)
    rows = served.database.rows(
        "SELECT generated_by_id FROM recommendations_reportsnapshot"
        " WHERE since = %s AND until = %s",
        (since.isoformat(), until.isoformat()),
    )
    page.goto(SNAPSHOTS)

    assert len(rows) == 1 and rows[0][0] is not None  # published once, by the analyst
    assert page.locator("#result_list tbody tr").count() >= published
