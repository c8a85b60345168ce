"""Real-browser tests: the app served by `manage.py runserver` on a throwaway database, driven
by Playwright through Debian's Chromium (Playwright's own browser download is not used).

Without a `chromium` on the PATH, or without the `playwright` package, every test here is
skipped with a message saying how to get them. Each step's screenshot goes to
var/screenshots/<test>/<NN-step>-<locale>.png; pages wider than the 1366 px window are listed
at the end of the session (and in var/screenshots/overflow.json) without failing a test.

Every wait here is bounded in time; the server is stopped and its database dropped at the end.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from recommendations.roles import ANALYST, REPORTER, VIEWER
from tests.serving import (
    ROOT,
    AppServer,
    Database,
    SQLiteDatabase,
    development_environment,
    manage,
    runserver_command,
    seeded_database,
)

from .support import (
    ANALYST_USER,
    PASSWORD,
    REGRESSION_MEASURE,
    REPORTER_USER,
    VIEWER_USER,
    page_path,
    sign_in,
)

SCREENSHOTS = ROOT / "var" / "screenshots"
OVERFLOW_REPORT = SCREENSHOTS / "overflow.json"

INSTALL_HINT = (
    "Browser tests need Debian's Chromium and CJK fonts: "
    "`apt-get install chromium fonts-wqy-microhei` (and the dev extra, for playwright)"
)
# Headless, and nothing that reaches the network by itself (updates, sync, metrics, QUIC).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
# The admin's language -> the browser locale that asks for it through Accept-Language.
BROWSER_LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}
WAIT_MS = 15_000  # the longest any page, element or download is waited for


def chromium_path() -> str | None:
    return shutil.which("chromium")


def playwright_missing() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return True
    return False


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    browser_items = [item for item in items if here in item.path.parents]
    if not browser_items:
        return
    if chromium_path() is None:
        reason = f"No `chromium` on the PATH. {INSTALL_HINT}."
    elif playwright_missing():
        reason = f"The playwright package is missing. {INSTALL_HINT}."
    else:
        return
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=reason))


# Overflow findings: reported, never failed on (layouts are fixed elsewhere).
OVERFLOWS: list[dict] = []


def pytest_terminal_summary(terminalreporter):
    if not OVERFLOWS:
        return
    terminalreporter.write_sep("=", f"pages wider than {VIEWPORT['width']} px ({OVERFLOW_REPORT})")
    for finding in OVERFLOWS:
        terminalreporter.write_line(
            f"{finding['path']} [{finding['locale']}]: scrollWidth {finding['scroll_width']} > "
            f"clientWidth {finding['client_width']} ({finding['screenshot']})"
        )


# The served app


# One process, so that Django starts once: `make run`'s migrate and load_seed, the users,
# measure 3.3 partially implemented, a published report snapshot, and a spreadsheet checked.
SET_UP = """
import sys
from datetime import timedelta
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone
from recommendations import services
from recommendations.models import Measure

users = ((ANALYST_USER, ANALYST), (VIEWER_USER, VIEWER), (REPORTER_USER, REPORTER))
for username, group in users:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
today = timezone.localdate()
services.record_status_update(
    measure=Measure.objects.get(code=REGRESSION_MEASURE),
    status="partially_implemented",
    progress=60,
    confidence="medium",
    effective_date=today - timedelta(days=30),
    note="Two pilots run; the third is being prepared.",
    by=User.objects.get(username=ANALYST_USER),
)
call_command(
    "status_report", "--save", "--since", "2025-04-14", "--until", today.isoformat(),
    "--no-progress", "--output", REPORT_OUTPUT,
)
# The sample spreadsheet, checked in a dry run: an import for the admin's pages to show.
from django.conf import settings
call_command(
    "import_status_updates", str(settings.BASE_DIR / "fixtures" / "import-sample.csv"),
    "--no-progress", stdout=sys.stderr,
)
"""


def set_up_script(report_output: Path) -> str:
    names = {
        "ANALYST_USER": ANALYST_USER,
        "VIEWER_USER": VIEWER_USER,
        "REPORTER_USER": REPORTER_USER,
        "ANALYST": ANALYST,
        "VIEWER": VIEWER,
        "REPORTER": REPORTER,
        "PASSWORD": PASSWORD,
        "REGRESSION_MEASURE": REGRESSION_MEASURE,
        "REPORT_OUTPUT": str(report_output),
    }
    return "".join(f"{name} = {value!r}\n" for name, value in names.items()) + SET_UP


@dataclass
class ServedApp:
    url: str
    database: Database | SQLiteDatabase
    log: Path
    today: date
    _log_offset: int = field(default=0)

    def status_updates(self, measure_code: str | None = None) -> int:
        if measure_code is None:
            return self.database.value("SELECT count(*) FROM recommendations_statusupdate")
        return self.database.value(
            "SELECT count(*) FROM recommendations_statusupdate u JOIN recommendations_measure m"
            " ON m.id = u.measure_id WHERE m.code = %s",
            (measure_code,),
        )

    def measure_id(self, code: str) -> int:
        return self.database.value(
            "SELECT id FROM recommendations_measure WHERE code = %s", (code,)
        )

    def new_log(self) -> str:
        """What the server logged since the last call."""
        text = self.log.read_text(errors="replace")
        new, self._log_offset = text[self._log_offset :], len(text)
        return new


# Package scope: the server and the browser stop as soon as the browser tests are done.
@pytest.fixture(scope="package")
def served():
    """The app as `make run` serves it (DEBUG=1, runserver), migrated and seeded, with an
    analyst, a viewer and a reporter, a published report snapshot, and measure 3.3 partially
    implemented."""
    with tempfile.TemporaryDirectory(prefix="tracker-browser-") as folder:
        folder = Path(folder)
        name = f"{settings.DATABASES['default']['NAME']}_browser_{os.getpid()}"[-63:]
        database = seeded_database(name, folder)  # `make run`'s migrate and load_seed
        environment = development_environment(database.url)
        server = AppServer(runserver_command, environment, folder / "server.log")
        try:
            manage(environment, "shell", "-c", set_up_script(folder / "report.md"))
            today = timezone.localdate()
            server.start()
            login = f"{server.base_url}/admin/login/"
            assert server.wait_until(lambda: answers_ok(login)), server.log_tail()
            app = ServedApp(url=server.base_url, database=database, log=server.log, today=today)
            app.new_log()
            yield app
        finally:
            server.stop()
            database.drop()


def answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(autouse=True)
def no_server_errors(request, served):
    """Every test: the server answered no request with a 5xx. (A refused request logs its
    traceback as a warning; that is not an error here.)"""
    served.new_log()
    yield
    log = served.new_log()
    errors = [
        line
        for line in log.splitlines()
        if re.search(r'" 5\d\d \d+$', line) or "Internal Server Error" in line
    ]
    assert not errors, f"The server logged errors during {request.node.name}:\n{log[-4000:]}"


# The browser


def chinese_font_missing() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return True
    found = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30, check=False
    )
    return not found.stdout.strip()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    if chinese_font_missing():
        warnings.warn(
            f"No Chinese font: screenshots will show boxes for Chinese text. {INSTALL_HINT}.",
            stacklevel=1,
        )

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, timeout=60_000
        )
        yield chromium
        chromium.close()


@pytest.fixture(params=list(BROWSER_LOCALES))
def lang(request):
    """The admin's language; each browser test runs once in Chinese and once in English."""
    return request.param


@pytest.fixture
def context(browser, served, lang):
    context = browser.new_context(
        locale=BROWSER_LOCALES[lang],
        viewport=VIEWPORT,
        base_url=served.url,
        accept_downloads=True,
    )
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A new tab; the test fails if the page broke its Content-Security-Policy (Chromium
    reports each refusal on the console)."""
    page = context.new_page()
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    assert not refused, f"The page broke its Content-Security-Policy: {refused}"


class Screenshots:
    """Numbered screenshots of one test, and a note of each page wider than the window."""

    def __init__(self, test_name: str, lang: str):
        self.folder = SCREENSHOTS / test_name
        self.lang = lang
        self.count = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob(f"*-{lang}.png"):
            old.unlink()

    def take(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}-{self.lang}.png"
        page.screenshot(path=path, full_page=True)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if widths[0] > widths[1]:
            OVERFLOWS.append(
                {
                    "path": page_path(page.url),
                    "locale": self.lang,
                    "scroll_width": widths[0],
                    "client_width": widths[1],
                    "screenshot": str(path.relative_to(ROOT)),
                }
            )
            OVERFLOW_REPORT.write_text(json.dumps(OVERFLOWS, indent=2, ensure_ascii=False) + "\n")
        return path


@pytest.fixture(scope="session", autouse=True)
def fresh_overflow_report():
    OVERFLOW_REPORT.unlink(missing_ok=True)


@pytest.fixture
def shots(request, lang):
    return Screenshots(request.node.originalname, lang)


# Sessions of each user, signed in once through the login form and reused by later tests
# (test_sign_in tests the form itself). The admin's language follows the browser, not the
# session, so one session serves both locales.
SIGNED_IN: dict[tuple[str, str], list] = {}


@pytest.fixture
def signed_in(context, page, served):
    """signed_in(username): `page`, with `username` signed in."""

    def sign_in_as(username: str):
        # Keyed by the server too: under xdist a worker may stop the package's server and
        # start another (a fresh database, where an earlier session does not exist).
        key = (served.url, username)
        if key not in SIGNED_IN:
            sign_in(page, username)
            SIGNED_IN[key] = context.cookies()
        else:
            context.add_cookies(SIGNED_IN[key])
        return page

    return sign_in_as
