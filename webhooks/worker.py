"""The worker's side of deliveries: claim the due ones, attempt each, record what came of it,
and plan the next run (tasks.py runs `run()`; so does `manage.py deliver_webhooks`).

Claiming takes a lease on a batch in one statement (UPDATE ... WHERE id IN (SELECT ... FOR
UPDATE SKIP LOCKED) RETURNING on PostgreSQL, so that workers running side by side take
different deliveries). Only the head of each subscription and measure is due: a delivery
waits while an earlier one (a lower event id) of the same subscription and measure is
pending, so a receiver gets each measure's events in order. A worker starts no attempt it
could not finish before its lease ends, and hands the rest back.

Every run ends by planning the next one (the Wakeup row, so that it is enqueued once): when
the earliest retry is due, or when a lease taken now would expire, whichever comes first; a
worker killed mid-delivery leaves a run planned for when its lease expires, and the delivery
is attempted again then, with the same webhook-id. Retries thus need no new writes.
"""

import functools
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from recommendations.choices import Language

from . import services
from .choices import DeliveryState
from .models import Delivery, DeliveryAttempt, Subscription, Wakeup
from .sending import Outcome, Sender, body_of

logger = logging.getLogger(__name__)

# Outcomes are recorded at least this often (seconds) during a batch: a worker that dies
# leaves at most this much of its work to be done again.
RECORD_EVERY = 1.0
# After a run that found nothing to claim, the next one starts at least this much later, so
# that no run can follow another at once for ever.
IDLE_GAP = timedelta(seconds=1)


def attempt_seconds() -> float:
    """The longest one attempt takes: connecting, and waiting for the answer."""
    return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 1


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt (of its schedule) a delivery is tried
    again: WEBHOOK_RETRY_FIRST_SECONDS doubled with every attempt up to
    WEBHOOK_RETRY_MAX_SECONDS, and jittered down by up to a half, so that deliveries that
    failed together do not come back together."""
    nominal = min(
        settings.WEBHOOK_RETRY_MAX_SECONDS,
        settings.WEBHOOK_RETRY_FIRST_SECONDS * 2 ** min(attempts - 1, 40),
    )
    return timedelta(seconds=nominal * (0.5 + random.random() / 2))  # noqa: S311 (jitter)


# The claim


def tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "delivery": quote(Delivery._meta.db_table),
        "subscription": quote(Subscription._meta.db_table),
    }


def head_condition() -> str:
    """SQL (parameters: PENDING, True, PENDING): delivery `d` of subscription `s` is pending,
    its subscription active, and no earlier delivery of the same subscription and measure is
    pending. The claim and the plan share it, so that what the plan waits for is claimable."""
    return f"""
        d.state = %s AND s.active = %s
        AND NOT EXISTS (
            SELECT 1 FROM {tables()["delivery"]} AS p
            WHERE p.subscription_id = d.subscription_id AND p.measure_id = d.measure_id
              AND p.state = %s AND p.event_id < d.event_id
        )
    """


HEAD_PARAMS = [DeliveryState.PENDING, True, DeliveryState.PENDING]


def claim(*, now: datetime, limit: int) -> tuple[str, list[Delivery]]:
    """Lease up to `limit` due deliveries (due soonest first) until now + WEBHOOK_LEASE_SECONDS;
    the lease's token and the deliveries, with their event and subscription. In the same
    transaction, a run is planned for when the lease expires: if this worker dies, that run
    takes the deliveries up again."""
    lease = secrets.token_hex(16)
    until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    lock = " FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    names = tables()
    sql = f"""
        UPDATE {names["delivery"]} SET leased_until = %s, lease = %s
        WHERE id IN (
            SELECT d.id FROM {names["delivery"]} AS d
            JOIN {names["subscription"]} AS s ON s.id = d.subscription_id
            WHERE {head_condition()}
              AND d.next_attempt_at <= %s
              AND (d.leased_until IS NULL OR d.leased_until <= %s)
            ORDER BY d.next_attempt_at, d.id
            LIMIT %s{lock}
        )
        RETURNING id
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [until, lease, *HEAD_PARAMS, now, now, limit])
            ids = [row[0] for row in cursor.fetchall()]
        if ids:
            wake_at(until + timedelta(seconds=1), now=now)
    if not ids:
        return lease, []
    loaded = Delivery.objects.select_related("event", "subscription").in_bulk(ids)
    return lease, sorted(loaded.values(), key=lambda d: (d.next_attempt_at, d.pk))


def release(deliveries: list[Delivery], lease: str) -> None:
    """Hand back deliveries this worker leased but will not attempt."""
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries], lease=lease).update(
        leased_until=None, lease=""
    )


# An attempt and its record


def attempt(delivery: Delivery, sender: Sender, now: datetime) -> Outcome:
    """POST `delivery` once, signed at `now`; its Outcome."""
    event = delivery.event
    return sender.send(
        delivery.subscription.url,
        message_id=event.message_id,
        body=body_of(event.envelope()),
        secrets=delivery.subscription.signing_secrets(now),
        at=now,
    )


@dataclass(frozen=True)
class Attempted:
    """A delivery attempted under a lease: what came of it, and when."""

    delivery: Delivery
    outcome: Outcome
    at: datetime

    def next_state(self) -> tuple[str, datetime | None, datetime | None]:
        """(state, delivered_at, next_attempt_at): delivered on a 2xx; otherwise due again
        after retry_delay, or failed once its schedule has lasted WEBHOOK_RETRY_HOURS."""
        delivery = self.delivery
        deadline = delivery.schedule_started_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
        if self.outcome.ok:
            return DeliveryState.DELIVERED, self.at, None
        if self.at >= deadline:
            return DeliveryState.FAILED, None, None
        retry = self.at + retry_delay(delivery.schedule_attempts + 1)
        return DeliveryState.PENDING, None, min(retry, deadline)


def record(delivery: Delivery, lease: str, outcome: Outcome, now: datetime) -> str:
    """record_all() of one attempt; the delivery's state now, or "lost"."""
    return record_all([Attempted(delivery, outcome, now)], lease)[0]


def record_all(attempted: list[Attempted], lease: str) -> list[str]:
    """Log the attempts and move their deliveries on (Attempted.next_state), in one
    transaction of three statements whatever their number; a delivery whose retries ran out
    fails, its subscription is paused and its owner told. Returns each delivery's state now,
    or "lost" when its lease had expired and another worker took it over: its attempt is
    logged, and nothing else changes."""
    if not attempted:
        return []
    states = [a.next_state() for a in attempted]
    fields = [
        Delivery._meta.get_field(name) for name in ("state", "delivered_at", "next_attempt_at")
    ]
    params: list = []
    for a, (state, delivered_at, next_attempt_at) in zip(attempted, states, strict=True):
        params.append(a.delivery.pk)
        params += [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, (state, delivered_at, next_attempt_at), strict=True)
        ]
        params.append(a.delivery.schedule_attempts + 1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(record_sql(connection.vendor, len(attempted)), [*params, lease])
            moved = {row[0] for row in cursor.fetchall()}
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery=a.delivery,
                attempted_at=a.at,
                status_code=a.outcome.status_code,
                error=a.outcome.error,
                duration_ms=a.outcome.duration_ms,
                response_body=a.outcome.response_body,
            )
            for a in attempted
        )
        for a, (state, _delivered, _next) in zip(attempted, states, strict=True):
            if state == DeliveryState.FAILED and a.delivery.pk in moved:
                give_up(a.delivery, a.outcome, a.at)
    return [
        state if a.delivery.pk in moved else "lost"
        for a, (state, _delivered, _next) in zip(attempted, states, strict=True)
    ]


@functools.lru_cache(maxsize=64)
def record_sql(vendor: str, rows: int) -> str:
    """UPDATE ... FROM (VALUES (id, state, delivered_at, next_attempt_at, schedule_attempts),
    ...) of the deliveries still leased under the lease given last, RETURNING their ids."""
    table = tables()["delivery"]
    if vendor == "postgresql":
        # Typed: a column of VALUES holding only NULLs has no type of its own.
        row = (
            "(CAST(%s AS BIGINT), CAST(%s AS VARCHAR(12)), CAST(%s AS TIMESTAMP WITH TIME ZONE), "
            "CAST(%s AS TIMESTAMP WITH TIME ZONE), CAST(%s AS INTEGER))"
        )
    else:
        row = "(%s, %s, %s, %s, %s)"
    sql = f"""
        UPDATE {table} SET state = v.column2, delivered_at = v.column3,
            next_attempt_at = v.column4, schedule_attempts = v.column5,
            attempt_count = attempt_count + 1, leased_until = NULL, lease = ''
        FROM (VALUES {", ".join([row] * rows)}) AS v
        WHERE {table}.id = v.column1 AND {table}.lease = %s
        RETURNING {table}.id
    """
    return " ".join(sql.split())


def give_up(delivery: Delivery, outcome, now: datetime) -> None:
    subscription = delivery.subscription
    last = f"HTTP {outcome.status_code}" if outcome.status_code is not None else outcome.error
    # In the subscription's language, as the e-mail that quotes it.
    with translation.override(Language(subscription.language).django_code):
        reason = _(
            "Delivery of %(event)s failed for %(hours)g hours (%(attempts)s attempts; the "
            "last: %(last)s)."
        ) % {
            "event": delivery.event.message_id,
            "hours": settings.WEBHOOK_RETRY_HOURS,
            "attempts": delivery.schedule_attempts + 1,
            "last": last,
        }
    if services.pause_subscription(subscription=subscription, reason=reason, now=now):
        subscription.refresh_from_db()
        transaction.on_commit(lambda: services.tell_owner_paused(subscription))


# Planning the next run


def next_due(now: datetime) -> datetime | None:
    """When the next delivery becomes claimable (a pending head of an active subscription:
    its retry time, or the end of the lease a worker holds on it); None when none waits."""
    names = tables()
    sql = f"""
        SELECT MIN(CASE WHEN d.leased_until > d.next_attempt_at THEN d.leased_until
                        ELSE d.next_attempt_at END)
        FROM {names["delivery"]} AS d
        JOIN {names["subscription"]} AS s ON s.id = d.subscription_id
        WHERE {head_condition()}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, HEAD_PARAMS)
        value = cursor.fetchone()[0]
    if value is None:
        return None
    # SQLite answers a computed datetime as text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def wake_at(at: datetime, *, now: datetime) -> bool:
    """Make sure a run starts by `at`: enqueue one (run_after `at`) unless one is planned for
    no later, and note it in the Wakeup row. Whether it enqueued one. A plan whose time passed
    more than WEBHOOK_LEASE_SECONDS ago without its run clearing it was lost, and is replaced."""
    stale = now - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    with transaction.atomic():
        moved = (
            Wakeup.objects.filter(pk=1)
            .filter(Q(due_at__isnull=True) | Q(due_at__gt=at) | Q(due_at__lt=stale))
            .update(due_at=at)
        )
        if not moved:
            _wakeup, created = Wakeup.objects.get_or_create(pk=1, defaults={"due_at": at})
            if not created:
                return False
        from .tasks import enqueue

        enqueue(run_after=at if at > now else None)
    return True


def started(now: datetime) -> None:
    """A run starts: the plans due by now are taken (this run does what they planned)."""
    Wakeup.objects.filter(pk=1, due_at__lte=now).update(due_at=None)


def plan_next(now: datetime, *, idle: bool) -> datetime | None:
    """Plan a run for the next delivery to become claimable (none if none waits); at least
    IDLE_GAP from now after an idle run. When it is planned for."""
    due = next_due(now)
    if due is None:
        return None
    at = max(due, now + IDLE_GAP) if idle else max(due, now)
    wake_at(at, now=now)
    return at


# A run


def run(*, seconds: float | None = None, clock: Callable[[], datetime] = timezone.now) -> dict:
    """Deliver what is due, batch after batch, for at most `seconds` (WEBHOOK_RUN_SECONDS),
    then plan the next run. A batch's outcomes are recorded together when it ends, or after
    RECORD_EVERY seconds of attempts, whichever comes first. Returns counts of the attempts'
    results (delivered, pending: to be retried, failed, lost) and `attempts`."""
    began = time.monotonic()
    budget = settings.WEBHOOK_RUN_SECONDS if seconds is None else seconds
    window = settings.WEBHOOK_LEASE_SECONDS - attempt_seconds()
    counts: Counter = Counter()
    started(clock())

    def flush(pending: list[Attempted], lease: str) -> None:
        for a, state in zip(pending, record_all(pending, lease), strict=True):
            counts[state] += 1
            counts["attempts"] += 1
            log_attempt(a.delivery, a.outcome, state)
        pending.clear()

    with Sender() as sender:
        while time.monotonic() - began < budget:
            lease, batch = claim(now=clock(), limit=settings.WEBHOOK_BATCH)
            if not batch:
                break
            claimed_at = last_flush = time.monotonic()
            pending: list[Attempted] = []
            for index, delivery in enumerate(batch):
                # The first always: a lease shorter than an attempt is a setting to fix, not a
                # reason to stall.
                if index and time.monotonic() - claimed_at > window:
                    release(batch[index:], lease)
                    break
                at = clock()
                pending.append(Attempted(delivery, attempt(delivery, sender, at), at))
                if time.monotonic() - last_flush > RECORD_EVERY:
                    flush(pending, lease)
                    last_flush = time.monotonic()
            flush(pending, lease)
    plan_next(clock(), idle=not counts["attempts"])
    return dict(counts)


def log_attempt(delivery: Delivery, outcome, state: str) -> None:
    level = logging.INFO if outcome.ok else logging.WARNING
    logger.log(
        level,
        "webhook %s to subscription %s: %s in %d ms (%s)",
        delivery.event.message_id,
        delivery.subscription_id,
        outcome.status_code if outcome.status_code is not None else outcome.error,
        outcome.duration_ms,
        state,
    )
