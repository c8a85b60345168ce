"""Reads of the review app. Each queryset loads what its callers render, so a page of
proposals costs the same few queries whatever its size."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from .choices import OPEN, ProposalState
from .models import Proposal, ProposalDecision, ProposalEvidence, ProposalRevision

SEE_ALL_PERMISSION = "review.view_proposal"

# How many pending proposals the admin's home page shows a reviewer (the oldest: they have
# waited longest), and how many of a proposer's own open and recently decided ones.
QUEUE_SHOWN = 10
OWN_SHOWN = 10


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


def with_latest_decision(rows: QuerySet[Proposal]) -> QuerySet[Proposal]:
    """`rows` with their measure and proposer, and their latest decision as annotations
    (`decided_state`, `decided_text`, `decided_by`: a username, `decided_at`; None when
    none): the comment a proposal pending again was sent back with, or why it was rejected.
    One query, whatever the rows and their decisions."""
    latest = ProposalDecision.objects.filter(proposal=OuterRef("pk")).order_by("-at", "-id")
    return rows.select_related("measure", "proposed_by").annotate(
        decided_state=Subquery(latest.values("state")[:1]),
        decided_text=Subquery(latest.values("text")[:1]),
        decided_by=Subquery(latest.values("by__username")[:1]),
        decided_at=Subquery(latest.values("at")[:1]),
    )


def with_review_panel(rows: QuerySet[Proposal]) -> QuerySet[Proposal]:
    """`rows` with all a review panel shows: with_latest_decision, and the evidence cited
    (each piece's id, key and claim): two queries for any number of rows."""
    cited = ProposalEvidence.objects.select_related("evidence").only(
        "proposal", "evidence", "evidence__key", "evidence__claim_zh", "evidence__claim_en"
    )
    return with_latest_decision(rows).prefetch_related(
        Prefetch("evidence_links", cited.order_by("evidence_id"))
    )


def review_queue(*, limit: int = QUEUE_SHOWN) -> tuple[list[Proposal], int]:
    """The first `limit` pending proposals, oldest first, ready for their review panels, and
    how many are pending in all. Three queries (the count; the rows; their evidence), both
    read from the index on (state, id)."""
    pending = Proposal.objects.filter(state=ProposalState.PENDING)
    rows = list(with_review_panel(pending).order_by("id")[:limit])
    return rows, pending.count()


def own_proposals(user, *, limit: int = OWN_SHOWN) -> tuple[list[Proposal], list[Proposal]]:
    """`user`'s open proposals (pending, or with changes requested), oldest first, and
    their latest final ones (approved, rejected, withdrawn), the last decided first: at most
    `limit` of each, with their latest decision. Two queries."""
    mine = with_latest_decision(Proposal.objects.filter(proposed_by=user))
    open_ = list(mine.filter(state__in=OPEN).order_by("id")[:limit])
    decided = list(mine.exclude(state__in=OPEN).order_by("-updated_at", "-id")[:limit])
    return open_, decided
