"""The review in a real browser, in Chinese and English: a reporter proposes in the admin, an
analyst sees it in the home page's queue and sends it back with a comment, the reporter reads
the comment and revises, the analyst approves with one click and the measure's state
changes; another proposal is rejected with a reason the reporter then reads. The pages fit
a 1280 px wide window."""

import re
from datetime import timedelta

import pytest

from recommendations.choices import Status

from .support import ANALYST_USER, REPORTER_USER, in_language, t, wait_for_path

pytestmark = pytest.mark.browser

# Each language's run proposes for measures of its own: one approved, one rejected.
APPROVED = {"en": "4.2", "zh-hans": "4.3"}
REJECTED = {"en": "1.1", "zh-hans": "1.2"}
NARROW = {"width": 1280, "height": 800}

PROPOSAL_PAGE = re.compile(r"/admin/review/proposal/(\d+)/change/$")


def fits(page) -> bool:
    width, client = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return width <= client


@pytest.fixture
def as_user(context, signed_in):
    """as_user(username): the page, signed in as `username` alone (the other's session
    cookie dropped)."""

    def switch(username: str):
        context.clear_cookies()
        page = signed_in(username)
        page.set_viewport_size(NARROW)
        return page

    return switch


def propose(page, served, lang: str, code: str, *, status: str, progress: int, note: str) -> int:
    """As the reporter: from the measure's page, propose an update; the proposal's id."""
    page.goto(f"/admin/recommendations/measure/{served.measure_id(code)}/change/")
    page.get_by_role("link", name=t(lang, "Propose a status update")).click()
    page.wait_for_url("**/admin/review/proposal/add/**")
    assert page.locator("#id_measure").input_value() == str(served.measure_id(code))
    page.select_option("#id_status", status)
    page.fill("#id_progress", str(progress))
    page.select_option("#id_confidence", "medium")
    page.fill("#id_effective_date", (served.today - timedelta(days=2)).isoformat())
    page.fill("#id_note", note)
    page.click("input[name=_save]")
    page.wait_for_url(PROPOSAL_PAGE)
    return int(PROPOSAL_PAGE.search(page.url)[1])


def measure_status(served, code: str) -> tuple[str, int | None]:
    return tuple(
        served.database.rows(
            "SELECT status, progress FROM recommendations_measure WHERE code = %s", (code,)
        )[0]
    )


def test_propose_request_changes_revise_and_approve(as_user, lang, shots, served):
    code = APPROVED[lang]
    before = served.status_updates(code)

    # The reporter proposes.
    page = as_user(REPORTER_USER)
    proposal = propose(
        page, served, lang, code, status="in_progress", progress=20, note=f"Pilot ({lang})"
    )
    shots.take(page, "proposed")
    assert fits(page)
    assert served.status_updates(code) == before

    # The analyst finds it in the queue and sends it back with a comment.
    page = as_user(ANALYST_USER)
    page.goto("/admin/")
    panel = page.locator(f"#proposal-{proposal}")
    assert panel.is_visible()
    assert code in panel.locator("h3").inner_text()
    assert panel.locator("tr.changed").count() >= 2  # status and progress at least
    shots.take(page, "queue")
    assert fits(page)
    panel.locator("textarea").fill(f"Which banks? ({lang})")
    panel.get_by_role("button", name=t(lang, "Request changes")).click()
    wait_for_path(page, "/admin/")
    assert (
        t(
            lang,
            "Sent proposal %(id)s for measure %(code)s back to %(user)s with your comment.",
            id=proposal,
            code=code,
            user=REPORTER_USER,
        )
        in page.locator(".messagelist").inner_text()
    )
    assert page.locator(f"#proposal-{proposal}").count() == 0

    # The reporter reads the comment and revises.
    page = as_user(REPORTER_USER)
    page.goto("/admin/")
    row = page.locator(f"#own-proposal-{proposal}")
    assert f"Which banks? ({lang})" in row.inner_text()
    shots.take(page, "sent-back")
    assert fits(page)
    row.get_by_role("link", name=t(lang, "Revise")).click()
    page.wait_for_url(PROPOSAL_PAGE)
    assert f"Which banks? ({lang})" in page.locator(".proposal-panel").inner_text()
    page.fill("#id_progress", "25")
    page.fill("#id_note", f"Pilot in two banks ({lang})")
    shots.take(page, "revising")
    assert fits(page)
    page.click("input[name=_save]")
    page.wait_for_url(PROPOSAL_PAGE)

    # The analyst approves it with one click, and the measure's state changes.
    page = as_user(ANALYST_USER)
    page.goto("/admin/")
    panel = page.locator(f"#proposal-{proposal}")
    assert t(lang, "revision %(number)s", number=2) in panel.inner_text()
    panel.get_by_role("button", name=t(lang, "Approve")).click()
    wait_for_path(page, "/admin/")
    shots.take(page, "approved")

    assert measure_status(served, code) == ("in_progress", 25)
    assert served.status_updates(code) == before + 1
    page.goto(f"/admin/recommendations/measure/{served.measure_id(code)}/change/")
    assert page.locator(".field-status .readonly").inner_text() == in_language(
        lang, Status.IN_PROGRESS.label
    )


def test_reject_with_a_reason_the_reporter_reads(as_user, lang, shots, served):
    code = REJECTED[lang]
    before = measure_status(served, code)
    page = as_user(REPORTER_USER)
    proposal = propose(page, served, lang, code, status="planned", progress=5, note="Plan")

    page = as_user(ANALYST_USER)
    page.goto(f"/admin/review/proposal/{proposal}/change/")
    panel = page.locator(".proposal-panel")
    assert fits(page)
    panel.locator("textarea").fill(f"No source for the plan ({lang})")
    panel.get_by_role("button", name=t(lang, "Reject")).click()
    page.wait_for_url(PROPOSAL_PAGE)
    shots.take(page, "rejected")
    assert measure_status(served, code) == before

    page = as_user(REPORTER_USER)
    page.goto("/admin/")
    row = page.locator(f"#own-proposal-{proposal}")
    assert f"No source for the plan ({lang})" in row.inner_text()
    assert ANALYST_USER in row.inner_text()
    assert row.get_by_role("link", name=t(lang, "Revise")).count() == 0  # final
    shots.take(page, "reporter-home")
    assert fits(page)
