import sys
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from recommendations.integrity import lift_statement_timeout
from recommendations.reports.render import FORMATS, LANGUAGES, render
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import PERIODS, build_status_report, last_complete_period


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "The status report of a period (since, until]: what moved, where each pillar stands, "
        "what is stuck or late, which risks are uncovered. --save publishes it as an immutable "
        "snapshot; without --force a period that has one is left as it is (safe under cron)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=iso_date, help="Start of the period (exclusive).")
        parser.add_argument("--until", type=iso_date, help="End of the period (inclusive).")
        parser.add_argument(
            "--period",
            choices=PERIODS,
            help="The last complete month, quarter or year (default: quarter) when --since "
            "and --until are not given.",
        )
        parser.add_argument("--today", type=iso_date, help="Today, for --period (default: today).")
        parser.add_argument("--format", choices=FORMATS, default="markdown")
        parser.add_argument("--lang", choices=LANGUAGES, default="en")
        parser.add_argument("--output", default="-", help="A file, or - for standard output.")
        parser.add_argument("--save", action="store_true", help="Publish it as a snapshot.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="With --save: add a new version even if the period has one.",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        since, until = self.period(options)
        if options["force"] and not options["save"]:
            raise CommandError("--force goes with --save.")
        show = not options["no_progress"] and sys.stderr.isatty()
        with tqdm(total=4, desc="status report", disable=not show, file=sys.stderr) as bar:
            try:
                # A report over years of national-scale history may take longer than the
                # statement timeout that protects web requests; a command may wait for it.
                with transaction.atomic():
                    lift_statement_timeout()
                    report = build_status_report(
                        since=since, until=until, step=lambda name: bar.update(1)
                    )
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            text = render(report, options["format"], options["lang"])
            bar.update(1)
        if options["save"]:
            snapshot, created = save_report(report=report, force=options["force"])
            if created:
                self.stderr.write(f"Saved snapshot {snapshot} (SHA-256 {snapshot.sha256}).")
            else:
                self.stderr.write(
                    f"A snapshot of this period exists already ({snapshot}, generated "
                    f"{timezone.localtime(snapshot.generated_at):%Y-%m-%d %H:%M}); nothing was "
                    "saved. Use --force to add a new version."
                )
                text = snapshot.rendering(options["format"], options["lang"])
        self.write(text, options["output"])

    def period(self, options) -> tuple[date, date]:
        since, until = options["since"], options["until"]
        if (since is None) != (until is None):
            raise CommandError("Give both --since and --until, or neither.")
        if since and options["period"]:
            raise CommandError("Give --since and --until, or --period, not both.")
        if since:
            if since >= until:
                raise CommandError("--until must be after --since.")
            return since, until
        today = options["today"] or timezone.localdate()
        return last_complete_period(options["period"] or "quarter", today)

    def write(self, text: str, output: str) -> None:
        if output == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        self.stderr.write(f"Wrote {output}.")
