"""The periodic status report: what moved in a period (since, until], where each pillar
stands, what is stuck or late, and which risks no measure is working against.

build_status_report() gathers everything with a fixed number of set-based queries, whatever
the number of measures and updates; the renderers (render.py) turn the result into JSON,
Markdown, CSV and HTML. Every state "as of" a date is the one the API's `as_of` listing
gives for that date (both use selectors.with_state_on). Archived measures are left out of
the states; their changes in the period are still reported.
"""

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, OuterRef, Prefetch, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from evidence.models import Evidence

from ..choices import ACTIVE, STOPPED, Status, is_regression
from ..models import Measure, MeasureRisk, Pillar, Risk, StatusUpdate
from ..selectors import LATEST_FIRST, with_state_on

SCHEMA_VERSION = 1
PERIODS = ("month", "quarter", "year")
# At most this many dates in the progress-over-time series (one query each).
MAX_SERIES_POINTS = 13


@dataclass(frozen=True)
class StateSummary:
    """Measures counted by status, and their mean progress (over assessed measures)."""

    measures: int
    by_status: dict[str, int]
    mean_progress: float | None


@dataclass(frozen=True)
class Overview:
    since: StateSummary
    until: StateSummary
    change: StateSummary  # until minus since


@dataclass(frozen=True)
class PillarOverview:
    number: int
    title_zh: str
    title_en: str
    since: StateSummary
    until: StateSummary
    change: StateSummary


@dataclass(frozen=True)
class MeasureRef:
    measure: str
    pillar: int
    title_zh: str
    title_en: str


@dataclass(frozen=True)
class Change(MeasureRef):
    """One status update effective in the period, with the state it moved from."""

    effective_date: date
    recorded_at: datetime
    recorded_after_period: bool  # back-dated news, recorded after the period ended
    from_status: str | None
    to_status: str
    from_progress: int | None
    to_progress: int | None
    progress_change: int | None
    regression: bool
    confidence: str
    note: str
    recorded_by: str | None
    evidence: list[dict]


@dataclass(frozen=True)
class PillarChanges:
    pillar: int
    title_zh: str
    title_en: str
    updates: list[Change]


@dataclass(frozen=True)
class MeasureState(MeasureRef):
    """A measure's state as of `since` (None if its history had not begun) and `until`."""

    status_since: str | None
    progress_since: int | None
    status_until: str
    progress_until: int | None
    status_effective_date: date
    progress_change: int | None


@dataclass(frozen=True)
class Stalled(MeasureRef):
    status: str
    since_date: date
    progress: int | None
    note: str


@dataclass(frozen=True)
class ReassessmentDue(MeasureRef):
    status: str
    last_update: date
    days_since_update: int
    review_every_days: int
    never_assessed: bool


@dataclass(frozen=True)
class Overdue(MeasureRef):
    target_date: date
    days_overdue: int
    status: str
    progress: int | None


@dataclass(frozen=True)
class RiskMeasure:
    measure: str
    title_zh: str
    title_en: str
    status: str
    progress: int | None


@dataclass(frozen=True)
class RiskCoverage:
    key: str
    title_zh: str
    title_en: str
    measures: list[RiskMeasure]
    coverage: float | None  # share implemented or partially implemented
    uncovered: bool  # no mitigating measure in progress or beyond


@dataclass(frozen=True)
class EvidenceAdded:
    total: int
    by_source_kind: dict[str, int]
    items: list[dict]


@dataclass(frozen=True)
class ProgressPoint:
    date: date
    overall: float | None
    pillars: dict[str, float | None]


@dataclass(frozen=True)
class StatusReport:
    since: date
    until: date
    # When the latest status update the report could include was recorded: a later run of
    # the same period differs only if history was recorded (or back-dated) after this.
    history_recorded_through: datetime | None
    overview: Overview
    pillars: list[PillarOverview]
    changes: list[PillarChanges]
    newly_implemented: list[MeasureState]
    regressions: list[Change]
    stalled: list[Stalled]
    reassessment_due: list[ReassessmentDue]
    overdue: list[Overdue]
    risks: list[RiskCoverage]
    evidence_added: EvidenceAdded
    progress_over_time: list[ProgressPoint]
    measures: list[MeasureState] = field(default_factory=list)


def last_complete_period(kind: str, today: date) -> tuple[date, date]:
    """(since, until] of the last month, quarter or year that ended before `today`."""
    if kind not in PERIODS:
        raise ValidationError({"period": _("Use month, quarter or year.")})
    if kind == "year":
        return date(today.year - 2, 12, 31), date(today.year - 1, 12, 31)
    months = 1 if kind == "month" else 3
    # The last period end before today: the end of a month (of a quarter's last month).
    end_month = (today.month - 1) // months * months  # 0 means December of last year
    until = month_end(today.year, end_month) if end_month else date(today.year - 1, 12, 31)
    since_month = until.month - months
    since = (
        month_end(until.year, since_month)
        if since_month > 0
        else month_end(until.year - 1, 12 + since_month)
    )
    return since, until


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def series_dates(since: date, until: date) -> list[date]:
    """`since`, the month ends between, and `until`: thinned evenly to MAX_SERIES_POINTS."""
    days = [since]
    year, month = since.year, since.month
    while True:
        end = month_end(year, month)
        if end >= until:
            break
        if end > since:
            days.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    days.append(until)
    if len(days) > MAX_SERIES_POINTS:
        step = (len(days) - 1) / (MAX_SERIES_POINTS - 1)
        days = [days[round(i * step)] for i in range(MAX_SERIES_POINTS)]
    return days


def summarise(states: list[tuple[str, int | None]]) -> StateSummary:
    counts = Counter(status for status, _progress in states)
    assessed = [progress for _status, progress in states if progress is not None]
    return StateSummary(
        measures=len(states),
        by_status={status: counts.get(status, 0) for status in Status.values},
        mean_progress=round(sum(assessed) / len(assessed), 1) if assessed else None,
    )


def difference(since: StateSummary, until: StateSummary) -> StateSummary:
    mean = None
    if since.mean_progress is not None and until.mean_progress is not None:
        mean = round(until.mean_progress - since.mean_progress, 1)
    return StateSummary(
        measures=until.measures - since.measures,
        by_status={s: until.by_status[s] - since.by_status[s] for s in Status.values},
        mean_progress=mean,
    )


def ref(measure: Measure) -> dict:
    return {
        "measure": measure.code,
        "pillar": measure.pillar.number,
        "title_zh": measure.title_zh,
        "title_en": measure.title_en,
    }


def period_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """The instants that start the day after `since` and the day after `until`, locally."""
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(since + timedelta(days=1), time.min, zone),
        datetime.combine(until + timedelta(days=1), time.min, zone),
    )


def changes_in(since: date, until: date):
    """Updates effective in (since, until], each with the state it moved from (`from_status`,
    `from_progress`: the entry before it in the measure's history)."""
    earlier = (
        StatusUpdate.objects.filter(measure=OuterRef("measure"))
        .filter(
            Q(effective_date__lt=OuterRef("effective_date"))
            | Q(effective_date=OuterRef("effective_date"), recorded_at__lt=OuterRef("recorded_at"))
            | Q(
                effective_date=OuterRef("effective_date"),
                recorded_at=OuterRef("recorded_at"),
                id__lt=OuterRef("id"),
            )
        )
        .order_by(*LATEST_FIRST)
    )
    return (
        StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
        .select_related("measure__pillar", "recorded_by")
        .prefetch_related(Prefetch("evidence", Evidence.objects.select_related("source")))
        .annotate(
            from_status=Subquery(earlier.values("status")[:1]),
            from_progress=Subquery(earlier.values("progress")[:1]),
        )
        .order_by("measure__pillar__number", "measure__code", "effective_date", "recorded_at", "id")
    )


def build_status_report(
    *, since: date, until: date, step: Callable[[str], None] = lambda name: None
) -> StatusReport:
    """The status report of the period (since, until]. Raises ValidationError for a period
    that ends before it starts. `step` is called as each part is done (for progress bars)."""
    if since >= until:
        raise ValidationError({"until": _("The period must end after it starts.")})
    if until >= date.max:
        raise ValidationError({"until": _("The period must end before 9999-12-31.")})
    live = Measure.objects.filter(archived=False).select_related("pillar")
    before = {m.pk: m for m in with_state_on(live, since)}
    after = {m.pk: m for m in with_state_on(live, until).order_by("code")}
    step("states")

    measures = [
        MeasureState(
            **ref(m),
            status_since=before[m.pk].status_then if m.pk in before else None,
            progress_since=before[m.pk].progress_then if m.pk in before else None,
            status_until=m.status_then,
            progress_until=m.progress_then,
            status_effective_date=m.status_effective_date_then,
            progress_change=(
                m.progress_then - before[m.pk].progress_then
                if m.pk in before
                and m.progress_then is not None
                and before[m.pk].progress_then is not None
                else None
            ),
        )
        for m in after.values()
    ]
    pillars = list(Pillar.objects.order_by("number"))
    overview, pillar_overviews = overviews(before, after, pillars)

    changes = [change_of(update, until) for update in changes_in(since, until)]
    grouped = defaultdict(list)
    for change in changes:
        grouped[change.pillar].append(change)
    titles = {p.number: p for p in pillars}
    step("changes")

    stopped = [m for m in after.values() if m.status_then in STOPPED]
    notes = dict(
        StatusUpdate.objects.filter(id__in=[m.update_then for m in stopped]).values_list(
            "id", "note"
        )
    )
    risks = risk_coverage(after)
    evidence_added = added_evidence(since, until)
    series = progress_series(since, until)
    step("risks, evidence and series")

    return StatusReport(
        since=since,
        until=until,
        history_recorded_through=StatusUpdate.objects.aggregate(last=Max("recorded_at"))["last"],
        overview=overview,
        pillars=pillar_overviews,
        changes=[
            PillarChanges(
                pillar=n,
                title_zh=titles[n].title_zh,
                title_en=titles[n].title_en,
                updates=grouped[n],
            )
            for n in sorted(grouped)
        ],
        newly_implemented=[
            m
            for m in measures
            if m.status_until == Status.IMPLEMENTED and m.status_since != Status.IMPLEMENTED
        ],
        regressions=[c for c in changes if c.regression],
        stalled=[
            Stalled(
                **ref(m),
                status=m.status_then,
                since_date=m.status_effective_date_then,
                progress=m.progress_then,
                note=notes.get(m.update_then, ""),
            )
            for m in stopped
        ],
        reassessment_due=reassessment_due(after.values(), until),
        overdue=[
            Overdue(
                **ref(m),
                target_date=m.target_date,
                days_overdue=(until - m.target_date).days,
                status=m.status_then,
                progress=m.progress_then,
            )
            for m in after.values()
            if m.target_date and m.target_date <= until and m.status_then != Status.IMPLEMENTED
        ],
        risks=risks,
        evidence_added=evidence_added,
        progress_over_time=series,
        measures=measures,
    )


def overviews(before: dict, after: dict, pillars: list[Pillar]):
    def states(measures, number=None):
        return [
            (m.status_then, m.progress_then)
            for m in measures.values()
            if number is None or m.pillar.number == number
        ]

    def block(number=None):
        then, now = summarise(states(before, number)), summarise(states(after, number))
        return then, now, difference(then, now)

    overview = Overview(*block())
    return overview, [
        PillarOverview(p.number, p.title_zh, p.title_en, *block(p.number)) for p in pillars
    ]


def change_of(update: StatusUpdate, until: date) -> Change:
    recorded_on = timezone.localtime(update.recorded_at).date()
    return Change(
        **ref(update.measure),
        effective_date=update.effective_date,
        recorded_at=update.recorded_at,
        recorded_after_period=recorded_on > until,
        from_status=update.from_status,
        to_status=update.status,
        from_progress=update.from_progress,
        to_progress=update.progress,
        progress_change=(
            update.progress - update.from_progress
            if update.progress is not None and update.from_progress is not None
            else None
        ),
        regression=is_regression(update.from_status, update.status),
        confidence=update.confidence,
        note=update.note,
        recorded_by=update.recorded_by.get_username() if update.recorded_by else None,
        evidence=[
            {"id": e.pk, "claim_zh": e.claim_zh, "claim_en": e.claim_en, "source": e.source.title}
            for e in update.evidence.all()
        ],
    )


def reassessment_due(measures, until: date) -> list[ReassessmentDue]:
    """Measures whose latest update as of `until` is older than their review interval. Not
    having been assessed for a while says nothing about progress; it says to look again."""
    return [
        ReassessmentDue(
            **ref(m),
            status=m.status_then,
            last_update=m.status_effective_date_then,
            days_since_update=(until - m.status_effective_date_then).days,
            review_every_days=m.review_every_days,
            never_assessed=m.status_then == Status.NOT_ASSESSED,
        )
        for m in measures
        if (until - m.status_effective_date_then).days >= m.review_every_days
    ]


def risk_coverage(after: dict) -> list[RiskCoverage]:
    risks = Risk.objects.prefetch_related(
        Prefetch(
            "measure_links",
            MeasureRisk.objects.filter(measure__archived=False).order_by("measure__code"),
        )
    ).order_by("order", "key")
    result = []
    for risk in risks:
        linked = [
            after[link.measure_id] for link in risk.measure_links.all() if link.measure_id in after
        ]
        done = [
            m for m in linked if m.status_then in (Status.IMPLEMENTED, Status.PARTIALLY_IMPLEMENTED)
        ]
        result.append(
            RiskCoverage(
                key=risk.key,
                title_zh=risk.title_zh,
                title_en=risk.title_en,
                measures=[
                    RiskMeasure(m.code, m.title_zh, m.title_en, m.status_then, m.progress_then)
                    for m in linked
                ],
                coverage=round(len(done) / len(linked), 3) if linked else None,
                uncovered=not any(m.status_then in ACTIVE for m in linked),
            )
        )
    return result


def added_evidence(since: date, until: date) -> EvidenceAdded:
    start, end = period_bounds(since, until)
    items = list(
        Evidence.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("source")
        .order_by("created_at", "id")
    )
    kinds = Counter(item.source.kind for item in items)
    return EvidenceAdded(
        total=len(items),
        by_source_kind=dict(sorted(kinds.items())),
        items=[
            {
                "id": e.pk,
                "key": e.key,
                "claim_zh": e.claim_zh,
                "claim_en": e.claim_en,
                "source": e.source.title,
                "source_kind": e.source.kind,
                "created_at": e.created_at,
            }
            for e in items
        ],
    )


def progress_series(since: date, until: date) -> list[ProgressPoint]:
    """Mean progress overall and per pillar at each of series_dates(): one query a date."""
    points = []
    for day in series_dates(since, until):
        rows = (
            with_state_on(Measure.objects.filter(archived=False), day)
            .values("pillar__number")
            .annotate(total=Sum("progress_then"), assessed=Count("progress_then"))
            .order_by("pillar__number")
        )
        rows = list(rows)
        total = sum(r["total"] or 0 for r in rows)
        assessed = sum(r["assessed"] for r in rows)
        points.append(
            ProgressPoint(
                date=day,
                overall=round(total / assessed, 1) if assessed else None,
                pillars={
                    str(r["pillar__number"]): (
                        round(r["total"] / r["assessed"], 1) if r["assessed"] else None
                    )
                    for r in rows
                },
            )
        )
    return points
