"""API v1 of the review app: proposed status updates, their revisions and decisions. Reads
come from selectors; every write goes through review.services. Proposals are made by
POST /api/v1/measures/{id}/status-updates/ when the user's updates need review (hook.py)."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import Conflict, TrackerPermission, etag, if_match_version
from config.conditional import ConditionalReads
from config.openapi import ERRORS_READ, ERRORS_WRITE, IDEMPOTENCY_KEY, with_errors
from recommendations.api.idempotency import run_idempotent
from recommendations.models import Measure, Pillar

from .. import selectors, services
from ..models import Proposal, ProposalDecision, ProposalEvidence, ProposalRevision
from . import serializers as s
from .filters import ProposalFilter

# What a proposal's body shows.
PROPOSAL_MODELS = (
    Proposal,
    ProposalEvidence,
    ProposalRevision,
    ProposalDecision,
    Measure,
    Pillar,
    get_user_model(),
)


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The proposal\'s ETag as you last saw it, such as "2". If it was revised or '
    "decided on since, the write is refused with 412 and nothing is written.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="The proposal's version, for If-Match on the next write.",
)


class ProposalPermission(TrackerPermission):
    """As every endpoint (a role to read; writes need the permission the action names), but
    never anonymous, whatever API_ANONYMOUS_READ says: proposals are claims nobody has
    accepted yet, and they name who made them."""

    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated and super().has_permission(request, view)


def answer(request, proposal: Proposal, **kwargs) -> Response:
    """The proposal's body as it now is, with its version as the ETag."""
    fresh = selectors.proposals().get(pk=proposal.pk)
    body = s.ProposalSerializer(fresh, context={"request": request}).data
    return Response(body, headers={"ETag": etag(fresh.version)}, **kwargs)


def write_version(request, data: dict) -> int | None:
    """The version a write expects: If-Match's, else the body's `version`."""
    version = if_match_version(request)
    body_version = data.pop("version", None)
    return version if version is not None else body_version


DECISION_ERRORS = with_errors(s.ProposalSerializer, ERRORS_WRITE)


def decision_schema(summary: str, request, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG_HEADER],
        responses=DECISION_ERRORS,
        examples=[
            OpenApiExample(
                "Decided already",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "Proposal 7 is “Approved”: only a pending proposal can be approved."
                },
            )
        ],
    )


@extend_schema_view(
    list=extend_schema(
        summary="List proposed status updates",
        responses=with_errors(s.ProposalSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a proposed status update",
        parameters=[ETAG_HEADER],
        responses=with_errors(s.ProposalSerializer, ERRORS_READ),
    ),
    partial_update=extend_schema(
        summary="Revise a proposal",
        request=s.ProposalRevisionInputSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(s.ProposalSerializer, ERRORS_WRITE),
    ),
)
class ProposalViewSet(
    ConditionalReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Status updates proposed for review, newest first: pending, approved (with the entry of
    history each became), rejected, changes requested or withdrawn, each with every revision
    and decision. Reporters see their own; viewers, analysts and superusers see all. A
    proposal never changes a measure's state until it is approved."""

    serializer_class = s.ProposalSerializer
    filterset_class = ProposalFilter
    permission_classes = [ProposalPermission]
    freshness_models = PROPOSAL_MODELS
    write_permissions = {
        "partial_update": services.PROPOSE_PERMISSION,
        "withdraw": services.PROPOSE_PERMISSION,
        "approve": services.REVIEW_PERMISSION,
        "reject": services.REVIEW_PERMISSION,
        "request_changes": services.REVIEW_PERMISSION,
    }

    def get_queryset(self):
        return selectors.visible_proposals(self.request.user)

    def handle_exception(self, exc):
        # Decided, withdrawn or revised in between: the proposal's state conflicts.
        if isinstance(exc, services.TransitionRefused):
            exc = Conflict(exc.messages[0])
        return super().handle_exception(exc)

    def visible(self, pk) -> Proposal:
        """The proposal, if the user may see it (a 404 otherwise), without what its body
        shows: a write reads it again once written."""
        return get_object_or_404(
            selectors.visible_proposals(self.request.user, Proposal.objects.all()), pk=pk
        )

    def retrieve(self, request, *args, **kwargs):
        proposal = self.get_object()
        return Response(
            self.get_serializer(proposal).data, headers={"ETag": etag(proposal.version)}
        )

    def partial_update(self, request, pk=None):
        """A new revision, by its proposer, of a pending proposal or one with changes
        requested: any of the update's fields (the others are kept; `evidence` is the whole
        list). It is checked by the same rules as a status update, and is pending again.
        Every revision is kept in `revisions`. With If-Match, a stale version is a 412."""
        proposal = self.visible(pk)
        data = s.ProposalRevisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        version = write_version(request, changes)
        services.revise(
            proposal=proposal, changes=changes, by=request.user, expected_version=version
        )
        return answer(request, proposal)

    def decide(self, request, pk, serializer_class, decide) -> Response:
        proposal = self.visible(pk)

        def handler():
            data = serializer_class(data=request.data)
            data.is_valid(raise_exception=True)
            fields = dict(data.validated_data)
            version = write_version(request, fields)
            decide(proposal=proposal, by=request.user, expected_version=version, **fields)
            return answer(request, proposal)

        return run_idempotent(request, handler)

    @decision_schema(
        "Approve a proposal",
        s.DecisionInputSerializer,
        "Record the proposal through the same service as any status update, which checks "
        "every rule again against the measure's state now; it becomes that entry of history "
        "(`status_update`). Needs a reviewer who did not propose it (four eyes: 403). Of two "
        "reviewers deciding at once, one wins; the other gets 409.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self.decide(request, pk, s.DecisionInputSerializer, services.approve)

    @decision_schema(
        "Reject a proposal",
        s.RejectInputSerializer,
        "Final; `reason` is required. Needs a reviewer who did not propose it.",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self.decide(request, pk, s.RejectInputSerializer, services.reject)

    @decision_schema(
        "Request changes to a proposal",
        s.RequestChangesInputSerializer,
        "Send it back to its proposer with a `comment` (required) saying what should change; "
        "a revision (PATCH) makes it pending again. Needs a reviewer who did not propose it.",
    )
    @action(detail=True, methods=["post"], url_path="request-changes", url_name="request-changes")
    def request_changes(self, request, pk=None):
        return self.decide(request, pk, s.RequestChangesInputSerializer, services.request_changes)

    @decision_schema(
        "Withdraw a proposal",
        s.DecisionInputSerializer,
        "Final; only its proposer may, while it is pending or has changes requested.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self.decide(request, pk, s.DecisionInputSerializer, services.withdraw)
