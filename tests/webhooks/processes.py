"""The real worker for tests: `manage.py db_worker` as a subprocess on a throwaway database (a
PostgreSQL database or a SQLite file, tests/serving.py), with writes made the way the app
makes them, through `manage.py shell`. Every wait is bounded in time, and a worker is
stopped through its own process group only."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.serving import ROOT, app_environment, manage

# Quick retries, short leases and timeouts, and receivers on loopback.
WORKER_SETTINGS = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    "WEBHOOK_RETRY_FIRST_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_READ_TIMEOUT": "2",
    "WEBHOOK_LEASE_SECONDS": "5",
    "LOG_LEVEL": "INFO",
}


def worker_environment(database_url: str, **extra: str) -> dict:
    return app_environment(database_url, **{**WORKER_SETTINGS, **extra})


SUBSCRIBE = """
import json
from django.contrib.auth.models import User
from webhooks import services
owner = User.objects.filter(username="hooks").first() or User.objects.create_superuser(
    "hooks", email="hooks@example.org", password=None
)
subscription = services.create_subscription(owner=owner, url={url!r})
print(json.dumps({{"id": subscription.pk, "secret": subscription.secret}}))
"""

RECORD = """
import json
from datetime import date, timedelta
from django.utils import timezone
from recommendations import services
from recommendations.models import Measure
measures = list(Measure.objects.filter(archived=False).order_by("code")[:{measures}])
today = timezone.localdate()
written = []
for step in range({per_measure}):
    for measure in measures:
        update = services.record_status_update(
            measure=Measure.objects.get(pk=measure.pk), status="in_progress",
            progress=10 + step, effective_date=today - timedelta(days={per_measure} - step),
            note="worker test {tag} " + str(step), by=None, today=today,
        )
        written.append({{"measure": measure.pk, "update": update.pk}})
print(json.dumps(written))
"""


def subscribe(environment: dict, url: str) -> dict:
    output = manage(environment, "shell", "-c", SUBSCRIBE.format(url=url))
    return json.loads(output.strip().splitlines()[-1])


def record_updates(environment: dict, *, measures: int, per_measure: int, tag: str = "") -> list:
    """Record `per_measure` status updates on each of the first `measures` measures, one
    after the other, each in its own transaction (as the API would)."""
    script = RECORD.format(measures=measures, per_measure=per_measure, tag=tag)
    return json.loads(manage(environment, "shell", "-c", script).strip().splitlines()[-1])


class Worker:
    """`manage.py db_worker` on the webhooks queue, output to `log`."""

    def __init__(self, environment: dict, log: Path, *extra: str):
        self.command = [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "webhooks",
            "--interval",
            "0.1",
            "--no-startup-delay",
            "--no-reload",
            *extra,
        ]
        self.env = environment
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the worker's process group: it dies mid-whatever, as in a crash."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the worker finishes its task), then SIGKILL after 10 s."""
        if not self.running:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait(self, seconds: float) -> int | None:
        """Its exit code, once it exits within `seconds` (None if it is still running)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.running:
            time.sleep(0.1)
        return None if self.running else self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
