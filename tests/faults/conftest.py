"""Harness of the fault scenarios: a throwaway PostgreSQL database with the seed and API tokens,
the real app served by gunicorn on a free loopback port, a load generator of careful
integrations, and the checks that nothing was lost, duplicated or left half-written.

Every wait and every loop here is bounded in count and in time. Figures of each scenario go to
var/reliability.json at the end of the session.
"""

import http.client
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from recommendations.roles import ANALYST
from tests.serving import (
    ROOT,
    AppServer,
    Database,
    app_environment,
    children_of,
    create_users,
    gunicorn_command,
    seeded_database,
)

SUMMARY_PATH = ROOT / "var" / "reliability.json"
# Scenario name -> its figures; written to SUMMARY_PATH and printed at the end of the session.
SUMMARY: dict = {}

WORKERS = 2
ANALYST_USER, ADMIN_USER = "faults-analyst", "faults-admin"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "faults: fault injection against gunicorn and PostgreSQL (pytest -m faults)"
    )


def pytest_collection_modifyitems(config, items):
    # Opt-in: they restart PostgreSQL and kill processes, which a plain `pytest` run on a
    # shared database should never do by surprise.
    if "faults" in (config.getoption("markexpr") or ""):
        return
    opt_in = pytest.mark.skip(reason="Fault scenarios run only when selected: pytest -m faults")
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(opt_in)


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.write_sep("=", f"reliability figures ({SUMMARY_PATH})")
        terminalreporter.write_line(json.dumps(summary_document(), indent=2))


def summary_document() -> dict:
    scenarios = dict(sorted(SUMMARY.items()))
    totals = Counter()
    for figures in scenarios.values():
        for name in ("requests", "faults_injected", "rows_written", "rows_lost", "duplicates"):
            totals[name] += figures.get(name, 0)
        totals["server_errors"] += figures.get("server_errors", 0)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "PostgreSQL",
        "app_servers": f"gunicorn, {WORKERS} sync workers each",
        "cpus": os.cpu_count(),
        "totals": dict(totals),
        "scenarios": scenarios,
    }


@pytest.fixture(scope="session")
def reliability_summary():
    """Figures of each scenario, written to var/reliability.json when the session ends."""
    yield SUMMARY
    if SUMMARY:
        SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY_PATH.write_text(json.dumps(summary_document(), indent=2) + "\n")


# The database


def ensure_cluster_running(database: Database, command: list[str] | None = None) -> None:
    """Leave the PostgreSQL cluster running, whatever a scenario did to it: start it with
    `command` (pg_ctlcluster ... VERSION NAME) if it does not answer within 20 s."""
    if database.wait_until_up(20) or command is None:
        return
    subprocess.run([*command, "start"], capture_output=True, timeout=60, check=False)
    database.wait_until_up(30)


@dataclass
class App:
    """The throwaway database with the seed, and the API tokens of its users."""

    database: Database
    tokens: dict
    measures: list  # ids of the measures that take updates (not archived)

    @property
    def analyst_token(self) -> str:
        return self.tokens[ANALYST_USER]

    @property
    def admin_token(self) -> str:
        return self.tokens[ADMIN_USER]


@pytest.fixture(scope="session")
def app(reliability_summary):
    """A database of its own (dropped at the end, even on failure), migrated and seeded, with
    an analyst and a superuser and their API tokens."""
    if connection.vendor != "postgresql":
        pytest.skip("Fault scenarios need PostgreSQL (DATABASE_URL=postgres://...)")
    database = seeded_database(f"tracker_faults_{os.getpid()}", Path(tempfile.gettempdir()))
    maintenance = Database("postgres")
    try:
        environment = app_environment(database.url)
        tokens = create_users(environment, {ANALYST_USER: ANALYST, ADMIN_USER: None})
        measures = [
            row[0]
            for row in database.rows(
                "SELECT id FROM recommendations_measure WHERE NOT archived ORDER BY id"
            )
        ]
        yield App(database=database, tokens=tokens, measures=measures)
    finally:
        cluster = local_cluster(maintenance)
        ensure_cluster_running(
            maintenance, cluster and ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster]
        )
        maintenance.rows(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


# HTTP


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer (connection refused, reset, timed out)
    headers: dict = field(default_factory=dict)
    body: object = None
    error: str = ""

    @property
    def code(self) -> str:
        return str(self.status) if self.status is not None else "connection_error"


KEPT_HEADERS = ("etag", "retry-after", "idempotent-replayed", "content-type")


def call(
    port: int,
    method: str,
    path: str,
    token: str,
    body: dict | None = None,
    headers: dict | None = None,
    timeout: float = 5,
) -> Answer:
    """One HTTP request to 127.0.0.1:`port`, on a connection of its own."""
    payload = json.dumps(body).encode() if body is not None else None
    sent = {"Authorization": f"Token {token}", "Accept": "application/json", **(headers or {})}
    if payload is not None:
        sent["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        kept = {h: response.headers[h] for h in KEPT_HEADERS if response.headers.get(h)}
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw[:500].decode(errors="replace")
        return Answer(response.status, kept, data)
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, error=f"{type(error).__name__}: {error}")
    finally:
        conn.close()


# Servers


class Server(AppServer):
    """gunicorn serving config.wsgi with WORKERS workers on a free loopback port, with the
    app's production-like settings and `env` in its environment."""

    def __init__(self, app: App, log: Path, **env: str):
        super().__init__(
            lambda port: gunicorn_command(port, WORKERS),
            app_environment(app.database.url, **env),
            log,
        )
        self.app = app

    def call(self, method: str, path: str, token: str, **kwargs) -> Answer:
        return call(self.port, method, path, token, **kwargs)

    def get(self, path: str, token: str | None = None, timeout: float = 5) -> Answer:
        return call(self.port, "GET", path, token or self.app.analyst_token, timeout=timeout)

    def wait_until_serving(self, seconds: float = 30) -> Answer:
        """The first answer that is not a server error or a refused connection."""
        deadline = time.monotonic() + seconds
        answer = Answer(None, error="not tried")
        while time.monotonic() < deadline and self.process.poll() is None:
            answer = self.get("/api/v1/scenarios/", timeout=3)
            if answer.status is not None and answer.status < 500:
                return answer
            time.sleep(0.2)
        return answer

    def workers(self, count: int = WORKERS, seconds: float = 15) -> list[int]:
        """The worker pids, once `count` of them are up (fewer if they never are)."""
        deadline = time.monotonic() + seconds
        pids = children_of(self.process.pid)
        while len(pids) < count and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = children_of(self.process.pid)
        return pids


@pytest.fixture
def start_servers(app, tmp_path):
    """start_servers(count=1, **env) starts `count` gunicorn instances with extra settings and
    returns them once each answers; all are stopped after the test."""
    started: list[Server] = []

    def start(count: int = 1, **env: str) -> list[Server]:
        servers = [
            Server(app, tmp_path / f"gunicorn-{len(started) + n}.log", **env).start()
            for n in range(count)
        ]
        started.extend(servers)
        for server in servers:
            answer = server.wait_until_serving()
            assert answer.status in {200, 429}, (
                f"gunicorn on port {server.port} did not come up: {answer}\n"
                + server.log.read_text(errors="replace")[-3000:]
            )
        return servers

    yield start
    for server in started:
        server.stop()


# Load


@dataclass
class Request:
    client: int
    key: str
    method: str
    path: str
    at: float  # seconds since the load started
    faults_before: int  # faults injected before it was sent
    answer: Answer

    def describe(self, faults: list[tuple[float, str]]) -> str:
        detail = self.answer.body if self.answer.status is not None else self.answer.error
        if self.faults_before:
            at, fault = faults[self.faults_before - 1]
            phase = f"{self.at - at:.2f}s after fault {self.faults_before} ({fault})"
        else:
            phase = "before the first fault"
        return (
            f"{self.method} {self.path} (client {self.client}, Idempotency-Key {self.key or '-'}) "
            f"sent at {self.at:.2f}s, {phase}: {self.answer.code} {detail}"
        )


@dataclass
class Write:
    """One status update an integration wants recorded, with all its attempts' outcome."""

    client: int
    key: str
    measure: int
    outcome: str = "gave_up"  # the final HTTP status, or gave_up
    created: int | None = None
    attempts: int = 0


class Load:
    """Integrations recording status updates as careful ones do: read the measure's ETag,
    POST with If-Match and an Idempotency-Key; on a connection error, 409 or 503 send the SAME
    request again (a bounded number of times); on 412 read again and start a new update."""

    ATTEMPTS = 12

    def __init__(self, server: Server, *, clients: int = 6, seconds: float = 15):
        self.server = server
        self.token = server.app.analyst_token
        self.measures = server.app.measures
        self.clients = clients
        self.started = time.monotonic()
        self.deadline = self.started + seconds  # nothing is sent after this
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.writes: list[Write] = []
        self.faults: list[tuple[float, str]] = []
        self.threads = [
            threading.Thread(target=self.integration, args=(n,), daemon=True)
            for n in range(clients)
        ]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=max(0.1, self.deadline - time.monotonic()) + 17)

    @property
    def finished(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def fault(self, description: str) -> None:
        with self.lock:
            self.faults.append((time.monotonic() - self.started, description))

    def send(self, client: int, key: str, method: str, path: str, **kwargs) -> Answer:
        with self.lock:
            at, faults = time.monotonic() - self.started, len(self.faults)
        answer = call(self.server.port, method, path, self.token, **kwargs)
        with self.lock:
            self.requests.append(Request(client, key, method, path, at, faults, answer))
        return answer

    def integration(self, client: int) -> None:
        rng = random.Random(client)
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            self.write(client, rng)

    def backoff(self, answer: Answer, attempt: int) -> None:
        retry_after = answer.headers.get("retry-after", "")
        wait = float(retry_after) if retry_after.isdigit() else 0.1 * attempt
        time.sleep(min(wait, 1.0))

    def read_etag(self, client: int, path: str) -> str | None:
        for attempt in range(1, self.ATTEMPTS + 1):
            if time.monotonic() > self.deadline:
                return None
            answer = self.send(client, "", "GET", path)
            if answer.status == 200:
                return answer.headers["etag"]
            self.backoff(answer, attempt)
        return None

    def write(self, client: int, rng: random.Random) -> None:
        measure = rng.choice(self.measures)
        etag = self.read_etag(client, f"/api/v1/measures/{measure}/")
        if etag is None:
            return
        write = Write(client=client, key=uuid.uuid4().hex, measure=measure)
        span = (date.today() - date(2025, 5, 1)).days - 1
        body = {
            "status": "in_progress",
            "progress": rng.randint(1, 99),
            "effective_date": (date(2025, 5, 1) + timedelta(rng.randint(0, span))).isoformat(),
            "confidence": "medium",
            "note": f"load {write.key}",
        }
        headers = {"If-Match": etag, "Idempotency-Key": write.key}
        path = f"/api/v1/measures/{measure}/status-updates/"
        with self.lock:
            self.writes.append(write)
        for attempt in range(1, self.ATTEMPTS + 1):
            if time.monotonic() > self.deadline + 10:  # finishing a write may overrun a little
                return
            write.attempts = attempt
            answer = self.send(client, write.key, "POST", path, body=body, headers=headers)
            if answer.status is None or answer.status in {409, 503}:
                self.backoff(answer, attempt)
                continue
            write.outcome = answer.code
            if answer.status == 201:
                write.created = answer.body["id"]
            return


# Checks


# Measures whose version is not their number of history entries, or whose stored state is not
# their latest entry (latest effective date, then latest recorded, then highest id).
STATE_DISAGREEMENTS = """
SELECT m.id, m.code, m.version, history.entries,
       m.status, m.progress, m.status_effective_date,
       latest.status, latest.progress, latest.effective_date
FROM recommendations_measure m
CROSS JOIN LATERAL (
    SELECT count(*) AS entries FROM recommendations_statusupdate s WHERE s.measure_id = m.id
) history
LEFT JOIN LATERAL (
    SELECT s.status, s.progress, s.effective_date FROM recommendations_statusupdate s
    WHERE s.measure_id = m.id
    ORDER BY s.effective_date DESC, s.recorded_at DESC, s.id DESC LIMIT 1
) latest ON TRUE
WHERE m.version <> history.entries
   OR (m.status, m.progress, m.status_effective_date)
      IS DISTINCT FROM (latest.status, latest.progress, latest.effective_date)
"""


@dataclass
class Verdict:
    """What a scenario left behind, from the clients' answers and the database."""

    server_errors: list[str]
    unexplained_503: list[str]
    disagreements: list[tuple]
    lost: list[str]
    duplicates: dict
    mismatched_keys: list[tuple]
    rows_without_key: list[int]
    unacknowledged: list[str]
    rows_written: int
    figures: dict


def verify(load: Load, name: str) -> Verdict:
    """Check the answers and the database after `load`, and record the scenario's figures."""
    database = load.server.app.database
    keys = [write.key for write in load.writes]
    server_errors = [
        r.describe(load.faults)
        for r in load.requests
        if r.answer.status is not None and r.answer.status >= 500 and r.answer.status != 503
    ]
    unexplained_503 = [
        r.describe(load.faults)
        for r in load.requests
        if r.answer.status == 503 and "retry-after" not in r.answer.headers
    ]
    rows = database.rows(
        "SELECT id, note FROM recommendations_statusupdate WHERE note = ANY(%s)",
        [[f"load {key}" for key in keys]],
    )
    by_key: dict[str, list[int]] = {}
    for pk, note in rows:
        by_key.setdefault(note.removeprefix("load "), []).append(pk)
    acknowledged = [write for write in load.writes if write.outcome == "201"]
    lost = [
        f"{w.key}: 201 with id {w.created}, rows {by_key.get(w.key, [])}"
        for w in acknowledged
        if by_key.get(w.key) != [w.created]
    ]
    duplicates = {key: pks for key, pks in by_key.items() if len(pks) > 1}
    # Each row and its key's remembered response commit together: a row whose key does not
    # name it would be written again by a retry.
    remembered = {
        key: (status, int(pk) if pk else None)
        for key, status, pk in database.rows(
            "SELECT key, response_status, response_body->>'id' "
            "FROM recommendations_idempotencykey WHERE key = ANY(%s)",
            [keys],
        )
    }
    mismatched_keys = [
        (key, remembered[key], by_key.get(key))
        for key in remembered
        if remembered[key][0] is not None and [remembered[key][1]] != by_key.get(key)
    ]
    rows_without_key = [
        pk for key, pks in by_key.items() for pk in pks if remembered.get(key, (None,))[0] != 201
    ]
    unacknowledged = [
        f"{w.key} ({w.outcome} after {w.attempts} attempts): rows {by_key[w.key]}"
        for w in load.writes
        if w.outcome != "201" and w.key in by_key
    ]
    disagreements = database.rows(STATE_DISAGREEMENTS)
    codes = Counter(r.answer.code for r in load.requests)
    replays = sum(1 for r in load.requests if "idempotent-replayed" in r.answer.headers)
    # Why each 409 and 503 said to retry.
    retry_reasons = Counter(
        f"{r.answer.status} {r.answer.body.get('detail')}"
        for r in load.requests
        if r.answer.status in {409, 503} and isinstance(r.answer.body, dict)
    )
    outcomes = Counter(write.outcome for write in load.writes)
    figures = {
        "requests": len(load.requests),
        "by_status": dict(sorted(codes.items())),
        "faults_injected": len(load.faults),
        "faults": [f"{at:.2f}s {description}" for at, description in load.faults],
        "writes_attempted": len(load.writes),
        "writes_by_outcome": dict(sorted(outcomes.items())),
        "rows_written": len(rows),
        "rows_acknowledged": len(acknowledged),
        "acknowledged_by_replay": replays,
        "retry_reasons": dict(sorted(retry_reasons.items())),
        "rows_lost": len(lost),
        "duplicates": sum(len(pks) - 1 for pks in duplicates.values()),
        "rows_written_but_unacknowledged": len(unacknowledged),
        "server_errors": len(server_errors),
        "state_disagreements": len(disagreements),
        "seconds": round(time.monotonic() - load.started, 1),
    }
    SUMMARY[name] = figures
    return Verdict(
        server_errors=server_errors,
        unexplained_503=unexplained_503,
        disagreements=disagreements,
        lost=lost,
        duplicates=duplicates,
        mismatched_keys=mismatched_keys,
        rows_without_key=rows_without_key,
        unacknowledged=unacknowledged,
        rows_written=len(rows),
        figures=figures,
    )


@pytest.fixture
def start_load():
    """start_load(server, clients=6, seconds=15): a Load to use as a context manager."""
    return Load


def local_cluster(database: Database) -> list[str] | None:
    """[version, name] of the Debian-style cluster (pg_lsclusters) that serves `database`, if
    it runs on this machine and we may restart it (as root or as its owner)."""
    if database.params["host"] not in {"127.0.0.1", "localhost", "::1"}:
        return None
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return None
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30, check=False
    )
    for line in listing.stdout.splitlines():
        version, name, port, _status, owner, *_ = line.split()
        if int(port) == int(database.params["port"]):
            may = os.geteuid() == 0 or owner == os.environ.get("USER")
            return [version, name] if may else None
    return None


@pytest.fixture
def restart_postgres(app):
    """restart_postgres() restarts the cluster (pg_ctlcluster ... restart, fast mode) and
    returns (its result, seconds until the database accepted connections again, or None if it
    never did). The cluster is left running after the test whatever happens."""
    cluster = local_cluster(app.database)
    if cluster is None:
        pytest.skip("Restarting PostgreSQL needs its cluster on this machine and pg_ctlcluster")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster]

    def restart() -> tuple[subprocess.CompletedProcess, float | None]:
        started = time.monotonic()
        result = subprocess.run(
            [*command, "restart"], capture_output=True, text=True, timeout=90, check=False
        )
        up = app.database.wait_until_up(30)
        return result, (round(time.monotonic() - started, 2) if up else None)

    yield restart
    ensure_cluster_running(Database("postgres"), command)


def serves_again(server: Server, seconds: float = 10) -> Answer:
    """The first 200 for a measure within `seconds` (or the last answer)."""
    deadline = time.monotonic() + seconds
    answer = Answer(None, error="not tried")
    while time.monotonic() < deadline:
        answer = server.get(f"/api/v1/measures/{server.app.measures[0]}/", timeout=3)
        if answer.status == 200:
            break
        time.sleep(0.2)
    return answer


@pytest.fixture
def check_after_faults():
    """check_after_faults(load, server, name): the assertions every fault scenario ends with."""

    def check(load: Load, server: Server, name: str) -> Verdict:
        assert load.finished, "an integration is still running after the load's deadline"
        master = server.process.pid
        verdict = verify(load, name)
        answer = serves_again(server)

        assert not verdict.server_errors, "server errors other than 503:\n" + "\n".join(
            verdict.server_errors + server.server_errors()
        )
        assert not verdict.unexplained_503, "503 without Retry-After:\n" + "\n".join(
            verdict.unexplained_503
        )
        assert verdict.lost == [], "acknowledged writes that are not exactly one row"
        assert verdict.duplicates == {}, "one Idempotency-Key, several rows"
        assert verdict.mismatched_keys == [], "a key's remembered response names another row"
        assert verdict.rows_without_key == [], "rows whose key remembers no response"
        assert verdict.disagreements == [], "stored state or version disagrees with history"
        assert verdict.figures["rows_acknowledged"] > 0, "no write got through at all"
        assert answer.status == 200, f"the app does not serve again: {answer}"
        assert server.running and server.process.pid == master, "gunicorn had to be restarted"
        return verdict

    return check
