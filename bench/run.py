"""The benchmark, in one command:

    .venv/bin/python -m bench.run --dataset M      # about 2.5 minutes (plus ~1 to make M once)
    .venv/bin/python -m bench.run --dataset S      # about a minute

It makes (once) and copies (every run) the bench database, serves the app with gunicorn on
loopback, checks that each limit view returns the endpoint's exact bytes with the same SQL,
then measures B1-B5 in interleaved rounds and prints a table; bench/results/<dataset>.json
keeps the machine, settings, raw rounds and verdicts. See bench/README.md.
"""

import argparse
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from base64 import b64encode
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from . import dataset
from .measure import CLOCK_TICKS, Call, Monitor, Result, cpu_ticks, run_calls, send

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VAR = BENCH / "var"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
HOST = "127.0.0.1"

# Per dataset: rounds of B1-B3, the wall time a batch aims at (N is fixed per variant from a
# calibration pass, then the same in every round), B4's rounds and requests per batch, and
# B5's requests per round: distinct measures, and hot-measure clients x attempts each.
PRESETS = {
    "S": {
        "rounds": 5,
        "batch_seconds": 0.5,
        "b4_rounds": 3,
        "b4_requests": 2,
        "b5_rounds": 3,
        "b5_distinct": 24,
        "b5_hot_clients": 4,
        "b5_hot_each": 6,
        "budget_seconds": 240,
    },
    "M": {
        "rounds": 5,
        "batch_seconds": 1.0,
        "b4_rounds": 2,
        "b4_requests": 1,
        "b5_rounds": 3,
        "b5_distinct": 30,
        "b5_hot_clients": 4,
        "b5_hot_each": 8,
        "budget_seconds": 900,
    },
    "L": {
        "rounds": 3,
        "batch_seconds": 1.0,
        "b4_rounds": 1,
        "b4_requests": 1,
        "b5_rounds": 2,
        "b5_distinct": 30,
        "b5_hot_clients": 4,
        "b5_hot_each": 8,
        "budget_seconds": 1500,
    },
}
MIN_REQUESTS, MAX_REQUESTS = 5, 400
AS_OF = date(2026, 6, 30)
QUARTER = (date(2026, 6, 30), date(2026, 9, 30))
YEAR = (date(2025, 9, 30), date(2026, 9, 30))
PAGE_SIZE = 50
DEEP_PAGES_FROM_END = 10
# Settings the outer environment may hold that would change the app under test.
APP_PREFIXES = ("DB_", "API_", "SECURE_", "REPORT_", "PG", "BENCH_")
APP_NAMES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CACHE_URL",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
    "BEHIND_TLS_PROXY",
    "IDEMPOTENCY_KEY_TTL_HOURS",
    "TIME_ZONE",
}


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


class Failure(Exception):
    """A check failed: the figures would mean nothing."""


# --- settings and server ------------------------------------------------------------------


def app_env(db_url: str, *, uncapped: bool, default_settings: bool = False) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(APP_PREFIXES) and key not in APP_NAMES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain HTTP on loopback: no redirect to HTTPS.
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SECURE_HSTS_SECONDS="0",
        API_BROWSABLE="0",
        # Throttling counts in each process's memory: the throttle still runs on every
        # request but costs no query. --default-settings keeps the default (db://: one
        # statement on an unlogged table per request), as a deployment without Redis runs.
        CACHE_URL="db://" if default_settings else "locmem://",
        # Rates no benchmark reaches: throttling runs, never refuses.
        API_THROTTLE_USER="1000000000/minute",
        API_THROTTLE_ANON="1000000000/minute",
        # Connections kept for the whole run: the backends measured stay the same processes.
        DB_CONN_MAX_AGE="3600",
        BENCH_VAR=str(VAR),
    )
    if uncapped:
        env["DB_STATEMENT_TIMEOUT_MS"] = "0"
    return env


def app_source() -> dict:
    """A digest of the app's Python source (config, recommendations, evidence) and its newest
    file: results are tied to the code they measured, committed or not."""
    import hashlib

    digest, newest = hashlib.sha256(), (0.0, "")
    for folder in ("config", "recommendations", "evidence"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
            newest = max(newest, (path.stat().st_mtime, str(path.relative_to(ROOT))))
    changed = datetime.fromtimestamp(newest[0], UTC).isoformat(timespec="seconds")
    return {"sha256": digest.hexdigest()[:16], "newest_file": newest[1], "newest_mtime": changed}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict, *, workers: int, timeout: int, log_path: Path):
        self.env, self.workers, self.timeout, self.log_path = env, workers, timeout, log_path
        self.port = free_port()
        self.args = [
            GUNICORN,
            "config.wsgi:application",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            str(timeout),
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        from .measure import children

        workers = children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in workers:
            if cpu_ticks(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log_file.close()


# --- HTTP helpers ---------------------------------------------------------------------------


class Client:
    def __init__(self, port: int, token: str):
        self.port = port
        self.auth = {"Authorization": f"Token {token}", "Host": f"{HOST}:{port}"}

    def get(self, path: str, timeout: float = 120) -> Result:
        return send(HOST, self.port, self.call("GET", path), timeout)

    def call(self, method: str, path: str, headers: dict | None = None, body=None) -> Call:
        return Call(method, path, {**self.auth, **(headers or {})}, body)


def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def encode_cursor(position: int) -> str:
    """A cursor as DRF's CursorPagination encodes one: base64 of "p=<id>"."""
    return b64encode(f"p={position}".encode("ascii")).decode("ascii")


def worker_memory(monitor: Monitor) -> dict[int, tuple[float, float]]:
    """Each gunicorn worker's resident memory now and at its peak, in MB (/proc status)."""
    out = {}
    for pid in monitor.workers():
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        rss = int(fields["VmRSS"].split()[0]) / 1024
        hwm = int(fields["VmHWM"].split()[0]) / 1024
        out[pid] = (round(rss, 1), round(hwm, 1))
    return out


def call_of(client: Client, spec) -> Call:
    """A GET of a bench's path, or of (path, extra headers)."""
    path, headers = spec if isinstance(spec, tuple) else (spec, None)
    return client.call("GET", path, headers)


def wait_ready(client: Client, server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise Failure(f"gunicorn exited with {server.proc.returncode}; see {server.log_path}")
        if client.get("/api/v1/pillars/", timeout=5).status == 200:
            return
        time.sleep(0.25)
    raise Failure(f"gunicorn did not answer within {seconds} s; see {server.log_path}")


# --- measuring ------------------------------------------------------------------------------


def batch(
    monitor: Monitor, port: int, calls: list[Call], *, concurrency: int, timeout: float
) -> dict:
    """Send `calls` and return what they cost: worker and backend CPU, wall time, latencies."""
    before = monitor.snapshot()
    began = time.perf_counter()
    results = run_calls(
        HOST,
        port,
        calls,
        concurrency=concurrency,
        timeout=timeout,
        deadline=time.monotonic() + timeout * 2 + 60,
    )
    wall = time.perf_counter() - began
    time.sleep(0.05)  # let the last request's tail (connection close, signals) finish
    after = monitor.snapshot()
    return summarise_batch(results, wall, Monitor.delta(before, after))


def summarise_batch(results: list, wall: float, spent: dict) -> dict:
    done = [r for r in results if r is not None]
    return {
        "n": len(done),
        "wall_s": round(wall, 4),
        "app_cpu_s": round(spent["workers"]["seconds"], 3),
        "db_cpu_s": round(spent["backends"]["seconds"], 3),
        "statuses": dict(Counter(str(r.status) for r in done)),
        "bytes": round(statistics.mean(len(r.body) for r in done)) if done else 0,
        "latency_ms": [round(r.seconds * 1000, 2) for r in done],
        "processes_born": len(spent["workers"]["born"]) + len(spent["backends"]["born"]),
        "processes_lost": len(spent["workers"]["lost"]) + len(spent["backends"]["lost"]),
    }


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


def compact(rounds: list[dict]) -> list[dict]:
    """Rounds as kept in the results: each round's latency percentiles instead of every
    request's latency (the summaries pool them before this)."""
    kept = []
    for entry in rounds:
        entry = dict(entry)
        latencies = entry.pop("latency_ms", [])
        entry["p50_ms"], entry["p99_ms"] = percentile(latencies, 50), percentile(latencies, 99)
        kept.append(entry)
    return kept


def summary(rounds: list[dict]) -> dict:
    """Medians over rounds of CPU per request and requests/s; latency percentiles pooled."""
    good = [r for r in rounds if r["n"]]
    if not good:
        return {}
    cpu = [(r["app_cpu_s"] + r["db_cpu_s"]) / r["n"] * 1000 for r in good]
    app = [r["app_cpu_s"] / r["n"] * 1000 for r in good]
    db = [r["db_cpu_s"] / r["n"] * 1000 for r in good]
    rps = [r["n"] / r["wall_s"] for r in good if r["wall_s"] > 0]
    latencies = [x for r in good for x in r["latency_ms"]]
    statuses = Counter()
    for r in good:
        statuses.update(r["statuses"])
    return {
        "requests_per_round": good[0]["n"],
        "rounds": len(good),
        "cpu_ms": round(statistics.median(cpu), 3),
        "app_cpu_ms": round(statistics.median(app), 3),
        "db_cpu_ms": round(statistics.median(db), 3),
        "cpu_ms_rounds": [round(x, 3) for x in cpu],
        "rps": round(statistics.median(rps), 2) if rps else None,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "statuses": dict(statuses),
    }


# --- the run --------------------------------------------------------------------------------


class Run:
    def __init__(self, args):
        self.args = args
        self.preset = dict(PRESETS[args.dataset])
        if args.rounds:
            self.preset["rounds"] = args.rounds
        self.began = time.monotonic()
        self.deadline = self.began + self.preset["budget_seconds"]
        self.out: dict = {"dataset": args.dataset, "notes": []}
        self.info = dataset.conninfo(args.pg_host, args.pg_port, args.pg_user)

    def db_url(self, name: str) -> str:
        return dataset.url(self.args.pg_host, self.args.pg_port, self.args.pg_user, name)

    def note(self, text: str) -> None:
        log(text)
        self.out["notes"].append(text)

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline

    # setup

    def setup(self) -> None:
        VAR.mkdir(exist_ok=True)
        RESULTS.mkdir(exist_ok=True)
        base_env = app_env("", uncapped=False)
        template = dataset.ensure_template(
            self.args.dataset, info=self.info, db_url=self.db_url, env=base_env, log=log
        )
        began = time.monotonic()
        self.db = dataset.fresh_copy(template, info=self.info)
        log(f"copied {template} to {self.db} in {time.monotonic() - began:.1f} s")
        self.env = app_env(
            self.db_url(self.db),
            uncapped=self.args.b4_uncapped,
            default_settings=self.args.default_settings,
        )
        # The admin's pages (B7) and the error pages name hashed static files: the manifest
        # that DEBUG=0's storage reads must exist.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=300,
        )
        os.environ.update(self.env)
        os.environ["PGAPPNAME"] = "bench-runner"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from tokens.services import create_token

        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_superuser": True, "is_staff": True}
        )
        self.user_id = user.pk
        self.token = create_token(user=user, now=timezone.now())[1]
        self.session = self.analyst_session()
        self.choose_parameters()

    def analyst_session(self) -> str:
        """A signed-in admin session of a user in the `analyst` group (B7)."""
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.test import Client as TestClient

        user, _ = get_user_model().objects.get_or_create(
            username="bench-analyst", defaults={"is_staff": True}
        )
        user.groups.add(Group.objects.get(name="analyst"))
        test = TestClient()
        test.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        self.session_cookie = settings.SESSION_COOKIE_NAME
        return test.cookies[settings.SESSION_COOKIE_NAME].value

    def sql(self, query: str, params=()) -> list[tuple]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def choose_parameters(self) -> None:
        pillar, status, count = self.sql(
            "SELECT p.number, m.status, COUNT(*) FROM recommendations_measure m JOIN "
            "recommendations_pillar p ON p.id = m.pillar_id WHERE p.number >= 1001 "
            "AND NOT m.archived GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1"
        )[0]
        status_then, count_then = self.sql(
            "SELECT s.status, COUNT(*) FROM recommendations_measure m JOIN "
            "recommendations_pillar p ON p.id = m.pillar_id CROSS JOIN LATERAL (SELECT u.status "
            "FROM recommendations_statusupdate u WHERE u.measure_id = m.id AND "
            "u.effective_date <= %s ORDER BY u.effective_date DESC, u.recorded_at DESC, u.id "
            "DESC LIMIT 1) s WHERE p.number = %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
            [AS_OF, pillar],
        )[0]
        last_pillar = self.sql(
            "SELECT MAX(number) FROM recommendations_pillar WHERE number >= 1001 AND number <> %s",
            [pillar],
        )[0][0]
        history = self.sql("SELECT COUNT(*), MAX(id) FROM recommendations_statusupdate")[0]
        deepest = self.sql(
            "SELECT measure_id, COUNT(*) FROM recommendations_statusupdate GROUP BY 1 "
            "ORDER BY 2 DESC, 1 LIMIT 1"
        )[0]
        measures = self.sql("SELECT COUNT(*) FROM recommendations_measure")[0][0]
        self.params = {
            "b1": {"pillar": pillar, "status": status, "matches": count},
            "b2": {"pillar": pillar, "status": status_then, "as_of": str(AS_OF)},
            "b2_matches": count_then,
            "b3": {"max_id": history[1], "rows": history[0]},
            "b4": {"since": str(QUARTER[0]), "until": str(QUARTER[1])},
            "b5": {"pillar": last_pillar},
            "b7": {"measure": deepest[0], "history": deepest[1]},
        }
        self.out["database"] = {
            "name": self.db,
            "measures": measures,
            "status_updates": history[0],
            "size": self.sql("SELECT pg_size_pretty(pg_database_size(current_database()))")[0][0],
        }
        self.out["parameters"] = self.params

    # checks

    def read_benches(self) -> dict:
        b1, b2 = self.params["b1"], self.params["b2"]
        q1 = f"pillar={b1['pillar']}&status={b1['status']}&page_size={PAGE_SIZE}"
        q2 = f"pillar={b2['pillar']}&status={b2['status']}&page_size={PAGE_SIZE}&as_of={AS_OF}"
        rows = self.params["b3"]["rows"]
        last_page = math.ceil(rows / PAGE_SIZE)
        shallow, deep = self.params["b3"]["shallow_cursor"], self.params["b3"]["deep_cursor"]
        feed = f"page_size={PAGE_SIZE}"
        return {
            "B1": {
                "real": f"/api/v1/measures/?{q1}",
                "limit": f"/bench/limit/measures/?{q1}",
                "naive": f"/bench/naive/measures/?{q1}",
            },
            "B2": {
                "real": f"/api/v1/measures/?{q2}",
                "limit": f"/bench/limit/measures/?{q2}",
                "naive": f"/bench/naive/measures/?{q2}",
            },
            "B3 shallow": {
                "real": f"/api/v1/status-updates/?cursor={shallow}&{feed}",
                "limit": f"/bench/limit/status-updates/?cursor={shallow}&{feed}",
                "naive": f"/bench/naive/status-updates/?{feed}&page=3",
            },
            "B3 deep": {
                "real": f"/api/v1/status-updates/?cursor={deep}&{feed}",
                "limit": f"/bench/limit/status-updates/?cursor={deep}&{feed}",
                "naive": (
                    f"/bench/naive/status-updates/?{feed}&page={last_page - DEEP_PAGES_FROM_END}"
                ),
            },
        }

    def conditional_benches(self, client: Client, benches: dict) -> dict:
        """B6: B1, B2 and the feed's first page asked again with If-None-Match: a 304 each,
        against the token lookup alone (the limit)."""
        variants = {}
        for name, label in (("B1", "B1 304"), ("B2", "B2 304"), ("B3 shallow", "feed 304")):
            if name not in benches:
                continue
            path = benches[name]["real"]
            etag = client.get(path).headers.get("ETag")
            if not etag:
                raise Failure(f"B6: {path} answered without an ETag")
            variants[label] = (path, {"If-None-Match": etag})
            again = send(HOST, client.port, client.call("GET", path, {"If-None-Match": etag}), 60)
            if again.status != 304:
                raise Failure(f"B6: {path} with If-None-Match answered {again.status}, not 304")
        if not variants:
            return {}
        variants["limit"] = "/bench/limit/token/"
        return {"B6": variants}

    def admin_benches(self) -> dict:
        """B7: the admin's largest pages, signed in as an analyst."""
        cookie = {"Cookie": f"{self.session_cookie}={self.session}"}
        measure = self.params["b7"]["measure"]
        pages = {
            "B7 measures": "/admin/recommendations/measure/",
            "B7 updates": "/admin/recommendations/statusupdate/",
            "B7 evidence": "/admin/evidence/evidence/",
            "B7 measure page": f"/admin/recommendations/measure/{measure}/change/",
        }
        return {name: {"real": (path, cookie)} for name, path in pages.items()}

    def count_queries(self, benches: dict) -> None:
        """In this process: the statements each B6 and B7 request runs (constant from S to L)."""
        from django.db import connection
        from django.test import Client as TestClient
        from django.test.utils import CaptureQueriesContext

        counts = {}
        for name, variants in benches.items():
            for variant, spec in variants.items():
                if variant == "limit":
                    continue
                path, headers = spec if isinstance(spec, tuple) else (spec, {})
                test = TestClient(HTTP_AUTHORIZATION=f"Token {self.token}", HTTP_HOST=HOST)
                if "Cookie" in headers:
                    test = TestClient(HTTP_HOST=HOST)
                    test.cookies[self.session_cookie] = self.session
                extra = {
                    f"HTTP_{k.upper().replace('-', '_')}": v
                    for k, v in headers.items()
                    if k != "Cookie"
                }
                if "HTTP_IF_NONE_MATCH" in extra:
                    # This client's own tag: the tag digests the URL, host and port included.
                    extra["HTTP_IF_NONE_MATCH"] = test.get(path)["ETag"]
                with CaptureQueriesContext(connection) as queries:
                    response = test.get(path, **extra)
                expected = 304 if name == "B6" else 200
                if response.status_code != expected:
                    raise Failure(f"{name} {variant}: {path} answered {response.status_code}")
                counts[f"{name} {variant}"] = len(queries.captured_queries)
        self.out["queries"] = counts
        log("queries per request: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    def find_cursors(self, client: Client) -> None:
        """Shallow: follow `next` twice from the first page. Deep: encode p=<id> ten pages
        before the last row, as DRF does."""
        link = None
        for _ in range(2):
            path = "/api/v1/status-updates/?page_size=50" + (f"&cursor={link}" if link else "")
            page = json.loads(client.get(path).body)
            link = cursor_of(page["next"])
        self.params["b3"]["shallow_cursor"] = link
        deep = self.params["b3"]["max_id"] - DEEP_PAGES_FROM_END * PAGE_SIZE
        self.params["b3"]["deep_cursor"] = encode_cursor(deep)
        self.params["b3"]["deep_position"] = deep

    def check_same_bytes(self, client: Client, benches: dict) -> None:
        checks = {}
        for name, paths in benches.items():
            real, limit = client.get(paths["real"]), client.get(paths["limit"])
            if real.status != 200 or limit.status != 200 or real.body != limit.body:
                stem = name.replace(" ", "-")
                (VAR / f"mismatch-{stem}-real.json").write_bytes(real.body)
                (VAR / f"mismatch-{stem}-limit.json").write_bytes(limit.body)
                at = next(
                    (
                        i
                        for i, (a, b) in enumerate(zip(real.body, limit.body, strict=False))
                        if a != b
                    ),
                    min(len(real.body), len(limit.body)),
                )
                raise Failure(
                    f"{name}: the limit's bytes differ from the endpoint's (statuses "
                    f"{real.status}/{limit.status}, sizes {len(real.body)}/{len(limit.body)}, "
                    f"first difference at byte {at}: real {real.body[at - 40 : at + 40]!r} "
                    f"limit {limit.body[at - 40 : at + 40]!r}); both kept in {VAR}"
                )
            results = json.loads(real.body)["results"]
            if len(results) != PAGE_SIZE:
                raise Failure(f"{name}: {len(results)} results, not a full page of {PAGE_SIZE}")
            naive = client.get(paths["naive"])
            if naive.status != 200 or len(json.loads(naive.body)["results"]) != PAGE_SIZE:
                raise Failure(f"{name}: the naive peer answered {naive.status} {naive.body[:200]}")
            checks[name] = {"bytes_equal": True, "bytes": len(real.body)}
        self.out["checks"] = checks
        log("byte check: every limit returns the endpoint's exact bytes")

    def check_same_sql(self, benches: dict) -> None:
        """In this process, through Django's test client: the SQL text of endpoint and limit."""
        from django.db import connection
        from django.test import Client as TestClient
        from django.test.utils import CaptureQueriesContext

        test = TestClient(HTTP_AUTHORIZATION=f"Token {self.token}", HTTP_HOST=HOST)
        for name, paths in benches.items():
            captured = {}
            for variant in ("real", "limit"):
                with CaptureQueriesContext(connection) as queries:
                    response = test.get(paths[variant])
                assert response.status_code == 200, (name, variant, response.status_code)
                captured[variant] = [q["sql"] for q in queries.captured_queries]
            same = captured["real"] == captured["limit"]
            check = self.out["checks"][name]
            check.update(sql_identical=same, statements=len(captured["real"]))
            if not same:
                # The limit must send exactly what the endpoint sends, or its figure is the
                # cost of other work: keep both lists and stop.
                stem = name.replace(" ", "-")
                path = VAR / f"sql-mismatch-{stem}.json"
                path.write_text(json.dumps(captured, indent=1))
                pairs = zip(captured["real"], captured["limit"], strict=False)
                first = next(
                    (i for i, (a, b) in enumerate(pairs) if a != b),
                    min(len(captured["real"]), len(captured["limit"])),
                )
                real = captured["real"][first] if first < len(captured["real"]) else "(none)"
                limit = captured["limit"][first] if first < len(captured["limit"]) else "(none)"
                at = next(
                    (i for i, (a, b) in enumerate(zip(real, limit, strict=False)) if a != b),
                    min(len(real), len(limit)),
                )
                raise Failure(
                    f"{name}: the limit's SQL differs from the endpoint's at statement "
                    f"#{first + 1} of {len(captured['real'])} (the limit ran "
                    f"{len(captured['limit'])}), character {at}: real "
                    f"{real[max(0, at - 60) : at + 60]!r} limit "
                    f"{limit[max(0, at - 60) : at + 60]!r}; both lists in {path}"
                )
        log(
            "SQL check: every limit runs the endpoint's statements, text and parameters: "
            + ", ".join(f"{n} ({c['statements']})" for n, c in self.out["checks"].items())
        )

    # B1-B3

    def calibrate(self, monitor, client, benches) -> dict:
        counts = {}
        for name, paths in benches.items():
            for variant, path in paths.items():
                calls = [call_of(client, path) for _ in range(4)]
                warm = batch(monitor, client.port, calls, concurrency=2, timeout=120)
                mean = statistics.mean(warm["latency_ms"]) / 1000
                n = round(self.preset["batch_seconds"] * 2 / max(mean, 1e-4))
                counts[(name, variant)] = max(MIN_REQUESTS, min(MAX_REQUESTS, n))
        return counts

    def reads(self, monitor, client, benches) -> None:
        log("warming up and calibrating batch sizes")
        counts = self.calibrate(monitor, client, benches)
        raw = {name: {variant: [] for variant in paths} for name, paths in benches.items()}
        for round_no in range(self.preset["rounds"]):
            if self.over_budget():
                self.note(f"time budget reached: B1-B3 stopped after {round_no} rounds")
                break
            for name, paths in benches.items():
                variants = list(paths)
                shift = round_no % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    n = counts[(name, variant)]
                    calls = [call_of(client, paths[variant]) for _ in range(n)]
                    result = batch(monitor, client.port, calls, concurrency=2, timeout=120)
                    result["round"] = round_no
                    raw[name][variant].append(result)
            log(f"round {round_no + 1}/{self.preset['rounds']} of B1-B3 done")
        self.out["reads"] = {
            name: {
                "paths": benches[name],
                "variants": {v: summary(rounds) for v, rounds in variants.items()},
                "raw": {v: compact(rounds) for v, rounds in variants.items()},
            }
            for name, variants in raw.items()
        }

    # B4

    def capture_report_sql(self) -> tuple[str, float]:
        """Run the report here once and keep the SQL it ran, for the SQL-alone replay. Runs
        under the app's statement timeout: raises DatabaseError when the report cannot finish
        within it."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from recommendations.reports.status import build_status_report

        since, until = QUARTER
        key = f"{self.args.dataset}{since:%Y%m%d}to{until:%Y%m%d}"
        began = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            build_status_report(since=since, until=until)
        seconds = time.monotonic() - began
        statements = [q["sql"] for q in queries.captured_queries]
        (VAR / f"report-sql-{key}.json").write_text(json.dumps(statements))
        log(f"captured the report's {len(statements)} statements in {seconds:.1f} s")
        self.out.setdefault("b4", {})["sql_statements"] = len(statements) + 1  # + auth
        return key, seconds

    def run_command(self, monitor: Monitor, timeout: float, period=QUARTER) -> dict:
        """`manage.py status_report` as a subprocess: its CPU from its rusage (os.wait4), its
        database backend's from /proc, found by the application_name given in PGAPPNAME."""
        since, until = period
        name = f"bench-cmd-{uuid.uuid4().hex[:8]}"
        env = {**self.env, "PGAPPNAME": name}
        args = [sys.executable, "manage.py", "status_report", "--since", str(since)]
        args += ["--until", str(until), "--format", "json", "--output", "-", "--no-progress"]
        began = time.perf_counter()
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out = {"bytes": 0, "stderr": b"", "backend_ticks": 0, "backend": None}
        done = threading.Event()

        def drain() -> None:
            while chunk := proc.stdout.read(1 << 16):
                out["bytes"] += len(chunk)

        def drain_err() -> None:
            out["stderr"] = proc.stderr.read()[-2000:]

        def watch() -> None:
            stop_at = time.monotonic() + timeout
            while not done.wait(0.02):
                if out["backend"] is None:
                    out["backend"] = monitor.backend_named(name)
                if out["backend"] is not None:
                    ticks = cpu_ticks(out["backend"])
                    if ticks is not None:
                        out["backend_ticks"] = ticks
                if time.monotonic() > stop_at and proc.poll() is None:
                    proc.kill()

        threads = [threading.Thread(target=f) for f in (drain, drain_err, watch)]
        for thread in threads:
            thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        done.set()
        for thread in threads:
            thread.join(timeout=30)
        return {
            "n": 1,
            "wall_s": round(wall, 3),
            "app_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "db_cpu_s": round(out["backend_ticks"] / CLOCK_TICKS, 3),
            "statuses": {f"exit {proc.returncode}": 1},
            "latency_ms": [round(wall * 1000, 1)],
            "bytes": out["bytes"],
            "max_rss_mb": round(usage.ru_maxrss / 1024),
            "stderr_tail": out["stderr"].decode(errors="replace")[-300:] if proc.returncode else "",
        }

    def report(self, monitor, client) -> None:
        since, until = QUARTER
        b4 = self.out.setdefault("b4", {})
        from django.db import DatabaseError

        key, b4_rounds, requests = None, self.preset["b4_rounds"], self.preset["b4_requests"]
        try:
            key, seconds = self.capture_report_sql()
            if seconds > 10:
                b4_rounds, requests = 1, 1
        except DatabaseError as error:
            b4_rounds, requests = 1, 1
            self.note(
                f"B4: the report cannot finish within the app's statement timeout ({error}); "
                "it runs once as deployed, without the SQL-alone replay (--b4-uncapped "
                "measures it without the limits)"
            )
        capped = key is None
        timeout = self.server_timeout + 30
        variants = {
            "real": f"/api/v1/reports/preview/?since={since}&until={until}&file=json",
            "command": None,
        }
        if key:
            variants["limit"] = f"/bench/limit/report-sql/?name={key}"
        raw = {variant: [] for variant in variants}
        for round_no in range(b4_rounds):
            if self.over_budget():
                self.note(f"time budget reached: B4 stopped after {round_no} rounds")
                break
            order = list(variants)
            shift = round_no % len(order)
            for variant in order[shift:] + order[:shift]:
                if variant == "command":
                    result = self.run_command(monitor, timeout)
                else:
                    calls = [client.call("GET", variants[variant]) for _ in range(requests)]
                    if variant == "real":
                        before = worker_memory(monitor)
                        result = self.preview_batch(monitor, client, calls, timeout)
                        time.sleep(1)
                        after = worker_memory(monitor)
                        result["worker_grew_mb"] = max(
                            (after[p][0] - before[p][0] for p in after if p in before), default=0
                        )
                    else:
                        result = batch(monitor, client.port, calls, concurrency=1, timeout=timeout)
                result["round"] = round_no
                raw[variant].append(result)
                log(
                    f"B4 {variant}: {result['statuses']} in {result['wall_s']:.1f} s, "
                    f"CPU app {result['app_cpu_s']:.2f} s + db {result['db_cpu_s']:.2f} s"
                )
        b4.update(
            period={"since": str(since), "until": str(until)},
            capped=capped,
            paths=variants,
            variants={v: summary(rounds) for v, rounds in raw.items()},
            raw={v: compact(rounds) for v, rounds in raw.items()},
        )
        self.report_year(monitor, client, timeout)
        b4["changes_in_period"] = self.sql(
            "SELECT COUNT(*) FROM recommendations_statusupdate WHERE effective_date > %s "
            "AND effective_date <= %s",
            [since, until],
        )[0][0]
        b4["report_bytes"] = max((r.get("bytes", 0) for rs in raw.values() for r in rs), default=0)

    def preview_batch(self, monitor, client, calls: list, timeout: float) -> dict:
        """`batch` of report previews, one at a time. A large preview runs the command in a
        child process (recommendations/reports/preview.py), whose database backend lives and
        dies within the request, out of the monitor's snapshots: it is watched here, by its
        application_name, and its CPU added to the database's."""
        child = {"pids": {}, "current": None}
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.02):
                pid = monitor.backend_named("tracker-report-preview")
                if pid is not None:
                    ticks = cpu_ticks(pid)
                    if ticks is not None:
                        child["pids"][pid] = ticks

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            result = batch(monitor, client.port, calls, concurrency=1, timeout=timeout)
        finally:
            done.set()
            watcher.join(timeout=10)
        result["db_cpu_s"] = round(
            result["db_cpu_s"] + sum(child["pids"].values()) / CLOCK_TICKS, 3
        )
        result["in_child"] = bool(child["pids"])
        return result

    def report_year(self, monitor, client, timeout: float) -> None:
        """A year's report, once as a preview and once as the command: CPU, peak memory, and
        whether the worker that served the preview gives its memory back."""
        since, until = YEAR
        path = f"/api/v1/reports/preview/?since={since}&until={until}&file=json"
        before = worker_memory(monitor)
        preview = self.preview_batch(monitor, client, [client.call("GET", path)], timeout)

        time.sleep(1)
        after = worker_memory(monitor)
        grown = max((after[pid][0] - before[pid][0] for pid in after if pid in before), default=0)
        preview.update(
            worker_peak_mb=max((hwm for _, hwm in after.values()), default=0),
            worker_grew_mb=grown,
        )
        command = self.run_command(monitor, timeout, period=YEAR)
        for name, result in (("preview", preview), ("command", command)):
            log(
                f"B4 year {name}: {result['statuses']} in {result['wall_s']:.1f} s, CPU app "
                f"{result['app_cpu_s']:.2f} s + db {result['db_cpu_s']:.2f} s"
            )
        self.out["b4_year"] = {
            "period": {"since": str(since), "until": str(until)},
            "preview": compact([preview])[0],
            "command": compact([command])[0],
            "preview_body_head": "",
        }
        if not preview["statuses"].get("200"):
            answer = client.get(path)
            self.out["b4_year"]["preview_body_head"] = answer.body[:300].decode(errors="replace")

    # B5

    def writes(self, monitor, client) -> None:
        pillar = self.params["b5"]["pillar"]
        rows = self.sql(
            "SELECT m.id, m.version, (SELECT COUNT(*) FROM recommendations_statusupdate u WHERE "
            "u.measure_id = m.id) FROM recommendations_measure m JOIN recommendations_pillar p "
            "ON p.id = m.pillar_id WHERE p.number = %s AND NOT m.archived ORDER BY m.code",
            [pillar],
        )
        mismatched = [pk for pk, version, count in rows if version != count]
        if mismatched:
            self.note(f"B5: {len(mismatched)} measures start with version != history rows")
        versions = {pk: version for pk, version, _ in rows}
        start_versions = dict(versions)
        ids = [pk for pk, _, _ in rows]
        variants = ["real", "limit", "naive"]
        hot = {v: ids[i] for i, v in enumerate(variants)}
        pools = {v: ids[len(variants) + i :: len(variants)] for i, v in enumerate(variants)}
        today = datetime.now(ZoneInfo(self.env.get("TIME_ZONE", "Asia/Shanghai"))).date()
        prefix = {
            "real": "/api/v1/measures/{}/status-updates/",
            "limit": "/bench/limit/measures/{}/status-updates/",
            "naive": "/bench/naive/measures/{}/status-updates/",
        }
        lock = threading.Lock()
        oks: dict[str, list] = {v: [] for v in variants}
        per_measure: dict[str, Counter] = {v: Counter() for v in variants}
        codes: dict[str, Counter] = {v: Counter() for v in variants}

        def post(variant: str, pk: int, version: int) -> Call:
            body = {
                "status": "in_progress",
                "progress": 50,
                "confidence": "medium",
                "effective_date": str(today),
                "note": f"bench B5 {variant}",
                "evidence": [],
            }
            headers = {
                "Content-Type": "application/json",
                "If-Match": f'"{version}"',
                "Idempotency-Key": uuid.uuid4().hex,
            }
            return client.call("POST", prefix[variant].format(pk), headers, json.dumps(body))

        def record(variant: str, pk: int, result: Result | None, kind: str) -> int | None:
            """Book a response; return the version it tells (None if it tells none)."""
            if result is None:
                return None
            with lock:
                codes[variant][(kind, result.status)] += 1
                if 200 <= result.status < 300:
                    oks[variant].append(json.loads(result.body)["id"])
                    per_measure[variant][pk] += 1
            tag = result.headers.get("ETag", "").strip('"')
            return int(tag) if tag.isdigit() else None

        def hot_batch(variant: str, pk: int, start: int) -> list[Result]:
            """Several careful clients on one measure: each sends If-Match with the version it
            last saw; after a 412 it takes the current version and tries again."""
            results: list[Result] = []
            stop_at = time.monotonic() + 120

            def one_client() -> None:
                version = start
                for _ in range(self.preset["b5_hot_each"]):
                    if time.monotonic() > stop_at:
                        return
                    result = send(HOST, client.port, post(variant, pk, version), 60)
                    told = record(variant, pk, result, "hot")
                    with lock:
                        results.append(result)
                    if told is not None:
                        version = told

            threads = [
                threading.Thread(target=one_client) for _ in range(self.preset["b5_hot_clients"])
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return results

        raw = {v: {"distinct": [], "hot": []} for v in variants}
        cursor = {v: 0 for v in variants}
        n = self.preset["b5_distinct"]
        for round_no in range(self.preset["b5_rounds"]):
            if self.over_budget():
                self.note(f"time budget reached: B5 stopped after {round_no} rounds")
                break
            shift = round_no % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                pool = pools[variant]
                chosen = [pool[(cursor[variant] + i) % len(pool)] for i in range(min(n, len(pool)))]
                cursor[variant] += len(chosen)
                calls = [post(variant, pk, versions[pk]) for pk in chosen]
                before = monitor.snapshot()
                began = time.perf_counter()
                results = run_calls(
                    HOST,
                    client.port,
                    calls,
                    concurrency=2,
                    timeout=60,
                    deadline=time.monotonic() + 120,
                )
                wall = time.perf_counter() - began
                time.sleep(0.05)
                spent = Monitor.delta(before, monitor.snapshot())
                for pk, result in zip(chosen, results, strict=True):
                    version = record(variant, pk, result, "distinct")
                    if version is not None:
                        versions[pk] = version
                entry = summarise_batch(results, wall, spent)
                entry["round"] = round_no
                raw[variant]["distinct"].append(entry)

                pk = hot[variant]
                before = monitor.snapshot()
                began = time.perf_counter()
                results = hot_batch(variant, pk, versions[pk])
                wall = time.perf_counter() - began
                time.sleep(0.05)
                spent = Monitor.delta(before, monitor.snapshot())
                versions[pk] = self.sql(
                    "SELECT version FROM recommendations_measure WHERE id = %s", [pk]
                )[0][0]
                entry = summarise_batch(results, wall, spent)
                entry["round"] = round_no
                raw[variant]["hot"].append(entry)
            log(f"round {round_no + 1}/{self.preset['b5_rounds']} of B5 done")

        verification = {}
        for variant in variants:
            touched = sorted(per_measure[variant])
            db_rows = self.sql(
                "SELECT id FROM recommendations_statusupdate WHERE note = %s",
                [f"bench B5 {variant}"],
            )
            in_db = {row[0] for row in db_rows}
            answered = oks[variant]
            state = self.sql(
                "SELECT m.id, m.version, (SELECT COUNT(*) FROM recommendations_statusupdate u "
                "WHERE u.measure_id = m.id) FROM recommendations_measure m WHERE m.id = ANY(%s)",
                [touched],
            )
            version_rows = [pk for pk, version, count in state if version != count]
            version_bumps = [
                pk
                for pk, version, _ in state
                if version - start_versions[pk] != per_measure[variant][pk]
            ]
            hot_codes = Counter()
            all_codes = Counter()
            for (kind, status), count in codes[variant].items():
                all_codes[str(status)] += count
                if kind == "hot":
                    hot_codes[str(status)] += count
            verification[variant] = {
                "responses": dict(all_codes),
                "hot_responses": dict(hot_codes),
                "2xx": len(answered),
                "rows_written": len(in_db),
                "lost": len(set(answered) - in_db),
                "duplicated": len(in_db - set(answered)) + (len(answered) - len(set(answered))),
                "measures_touched": len(touched),
                "measures_version_not_history_count": len(version_rows),
                "measures_version_not_start_plus_2xx": len(version_bumps),
                "server_errors": sum(c for s, c in all_codes.items() if s.startswith("5")),
                "no_answer": all_codes.get("0", 0),
            }
        self.out["b5"] = {
            "pillar": pillar,
            "hot_measures": hot,
            "pool_sizes": {v: len(p) for v, p in pools.items()},
            "effective_date": str(today),
            "variants": {
                v: {
                    "distinct": summary(raw[v]["distinct"]),
                    "hot": summary(raw[v]["hot"]),
                }
                for v in variants
            },
            "verification": verification,
            "raw": {v: {k: compact(r) for k, r in kinds.items()} for v, kinds in raw.items()},
        }

    # verdicts and output

    def verdicts(self) -> list[dict]:
        """Each target of the benchmark (bench/README.md), MET or MISSED."""
        out = []
        reads = self.out.get("reads", {})

        def cpu(name, variant):
            return reads.get(name, {}).get("variants", {}).get(variant, {}).get("cpu_ms")

        def verdict(target: str, value: str, met: bool) -> None:
            out.append({"target": target, "value": value, "met": bool(met)})

        for name, most in (("B1", 1.75), ("B2", 2.0)):
            real, limit, naive = cpu(name, "real"), cpu(name, "limit"), cpu(name, "naive")
            if real and limit:
                ratio = real / limit
                verdict(
                    f"{name} CPU/request at most {most}x the limit", f"{ratio:.2f}x", ratio <= most
                )
            if real and naive:
                ratio = naive / real
                verdict(
                    f"{name} at least 20x cheaper than the naive peer", f"{ratio:.1f}x", ratio >= 20
                )
        shallow, deep = cpu("B3 shallow", "real"), cpu("B3 deep", "real")
        if shallow and deep:
            spread = abs(deep - shallow) / min(deep, shallow)
            verdict(
                "B3 shallow and deep cursor within 10%",
                f"{shallow:.2f} vs {deep:.2f} ms ({spread:.0%})",
                spread <= 0.1,
            )
        b4 = self.out.get("b4", {}).get("variants", {})
        real, limit = b4.get("real", {}), b4.get("limit", {})
        if real.get("statuses", {}).get("200") and limit.get("cpu_ms"):
            ratio = real["cpu_ms"] / limit["cpu_ms"]
            verdict("B4 quarter preview at most 1.5x its SQL alone", f"{ratio:.2f}x", ratio <= 1.5)
        if real:
            ok = bool(real.get("statuses", {}).get("200"))
            verdict(
                "B4 quarter under 0.3 s of database CPU",
                f"{real['db_cpu_ms'] / 1000:.2f} s db CPU"
                + ("" if ok else f", answered {real.get('statuses')}"),
                ok and real["db_cpu_ms"] < 300,
            )
        year = self.out.get("b4_year")
        if year:
            for name in ("preview", "command"):
                r = year[name]
                ok = bool(r["statuses"].get("200") or r["statuses"].get("exit 0"))
                seconds = r["app_cpu_s"] + r["db_cpu_s"]
                verdict(
                    f"B4 year as {name} under 10 s of CPU",
                    f"{seconds:.1f} s" + ("" if ok else f", answered {r['statuses']}"),
                    ok and seconds < 10,
                )
            peak = {
                "preview": year["preview"].get("worker_peak_mb"),
                "command": year["command"].get("max_rss_mb"),
            }
            verdict(
                "B4 year under 500 MB peak memory (worker / command)",
                f"{peak['preview']:.0f} / {peak['command']:.0f} MB",
                max(peak.values()) < 500,
            )
            quarter = [
                r.get("worker_grew_mb", 0)
                for r in self.out.get("b4", {}).get("raw", {}).get("real", [])
            ]
            grew = max([year["preview"].get("worker_grew_mb", 0), *quarter])
            verdict(
                "B4 a worker within 50 MB of its memory before any preview (quarter, year)",
                f"{grew:+.0f} MB at most",
                grew <= 50,
            )
        b5 = self.out.get("b5", {})
        b5_real = b5.get("variants", {}).get("real", {}).get("distinct", {}).get("cpu_ms")
        b5_limit = b5.get("variants", {}).get("limit", {}).get("distinct", {}).get("cpu_ms")
        if b5_real and b5_limit:
            ratio = b5_real / b5_limit
            verdict("B5 a status update at most 4x the bare SQL", f"{ratio:.2f}x", ratio <= 4)
        checked = b5.get("verification", {}).get("real")
        if checked:
            verdict(
                "B5 zero lost or duplicated updates, version = history",
                f"lost {checked['lost']}, duplicated {checked['duplicated']}, version "
                f"mismatches {checked['measures_version_not_history_count']}"
                f"/{checked['measures_version_not_start_plus_2xx']}",
                checked["lost"] == 0
                and checked["duplicated"] == 0
                and checked["measures_version_not_history_count"] == 0
                and checked["measures_version_not_start_plus_2xx"] == 0,
            )
            verdict(
                "B5 412s on the hot measure, never 5xx",
                f"hot {checked['hot_responses']}, 5xx {checked['server_errors']}",
                checked["hot_responses"].get("412", 0) > 0
                and checked["server_errors"] == 0
                and checked["no_answer"] == 0,
            )
        token = cpu("B6", "limit")
        for variant in ("B1 304", "B2 304", "feed 304"):
            value = cpu("B6", variant)
            if value and token:
                verdict(
                    f"B6 {variant} at most 1.3x the token lookup alone",
                    f"{value / token:.2f}x",
                    value / token <= 1.3,
                )
        for name in [n for n in reads if n.startswith("B7")]:
            value = cpu(name, "real")
            queries = self.out.get("queries", {}).get(f"{name} real")
            if value:
                verdict(
                    f"{name} under 300 ms of server CPU",
                    f"{value:.0f} ms, {queries} queries",
                    value < 300,
                )
        return out

    def machine(self) -> dict:
        model = ""
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        import django
        import gunicorn
        import rest_framework

        pg = dict(
            self.sql(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather', "
                "'effective_cache_size', 'random_page_cost', 'statement_timeout', 'lock_timeout')"
            )
        )
        return {
            "cpu": model,
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "postgresql": self.sql("SHOW server_version")[0][0],
            "django": django.__version__,
            "djangorestframework": rest_framework.__version__,
            "gunicorn": gunicorn.__version__,
            "git_commit": commit,
            "app_source": self.source_at_start,
            "load_average_at_start": os.getloadavg(),
            "postgresql_settings_of_app_connections": pg,
        }

    def settings(self) -> dict:
        shown = {
            key: value
            for key, value in self.env.items()
            if key.startswith(("DB_", "API_", "SECURE_"))
            or key in {"DEBUG", "CACHE_URL", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS"}
        }
        return {
            "environment": shown,
            "gunicorn": self.server.args[1:],
            "client": "Python http.client, a new connection per request (sync workers close "
            "it), 2 concurrent clients for reads and distinct writes, "
            f"{self.preset['b5_hot_clients']} on the hot measure",
            "preset": self.preset,
            "parallel_query": "off for the app's connections (bench/settings.py)",
        }

    def execute(self) -> int:
        self.source_at_start = app_source()
        self.setup()
        self.server_timeout = 900 if self.args.b4_uncapped else 30
        self.server = Server(
            self.env,
            workers=self.args.workers,
            timeout=self.server_timeout,
            log_path=VAR / f"gunicorn-{self.args.dataset}.log",
        )
        self.out["machine"] = self.machine()
        self.server.start()
        monitor = None
        try:
            client = Client(self.server.port, self.token)
            wait_ready(client, self.server)
            self.out["settings"] = self.settings()
            monitor = Monitor(master=self.server.proc.pid, database=self.db, conninfo=self.info)
            only = set(self.args.only.split(",")) if self.args.only else None
            if not only or only & {"B1", "B2", "B3", "B6", "B7"}:
                self.find_cursors(client)
                every = self.read_benches()
                benches = {k: v for k, v in every.items() if not only or k.split()[0] in only}
                self.check_same_bytes(client, benches)
                self.check_same_sql(benches)
                extra = {}
                if not only or "B6" in only:
                    extra.update(self.conditional_benches(client, every))
                if not only or "B7" in only:
                    extra.update(self.admin_benches())
                self.count_queries(extra)
                self.reads(monitor, client, {**benches, **extra})
            if not only or "B4" in only:
                self.report(monitor, client)
            if not only or "B5" in only:
                self.writes(monitor, client)
        finally:
            if monitor:
                monitor.close()
            self.server.stop()
            from django.db import connections

            connections.close_all()
            if not self.args.keep_db:
                dataset.drop(self.db, info=self.info)
        self.out["machine"]["load_average_at_end"] = os.getloadavg()
        if app_source() != self.source_at_start:
            self.note(
                "THE APP'S SOURCE CHANGED DURING THE RUN: its figures mix code versions "
                f"(newest file now {app_source()['newest_file']})"
            )
        self.out["verdicts"] = self.verdicts()
        self.out["seconds"] = round(time.monotonic() - self.began, 1)
        self.out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        text = table(self.out)
        print(text)
        suffix = f"-only-{self.args.only.replace(',', '')}" if self.args.only else ""
        if self.args.b4_uncapped:
            suffix = "-b4-uncapped"
        if self.args.default_settings:
            suffix += "-default-settings"
        path = RESULTS / f"{self.args.dataset}{suffix}.json"
        path.write_text(json.dumps(self.out, indent=1, default=str) + "\n")
        (RESULTS / f"{self.args.dataset}{suffix}.txt").write_text(text + "\n")
        log(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")
        return 0


# --- the table ------------------------------------------------------------------------------


def fmt(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(out: dict) -> str:
    lines = []
    machine = out.get("machine", {})
    db = out.get("database", {})
    lines.append(
        f"dataset {out['dataset']}: {db.get('measures')} measures, {db.get('status_updates')} "
        f"status updates ({db.get('size')}); {machine.get('cpu')} x{machine.get('cores')}, "
        f"PostgreSQL {machine.get('postgresql')}, commit {machine.get('git_commit', '')[:10]}"
    )
    header = (
        f"{'bench':<11} {'variant':<8} {'n':>4} {'CPU ms/req':>11} {'(app':>9} {'+ db)':>8} "
        f"{'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'x limit':>8} {'naive/x':>8}  statuses"
    )
    lines += ["", header, "-" * len(header)]

    def rows(name: str, variants: dict, label=None) -> None:
        limit = variants.get("limit", {}).get("cpu_ms")
        real = variants.get("real", {}).get("cpu_ms")
        for variant, s in variants.items():
            if not s:
                continue
            ratio = s["cpu_ms"] / limit if limit else None
            naive = s["cpu_ms"] / real if variant == "naive" and real else None
            lines.append(
                f"{label or name:<11} {variant:<8} {s['requests_per_round']:>4} "
                f"{fmt(s['cpu_ms']):>11} {fmt(s['app_cpu_ms']):>9} {fmt(s['db_cpu_ms']):>8} "
                f"{fmt(s['rps'], '.1f'):>8} {fmt(s['p50_ms'], '.1f'):>9} "
                f"{fmt(s['p99_ms'], '.1f'):>9} {fmt(ratio, '.2f') + 'x':>8} "
                f"{(fmt(naive, '.1f') + 'x') if naive else '':>8}  "
                f"{','.join(f'{k}:{v}' for k, v in sorted(s['statuses'].items()))}"
            )

    for name, bench in out.get("reads", {}).items():
        rows(name, bench["variants"])
    b4 = out.get("b4")
    if b4:
        rows("B4", b4["variants"])
    year = out.get("b4_year")
    if year:
        for name in ("preview", "command"):
            r = year[name]
            memory = (
                f"worker peak {r.get('worker_peak_mb', 0):.0f} MB, then "
                f"{r.get('worker_grew_mb', 0):+.0f} MB"
                if name == "preview"
                else f"peak {r.get('max_rss_mb', 0)} MB"
            )
            lines.append(
                f"{'B4 year':<11} {name:<8} {1:>4} "
                f"{fmt((r['app_cpu_s'] + r['db_cpu_s']) * 1000):>11} "
                f"{fmt(r['app_cpu_s'] * 1000):>9} {fmt(r['db_cpu_s'] * 1000):>8}  "
                f"{r['wall_s']:.1f} s, {r.get('bytes', 0) // 1024} KB, {memory}, "
                f"{','.join(f'{k}:{v}' for k, v in sorted(r['statuses'].items()))}"
            )
    b5 = out.get("b5")
    if b5:
        for kind in ("distinct", "hot"):
            rows(f"B5 {kind}", {v: s[kind] for v, s in b5["variants"].items()})
    lines.append("")
    lines.append(
        "CPU = gunicorn workers + PostgreSQL backends (/proc utime+stime), per request, median "
        "of rounds; req/s median of rounds; p50/p99 over all rounds' requests. x limit = CPU "
        "/ the limit's; naive/x = the naive peer's CPU / the real endpoint's."
    )
    if b5:
        lines.append("")
        for variant, v in b5["verification"].items():
            lines.append(
                f"B5 {variant:<6} 2xx {v['2xx']}, rows {v['rows_written']}, lost {v['lost']}, "
                f"duplicated {v['duplicated']}, version != history on "
                f"{v['measures_version_not_history_count']}/{v['measures_touched']} measures, "
                f"responses {v['responses']} (hot {v['hot_responses']})"
            )
    if out.get("queries"):
        lines.append("")
        lines.append(
            "queries per request: " + ", ".join(f"{k} {v}" for k, v in out["queries"].items())
        )
    if out.get("verdicts"):
        lines.append("")
        for verdict in out["verdicts"]:
            mark = "MET   " if verdict["met"] else "MISSED"
            lines.append(f"{mark} {verdict['target']}: {verdict['value']}")
    for note in out.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(PRESETS), default="S")
    parser.add_argument("--rounds", type=int, help="rounds of B1-B3 (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--only", help="comma-separated subset: B1,B2,B3,B4,B5,B6,B7")
    parser.add_argument(
        "--b4-uncapped",
        action="store_true",
        help="B4 with no statement timeout and a 900 s worker timeout, to measure a report "
        "that the deployed limits cut off (at the baseline: about 9 minutes at M)",
    )
    parser.add_argument(
        "--default-settings",
        action="store_true",
        help="serve with the deployment's default CACHE_URL (db://) rather than locmem://: "
        "what throttling costs a deployment without Redis",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the run's database copy")
    parser.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    args = parser.parse_args(argv)
    try:
        return Run(args).execute()
    except Failure as failure:
        print(f"BENCH FAILED: {failure}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
