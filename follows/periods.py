"""The periods a digest covers: a day, or the seven days before a user's weekday, as dates in
settings.TIME_ZONE."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .choices import Frequency, Weekday

# Runs start this long after the hour, so that a change whose transaction began just before
# midnight (its event carries the database's clock at its start) has committed by the time
# the day it belongs to is read.
SETTLE = timedelta(minutes=5)


@dataclass(frozen=True)
class Period:
    frequency: str
    start: date  # the first day
    end: date  # the last day

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants that start its first day and the day after its last, locally."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, zone),
            datetime.combine(self.end + timedelta(days=1), time.min, zone),
        )


def last_period(*, frequency: str, weekday: int = Weekday.MONDAY, today: date) -> Period:
    """The latest period of `frequency` that has ended by `today`: yesterday; or the seven
    days before the latest `weekday` (ISO, 1 is Monday) on or before today, which for Monday
    is the ISO week that ended."""
    if frequency == Frequency.DAILY:
        yesterday = today - timedelta(days=1)
        return Period(frequency, yesterday, yesterday)
    if frequency != Frequency.WEEKLY:
        raise ValueError(f"No period for frequency {frequency!r}")
    sent_on = today - timedelta(days=(today.isoweekday() - weekday) % 7)
    return Period(frequency, sent_on - timedelta(days=7), sent_on - timedelta(days=1))


def digest_day(now: datetime) -> date:
    """ "Today" for the digests due at `now`: the local date SETTLE ago."""
    return timezone.localdate(now - SETTLE)


def next_run(now: datetime) -> datetime:
    """The first local hour boundary plus SETTLE after `now`."""
    hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    candidate = hour + SETTLE
    return candidate if candidate > now else candidate + timedelta(hours=1)
