"""Vocabularies of the review app. Each is backed by a CheckConstraint on its field."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProposalState(models.TextChoices):
    """Where a proposed status update stands. Pending and changes requested are open; the
    other three are final."""

    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# A proposal in these states may still be revised by its proposer, or withdrawn.
OPEN = (ProposalState.PENDING, ProposalState.CHANGES_REQUESTED)
# What a decision may move a proposal to (a revision moves it back to pending).
DECIDED = (
    ProposalState.APPROVED,
    ProposalState.REJECTED,
    ProposalState.CHANGES_REQUESTED,
    ProposalState.WITHDRAWN,
)
# Decisions whose text is required: the reason of a rejection, the changes requested.
EXPLAINED = (ProposalState.REJECTED, ProposalState.CHANGES_REQUESTED)
