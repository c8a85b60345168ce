"""The home page and the status report as a reader sees them, in a real browser, in Chinese
and English: nothing wider than the window, every link of the home page leads to the list it
counts, and the report's charts write no label over another and clip no legend."""

import pytest

from .support import ANALYST_USER, VIEWER_USER, t

pytestmark = pytest.mark.browser

SIZES = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})


def scroll_width(page) -> tuple[int, int]:
    return tuple(
        page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    )


def test_the_home_page_fits_the_screen_and_its_links_lead_to_what_they_count(
    signed_in, lang, shots
):
    page = signed_in(ANALYST_USER)
    for size in SIZES:
        page.set_viewport_size(size)
        page.goto("/admin/")
        width, client = scroll_width(page)
        assert width <= client, f"{width} px wide at {size['width']}"
    shots.take(page, "home")

    blocks = page.locator(".attention h3 a")
    assert blocks.count() == 4
    expected = {}
    for index in range(blocks.count()):
        count = int(blocks.nth(index).locator("xpath=..").inner_text().rsplit("(", 1)[1][:-1])
        expected[blocks.nth(index).get_attribute("href")] = count
    for pillar in page.locator("#standing-heading ~ table tbody a").all():
        expected.setdefault(pillar.get_attribute("href"), None)
    for href, count in expected.items():
        page.goto(href)
        assert page.locator("#result_list, .paginator").first.is_visible(), href
        if count is not None:
            shown = page.locator(".paginator").inner_text()
            assert str(count) in shown, (href, shown)


def test_a_viewer_sees_the_read_only_notice(signed_in, lang, shots):
    page = signed_in(VIEWER_USER)
    page.goto("/admin/")

    notice = page.locator(".readonly-notice")
    assert notice.is_visible()
    assert notice.inner_text() == t(
        lang,
        "Your account can read everything here but change nothing. Ask an administrator for "
        "the analyst role to record status updates.",
    )


CHART_GEOMETRY = """() => {
  const charts = [...document.querySelectorAll('svg.chart')];
  return charts.map(svg => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => {
      const b = t.getBoundingClientRect();
      return {text: t.textContent, left: b.left, right: b.right, top: b.top, bottom: b.bottom};
    });
    return {left: box.left, right: box.right, texts};
  });
}"""


def overlapping(texts: list[dict]) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            if (
                a["left"] < b["right"] - 0.5
                and b["left"] < a["right"] - 0.5
                and a["top"] < b["bottom"] - 0.5
                and b["top"] < a["bottom"] - 0.5
            ):
                pairs.append((a["text"], b["text"]))
    return pairs


def test_the_reports_charts_overlap_no_label_and_clip_no_legend(signed_in, lang, shots, served):
    page = signed_in(ANALYST_USER)
    report = page.request.get(
        "/api/v1/reports/preview/",
        params={
            "since": "2025-04-14",
            "until": served.today.isoformat(),
            "file": "html",
            "lang": "zh" if lang == "zh-hans" else "en",
        },
    )
    assert report.status == 200
    page.set_content(report.text())
    shots.take(page, "report")

    charts = page.evaluate(CHART_GEOMETRY)
    assert len(charts) == 2
    for chart in charts:
        assert not overlapping(chart["texts"])
        for text in chart["texts"]:
            assert chart["left"] - 0.5 <= text["left"] and text["right"] <= chart["right"] + 0.5, (
                text
            )
    # The time axis: every month end since the seed's start is a point, and several are named.
    dates = [t["text"] for t in charts[1]["texts"] if t["text"][:2] == "20"]
    assert dates[0] == "2025-04-14" and dates[-1] == served.today.isoformat()
    assert len(dates) >= 4
