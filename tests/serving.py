"""The real app served for tests, shared by tests/faults, tests/served and tests/browser: a
throwaway database (PostgreSQL or a SQLite file), the manage.py commands that prepare it, and
an app server (gunicorn or runserver) on a free loopback port, each in an environment of its
own.

Every wait here is bounded in count and in time, and a server is stopped through its own
process group only.
"""

import fcntl
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# Settings the outer environment may hold that would change the app under test.
APP_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CACHE_URL",
    "LOG_LEVEL",
    "IDEMPOTENCY_KEY_TTL_HOURS",
    "BEHIND_TLS_PROXY",
    "CSRF_TRUSTED_ORIGINS",
}
APP_SETTING_PREFIXES = ("DB_", "API_", "SECURE_", "REPORT_")


# The database


class Database:
    """A PostgreSQL database reached with psycopg; each call opens a short connection of its
    own, so that a restart of the server between calls does no harm."""

    def __init__(self, name: str):
        database = settings.DATABASES["default"]
        self.name = name
        self.params = {
            "host": database.get("HOST") or "127.0.0.1",
            "port": database.get("PORT") or 5432,
            "user": database.get("USER") or "postgres",
            "password": database.get("PASSWORD") or None,
            "connect_timeout": 5,
        }
        self.url = urlsplit(settings.DATABASE_URL)._replace(path=f"/{name}").geturl()

    def connect(self, *, autocommit: bool = True, dbname: str | None = None):
        import psycopg

        return psycopg.connect(dbname=dbname or self.name, autocommit=autocommit, **self.params)

    def rows(self, sql: str, params=None) -> list[tuple]:
        with self.connect() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def value(self, sql: str, params=None):
        return self.rows(sql, params)[0][0]

    def accepts_connections(self) -> bool:
        try:
            self.value("SELECT 1")
        except Exception:
            return False
        return True

    def wait_until_up(self, seconds: float = 30) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.accepts_connections():
                return True
            time.sleep(0.2)
        return False

    def create(self) -> "Database":
        """Create it afresh (dropping a leftover of the same name)."""
        maintenance = Database("postgres")
        maintenance.rows(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        maintenance.rows(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        Database("postgres").rows(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class SQLiteDatabase:
    """A SQLite file, with the same queries as Database (%s placeholders); its folder, a
    temporary one, takes it away."""

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    def rows(self, sql: str, params=()) -> list[tuple]:
        conn = sqlite3.connect(self.path, timeout=20)
        try:
            with conn:
                return conn.execute(sql.replace("%s", "?"), params or ()).fetchall()
        finally:
            conn.close()

    def value(self, sql: str, params=()):
        return self.rows(sql, params)[0][0]

    def drop(self) -> None:
        pass


def throwaway_database(name: str, folder: Path) -> Database | SQLiteDatabase:
    """A fresh PostgreSQL database `name` when the tests run on PostgreSQL, else a SQLite file
    in `folder`; drop() it at the end."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return Database(name).create()
    return SQLiteDatabase(folder / "db.sqlite3")


def seeded_database(name: str, folder: Path) -> Database | SQLiteDatabase:
    """throwaway_database(name, folder) holding what `make run`'s migrate and load_seed leave,
    copied from a template made once per test run (PostgreSQL: CREATE DATABASE ... TEMPLATE;
    SQLite: a copy of the file) instead of migrated and seeded again: each took 20 s or more
    on PostgreSQL. The first pytest-xdist worker to need it makes it; the others wait on a
    file lock."""
    postgresql = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:16]
    shared = Path(tempfile.gettempdir()) / f"tracker-template-{run}"
    if not shared.exists():
        _remove_old_template_folders()
    shared.mkdir(exist_ok=True)
    made = shared / "made"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if postgresql:
                template = Database(f"tracker_template_{run}")
                if not made.exists():
                    _drop_old_templates(keep=template.name)
                    _migrate_and_seed(template.create().url)
                    made.touch()
                maintenance = Database("postgres")
                maintenance.rows(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                maintenance.rows(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"')
                return Database(name)
            template = shared / "db.sqlite3"
            if not made.exists():
                _migrate_and_seed(SQLiteDatabase(template).url)
                made.touch()
            shutil.copyfile(template, folder / "db.sqlite3")
            return SQLiteDatabase(folder / "db.sqlite3")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_old_template_folders(days: float = 1) -> None:
    """Earlier runs' template folders (a SQLite template and a lock), a day after."""
    old = time.time() - days * 86400
    for folder in Path(tempfile.gettempdir()).glob("tracker-template-*"):
        if folder.stat().st_mtime < old:
            shutil.rmtree(folder, ignore_errors=True)


def _migrate_and_seed(url: str) -> None:
    environment = development_environment(url)
    manage(environment, "migrate", "--noinput")
    manage(environment, "load_seed")


def _drop_old_templates(keep: str) -> None:
    """Earlier runs' templates, unless one is in use (a run still going)."""
    maintenance = Database("postgres")
    names = maintenance.rows(
        "SELECT datname FROM pg_database WHERE datname LIKE 'tracker\\_template\\_%%'"
        " AND datname <> %s",
        [keep],
    )
    for (old,) in names:
        try:
            maintenance.rows(f'DROP DATABASE IF EXISTS "{old}"')
        except Exception:  # in use by a run still going: the next run drops it
            continue


# Environments and commands


def clean_environment(**extra: str) -> dict:
    """This process's environment without any of the app's settings (pytest-env sets some for
    the in-process tests), plus `extra`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in APP_SETTINGS and not name.startswith(APP_SETTING_PREFIXES)
    }
    environment.update(PYTHONUNBUFFERED="1", **extra)
    return environment


def development_environment(database_url: str) -> dict:
    """The environment of `make run`: DEBUG=1, the given database, every other setting at its
    default."""
    return clean_environment(DEBUG="1", DATABASE_URL=database_url)


def app_environment(database_url: str, **extra: str) -> dict:
    """The environment of a production-like app: no DEBUG, a random key, the shared cache in
    the database, and throttling high enough for a load test unless `extra` says otherwise."""
    environment = clean_environment(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url,
        CACHE_URL="db://",
        API_THROTTLE_USER="100000/minute",
        LOG_LEVEL="WARNING",
    )
    environment.update(extra)
    return environment


def manage(environment: dict, *args: str, timeout: float = 180) -> str:
    """The standard output of `manage.py *args` run in `environment`; fails the test, with its
    output, if the command fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def create_users(environment: dict, users: dict[str, str | None]) -> dict[str, str]:
    """Create each user (username → its group, or None for a superuser) and return their API
    tokens, made by `manage.py create_api_token` as an administrator would."""
    script = "from django.contrib.auth.models import Group, User\n" + "".join(
        (
            f"user = User.objects.create_user({name!r}, password=None, is_staff=True)\n"
            f"user.groups.add(Group.objects.get(name={group!r}))\n"
        )
        if group
        else f"User.objects.create_superuser({name!r}, email='', password=None)\n"
        for name, group in users.items()
    )
    manage(environment, "shell", "-c", script)
    return {
        name: manage(environment, "create_api_token", name).strip().splitlines()[-1]
        for name in users
    }


# Servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc: the kernel may lack task/*/children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":  # state, then parent pid
            found.append(int(entry.name))
    return found


def gunicorn_command(port: int, workers: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        f"--workers={workers}",
        "--timeout=20",
        "--graceful-timeout=3",
        f"--bind=127.0.0.1:{port}",
    ]


def runserver_command(port: int) -> list[str]:
    """Django's development server, as `make run` starts it (without the autoreloader, whose
    extra process would outlive a stop)."""
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


class AppServer:
    """An app server started by `command(port)` on a free loopback port, with `environment`;
    its output (tracebacks of server errors included) goes to `log`."""

    def __init__(self, command: Callable[[int], list[str]], environment: dict, log: Path):
        self.port = free_port()
        self.command = command(self.port)
        self.env = environment
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AppServer":
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches the workers
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, answers: Callable[[], bool], seconds: float = 30) -> bool:
        """Whether `answers()` came true within `seconds`, while the server was running."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.running:
            if answers():
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """SIGTERM to the server; SIGKILL to its process group if it is not gone in 5 s."""
        if self.process is None:
            return
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group of this server only
        except ProcessLookupError:
            return
        self.process.wait(timeout=5)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def server_errors(self) -> list[str]:
        """The tracebacks Django logged for server errors, as text."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        blocks = text.split("Internal Server Error")[1:]
        return ["Internal Server Error" + block[:3000] for block in blocks]
