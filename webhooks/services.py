"""Writes of the webhooks app: subscriptions (create, change, pause, resume, rotate the secret,
delete), redelivery, and the fan-out that plans each event's deliveries in the event's own
transaction. The admin, the API and the worker all write through here."""

import base64
import functools
import logging
import secrets as random
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from events.choices import EventType
from events.models import Event
from recommendations.choices import Language
from recommendations.services import StaleVersion

from . import targets
from .choices import DeliveryState
from .models import SECRET_PREFIX, Delivery, Subscription

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
# What a subscription's owner may change (the rest is the worker's, or fixed).
CHANGEABLE = ("url", "description", "events", "pillar", "measure", "active", "language")


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, as Standard Webhooks' libraries take it."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


def check_subscription(*, url: str, events: list, pillar, measure) -> None:
    """Raises ValidationError, keyed by field, when a subscription may not say this: a URL a
    delivery could not go to (targets.check_url), an unknown or repeated event type, or both
    a pillar and a measure (a measure's filter already names its pillar)."""
    errors: dict[str, list[str]] = {}
    try:
        targets.check_url(url)
    except ValidationError as error:
        errors.update(error.message_dict)
    unknown = [name for name in events if name not in EventType.values]
    if not isinstance(events, list) or unknown:
        errors["events"] = [
            _("Unknown event type: %(names)s. Known: %(known)s.")
            % {"names": ", ".join(map(str, unknown)), "known": ", ".join(EventType.values)}
        ]
    elif len(set(events)) != len(events):
        errors["events"] = [_("Name each event type once.")]
    if pillar is not None and measure is not None:
        errors["measure"] = [
            _("Filter by a pillar or by a measure, not both: a measure's pillar is implied.")
        ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_subscription(
    *,
    owner,
    url: str,
    events: list | None = None,
    pillar=None,
    measure=None,
    active: bool = True,
    description: str = "",
    language: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """A new subscription of `owner`, with a new secret (`subscription.secret`: show it to
    the owner now; nothing shows it again). `language`, one of settings.LANGUAGES, is the one
    its owner is told in (the admin and the API give the request's); by default
    settings.LANGUAGE_CODE.

    Raises ValidationError, writing nothing, when check_subscription refuses it.
    """
    events = [] if events is None else events
    check_subscription(url=url, events=events, pillar=pillar, measure=measure)
    now = now or timezone.now()
    subscription = Subscription(
        owner=owner,
        url=url,
        description=description,
        events=list(events),
        pillar=pillar,
        measure=measure,
        active=active,
        language=language or Language.of(None),
        paused_at=None if active else now,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def update_subscription(
    *,
    subscription: Subscription,
    changes: dict,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Apply `changes` (any of CHANGEABLE) to `subscription` and bump its version. Switching
    `active` off pauses it; on again resumes it: its pending deliveries go out, in order, and
    a delivery that failed stays failed (redeliver it).

    Raises StaleVersion when `expected_version` is not the current one, ValidationError when
    check_subscription refuses the result; either way nothing is written.
    """
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if expected_version is not None and expected_version != subscription.version:
        raise StaleVersion(record=subscription, expected=expected_version)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in unknown})
    merged = {name: changes.get(name, getattr(subscription, name)) for name in CHANGEABLE}
    check_subscription(
        url=merged["url"],
        events=merged["events"],
        pillar=merged["pillar"],
        measure=merged["measure"],
    )
    now = now or timezone.now()
    was_active = subscription.active
    for name, value in merged.items():
        setattr(subscription, name, value)
    if was_active and not subscription.active:
        subscription.paused_at, subscription.paused_reason = now, _("Paused by its owner.")
    elif subscription.active and not was_active:
        subscription.paused_at, subscription.paused_reason = None, ""
    subscription.version += 1
    subscription.updated_at = now
    subscription.full_clean()
    subscription.save()
    if subscription.active and not was_active:
        transaction.on_commit(wake_worker)
    return subscription


def pause_subscription(*, subscription: Subscription, reason: str, now: datetime) -> bool:
    """Pause `subscription` saying why; whether it was active until now. One UPDATE guarded
    by `active`, so that of two workers pausing it, one does (and its owner is told once)."""
    paused = Subscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False,
        paused_reason=reason[:500],
        paused_at=now,
        version=F("version") + 1,
        updated_at=now,
    )
    return bool(paused)


def resume_subscription(*, subscription: Subscription, now: datetime | None = None) -> None:
    update_subscription(subscription=subscription, changes={"active": True}, now=now)


@transaction.atomic
def rotate_secret(
    *, subscription: Subscription, expected_version: int | None = None, now: datetime | None = None
) -> Subscription:
    """Give `subscription` a new secret (`subscription.secret`, shown once). The old one
    signs every delivery too for WEBHOOK_SECRET_OVERLAP_HOURS, so that a receiver can switch
    over without rejecting one.

    Raises StaleVersion when `expected_version` is not the current one.
    """
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if expected_version is not None and expected_version != subscription.version:
        raise StaleVersion(record=subscription, expected=expected_version)
    now = now or timezone.now()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + timedelta(
        hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
    )
    subscription.secret = new_secret()
    subscription.version += 1
    subscription.updated_at = now
    subscription.save()
    return subscription


@transaction.atomic
def delete_subscription(*, subscription: Subscription, expected_version: int | None = None) -> None:
    """Delete `subscription` with its deliveries and their attempts. Raises StaleVersion when
    `expected_version` is not the current one."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if expected_version is not None and expected_version != subscription.version:
        raise StaleVersion(record=subscription, expected=expected_version)
    subscription.delete()


@transaction.atomic
def redeliver(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Send `delivery` again, whatever its state, on a new schedule of retries starting now
    (a worker holding it keeps its lease). It goes once its subscription is active, after any
    earlier pending delivery of the same measure, with the same webhook-id. Raises
    Delivery.DoesNotExist when it is gone (pruned since it was read)."""
    now = now or timezone.now()
    updated = Delivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PENDING,
        schedule_started_at=now,
        schedule_attempts=0,
        next_attempt_at=now,
    )
    if not updated:
        raise Delivery.DoesNotExist(f"Delivery {delivery.pk} is gone (pruned).")
    transaction.on_commit(wake_worker)
    delivery.refresh_from_db()
    return delivery


# The fan-out


@functools.lru_cache(maxsize=64)
def fan_out_sql(vendor: str, events: int) -> str:
    """INSERT ... SELECT of the deliveries of `events` events, given as VALUES (id, type,
    measure, pillar; SQLite names their columns column1..column4, and so does PostgreSQL
    without a list of names) joined to the active subscriptions that take them: the events
    table is not read again, and the statement's text is made once per size."""
    quote = connection.ops.quote_name
    if vendor == "postgresql":
        takes_type = "(s.events = '[]'::jsonb OR s.events @> jsonb_build_array(e.column2))"
    else:
        takes_type = (
            "(json_array_length(s.events) = 0 "
            "OR EXISTS (SELECT 1 FROM json_each(s.events) AS t WHERE t.value = e.column2))"
        )
    # Typed: a column of VALUES holding only NULLs has no type of its own on PostgreSQL.
    row = "(CAST(%s AS BIGINT), CAST(%s AS VARCHAR(40)), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"
    sql = f"""
        INSERT INTO {quote(Delivery._meta.db_table)} (
            subscription_id, event_id, measure_id, state, attempt_count, schedule_started_at,
            schedule_attempts, next_attempt_at, lease, created_at
        )
        SELECT s.id, e.column1, e.column3, %s, 0, %s, 0, %s, '', %s
        FROM (VALUES {", ".join([row] * events)}) AS e
        JOIN {quote(Subscription._meta.db_table)} AS s
            ON s.active = %s
            AND (s.pillar_id IS NULL OR s.pillar_id = e.column4)
            AND (s.measure_id IS NULL OR s.measure_id = e.column3)
            AND {takes_type}
        JOIN {quote(get_user_model()._meta.db_table)} AS u ON u.id = s.owner_id AND u.is_active = %s
        ORDER BY e.column1, s.id
    """
    return " ".join(sql.split())


def fan_out_over_written(now: datetime | None = None) -> tuple[str, list]:
    """fan_out's INSERT ... SELECT over `written`, the events the events app's own INSERT
    returns (events.signals.Planner): on PostgreSQL, one statement writes an event and its
    deliveries."""
    now = now or timezone.now()
    return _over_written_sql(), [DeliveryState.PENDING, now, now, now, True, True]


@functools.cache
def _over_written_sql() -> str:
    quote = connection.ops.quote_name
    return " ".join(
        f"""
        INSERT INTO {quote(Delivery._meta.db_table)} (
            subscription_id, event_id, measure_id, state, attempt_count, schedule_started_at,
            schedule_attempts, next_attempt_at, lease, created_at
        )
        SELECT s.id, e.id, e.measure_id, %s, 0, %s, 0, %s, '', %s
        FROM written AS e
        JOIN {quote(Subscription._meta.db_table)} AS s
            ON s.active = %s
            AND (s.pillar_id IS NULL OR s.pillar_id = e.pillar_id)
            AND (s.measure_id IS NULL OR s.measure_id = e.measure_id)
            AND (s.events = '[]'::jsonb OR s.events @> jsonb_build_array(e.type))
        JOIN {quote(get_user_model()._meta.db_table)} AS u ON u.id = s.owner_id AND u.is_active = %s
        ORDER BY e.id, s.id
        RETURNING 1
        """.split()
    )


def planned(count: int) -> None:
    """What follows a fan-out that planned `count` deliveries: once the transaction commits,
    a delivery run."""
    if count:
        transaction.on_commit(wake_worker)


def fan_out(events: list[Event], *, now: datetime | None = None) -> int:
    """Plan a delivery of each of `events` to every active subscription that takes it, in one
    INSERT ... SELECT whatever the number of subscriptions (none: it inserts nothing), inside
    the caller's transaction; once it commits, make sure a delivery run is queued. Returns how
    many deliveries it planned.

    A subscription takes an event when its owner is active, `events` is empty or names the
    event's type, and its pillar or measure (if any) is the event's: events about no measure
    (evidence, reports) go only to subscriptions without either."""
    if not events:
        return 0
    now = now or timezone.now()
    values = [
        value
        for event in events
        for value in (event.pk, event.type, event.measure_id, event.pillar_id)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            fan_out_sql(connection.vendor, len(events)),
            [DeliveryState.PENDING, now, now, now, *values, True, True],
        )
        count = max(cursor.rowcount, 0)
    planned(count)
    return count


def wake_worker() -> None:
    """Make sure a delivery run is queued to start now (after the commit that planned
    deliveries, so that the run sees them)."""
    from .tasks import enqueue_unless_queued

    enqueue_unless_queued()


# Telling the owner


def tell_owner_paused(subscription: Subscription) -> None:
    """E-mail `subscription`'s owner that it was paused and why, in the subscription's
    language (and log it either way). A failure to send is logged, not raised: the pause
    stands."""
    logger.warning(
        "Webhook subscription %s (%s) of %s paused: %s",
        subscription.pk,
        subscription.url,
        subscription.owner.username,
        subscription.paused_reason,
    )
    if not subscription.owner.email:
        return
    with translation.override(Language(subscription.language).django_code):
        subject = _("Webhook paused: %(url)s") % {"url": subscription.url}
        body = _(
            "Deliveries to %(url)s kept failing, so the subscription was paused at %(at)s.\n\n"
            "Why: %(reason)s\n\n"
            "Once the receiver works again, resume the subscription (set it active in the admin "
            'or PATCH /api/v1/webhooks/%(id)s/ with {"active": true}); deliveries that were '
            "waiting go out in order. Failed ones can be redelivered from the admin or the API."
        ) % {
            "url": subscription.url,
            "at": subscription.paused_at,
            "reason": subscription.paused_reason,
            "id": subscription.pk,
        }
    try:
        send_mail(subject, body, None, [subscription.owner.email])
    except Exception:
        logger.exception(
            "Could not e-mail %s about webhook %s", subscription.owner, subscription.pk
        )
