"""Published status reports, and previews computed without saving."""

import json
import logging
from typing import BinaryIO

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.reverse import reverse

from config.api import COMMON_PARAMS, ServiceUnavailable, check_query_params
from config.openapi import ERROR_RESPONSES, ERRORS_READ, with_errors

from ..models import ReportSnapshot
from ..reports.preview import PreviewFailed, preview_content
from ..reports.render import EXTENSIONS, FORMATS, LANGUAGES, MEDIA_TYPES
from ..reports.snapshots import LOCALIZED_FORMATS, SNAPSHOT_FILES, STORED_TEXTS, snapshot_filename
from ..reports.status import PERIODS, report_period
from .report_schema import StatusReportSerializer
from .views import ReadOnlyViewSet

logger = logging.getLogger(__name__)


class ReportSnapshotSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="report-detail")
    generated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = ReportSnapshot
        fields = (
            "id",
            "url",
            "since",
            "until",
            "version",
            "generated_at",
            "generated_by",
            "sha256",
            "downloads",
        )
        read_only_fields = fields

    def get_downloads(self, snapshot) -> dict[str, str]:
        """Links to each stored file: json, csv, markdown_en, markdown_zh, html_en, html_zh."""
        base = reverse("report-download", args=[snapshot.pk], request=self.context.get("request"))
        links = {}
        for fmt, lang in SNAPSHOT_FILES:
            if fmt in LOCALIZED_FORMATS:
                links[f"{fmt}_{lang}"] = f"{base}?file={fmt}&lang={lang}"
            else:
                links[fmt] = f"{base}?file={fmt}"
        return links


class ReportSnapshotDetailSerializer(ReportSnapshotSerializer):
    report = serializers.SerializerMethodField()

    class Meta(ReportSnapshotSerializer.Meta):
        fields = (*ReportSnapshotSerializer.Meta.fields, "report")
        read_only_fields = fields

    @extend_schema_field(StatusReportSerializer)
    def get_report(self, snapshot) -> dict:
        """The report as published (its JSON; sha256 is over the exact bytes)."""
        return json.loads(snapshot.report_json)


class FileSerializer(serializers.Serializer):
    file = serializers.ChoiceField(choices=FORMATS, default="json")
    lang = serializers.ChoiceField(choices=LANGUAGES, default="en")


class PreviewSerializer(FileSerializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    period = serializers.ChoiceField(choices=PERIODS, required=False)

    def validate(self, attrs):
        attrs["since"], attrs["until"] = report_period(
            since=attrs.get("since"),
            until=attrs.get("until"),
            period=attrs.get("period"),
            today=timezone.localdate(),
        )
        return attrs


FILE_PARAMS = [
    OpenApiParameter(
        "file", OpenApiTypes.STR, enum=FORMATS, description="json (default), markdown, csv or html."
    ),
    OpenApiParameter(
        "lang",
        OpenApiTypes.STR,
        enum=LANGUAGES,
        description="en (default) or zh: the language of markdown and html.",
    ),
]
# The file in the format asked for: the report's JSON, or Markdown, CSV or HTML text.
FILE_DESCRIPTION = (
    "The report in the format `file` asks for: application/json (the default; the "
    "StatusReport), text/markdown, text/csv (one row per measure) or text/html (one "
    "self-contained page). Each text is UTF-8."
)
FILE_RESPONSES = {
    (200, "application/json"): OpenApiResponse(StatusReportSerializer, FILE_DESCRIPTION),
    (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, FILE_DESCRIPTION),
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, FILE_DESCRIPTION),
    (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, FILE_DESCRIPTION),
    **{code: ERROR_RESPONSES[code] for code in ERRORS_READ},
}


def file_response(text: str | bytes | BinaryIO, fmt: str, filename: str) -> HttpResponse:
    if isinstance(text, str | bytes):
        response = HttpResponse(text, content_type=MEDIA_TYPES[fmt])
    else:  # an open file, streamed and then closed (a preview computed by a child process)
        response = FileResponse(text, content_type=MEDIA_TYPES[fmt])
        response.block_size = 1 << 20
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # A stored rendering runs no script and reaches nothing on this origin, even if opened.
    response["Content-Security-Policy"] = "sandbox"
    return response


@extend_schema_view(
    list=extend_schema(
        summary="List published status reports",
        responses=with_errors(ReportSnapshotSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a published status report",
        responses=with_errors(ReportSnapshotDetailSerializer, ERRORS_READ),
    ),
)
class ReportSnapshotViewSet(ReadOnlyViewSet):
    """Status reports as published: immutable snapshots, newest period first. Publishing a
    period again adds a version; `sha256` is the digest of the JSON exactly as published."""

    filterset_fields = ("since", "until")
    ordering = ("-until", "-since", "-version")

    def get_queryset(self):
        snapshots = ReportSnapshot.objects.select_related("generated_by")
        if self.action == "list":
            # The stored renderings are large, and a page of the list shows none of them.
            return snapshots.defer(*STORED_TEXTS)
        return snapshots

    def get_serializer_class(self):
        return (
            ReportSnapshotDetailSerializer
            if self.action == "retrieve"
            else ReportSnapshotSerializer
        )

    @extend_schema(
        summary="Download a published report's file",
        description="A published report's stored file: its JSON exactly as published (the "
        "bytes its sha256 is over), or its Markdown, CSV or HTML in `lang`.",
        parameters=FILE_PARAMS,
        responses=FILE_RESPONSES,
    )
    @action(detail=True, filter_backends=[], pagination_class=None)
    def download(self, request, pk=None):
        check_query_params(request, {*COMMON_PARAMS, "file", "lang"})
        params = FileSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        snapshot = get_object_or_404(ReportSnapshot, pk=pk)
        fmt, lang = params.validated_data["file"], params.validated_data["lang"]
        return file_response(
            snapshot.rendering(fmt, lang), fmt, snapshot_filename(snapshot, fmt, lang)
        )

    @extend_schema(
        summary="Compute a status report without saving it",
        description="The status report of a period, computed now and not saved: the last "
        "complete `period` (default quarter), or `since` and `until` (both or neither). A "
        "period holding more than REPORT_PREVIEW_MAX_UPDATES changes of status or progress "
        "(weighted by format) is refused (400).",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="Start (exclusive)."),
            OpenApiParameter("until", OpenApiTypes.DATE, description="End (inclusive)."),
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                enum=PERIODS,
                description="Without since and until: the last complete one (default quarter).",
            ),
            *FILE_PARAMS,
        ],
        responses=FILE_RESPONSES,
    )
    @action(detail=False, filter_backends=[], pagination_class=None)
    def preview(self, request):
        check_query_params(request, {*COMMON_PARAMS, "since", "until", "period", "file", "lang"})
        params = PreviewSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        fmt = data["file"]
        name = f"status-report_{data['since']}_{data['until']}_preview.{EXTENSIONS[fmt]}"
        try:
            body = preview_content(data["since"], data["until"], fmt, data["lang"])
        except PreviewFailed as failure:
            logger.error("Report preview failed: %s", failure)
            raise ServiceUnavailable(
                _(
                    "The report could not be computed now. Try again, or run "
                    "`manage.py status_report`."
                )
            ) from None
        return file_response(body, fmt, name)
