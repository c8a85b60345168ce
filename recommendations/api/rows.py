"""The measure list's and the feed's rows as plain dicts: the same JSON as MeasureSerializer
and StatusUpdateSerializer give (tests hold them together), from `.values()` rows and one
query per kind of link instead of model instances and nested serializers. Lists are where
national-scale integrations spend their requests (bench/README.md)."""

import functools
from collections import defaultdict
from datetime import date, datetime

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from evidence.models import Evidence, EvidenceMeasure, EvidenceRevision, StatusUpdateEvidence

from ..models import (
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Risk,
    Scenario,
    StatusUpdate,
)
from ..selectors import with_state_on

MEASURE_COLUMNS = (
    "id",
    "code",
    "pillar__number",
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
THEN = ("status_then", "progress_then", "status_effective_date_then")
UPDATE_COLUMNS = (
    "id",
    "measure_id",
    "measure__code",
    "status",
    "progress",
    "confidence",
    "effective_date",
    "recorded_at",
    "recorded_by__username",
    "proposed_at",
    "approved_by__username",
    "note",
)


def moment(value: datetime | None, zone) -> str | None:
    """A datetime as DRF's DateTimeField renders it: in `zone` (the current time zone), ISO
    8601, UTC as "Z"; without DRF's field machinery, which cost 15 µs a value (the test of the
    rows holds the two together)."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def measure_rows_queryset(as_of: date | None) -> QuerySet:
    """Measures as `.values()` rows with their evidence count (and state on `as_of`): a fresh
    copy of a queryset built once per process and date (`_measure_rows`). Building it (the
    subqueries resolved, the annotations and the values) cost a millisecond a request; a
    copy costs a tenth of that, and the built one is never evaluated, so it holds no rows."""
    return _measure_rows(as_of).all()


@functools.lru_cache(maxsize=64)
def _measure_rows(as_of: date | None) -> QuerySet:
    evidence = (
        EvidenceMeasure.objects.filter(measure=OuterRef("pk"))
        .order_by()
        .values("measure")
        .annotate(n=Count("*"))
        .values("n")
    )
    measures = Measure.objects.annotate(
        evidence_count=Coalesce(Subquery(evidence), Value(0), output_field=IntegerField())
    )
    columns = (*MEASURE_COLUMNS, "evidence_count")
    if as_of is not None:
        return with_state_on(measures, as_of).values(*columns, *THEN)
    return measures.values(*columns)


def _among(ids: list[int], *, times: int) -> tuple[str, list]:
    """`column <this>` for "is one of `ids`", and its parameters for `times` uses. On
    PostgreSQL the ids go as one array, so that a statement's text is the same for every
    page (psycopg caches the parsing of short statements with few parameters)."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [ids] * times
    return f"IN ({', '.join(['%s'] * len(ids))})", ids * times


def links_sql(ids: list[int]) -> tuple[str, list]:
    """The UNION ALL behind measure_links and its parameters: (measure, kind, key, text, text,
    order). Written out rather than composed through the ORM, whose three querysets and their
    union cost more to build and compile on every request than the query costs to run."""
    through, scenario = Measure.scenarios.through._meta.db_table, Scenario._meta.db_table
    risk_link, risk = MeasureRisk._meta.db_table, Risk._meta.db_table
    link, body = MeasureInstitution._meta.db_table, Institution._meta.db_table
    among, params = _among(ids, times=3)
    sql = (
        f"SELECT l.measure_id, 's', t.key, '', '', t.\"order\" FROM {through} l "
        f"JOIN {scenario} t ON t.id = l.scenario_id WHERE l.measure_id {among} "
        f"UNION ALL SELECT l.measure_id, 'r', t.key, l.rationale_zh, l.rationale_en, "
        f't."order" FROM {risk_link} l JOIN {risk} t ON t.id = l.risk_id '
        f"WHERE l.measure_id {among} "
        f"UNION ALL SELECT l.measure_id, 'i', t.key, l.role, '', 0 FROM {link} l "
        f"JOIN {body} t ON t.id = l.institution_id WHERE l.measure_id {among}"
    )
    return sql, params


def link_order(row: tuple) -> tuple:
    """Scenarios and risks by (order, key); institutions by (role, key): the serializers'."""
    return (row[1], row[5], row[3] if row[1] == "i" else "", row[2])


def measure_links(ids: list[int]) -> tuple[dict, dict, dict]:
    """The scenarios (keys), risks and institutions of the measures `ids`, in one query, each
    list in the order the serializers give it."""
    links = {"s": defaultdict(list), "r": defaultdict(list), "i": defaultdict(list)}
    if not ids:
        return links["s"], links["r"], links["i"]
    with connection.cursor() as cursor:
        cursor.execute(*links_sql(ids))
        rows = sorted(cursor.fetchall(), key=link_order)
    for measure, kind, key, first, second, _order in rows:
        if kind == "s":
            links[kind][measure].append(key)
        elif kind == "r":
            links[kind][measure].append({"key": key, "rationale_zh": first, "rationale_en": second})
        else:
            links[kind][measure].append({"key": key, "role": first})
    return links["s"], links["r"], links["i"]


def measure_rows(page: list[dict], request, as_of: date | None) -> list[dict]:
    """The page's measures as MeasureSerializer renders them, with one query for the links."""
    scenarios, risks, institutions = measure_links([row["id"] for row in page])
    base = request.build_absolute_uri(reverse("measure-list"))
    then = as_of is not None
    stamp = iso(as_of)
    zone = timezone.get_current_timezone()
    return [
        {
            "id": row["id"],
            "url": f"{base}{row['id']}/",
            "code": row["code"],
            "pillar": row["pillar__number"],
            "title_zh": row["title_zh"],
            "title_en": row["title_en"],
            "description_zh": row["description_zh"],
            "description_en": row["description_en"],
            "status": row["status_then"] if then else row["status"],
            "progress": row["progress_then"] if then else row["progress"],
            "status_effective_date": iso(
                row["status_effective_date_then"] if then else row["status_effective_date"]
            ),
            "version": row["version"],
            "priority": row["priority"],
            "target_date": iso(row["target_date"]),
            "review_every_days": row["review_every_days"],
            "archived": row["archived"],
            "risks": risks.get(row["id"], []),
            "scenarios": scenarios.get(row["id"], []),
            "institutions": institutions.get(row["id"], []),
            "evidence_count": row["evidence_count"],
            "updated_at": moment(row["updated_at"], zone),
            "as_of": stamp,
        }
        for row in page
    ]


def update_rows_queryset() -> QuerySet:
    return StatusUpdate.objects.values(*UPDATE_COLUMNS)


def update_evidence_sql(ids: list[int]) -> tuple[str, list]:
    """The evidence ids and cited revisions' versions of the status updates `ids`, each
    update's in Evidence's order (newest
    date first, then id), and the parameters. The date is read by primary key for each link
    found, not by a join: expecting one link per update, the planner would hash the whole
    evidence table for a join (2 ms at 5,000 pieces of evidence, against 0.3 ms)."""
    links, evidence = StatusUpdateEvidence._meta.db_table, Evidence._meta.db_table
    revisions = EvidenceRevision._meta.db_table
    among, params = _among(ids, times=1)
    sql = (
        f"SELECT l.status_update_id, l.evidence_id, "
        f"(SELECT r.version FROM {revisions} r WHERE r.id = l.revision_id) FROM {links} l "
        f"WHERE l.status_update_id {among} "
        f"ORDER BY (SELECT e.date FROM {evidence} e WHERE e.id = l.evidence_id) DESC, "
        "l.evidence_id"
    )
    return sql, params


def update_rows(page: list[dict], request) -> list[dict]:
    """The page's status updates as StatusUpdateSerializer renders them: one query for the
    evidence ids."""
    evidence, cited = defaultdict(list), defaultdict(list)
    if page:
        with connection.cursor() as cursor:
            cursor.execute(*update_evidence_sql([row["id"] for row in page]))
            for update, piece, version in cursor.fetchall():
                evidence[update].append(piece)
                cited[update].append({"evidence": piece, "version": version})
    base = request.build_absolute_uri(reverse("status-update-list"))
    zone = timezone.get_current_timezone()
    return [
        {
            "id": row["id"],
            "url": f"{base}{row['id']}/",
            "measure": row["measure_id"],
            "measure_code": row["measure__code"],
            "status": row["status"],
            "progress": row["progress"],
            "confidence": row["confidence"],
            "effective_date": iso(row["effective_date"]),
            "recorded_at": moment(row["recorded_at"], zone),
            "recorded_by": row["recorded_by__username"],
            "proposed_at": moment(row["proposed_at"], zone),
            "approved_by": row["approved_by__username"],
            "note": row["note"],
            "evidence": evidence.get(row["id"], []),
            "cited_evidence": cited.get(row["id"], []),
        }
        for row in page
    ]


def recorded_update(update: StatusUpdate, request) -> dict:
    """A status update just recorded (services.record_status_update: its measure, author and
    evidence links loaded) as RecordedStatusUpdateSerializer renders it, with no query."""
    measure = update.measure
    return {
        **recorded_entry(update, request),
        # Read afresh: the measure moves on in the transaction that recorded the entry.
        "measure_state": {
            "id": measure.pk,
            "code": measure.code,
            "status": measure.status,
            "progress": measure.progress,
            "status_effective_date": iso(measure.status_effective_date),
            "version": measure.version,
        },
    }


def recorded_entry(update: StatusUpdate, request) -> dict:
    """The entry of recorded_update without its measure's state: GET
    /api/v1/status-updates/{id}/'s body. Built once per entry and time zone, the URL apart
    (against each request's address): the events app's payload and the API's answer to the
    POST are the same row."""
    zone = timezone.get_current_timezone()
    built = update.__dict__.get("_recorded_row")
    if built is None or built[0] is not zone:
        built = (zone, _recorded_fields(update, zone))
        update._recorded_row = built
    base = request.build_absolute_uri(reverse("status-update-list"))
    return {"id": update.pk, "url": f"{base}{update.pk}/", **built[1]}


def _recorded_fields(update: StatusUpdate, zone) -> dict:
    measure, links = update.measure, update.evidence_links.all()
    return {
        "measure": measure.pk,
        "measure_code": measure.code,
        "status": update.status,
        "progress": update.progress,
        "confidence": update.confidence,
        "effective_date": iso(update.effective_date),
        "recorded_at": moment(update.recorded_at, zone),
        "recorded_by": update.recorded_by.username if update.recorded_by else None,
        "proposed_at": moment(update.proposed_at, zone),
        "approved_by": update.approved_by.username if update.approved_by else None,
        "note": update.note,
        "evidence": [link.evidence_id for link in links],
        "cited_evidence": [
            {"evidence": link.evidence_id, "version": link.revision.version} for link in links
        ],
    }
