"""Reads of the webhooks app: the subscriptions a user may manage, a subscription's
deliveries with their attempts, and the outbox's depth."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Prefetch, QuerySet

from events.models import Event

from .choices import DeliveryState
from .models import MANAGE_PERMISSION, Delivery, DeliveryAttempt, Subscription


def may_manage(user) -> bool:
    """Whether `user` manages webhooks: a superuser, or a holder of the permission."""
    return user.is_active and user.has_perm(MANAGE_PERMISSION)


def visible_subscriptions(user, queryset: QuerySet | None = None) -> QuerySet[Subscription]:
    """The subscriptions `user` manages: all for a superuser, else its own."""
    queryset = subscriptions() if queryset is None else queryset
    return queryset if user.is_superuser else queryset.filter(owner=user)


def subscriptions() -> QuerySet[Subscription]:
    """Subscriptions with what their bodies show (owner, pillar, measure)."""
    return Subscription.objects.select_related("owner", "pillar", "measure").order_by("id")


def deliveries(subscription: Subscription | int) -> QuerySet[Delivery]:
    """A subscription's deliveries, newest event first, with their event and every attempt
    (newest first): three queries for a page, whatever its size."""
    attempts = DeliveryAttempt.objects.order_by("-id")
    return (
        Delivery.objects.filter(subscription=subscription)
        .select_related("event")
        .defer("event__payload")
        .prefetch_related(Prefetch("attempts", queryset=attempts))
        .order_by("-event_id")
    )


@dataclass(frozen=True)
class Outbox:
    """Deliveries not yet made: how many, and the oldest event among them."""

    pending: int
    oldest_event: Event | None

    @property
    def oldest_at(self) -> datetime | None:
        return self.oldest_event.occurred_at if self.oldest_event else None


def outbox() -> Outbox:
    """The outbox's depth (pending deliveries) and its oldest undelivered event: one query
    over the pending deliveries, one for the event."""
    summary = Delivery.objects.filter(state=DeliveryState.PENDING).aggregate(
        pending=Count("id"), oldest=Min("event_id")
    )
    oldest = (
        Event.objects.only("id", "type", "occurred_at").filter(pk=summary["oldest"]).first()
        if summary["oldest"] is not None
        else None
    )
    return Outbox(pending=summary["pending"], oldest_event=oldest)
