from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Event
from recommendations.choices import Language
from recommendations.models import Measure, Pillar

from .choices import DeliveryState

SECRET_PREFIX = "whsec_"
MANAGE_PERMISSION = "webhooks.manage_subscription"


class Subscription(models.Model):
    """A receiver of events: the URL they are POSTed to, which of them (`events`, empty for
    all; a pillar or a measure), and the secret that signs them (Standard Webhooks). Its owner
    manages it; a superuser manages all. Paused (`active` off) by its owner, or by the worker
    when a delivery's retries ran out: a paused subscription gets no new deliveries and its
    pending ones wait."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # EventType values; empty: every type, including those added later.
    events = models.JSONField(_("events"), default=list, blank=True)
    pillar = models.ForeignKey(
        Pillar,
        verbose_name=_("pillar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    measure = models.ForeignKey(
        Measure,
        verbose_name=_("measure"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)
    # What its owner is told in (the pause e-mail), zh or en as digests and reports: the
    # language the subscription was made in unless changed since.
    language = models.CharField(
        _("language"),
        max_length=2,
        choices=Language.choices,
        default=Language.EN,
        help_text=_("The language of the e-mail that tells its owner it was paused."),
    )
    paused_reason = models.CharField(_("paused because"), max_length=500, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    # Shown once, when made (and when rotated); the worker signs with it, so it is kept as is.
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    # After a rotation the old secret signs too, until `previous_secret_until`: a receiver
    # switches over without missing a delivery (Standard Webhooks allows several signatures).
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ("id",)
        permissions = [("manage_subscription", _("Can manage webhook subscriptions"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(pillar__isnull=True) | Q(measure__isnull=True),
                name="%(app_label)s_%(class)s_one_filter",
            ),
            models.CheckConstraint(
                condition=Q(secret__startswith=SECRET_PREFIX),
                name="%(app_label)s_%(class)s_secret_prefix",
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values),
                name="%(app_label)s_%(class)s_language_valid",
            ),
        ]

    def __str__(self):
        return self.description or self.url

    def signing_secrets(self, now) -> list[str]:
        """The secrets a delivery at `now` is signed with: the current one, and the previous
        one while its overlap lasts."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


class Delivery(models.Model):
    """One event for one subscription, planned in the event's own transaction (so nothing
    committed goes unannounced) and POSTed by the worker until the receiver answers 2xx, or
    until its retries run out.

    `measure` is the event's, copied here: a delivery is not attempted while an earlier one
    (a lower event id) of the same subscription and measure is still pending, so a receiver
    gets each measure's events in the order they happened. A worker holds a delivery while it
    attempts it (`leased_until`, `lease`); one killed meanwhile loses the lease when it
    expires, and the delivery is attempted again, with the same webhook-id."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (subscription, event) one serves it.
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    event = models.ForeignKey(
        Event,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    measure = models.ForeignKey(
        Measure,
        verbose_name=_("measure"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    state = models.CharField(
        _("state"), max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    # The current schedule of retries (a redelivery starts a new one): when it began, and its
    # attempts so far, from which the next delay is reckoned.
    schedule_started_at = models.DateTimeField(_("schedule started at"))
    schedule_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-id",)
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state=DeliveryState.PENDING) | Q(next_attempt_at__isnull=False),
                name="%(app_label)s_%(class)s_pending_is_due",
            ),
            # One delivery per event and subscription; also serves a subscription's
            # deliveries, newest event first.
            models.UniqueConstraint(
                fields=["subscription", "event"], name="%(app_label)s_%(class)s_once"
            ),
        ]
        indexes = [
            # The worker's claim and its next wake-up: pending deliveries by due time.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state=DeliveryState.PENDING),
                name="delivery_pending_due",
            ),
            # "An earlier delivery of this subscription and measure is still pending".
            models.Index(
                fields=["subscription", "measure", "event"],
                condition=Q(state=DeliveryState.PENDING),
                name="delivery_pending_order",
            ),
            # Pruning (pruning.py): the oldest delivered, and the oldest failed, first.
            models.Index(
                fields=["delivered_at"],
                condition=Q(state=DeliveryState.DELIVERED),
                name="delivery_delivered_age",
            ),
            models.Index(
                fields=["schedule_started_at"],
                condition=Q(state=DeliveryState.FAILED),
                name="delivery_failed_age",
            ),
        ]

    def __str__(self):
        return f"evt_{self.event_id} → {self.subscription_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery, and what came of it: the receiver's status code (none when the
    connection failed or the target was refused, with `error` saying why), how long it took,
    and the first bytes of its answer. Written by the worker, never changed."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempts"
    )
    attempted_at = models.DateTimeField(_("attempted at"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    response_body = models.TextField(_("response (first bytes)"), blank=True)

    class Meta:
        verbose_name = _("webhook delivery attempt")
        verbose_name_plural = _("webhook delivery attempts")
        ordering = ("-id",)

    def __str__(self):
        outcome = self.status_code if self.status_code is not None else self.error
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {outcome}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Wakeup(models.Model):
    """One row: when the next delivery run is due (a task enqueued to start then), so that a
    run ending with retries ahead enqueues its successor once, not once per run that saw
    them. Empty when no run is planned. A plan older than WEBHOOK_LEASE_SECONDS whose run never
    started (a worker lost it) is replaced by the next one made."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook wake-up")
        verbose_name_plural = _("webhook wake-ups")

    def __str__(self):
        return f"{self.due_at}"


class PruneRun(models.Model):
    """One planned daily run of the pruning task (pruning.py), claimed by whoever enqueues
    it: the unique `run_at` lets one chain of daily runs exist however many workers, or starts
    of `prune_webhooks --schedule`, try to plan the next one (as follows.DigestRun does for
    the hourly digests)."""

    run_at = models.DateTimeField(_("run at"), unique=True)
    enqueued_at = models.DateTimeField(_("enqueued at"), default=timezone.now)
    task_id = models.CharField(_("task"), max_length=64, blank=True)

    class Meta:
        ordering = ["-run_at"]
        verbose_name = _("pruning run")
        verbose_name_plural = _("pruning runs")

    def __str__(self) -> str:
        return self.run_at.isoformat()
