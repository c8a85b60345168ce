"""The bench databases: a filled template per dataset (bench_s, bench_m, bench_l), made once
with the project's own commands, and a fresh copy of it for each run (bench_s_run, ...), so
that the writes of B5 never accumulate from one run to the next.

A template is remade when the generator, the migrations or the seed change: its comment in
PostgreSQL holds a fingerprint of them, written only once the template is complete.
"""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SEED = 1


def conninfo(host: str, port: int, user: str) -> str:
    return f"host={host} port={port} user={user} connect_timeout=10"


def url(host: str, port: int, user: str, name: str) -> str:
    return f"postgres://{user}@{host}:{port}/{name}"


def fingerprint(size: str) -> str:
    digest = hashlib.sha256(f"size={size} seed={SEED}".encode())
    paths = sorted((ROOT / "recommendations" / "synthetic").glob("*.py"))
    paths += sorted(ROOT.glob("*/migrations/*.py"))
    paths += sorted((ROOT / "fixtures").glob("*"))
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return f"bench dataset {size} seed {SEED} {digest.hexdigest()[:16]}"


def _admin(info: str) -> psycopg.Connection:
    conn = psycopg.connect(info, dbname="postgres", autocommit=True)
    conn.execute("SET application_name = 'bench-admin'")
    return conn


def _comment(conn, name: str) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [name],
    ).fetchone()
    return row[0] if row else None


def _manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=1800)


def ensure_template(
    size: str, *, info: str, db_url, env: dict, log, name: str | None = None
) -> str:
    """The name of the filled template database of `size` (by default bench_<size>), made if
    missing or stale."""
    name = name or f"bench_{size.lower()}"
    expected = fingerprint(size)
    with _admin(info) as conn:
        if _comment(conn, name) == expected:
            return name
        log(f"making the {size} template database {name} (M takes a minute or two, L about six)")
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    began = time.monotonic()
    build = {**env, "DEBUG": "1", "DATABASE_URL": db_url(name), "DB_STATEMENT_TIMEOUT_MS": "0"}
    build.pop("PGAPPNAME", None)
    _manage(build, "migrate", "--noinput", "--verbosity", "0")
    _manage(build, "load_seed", "--verbosity", "0")
    _manage(build, "generate_synthetic", "--size", size, "--seed", str(SEED), "--no-progress")
    with psycopg.connect(info, dbname=name, autocommit=True) as conn:
        # What autovacuum would do before long: statistics for the planner, and the
        # visibility map that index-only scans need.
        conn.execute("VACUUM (ANALYZE)")
    with _admin(info) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(expected)
            )
        )
    log(f"template {name} ready in {time.monotonic() - began:.0f} s")
    return name


def fresh_copy(template: str, *, info: str) -> str:
    """A new copy of the template, for one run (FILE_COPY: seconds, no WAL flood)."""
    name = f"{template}_run"
    with _admin(info) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return name


def drop(name: str, *, info: str) -> None:
    with _admin(info) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
