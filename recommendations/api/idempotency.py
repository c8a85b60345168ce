"""Idempotent POSTs: a retry with the same Idempotency-Key and body replays the first
response and writes nothing new; the same key with another body is refused (422); a retry
while the first request is still running is refused (409)."""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.api import Conflict

from ..integrity import whole_transaction
from ..models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Response headers worth replaying.
KEPT_HEADERS = ("ETag", "Location")


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def fingerprint(request) -> str:
    payload = json.dumps(
        {"method": request.method, "path": request.path, "body": request.data},
        sort_keys=True,
        separators=(",", ":"),
        default=body_value,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def body_value(value) -> str:
    """A value of the body that JSON does not know: an uploaded file by the digest of its
    bytes (two files sent under one key, whatever their names, are two requests); anything
    else as text."""
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return f"file sha256:{digest.hexdigest()}"
    return str(value)


# A key's row can vanish between two steps of a retry when the first attempt is refused and
# forgets it; the retry then claims it afresh, a bounded number of times.
ATTEMPTS = 3


class KeyVanished(Exception):
    """The key's row was deleted by a refused first attempt: claim it again."""


def still_running() -> Conflict:
    return Conflict(
        _("A request with this Idempotency-Key is still being processed; retry in a moment.")
    )


def claim(request, key: str) -> IdempotencyKey:
    """The key's row, created (and committed) by the first request that uses it; a row of the
    key that has expired is forgotten and the key claimed afresh."""
    now = timezone.now()
    for _attempt in range(ATTEMPTS):
        record = insert_key(request, key, now)
        if record is not None:
            return record
        existing = existing_key(request.user, key)
        if existing is None:
            continue  # forgotten in between: claim it again
        if existing.expires_at > now:
            return existing
        IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
    raise still_running()


def insert_key(request, key: str, now) -> IdempotencyKey | None:
    """Insert the key's row in one statement, committed at once (INSERT ... ON CONFLICT DO
    NOTHING, outside any transaction): the new row, or None when the key has one already. A
    retry never waits here for the first request: the row it finds is committed."""
    record = IdempotencyKey(
        user=request.user,
        key=key,
        fingerprint=fingerprint(request),
        method=request.method,
        path=request.path[:500],
        created_at=now,
        expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
    )
    meta, quote = IdempotencyKey._meta, connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("user", "key"))
    values = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    # Each value as the ORM prepares it for this database (times, JSON).
    params = [f.get_db_prep_save(getattr(record, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    record._state.adding, record._state.db = False, connection.alias
    return record


def existing_key(user, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(user=user, key=key).first()


def run_idempotent(request, handler: Callable[[], Response]) -> Response:
    """Run `handler` (which writes through a service) at most once per Idempotency-Key.

    Only a success is remembered: a request refused with a 4xx wrote nothing, and its retry
    is checked afresh.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not re.fullmatch(r"[\x21-\x7e]{1,255}", key):
        raise exceptions.ParseError(_("Idempotency-Key must be 1 to 255 visible ASCII characters."))
    for _attempt in range(ATTEMPTS):
        record = claim(request, key)
        if record.fingerprint != fingerprint(request):
            raise KeyReused(
                _(
                    "This Idempotency-Key was used for a different request; use a new "
                    "key for a new request."
                )
            )
        try:
            return run_once(record, handler)
        except KeyVanished:
            continue
        except Conflict:
            raise
        except Exception:
            forget(record)
            raise
    raise still_running()


def forget(record: IdempotencyKey) -> None:
    """Refused or failed: forget the key, so that a corrected retry is checked afresh. If the
    database is gone, the unanswered row stays; a retry then runs afresh all the same."""
    try:
        IdempotencyKey.objects.filter(pk=record.pk, response_status__isnull=True).delete()
    except DatabaseError:
        pass


def run_once(record: IdempotencyKey, handler: Callable[[], Response]) -> Response:
    # One transaction for the key's lock, the write and the response kept: any failure rolls
    # it back whole, so the service's own block takes no savepoint.
    with whole_transaction():
        return answer_once(record, handler)


def answer_once(record: IdempotencyKey, handler: Callable[[], Response]) -> Response:
    try:
        # NOWAIT: a retry that arrives while the first request runs is told so at once.
        record = IdempotencyKey.objects.select_for_update(nowait=True).get(pk=record.pk)
    except IdempotencyKey.DoesNotExist:
        raise KeyVanished from None
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise still_running() from None
        raise  # a lost connection: config.api answers 503
    if record.response_status is not None:
        return Response(
            record.response_body,
            status=record.response_status,
            headers={**record.response_headers, REPLAYED_HEADER: "true"},
        )
    response = handler()
    if status.is_success(response.status_code):
        record.response_status = response.status_code
        record.response_body = response.data
        record.response_headers = {h: response[h] for h in KEPT_HEADERS if h in response}
        record.save(update_fields=["response_status", "response_body", "response_headers"])
    else:
        record.delete()
    return response
