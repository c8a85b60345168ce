"""The analyst's and the viewer's main flows in the admin, in a real browser, in Chinese and in
English (the admin follows the browser's Accept-Language)."""

import csv
import hashlib
import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from recommendations.choices import Status
from recommendations.models import Measure, ReportSnapshot
from recommendations.models.history import NOTE_MAX_LENGTH

from .support import (
    ANALYST_USER,
    PASSWORD,
    REGRESSION_MEASURE,
    VIEWER_USER,
    csrf_token,
    in_language,
    t,
    t_pattern,
    wait_for_path,
)

pytestmark = pytest.mark.browser

MEASURES = "/admin/recommendations/measure/"
STATUS_UPDATES = "/admin/recommendations/statusupdate/"
SNAPSHOTS = "/admin/recommendations/reportsnapshot/"


def measure_page(served, code: str) -> str:
    return f"{MEASURES}{served.measure_id(code)}/change/"


def record_form(served, code: str) -> str:
    return f"{STATUS_UPDATES}add/?measure={served.measure_id(code)}"


def assert_language(page, lang: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang


def test_sign_in(page, lang, shots):
    page.goto("/admin/")
    page.wait_for_url("**/admin/login/?next=/admin/")
    assert_language(page, lang)
    assert page.locator("#site-name").inner_text() == t(lang, "Policy recommendation tracker")
    assert page.locator("input[type=submit]").get_attribute("value") == t(lang, "Log in")
    shots.take(page, "login")

    page.fill("#id_username", ANALYST_USER)
    page.fill("#id_password", "not the password")
    page.click("input[type=submit]")
    error = page.locator(".errornote")
    assert t_pattern(
        lang,
        "Please enter the correct %(username)s and password for a staff account. Note that "
        "both fields may be case-sensitive.",
    ).fullmatch(error.inner_text())
    shots.take(page, "wrong-password")

    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    assert_language(page, lang)
    assert page.locator("#content h1").inner_text() == t(lang, "Site administration")
    assert ANALYST_USER.upper() in page.locator("#user-tools").inner_text().upper()
    shots.take(page, "signed-in")


def test_find_a_measure(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    page.goto(MEASURES)
    assert_language(page, lang)
    shots.take(page, "measures")

    page.fill("#searchbar", "3.2")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/measure/?q=3.2")
    codes = page.locator("#result_list tbody .field-code").all_inner_texts()
    assert "3.2" in codes
    shots.take(page, "search-results")

    page.locator("#result_list tbody .field-code a", has_text=re.compile(r"^3\.2$")).click()
    wait_for_path(page, measure_page(served, "3.2"))
    assert_language(page, lang)
    title = t(lang, "Change %s") % in_language(lang, Measure._meta.verbose_name)
    assert page.locator("#content h1").inner_text() == title
    assert page.locator("#id_title_en").input_value() == "Promote privacy-preserving computation"
    assert page.locator(".field-code .readonly").inner_text() == "3.2"
    shots.take(page, "measure")


def test_record_a_status_update(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    page.goto(measure_page(served, "3.2"))
    before = served.status_updates("3.2")
    page.get_by_role("link", name=t(lang, "Record a status update")).click()
    page.wait_for_url(f"**{record_form(served, '3.2')}")
    assert_language(page, lang)
    # The measure comes chosen, and the form knows the version it was opened on.
    assert page.locator("#id_measure").input_value() == str(served.measure_id("3.2"))
    assert page.locator("#id_expected_version").input_value()

    status = Status.IN_PROGRESS if lang == "en" else Status.PARTIALLY_IMPLEMENTED
    note = f"Pilot of privacy-preserving computation under way ({lang})."
    page.select_option("#id_status", status.value)
    page.fill("#id_progress", "40")
    page.select_option("#id_confidence", "high")
    page.fill("#id_effective_date", served.today.isoformat())
    page.fill("#id_note", note)
    shots.take(page, "form")
    page.click("input[name=_save]")

    wait_for_path(page, measure_page(served, "3.2"))
    assert served.status_updates("3.2") == before + 1
    message = page.locator(".messagelist .success").inner_text()
    assert t_pattern(
        lang, "Recorded: %(update)s. The measure's current state is now %(status)s."
    ).fullmatch(message)
    assert in_language(lang, status.label) in message
    assert page.locator(".field-status .readonly").inner_text() == in_language(lang, status.label)
    # The history, latest first, shows it at the top.
    first = page.locator("#status_updates-group tbody tr").first
    assert note in first.inner_text()
    assert in_language(lang, status.label) in first.inner_text()
    shots.take(page, "recorded")


def error_fields(page) -> dict[str, list[str]]:
    """The form's fields that show errors, with their messages."""
    return page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll(".form-row")]
                .map(row => [
                    [...row.classList].find(name => name.startsWith("field-")).slice(6),
                    [...row.querySelectorAll("ul.errorlist li")].map(item => item.innerText),
                ])
                .filter(([, messages]) => messages.length)
        )"""
    )


LONG_NOTE = "长" * (NOTE_MAX_LENGTH + 1)

# (case, measure, status, progress, effective date from today, note, field, its message in a
# language). Each case breaks one rule only.
BROKEN_RULES = [
    (
        "future-date",
        "3.2",
        Status.IN_PROGRESS,
        "50",
        7,
        "Planned launch.",
        "effective_date",
        lambda lang: t(
            lang,
            "The effective date cannot be in the future (today is %(today)s).",
            today=timezone.localdate().isoformat(),
        ),
    ),
    (
        "implemented-without-evidence",
        "3.2",
        Status.IMPLEMENTED,
        "100",
        0,
        "Done, we hear.",
        "evidence",
        lambda lang: t(
            lang,
            "Attach at least one piece of evidence that the measure is implemented, to this "
            "update or to the measure (stance “supports”).",
        ),
    ),
    (
        "regression-without-note",
        REGRESSION_MEASURE,  # partially implemented
        Status.PLANNED,
        "20",
        0,
        "",
        "note",
        lambda lang: t(
            lang,
            "Moving from “%(from)s” back to “%(to)s” needs a note saying why.",
            **{
                "from": in_language(lang, Status.PARTIALLY_IMPLEMENTED.label),
                "to": in_language(lang, Status.PLANNED.label),
            },
        ),
    ),
    (
        "note-too-long",
        "3.2",
        Status.IN_PROGRESS,
        "50",
        0,
        LONG_NOTE,
        "note",
        lambda lang: t(
            lang,
            "A note holds at most %(limit)s characters; this one has %(length)s.",
            limit=NOTE_MAX_LENGTH,
            length=len(LONG_NOTE),
        ),
    ),
    (
        "progress-out-of-range",
        "3.2",
        Status.IN_PROGRESS,
        "150",
        0,
        "Half done and more.",
        "progress",
        lambda lang: t(lang, "Progress is a percentage from 0 to 100."),
    ),
]


def test_each_broken_rule_shows_on_its_field(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    before = served.status_updates()
    for case, code, status, progress, days, note, field, message in BROKEN_RULES:
        page.goto(record_form(served, code))
        page.select_option("#id_status", status.value)
        page.fill("#id_progress", progress)
        page.select_option("#id_confidence", "medium")
        page.fill("#id_effective_date", (served.today + timedelta(days=days)).isoformat())
        page.fill("#id_note", note)
        page.click("input[name=_save]")
        page.wait_for_load_state()

        wait_for_path(page, f"{STATUS_UPDATES}add/")
        assert_language(page, lang)
        assert page.locator(".errornote").is_visible(), case
        errors = error_fields(page)
        assert list(errors) == [field], (case, errors)
        assert errors[field] == [message(lang)], case
        # What was typed is still there, to be corrected.
        assert page.locator("#id_progress").input_value() == progress
        shots.take(page, case)
        assert served.status_updates() == before, f"{case}: something was written"


def test_a_viewer_reads_everything_and_changes_nothing(signed_in, lang, shots, served, context):
    page = signed_in(VIEWER_USER)
    page.goto(MEASURES)
    assert_language(page, lang)
    assert page.locator("#result_list tbody tr").count() == 15
    assert page.locator(".object-tools .addlink").count() == 0
    assert page.locator("select[name=action]").count() == 0  # no archive/restore
    shots.take(page, "measures")

    page.goto(measure_page(served, "3.2"))
    verbose_name = in_language(lang, Measure._meta.verbose_name)
    assert page.locator("#content h1").inner_text() == t(lang, "View %s") % verbose_name
    assert page.get_by_role("link", name=t(lang, "Record a status update")).count() == 0
    assert page.get_by_role("link", name=t(lang, "Status history")).count() == 1
    assert page.locator(".field-title_en .readonly").inner_text() == (
        "Promote privacy-preserving computation"
    )
    # Nothing to type in, choose or save: every field and every inline row is read-only.
    editable = "#content-main :is(input:not([type=hidden]), textarea, select, button)"
    assert page.locator(editable).count() == 0
    assert page.locator("input[name=_save]").count() == 0
    shots.take(page, "measure")

    page.goto(STATUS_UPDATES)
    assert page.locator("#result_list tbody tr").count() >= 15
    assert page.locator(".object-tools .addlink").count() == 0
    shots.take(page, "status-updates")

    response = page.goto(record_form(served, "3.2"))
    assert response.status == 403
    shots.take(page, "record-form-refused")

    # Hand-made POSTs, with a valid CSRF token, are refused too, and write nothing.
    before = served.status_updates()
    token = csrf_token(context)
    attempts = {
        f"{STATUS_UPDATES}add/": {
            "measure": served.measure_id("3.2"),
            "status": "in_progress",
            "progress": "50",
            "confidence": "medium",
            "effective_date": served.today.isoformat(),
            "note": "A viewer tries.",
        },
        measure_page(served, "3.2"): {"title_en": "Changed by a viewer"},
    }
    for url, form in attempts.items():
        answer = page.request.post(
            url,
            form={"csrfmiddlewaretoken": token, **form},
            headers={"X-CSRFToken": token, "Referer": served.url + url},
        )
        assert answer.status == 403, url
        assert "CSRF" not in answer.text(), url  # refused for the user, not for the token
    assert served.status_updates() == before
    assert served.database.value(
        "SELECT title_en FROM recommendations_measure WHERE code = %s", ("3.2",)
    ) == ("Promote privacy-preserving computation")


def test_a_report_snapshot_opens_and_downloads(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    page.goto(SNAPSHOTS)
    assert_language(page, lang)
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    period = f"2025-04-14 – {served.today.isoformat()} v1"
    assert rows.first.locator("th").inner_text() == period
    shots.take(page, "snapshots")

    rows.first.locator("th a").click()
    page.wait_for_url("**/reportsnapshot/*/change/")
    verbose_name = in_language(lang, ReportSnapshot._meta.verbose_name)
    assert page.locator("#content h1").inner_text() == t(lang, "View %s") % verbose_name
    # The report itself, in the admin's language, in a sandboxed frame.
    heading = page.frame_locator(".field-preview iframe").locator("h1")
    assert heading.inner_text() == t(
        lang,
        "Status report: %(since)s to %(until)s",
        since="2025-04-14",
        until=served.today.isoformat(),
    )
    shots.take(page, "snapshot")

    sha256 = page.locator(".field-sha256 .readonly").inner_text()
    links = page.locator(".field-downloads a")
    assert links.all_inner_texts() == [
        "JSON",
        "CSV",
        "Markdown EN",
        "Markdown 中文",
        "HTML EN",
        "HTML 中文",
    ]
    stem = f"status-report_2025-04-14_{served.today.isoformat()}_v1"
    files = {}
    for index in range(links.count()):
        with page.expect_download() as info:
            links.nth(index).click()
        download = info.value
        assert download.failure() is None
        with open(download.path(), "rb") as stored:
            files[download.suggested_filename] = stored.read()
    assert sorted(files) == sorted(
        f"{stem}{suffix}"
        for suffix in (".json", ".csv", "_en.md", "_zh.md", "_en.html", "_zh.html")
    )
    # The JSON is the published one: its digest is the one the page shows.
    assert hashlib.sha256(files[f"{stem}.json"]).hexdigest() == sha256
    report = json.loads(files[f"{stem}.json"])
    assert report["period"] == {"since": "2025-04-14", "until": served.today.isoformat()}
    rows = list(csv.DictReader(io.StringIO(files[f"{stem}.csv"].decode("utf-8"))))
    assert len(rows) == 15
    by_code = {row["code"]: row for row in rows}
    assert by_code[REGRESSION_MEASURE]["status_until"] == "partially_implemented"
    for language, admin_language in (("en", "en"), ("zh", "zh-hans")):
        title = t(
            admin_language,
            "Status report: %(since)s to %(until)s",
            since="2025-04-14",
            until=served.today.isoformat(),
        )
        assert title in files[f"{stem}_{language}.md"].decode("utf-8")
        assert f"<h1>{title}</h1>" in files[f"{stem}_{language}.html"].decode("utf-8")
