"""Every admin page an analyst opens fits an ordinary laptop's screen and a desktop's, in
Chinese and English: nothing scrolls sideways, a list's table included."""

import re

import pytest

from .support import ANALYST_USER

pytestmark = pytest.mark.browser

SIZES = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > doc.clientWidth) wide.push(['page', doc.scrollWidth, doc.clientWidth]);
  for (const box of document.querySelectorAll('#changelist .results, .inline-related .tabular')) {
    if (box.scrollWidth > box.clientWidth + 1) {
      wide.push([box.className, box.scrollWidth, box.clientWidth]);
    }
  }
  return wide;
}"""


def admin_pages(page) -> list[str]:
    """The home page, every list it links, and the first record of each list."""
    page.goto("/admin/")
    lists = sorted(
        {
            href
            for href in page.locator("#content-main a").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
            if href and re.fullmatch(r"/admin/\w+/\w+/", href)
        }
    )
    pages = ["/admin/", *lists]
    for href in lists:
        page.goto(href)
        first = page.locator("#result_list tbody tr th a").first
        if first.count():
            pages.append(first.get_attribute("href"))
    pages.append("/admin/recommendations/statusupdate/add/")
    pages.append("/admin/intake/import/add/")
    return pages


def test_no_admin_page_scrolls_sideways(signed_in, lang, shots):
    page = signed_in(ANALYST_USER)
    wide = {}
    for path in admin_pages(page):
        for size in SIZES:
            page.set_viewport_size(size)
            page.goto(path)
            found = page.evaluate(OVERFLOW)
            if found:
                wide[(path, size["width"])] = found
                shots.take(page, re.sub(r"\W+", "-", path).strip("-") + f"-{size['width']}")

    assert wide == {}
