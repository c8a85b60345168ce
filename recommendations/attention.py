"""What asks for an analyst's attention on a day: one definition for the status reports, the
admin's home page and the measure list's filters."""

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from .choices import STOPPED, Status


def never_assessed(status: str) -> bool:
    return status == Status.NOT_ASSESSED


def reassessment_due(last_update: date, review_every_days: int, day: date) -> bool:
    """No update within the review interval as of `day`: look again, whatever the status."""
    return (day - last_update).days >= review_every_days


def overdue(target_date: date | None, status: str, day: date) -> bool:
    """The target date has come (on or before `day`) and the measure is not implemented."""
    return target_date is not None and target_date <= day and status != Status.IMPLEMENTED


def stopped(status: str) -> bool:
    return status in STOPPED


@dataclass(frozen=True)
class Kind:
    key: str
    label: str


# The kinds of attention, in the order the home page lists them; `key` is the measure list's
# filter value (?attention=<key>).
KINDS = (
    Kind("reassessment_due", _("Reassessment due")),
    Kind("overdue", _("Overdue")),
    Kind("stopped", _("Stalled or abandoned")),
    Kind("never_assessed", _("Never assessed")),
)


def kinds_of(measure, day: date) -> set[str]:
    """The kinds of attention a measure (with its stored current state) needs on `day`."""
    kinds = set()
    if never_assessed(measure.status):
        kinds.add("never_assessed")
    if measure.status_effective_date and reassessment_due(
        measure.status_effective_date, measure.review_every_days, day
    ):
        kinds.add("reassessment_due")
    if overdue(measure.target_date, measure.status, day):
        kinds.add("overdue")
    if stopped(measure.status):
        kinds.add("stopped")
    return kinds
