"""Proposals: status updates waiting for a second person's approval, with every revision and
every decision kept; and the institutions a reporter reports for.

A proposal holds the update as its latest revision says it (so lists read one row), and is
the only row here that changes: its revisions (ProposalRevision) and decisions
(ProposalDecision) are appended, never changed, and the database refuses to change or
delete them (migration 0002, the triggers of recommendations/migrations/_append_only.py).
An approved proposal points at the status update it became.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from evidence.models import Evidence
from recommendations.choices import Confidence, Status
from recommendations.models import Institution, Measure, StatusUpdate
from recommendations.models.measures import state_constraints

from .choices import DECIDED, EXPLAINED, ProposalState


def update_constraints() -> list[models.CheckConstraint]:
    """What holds for every row that states a proposed update: the state rules of history,
    a confidence, and a status a new entry may say (never "not assessed")."""
    return [
        *state_constraints(),
        models.CheckConstraint(
            condition=Q(confidence__in=Confidence.values),
            name="%(app_label)s_%(class)s_confidence_valid",
        ),
        models.CheckConstraint(
            condition=~Q(status=Status.NOT_ASSESSED),
            name="%(app_label)s_%(class)s_status_recordable",
        ),
    ]


class ProposedUpdate(models.Model):
    """The fields of a status update, as recommendations.services.record_status_update takes
    them."""

    status = models.CharField(_("status"), max_length=32, choices=Status.choices)
    progress = models.PositiveSmallIntegerField(_("progress (%)"))
    confidence = models.CharField(_("confidence"), max_length=16, choices=Confidence.choices)
    effective_date = models.DateField(
        _("effective date"), help_text=_("When the change happened in the world.")
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        abstract = True


class Proposal(ProposedUpdate):
    """A status update proposed for a measure, as its latest revision says it, and where its
    review stands. Approved, it has become `status_update`, recorded through
    record_status_update; it never changes a measure's state before then."""

    measure = models.ForeignKey(
        Measure, on_delete=models.PROTECT, related_name="proposals", verbose_name=_("measure")
    )
    state = models.CharField(
        _("review state"),
        max_length=32,
        choices=ProposalState.choices,
        default=ProposalState.PENDING,
    )
    evidence = models.ManyToManyField(
        Evidence,
        through="ProposalEvidence",
        related_name="proposals",
        blank=True,
        verbose_name=_("evidence"),
    )
    revision = models.PositiveIntegerField(
        _("revision"), default=1, help_text=_("The number of its latest revision.")
    )
    version = models.PositiveIntegerField(
        _("version"), default=1, help_text=_("Goes up on every change: a revision or a decision.")
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # Who proposed what stays known: a user with proposals is deactivated, not deleted.
        on_delete=models.PROTECT,
        related_name="proposals",
        verbose_name=_("proposed by"),
    )
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed at"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_proposals",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    status_update = models.OneToOneField(
        StatusUpdate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="proposal",
        verbose_name=_("status update"),
        help_text=_("The entry of the measure's history the approved proposal became."),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        # Approving, rejecting and requesting changes (proposing is `add_proposal`).
        permissions = [("review_proposal", "Can review proposals")]
        constraints = [
            *update_constraints(),
            models.CheckConstraint(
                condition=Q(state__in=ProposalState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            # Approved exactly when it has become an entry of history, with who and when.
            models.CheckConstraint(
                condition=Q(
                    state=ProposalState.APPROVED,
                    status_update__isnull=False,
                    approved_by__isnull=False,
                    approved_at__isnull=False,
                )
                | (
                    ~Q(state=ProposalState.APPROVED)
                    & Q(
                        status_update__isnull=True,
                        approved_by__isnull=True,
                        approved_at__isnull=True,
                    )
                ),
                name="%(app_label)s_%(class)s_approved_iff_recorded",
            ),
            # Four eyes: nobody approves their own proposal.
            models.CheckConstraint(
                condition=~Q(approved_by=F("proposed_by")),
                name="%(app_label)s_%(class)s_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(revision__gte=1, version__gte=1),
                name="%(app_label)s_%(class)s_counts_positive",
            ),
        ]
        indexes = [models.Index(fields=["state", "id"], name="proposal_state_idx")]

    def __str__(self) -> str:
        return f"{self.measure.code}: {self.get_status_display()} ({self.effective_date})"


class ProposalEvidence(models.Model):
    """A piece of evidence the proposal's latest revision cites. Replaced with each revision
    (each revision's own list is kept in ProposalRevision.evidence)."""

    proposal = models.ForeignKey(
        Proposal,
        on_delete=models.CASCADE,
        related_name="evidence_links",
        verbose_name=_("proposal"),
    )
    evidence = models.ForeignKey(
        Evidence,
        on_delete=models.PROTECT,
        related_name="proposal_links",
        verbose_name=_("evidence"),
    )

    class Meta:
        ordering = ["proposal", "evidence"]
        verbose_name = _("evidence of a proposal")
        verbose_name_plural = _("evidence of proposals")
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "evidence"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} ← {self.evidence_id}"


class ProposalRevision(ProposedUpdate):
    """One version of a proposal as its proposer submitted it: the first submission is
    revision 1. Appended, never changed."""

    proposal = models.ForeignKey(
        Proposal, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("proposal")
    )
    number = models.PositiveIntegerField(_("revision"))
    evidence = models.JSONField(
        _("evidence"), default=list, help_text=_("The ids of the evidence it cited.")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        ordering = ["proposal", "number"]
        verbose_name = _("revision of a proposal")
        verbose_name_plural = _("revisions of proposals")
        constraints = [
            *update_constraints(),
            models.UniqueConstraint(
                fields=["proposal", "number"], name="%(app_label)s_%(class)s_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} r{self.number}"


class ProposalDecision(models.Model):
    """A decision on a proposal: approved, rejected (with the reason), changes requested (with
    the comment), or withdrawn by its proposer. Appended, never changed."""

    proposal = models.ForeignKey(
        Proposal, on_delete=models.PROTECT, related_name="decisions", verbose_name=_("proposal")
    )
    state = models.CharField(
        _("decision"),
        max_length=32,
        choices=[(state.value, state.label) for state in DECIDED],
        help_text=_("The state the decision moved the proposal to."),
    )
    revision = models.PositiveIntegerField(_("revision"), help_text=_("The revision decided on."))
    text = models.TextField(
        _("reason or comment"),
        blank=True,
        help_text=_("Why it was rejected, or what should change."),
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    at = models.DateTimeField(_("decided at"), default=timezone.now)

    class Meta:
        ordering = ["proposal", "at", "id"]
        verbose_name = _("decision on a proposal")
        verbose_name_plural = _("decisions on proposals")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[state.value for state in DECIDED]),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[state.value for state in EXPLAINED]) | ~Q(text=""),
                name="%(app_label)s_%(class)s_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id}: {self.get_state_display()}"


class ReporterInstitution(models.Model):
    """An institution a user reports for. A user tied to institutions proposes updates only
    for the measures they are responsible for (as lead or in support)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reporter_institutions",
        verbose_name=_("user"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="reporters",
        verbose_name=_("institution"),
    )

    class Meta:
        ordering = ["user", "institution"]
        verbose_name = _("institution reported for")
        verbose_name_plural = _("institutions reported for")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "institution"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.institution}"
