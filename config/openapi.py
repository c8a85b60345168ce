"""OpenAPI pieces every operation shares: error bodies, the concurrency headers, tags, and the
postprocessing hook that declares what every operation may answer."""

import re

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

VALIDATION_ERROR_BODY = "ValidationErrorBody"
VALIDATION_ERROR_REF = {"$ref": f"#/components/schemas/{VALIDATION_ERROR_BODY}"}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PreconditionFailedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField()


ERROR_RESPONSES = {
    400: OpenApiResponse(
        VALIDATION_ERROR_REF,
        "Invalid input, unknown query parameter, or a rule of the "
        "service refused the write (the message names the rule). Nothing written.",
    ),
    401: OpenApiResponse(ErrorSerializer, "No or invalid credentials."),
    403: OpenApiResponse(
        ErrorSerializer,
        "Signed in, but with no role (viewer, reporter or analyst), or with a role that may not "
        "do this (such as deciding on one's own proposal).",
    ),
    404: OpenApiResponse(ErrorSerializer, "No such record (or page)."),
    409: OpenApiResponse(
        ErrorSerializer,
        "A request with this Idempotency-Key is still running, "
        "or the record is locked by another write; retry.",
    ),
    412: OpenApiResponse(
        PreconditionFailedSerializer,
        "If-Match names a stale version; "
        "nothing was written. The current version is in the body and ETag.",
    ),
    422: OpenApiResponse(ErrorSerializer, "The Idempotency-Key was used for a different request."),
    415: OpenApiResponse(
        ErrorSerializer, "The body is not JSON: send it with Content-Type: application/json."
    ),
    429: OpenApiResponse(ErrorSerializer, "Too many requests; see Retry-After."),
    503: OpenApiResponse(
        ErrorSerializer,
        "The database is busy (statement timeout, serialization failure) or unavailable (lost "
        "connection, restart); nothing was written. Retry after Retry-After seconds, with the "
        "same Idempotency-Key.",
    ),
}

ERRORS_READ = (400, 401, 404, 429, 503)
ERRORS_WRITE = (400, 401, 403, 404, 409, 412, 422, 429, 503)


def with_errors(ok, codes, *, created: bool = False) -> dict:
    return {201 if created else 200: ok, **{code: ERROR_RESPONSES[code] for code in codes}}


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of the record written (the measure, source or piece of evidence) as "
    'you last saw it, such as "3". If someone changed the record since, the write is refused '
    "with 412 and nothing is written.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string (a UUID) chosen by the client. A retry with the same key "
    "and body returns the first response (header Idempotent-Replayed: true) and writes nothing "
    "new; the same key with another body is refused with 422. Remembered for "
    "IDEMPOTENCY_KEY_TTL_HOURS (default 24).",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The record's version (of the measure, source or piece of evidence), for "
    "If-Match on the next write.",
)

# One tag per resource, in the order the docs list them.
TAGS = [
    {"name": "pillars", "description": "The policy pillars, with counts by status."},
    {
        "name": "measures",
        "description": "Measures with their current state, or their state on a date (as_of).",
    },
    {
        "name": "status-updates",
        "description": "Each measure's append-only history: record an update, read the feed.",
    },
    {"name": "risks", "description": "The risks the measures address, and their coverage."},
    {"name": "scenarios", "description": "The application directions of generative AI."},
    {
        "name": "innovation-mechanisms",
        "description": "The ways generative AI promotes financial innovation.",
    },
    {"name": "institutions", "description": "Regulators, banks, firms and forums."},
    {"name": "evidence", "description": "Claims, figures and cases, with their links."},
    {"name": "sources", "description": "Where evidence comes from, and how reliable it is."},
    {"name": "reports", "description": "Published status reports, and previews."},
    {"name": "changes", "description": "The audit trail: every change, who made it and how."},
    {
        "name": "proposals",
        "description": "Status updates proposed for review: approve, reject, request changes.",
    },
    {
        "name": "imports",
        "description": "Spreadsheets of status updates: a dry run on upload, then confirmation.",
    },
    {
        "name": "follows",
        "description": "The measures, pillars and risks you follow: your digest tells of them.",
    },
    {
        "name": "digest-settings",
        "description": "How often, in which language and where your digest goes.",
    },
    {
        "name": "webhooks",
        "description": "Signed deliveries of every change to receivers: subscriptions, their "
        "deliveries and attempts, redelivery.",
    },
]


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of this response as you last received it. If nothing the body "
    "shows has changed since, the answer is 304 Not Modified with no body.",
    "schema": {"type": "string"},
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        """Reads with conditional requests (config.conditional) take If-None-Match, answer 304,
        and carry their ETag."""
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        action = getattr(self.view, "action", None)
        if (
            operation is not None
            and method == "GET"
            and action in getattr(self.view, "conditional_actions", ())
        ):
            operation.setdefault("parameters", []).append(IF_NONE_MATCH)
            responses = operation["responses"]
            responses["200"].setdefault("headers", {})["ETag"] = _header("ReadETag")
            responses["304"] = {
                "description": "Nothing the body shows has changed since the ETag named in "
                "If-None-Match; no body.",
                "headers": {"ETag": _header("ReadETag")},
            }
        return operation

    def get_tags(self) -> list[str]:
        """The resource: the first part of the path after /api/v1/; a measure's history is
        with the other status updates."""
        parts = [part for part in self.path.split("/") if part and not part.startswith("{")]
        if parts[-1] == "status-updates":
            return ["status-updates"]
        return [parts[2] if parts[:2] == ["api", "v1"] and len(parts) > 2 else parts[0]]


# Response headers, declared once under components.headers.
HEADERS = {
    "Location": {
        "description": "The URL of the record just created (201), or of the proposal made "
        "instead (202).",
        "schema": {"type": "string", "format": "uri"},
    },
    "IdempotentReplayed": {
        "description": "`true` when this is the stored first response to a retry with the same "
        "Idempotency-Key (nothing was written again); absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "ETag": {
        "description": 'The record\'s current version, such as "3", for If-Match.',
        "schema": {"type": "string"},
    },
    "ReadETag": {
        "description": "Changes whenever the body would (the data it shows, or the query, "
        "language, media type or user). Send it back in If-None-Match to get 304 if nothing "
        'changed. A measure, evidence or source reads "<version>.<digest>", such as '
        '"3.8f0c2a61d9b4e7a15c3d", which If-Match also takes; lists carry a weak tag, '
        'W/"<digest>".',
        "schema": {"type": "string"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
}
HEADER_NAMES = {
    "Location": "Location",
    "IdempotentReplayed": "Idempotent-Replayed",
    "ETag": "ETag",
    "ReadETag": "ETag",
    "RetryAfter": "Retry-After",
}

# Filter parameters whose values are one of the component enums (same values, their order).
FILTER_ENUMS = {
    "status": "StatusEnum",
    "stance": "StanceEnum",
    "source_kind": "SourceKindEnum",
    "kind": "SourceKindEnum",
    "reliability": "ReliabilityEnum",
    "attribution": "AttributionEnum",
    "priority": "LevelEnum",
    "channel": "ChannelEnum",
    "state": "ProposalStateEnum",
    # The report's parameters: components made here, so that a client has one enum for both
    # the preview and the download.
    "file": "ReportFormatEnum",
    "lang": "LanguageEnum",
    "period": "ReportPeriodEnum",
}

VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 400: each field at fault (a nested one as `figures[0].value`), or "
    "`non_field_errors` for the request as a whole, with the messages saying what is wrong.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "example": {"progress": ["An implemented measure is at 100%."]},
}


def postprocess(result, generator, request, public):
    """Declare what every operation shares and DRF cannot see, and put each filter's enum
    in its component."""
    result["tags"] = TAGS
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})[VALIDATION_ERROR_BODY] = VALIDATION_ERROR_SCHEMA
    components["headers"] = HEADERS
    for name, schema in components["schemas"].items():
        _exact_blank_strings(schema, request_body=name.endswith("Request"))
    for item in result["paths"].values():
        for method, operation in item.items():
            _declare_responses(method, operation)
            for parameter in operation.get("parameters", []):
                _ref_filter_enum(parameter, components["schemas"])
    components["schemas"] = dict(sorted(components["schemas"].items()))
    return result


def _header(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def _declare_responses(method: str, operation: dict) -> None:
    responses = operation["responses"]
    # Any operation refuses a signed-in user with no role.
    responses.setdefault("403", _response_for(403))
    responses.setdefault("503", _response_for(503))
    if "requestBody" in operation:
        responses.setdefault("415", _response_for(415))
    for code, response in responses.items():
        if code == "400":
            for media in response.get("content", {}).values():
                media["schema"] = dict(VALIDATION_ERROR_REF)
        headers = response.setdefault("headers", {})
        if code in ("201", "202"):
            headers["Location"] = _header("Location")
        if code == "412":
            headers["ETag"] = _header("ETag")
        if code in ("429", "503"):
            headers["Retry-After"] = _header("RetryAfter")
        replayable = method == "post" and any(
            p["in"] == "header" and p["name"] == "Idempotency-Key"
            for p in operation.get("parameters", [])
        )
        if replayable and code.startswith("2"):
            headers["Idempotent-Replayed"] = _header("IdempotentReplayed")
        if not headers:
            del response["headers"]
    operation["responses"] = dict(sorted(responses.items()))


def _response_for(code: int) -> dict:
    return {
        "description": ERROR_RESPONSES[code].description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


CHOICE_LIST = re.compile(r"(?:\n\n)?(?:^\* `[^`]*` - .*$\n?)+", re.MULTILINE)


# A parameter names its enum's component itself when its name means other values elsewhere
# (an export's `file` is csv or xlsx, a report's is json, markdown, csv or html).
ENUM_COMPONENT = "x-enum-component"


def _ref_filter_enum(parameter: dict, schemas: dict) -> None:
    name = parameter.pop(ENUM_COMPONENT, None) or FILTER_ENUMS.get(parameter["name"])
    if name is None or parameter["in"] != "query":
        return
    schema = parameter["schema"]
    target = schema["items"] if schema.get("type") == "array" else schema
    if "enum" not in target:
        return
    schemas.setdefault(name, {"type": "string", "enum": target["enum"]})
    if set(target["enum"]) != set(schemas[name]["enum"]):
        raise ValueError(f"The values of filter {parameter['name']!r} are not those of {name}.")
    ref = {"$ref": f"#/components/schemas/{name}"}
    if target is schema:
        parameter["schema"] = ref
    else:
        schema["items"] = ref
    # The component lists the values and what each means.
    description = CHOICE_LIST.sub("", parameter.get("description", "")).strip()
    if description:
        parameter["description"] = description
    else:
        parameter.pop("description", None)


def _exact_blank_strings(schema: dict, *, request_body: bool) -> None:
    """drf-spectacular writes a string that may be blank as oneOf [the string, maxLength 0]
    (and `nullable` beside it when it may be null too). Blank and null keys: the API stores
    a blank as null, so it answers null and takes either. A blank URL: the branches are made
    exclusive, so that "" matches one."""
    for prop in schema.get("properties", {}).values():
        branches = prop.get("oneOf", [])
        if len(branches) != 2 or branches[1] != {"type": "string", "maxLength": 0}:
            continue
        value = branches[0]
        if prop.get("nullable") and "pattern" in value:
            del prop["oneOf"]
            prop.update(value)
            if request_body:
                prop["pattern"] = value["pattern"].replace("+$", "*$")
        else:
            value["minLength"] = 1
