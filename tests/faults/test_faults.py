"""Faults under load against the real app (gunicorn and PostgreSQL): a worker killed, the
database's connections cut, the database restarted, a row lock held by another session, and
two app servers sharing one throttle.

Whatever happens, an integration that retries with its Idempotency-Key gets each update
recorded exactly once or is told to retry (409, 503 with Retry-After); no answer is a 500,
nothing is half-written, and the app serves again without a restart."""

import os
import signal
import time
import uuid
from collections import Counter

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Fault scenarios need PostgreSQL (DATABASE_URL=postgres://...)",
    ),
]


def inject_three_times(load, inject, *, every: float) -> None:
    """With the load under way, inject a fault (`inject()` describes it) three times, `every`
    seconds apart, then give the load a second to recover."""
    time.sleep(1)
    for _ in range(3):
        load.fault(inject())
        time.sleep(every)
    time.sleep(1)


def test_a_worker_killed_under_load_loses_and_duplicates_nothing(
    start_servers, start_load, check_after_faults
):
    [server] = start_servers()

    def kill_a_worker() -> str:
        victim = server.workers()[0]  # a child of our gunicorn master
        os.kill(victim, signal.SIGKILL)
        return f"SIGKILL worker {victim}"

    with start_load(server) as load:
        inject_three_times(load, kill_a_worker, every=1.2)

    check_after_faults(load, server, "1_worker_killed")


def test_database_connections_cut_under_load_lose_and_duplicate_nothing(
    app, start_servers, start_load, check_after_faults
):
    [server] = start_servers()

    cut = []  # connections cut, per fault

    with app.database.connect() as own, start_load(server) as load:

        def cut_the_connections() -> str:
            terminated = own.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [app.database.name],
            ).fetchall()
            cut.append(sum(1 for (done,) in terminated if done))
            return f"pg_terminate_backend of {cut[-1]} connections"

        inject_three_times(load, cut_the_connections, every=0.8)

    assert sum(cut) > 0, "no connection of the app was open to cut"
    check_after_faults(load, server, "2_connections_terminated")


def test_a_database_restart_under_load_loses_and_duplicates_nothing(
    start_servers, start_load, restart_postgres, check_after_faults
):
    [server] = start_servers()

    with start_load(server) as load:
        time.sleep(1)
        load.fault("PostgreSQL restarted (pg_ctlcluster restart)")
        result, down_for = restart_postgres()
        time.sleep(1.5)

    assert result.returncode == 0, result.stdout + result.stderr
    assert down_for is not None, "PostgreSQL did not accept connections within 30 s"
    verdict = check_after_faults(load, server, "3_database_restarted")
    verdict.figures["restart_seconds"] = down_for


# A row lock held by another session


def measure_state(database, measure):
    return database.rows(
        "SELECT version, (SELECT count(*) FROM recommendations_statusupdate "
        "WHERE measure_id = %(id)s) FROM recommendations_measure WHERE id = %(id)s",
        {"id": measure},
    )[0]


@pytest.mark.parametrize(
    "env, expected, words",
    [
        ({"DB_LOCK_TIMEOUT_MS": "1000"}, 409, "being changed by another request"),
        (
            {"DB_LOCK_TIMEOUT_MS": "0", "DB_STATEMENT_TIMEOUT_MS": "1000"},
            503,
            "database is busy",
        ),
    ],
    ids=["lock_timeout", "statement_timeout"],
)
def test_a_write_waiting_on_a_locked_measure_gives_up_cleanly_and_succeeds_once_released(
    app, start_servers, reliability_summary, env, expected, words
):
    [server] = start_servers(**env)
    database, token = app.database, app.analyst_token
    measure = app.measures[-1]
    key = uuid.uuid4().hex
    path = f"/api/v1/measures/{measure}/status-updates/"
    body = {"status": "in_progress", "progress": 55, "effective_date": "2025-09-01", "note": key}
    etag = server.get(f"/api/v1/measures/{measure}/").headers["etag"]
    headers = {"If-Match": etag, "Idempotency-Key": key}
    before = measure_state(database, measure)

    with database.connect(autocommit=False) as other_session:
        other_session.execute(
            "SELECT id FROM recommendations_measure WHERE id = %s FOR UPDATE", [measure]
        )
        started = time.monotonic()
        refused = server.call("POST", path, token, body=body, headers=headers, timeout=15)
        waited = time.monotonic() - started
        while_locked = measure_state(database, measure)
        remembered = database.value(
            "SELECT count(*) FROM recommendations_idempotencykey WHERE key = %s", [key]
        )
        other_session.rollback()
    retried = server.call("POST", path, token, body=body, headers=headers, timeout=15)
    after = measure_state(database, measure)

    written = after[1] - before[1]
    reliability_summary[f"4_row_lock_{'_'.join(f'{k}={v}' for k, v in env.items())}"] = {
        "requests": 3,
        "by_status": dict(Counter(["200", refused.code, retried.code])),
        "faults_injected": 1,
        "answer_while_locked": f"{refused.code} after {waited:.1f}s",
        "rows_written": written,
        "rows_lost": int(retried.status == 201 and written == 0),
        "duplicates": max(0, written - 1),
        "server_errors": len(server.server_errors()),
    }
    assert refused.status == expected, refused
    assert words in refused.body["detail"]
    assert expected != 503 or int(refused.headers["retry-after"]) > 0
    assert waited < 5, "the write held a worker instead of giving up"
    assert while_locked == before, "the refused write changed the measure or its history"
    assert remembered == 0, "the refused write's Idempotency-Key was remembered"
    assert retried.status == 201, retried
    assert "idempotent-replayed" not in retried.headers
    assert after == (before[0] + 1, before[1] + 1)
    assert server.server_errors() == []


# Throttling across app servers


def test_throttling_counts_one_users_requests_across_two_app_servers(
    app, start_servers, reliability_summary
):
    app.database.rows("DELETE FROM throttling_counter")  # no counts left from other scenarios
    servers = start_servers(count=2, API_THROTTLE_USER="10/minute")
    token = app.admin_token  # a user no other scenario's requests counted

    answers = [servers[n % 2].get("/api/v1/scenarios/", token=token) for n in range(14)]

    codes = [answer.status for answer in answers]
    reliability_summary["5_throttle_two_servers"] = {
        "requests": len(answers),
        "by_status": dict(Counter(answer.code for answer in answers)),
        "faults_injected": 0,
        "limit": "10/minute per user, 2 gunicorn instances, CACHE_URL=db://",
        "first_429_at_request": codes.index(429) + 1 if 429 in codes else None,
        "server_errors": sum(len(server.server_errors()) for server in servers),
    }
    assert codes == [200] * 10 + [429] * 4
    assert all(int(answer.headers["retry-after"]) > 0 for answer in answers[10:])
