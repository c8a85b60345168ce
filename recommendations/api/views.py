"""API v1 of the recommendations app. Reads come from selectors; writes go through the same
services as the admin, so the rules are the same."""

from functools import cached_property
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import COMMON_PARAMS, CursorPagination, check_query_params, etag, if_match_version
from config.conditional import ConditionalReads
from config.openapi import (
    ERRORS_READ,
    ERRORS_WRITE,
    ETAG_HEADER,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    with_errors,
)
from evidence.models import Evidence, EvidenceMeasure, StatusUpdateEvidence
from freshness.markers import tables_of

from .. import selectors, services
from ..models import (
    InnovationMechanism,
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    Risk,
    RiskMechanism,
    Scenario,
    StatusUpdate,
)
from . import rows
from . import serializers as s
from .filters import MeasureFilter, StatusUpdateFilter
from .history import HistoryPagination
from .idempotency import run_idempotent


class ReadOnlyViewSet(ConditionalReads, viewsets.ReadOnlyModelViewSet):
    write_permissions: dict = {}


# What a status update's body shows: its measure's code and state, author and evidence.
UPDATE_MODELS = (StatusUpdate, Measure, StatusUpdateEvidence, Evidence, get_user_model())
# What a measure's body shows (the state on `as_of` comes from its history).
MEASURE_MODELS = (
    Measure,
    Pillar,
    Measure.scenarios.through,
    Scenario,
    MeasureRisk,
    Risk,
    MeasureInstitution,
    Institution,
    EvidenceMeasure,
    StatusUpdate,
)


def status_update_review():
    """What decides whether a user's status updates are proposed for review instead of
    recorded, and proposes them: the module settings.STATUS_UPDATE_REVIEW names (the review
    app's, with needs_review(user) and propose(request, measure_id)); None without one."""
    path = settings.STATUS_UPDATE_REVIEW
    return import_module(path) if path else None


def may_write_status_update(request) -> bool:
    """Record one (`add_statusupdate`), or propose one if the user's updates go to review."""
    review = status_update_review()
    if review is not None and review.needs_review(request.user):
        return True
    return request.user.has_perm("recommendations.add_statusupdate")


class AsOfSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False)


RECORDED = {
    "id": 412,
    "url": "http://127.0.0.1:8000/api/v1/status-updates/412/",
    "measure": 8,
    "measure_code": "3.2",
    "status": "in_progress",
    "progress": 30,
    "confidence": "medium",
    "effective_date": "2026-06-01",
    "recorded_at": "2026-06-02T09:15:04.120000Z",
    "recorded_by": "alice",
    "proposed_at": None,
    "approved_by": None,
    "note": "Pilot under way in two banks",
    "evidence": [],
    "cited_evidence": [],
    "measure_state": {
        "id": 8,
        "code": "3.2",
        "status": "in_progress",
        "progress": 30,
        "status_effective_date": "2026-06-01",
        "version": 2,
    },
}
STATUS_UPDATE_EXAMPLES = [
    OpenApiExample(
        "An update in progress",
        request_only=True,
        value={
            "status": "in_progress",
            "progress": 30,
            "effective_date": "2026-06-01",
            "confidence": "medium",
            "note": "Pilot under way in two banks",
            "evidence": [],
        },
    ),
    OpenApiExample("Recorded", response_only=True, status_codes=["201"], value=RECORDED),
    OpenApiExample(
        "Replayed",
        response_only=True,
        status_codes=["201"],
        description="A retry with the same Idempotency-Key and body: the first response "
        "again, with the header Idempotent-Replayed: true. Nothing is written.",
        value=RECORDED,
    ),
    OpenApiExample(
        "Stale If-Match",
        response_only=True,
        status_codes=["412"],
        value={
            "detail": "Measure 3.2 has changed since you loaded it (you have version 2, it is "
            "now at version 3). Reload it and try again.",
            "current_version": 3,
        },
    ),
    OpenApiExample(
        "A rule refused it",
        response_only=True,
        status_codes=["400"],
        value={
            "note": ["Moving from “Implemented” back to “In progress” needs a note saying why."]
        },
    ),
]

# The review app's answer (status_update_review), by name: its component is in the schema.
PROPOSED = OpenApiResponse(
    {"$ref": "#/components/schemas/Proposal"},
    "Proposed for review, not recorded: the user's updates need a second person's approval "
    "(a reporter's; an analyst's with REVIEW_ANALYST_UPDATES). The body is the proposal, "
    "Location its address (GET /api/v1/proposals/{id}/). The measure is unchanged.",
)

AS_OF = OpenApiParameter(
    "as_of",
    OpenApiTypes.DATE,
    description="Give each measure's status, progress and status_effective_date as they stood "
    "on this date according to history (back-dated updates included). Measures whose history "
    "had not begun by then are left out. Filters and ordering apply to the state then.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List pillars", responses=with_errors(s.PillarSerializer, ERRORS_READ)
    ),
    retrieve=extend_schema(
        summary="Get a pillar", responses=with_errors(s.PillarSerializer, ERRORS_READ)
    ),
)
class PillarViewSet(ReadOnlyViewSet):
    """The five policy pillars, each with its measure count, counts by status and mean
    progress (over non-archived measures)."""

    serializer_class = s.PillarSerializer
    pagination_class = None
    freshness_models = (Pillar, Measure)

    def get_queryset(self):
        return selectors.pillars_with_counts()


@extend_schema_view(
    list=extend_schema(
        summary="List measures",
        parameters=[AS_OF],
        responses=with_errors(s.MeasureSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a measure",
        parameters=[AS_OF, ETAG_HEADER],
        responses=with_errors(s.MeasureSerializer, ERRORS_READ),
    ),
)
class MeasureViewSet(
    ConditionalReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Measures with their current state, or with the state they had on `as_of`."""

    serializer_class = s.MeasureSerializer
    filterset_class = MeasureFilter
    search_fields = ("code", "title_zh", "title_en", "description_zh", "description_en")
    ordering_fields = ("code", "progress", "status_effective_date", "updated_at")
    ordering = ("code",)
    extra_query_params = ("as_of",)
    conditional_actions = ("list", "retrieve", "status_updates")
    write_permissions = {
        "partial_update": "recommendations.change_measure",
        "status_updates": may_write_status_update,
    }

    @cached_property
    def as_of(self):
        params = AsOfSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)  # a malformed date is a 400
        return params.validated_data.get("as_of")

    def freshness_tables(self):
        return tables_of(*(UPDATE_MODELS if self.action == "status_updates" else MEASURE_MODELS))

    def get_queryset(self):
        if self.action == "list" or self.action == "retrieve":
            day = self.as_of
            if day:
                return selectors.measures_as_of(day=day)
        return selectors.measures_current()

    def ordering_aliases(self) -> dict:
        if not self.as_of:
            return {}
        return {"progress": "progress_then", "status_effective_date": "status_effective_date_then"}

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action in ("list", "retrieve"):
            context["as_of"] = self.as_of
        return context

    def list(self, request, *args, **kwargs):
        # The same JSON as MeasureSerializer, built from plain rows (api/rows.py): lists are
        # what integrations poll.
        queryset = self.filter_queryset(rows.measure_rows_queryset(self.as_of))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(rows.measure_rows(page, request, self.as_of))

    def retrieve(self, request, *args, **kwargs):
        measure = self.get_object()
        headers = {} if self.as_of else {"ETag": etag(measure.version)}
        return Response(self.get_serializer(measure).data, headers=headers)

    @extend_schema(
        summary="Change a measure's descriptive fields",
        request=s.MeasureUpdateInputSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(s.MeasureSerializer, ERRORS_WRITE),
    )
    def partial_update(self, request, pk=None):
        """Change title, description, priority, target date, reassessment interval or the
        archived flag. The state comes from status updates and cannot be set here. With
        If-Match, a stale version is refused with 412; a stale `version` in the body with 400."""
        measure = get_object_or_404(Measure, pk=pk)
        data = s.MeasureUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        body_version = changes.pop("version", None)
        version = if_match_version(request)
        services.update_measure(
            measure=measure,
            changes=changes,
            by=request.user,
            expected_version=version if version is not None else body_version,
        )
        fresh = selectors.measures_current().get(pk=measure.pk)
        return Response(self.get_serializer(fresh).data, headers={"ETag": etag(fresh.version)})

    @extend_schema(
        methods=["GET"],
        summary="A measure's status history, latest first",
        responses=with_errors(s.HistoryEntrySerializer(many=True), ERRORS_READ),
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a status update",
        request=s.StatusUpdateInputSerializer,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG_HEADER],
        responses={
            **with_errors(s.RecordedStatusUpdateSerializer, ERRORS_WRITE, created=True),
            202: PROPOSED,
        },
        examples=STATUS_UPDATE_EXAMPLES,
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="status-updates",
        filter_backends=[],
        pagination_class=HistoryPagination,
    )
    def status_updates(self, request, pk=None):
        """GET: the history, latest first, in pages that follow `next` (the first pages may
        also be asked for by number); a deep page costs what the first does. POST: append an
        update through the same service as the admin (same rules); the measure's new version
        comes back as the ETag. A user whose updates need review (a reporter) proposes it
        instead: 202, the proposal, and its address in Location."""
        if request.method == "POST":
            review = status_update_review()
            if review is not None and review.needs_review(request.user):
                # Proposed for review instead: 202 with the proposal (the review app).
                return run_idempotent(request, lambda: review.propose(request, pk))
            # The service reads and locks the measure itself: no read of it before.
            return run_idempotent(request, lambda: self._record(request, int(pk)))
        measure = get_object_or_404(Measure, pk=pk)
        check_query_params(request, {*COMMON_PARAMS, "cursor", "page", "page_size"})
        page = self.paginate_queryset(
            lambda after: selectors.measure_history(measure=measure, after=after)
        )
        data = s.HistoryEntrySerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def _record(self, request, pk: int):
        data = s.StatusUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        body_version = fields.pop("version", None)
        version = if_match_version(request)
        try:
            update = services.record_status_update(
                measure=pk,
                by=request.user,
                **fields,
                expected_version=version if version is not None else body_version,
            )
        except Measure.DoesNotExist:
            raise Http404 from None
        # RecordedStatusUpdateSerializer's body, from what the service has loaded.
        body = rows.recorded_update(update, request)
        return Response(
            body,
            status=201,
            headers={"ETag": etag(update.measure.version), "Location": body["url"]},
        )


@extend_schema_view(
    list=extend_schema(
        summary="Feed of status updates, in recording order",
        responses=with_errors(s.StatusUpdateSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a status update", responses=with_errors(s.StatusUpdateSerializer, ERRORS_READ)
    ),
)
class StatusUpdateViewSet(ReadOnlyViewSet):
    """Every status update of every measure, in the order they were recorded. Page with the
    `next` cursor: an integration that keeps the last cursor gets everything since, with no
    gaps and no duplicates. Status updates are never changed or deleted."""

    serializer_class = s.StatusUpdateSerializer
    filterset_class = StatusUpdateFilter
    pagination_class = CursorPagination
    freshness_models = UPDATE_MODELS

    def get_queryset(self):
        return selectors.status_history().order_by("id")

    def list(self, request, *args, **kwargs):
        # The same JSON as StatusUpdateSerializer, built from plain rows (api/rows.py).
        page = self.paginate_queryset(self.filter_queryset(rows.update_rows_queryset()))
        return self.get_paginated_response(rows.update_rows(page, request))


@extend_schema_view(
    list=extend_schema(summary="List risks", responses=with_errors(s.RiskSerializer, ERRORS_READ)),
    retrieve=extend_schema(
        summary="Get a risk", responses=with_errors(s.RiskSerializer, ERRORS_READ)
    ),
)
class RiskViewSet(ReadOnlyViewSet):
    """The risks the measures address, with their mechanisms and their mitigating measures'
    current status."""

    serializer_class = s.RiskSerializer
    pagination_class = None
    freshness_models = (Risk, RiskMechanism, MeasureRisk, Measure)

    def get_queryset(self):
        return selectors.risks_with_measures()


@extend_schema_view(
    list=extend_schema(
        summary="List application scenarios",
        responses=with_errors(s.ScenarioSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get an application scenario",
        responses=with_errors(s.ScenarioSerializer, ERRORS_READ),
    ),
)
class ScenarioViewSet(ReadOnlyViewSet):
    """The application directions of generative AI in finance."""

    serializer_class = s.ScenarioSerializer
    pagination_class = None
    freshness_models = (Scenario,)
    queryset = Scenario.objects.all()


@extend_schema_view(
    list=extend_schema(
        summary="List innovation mechanisms",
        responses=with_errors(s.InnovationMechanismSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get an innovation mechanism",
        responses=with_errors(s.InnovationMechanismSerializer, ERRORS_READ),
    ),
)
class InnovationMechanismViewSet(ReadOnlyViewSet):
    """The ways generative AI promotes financial innovation."""

    serializer_class = s.InnovationMechanismSerializer
    pagination_class = None
    freshness_models = (InnovationMechanism,)
    queryset = InnovationMechanism.objects.all()


@extend_schema_view(
    list=extend_schema(
        summary="List institutions", responses=with_errors(s.InstitutionSerializer, ERRORS_READ)
    ),
    retrieve=extend_schema(
        summary="Get an institution", responses=with_errors(s.InstitutionSerializer, ERRORS_READ)
    ),
)
class InstitutionViewSet(ReadOnlyViewSet):
    """Regulators, banks, firms and forums named by the tracker."""

    serializer_class = s.InstitutionSerializer
    queryset = Institution.objects.all()
    freshness_models = (Institution,)
