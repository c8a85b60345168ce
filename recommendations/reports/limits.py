"""What a status report may cost a web request, checked before the work is done: the API's
preview and the admin's preview and publish use these; the command has no limit."""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import StatusUpdate
from . import gather

# What listing one change costs a report in each format, against JSON's: rendering HTML
# takes about five times as long per listed entry, Markdown about twice (bench/README.md).
PREVIEW_COST = {"json": 1, "csv": 1, "markdown": 2, "html": 5}
# Publishing renders every stored file: JSON, CSV, and Markdown and HTML in both languages.
PUBLISH_COST = sum(PREVIEW_COST[fmt] for fmt in ("json", "csv")) + 2 * sum(
    PREVIEW_COST[fmt] for fmt in ("markdown", "html")
)


def too_large(what: str, limit: int) -> ValidationError:
    return ValidationError(
        {
            "until": _(
                "The report would hold more than %(limit)s %(what)s, more than a web "
                "request computes. Choose a shorter period or the JSON or CSV format, or run "
                "`manage.py status_report` (it has no such limit) and publish it with "
                "--save."
            )
            % {"limit": limit, "what": what}
        }
    )


def check_report_size(since: date, until: date, cost: int) -> None:
    """Raise ValidationError (on `until`) when the report of the period would list more
    changes than REPORT_PREVIEW_MAX_UPDATES allows at `cost` per change, before the report is
    built. The command has no limit.

    Cheap first: a period holding no more status updates than the limit cannot hold more
    changes (a count that stops at the limit, read from the effective-date index). Only a
    larger period has its changes counted: the report's own comparison, done by the database
    and stopping at the limit, with no row sent; its cost grows with the period's updates.
    """
    limit = settings.REPORT_PREVIEW_MAX_UPDATES // cost
    held = StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
    if not held[limit : limit + 1].exists():
        return
    if gather.count_changes(since, until, limit=limit) > limit:
        raise too_large(_("changes of status or progress"), limit)


def check_preview_size(since: date, until: date, fmt: str) -> None:
    """check_report_size for a preview in `fmt`."""
    check_report_size(since, until, PREVIEW_COST[fmt])


def check_publish_size(since: date, until: date) -> None:
    """check_report_size for publishing from a web request, which renders every file."""
    check_report_size(since, until, PUBLISH_COST)


def check_preview_bytes(body: bytes) -> bytes:
    """The preview's body, or ValidationError when it exceeds REPORT_PREVIEW_MAX_BYTES: no
    preview is larger, whatever the period's updates hold."""
    if len(body) > settings.REPORT_PREVIEW_MAX_BYTES:
        raise too_large(_("bytes"), settings.REPORT_PREVIEW_MAX_BYTES)
    return body
