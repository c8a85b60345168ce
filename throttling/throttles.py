"""The API's throttles: DRF's anonymous and per-user rates, counted in a sliding window.

DRF's own throttles keep a list of every request's time in the cache and read and rewrite it
on each request (two round trips, a list of up to `rate` entries). These count instead: the
requests in the current fixed window, plus the window before weighted by how much of it the
sliding window still covers (the approximation Cloudflare and others use). One round trip to
the store (`throttling.stores`), the same answer from every app server. Refused requests count
too, so a client that keeps hammering stays refused.
"""

import math

from rest_framework import throttling

from .stores import current_store


class SlidingWindowMixin:
    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        slot = int(now // self.duration)
        self.elapsed = now - slot * self.duration
        self.hits, self.previous = current_store().hit(self.key, slot, self.duration)
        return self.estimate(self.elapsed) <= self.num_requests

    def estimate(self, elapsed: float) -> float:
        return self.previous * (1 - elapsed / self.duration) + self.hits

    def wait(self) -> float:
        """Seconds until one more request would be allowed, if none were sent meanwhile."""
        limit, duration = self.num_requests, self.duration
        if self.hits < limit and self.previous:
            # Within this window, once the previous window's weight has fallen far enough.
            allowed_at = duration * (1 - (limit - self.hits - 1) / self.previous)
            return max(1.0, math.ceil(allowed_at - self.elapsed))
        # In the next window, once this window's weight has fallen far enough.
        into_next = duration * max(0.0, 1 - (limit - 1) / self.hits) if self.hits else 0.0
        return max(1.0, math.ceil(duration - self.elapsed + into_next))


class AnonRateThrottle(SlidingWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(SlidingWindowMixin, throttling.UserRateThrottle):
    pass
