"""The rule every export follows, from the admin or the API: at most EXPORT_MAX_ROWS rows."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _


def too_many_rows() -> ValidationError:
    return ValidationError(
        _(
            "This export would hold more than %(limit)s rows, the most one file may hold "
            "(EXPORT_MAX_ROWS). Narrow the list with its filters and export each part."
        )
        % {"limit": f"{settings.EXPORT_MAX_ROWS:,}"}
    )


def check_export_size(*, rows: QuerySet) -> None:
    """Raise ValidationError, before anything is written, when the export's `rows` (a
    selector's queryset) are more than EXPORT_MAX_ROWS. The count stops at the limit: one
    bounded query."""
    limit = settings.EXPORT_MAX_ROWS
    if rows[limit : limit + 1].exists():
        raise too_many_rows()
