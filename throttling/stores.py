"""Where the throttles count: one round trip per request, whichever store CACHE_URL names.

- `db://` (the default): a row per client in `throttling_counter`, updated by one
  INSERT ... ON CONFLICT DO UPDATE ... RETURNING. On PostgreSQL the table is unlogged.
- `redis://`: INCR and EXPIRE of the window's key and GET of the previous window's, pipelined.
  No database work at all.
- anything else (`locmem://` in tests, one process only): the cache's own add/incr.

Each store answers `hit(client, slot, duration)` with (requests in this window, including this
one; requests in the window before).
"""

import random
import time

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection

# About one hit in this many also deletes counts that have expired (one scan of a table of
# recent clients), so that addresses seen once do not pile up.
PRUNE_ONE_IN = 1000


class DatabaseStore:
    def hit(self, client: str, slot: int, duration: int) -> tuple[int, int]:
        expires = (slot + 2) * duration
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO throttling_counter AS c (client, slot, hits, previous, expires)
                VALUES (%s, %s, 1, 0, %s)
                ON CONFLICT (client) DO UPDATE SET
                    previous = CASE
                        WHEN c.slot = EXCLUDED.slot THEN c.previous
                        WHEN c.slot = EXCLUDED.slot - 1 THEN c.hits
                        ELSE 0 END,
                    hits = CASE WHEN c.slot = EXCLUDED.slot THEN c.hits + 1 ELSE 1 END,
                    slot = EXCLUDED.slot,
                    expires = EXCLUDED.expires
                RETURNING hits, previous
                """,
                [client, slot, expires],
            )
            hits, previous = cursor.fetchone()
            if random.randrange(PRUNE_ONE_IN) == 0:
                prune(cursor)
        return hits, previous


def prune(cursor=None) -> int:
    """Delete counts whose windows have passed; the number deleted."""
    if cursor is None:
        with connection.cursor() as cursor:
            return prune(cursor)
    cursor.execute("DELETE FROM throttling_counter WHERE expires < %s", [int(time.time())])
    return cursor.rowcount


class RedisStore:
    def __init__(self, backend: RedisCache):
        self.backend = backend

    def hit(self, client: str, slot: int, duration: int) -> tuple[int, int]:
        current = self.backend.make_key(f"{client}:{slot}")
        before = self.backend.make_key(f"{client}:{slot - 1}")
        redis = self.backend._cache.get_client(current, write=True)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, 2 * duration)
        pipe.get(before)
        hits, _, previous = pipe.execute()
        return int(hits), int(previous or 0)


class CacheStore:
    def __init__(self, backend):
        self.backend = backend

    def hit(self, client: str, slot: int, duration: int) -> tuple[int, int]:
        current, before = f"{client}:{slot}", f"{client}:{slot - 1}"
        if self.backend.add(current, 1, 2 * duration):
            hits = 1
        else:
            try:
                hits = self.backend.incr(current)
            except ValueError:  # expired between add and incr
                self.backend.set(current, 1, 2 * duration)
                hits = 1
        return hits, int(self.backend.get(before) or 0)


def current_store():
    """The store for the default cache as configured now (tests change it)."""
    backend = caches["default"]
    if isinstance(backend, DatabaseCache):
        return DatabaseStore()
    if isinstance(backend, RedisCache):
        return RedisStore(backend)
    return CacheStore(backend)
