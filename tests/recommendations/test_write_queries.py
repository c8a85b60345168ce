"""Every statement one status update costs through the API (README, "Performance"), pinned on
both databases: `POST /api/v1/measures/{id}/status-updates/` with If-Match, without and with
an Idempotency-Key, citing evidence, and back-dated.

Read against a real request: a token in the Authorization header (its last use already noted:
the UPDATE that notes it comes at most every API_TOKEN_LAST_USED_MINUTES), an analyst (a
superuser has no permission query), throttling in the local-memory cache (no query). A test
runs inside a transaction, so a block that is a transaction of its own when serving shows
here as SAVEPOINT and RELEASE: they stand for BEGIN and COMMIT, one round trip each, and the
counts below are the request's round trips.

The databases differ by one statement: on PostgreSQL a writer of history takes the history
writers' turn and reads the database's clock before inserting (integrity.serialise_history_
writes); SQLite lets one writer at a time in anyway and records the app's clock. For the same
reason the statements that lock rows on PostgreSQL (FOR UPDATE) are plain reads on SQLite.
"""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from evidence.revisions import record_revisions
from recommendations import services
from recommendations.choices import Status
from tests.conftest import TODAY, api_token
from tests.factories import EvidenceFactory, MeasureFactory, link_evidence

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"

TOKEN = "SELECT tokens_apitoken"  # the token, its user and whether the user has a role
PERMISSIONS = ["SELECT auth_permission"] * 2  # the user's own, then its groups' (ModelBackend)
BEGIN, COMMIT = "SAVEPOINT", "RELEASE SAVEPOINT"
CLAIM_KEY = "INSERT recommendations_idempotencykey"  # ON CONFLICT DO NOTHING, committed at once
# Row locks are PostgreSQL's; SQLite's writer holds the whole database from BEGIN (IMMEDIATE).
LOCKING = {"key": " FOR UPDATE NOWAIT", "measure": " FOR NO KEY UPDATE"} if POSTGRESQL else {}
LOCK_KEY = "SELECT recommendations_idempotencykey" + LOCKING.get("key", "")
LOCK_MEASURE = "SELECT recommendations_measure" + LOCKING.get("measure", "")  # its own columns
# Read after the lock, never folded into it: on PostgreSQL a statement that waited for a lock
# reads other tables as they were when it began (tests/test_concurrency.py).
SUPPORT = "SELECT evidence_evidencemeasure"
CITED = "SELECT evidence_evidencerevision"  # each piece's current revision, in one query
AROUND = "SELECT recommendations_measure"  # a back-dated entry's neighbours, in one query
TURN = ["WITH turn"] if POSTGRESQL else []  # the history writers' turn and the clock
INSERT = "INSERT recommendations_statusupdate"
LINKS = "INSERT evidence_statusupdateevidence"
LATEST = "SELECT recommendations_statusupdate"  # back-dated: the latest entry, read again
STATE = "UPDATE recommendations_measure"
# The outbox's row, in the same transaction (events app); on PostgreSQL the same statement
# writes its webhook deliveries (a data-modifying WITH), whatever the subscriptions: here there
# are none, and it inserts none. SQLite has no such WITH: one INSERT ... SELECT more.
EVENT = "WITH events_event" if POSTGRESQL else "INSERT events_event"
DELIVERIES = [] if POSTGRESQL else ["INSERT webhooks_delivery"]
ANSWER = "UPDATE recommendations_idempotencykey"  # the response, kept for retries


# Round trips per case (PostgreSQL, SQLite), as README's Performance section gives them; before
# this count was pinned they were 13, 21, 21, 29, 14 and 17 on PostgreSQL. The outbox's event
# added one to each, and its webhook deliveries one more on SQLite.
COUNTS = {
    "plain": (10, 10),
    "key": (13, 13),
    "evidence": (12, 12),
    "evidence and key": (15, 15),
    "implemented, supported": (11, 11),
    "back-dated": (12, 12),
}


def count(case: str) -> int:
    return COUNTS[case][0 if POSTGRESQL else 1]


def statement(sql: str) -> str:
    """What a statement does, and to which table: `SELECT tokens_apitoken`."""
    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
        return sql.rsplit(" ", 1)[0]
    if sql.startswith("WITH turn"):
        return "WITH turn"
    verb = sql.split(" ", 1)[0]
    # The statement's own table, not a subquery's (Django names those U0, U1, ...).
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"(?! U\d)', sql).group(1)
    lock = re.search(r" (FOR (?:NO KEY )?UPDATE(?: NOWAIT)?)$", sql)
    return f"{verb} {table}" + (f" {lock.group(1)}" if lock else "")


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def token_api(analyst):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(analyst)}")
    client.get(reverse("api-root"))  # notes the token's first use
    return client


def cited_evidence(measure, n: int) -> list[int]:
    """`n` pieces supporting `measure`, each with its revision (as evidence.services writes)."""
    days = [date(2026, 1, day) for day in range(1, n + 1)]
    pieces = [EvidenceFactory(date=day, date_precision="day") for day in days]
    for piece in pieces:
        link_evidence(piece, measure)
    record_revisions([piece.pk for piece in pieces])
    return [piece.pk for piece in pieces]


def post(client, measure, *, key: str | None = None, **fields):
    body = {
        "status": Status.IN_PROGRESS,
        "progress": 50,
        "confidence": "medium",
        "effective_date": "2026-06-01",
        "note": "Pilot under way",
        **fields,
    }
    headers = {"HTTP_IF_MATCH": f'"{measure.version}"'}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    url = reverse("measure-status-updates", args=[measure.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, body, format="json", **headers)
    assert response.status_code == 201, response.json()
    return [statement(query["sql"]) for query in queries.captured_queries]


def test_a_status_update_without_an_idempotency_key(token_api):
    measure = MeasureFactory()

    statements = post(token_api, measure)

    assert len(statements) == count("plain")
    assert statements == [
        TOKEN,
        *PERMISSIONS,
        BEGIN,
        LOCK_MEASURE,
        *TURN,
        INSERT,
        STATE,
        EVENT,
        *DELIVERIES,
        COMMIT,
    ]


def test_a_status_update_with_an_idempotency_key(token_api):
    measure = MeasureFactory()

    statements = post(token_api, measure, key="b5-first")

    assert len(statements) == count("key")
    assert statements == [
        TOKEN,
        *PERMISSIONS,
        CLAIM_KEY,
        BEGIN,
        LOCK_KEY,
        LOCK_MEASURE,  # no savepoint: a failure rolls back the key's transaction whole
        *TURN,
        INSERT,
        STATE,
        EVENT,
        *DELIVERIES,
        ANSWER,
        COMMIT,
    ]


@pytest.mark.parametrize("key", [None, "b5-evidence"])
def test_a_status_update_citing_evidence(token_api, key):
    measure = MeasureFactory()
    evidence = cited_evidence(measure, 3)

    statements = post(
        token_api, measure, key=key, status=Status.IMPLEMENTED, progress=100, evidence=evidence
    )

    # Whatever the number of pieces: one query reads them with their current revisions, one
    # statement inserts the links.
    assert len(statements) == count("evidence and key" if key else "evidence")
    assert statements == [
        TOKEN,
        *PERMISSIONS,
        *([CLAIM_KEY] if key else []),
        BEGIN,
        *([LOCK_KEY] if key else []),
        LOCK_MEASURE,
        CITED,
        *TURN,
        INSERT,
        LINKS,
        STATE,
        EVENT,
        *DELIVERIES,
        *([ANSWER] if key else []),
        COMMIT,
    ]


def test_implemented_without_evidence_reads_the_measure_s_support_after_locking_it(token_api):
    measure = MeasureFactory()
    cited_evidence(measure, 1)

    statements = post(token_api, measure, status=Status.IMPLEMENTED, progress=100)

    assert len(statements) == count("implemented, supported")
    assert statements == [
        TOKEN,
        *PERMISSIONS,
        BEGIN,
        LOCK_MEASURE,
        SUPPORT,
        *TURN,
        INSERT,
        STATE,
        EVENT,
        *DELIVERIES,
        COMMIT,
    ]


def test_a_back_dated_status_update(token_api):
    measure = MeasureFactory()
    services.record_status_update(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 6, 15),
        by=None,
        today=TODAY,
    )
    measure.refresh_from_db()

    statements = post(token_api, measure, effective_date="2026-03-01")

    assert len(statements) == count("back-dated")
    assert statements == [
        TOKEN,
        *PERMISSIONS,
        BEGIN,
        LOCK_MEASURE,
        AROUND,  # where history starts, the status then, the entry after
        *TURN,
        INSERT,
        LATEST,
        STATE,
        EVENT,
        *DELIVERIES,
        COMMIT,
    ]
