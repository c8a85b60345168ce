"""Follows, digest settings, the digests sent and the hourly runs that send them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommendations.models import Measure, Pillar, Risk

from .choices import DigestState, Frequency, Language, Weekday

# What a follow may name: exactly one of these is set.
TARGETS = ("measure", "pillar", "risk")


def exactly_one_target() -> Q:
    """Exactly one of TARGETS is set."""
    return Q(
        *[Q(**{f"{name}__isnull": name != chosen for name in TARGETS}) for chosen in TARGETS],
        _connector=Q.OR,
    )


class Follow(models.Model):
    """A user following one measure, one pillar or one risk: what changes in it goes into the
    user's digest (a pillar's: every measure of it; a risk's: every measure addressing it).
    Means nothing without its user or its target."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="follows",
        verbose_name=_("user"),
    )
    measure = models.ForeignKey(
        Measure,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="follows",
        verbose_name=_("measure"),
    )
    pillar = models.ForeignKey(
        Pillar,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="follows",
        verbose_name=_("pillar"),
    )
    risk = models.ForeignKey(
        Risk,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="follows",
        verbose_name=_("risk"),
    )
    created_at = models.DateTimeField(_("followed since"), default=timezone.now)

    class Meta:
        ordering = ["user", "-created_at", "-id"]
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_target(), name="%(app_label)s_%(class)s_exactly_one_target"
            ),
            *[
                models.UniqueConstraint(
                    fields=["user", name],
                    condition=Q(**{f"{name}__isnull": False}),
                    name=f"%(app_label)s_%(class)s_unique_{name}",
                    violation_error_message=_("You already follow it."),
                )
                for name in TARGETS
            ],
        ]
        # The unique constraints serve "who follows this target" and "does this user follow
        # it"; this one serves a user's own list, newest first.
        indexes = [models.Index(fields=["user", "-created_at"], name="follow_user_created")]

    def __str__(self) -> str:
        return f"{self.user} → {self.target}"

    @property
    def kind(self) -> str:
        """Which of TARGETS is set ("measure", "pillar" or "risk")."""
        return next((name for name in TARGETS if getattr(self, f"{name}_id")), "")

    @property
    def target(self):
        return getattr(self, self.kind) if self.kind else None

    def clean(self) -> None:
        if sum(getattr(self, f"{name}_id") is not None for name in TARGETS) != 1:
            raise ValidationError(_("Follow exactly one measure, pillar or risk."))


class DigestSettings(models.Model):
    """How often, in which language and to which address a user's digest goes. One row per
    user, made with the defaults when the user first follows something."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digest_settings",
        verbose_name=_("user"),
    )
    frequency = models.CharField(
        _("frequency"), max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN
    )
    weekday = models.PositiveSmallIntegerField(
        _("weekday"),
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text=_("The day a weekly digest goes out; it covers the seven days before."),
    )
    email = models.EmailField(
        _("e-mail address"), blank=True, help_text=_("Empty: the account's own address.")
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["user"]
        verbose_name = _("digest settings")
        verbose_name_plural = _("digest settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(frequency__in=Frequency.values),
                name="%(app_label)s_%(class)s_frequency_valid",
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values),
                name="%(app_label)s_%(class)s_language_valid",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7),
                name="%(app_label)s_%(class)s_weekday_valid",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def address(self) -> str:
        """Where the digest goes: the address given here, else the account's ("" if none)."""
        return self.email or self.user.email


class DigestSent(models.Model):
    """One user's digest for one period, claimed before it is sent: the row's unique key is
    what keeps two workers, or two runs, from sending it twice. Written by the sending service
    only; read-only in the admin."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digests",
        verbose_name=_("user"),
    )
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), help_text=_("The period's last day."))
    state = models.CharField(_("state"), max_length=8, choices=DigestState.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    claimed_at = models.DateTimeField(_("claimed at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    email = models.EmailField(_("e-mail address"), blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    changes = models.PositiveIntegerField(
        _("changes"), default=0, help_text=_("How many changes the digest listed.")
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        verbose_name = _("digest sent")
        verbose_name_plural = _("digests sent")
        constraints = [
            # One digest per user, kind and period: a daily digest and a weekly one may start
            # on the same Monday (a user who switched), two daily ones may not.
            models.UniqueConstraint(
                fields=["user", "frequency", "period_start"],
                name="%(app_label)s_%(class)s_once_per_period",
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=[Frequency.DAILY, Frequency.WEEKLY]),
                name="%(app_label)s_%(class)s_frequency_valid",
            ),
            models.CheckConstraint(
                condition=Q(state__in=DigestState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="%(app_label)s_%(class)s_period_order",
            ),
        ]
        # Serves the admin's list, newest first, and its date hierarchy.
        indexes = [models.Index(fields=["claimed_at"], name="digestsent_claimed_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.period_start} – {self.period_end}"


class DigestRun(models.Model):
    """One planned run of the task that sends due digests, claimed by whoever enqueues it:
    the unique `run_at` lets one chain of hourly runs exist however many workers, or starts
    of `schedule_digests`, try to plan the next one."""

    run_at = models.DateTimeField(_("run at"), unique=True)
    enqueued_at = models.DateTimeField(_("enqueued at"), default=timezone.now)
    task_id = models.CharField(_("task"), max_length=64, blank=True)

    class Meta:
        ordering = ["-run_at"]
        verbose_name = _("digest run")
        verbose_name_plural = _("digest runs")

    def __str__(self) -> str:
        return self.run_at.isoformat()
