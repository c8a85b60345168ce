"""Reads of the review app. Each queryset loads what its callers render, so a page of
proposals costs the same few queries whatever its size."""

from django.db.models import Prefetch, QuerySet

from .models import Proposal, ProposalDecision, ProposalEvidence, ProposalRevision

SEE_ALL_PERMISSION = "review.view_proposal"


def proposals() -> QuerySet[Proposal]:
    """Every proposal, newest first, with its measure (and pillar), proposer, approver,
    evidence, revisions and decisions (each with its author) loaded: four queries for any
    number of rows."""
    return (
        Proposal.objects.select_related("measure__pillar", "proposed_by", "approved_by")
        .prefetch_related(
            Prefetch("evidence_links", ProposalEvidence.objects.order_by("evidence_id")),
            Prefetch("revisions", ProposalRevision.objects.select_related("by").order_by("number")),
            Prefetch(
                "decisions", ProposalDecision.objects.select_related("by").order_by("at", "id")
            ),
        )
        .order_by("-id")
    )


def sees_every_proposal(user) -> bool:
    """Viewers, analysts and superusers see every proposal (`review.view_proposal`); anyone
    else (a reporter) only their own."""
    return user.is_authenticated and user.has_perm(SEE_ALL_PERMISSION)


def visible_proposals(user, rows: QuerySet[Proposal] | None = None) -> QuerySet[Proposal]:
    """The proposals `user` may see, of `rows` (by default proposals()): all of them, or
    their own."""
    rows = proposals() if rows is None else rows
    if sees_every_proposal(user):
        return rows
    if not user.is_authenticated:
        return rows.none()
    return rows.filter(proposed_by=user)
