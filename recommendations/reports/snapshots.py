"""Publishing status reports as immutable, versioned snapshots."""

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import signals
from ..models import ReportSnapshot
from .render import EXTENSIONS, render_csv, render_html, render_json, render_markdown
from .status import StatusReport, build_status_report

# The files a snapshot stores, as (format, language). JSON and CSV are language-neutral:
# their one file is listed under "en".
SNAPSHOT_FILES = (
    ("json", "en"),
    ("csv", "en"),
    ("markdown", "en"),
    ("markdown", "zh"),
    ("html", "en"),
    ("html", "zh"),
)
LOCALIZED_FORMATS = ("markdown", "html")
# The columns that hold a snapshot's published texts: lists leave them unread.
STORED_TEXTS = ("report_json", "markdown_en", "markdown_zh", "html_en", "html_zh", "csv")


def snapshot_filename(snapshot: ReportSnapshot, fmt: str, lang: str = "en") -> str:
    """The download name of a snapshot's file, the language named when the format has two:
    status-report_2026-03-31_2026-06-30_v2_zh.md, status-report_2026-03-31_2026-06-30_v2.json.
    """
    name = f"status-report_{snapshot.since}_{snapshot.until}_v{snapshot.version}"
    if fmt in LOCALIZED_FORMATS:
        name += f"_{lang}"
    return f"{name}.{EXTENSIONS[fmt]}"


def latest_snapshot(*, since: date, until: date) -> ReportSnapshot | None:
    return ReportSnapshot.objects.filter(since=since, until=until).order_by("-version").first()


def save_report(
    *, report: StatusReport, by=None, force: bool = False
) -> tuple[ReportSnapshot, bool]:
    """Store `report` with all its renderings; return (snapshot, created).

    Without `force`, a period that already has a snapshot keeps it: nothing is written and
    (the latest snapshot, False) comes back. With `force`, a new version is added; no
    snapshot is ever changed.
    """
    existing = latest_snapshot(since=report.since, until=report.until)
    if existing and not force:
        return existing, False
    report_json = render_json(report)
    fields = {
        "since": report.since,
        "until": report.until,
        "generated_by": by,
        "report_json": report_json,
        "sha256": ReportSnapshot.digest(report_json),
        "markdown_en": render_markdown(report, "en"),
        "markdown_zh": render_markdown(report, "zh"),
        "html_en": render_html(report, "en"),
        "html_zh": render_html(report, "zh"),
        "csv": render_csv(report),
    }
    try:
        with transaction.atomic():
            version = (existing.version + 1) if existing else 1
            snapshot = ReportSnapshot.objects.create(version=version, **fields)
            signals.report_published.send(sender=ReportSnapshot, snapshot=snapshot)
            return snapshot, True
    except IntegrityError:
        raise ValidationError(
            _(
                "Another snapshot of this period was saved at the same time; "
                "run again to add a new version."
            )
        ) from None


def publish_report(*, since: date, until: date, by, force: bool = False):
    """Publish the status report of (since, until] as a snapshot by `by`, as save_report
    does; return (snapshot, created). A period that has a snapshot keeps it, and nothing is
    computed, unless `force` adds a new version, which only a superuser (or the command, with
    no user) may ask for. Raises PermissionDenied for `force` from anyone else, and
    ValidationError for a period the report refuses; either way nothing is written."""
    if force and by is not None and not by.is_superuser:
        raise PermissionDenied(_("Only a superuser may publish a new version of a period."))
    existing = latest_snapshot(since=since, until=until)
    if existing and not force:
        return existing, False
    report = build_status_report(since=since, until=until)
    return save_report(report=report, by=by, force=force)
