"""An analyst imports a spreadsheet in a real browser, in Chinese and English: uploads it,
reads the dry run row by row (an error on its row and column), and confirms it."""

from datetime import timedelta

import pytest

from .support import ANALYST_USER, t

pytestmark = pytest.mark.browser

UPLOAD = "/admin/intake/import/add/"
# Each language's run imports for a measure of its own.
MEASURES = {"en": "5.2", "zh-hans": "5.3"}


def test_upload_check_and_confirm_a_spreadsheet(signed_in, lang, shots, served, tmp_path):
    code = MEASURES[lang]
    day = (served.today - timedelta(days=3)).isoformat()
    sheet = tmp_path / "updates.csv"
    sheet.write_text(
        "measure code,status,progress (%),effective date,confidence,note,evidence keys\n"
        f"{code},planned,10,{day},medium,Browser import,\n"
        f"{code},in_progress,150,{day},medium,,\n",
        encoding="utf-8",
    )
    before = served.status_updates(code)
    page = signed_in(ANALYST_USER)
    page.goto(UPLOAD)
    shots.take(page, "upload")
    page.set_input_files("#id_file", str(sheet))
    page.get_by_role("button", name=t(lang, "Check the file")).click()
    page.wait_for_url("**/admin/intake/import/*/change/")
    shots.take(page, "dry-run")

    error_row = page.locator("table.intake-rows tbody tr.error")
    assert error_row.count() == 1
    assert "C “progress (%)”" in error_row.inner_text()
    assert t(lang, "Progress is a percentage from 0 to 100.") in error_row.inner_text()
    assert served.status_updates(code) == before

    page.locator("form.intake-actions input[type=submit]").click()
    page.wait_for_url("**/admin/intake/import/*/change/")
    shots.take(page, "confirmed")

    assert t(lang, "This import is confirmed: its rows marked “recorded” are in the history.") in (
        page.content()
    )
    assert served.status_updates(code) == before + 1
