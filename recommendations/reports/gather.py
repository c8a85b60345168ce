"""The rows a status report is built from: each kind in one set-based query, as plain tuples
(no model instances), so that a report over millions of updates stays cheap."""

from datetime import date, datetime
from typing import NamedTuple

from django.db import connection
from django.db.models import Max, OuterRef, Subquery

from evidence.models import StatusUpdateEvidence

from ..models import Measure, MeasureRisk, StatusUpdate
from ..selectors import LATEST_FIRST

STATES_ON_POSTGRESQL = """
SELECT m.id, u.status, u.progress, u.effective_date, u.note
FROM recommendations_measure AS m
CROSS JOIN LATERAL (
    SELECT status, progress, effective_date, note
    FROM recommendations_statusupdate
    WHERE measure_id = m.id AND effective_date <= %s
    ORDER BY effective_date DESC, recorded_at DESC, id DESC
    LIMIT 1
) AS u
"""


class MeasureRow(NamedTuple):
    id: int
    code: str
    pillar: int
    title_zh: str
    title_en: str
    archived: bool
    target_date: date | None
    review_every_days: int


class State(NamedTuple):
    """The entry of a measure's history in force on a day."""

    status: str
    progress: int | None
    effective_date: date
    note: str


class Update(NamedTuple):
    id: int
    measure_id: int
    status: str
    progress: int | None
    confidence: str
    effective_date: date
    recorded_at: datetime
    note: str
    recorded_by: str | None


def measures() -> dict[int, MeasureRow]:
    """Every measure, archived ones included, by id, in code order."""
    rows = Measure.objects.order_by("code").values_list(
        "id",
        "code",
        "pillar__number",
        "title_zh",
        "title_en",
        "archived",
        "target_date",
        "review_every_days",
    )
    return {row[0]: MeasureRow(*row) for row in rows}


def states_on(day: date) -> dict[int, State]:
    """Each measure's state on `day` by measure id; measures whose history had not begun are
    absent. The same state as selectors.with_state_on (and so the API's `as_of`)."""
    if connection.vendor == "postgresql":
        # One backward probe per measure on statusupdate_measure_asof_idx, read in place.
        with connection.cursor() as cursor:
            cursor.execute(STATES_ON_POSTGRESQL, [day])
            return {measure: State(*state) for measure, *state in cursor.fetchall()}
    # Elsewhere: one index-only probe per measure finds the entry in force, which is then
    # read by primary key.
    in_force = (
        StatusUpdate.objects.filter(measure=OuterRef("pk"), effective_date__lte=day)
        .order_by(*LATEST_FIRST)
        .values("id")[:1]
    )
    entries = Measure.objects.order_by().annotate(entry=Subquery(in_force)).values("entry")
    rows = (
        StatusUpdate.objects.filter(id__in=entries)
        .order_by()
        .values_list("measure_id", "status", "progress", "effective_date", "note")
    )
    return {measure: State(*state) for measure, *state in rows}


def updates_in(since: date, until: date) -> list[Update]:
    """Every update effective in (since, until], in history order: effective date, recorded
    at, id. (The effective-date index gives the rows nearly in that order: PostgreSQL only
    sorts within each day.)"""
    rows = (
        StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
        .order_by("effective_date", "recorded_at", "id")
        .values_list(
            "id",
            "measure_id",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "recorded_at",
            "note",
            "recorded_by__username",
        )
    )
    if connection.vendor != "postgresql":
        return [Update(*row) for row in rows]
    # There can be hundreds of thousands: psycopg's rows need none of Django's per-row
    # conversion, so they are read with the same SQL on a plain cursor.
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(map(Update._make, cursor.fetchall()))


def update_evidence(since: date, until: date) -> dict[int, list[dict]]:
    """The evidence attached to each update effective in (since, until], by update id, as the
    update cited it: claims and source title from the revision it cited, whatever the
    evidence says now."""
    rows = (
        StatusUpdateEvidence.objects.filter(
            status_update__effective_date__gt=since, status_update__effective_date__lte=until
        )
        .order_by("status_update_id", "evidence_id")
        .values_list(
            "status_update_id",
            "evidence_id",
            "revision__content__claim_zh",
            "revision__content__claim_en",
            "revision__content__source__title",
        )
    )
    evidence: dict[int, list[dict]] = {}
    for update, pk, claim_zh, claim_en, source in rows:
        evidence.setdefault(update, []).append(
            {"id": pk, "claim_zh": claim_zh, "claim_en": claim_en, "source": source}
        )
    return evidence


def latest_recording() -> datetime | None:
    """When the latest status update was recorded (an index scan of one row)."""
    return StatusUpdate.objects.aggregate(last=Max("recorded_at"))["last"]


def risk_links() -> dict[int, list[int]]:
    """The measures that mitigate each risk, by risk id."""
    links: dict[int, list[int]] = {}
    for risk, measure in MeasureRisk.objects.values_list("risk_id", "measure_id"):
        links.setdefault(risk, []).append(measure)
    return links
