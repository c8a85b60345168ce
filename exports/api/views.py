"""`GET /api/v1/<list>/export/?file=csv|xlsx&lang=en|zh&<the list's filters>`: a list as a file.

Each export takes the same filters (and `search`) as its list, and no `page`, `page_size` or
`ordering`: a file holds every row the filters select (at most EXPORT_MAX_ROWS; more is a
400), in the export's own order.
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAcceptable
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation

from config.api import StrictFilterBackend, StrictSearchFilter
from config.openapi import ENUM_COMPONENT, ERROR_RESPONSES, ERRORS_READ, AutoSchema
from evidence.api.views import EvidenceViewSet
from recommendations.api.views import MeasureViewSet, StatusUpdateViewSet

from .. import services
from ..tables import EVIDENCE, MEASURES, STATUS_UPDATES, Table
from ..writers import FORMATS, LANGUAGES, MEDIA_TYPES, export_response


class ExportParamsSerializer(serializers.Serializer):
    file = serializers.ChoiceField(choices=FORMATS, default="csv")
    lang = serializers.ChoiceField(choices=LANGUAGES, default="en")


class FileNegotiation(DefaultContentNegotiation):
    """The file's type is chosen by `file`, not by Accept: an Accept of text/csv is no 406.
    Errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class ExportSchema(AutoSchema):
    """The list's filters are the export's parameters too (drf-spectacular shows filters only
    on list views)."""

    def get_filter_backends(self):
        return self.view.filter_backends


def export_description(table: Table, rows: str) -> str:
    return (
        f"{rows} as a file: CSV (UTF-8 with a byte order mark, one heading row; text cells that "
        "a spreadsheet would run as a formula start with `'`) or XLSX (one sheet; text is "
        "typed as text). Column headings, statuses and other choices, and bilingual texts are "
        "in `lang`. Takes the list's filters and `search`; every row they select, in the "
        "export's order, up to EXPORT_MAX_ROWS (50,000 by default; more is a 400 and nothing "
        "is sent)."
    )


FILE_PARAMS = [
    OpenApiParameter(
        "file",
        OpenApiTypes.STR,
        enum=FORMATS,
        description="csv (the default) or xlsx.",
        extensions={ENUM_COMPONENT: "ExportFormatEnum"},
    ),
    OpenApiParameter(
        "lang",
        OpenApiTypes.STR,
        enum=LANGUAGES,
        description="en (the default) or zh: the language of headings, labels and texts.",
    ),
]


def file_responses(description: str) -> dict:
    return {
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description),
        (200, MEDIA_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY, description),
        **{code: ERROR_RESPONSES[code] for code in ERRORS_READ},
    }


class ExportView(GenericAPIView):
    table: Table
    filter_backends = [StrictFilterBackend, StrictSearchFilter]
    pagination_class = None
    content_negotiation_class = FileNegotiation
    schema = ExportSchema()
    extra_query_params = ("file", "lang")

    def get_queryset(self):
        return self.table.model.objects.all()

    def get(self, request):
        selected = self.filter_queryset(self.get_queryset())  # unknown parameters: a 400
        params = ExportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ids = selected.order_by().values("pk")
        services.check_export_size(rows=self.table.rows(ids))
        fmt, lang = params.validated_data["file"], params.validated_data["lang"]
        return export_response(self.table, ids, fmt, lang, timezone.localdate())


class MeasureExportView(ExportView):
    """Measures with their current state: code, pillar, title, status, progress, status
    since, last recorded, priority, target date, review interval, archived, evidence count
    and last change; in code order."""

    table = MEASURES
    filterset_class = MeasureViewSet.filterset_class
    search_fields = MeasureViewSet.search_fields

    @extend_schema(
        summary="Export measures as CSV or XLSX",
        description=export_description(MEASURES, "Measures with their current state"),
        parameters=FILE_PARAMS,
        responses=file_responses("The measures, one per row."),
    )
    def get(self, request):
        return super().get(request)


class StatusUpdateExportView(ExportView):
    """Status history: each entry's measure, status, progress, confidence, effective date,
    recorded at and by, note and evidence count; by measure code, each history latest first."""

    table = STATUS_UPDATES
    filterset_class = StatusUpdateViewSet.filterset_class

    @extend_schema(
        summary="Export status history as CSV or XLSX",
        description=export_description(STATUS_UPDATES, "Status updates"),
        parameters=FILE_PARAMS,
        responses=file_responses("The status updates, one per row."),
    )
    def get(self, request):
        return super().get(request)


class EvidenceExportView(ExportView):
    """Evidence with its figures, one row per figure (a piece with no figure has one row, its
    figure columns empty): key, claim, source, its kind and reliability, attribution, date as
    precise as known, location, and the figure's number, value, unit, qualifier and what it
    measures; newest evidence first."""

    table = EVIDENCE
    filterset_class = EvidenceViewSet.filterset_class
    search_fields = EvidenceViewSet.search_fields

    @extend_schema(
        summary="Export evidence with its figures as CSV or XLSX",
        description=export_description(EVIDENCE, "Evidence with its figures, one row per figure,"),
        parameters=FILE_PARAMS,
        responses=file_responses("The evidence, one row per figure."),
    )
    def get(self, request):
        return super().get(request)
