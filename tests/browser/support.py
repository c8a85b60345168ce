"""What the browser tests share besides fixtures: the users, signing in, and the messages
expected in each language (from the app's own catalogue, so a test names a message once)."""

import re
from urllib.parse import urlsplit

from django.utils import translation

PASSWORD = "correct horse battery staple"
ANALYST_USER, VIEWER_USER, REPORTER_USER = "analyst", "viewer", "reporter"
# Measure 3.3 starts the session partially implemented, so that going back needs a note.
REGRESSION_MEASURE = "3.3"


def t(lang: str, message: str, **params) -> str:
    """`message` as the app shows it in `lang` (Django's and the app's catalogues)."""
    with translation.override(lang):
        text = translation.gettext(message)
        return text % {name: str(value) for name, value in params.items()} if params else text


def t_pattern(lang: str, message: str) -> re.Pattern:
    """`message` in `lang` with each %(name)s placeholder matching any text."""
    parts = re.split(r"%\(\w+\)s", t(lang, message))
    return re.compile(".+?".join(re.escape(part) for part in parts))


def page_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def csrf_token(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


def in_language(lang: str, lazy_text) -> str:
    """A lazy translation (a choice's label, a verbose name) as shown in `lang`."""
    with translation.override(lang):
        return str(lazy_text)


def wait_for_path(page, path: str) -> None:
    """Wait until the page is at `path`, whatever its query string."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)
