"""API v1 of the evidence app: read, create and change sources and evidence."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from config.api import COMMON_PARAMS, check_query_params, etag, if_match_version
from config.conditional import ConditionalReads
from config.openapi import (
    ERRORS_READ,
    ERRORS_WRITE,
    ETAG_HEADER,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    with_errors,
)
from recommendations.api.idempotency import run_idempotent

from .. import selectors, services
from ..models import Evidence
from .filters import EvidenceFilter, SourceFilter
from .serializers import (
    EvidenceInputSerializer,
    EvidenceRevisionSerializer,
    EvidenceSerializer,
    SourceSerializer,
)

VERSION_PATH = OpenApiParameter(
    "version", int, OpenApiParameter.PATH, description="The revision's version number."
)


class WritableViewSet(
    ConditionalReads,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, retrieve, create (idempotently) and update; nothing is deleted here. A record's
    version is its ETag; an update with a stale If-Match is refused with 412, one with a stale
    `version` in the body with 400."""

    def create(self, request, *args, **kwargs):
        return run_idempotent(request, lambda: self.save(request, instance=None))

    def retrieve(self, request, *args, **kwargs):
        record = self.get_object()
        return Response(self.get_serializer(record).data, headers={"ETag": etag(record.version)})

    def update(self, request, *args, partial=False, **kwargs):
        return self.save(request, instance=self.get_object(), partial=partial)


def expected_version(request, data: dict, instance) -> int | None:
    """The version an update expects: If-Match's, else the body's `version`; none on a create."""
    if instance is None:
        return None
    version = if_match_version(request)
    return version if version is not None else data.get("version")


@extend_schema_view(
    list=extend_schema(
        summary="List evidence", responses=with_errors(EvidenceSerializer, ERRORS_READ)
    ),
    retrieve=extend_schema(
        summary="Get a piece of evidence",
        parameters=[ETAG_HEADER],
        responses=with_errors(EvidenceSerializer, ERRORS_READ),
    ),
    create=extend_schema(
        summary="Add a piece of evidence",
        request=EvidenceInputSerializer,
        parameters=[IDEMPOTENCY_KEY, ETAG_HEADER],
        responses=with_errors(EvidenceSerializer, ERRORS_WRITE, created=True),
    ),
    update=extend_schema(
        summary="Replace a piece of evidence",
        request=EvidenceInputSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(EvidenceSerializer, ERRORS_WRITE),
    ),
    partial_update=extend_schema(
        summary="Change a piece of evidence",
        request=EvidenceInputSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(EvidenceSerializer, ERRORS_WRITE),
    ),
)
class EvidenceViewSet(WritableViewSet):
    """Claims, figures and cases with their source, figures and links to measures, risks,
    scenarios and innovation mechanisms (each with a stance). Lists given on a write replace
    the old ones; the whole piece is saved in one transaction."""

    conditional_actions = ("list", "retrieve", "revisions", "revision")

    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilter
    search_fields = ("key", "claim_zh", "claim_en", "quote", "source__title", "source__authors")
    ordering_fields = ("date", "created_at", "id")
    ordering = ("-date", "id")
    write_permissions = {
        "create": "evidence.add_evidence",
        "update": "evidence.change_evidence",
        "partial_update": "evidence.change_evidence",
    }

    def get_queryset(self):
        return selectors.evidence_list()

    @extend_schema(
        summary="A piece of evidence's revisions, latest first",
        responses=with_errors(EvidenceRevisionSerializer(many=True), ERRORS_READ),
    )
    @action(
        detail=True,
        url_path="revisions",
        filter_backends=[],
        pagination_class=viewsets.GenericViewSet.pagination_class,
    )
    def revisions(self, request, pk=None):
        """What the piece said at each of its versions. Every save writes one; a status update
        cites the revision current when it was recorded (its `cited_evidence`)."""
        check_query_params(request, {*COMMON_PARAMS, "page", "page_size"})
        evidence = get_object_or_404(Evidence, pk=pk)
        page = self.paginate_queryset(selectors.revisions(evidence=evidence))
        data = EvidenceRevisionSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(data.data)

    @extend_schema(
        summary="One revision of a piece of evidence",
        parameters=[VERSION_PATH],
        responses=with_errors(EvidenceRevisionSerializer, ERRORS_READ),
    )
    @action(
        detail=True,
        url_path=r"revisions/(?P<version>[0-9]{1,9})",
        url_name="revision",
        filter_backends=[],
        pagination_class=None,
    )
    def revision(self, request, pk=None, version=None):
        """The piece as it was at `version`, never changed since."""
        check_query_params(request, COMMON_PARAMS)
        revision = get_object_or_404(selectors.revisions(evidence=pk), version=version)
        return Response(
            EvidenceRevisionSerializer(revision, context=self.get_serializer_context()).data
        )

    def save(self, request, *, instance, partial=False):
        data = EvidenceInputSerializer(instance, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        evidence = services.save_evidence(
            evidence=instance,
            by=request.user,
            expected_version=expected_version(request, data.validated_data, instance),
            **data.split(),
        )
        body = EvidenceSerializer(
            selectors.evidence_list().get(pk=evidence.pk), context=self.get_serializer_context()
        ).data
        headers = {"ETag": etag(body["version"])}
        if not instance:
            # A plain str: DRF's Hyperlink is a str subclass that WSGI servers refuse.
            headers["Location"] = str(body["url"])
        return Response(
            body,
            status=status.HTTP_200_OK if instance else status.HTTP_201_CREATED,
            headers=headers,
        )


@extend_schema_view(
    list=extend_schema(
        summary="List sources", responses=with_errors(SourceSerializer, ERRORS_READ)
    ),
    retrieve=extend_schema(
        summary="Get a source",
        parameters=[ETAG_HEADER],
        responses=with_errors(SourceSerializer, ERRORS_READ),
    ),
    create=extend_schema(
        summary="Add a source",
        parameters=[IDEMPOTENCY_KEY, ETAG_HEADER],
        responses=with_errors(SourceSerializer, ERRORS_WRITE, created=True),
    ),
    update=extend_schema(
        summary="Replace a source",
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(SourceSerializer, ERRORS_WRITE),
    ),
    partial_update=extend_schema(
        summary="Change a source",
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(SourceSerializer, ERRORS_WRITE),
    ),
)
class SourceViewSet(WritableViewSet):
    """Where evidence comes from, with its full citation and reliability."""

    serializer_class = SourceSerializer
    filterset_class = SourceFilter
    search_fields = ("key", "title", "authors", "venue", "citation")
    ordering_fields = ("title", "year", "id")
    ordering = ("title",)
    write_permissions = {
        "create": "evidence.add_source",
        "update": "evidence.change_source",
        "partial_update": "evidence.change_source",
    }

    def get_queryset(self):
        return selectors.sources_with_counts()

    def save(self, request, *, instance, partial=False):
        data = SourceSerializer(instance, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        version = expected_version(request, fields, instance)
        fields.pop("version", None)
        source = services.save_source(source=instance, fields=fields, expected_version=version)
        body = SourceSerializer(selectors.sources_with_counts().get(pk=source.pk)).data
        headers = {"ETag": etag(source.version)}
        if instance:
            return Response(body, headers=headers)
        location = request.build_absolute_uri(reverse("source-detail", args=[source.pk]))
        return Response(
            body, status=status.HTTP_201_CREATED, headers={**headers, "Location": str(location)}
        )
