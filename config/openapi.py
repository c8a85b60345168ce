"""OpenAPI pieces every operation shares: error bodies, and the concurrency headers."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PreconditionFailedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField()


FIELD_ERRORS = {
    "type": "object",
    "description": "Field name (or non_field_errors) → the messages saying which rule failed.",
    "additionalProperties": True,
}

ERROR_RESPONSES = {
    400: OpenApiResponse(
        FIELD_ERRORS,
        "Invalid input, unknown query parameter, or a rule of the "
        "service refused the write (the message names the rule). Nothing written.",
    ),
    401: OpenApiResponse(ErrorSerializer, "No or invalid credentials."),
    403: OpenApiResponse(ErrorSerializer, "Signed in, but the role may not do this."),
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
    429: OpenApiResponse(ErrorSerializer, "Too many requests; see Retry-After."),
}

ERRORS_READ = (400, 401, 404, 429)
ERRORS_WRITE = (400, 401, 403, 404, 409, 412, 422, 429)


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
