"""The rows a status report is built from: each kind in one set-based query, as plain tuples
(no model instances), so that a report over millions of updates stays cheap. Which updates
changed something and which re-confirmed the state in force is decided by the database."""

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


# Which updates of a period are changes. Each status update effective in (since, until] is
# compared with the entry before it in history order (effective date, recorded at, id): the
# one before it in the period or, for a measure's first in the period, the entry in force on
# `since`. It is a change when its status or progress differs from that entry's, or when no
# entry came before it; otherwise it re-confirms the state in force.
#
# `entries`: the period's entries, by the effective-date index, and each measure's entry in
# force on `since` (in_period 0), one backward probe of statusupdate_measure_asof_idx per
# measure. The window then sorts these rows only, whatever the length of the history before
# the period. Parameters: since, until, since.
ENTRIES = """
entries AS (
    SELECT measure_id, id, status, progress, effective_date, recorded_at, 1 AS in_period
    FROM {updates}
    WHERE effective_date > %s AND effective_date <= %s
    UNION ALL
    {in_force}
)"""
# On PostgreSQL the probe reads the entry in place (LATERAL).
IN_FORCE_POSTGRESQL = """SELECT m.id, e.id, e.status, e.progress, e.effective_date, e.recorded_at, 0
    FROM {measures} AS m
    CROSS JOIN LATERAL (
        SELECT id, status, progress, effective_date, recorded_at
        FROM {updates}
        WHERE measure_id = m.id AND effective_date <= %s
        ORDER BY effective_date DESC, recorded_at DESC, id DESC
        LIMIT 1
    ) AS e"""
# SQLite has no LATERAL: the probe finds the entry's id, which is then read by primary key.
IN_FORCE_PORTABLE = """SELECT measure_id, id, status, progress, effective_date, recorded_at, 0
    FROM {updates}
    WHERE id IN (
        SELECT (
            SELECT id FROM {updates} AS before
            WHERE before.measure_id = m.id AND before.effective_date <= %s
            ORDER BY effective_date DESC, recorded_at DESC, id DESC
            LIMIT 1
        )
        FROM {measures} AS m
    )"""
# `flagged`: the period's entries, each with what it moved from, whether it is a change
# (progress is 0–100 or NULL, so -1 stands for NULL), and whether it is its measure's last.
# One text for PostgreSQL and SQLite (3.25 and later have window functions).
FLAGGED = """,
compared AS (
    SELECT measure_id, id, status, progress, effective_date, recorded_at, in_period,
        LAG(status) OVER w AS from_status,
        LAG(progress) OVER w AS from_progress,
        CASE WHEN LEAD(id) OVER w IS NULL THEN 1 ELSE 0 END AS last
    FROM entries
    WINDOW w AS (PARTITION BY measure_id ORDER BY effective_date, recorded_at, id)
),
flagged AS (
    SELECT measure_id, id, status, progress, effective_date, recorded_at, from_status,
        from_progress, last,
        CASE
            WHEN from_status IS NULL OR from_status <> status THEN 1
            WHEN COALESCE(from_progress, -1) <> COALESCE(progress, -1) THEN 1
            ELSE 0
        END AS changed
    FROM compared
    WHERE in_period = 1
)
"""
# The changes, with what each moved from, and on each measure's last row of the period its
# re-confirmations (how many, the latest effective date), in history order.
CHANGES_SQL = (
    FLAGGED
    + """,
counted AS (
    SELECT measure_id, id, status, progress, effective_date, recorded_at, from_status,
        from_progress, last, changed,
        SUM(1 - changed) OVER per_measure AS reconfirmed,
        MAX(CASE WHEN changed = 0 THEN effective_date END) OVER per_measure AS latest
    FROM flagged
    WINDOW per_measure AS (PARTITION BY measure_id)
)
SELECT c.id, c.measure_id, c.status, c.progress, u.confidence, c.effective_date,
    c.recorded_at, u.note, a.{username}, c.from_status, c.from_progress, c.changed,
    c.reconfirmed, c.latest
FROM counted AS c
JOIN {updates} AS u ON u.id = c.id
LEFT JOIN {users} AS a ON a.id = u.recorded_by_id
WHERE c.changed = 1 OR (c.last = 1 AND c.reconfirmed > 0)
ORDER BY c.effective_date, c.recorded_at, c.id
"""
)
# How many changes the period holds, counting no further than a limit; no row is sent.
COUNT_CHANGES_SQL = (
    FLAGGED
    + """
SELECT COUNT(*) FROM (SELECT 1 FROM flagged WHERE changed = 1 LIMIT %s) AS held
"""
)


class Change(NamedTuple):
    """A status update that changed its measure's status or progress, with the state it
    moved from (None for a measure's first entry)."""

    id: int
    measure_id: int
    status: str
    progress: int | None
    confidence: str
    effective_date: date
    recorded_at: datetime
    note: str
    recorded_by: str | None
    from_status: str | None
    from_progress: int | None


class Reconfirmed(NamedTuple):
    """A measure's updates in the period that repeated the status and progress in force."""

    count: int
    latest: date  # the latest effective date among them


def compared_sql(tail: str) -> str:
    """The statement `tail` over the period's entries compared (parameters: since, until,
    since, then the tail's own)."""
    user = StatusUpdate._meta.get_field("recorded_by").related_model
    quote = connection.ops.quote_name
    in_force = IN_FORCE_POSTGRESQL if connection.vendor == "postgresql" else IN_FORCE_PORTABLE
    return ("WITH " + ENTRIES.replace("{in_force}", in_force) + tail).format(
        updates=quote(StatusUpdate._meta.db_table),
        measures=quote(Measure._meta.db_table),
        users=quote(user._meta.db_table),
        username=quote(user._meta.get_field(user.USERNAME_FIELD).column),
    )


def changes_in(since: date, until: date) -> tuple[list[Change], dict[int, Reconfirmed]]:
    """The changes effective in (since, until], in history order, and the re-confirmations
    by measure id: one query, the comparing done by the database."""
    with connection.cursor() as cursor:
        cursor.execute(compared_sql(CHANGES_SQL), [since, until, since])
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        rows = list(map(typed, rows))
    changes, reconfirmed = [], {}
    for *change, changed, count, latest in rows:
        if changed:
            changes.append(Change._make(change))
        if count:
            reconfirmed[change[1]] = Reconfirmed(count, latest)
    return changes, reconfirmed


def typed(row: tuple) -> tuple:
    """A row of CHANGES_SQL from SQLite, which hands computed columns back as text, with its
    dates and moments read by the backend's own converters."""
    row = list(row)
    ops = connection.ops
    for index in (5, 13):
        row[index] = ops.convert_datefield_value(row[index], None, connection)
    row[6] = ops.convert_datetimefield_value(row[6], None, connection)
    return tuple(row)


def count_changes(since: date, until: date, *, limit: int) -> int:
    """The number of changes effective in (since, until], or limit + 1 if there are more."""
    with connection.cursor() as cursor:
        cursor.execute(compared_sql(COUNT_CHANGES_SQL), [since, until, since, limit + 1])
        return cursor.fetchone()[0]


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
