"""Reads: a user's follows, what they cover, the events of a period in them, and who is due a
digest. Each is a fixed number of queries whatever the number of follows or events."""

from datetime import date
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from events.choices import EventType
from events.models import Event
from recommendations.models import Measure, MeasureRisk, StatusUpdate
from recommendations.selectors import LATEST_FIRST

from .choices import Frequency
from .models import DigestSent, DigestSettings, Follow
from .periods import Period, last_period

# What a digest tells of: the events about one measure. Evidence and reports name no measure
# of their own, so no follow matches them.
DIGEST_EVENTS = (
    EventType.STATUS_UPDATE_RECORDED,
    EventType.MEASURE_CHANGED,
    EventType.PROPOSAL_DECIDED,
)


def follows_of(user) -> QuerySet[Follow]:
    """The user's follows, newest first, with what each names loaded."""
    return (
        Follow.objects.filter(user=user)
        .select_related("measure__pillar", "pillar", "risk")
        .order_by("-created_at", "-id")
    )


def followed_measures(user) -> QuerySet[Measure]:
    """The measures `user` follows: directly, through a followed pillar, or as a measure
    addressing a followed risk. One query, as a subquery wherever it is used."""
    follows = Follow.objects.filter(user=user)
    return Measure.objects.filter(
        Q(pk__in=follows.filter(measure__isnull=False).values("measure_id"))
        | Q(pillar__in=follows.filter(pillar__isnull=False).values("pillar_id"))
        | Q(
            pk__in=MeasureRisk.objects.filter(
                risk__in=follows.filter(risk__isnull=False).values("risk_id")
            ).values("measure_id")
        )
    )


def digest_events(*, user, period: Period) -> QuerySet[Event]:
    """The events of `period` about what `user` follows, in the order they happened, each
    with its measure and the measure's pillar. One query."""
    start, end = period.bounds()
    followed_pillars = Follow.objects.filter(user=user, pillar__isnull=False).values("pillar_id")
    return (
        Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end, type__in=DIGEST_EVENTS)
        .filter(
            Q(measure__in=followed_measures(user).values("pk")) | Q(pillar__in=followed_pillars)
        )
        .select_related("measure__pillar")
        .order_by("id")
    )


class StatusMove(NamedTuple):
    """A status update and the entry before it in its measure's history (what it moved
    from: None for a measure's first entry)."""

    pk: int
    status: str
    progress: int | None
    from_status: str | None
    from_progress: int | None
    effective_date: date


def status_moves(update_ids: list[int]) -> dict[int, StatusMove]:
    """Each update of `update_ids` with the entry before it in history order (effective date,
    recorded at, id: the order that decides a measure's state), by id. One query; each
    previous entry is one probe of the index on (measure, effective_date, recorded_at, id)."""
    if not update_ids:
        return {}
    before = StatusUpdate.objects.filter(measure=OuterRef("measure")).filter(
        Q(effective_date__lt=OuterRef("effective_date"))
        | Q(effective_date=OuterRef("effective_date"), recorded_at__lt=OuterRef("recorded_at"))
        | Q(
            effective_date=OuterRef("effective_date"),
            recorded_at=OuterRef("recorded_at"),
            id__lt=OuterRef("id"),
        )
    )
    previous = before.order_by(*LATEST_FIRST)
    rows = (
        StatusUpdate.objects.filter(pk__in=update_ids)
        .annotate(
            from_status=Subquery(previous.values("status")[:1]),
            from_progress=Subquery(previous.values("progress")[:1]),
        )
        .values_list(*StatusMove._fields)
    )
    return {row[0]: StatusMove(*row) for row in rows}


class Recipient(NamedTuple):
    """A user due a digest: their settings (with the user loaded), the period, and the claim
    already made for it (None if none)."""

    settings: DigestSettings
    period: Period
    claim: DigestSent | None


def due_recipients(*, today: date, frequency: str | None = None) -> list[Recipient]:
    """Every active user with a daily or weekly digest (of `frequency`, if given) who follows
    something, with the latest period that has ended by `today` and whatever claim exists for
    it. A period that ended before the user's settings were made is not theirs: a new follower
    waits for the next full one. Two queries whatever the number of users."""
    users = get_user_model().objects.filter(pk=OuterRef("user_id"))
    chosen = DigestSettings.objects.filter(
        Exists(Follow.objects.filter(user=OuterRef("user_id"))),
        Exists(users.filter(is_active=True)),
    ).select_related("user")
    if frequency:
        chosen = chosen.filter(frequency=frequency)
    else:
        chosen = chosen.exclude(frequency=Frequency.OFF)
    due = []
    for settings in chosen.order_by("user_id"):
        period = last_period(frequency=settings.frequency, weekday=settings.weekday, today=today)
        if settings.created_at < period.bounds()[1]:
            due.append((settings, period))
    claims = {}
    if due:
        starts = {period.start for _settings, period in due}
        # Every claim of these periods: at most two per user (a daily and a weekly one).
        for claim in DigestSent.objects.filter(period_start__in=starts):
            claims[(claim.user_id, claim.frequency, claim.period_start)] = claim
    return [
        Recipient(settings, period, claims.get((settings.user_id, period.frequency, period.start)))
        for settings, period in due
    ]
