"""The safety net under the delivery task: deliver what is due now, in this process, and plan
the next run; or (--plan) only make sure a run is planned. Run it from cron (every few
minutes: `--plan`), or by hand after a worker was lost. `make run` calls it with --plan every
minute beside its worker."""

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from webhooks import selectors, worker


class Command(BaseCommand):
    help = "Deliver the webhooks that are due (or, with --plan, make sure a run is planned)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--plan",
            action="store_true",
            help="Send nothing here: enqueue a delivery run for the next due delivery unless "
            "one is planned.",
        )
        parser.add_argument(
            "--seconds",
            type=float,
            default=None,
            help="Deliver for at most this long (default WEBHOOK_RUN_SECONDS).",
        )

    def handle(self, *args, plan: bool, seconds: float | None, verbosity: int, **options):
        if plan:
            at = worker.plan_next(timezone.now(), idle=False)
            if verbosity:
                self.stdout.write(f"next run: {at.isoformat() if at else 'none needed'}")
            return
        counts = worker.run(seconds=seconds)
        if verbosity:
            outbox = selectors.outbox()
            self.stdout.write(json.dumps({**counts, "still_pending": outbox.pending}))
