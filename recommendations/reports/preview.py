"""A report preview computed for a web request (the API's and the admin's): small periods in
the worker itself; periods holding more than REPORT_PREVIEW_CHILD_ABOVE status updates, on
PostgreSQL, in a child process running `manage.py status_report`, so that the worker holds
only the bytes it answers with and gives its memory back (a year at dataset M builds 350 MB of
objects, and CPython and glibc keep about a third of it after they are freed). The child is
the command itself: the same report, the same bytes. SQLite (a newcomer's single machine)
always computes in the worker."""

import os
import subprocess
import sys
import tempfile
from datetime import date
from typing import BinaryIO

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from ..models import StatusUpdate
from .limits import check_preview_bytes, check_preview_size, too_large
from .render import render_bytes
from .status import build_status_report

CHILD_NAME = "tracker-report-preview"


class PreviewFailed(Exception):
    """The child process could not compute the report (it failed or ran out of time)."""


def preview_bytes(since: date, until: date, fmt: str, lang: str) -> bytes:
    """The report of (since, until] in `fmt`, bounded as limits.py says (ValidationError when
    it is too large); PreviewFailed when a child process computing it fails."""
    content = preview_content(since, until, fmt, lang)
    if isinstance(content, bytes):
        return content
    with content:
        return content.read()


def preview_content(since: date, until: date, fmt: str, lang: str) -> bytes | BinaryIO:
    """preview_bytes, except that a report computed by a child process comes as the open file
    it was written to (to stream, closed by whoever reads it): the worker never holds it."""
    check_preview_size(since, until, fmt)
    if in_child(since, until):
        return from_child(since, until, fmt, lang)
    report = build_status_report(since=since, until=until)
    return check_preview_bytes(render_bytes(report, fmt, lang))


def in_child(since: date, until: date) -> bool:
    """Whether the period holds more than REPORT_PREVIEW_CHILD_ABOVE updates (a count that
    stops there, from the effective-date index), on PostgreSQL."""
    above = settings.REPORT_PREVIEW_CHILD_ABOVE
    if connection.vendor != "postgresql":
        return False
    held = StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
    return held[above : above + 1].exists()


def from_child(since: date, until: date, fmt: str, lang: str) -> BinaryIO:
    """The report as `manage.py status_report` writes it, in an open temporary file (deleted
    when closed)."""
    command = [
        sys.executable,
        str(settings.BASE_DIR / "manage.py"),
        "status_report",
        *("--since", since.isoformat(), "--until", until.isoformat()),
        *("--format", fmt, "--lang", lang, "--output", "-", "--no-progress"),
    ]
    output = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    try:
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments; dates and choices checked
                command,
                stdout=output,
                stderr=subprocess.PIPE,
                timeout=settings.REPORT_PREVIEW_CHILD_SECONDS,
                # Named in pg_stat_activity, for operators (and the benchmark).
                env={**os.environ, "PYTHONIOENCODING": "utf-8", "PGAPPNAME": CHILD_NAME},
                cwd=settings.BASE_DIR,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PreviewFailed(
                f"status_report took longer than {settings.REPORT_PREVIEW_CHILD_SECONDS} s"
            ) from None
        if done.returncode != 0:
            raise PreviewFailed(done.stderr.decode(errors="replace")[-500:])
        if os.fstat(output.fileno()).st_size > settings.REPORT_PREVIEW_MAX_BYTES:
            raise too_large(_("bytes"), settings.REPORT_PREVIEW_MAX_BYTES)
        output.seek(0)
        return output
    except BaseException:
        output.close()
        raise
