"""The outbox's statement (an event with its webhook deliveries) is prepared once per
connection on PostgreSQL (config/db.py), logged as written, and not when turned off."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MeasureFactory
from tests.webhooks.conftest import record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares"),
]


def outbox_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ["WITH written AS (INSERT INTO %"],
        )
        return [statement for (statement,) in cursor.fetchall()]


def test_the_outbox_statement_is_prepared_once_and_reused():
    measure = MeasureFactory()
    record(measure, progress=10)
    prepared = outbox_statements()
    with CaptureQueriesContext(connection) as queries:
        record(measure, progress=20)

    assert len(prepared) == 1
    assert "$1::jsonb" in prepared[0]  # bound on the server
    assert outbox_statements() == prepared  # the second update reused it
    # Logged as written, so that tests and DEBUG's query log still see it.
    assert any(q["sql"].startswith("WITH written AS (INSERT INTO") for q in queries)


def test_prepared_statements_can_be_turned_off(settings):
    settings.DB_PREPARED_STATEMENTS = False
    measure = MeasureFactory()
    before = outbox_statements()

    record(measure, progress=10)
    record(measure, progress=20)

    assert outbox_statements() == before
