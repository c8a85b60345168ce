"""The limit: minimal views that run the endpoint's SQL by hand and return the same bytes.

Each view authenticates with the same token query as tokens.authentication, runs the very
statements the real endpoint runs now (the same text, in the same order, with the same
parameters: the runner captures both in-process and stops unless they are identical), builds
plain dicts and lists from the rows and renders them as config.api.JSONRenderer does (orjson,
the same options). No DRF, no ORM, no serializers, no filters: what is left is the least any
Python view must spend to send these statements and these bytes.

- B1/B2 `GET /bench/limit/measures/?pillar=&status=&page_size=[&as_of=][&page=]`: COUNT, the
  page (`.values()` columns, an evidence-count subquery and, with as_of, the state-then
  subqueries of selectors.with_state_on), one UNION ALL of the page's scenarios, risks and
  institutions (sorted here, as recommendations/api/rows.py sorts them)
- B3 `GET /bench/limit/status-updates/?page_size=[&cursor=]` (forward cursors): the page, then
  the evidence ids of its rows
- B4 `GET /bench/limit/report-sql/?name=` replays the SQL the report ran (captured by the
  runner into a file), fetching every row and assembling nothing
- B5 `POST /bench/limit/measures/<id>/status-updates/` the bare UPDATE and INSERT: one
  transaction, If-Match checked by the UPDATE's WHERE clause
- B6 `GET /bench/limit/token/`: the token lookup alone (the statement above, and the last-use
  write when it is due), answering 204: the least any authenticated answer costs
"""

import hashlib
import json
import os
import time
from base64 import b64decode, b64encode
from datetime import date, timedelta
from pathlib import Path
from urllib import parse
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.conditional import BODY_FORMAT
from freshness.markers import changes_in, tables_of
from recommendations.api import rows as rows_module
from recommendations.api.views import MEASURE_MODELS, UPDATE_MODELS
from recommendations.roles import ROLES
from throttling.stores import current_store
from throttling.throttles import UserRateThrottle
from tokens import keys

THROTTLE = UserRateThrottle()

ZONE = ZoneInfo(settings.TIME_ZONE)

MEASURE = '"recommendations_measure"'
PILLAR = '"recommendations_pillar"'
HISTORY = '"recommendations_statusupdate"'

# --- authentication: tokens.authentication's query -----------------------------------------

# The token, whether its user has a role, every change counter, and the user, in one
# statement (tokens.selectors.token_for_key); parameters: the two roles, then the prefix.
AUTH_SQL = (
    'SELECT "tokens_apitoken"."id", "tokens_apitoken"."user_id", "tokens_apitoken"."name", '
    '"tokens_apitoken"."prefix", "tokens_apitoken"."digest", "tokens_apitoken"."created_at", '
    '"tokens_apitoken"."expires_at", "tokens_apitoken"."last_used_at", '
    '"tokens_apitoken"."revoked_at", EXISTS(SELECT 1 AS "a" FROM "auth_user_groups" U0 '
    'INNER JOIN "auth_group" U1 ON (U0."group_id" = U1."id") WHERE (U1."name" IN (%s, %s) AND '
    'U0."user_id" = ("tokens_apitoken"."user_id")) LIMIT 1) AS "has_role", (SELECT '
    'json_object_agg("table", changes)::text FROM freshness_tablechanges) AS "table_changes", '
    '"auth_user"."id", '
    '"auth_user"."password", "auth_user"."last_login", "auth_user"."is_superuser", '
    '"auth_user"."username", "auth_user"."first_name", "auth_user"."last_name", '
    '"auth_user"."email", "auth_user"."is_staff", "auth_user"."is_active", '
    '"auth_user"."date_joined" FROM "tokens_apitoken" INNER JOIN "auth_user" ON '
    '("tokens_apitoken"."user_id" = "auth_user"."id") WHERE "tokens_apitoken"."prefix" = %s '
    "LIMIT 1"
)
(
    AUTH_TOKEN_ID,
    AUTH_DIGEST,
    AUTH_EXPIRES_AT,
    AUTH_LAST_USED_AT,
    AUTH_REVOKED_AT,
    AUTH_HAS_ROLE,
    AUTH_TABLE_CHANGES,
    AUTH_USER_ID,
    AUTH_IS_SUPERUSER,
    AUTH_IS_ACTIVE,
) = (0, 4, 6, 7, 8, 9, 10, 11, 14, 20)
# tokens.services.note_use: the last use, at most once every API_TOKEN_LAST_USED_MINUTES.
NOTE_USE_SQL = (
    'UPDATE "tokens_apitoken" SET "last_used_at" = %s WHERE (("tokens_apitoken"."last_used_at" '
    'IS NULL OR "tokens_apitoken"."last_used_at" <= %s) AND "tokens_apitoken"."id" = %s)'
)


def authenticate(cursor, request) -> int | None:
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0] != "Token":
        return None
    key = header[1]
    prefix = keys.prefix_of(key)
    if prefix is None:
        return None
    cursor.execute(AUTH_SQL, [*ROLES, prefix])
    row = cursor.fetchone()
    now = timezone.now()
    if (
        row is None
        or not keys.matches(key, row[AUTH_DIGEST])
        or row[AUTH_REVOKED_AT] is not None
        or row[AUTH_EXPIRES_AT] <= now
        or not row[AUTH_IS_ACTIVE]
        or not (row[AUTH_HAS_ROLE] or row[AUTH_IS_SUPERUSER])
    ):
        return None
    due = now - timedelta(minutes=settings.API_TOKEN_LAST_USED_MINUTES)
    if row[AUTH_LAST_USED_AT] is None or row[AUTH_LAST_USED_AT] <= due:
        cursor.execute(NOTE_USE_SQL, [now, due, row[AUTH_TOKEN_ID]])
    # The user's throttle, counted where CACHE_URL says (one statement with db://).
    _, duration = THROTTLE.parse_rate(THROTTLE.get_rate())
    moment = time.time()
    current_store().hit(f"throttle_user_{row[AUTH_USER_ID]}", int(moment // duration), duration)
    request.table_changes = orjson.loads(row[AUTH_TABLE_CHANGES] or "{}")
    return row[AUTH_USER_ID]


MEASURE_TABLES = tables_of(*MEASURE_MODELS)
UPDATE_TABLES = tables_of(*UPDATE_MODELS)


def weak_etag(request, tables: tuple[str, ...], user_id: int) -> str:
    """config.conditional's tag: the tables' change counters (read with the token) and what
    in the request shapes the body."""
    parts = (
        BODY_FORMAT,
        changes_in(request.table_changes, tables),
        request.build_absolute_uri(),
        "application/json",
        translation.get_language() or "",
        user_id,
    )
    return f'W/"{hashlib.sha256(repr(parts).encode()).hexdigest()[:20]}"'


def token_only(request):
    with connection.cursor() as cursor:
        if authenticate(cursor, request) is None:
            return unauthorized()
    return HttpResponse(status=204)


def unauthorized() -> HttpResponse:
    response = json_response({"detail": "Authentication credentials were not provided."}, 401)
    response["WWW-Authenticate"] = "Token"
    return response


# config.api.JSONRenderer's call (compact, no indent), so that the limit's rendering costs
# what the app's does.
JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_response(data, status: int = 200, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(data, option=JSON_OPTIONS),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def instant(value) -> str | None:
    """DRF's DateTimeField: in the current time zone, ISO 8601, Z for UTC."""
    if value is None:
        return None
    text = value.astimezone(ZONE).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def day(value) -> str | None:
    return value.isoformat() if value is not None else None


def placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def real_url(request, path: str) -> str:
    """The URL the real endpoint sees for this query: links name the real API's path."""
    query = request.META.get("QUERY_STRING", "")
    return request.build_absolute_uri(path + ("?" + query if query else ""))


def positive(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    return int(value) if value.isdigit() and int(value) >= 1 else None


# --- B1/B2: measures ------------------------------------------------------------------------
# The statements of MeasureViewSet.list (recommendations/api/rows.py), as Django writes them.

FROM_MEASURES = f'FROM {MEASURE} INNER JOIN {PILLAR} ON ({MEASURE}."pillar_id" = {PILLAR}."id")'
LATEST = 'U0."recorded_at" DESC, U0."id" DESC LIMIT 1)'


def then(column: str) -> str:
    """selectors.with_state_on: the entry in force on a day, one subquery per column (the
    day is a parameter)."""
    first = "1" if column == "effective_date" else 'U0."effective_date"'
    return (
        f'(SELECT U0."{column}" AS "{column}" FROM {HISTORY} U0 WHERE (U0."effective_date" <= %s '
        f'AND U0."measure_id" = ({MEASURE}."id")) ORDER BY {first} DESC, {LATEST}'
    )


PAGE_COLUMNS = ", ".join(
    [f'{MEASURE}."id" AS "id"', f'{MEASURE}."code" AS "code"']
    + [f'{PILLAR}."number" AS "pillar__number"']
    + [
        f'{MEASURE}."{name}" AS "{name}"'
        for name in (
            "title_zh",
            "title_en",
            "description_zh",
            "description_en",
            "status",
            "progress",
            "status_effective_date",
            "version",
            "priority",
            "target_date",
            "review_every_days",
            "archived",
            "updated_at",
        )
    ]
    + [
        'COALESCE((SELECT COUNT(*) AS "n" FROM "evidence_evidencemeasure" U0 WHERE '
        f'U0."measure_id" = ({MEASURE}."id") GROUP BY U0."measure_id"), 0) AS "evidence_count"'
    ]
)
THEN_COLUMNS = (
    f'{then("status")} AS "status_then", {then("progress")} AS "progress_then", '
    f'{then("effective_date")} AS "status_effective_date_then"'
)
# Positions in a page row.
(
    ID,
    CODE,
    PILLAR_NUMBER,
    TITLE_ZH,
    TITLE_EN,
    DESCRIPTION_ZH,
    DESCRIPTION_EN,
    STATUS,
    PROGRESS,
    SINCE,
    VERSION,
    PRIORITY,
    TARGET,
    REVIEW,
    ARCHIVED,
    UPDATED,
    EVIDENCE_COUNT,
    STATUS_THEN,
    PROGRESS_THEN,
    SINCE_THEN,
) = range(20)


def measures_where(statuses: int, as_of: bool) -> str:
    wanted = f"IN ({placeholders(statuses)})"
    if as_of:
        return (
            f'WHERE ({then("status")} IS NOT NULL AND {PILLAR}."number" = %s AND '
            f"{then('status')} {wanted})"
        )
    return f'WHERE ({PILLAR}."number" = %s AND {MEASURE}."status" {wanted})'


def count_sql(statuses: int, as_of: bool) -> str:
    return f'SELECT COUNT(*) AS "__count" {FROM_MEASURES} {measures_where(statuses, as_of)}'


def page_sql(statuses: int, as_of: bool, limit: int, offset: int) -> str:
    select = PAGE_COLUMNS + (f", {THEN_COLUMNS}" if as_of else "")
    sql = (
        f"SELECT {select} {FROM_MEASURES} {measures_where(statuses, as_of)} "
        f'ORDER BY 2 ASC NULLS LAST, {MEASURE}."id" ASC LIMIT {limit}'
    )
    return sql + (f" OFFSET {offset}" if offset else "")


def measures(request):
    """B1 and B2: GET /api/v1/measures/?pillar=&status=&page_size=[&as_of=][&page=]."""
    params = request.GET
    size = positive(params.get("page_size"), 50)
    number = positive(params.get("page"), 1)
    pillar = params.get("pillar", "")
    statuses = params.getlist("status")
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    if size is None or number is None or not pillar.isdigit() or not statuses:
        return json_response({"detail": "the limit serves pillar+status lists only"}, 400)
    size = min(size, settings.API_MAX_PAGE_SIZE)
    where = [as_of, int(pillar), as_of, *statuses] if as_of else [int(pillar), *statuses]
    scenarios, risks, institutions = {}, {}, {}
    rows = []
    with connection.cursor() as cursor:
        user = authenticate(cursor, request)
        if user is None:
            return unauthorized()
        tag = weak_etag(request, MEASURE_TABLES, user)
        cursor.execute(count_sql(len(statuses), bool(as_of)), where)
        count = cursor.fetchone()[0]
        # Django's Paginator: page `number` is rows [bottom, min(bottom + size, count)).
        bottom = (number - 1) * size
        if bottom and bottom >= count:
            return json_response({"detail": "Invalid page."}, 404)
        top = min(bottom + size, count)
        if top > bottom:
            select = [as_of] * 3 if as_of else []
            cursor.execute(
                page_sql(len(statuses), bool(as_of), top - bottom, bottom), select + where
            )
            rows = cursor.fetchall()
            ids = [row[ID] for row in rows]
            cursor.execute(*rows_module.links_sql(ids))
            for measure, kind, key, first, second, _order in sorted(
                cursor.fetchall(), key=rows_module.link_order
            ):
                if kind == "s":
                    scenarios.setdefault(measure, []).append(key)
                elif kind == "r":
                    risks.setdefault(measure, []).append(
                        {"key": key, "rationale_zh": first, "rationale_en": second}
                    )
                else:
                    institutions.setdefault(measure, []).append({"key": key, "role": first})
    base = request.build_absolute_uri("/api/v1/measures/")
    status, progress, since = (
        (STATUS_THEN, PROGRESS_THEN, SINCE_THEN)
        if as_of
        else (
            STATUS,
            PROGRESS,
            SINCE,
        )
    )
    stamp = day(as_of)
    results = [
        {
            "id": row[ID],
            "url": f"{base}{row[ID]}/",
            "code": row[CODE],
            "pillar": row[PILLAR_NUMBER],
            "title_zh": row[TITLE_ZH],
            "title_en": row[TITLE_EN],
            "description_zh": row[DESCRIPTION_ZH],
            "description_en": row[DESCRIPTION_EN],
            "status": row[status],
            "progress": row[progress],
            "status_effective_date": day(row[since]),
            "version": row[VERSION],
            "priority": row[PRIORITY],
            "target_date": day(row[TARGET]),
            "review_every_days": row[REVIEW],
            "archived": row[ARCHIVED],
            "risks": risks.get(row[ID], []),
            "scenarios": scenarios.get(row[ID], []),
            "institutions": institutions.get(row[ID], []),
            "evidence_count": row[EVIDENCE_COUNT],
            "updated_at": instant(row[UPDATED]),
            "as_of": stamp,
        }
        for row in rows
    ]
    url = real_url(request, "/api/v1/measures/")
    next_link = replace_query_param(url, "page", number + 1) if top < count else None
    previous = None
    if number > 1:
        previous = (
            remove_query_param(url, "page")
            if number == 2
            else replace_query_param(url, "page", number - 1)
        )
    return json_response(
        {"count": count, "next": next_link, "previous": previous, "results": results},
        headers={"ETag": tag},
    )


# --- B3: the feed ---------------------------------------------------------------------------
# The statements of StatusUpdateViewSet.list (rows.update_rows_queryset, rows.update_rows).

FEED_SELECT = (
    f'SELECT {HISTORY}."id" AS "id", {HISTORY}."measure_id" AS "measure_id", '
    f'{MEASURE}."code" AS "measure__code", {HISTORY}."status" AS "status", '
    f'{HISTORY}."progress" AS "progress", {HISTORY}."confidence" AS "confidence", '
    f'{HISTORY}."effective_date" AS "effective_date", {HISTORY}."recorded_at" AS '
    f'"recorded_at", "auth_user"."username" AS "recorded_by__username", {HISTORY}."note" AS '
    f'"note" FROM {HISTORY} INNER JOIN {MEASURE} ON ({HISTORY}."measure_id" = {MEASURE}."id") '
    f'LEFT OUTER JOIN "auth_user" ON ({HISTORY}."recorded_by_id" = "auth_user"."id")'
)


def feed_sql(after: bool, limit: int) -> str:
    where = f' WHERE {HISTORY}."id" > %s' if after else ""
    return f"{FEED_SELECT}{where} ORDER BY 1 ASC LIMIT {limit}"


def cursor_link(base: str, position, reverse: bool = False) -> str:
    tokens = {"r": "1", "p": position} if reverse else {"p": position}
    encoded = b64encode(parse.urlencode(tokens).encode("ascii")).decode("ascii")
    return replace_query_param(base, "cursor", encoded)


def status_updates(request):
    """B3: GET /api/v1/status-updates/?page_size=[&cursor=] for forward cursors."""
    size = positive(request.GET.get("page_size"), 50)
    position = None
    if "cursor" in request.GET:
        tokens = parse.parse_qs(b64decode(request.GET["cursor"].encode("ascii")).decode("ascii"))
        if set(tokens) != {"p"}:
            return json_response({"detail": "the limit serves forward cursors only"}, 400)
        position = tokens["p"][0]
    if size is None:
        return json_response({"detail": "bad page_size"}, 400)
    size = min(size, settings.API_MAX_PAGE_SIZE)
    evidence, cited = {}, {}
    with connection.cursor() as cursor:
        user = authenticate(cursor, request)
        if user is None:
            return unauthorized()
        tag = weak_etag(request, UPDATE_TABLES, user)
        if position is None:
            cursor.execute(feed_sql(False, size + 1))
        else:
            cursor.execute(feed_sql(True, size + 1), [int(position)])
        rows = cursor.fetchall()
        page = rows[:size]
        if page:
            ids = [row[0] for row in page]
            cursor.execute(*rows_module.update_evidence_sql(ids))
            for update, piece, version in cursor.fetchall():
                evidence.setdefault(update, []).append(piece)
                cited.setdefault(update, []).append({"evidence": piece, "version": version})
    base = request.build_absolute_uri("/api/v1/status-updates/")
    results = [
        {
            "id": pk,
            "url": f"{base}{pk}/",
            "measure": measure,
            "measure_code": code,
            "status": status,
            "progress": progress,
            "confidence": trust,
            "effective_date": day(effective),
            "recorded_at": instant(recorded),
            "recorded_by": by,
            "note": note,
            "evidence": evidence.get(pk, []),
            "cited_evidence": cited.get(pk, []),
        }
        for pk, measure, code, status, progress, trust, effective, recorded, by, note in page
    ]
    url = real_url(request, "/api/v1/status-updates/")
    next_link = cursor_link(url, str(page[-1][0])) if len(rows) > size else None
    previous = None
    if position is not None:  # CursorPagination: a page reached by a cursor has a previous
        previous = cursor_link(url, str(page[0][0]) if page else position, reverse=True)
    if page:
        resume = cursor_link(url, str(page[-1][0]))
    elif position is not None:
        resume = cursor_link(url, position)
    else:
        resume = None
    return json_response(
        {"next": next_link, "previous": previous, "results": results, "resume": resume},
        headers={"ETag": tag},
    )


# --- B4: the report's SQL alone -------------------------------------------------------------

_replays: dict[str, list[str]] = {}


def report_sql(request):
    """Run the statements the report ran (captured by the runner), fetch every row."""
    name = request.GET.get("name", "")
    if name not in _replays:
        path = Path(os.environ.get("BENCH_VAR", "bench/var")) / f"report-sql-{name}.json"
        if not name.isalnum() or not path.exists():
            return json_response({"detail": f"no captured SQL named {name!r}"}, 404)
        _replays[name] = json.loads(path.read_text())
    rows = 0
    with connection.cursor() as cursor:
        if authenticate(cursor, request) is None:
            return unauthorized()
        for sql in _replays[name]:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
    return json_response({"statements": len(_replays[name]) + 1, "rows": rows})


# --- B5: the bare write ---------------------------------------------------------------------

BARE_UPDATE = (
    f'UPDATE {MEASURE} SET "status" = %s, "progress" = %s, "status_effective_date" = %s, '
    '"version" = "version" + 1, "updated_at" = %s WHERE "id" = %s AND "version" = %s '
    'AND ("status_effective_date" IS NULL OR "status_effective_date" <= %s) RETURNING "version"'
)
BARE_INSERT = (
    f'INSERT INTO {HISTORY} ("measure_id", "status", "progress", "confidence", '
    '"effective_date", "recorded_at", "recorded_by_id", "note") VALUES '
    '(%s, %s, %s, %s, %s, %s, %s, %s) RETURNING "id"'
)


@csrf_exempt
def record(request, pk: int):
    """B5: POST /api/v1/measures/<id>/status-updates/ as two bare statements.

    No rule checks, no idempotency key, no history lock: the least a write must do."""
    if request.method != "POST":
        return json_response({"detail": "POST only"}, 405)
    body = json.loads(request.body)
    match = request.headers.get("If-Match", "").strip('"')
    now = timezone.now()
    effective = date.fromisoformat(body["effective_date"])
    with connection.cursor() as cursor:
        user = authenticate(cursor, request)
        if user is None:
            return unauthorized()
        with transaction.atomic():
            cursor.execute(
                BARE_UPDATE,
                [body["status"], body["progress"], effective, now, pk, int(match), effective],
            )
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f'SELECT "version" FROM {MEASURE} WHERE "id" = %s', [pk])
                current = cursor.fetchone()
                if current is None:
                    return json_response({"detail": "Not found."}, 404)
                return json_response(
                    {"detail": "stale version", "current_version": current[0]},
                    412,
                    {"ETag": f'"{current[0]}"'},
                )
            version = row[0]
            cursor.execute(
                BARE_INSERT,
                [
                    pk,
                    body["status"],
                    body["progress"],
                    body.get("confidence", "medium"),
                    effective,
                    now,
                    user,
                    body.get("note", ""),
                ],
            )
            update = cursor.fetchone()[0]
    return json_response({"id": update, "version": version}, 201, {"ETag": f'"{version}"'})
