"""Measures: the concrete steps of each pillar, with their current state and their links."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import InstitutionRole, Priority, Status
from ..text import localized
from .concepts import Institution, Pillar, Risk, Scenario

# Constraints shared by every row that holds a state (a measure's current one, or an update).
STATE_RULES = (
    ("progress_range", Q(progress__isnull=True) | Q(progress__gte=0, progress__lte=100)),
    # Progress is empty exactly when nobody has assessed the measure.
    (
        "progress_empty_iff_not_assessed",
        Q(status=Status.NOT_ASSESSED, progress__isnull=True)
        | (~Q(status=Status.NOT_ASSESSED) & Q(progress__isnull=False)),
    ),
    ("not_started_is_zero", ~Q(status=Status.NOT_STARTED) | Q(progress=0)),
    ("implemented_is_full", ~Q(status=Status.IMPLEMENTED) | Q(progress=100)),
    ("status_valid", Q(status__in=Status.values)),
)


def state_constraints() -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=condition, name=f"%(app_label)s_%(class)s_{rule}")
        for rule, condition in STATE_RULES
    ]


def check_state(status: str, progress: int | None) -> dict[str, str]:
    """Field errors for a status and progress that break a rule of STATE_RULES, in words."""
    if status not in Status.values:
        return {"status": _("“%(status)s” is not a known status.") % {"status": status}}
    if status == Status.NOT_ASSESSED:
        if progress is not None:
            return {"progress": _("A measure that has not been assessed has no progress.")}
        return {}
    if progress is None:
        return {"progress": _("Give the progress as a percentage from 0 to 100.")}
    if not 0 <= progress <= 100:
        return {"progress": _("Progress is a percentage from 0 to 100.")}
    if status == Status.NOT_STARTED and progress != 0:
        return {"progress": _("A measure that has not started is at 0%.")}
    if status == Status.IMPLEMENTED and progress != 100:
        return {"progress": _("An implemented measure is at 100%.")}
    return {}


class Measure(models.Model):
    """One concrete measure of a pillar (the paper's 第一/第二/第三).

    Its current state (status, progress, status_effective_date) is stored on the row for fast
    reads and is always the latest entry of its history: only services.refresh_current_state
    writes it. `version` goes up by one on every change, for optimistic concurrency.
    """

    pillar = models.ForeignKey(
        Pillar, on_delete=models.PROTECT, related_name="measures", verbose_name=_("pillar")
    )
    code = models.CharField(
        _("code"), max_length=32, unique=True, help_text=_("Pillar and position, such as 3.2.")
    )
    title_zh = models.CharField(_("title (Chinese)"), max_length=255)
    title_en = models.CharField(_("title (English)"), max_length=255)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    institutions = models.ManyToManyField(
        Institution,
        through="MeasureInstitution",
        related_name="measures",
        blank=True,
        verbose_name=_("responsible institutions"),
    )
    scenarios = models.ManyToManyField(
        Scenario, related_name="measures", blank=True, verbose_name=_("application scenarios")
    )
    risks = models.ManyToManyField(
        Risk,
        through="MeasureRisk",
        related_name="measures",
        blank=True,
        verbose_name=_("risks mitigated"),
    )
    priority = models.CharField(
        _("priority"), max_length=16, choices=Priority.choices, blank=True, default=""
    )
    target_date = models.DateField(_("target date"), null=True, blank=True)
    review_every_days = models.PositiveSmallIntegerField(
        _("reassess every (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("A measure with no update for this long is due for reassessment."),
    )
    archived = models.BooleanField(
        _("archived"), default=False, help_text=_("Archived measures take no new updates.")
    )
    # Current state, derived from history (services.refresh_current_state).
    status = models.CharField(
        _("status"),
        max_length=32,
        choices=Status.choices,
        default=Status.NOT_ASSESSED,
        editable=False,
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), null=True, editable=False)
    status_effective_date = models.DateField(_("status since"), null=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("last changed at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("measure")
        verbose_name_plural = _("measures")
        constraints = [
            *state_constraints(),
            models.CheckConstraint(
                condition=Q(priority__in=["", *Priority.values]),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_every_days__gte=1, review_every_days__lte=3650),
                name="%(app_label)s_%(class)s_review_interval_range",
            ),
        ]
        indexes = [
            # Serves the API's `updated_since` filter and "last changed" ordering.
            models.Index(fields=["updated_at"], name="measure_updated_at_idx"),
            # Serves the status filter of the measure list.
            models.Index(fields=["status", "code"], name="measure_status_code_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {localized(self, 'title')}"

    def clean(self) -> None:
        errors = check_state(self.status, self.progress)
        if errors:
            raise ValidationError(errors)


class MeasureInstitution(models.Model):
    """An institution responsible for a measure, as lead or in support."""

    measure = models.ForeignKey(
        Measure,
        on_delete=models.CASCADE,
        related_name="institution_links",
        verbose_name=_("measure"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="measure_links",
        verbose_name=_("institution"),
    )
    role = models.CharField(_("role"), max_length=16, choices=InstitutionRole.choices)
    note_zh = models.TextField(_("note (Chinese)"), blank=True)
    note_en = models.TextField(_("note (English)"), blank=True)

    class Meta:
        ordering = ["measure", "role", "institution"]
        verbose_name = _("responsible institution")
        verbose_name_plural = _("responsible institutions")
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "institution"], name="%(app_label)s_%(class)s_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=InstitutionRole.values),
                name="%(app_label)s_%(class)s_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure.code} – {self.institution} ({self.get_role_display()})"


class MeasureRisk(models.Model):
    """A risk a measure mitigates, and why the tracker says so."""

    measure = models.ForeignKey(
        Measure, on_delete=models.CASCADE, related_name="risk_links", verbose_name=_("measure")
    )
    risk = models.ForeignKey(
        Risk, on_delete=models.PROTECT, related_name="measure_links", verbose_name=_("risk")
    )
    rationale_zh = models.TextField(_("rationale (Chinese)"), blank=True)
    rationale_en = models.TextField(_("rationale (English)"), blank=True)

    class Meta:
        ordering = ["measure", "risk"]
        verbose_name = _("risk mitigated")
        verbose_name_plural = _("risks mitigated")
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "risk"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure.code} – {self.risk}"
