"""`/api/v1/imports/`: spreadsheets of status updates, checked in a dry run on upload and
recorded (or, for a reporter, proposed for review) on confirmation. Analysts and superusers
see every import; a reporter imports and sees only its own; a viewer is refused (403), reads
included, as in the admin."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.reverse import reverse

from config.api import (
    COMMON_PARAMS,
    RefuseUnknownFields,
    check_query_params,
    etag,
    if_match_version,
    request_has_role,
)
from config.openapi import (
    ENUM_COMPONENT,
    ERROR_RESPONSES,
    ERRORS_READ,
    ERRORS_WRITE,
    IDEMPOTENCY_KEY,
    ErrorSerializer,
    with_errors,
)
from recommendations.api.idempotency import run_idempotent
from recommendations.services import StaleVersion

from .. import blanks, selectors, services
from ..models import Import
from ..readers import FileRefused, too_large
from . import serializers as s

# What a multipart body may hold beyond the file itself (its boundaries and part headers).
MULTIPART_SLACK = 64 * 1024


class ImportPermission(BasePermission):
    """A role, as everywhere (else 403), and one of the permissions the action needs, which
    the `analyst` and `reporter` groups (and superusers) have: viewers are refused reads too.
    No anonymous access, whatever API_ANONYMOUS_READ says (imports name who uploaded what).
    Which imports a reporter sees (its own) is the queryset's business."""

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        if not request_has_role(request):
            raise exceptions.PermissionDenied(
                _("This account has no role: an administrator must make it a viewer or an analyst.")
            )
        required = view.required_permissions.get(getattr(view, "action", None))
        if required is None:
            return True  # no handler for this method: the view answers 405
        return any(request.user.has_perm(permission) for permission in required)


class FileNegotiation(DefaultContentNegotiation):
    """The template's type is chosen by `file`, not by Accept; errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class UploadSerializer(RefuseUnknownFields, s.ImportUploadSerializer):
    pass


def detail(imported: Import, request) -> dict:
    data = s.ImportSerializer(imported, context={"request": request}).data
    data["rows"] = selectors.row_dicts(imported)
    return data


UPLOAD_DESCRIPTION = (
    "Upload a CSV (UTF-8, UTF-8 with a byte order mark, or GBK) or XLSX file of status updates "
    "as multipart/form-data (field `file`): one row per update, under the template's headings "
    "(GET imports/template/) or the status history export's, in English or Chinese. Every row "
    "is checked in a dry run; nothing is recorded or proposed. An analyst's rows (`route` "
    "`record`) are checked by the rules that record updates, the rows of one measure against "
    "the state the rows before them would make. The rows of someone whose status updates go to "
    "review, such as a reporter (`route` `propose`), are checked as proposals are: each against "
    "its measure's state now, for a measure one of the reporter's institutions is responsible "
    "for (else an error on the measure's column). The answer is the import with each row's "
    "outcome: `record` (would be recorded) or `propose` (would be proposed), `already` (the "
    "history holds it), `already_proposed` (an open proposal of yours says it), or `error` "
    "with its problems, each in its column. A file that cannot be imported at all (not a "
    "spreadsheet, unknown or missing columns, formulas, merged cells, more than IMPORT_MAX_ROWS "
    "rows or IMPORT_MAX_BYTES bytes) is a 400 on `file` and nothing is stored."
)
CONFIRM_DESCRIPTION = (
    "Record every row whose outcome is `record` (or propose for review every row whose outcome "
    "is `propose`), in one transaction, each checked again against the state now in force (rows "
    "recorded, or proposed, since become `already` or `already_proposed`). If any row is now "
    "refused, nothing is written: the 400 names each refused row (`row 12`), and the import's "
    "rows show the new errors. An import is confirmed once; a second confirmation is a 400. An "
    "import of proposals is confirmed only by whoever uploaded it (403). With If-Match (the "
    "import's ETag), a confirmation is refused (412) if the rows' outcomes changed since."
)
TEMPLATE_PARAMS = [
    OpenApiParameter(
        "file",
        OpenApiTypes.STR,
        enum=blanks.FORMATS,
        description="csv (the default) or xlsx.",
        extensions={ENUM_COMPONENT: "ExportFormatEnum"},
    ),
    OpenApiParameter(
        "lang",
        OpenApiTypes.STR,
        enum=blanks.LANGUAGES,
        description="en (the default) or zh: the language of the headings and values.",
    ),
]
TEMPLATE_DESCRIPTION = (
    "The file to fill in, in `lang`: the headings the import reads and the values each column "
    "takes. CSV: UTF-8 with a byte order mark, notes in rows starting with # (not read), then "
    "the headings. XLSX: the sheet to fill in, with drop-downs of statuses and confidences, and "
    "a sheet listing the valid values."
)
IMPORT_ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The import's version: it goes up when its rows' outcomes change (confirmed, "
    "or refused on confirmation). Send it as If-Match to confirm what you saw.",
)
IMPORT_IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The import's ETag as you last saw it, such as \"1\". If its rows' outcomes "
    "changed since, the confirmation is refused with 412 and nothing is recorded.",
)
UPLOAD_415 = OpenApiResponse(
    ErrorSerializer, "The body is not multipart/form-data: send the file as the field `file`."
)


@extend_schema_view(
    list=extend_schema(
        summary="List spreadsheet imports",
        description="Imports, newest first, with their rows' outcomes counted: every import for "
        "an analyst, a reporter's own for a reporter.",
        responses=with_errors(s.ImportSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a spreadsheet import with each row's outcome",
        description="The import, and each of its rows in the file's order: what it says (as "
        "read), its outcome, and its problems in the language of the request.",
        parameters=[IMPORT_ETAG],
        responses=with_errors(s.ImportDetailSerializer, ERRORS_READ),
    ),
)
class ImportViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Spreadsheets of status updates: a dry run on upload, then confirmation."""

    serializer_class = s.ImportSerializer
    permission_classes = [ImportPermission]
    # Any one of each action's permissions: a reporter (add_import) sees its own imports.
    required_permissions = {
        "list": (selectors.SEE_ALL_PERMISSION, selectors.IMPORT_PERMISSION),
        "retrieve": (selectors.SEE_ALL_PERMISSION, selectors.IMPORT_PERMISSION),
        "template": (selectors.SEE_ALL_PERMISSION, selectors.IMPORT_PERMISSION),
        "create": (selectors.IMPORT_PERMISSION,),
        "confirm": ("intake.confirm_import",),
    }

    def get_queryset(self):
        return selectors.visible_imports(self.request.user)

    def initialize_request(self, request, *args, **kwargs):
        # The parsers are chosen before the action is known: an upload is a POST to the list.
        self.upload = request.method == "POST" and "pk" not in kwargs
        return super().initialize_request(request, *args, **kwargs)

    def get_parsers(self):
        if getattr(self, "upload", False) or getattr(self, "action", None) == "create":
            return [parsers.MultiPartParser()]
        return super().get_parsers()

    def retrieve(self, request, pk=None):
        check_query_params(request, COMMON_PARAMS)
        imported = get_object_or_404(selectors.visible_imports(request.user), pk=pk)
        return Response(detail(imported, request), headers={"ETag": etag(imported.version)})

    @extend_schema(
        summary="Upload a spreadsheet of status updates: a dry run",
        description=UPLOAD_DESCRIPTION,
        request={"multipart/form-data": s.ImportUploadSerializer},
        parameters=[IDEMPOTENCY_KEY, IMPORT_ETAG],
        responses={
            **with_errors(s.ImportDetailSerializer, ERRORS_WRITE, created=True),
            415: UPLOAD_415,
        },
        examples=[
            OpenApiExample(
                "A file refused",
                response_only=True,
                status_codes=["400"],
                value={"file": ["Missing columns: “status”, “effective date”."]},
            )
        ],
    )
    def create(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.IMPORT_MAX_BYTES + MULTIPART_SLACK:
            raise exceptions.ValidationError({"file": too_large(int(length)).messages})
        return run_idempotent(request, lambda: self._create(request))

    def _create(self, request):
        check_query_params(request, COMMON_PARAMS)
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise exceptions.ValidationError({"file": too_large(upload.size).messages})
        try:
            imported = services.check_file(
                data=upload.read(),
                filename=upload.name or "",
                by=request.user,
                channel=Import.Channel.API,
            )
        except FileRefused as refused:
            raise exceptions.ValidationError({"file": refused.messages}) from None
        location = str(reverse("import-detail", args=[imported.pk], request=request))
        return Response(
            detail(imported, request),
            status=status.HTTP_201_CREATED,
            headers={"Location": location, "ETag": etag(imported.version)},
        )

    @extend_schema(
        summary="Confirm a spreadsheet import: record (or propose) its rows",
        description=CONFIRM_DESCRIPTION,
        request=None,
        parameters=[IMPORT_IF_MATCH, IDEMPOTENCY_KEY, IMPORT_ETAG],
        responses=with_errors(s.ImportDetailSerializer, ERRORS_WRITE),
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def confirm(self, request, pk=None):
        check_query_params(request, COMMON_PARAMS)
        imported = get_object_or_404(
            selectors.visible_imports(request.user, Import.objects.all()), pk=pk
        )
        return run_idempotent(request, lambda: self._confirm(request, imported))

    def _confirm(self, request, imported: Import):
        if request.data:
            raise exceptions.ValidationError(
                {name: [_("Unknown field.")] for name in sorted(request.data)}
                if isinstance(request.data, dict)
                else {"non_field_errors": [_("This request takes no body.")]}
            )
        try:
            confirmed = services.confirm(
                imported, by=request.user, expected_version=if_match_version(request)
            )
        except StaleVersion:
            raise  # a 412
        except DjangoValidationError as refused:
            # Answered, not raised: with an Idempotency-Key the request runs in one transaction,
            # which a raised error would roll back, and with it the refused rows' outcomes the
            # service stored for the import's page.
            body = (
                refused.message_dict
                if hasattr(refused, "error_dict")
                else {"non_field_errors": refused.messages}
            )
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(detail(confirmed, request), headers={"ETag": etag(confirmed.version)})

    @extend_schema(
        summary="Download the template to fill in",
        description=TEMPLATE_DESCRIPTION,
        parameters=TEMPLATE_PARAMS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, TEMPLATE_DESCRIPTION),
            (200, blanks.MEDIA_TYPES["xlsx"]): OpenApiResponse(
                OpenApiTypes.BINARY, TEMPLATE_DESCRIPTION
            ),
            **{code: ERROR_RESPONSES[code] for code in ERRORS_READ},
        },
    )
    @action(
        detail=False,
        filter_backends=[],
        pagination_class=None,
        content_negotiation_class=FileNegotiation,
    )
    def template(self, request):
        check_query_params(request, {*COMMON_PARAMS, "file", "lang"})
        params = s.TemplateParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        fmt, lang = params.validated_data["file"], params.validated_data["lang"]
        response = HttpResponse(blanks.template(fmt, lang), content_type=blanks.MEDIA_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{blanks.filename(fmt, lang)}"'
        response["Content-Security-Policy"] = "sandbox"
        return response
