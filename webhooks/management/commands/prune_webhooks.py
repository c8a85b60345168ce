"""Prune old webhook deliveries (with their attempts) and finished task results, batch by
batch (webhooks/pruning.py); or (--schedule) plan the daily task that does it. The task runs
it every day once planned; from cron, run it daily instead (README, "Webhooks", Pruning)."""

from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand
from django.utils import timezone

from webhooks import pruning


def at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"a whole number is needed, got {value!r}") from None
    if number < 1:
        raise ArgumentTypeError(f"1 or more is needed, got {number}")
    return number


def moment(at) -> str:
    return timezone.localtime(at).isoformat(timespec="minutes")


class Command(BaseCommand):
    help = (
        "Delete delivered webhook deliveries older than WEBHOOK_KEEP_DAYS and failed ones "
        "older than WEBHOOK_KEEP_FAILED_DAYS, with their attempts, and task results finished "
        "more than TASK_RESULTS_KEEP_DAYS ago, PRUNE_BATCH rows per transaction. Pending "
        "deliveries and events are kept. Safe beside the workers, and beside another pruning."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Delete nothing: count what would be deleted.",
        )
        parser.add_argument(
            "--keep-days",
            type=at_least_one,
            help="Keep delivered deliveries this many days (default WEBHOOK_KEEP_DAYS).",
        )
        parser.add_argument(
            "--keep-failed-days",
            type=at_least_one,
            help="Keep failed deliveries this many days after their last schedule of retries "
            "began (default WEBHOOK_KEEP_FAILED_DAYS).",
        )
        parser.add_argument(
            "--task-results-keep-days",
            type=at_least_one,
            help="Keep finished task results this many days (default TASK_RESULTS_KEEP_DAYS).",
        )
        parser.add_argument(
            "--batch",
            type=at_least_one,
            help="Rows deleted per transaction (default PRUNE_BATCH).",
        )
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Prune nothing here: plan the daily pruning task unless it is planned "
            "already (each run plans the next). `make run` calls it.",
        )

    def handle(
        self,
        *args,
        dry_run: bool,
        keep_days: int | None,
        keep_failed_days: int | None,
        task_results_keep_days: int | None,
        batch: int | None,
        schedule: bool,
        verbosity: int,
        **options,
    ):
        now = timezone.now()
        if schedule:
            self.schedule(now, verbosity)
            return
        cutoffs = pruning.Cutoffs.of(
            now,
            keep_days=keep_days,
            keep_failed_days=keep_failed_days,
            task_results_keep_days=task_results_keep_days,
        )
        if verbosity:
            self.stdout.write(
                f"Pruning deliveries delivered before {moment(cutoffs.delivered)}, failed "
                f"deliveries whose retries began before {moment(cutoffs.failed)}, and task "
                f"results finished before {moment(cutoffs.task_results)}."
            )

        def progress(batch: pruning.Batch) -> None:
            if not verbosity:
                return
            if batch.kind == pruning.TASK_RESULTS:
                self.stdout.write(f"task results: batch {batch.number}: {batch.rows} deleted")
            else:
                self.stdout.write(
                    f"{batch.kind} deliveries: batch {batch.number}: {batch.rows} deleted, "
                    f"with {batch.attempts} attempts"
                )

        pruned = pruning.prune(cutoffs=cutoffs, batch=batch, dry_run=dry_run, progress=progress)
        if verbosity:
            summary = (
                f"{pruned.delivered} delivered and {pruned.failed} failed deliveries with "
                f"{pruned.attempts} attempts, and {pruned.task_results} task results"
            )
            if dry_run:
                self.stdout.write(
                    f"Would delete {summary}, in {pruned.batches} batches (dry run: nothing "
                    "deleted)."
                )
            else:
                self.stdout.write(f"Deleted {summary}, in {pruned.batches} batches.")

    def schedule(self, now, verbosity: int) -> None:
        run = pruning.schedule_next_run(now=now)
        if not verbosity:
            return
        at = moment(pruning.next_run(now))
        if run is None:
            self.stdout.write(f"Pruning: the run at {at} is planned already.")
        else:
            self.stdout.write(f"Pruning: planned a run at {at} (task {run.task_id}).")
