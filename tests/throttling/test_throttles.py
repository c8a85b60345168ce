"""The API's throttles: one round trip per request to a store every app server shares, a
sliding window, and Retry-After that tells the truth."""

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.throttling import UserRateThrottle as DRFUserRateThrottle

from throttling import stores
from throttling.models import Counter
from throttling.throttles import UserRateThrottle

pytestmark = pytest.mark.django_db
DB_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def database_store(settings):
    settings.CACHES = {"default": DB_CACHE}
    return stores.current_store()


@pytest.fixture
def redis_store(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "throttling-tests",
        }
    }
    backend = caches["default"]
    try:
        backend.clear()
    except Exception as error:  # noqa: BLE001 - any connection failure means no Redis here
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    yield stores.current_store()
    backend.clear()


@pytest.fixture
def cache_store():
    caches["default"].clear()
    return stores.current_store()


def test_the_store_follows_cache_url(database_store, settings):
    assert isinstance(database_store, stores.DatabaseStore)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert isinstance(stores.current_store(), stores.CacheStore)


@pytest.mark.parametrize("store_name", ["database_store", "redis_store", "cache_store"])
def test_each_store_counts_this_window_and_remembers_the_one_before(store_name, request):
    store = request.getfixturevalue(store_name)

    first = [store.hit("user_1", 100, 60) for _ in range(3)]
    other_client = store.hit("user_2", 100, 60)
    next_window = [store.hit("user_1", 101, 60) for _ in range(2)]
    after_a_gap = store.hit("user_1", 105, 60)

    assert first == [(1, 0), (2, 0), (3, 0)]
    assert other_client == (1, 0)
    assert next_window == [(1, 3), (2, 3)]
    assert after_a_gap == (1, 0)


def test_the_database_store_costs_one_statement_and_keeps_one_row_per_client(database_store):
    with CaptureQueriesContext(connection) as queries:
        database_store.hit("user_7", 10, 60)
        database_store.hit("user_7", 10, 60)

    assert len(queries) == 2
    assert all(q["sql"].lstrip().startswith("INSERT INTO throttling_counter") for q in queries)
    assert list(Counter.objects.values_list("client", "hits", "expires")) == [
        ("user_7", 2, 12 * 60)
    ]


def test_pruning_deletes_only_counts_whose_windows_have_passed(database_store):
    database_store.hit("gone", 1, 60)  # expired long ago
    database_store.hit("here", 10**9, 60)  # expires far in the future

    assert stores.prune() == 1
    assert list(Counter.objects.values_list("client", flat=True)) == ["here"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="UNLOGGED is PostgreSQL's")
def test_on_postgresql_the_counts_table_is_unlogged():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'throttling_counter'")
        assert cursor.fetchone() == ("u",)


def test_the_redis_store_costs_no_database_query(redis_store):
    with CaptureQueriesContext(connection) as queries:
        assert redis_store.hit("user_3", 50, 60) == (1, 0)

    assert len(queries) == 0


# Through the API


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(DRFUserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 60_000.0}
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: now["t"])
    return now


def test_the_api_refuses_the_request_over_the_rate_with_retry_after(
    database_store, three_a_minute, clock, analyst_api
):
    codes = [analyst_api.get(reverse("pillar-list")).status_code for _ in range(3)]
    refused = analyst_api.get(reverse("pillar-list"))

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    # Four requests at the start of a window: the fourth may go once the window has slid
    # far enough that 4 x (1 - t/60) + 1 <= 3, i.e. after 30 s of the next window.
    assert int(refused["Retry-After"]) == 60 + 30


def test_the_window_slides_requests_at_a_windows_end_still_count_at_the_next_ones_start(
    database_store, three_a_minute, clock, analyst_api
):
    clock["t"] = 60_000 + 59  # the last second of a window
    assert [analyst_api.get(reverse("pillar-list")).status_code for _ in range(3)] == [200] * 3

    clock["t"] = 60_060 + 1  # the next window's first second: 3 x 59/60 still counted
    refused = analyst_api.get(reverse("pillar-list"))
    clock["t"] = 60_060 + 45  # 3 x 15/60 + 2 = 2.75: allowed again
    allowed = analyst_api.get(reverse("pillar-list"))

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert allowed.status_code == 200


def test_a_throttled_read_costs_one_query_on_the_database_store(
    settings, database_store, analyst_api
):
    with CaptureQueriesContext(connection) as with_database:
        assert analyst_api.get(reverse("pillar-list")).status_code == 200
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with CaptureQueriesContext(connection) as in_memory:
        assert analyst_api.get(reverse("pillar-list")).status_code == 200

    throttle_queries = [q["sql"] for q in with_database if "throttling_counter" in q["sql"]]
    assert len(throttle_queries) == 1
    assert len(with_database) == len(in_memory) + 1
