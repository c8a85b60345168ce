"""Webhooks on PostgreSQL: what the outbox and the fan-out add to a status update, and how
many deliveries one worker makes per second to a receiver on loopback.

    .venv/bin/python -m bench.webhooks             # about seven minutes (+ one the first time)

Status updates are POSTed to /api/v1/measures/{id}/status-updates/ (as B5, without If-Match
and Idempotency-Key) on the synthetic measures of a copy of dataset S (its own template,
bench_webhooks_s), through gunicorn with one sync worker, in interleaved rounds of five
variants, all served by the same worker (each request's X-Bench-Outbox header says what it
leaves out, bench/apps.py):

- `no outbox`: the events app's receivers left out: what an update cost before the outbox;
- `events, no webhooks`: the event is written, no delivery planned;
- `events and fan-out, no subscription`: the event's statement with its fan-out, which plans
  nothing;
- `1 subscription`, `10 subscriptions`: each update plans that many deliveries, and once it
  commits a delivery run is queued (or found queued).

Cost is CPU, read from /proc: the gunicorn worker and its PostgreSQL backend, per update.
Target: the outbox and the fan-out add under 10% to a status update's cost (`1 subscription`
against `no outbox`).

Then one worker (`manage.py db_worker`, a process of its own) delivers what status updates
planned to a receiver in this process that verifies each delivery with standardwebhooks:
deliveries spread over 200 measures, and all on one measure (each waits for the one before).

Writes bench/results/webhooks.txt. Needs PostgreSQL on 127.0.0.1:5432 (user postgres,
CREATEDB); every loop is bounded in count and time.
"""

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROUNDS = 15
# Status updates per variant per round: CPU is read in ticks of 10 ms, and 200 updates (two
# seconds or so) keep a tick under 1% of a round.
PER_BATCH = 200
COMPONENT_REPEATS = 1000  # of each part of the outbox, per trial
COMPONENT_TRIALS = 5
SPREAD_DELIVERIES = 2000
SPREAD_MEASURES = 200
ONE_MEASURE_DELIVERIES = 300
TARGET_OVERHEAD = 0.10
DELIVERY_TIMEOUT = 240  # seconds a worker may take for a batch of deliveries


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Receiver:
    """A receiver on loopback that verifies every delivery (standardwebhooks) and counts."""

    def __init__(self):
        from standardwebhooks.webhooks import Webhook

        self.secret = ""
        self.verified = 0
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    ok = True
                except Exception:
                    ok = False
                with receiver.lock:
                    if ok:
                        receiver.verified += 1
                    else:
                        receiver.refused += 1
                self.send_response(204 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bench"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks")
    parser.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)

    from .run import app_env

    info = dataset.conninfo(args.pg_host, args.pg_port, args.pg_user)

    def db_url(name: str) -> str:
        return dataset.url(args.pg_host, args.pg_port, args.pg_user, name)

    env = app_env(db_url("postgres"), uncapped=True)
    template = dataset.ensure_template(
        "S", info=info, db_url=db_url, env=env, log=log, name="bench_webhooks_s"
    )
    name = dataset.fresh_copy(template, info=info)
    try:
        worker_env = {
            **app_env(db_url(name), uncapped=True),
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(worker_env)
        os.environ["PGAPPNAME"] = "bench-webhooks"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        lines = measure(name, rounds=args.rounds, worker_env=worker_env, info=info)
    finally:
        if not args.keep_db:
            dataset.drop(name, info=info)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "webhooks.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


# Status updates


class Writer:
    """Records status updates on the synthetic measures, round robin, each moving on, through
    the service (the deliveries' part of the benchmark plans its deliveries so)."""

    def __init__(self):
        from django.utils import timezone

        from recommendations.models import Measure

        self.today = timezone.localdate()
        self.measures = list(
            Measure.objects.filter(code__startswith="SYN-", archived=False)
            .order_by("code")
            .values_list("pk", flat=True)
        )
        self.count = 0

    def one(self) -> None:
        from recommendations import services
        from recommendations.models import Measure

        measure = Measure.objects.get(pk=self.measures[self.count % len(self.measures)])
        self.count += 1
        services.record_status_update(
            measure=measure,
            status="in_progress",
            progress=1 + self.count % 99,
            effective_date=max(self.today, measure.status_effective_date or self.today),
            note=f"bench webhooks {self.count}",
            by=None,
            today=self.today,
        )


def subscriptions(count: int, url: str) -> None:
    from django.contrib.auth import get_user_model

    from webhooks import services
    from webhooks.models import Subscription

    Subscription.objects.all().delete()
    owner, _created = get_user_model().objects.get_or_create(
        username="bench-webhooks", defaults={"is_superuser": True, "is_staff": True}
    )
    for _ in range(count):
        services.create_subscription(owner=owner, url=url)


# variant: (the app server: what it has switched off, subscriptions)
VARIANTS = {
    "no outbox": ("outbox", 0),
    "events, no webhooks": ("webhooks", 0),
    "events and fan-out, no subscription": ("", 0),
    "1 subscription": ("", 1),
    "10 subscriptions": ("", 10),
}


def measure_writes(rounds: int, env: dict, database: str, info: str) -> list[str]:
    """POST /api/v1/measures/{id}/status-updates/ through gunicorn (one sync worker, one
    client), as B5 does without If-Match and Idempotency-Key: CPU of the worker and of its
    PostgreSQL backend per request, in interleaved rounds of the variants. Two app servers:
    one without the outbox."""
    import json

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from tokens.services import create_token

    from .measure import Monitor
    from .run import VAR, Client, Server, batch, wait_ready

    analyst, _created = get_user().objects.get_or_create(
        username="bench-analyst-webhooks", defaults={"is_staff": True}
    )
    analyst.groups.add(Group.objects.get(name="analyst"))
    token = create_token(user=analyst, now=timezone.now())[1]
    writer = Writer()
    VAR.mkdir(exist_ok=True)
    # One app server for every variant: each request's X-Bench-Outbox header says what it
    # leaves out (bench/apps.py), so all are priced in the same worker and database backend.
    server = Server(
        {**env, "BENCH_OUTBOX_SWITCH": "1"},
        workers=1,
        timeout=60,
        log_path=VAR / "webhooks-gunicorn.log",
    )
    discard = "http://127.0.0.1:9/bench"  # nothing delivers here: no worker runs
    figures: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    sent = 0

    def calls(client: Client, n: int, without: str) -> list:
        nonlocal sent
        made = []
        headers = {"Content-Type": "application/json", "X-Bench-Outbox": without}
        for _ in range(n):
            measure = writer.measures[sent % len(writer.measures)]
            sent += 1
            body = {
                "status": "in_progress",
                "progress": 1 + sent % 99,
                "confidence": "medium",
                "effective_date": str(writer.today),
                "note": f"bench webhooks {sent}",
            }
            made.append(
                client.call(
                    "POST",
                    f"/api/v1/measures/{measure}/status-updates/",
                    headers,
                    json.dumps(body).encode(),
                )
            )
        return made

    try:
        server.start()
        client = Client(server.port, token)
        wait_ready(client, server)
        monitor = Monitor(master=server.proc.pid, database=database, conninfo=info)
        log(f"warming up, then {rounds} rounds of {PER_BATCH} status updates per variant")
        for without in ("outbox", "webhooks", ""):
            batch(monitor, server.port, calls(client, 30, without), concurrency=1, timeout=60)
        order = list(VARIANTS)
        for round_number in range(rounds):
            random.Random(round_number).shuffle(order)  # no variant always first, or last
            for name in order:
                without, subs = VARIANTS[name]
                subscriptions(subs, discard)
                # The switch happens on the round's first request: not counted.
                batch(monitor, server.port, calls(client, 1, without), concurrency=1, timeout=60)
                result = batch(
                    monitor,
                    server.port,
                    calls(client, PER_BATCH, without),
                    concurrency=1,
                    timeout=60,
                )
                if result["statuses"] != {"201": PER_BATCH}:
                    raise SystemExit(f"{name}: {result['statuses']}")
                figures[name].append(result)
            log(f"round {round_number + 1} done")
        monitor.close()
    finally:
        server.stop()

    def per_request(name: str, key: str) -> float:
        return statistics.median(r[key] / r["n"] for r in figures[name])

    def spread(name: str) -> str:
        totals = sorted((r["app_cpu_s"] + r["db_cpu_s"]) / r["n"] for r in figures[name])
        low, high = totals[len(totals) // 4], totals[(3 * len(totals)) // 4]
        return f"{low * 1000:.1f}–{high * 1000:.1f}"

    medians = {
        name: {
            "app": per_request(name, "app_cpu_s"),
            "db": per_request(name, "db_cpu_s"),
            "wall": per_request(name, "wall_s"),
        }
        for name in VARIANTS
    }
    base = medians["no outbox"]["app"] + medians["no outbox"]["db"]
    lines = [
        "| variant | CPU per update: app + database | middle half of the rounds | vs no outbox "
        "| wall per update | updates per second (one client) |",
        "| --- | --: | --: | --: | --: | --: |",
    ]
    for name, value in medians.items():
        cpu = value["app"] + value["db"]
        lines.append(
            f"| {name} | {cpu * 1000:.2f} ms ({value['app'] * 1000:.2f} + "
            f"{value['db'] * 1000:.2f}) | {spread(name)} ms | {(cpu / base - 1) * 100:+.1f}% | "
            f"{value['wall'] * 1000:.2f} ms | {1 / value['wall']:.0f} |"
        )

    def cost(name: str) -> float:
        return medians[name]["app"] + medians[name]["db"]

    overhead = cost("1 subscription") / base - 1
    verdict = "met" if overhead < TARGET_OVERHEAD else "MISSED"
    events = cost("events, no webhooks") / base - 1
    fan_out = (cost("events and fan-out, no subscription") - cost("events, no webhooks")) / base
    one = (cost("1 subscription") - cost("events, no webhooks")) / base
    lines += [
        "",
        f"Medians of {rounds} interleaved rounds of {PER_BATCH} POSTs each, gunicorn with one "
        "sync worker serving every variant (each request's header says what it leaves out) and "
        "one client on loopback, CPU read from /proc for the worker and its "
        "PostgreSQL backends. No delivery worker runs: after the first, each update's commit "
        "finds a delivery run already queued (one SELECT) instead of enqueueing another. "
        f"Target: the outbox and the fan-out add under {TARGET_OVERHEAD:.0%} to an update's "
        f"cost (1 subscription against no outbox): {overhead:+.1%}, {verdict}. Of it, the "
        f"events app's part (the event's payload, the row the API's answer shares, and the "
        f"event's row): "
        f"{events:+.1%}; the webhooks' part (the fan-out, in the event's own statement; the "
        f"delivery row; the check for a queued run): {fan_out:+.1%} with no subscription, "
        f"{one:+.1%} with one.",
    ]
    return lines, base * 1000


def components(base_ms: float) -> list[str]:
    """Each part of what the outbox adds to a status update, timed alone in this process (CPU
    of the process and of its backend), COMPONENT_REPEATS times in a transaction rolled back,
    the median of COMPONENT_TRIALS trials: steadier than the end-to-end figures on a busy
    machine, and it says which part costs what."""
    from django.db import connection, transaction

    from events import payloads, receivers
    from events.models import Event
    from recommendations.models import StatusUpdate
    from webhooks import tasks

    from .measure import backend_seconds

    backend = backend_seconds(connection)
    subscriptions(0, "")
    # As record_status_update returns it: measure, author and citations loaded.
    update = (
        StatusUpdate.objects.select_related("measure", "recorded_by", "approved_by")
        .prefetch_related("evidence_links__revision")
        .order_by("-id")
        .first()
    )
    payloads.status_updates([update])  # the row, built once: the API's answer reuses it

    def event() -> Event:
        return Event(
            type="status_update.recorded",
            measure_id=update.measure_id,
            pillar_id=update.measure.pillar_id,
            payload={"id": update.pk},
            occurred_at=update.recorded_at,
        )

    def timed(prepare, part) -> float:
        results = []
        for _trial in range(COMPONENT_TRIALS):
            with transaction.atomic():
                made = prepare()
                cpu, db = time.process_time(), backend()
                for index in range(COMPONENT_REPEATS):
                    part(made, index)
                spent = (time.process_time() - cpu) + (backend() - db)
                transaction.set_rollback(True)
            results.append(spent / COMPONENT_REPEATS)
        return statistics.median(results)

    def subscribed(subs: int):
        return lambda: subscriptions(subs, "http://127.0.0.1:9/bench")

    tasks.enqueue()  # a run waiting in the queue, as after the first change
    parts = [
        (
            "the event's payload (the row the API's answer is built from, made once for both)",
            timed(lambda: None, lambda _m, _i: payloads.status_updates([update])),
        ),
        (
            "the event's row and its deliveries, no subscription (one statement)",
            timed(subscribed(0), lambda _m, _i: receivers.write([event()])),
        ),
        (
            "the same, one subscription (and its delivery row)",
            timed(subscribed(1), lambda _m, _i: receivers.write([event()])),
        ),
        (
            "after the commit: is a run queued? (one SELECT)",
            timed(lambda: None, lambda _m, _i: tasks.enqueue_unless_queued()),
        ),
    ]
    subscriptions(0, "")
    lines = [
        "| part | CPU (app + database) | share of a status update without the outbox |",
        "| --- | --: | --: |",
    ]
    for label, seconds in parts:
        lines.append(f"| {label} | {seconds * 1000:.3f} ms | {seconds * 1000 / base_ms:.1%} |")
    return lines


def get_user():
    from django.contrib.auth import get_user_model

    return get_user_model()


def statements() -> list[str]:
    """The queries of one update through the service, in each variant but no outbox."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    writer = Writer()
    lines = []
    for name, (without, subs) in VARIANTS.items():
        if without:  # the service in this process has everything connected
            continue
        subscriptions(subs, "http://127.0.0.1:9/bench")
        writer.one()  # once, so that the queue holds a run
        with CaptureQueriesContext(connection) as queries:
            writer.one()
        lines.append(f"{name}: {len(queries)}")
    subscriptions(0, "")
    return lines


# Deliveries


def deliver(worker_env: dict, receiver: Receiver, expected: int, log_path: Path) -> float:
    """Seconds one `manage.py db_worker` takes to get `expected` deliveries to `receiver`."""
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--queue-name",
        "webhooks",
        "--interval",
        "0.1",
        "--no-startup-delay",
        "--no-reload",
    ]
    with log_path.open("ab") as output:
        began = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=worker_env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + DELIVERY_TIMEOUT
            while receiver.verified < expected and time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SystemExit(f"the worker exited: see {log_path}")
                time.sleep(0.02)
            seconds = time.perf_counter() - began
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    if receiver.verified < expected:
        raise SystemExit(f"{receiver.verified} of {expected} deliveries in {DELIVERY_TIMEOUT} s")
    return seconds


def plan_deliveries(writer: Writer, receiver: Receiver, count: int, measures: list[int]) -> None:
    """`count` status updates on `measures` in turn, each planning one delivery to
    `receiver` (and enqueueing a run, as the app does)."""
    from django_tasks_db.models import DBTaskResult

    subscriptions(0, "")
    subscriptions(1, receiver.url)
    from webhooks.models import Subscription

    receiver.secret = Subscription.objects.get().secret
    writer.measures = measures
    for _ in range(count):
        writer.one()
    log(f"{count} deliveries planned, {DBTaskResult.objects.count()} runs enqueued")


def measure_deliveries(worker_env: dict) -> list[str]:
    from django_tasks_db.models import DBTaskResult

    from webhooks.models import Delivery, Wakeup

    from .run import VAR

    writer = Writer()
    spread = writer.measures[:SPREAD_MEASURES]
    results = []
    for label, count, measures in (
        (f"spread over {SPREAD_MEASURES} measures", SPREAD_DELIVERIES, spread),
        ("all on one measure (each waits for the one before)", ONE_MEASURE_DELIVERIES, spread[:1]),
    ):
        Delivery.objects.all().delete()
        DBTaskResult.objects.all().delete()
        Wakeup.objects.all().delete()
        receiver = Receiver()
        try:
            plan_deliveries(writer, receiver, count, measures)
            log(f"one worker delivering {count} ({label})")
            seconds = deliver(worker_env, receiver, count, VAR / "webhooks-worker.log")
        finally:
            receiver.stop()
        attempts = Delivery.objects.filter(state="delivered").count()
        results.append(
            f"| {label} | {count:,} | {attempts:,} | {receiver.refused} | {seconds:.1f} s | "
            f"{count / seconds:.0f} |"
        )
    return [
        "| deliveries | planned | delivered | refused by the receiver | time | per second |",
        "| --- | --: | --: | --: | --: | --: |",
        *results,
        "",
        "One `manage.py db_worker` process from start (its start-up included) until the "
        "receiver had verified every delivery; the receiver, in the benchmark's process, "
        "checks each signature with standardwebhooks.",
    ]


def measure(database: str, *, rounds: int, worker_env: dict, info: str) -> list[str]:
    from recommendations.models import StatusUpdate

    history = StatusUpdate.objects.count()
    RESULTS.mkdir(parents=True, exist_ok=True)
    from .run import VAR

    VAR.mkdir(exist_ok=True)
    (VAR / "webhooks-worker.log").write_text("")
    writes, base_ms = measure_writes(rounds, worker_env, database, info)
    parts = components(base_ms)
    counted = statements()
    deliveries = measure_deliveries(worker_env)
    return [
        f"Webhooks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()} "
        f"({os.cpu_count()} cores), PostgreSQL database {database} (dataset S: {history:,} "
        "status updates before the run).",
        "",
        "Status updates through the API:",
        "",
        *writes,
        "",
        "What each part of it costs, timed alone:",
        "",
        *parts,
        "",
        "Queries one status update sends through the service (its transaction's and, after "
        "the commit, the check for a queued run): " + "; ".join(counted) + ".",
        "",
        "Delivery throughput of one worker to a receiver on loopback:",
        "",
        *deliveries,
    ]


if __name__ == "__main__":
    sys.exit(main())
