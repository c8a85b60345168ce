"""Status history: the append-only record of what analysts found, and when it was true."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import Confidence, Status
from .measures import Measure, check_state, state_constraints

# A note says why, in a few paragraphs; longer texts belong in evidence.
NOTE_MAX_LENGTH = 10_000


class StatusUpdate(models.Model):
    """One dated entry in a measure's status history. Rows are appended, never edited: a
    correction is a new row. The measure's current state is the entry with the latest
    (effective_date, recorded_at, id)."""

    measure = models.ForeignKey(
        Measure, on_delete=models.PROTECT, related_name="status_updates", verbose_name=_("measure")
    )
    status = models.CharField(_("status"), max_length=32, choices=Status.choices)
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), null=True, blank=True, help_text=_("Empty only when not assessed.")
    )
    confidence = models.CharField(
        _("confidence"),
        max_length=16,
        choices=Confidence.choices,
        blank=True,
        help_text=_("How sure the assessment is; empty only when not assessed."),
    )
    effective_date = models.DateField(
        _("effective date"), help_text=_("When the change happened in the world.")
    )
    recorded_at = models.DateTimeField(
        _("recorded at"), default=timezone.now, help_text=_("When the tracker learned of it.")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # History keeps its author: a user who recorded updates is deactivated, not deleted.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="status_updates",
        verbose_name=_("recorded by"),
    )
    note = models.TextField(_("note"), blank=True)
    # An entry that was proposed and approved (the review app): `recorded_by` said it, at
    # `proposed_at`; `approved_by` let it into history, at `recorded_at`. Empty otherwise.
    proposed_at = models.DateTimeField(_("proposed at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )

    class Meta:
        ordering = ["measure", "-effective_date", "-recorded_at", "-id"]
        verbose_name = _("status update")
        verbose_name_plural = _("status updates")
        constraints = [
            *state_constraints(),
            # Proposed and approved together, and never by one person (four eyes).
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True, proposed_at__isnull=True)
                | (
                    Q(approved_by__isnull=False, proposed_at__isnull=False)
                    & ~Q(approved_by=models.F("recorded_by"))
                ),
                name="%(app_label)s_%(class)s_approved_by_another",
            ),
            models.CheckConstraint(
                condition=Q(status=Status.NOT_ASSESSED, confidence="")
                | (~Q(status=Status.NOT_ASSESSED) & Q(confidence__in=Confidence.values)),
                name="%(app_label)s_%(class)s_confidence_iff_assessed",
            ),
        ]
        indexes = [
            # Serves "latest update per measure as of a date" (as_of listings, reports).
            models.Index(
                fields=["measure", "effective_date", "recorded_at", "id"],
                name="statusupdate_measure_asof_idx",
            ),
            # Serves reports' "changes effective in a period" and the feed's date filters.
            models.Index(fields=["effective_date"], name="statusupdate_effective_idx"),
            models.Index(fields=["recorded_at"], name="statusupdate_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.measure.code}: {self.get_status_display()} ({self.effective_date})"

    def clean(self) -> None:
        errors = check_state(self.status, self.progress)
        if self.status == Status.NOT_ASSESSED:
            if self.confidence:
                errors.setdefault(
                    "confidence", _("An update that assesses nothing has no confidence.")
                )
        elif self.confidence not in Confidence.values:
            errors.setdefault("confidence", _("Say how confident the assessment is."))
        if len(self.note) > NOTE_MAX_LENGTH:
            errors.setdefault(
                "note",
                _("A note holds at most %(limit)s characters; this one has %(length)s.")
                % {"limit": NOTE_MAX_LENGTH, "length": len(self.note)},
            )
        if errors:
            raise ValidationError(errors)
