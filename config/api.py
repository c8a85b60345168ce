"""What every API endpoint shares: errors, permissions, pagination, strict query parameters and
ETags. Views never catch exceptions themselves; this module turns them into clear 4xx answers."""

import base64
import functools
import re
from datetime import timedelta
from urllib import parse

import django_filters
import orjson
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, OperationalError
from django.db.models import F, ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, pagination, parsers, renderers, status
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.encoders import JSONEncoder

from recommendations.roles import user_has_role
from recommendations.services import StaleVersion

# Query parameters any list understands besides its filters.
COMMON_PARAMS = {"format"}


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "stale_version"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "busy"


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(request) -> int | None:
    """The version the client's If-Match names; None without one (or with `*`).

    Raises ParseError (400) for an If-Match that names no version.
    """
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    # A read's ETag is "<version>.<digest>" (config.conditional): the version is what counts.
    match = re.fullmatch(r'(?:W/)?"?(\d{1,12})(?:\.[0-9a-f]{20})?"?', header)
    if not match:
        raise exceptions.ParseError(_('If-Match must be the ETag you received, such as "3".'))
    return int(match.group(1))


def database_error(exc: DatabaseError) -> exceptions.APIException | None:
    """A lock or statement timeout, or a lost connection, is a busy or restarting database:
    the client may retry. Anything else stays a server error."""
    sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None) or ""
    if sqlstate == "55P03":  # lock_not_available
        return Conflict(_("The record is being changed by another request; try again."))
    if sqlstate in {"57014", "40001", "40P01"}:  # query_canceled, serialization, deadlock
        return ServiceUnavailable(_("The database is busy; try again shortly."))
    # connection_exception, admin_shutdown, crash_shutdown, cannot_connect_now; no state at all
    # when the connection broke before the server answered.
    if isinstance(exc, OperationalError) and (
        not sqlstate or sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}
    ):
        return ServiceUnavailable(_("The database is unavailable; try again shortly."))
    return None


def drf_exception_handler(exc, context):
    # Imported here: rest_framework.views imports this module through its settings.
    from rest_framework.views import exception_handler

    return exception_handler(exc, context)


def exception_handler(exc, context):
    """DRF's handler, plus: Django ValidationError -> 400 keyed by field; a stale version
    named by If-Match -> 412; a protected row -> 409; lock and statement timeouts -> 409/503.
    Every 400 body is field -> list of messages (validation_error_body)."""
    request = context.get("request")
    if isinstance(exc, StaleVersion) and request is not None and "If-Match" in request.headers:
        response = drf_exception_handler(PreconditionFailed(exc.messages[0]), context)
        response.data["current_version"] = exc.current
        response["ETag"] = etag(exc.current)
        return response
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError):
        exc = Conflict(_("This record is referred to by history and cannot be deleted."))
    elif isinstance(exc, DatabaseError):
        exc = database_error(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = "1"
    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        response.data = validation_error_body(response.data)
    return response


def validation_error_body(data) -> dict[str, list[str]]:
    """Every 400 in one shape: each field at fault (a nested one named by its path, such as
    `figures[0].value`), or `non_field_errors`, with its list of messages."""
    body: dict[str, list[str]] = {}

    def collect(value, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if path and isinstance(key, int):
                    collect(item, f"{path}[{key}]")
                elif path:
                    collect(item, f"{path}.{key}")
                elif key == "detail":
                    collect(item, "non_field_errors")
                else:
                    collect(item, str(key))
        elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
            for index, item in enumerate(value):
                collect(item, f"{path}[{index}]" if path else "non_field_errors")
        elif isinstance(value, list):
            body.setdefault(path or "non_field_errors", []).extend(str(item) for item in value)
        else:
            body.setdefault(path or "non_field_errors", []).append(str(value))

    collect(data, "")
    return body


def server_error(request, *args, **kwargs):
    """A 500 with no detail: JSON under /api/, the site's error page elsewhere
    (config/errors.py). Never a traceback, whatever DEBUG says in production."""
    if request.path.startswith("/api/"):
        from rest_framework.exceptions import server_error as json_server_error

        return json_server_error(request, *args, **kwargs)
    from config.errors import server_error as html_server_error

    return html_server_error(request, *args, **kwargs)


def bad_request(request, exception, *args, **kwargs):
    """A 400 raised outside the API's views (a body over DATA_UPLOAD_MAX_MEMORY_SIZE): JSON
    under /api/, the site's error page elsewhere."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(
            {"non_field_errors": [_("The request is malformed or too large.")]}, status=400
        )
    from config.errors import bad_request as html_bad_request

    return html_bad_request(request, exception, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    """A 404 that no API view answered (an id that is not a number, a misspelt path): JSON
    under /api/, as the views' own 404s are; the site's error page elsewhere."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)
    from config.errors import page_not_found as html_page_not_found

    return html_page_not_found(request, exception, *args, **kwargs)


def permission_denied(request, exception, *args, **kwargs):
    """A 403 that no API view answered: JSON under /api/, the site's error page elsewhere
    (an analyst opening a page of the admin their role does not allow)."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": str(exceptions.PermissionDenied.default_detail)}, status=403)
    from config.errors import permission_denied as html_permission_denied

    return html_permission_denied(request, exception, *args, **kwargs)


def api_not_found(request, *args, **kwargs):
    """The last route under /api/: what no API view answers is a JSON 404, with DEBUG on too
    (Django's debug page would otherwise answer in HTML, as under `make run`)."""
    return page_not_found(request, None)


class JSONRenderer(renderers.JSONRenderer):
    """DRF's compact JSON, written by orjson: the same bytes, several times faster. Values
    orjson does not know (lazy translations, datetimes left unformatted) go through DRF's
    encoder, as before; indentation asked for in the Accept header goes to DRF's renderer."""

    _encoder = JSONEncoder()

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        return orjson.dumps(
            data,
            default=self._encoder.default,
            # Nested validation errors are keyed by list index: integers, as json writes them.
            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
        )


class JSONParser(parsers.JSONParser):
    """JSON bodies, refusing with a 400 what no database would take or Python cannot nest:
    null characters in strings, and nesting deep enough to exhaust the stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        try:
            has_nul = _contains_nul(data)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
        if has_nul:
            raise exceptions.ParseError(_("Null characters are not allowed."))
        return data


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment that every database can compare: years 1000 to 9998, offsets within
    the ±14 hours the standard knows."""

    def clean(self, value):
        moment = super().clean(value)
        if moment is None:
            return None
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise DjangoValidationError(_("A UTC offset is at most 14 hours."), code="invalid")
        if not 1000 <= moment.year <= 9998:
            raise DjangoValidationError(_("Give a year from 1000 to 9998."), code="invalid")
        return moment


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class TrackerPermission(BasePermission):
    """Every request needs a role, as the admin does: a viewer or an analyst, or a superuser
    (recommendations.roles); a signed-in user with none is refused with 403. API_ANONYMOUS_READ
    opens reading to anyone. Writing also needs the Django permission the view names for the
    action (`write_permissions`), which the `analyst` group has and `viewer` does not, or
    passes the rule the view gives instead: a function of the request."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS and settings.API_ANONYMOUS_READ:
            return True
        if not request.user.is_authenticated:
            return False
        if not request_has_role(request):
            raise exceptions.PermissionDenied(
                _("This account has no role: an administrator must make it a viewer or an analyst.")
            )
        if request.method in SAFE_METHODS:
            return True
        if getattr(view, "action", None) is None:
            return True  # no handler for this method: the view answers 405
        required = view.write_permissions.get(view.action)
        if callable(required):  # a rule that is more than one permission
            return bool(required(request))
        return bool(required) and request.user.has_perm(required)


class SchemaPermission(TrackerPermission):
    """The schema and its docs are read as the API is, unless API_SCHEMA_PUBLIC opens them."""

    def has_permission(self, request, view) -> bool:
        return settings.API_SCHEMA_PUBLIC or super().has_permission(request, view)


def request_has_role(request) -> bool:
    """Whether the request's user is a viewer, an analyst or a superuser. Token authentication
    has already answered in its own query (`user.has_role`); otherwise one query, once per
    request."""
    known = getattr(request.user, "has_role", None)
    if known is None:
        known = getattr(request, "_user_has_role", None)
    if known is None:
        known = request._user_has_role = user_has_role(request.user)
    return known


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address
    the outermost one saw. One rule for API throttling (DRF's) and sign-in lockouts."""
    return BaseThrottle().get_ident(request)


def positive_int(value: str, name: str) -> int:
    if not re.fullmatch(r"\d{1,18}", value or "") or int(value) < 1:
        raise exceptions.ValidationError({name: _("A whole number of 1 or more.")})
    return int(value)


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of `page_size` (default 50, capped at API_MAX_PAGE_SIZE)."""

    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        if self.page_size_query_param in request.query_params:
            size = positive_int(request.query_params[self.page_size_query_param], "page_size")
            return min(size, self.max_page_size)
        return self.page_size

    def get_paginated_response_schema(self, schema):
        return without_examples(super().get_paginated_response_schema(schema))


def without_examples(schema: dict) -> dict:
    """DRF's page schema less its placeholder examples (api.example.org/accounts/...)."""
    for prop in schema["properties"].values():
        prop.pop("example", None)
    return schema


class CursorPagination(pagination.CursorPagination):
    """Pages in recording order that never skip or repeat a row, however deep.

    Besides `next` (null on the last page), every page has `resume`: a cursor just after its
    last row, to fetch later whatever has been added since.
    """

    ordering = "id"
    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        return PageNumberPagination.get_page_size(self, request)

    def decode_cursor(self, request) -> pagination.Cursor | None:
        """The cursor the client sent back; a 400 for anything the API did not give out
        (not base64, unknown parts, a position that is not an id), never a silent restart."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(text, strict_parsing=True)
        except (ValueError, UnicodeError):
            tokens = {}
        parts = {name: values[0] for name, values in tokens.items() if len(values) == 1}
        if (
            not parts
            or len(parts) != len(tokens)
            or not set(parts) <= {"o", "r", "p"}
            or not re.fullmatch(r"\d{1,9}", parts.get("o", "0"))
            or parts.get("r", "0") not in ("0", "1")
            or not re.fullmatch(r"\d{1,18}", parts.get("p", "0"))
        ):
            raise exceptions.ValidationError(
                {"cursor": [_("This cursor was not given out by the API; start without one.")]}
            )
        return pagination.Cursor(
            offset=min(int(parts.get("o", "0")), self.offset_cutoff),
            reverse=parts.get("r") == "1",
            position=parts.get("p"),
        )

    def get_resume_link(self) -> str | None:
        if self.page:
            position = self._get_position_from_instance(self.page[-1], self.ordering)
            return self.encode_cursor(pagination.Cursor(offset=0, reverse=False, position=position))
        if self.cursor and not self.cursor.reverse:
            return self.encode_cursor(self.cursor)  # nothing new yet: poll the same place
        return None

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["resume"] = self.get_resume_link()
        return response

    def get_paginated_response_schema(self, schema):
        result = without_examples(super().get_paginated_response_schema(schema))
        result["properties"]["resume"] = {
            "type": "string",
            "nullable": True,
            "format": "uri",
            "description": "Fetch this later to get the rows added after this page.",
        }
        return result


# A serializer mixin: a body field the serializer does not know is a 400 naming it, so a
# misspelt field (`confidense`) is never dropped in silence or left at its default. Read-only
# fields are known: a body read from the API may be sent back. (A comment, not a docstring:
# the schema would show a docstring as the description of every serializer using it.)
class RefuseUnknownFields:
    unknown_field_message = gettext_lazy("Unknown field.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise exceptions.ValidationError(
                {name: [self.unknown_field_message] for name in unknown}
            )
        return super().validate(attrs)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, plus: an unknown query parameter is a 400 naming the ones allowed, so a
    misspelt filter never silently returns everything; and only the filters the request names
    are built.

    A FilterSet deep-copies every filter it declares and builds a form with a field for each
    on every request (the measure list: 11 filters, 3 of them model choices, for a query that
    names 2). Here the request gets the same FilterSet narrowed to the filters its query
    names, the same filters, one definition, each narrowed class and its form class made once
    per process (`narrowed`)."""

    def filter_queryset(self, request, queryset, view):
        check_query_params(request, allowed_params(request, queryset, view, self))
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return None
        named = frozenset(
            name
            for name in filterset_class.base_filters
            if any(param == name or param.startswith(f"{name}_") for param in request.GET)
        )
        kwargs = self.get_filterset_kwargs(request, queryset, view)
        return narrowed(filterset_class, named)(**kwargs)


@functools.lru_cache(maxsize=512)
def narrowed(filterset_class, names: frozenset):
    """`filterset_class` with only the filters in `names` (a parameter a filter's widget reads
    is its name or its name plus a suffix, as with ranges), and its form class made once."""

    class Narrowed(filterset_class):
        def get_form_class(self):
            cls = type(self)
            if "form_class" not in cls.__dict__:
                cls.form_class = super().get_form_class()
            return cls.form_class

    Narrowed.base_filters = {
        name: f for name, f in filterset_class.base_filters.items() if name in names
    }
    Narrowed.__name__ = Narrowed.__qualname__ = filterset_class.__name__
    return Narrowed


def check_query_params(request, allowed: set[str]) -> None:
    """Raise a 400 naming each query parameter that is not in `allowed`, or that holds a
    null character (which no database column can store)."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise exceptions.ValidationError(
            {
                name: _("Unknown query parameter. Allowed: %(allowed)s.")
                % {"allowed": ", ".join(sorted(allowed))}
                for name in unknown
            }
        )
    nul = sorted(
        name
        for name, values in request.query_params.lists()
        if any("\x00" in value for value in values)
    )
    if nul:
        raise exceptions.ValidationError(
            {name: _("Null characters are not allowed.") for name in nul}
        )


def allowed_params(request, queryset, view, backend: DjangoFilterBackend) -> set[str]:
    allowed = set(COMMON_PARAMS) | set(getattr(view, "extra_query_params", ()))
    filterset_class = backend.get_filterset_class(view, queryset)
    if filterset_class is not None:
        allowed |= set(filterset_class.base_filters)
    paginator = getattr(view, "paginator", None)
    if paginator is not None:
        allowed |= {"page_size", "cursor" if isinstance(paginator, CursorPagination) else "page"}
    if getattr(view, "search_fields", None):
        allowed.add("search")
    if getattr(view, "ordering_fields", None):
        allowed.add("ordering")
    return allowed


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        raise DjangoValidationError(_("Use true or false."), code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """true/false (1/0, yes/no); anything else is a 400, not "no filter"."""

    field_class = StrictBooleanField


class WholeNumberFilter(django_filters.NumberFilter):
    """A whole number; 1.5 is a 400, not silently 1 (NumberFilter takes any decimal and the
    integer column truncates it)."""

    field_class = forms.IntegerField


SEARCH_MAX_TERMS = 10
SEARCH_MAX_LENGTH = 200


class StrictSearchFilter(SearchFilter):
    """DRF's search, advertised only where the view searches (elsewhere StrictFilterBackend
    refuses `search`), with at most SEARCH_MAX_TERMS words and SEARCH_MAX_LENGTH characters:
    each word is a LIKE over several columns, so a thousand of them would hold a worker for
    seconds."""

    def get_search_terms(self, request):
        value = request.query_params.get(self.search_param, "")
        terms = super().get_search_terms(request)
        if len(value) > SEARCH_MAX_LENGTH or len(terms) > SEARCH_MAX_TERMS:
            raise exceptions.ValidationError(
                {
                    self.search_param: [
                        _("Search for at most %(terms)s words and %(length)s characters.")
                        % {"terms": SEARCH_MAX_TERMS, "length": SEARCH_MAX_LENGTH}
                    ]
                }
            )
        return terms

    def get_schema_operation_parameters(self, view):
        if not getattr(view, "search_fields", None):
            return []
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["maxLength"] = SEARCH_MAX_LENGTH
            parameter["description"] = (
                f"Words to find: at most {SEARCH_MAX_TERMS}, {SEARCH_MAX_LENGTH} characters in all."
            )
        return parameters


class StrictOrderingFilter(OrderingFilter):
    """`ordering` takes only the fields the view lists; anything else is a 400."""

    def get_schema_operation_parameters(self, view):
        fields = getattr(view, "ordering_fields", None)
        if not fields:
            return []  # StrictFilterBackend refuses `ordering` here
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by this field; `-` before it for descending. Empty values "
                "come last.",
                "schema": {
                    "type": "string",
                    "enum": [term for name in fields for term in (name, f"-{name}")],
                },
            }
        ]

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [term.strip() for term in params.split(",") if term.strip()]
            valid = {
                name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
            }
            bad = [term for term in fields if term.lstrip("-") not in valid]
            if bad or not fields:
                raise exceptions.ValidationError(
                    {
                        "ordering": _("Cannot order by %(terms)s. Allowed: %(allowed)s.")
                        % {"terms": ", ".join(bad) or "''", "allowed": ", ".join(sorted(valid))}
                    }
                )
            return fields
        return self.get_default_ordering(view)

    def filter_queryset(self, request, queryset, view):
        terms = self.get_ordering(request, queryset, view)
        if not terms:
            return queryset
        # A view may order a public name by another column (as_of orders by the state then).
        aliases = view.ordering_aliases() if hasattr(view, "ordering_aliases") else {}
        order = []
        for term in terms:
            column = F(aliases.get(term.lstrip("-"), term.lstrip("-")))
            # Empty values last on every database, so pages are the same on each.
            order.append(
                column.desc(nulls_last=True)
                if term.startswith("-")
                else column.asc(nulls_last=True)
            )
        return queryset.order_by(*order, "pk")  # a total order, for stable pages
