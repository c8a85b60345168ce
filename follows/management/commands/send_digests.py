from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ... import services
from ...choices import Frequency
from ...periods import digest_day


class Command(BaseCommand):
    help = (
        "Send the digests due today (the last day or week that ended) that have not gone yet; "
        "for cron, or by hand. Safe to run any number of times, beside the workers: a digest "
        "is never sent twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--period",
            choices=[Frequency.DAILY, Frequency.WEEKLY],
            help="Only the users with daily, or weekly, digests (default: both).",
        )
        parser.add_argument(
            "--date",
            dest="day",
            help="Send as on this day (YYYY-MM-DD): the digests of the day before it, and of "
            "the week before each user's weekday on or before it. Default: today.",
        )

    def handle(self, *args, period=None, day=None, **options):
        today = parse_day(day) if day else digest_day(timezone.now())

        def progress(recipient, outcome):
            self.stdout.write(
                f"{recipient.settings.user.get_username()}: "
                f"{recipient.period.frequency} {services.period_label(recipient.period)}: "
                f"{outcome}"
            )

        outcomes = services.send_due_digests(today=today, frequency=period, progress=progress)
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
        self.stdout.write(f"Digests as of {today.isoformat()}: {summary or 'none due'}.")


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, got {value!r}") from None
