from django.core.management.base import BaseCommand
from django.utils import timezone

from ... import services
from ...periods import next_run


class Command(BaseCommand):
    help = (
        "Plan the hourly run that sends due digests, unless it is planned already; each run "
        "plans the next. `make run` calls it before starting the worker."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        run = services.schedule_next_run(now=now)
        at = timezone.localtime(next_run(now)).isoformat(timespec="minutes")
        if run is None:
            self.stdout.write(f"Digests: the run at {at} is planned already.")
        else:
            self.stdout.write(f"Digests: planned a run at {at} (task {run.task_id}).")
