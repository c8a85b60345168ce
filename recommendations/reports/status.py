"""The periodic status report: what moved in a period (since, until], where each pillar
stands, what is stuck or late, and which risks no measure is working against. It lists
changes (updates whose status or progress differs from the entry before them) and counts,
per measure, the updates that re-confirmed the state in force.

build_status_report() gathers everything with a fixed number of set-based queries, whatever
the number of measures and updates; the renderers (render.py) turn the result into JSON,
Markdown, CSV and HTML. Every state "as of" a date is the one the API's `as_of` listing
gives for that date (both use selectors.with_state_on). Archived measures are left out of
the states; their changes in the period are still reported.
"""

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from evidence.models import Evidence

from .. import attention
from ..choices import STAGE, Status
from ..models import Pillar, Risk
from . import gather

# 2: a summary says how many measures its mean progress is over (`assessed`), the progress
# series has every month end, and a risk is uncovered exactly when its coverage is 0.
# 3: `changes` lists only updates that changed a status or progress; `reconfirmations`
# counts the others per measure.
SCHEMA_VERSION = 3
PERIODS = ("month", "quarter", "year")
# At most this many dates in the progress-over-time series: every month end of twenty years.
# The series is replayed in memory, so a point costs no query.
MAX_SERIES_POINTS = 241


@dataclass(slots=True)
class StateSummary:
    """Measures counted by status, and their mean progress (over assessed measures)."""

    measures: int
    by_status: dict[str, int]
    mean_progress: float | None
    assessed: int  # measures with a progress value: those mean_progress is over


@dataclass(slots=True)
class Overview:
    since: StateSummary
    until: StateSummary
    change: StateSummary  # until minus since


@dataclass(slots=True)
class PillarOverview:
    number: int
    title_zh: str
    title_en: str
    since: StateSummary
    until: StateSummary
    change: StateSummary


@dataclass(slots=True)
class MeasureRef:
    measure: str
    pillar: int
    title_zh: str
    title_en: str


@dataclass(slots=True)
class Change(MeasureRef):
    """A status update effective in the period whose status or progress differs from the
    entry before it in history order, with that entry's state (what it moved from)."""

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


@dataclass(slots=True)
class PillarChanges:
    pillar: int
    title_zh: str
    title_en: str
    updates: list[Change]


@dataclass(slots=True)
class Reconfirmation(MeasureRef):
    """A measure's updates in the period that repeated the status and progress in force."""

    count: int
    latest: date  # the latest effective date among them


@dataclass(slots=True)
class Reconfirmations:
    total: int
    measures: list[Reconfirmation]  # by pillar, then code


@dataclass(slots=True)
class MeasureState(MeasureRef):
    """A measure's state as of `since` (None if its history had not begun) and `until`."""

    status_since: str | None
    progress_since: int | None
    status_until: str
    progress_until: int | None
    status_effective_date: date
    progress_change: int | None


@dataclass(slots=True)
class Stalled(MeasureRef):
    status: str
    since_date: date
    progress: int | None
    note: str


@dataclass(slots=True)
class ReassessmentDue(MeasureRef):
    status: str
    last_update: date
    days_since_update: int
    review_every_days: int
    never_assessed: bool


@dataclass(slots=True)
class Overdue(MeasureRef):
    target_date: date
    days_overdue: int
    status: str
    progress: int | None


@dataclass(slots=True)
class RiskMeasure:
    measure: str
    title_zh: str
    title_en: str
    status: str
    progress: int | None


@dataclass(slots=True)
class RiskCoverage:
    key: str
    title_zh: str
    title_en: str
    measures: list[RiskMeasure]
    # One rule: a mitigating measure covers its risk once it is partially implemented or
    # implemented. Coverage is the share of the risk's measures that cover it; a risk none
    # covers (coverage 0, or no measure at all) is uncovered.
    coverage: float | None
    uncovered: bool


@dataclass(slots=True)
class EvidenceAdded:
    total: int
    by_source_kind: dict[str, int]
    items: list[dict]


@dataclass(slots=True)
class ProgressPoint:
    date: date
    overall: float | None
    pillars: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class StatusReport:
    since: date
    until: date
    # When the latest status update the report could include was recorded: a later run of
    # the same period differs only if history was recorded (or back-dated) after this.
    history_recorded_through: datetime | None
    overview: Overview
    pillars: list[PillarOverview]
    changes: list[PillarChanges]
    reconfirmations: Reconfirmations
    newly_implemented: list[MeasureState]
    regressions: list[Change]
    stalled: list[Stalled]
    reassessment_due: list[ReassessmentDue]
    overdue: list[Overdue]
    risks: list[RiskCoverage]
    evidence_added: EvidenceAdded
    progress_over_time: list[ProgressPoint]
    measures: list[MeasureState]


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


def report_period(
    *, since: date | None, until: date | None, period: str | None, today: date
) -> tuple[date, date]:
    """The period (since, until] a request names: both dates, or the last complete `period`
    (month, quarter or year; default quarter) before `today`. Raises ValidationError for one
    date without the other, dates and a period together, or a period that ends before it
    starts."""
    if (since is None) != (until is None):
        raise ValidationError(_("Give both since and until, or neither."))
    if since is not None and period:
        raise ValidationError(_("Give since and until, or period, not both."))
    if since is None:
        return last_complete_period(period or "quarter", today)
    if since >= until:
        raise ValidationError({"until": _("The period must end after it starts.")})
    return since, until


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def series_dates(since: date, until: date) -> list[date]:
    """`since`, every month end between, and `until`; a period longer than twenty years is
    thinned evenly to MAX_SERIES_POINTS."""
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
        assessed=len(assessed),
    )


def difference(since: StateSummary, until: StateSummary) -> StateSummary:
    mean = None
    if since.mean_progress is not None and until.mean_progress is not None:
        mean = round(until.mean_progress - since.mean_progress, 1)
    return StateSummary(
        measures=until.measures - since.measures,
        by_status={s: until.by_status[s] - since.by_status[s] for s in Status.values},
        mean_progress=mean,
        assessed=until.assessed - since.assessed,
    )


def period_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """The instants that start the day after `since` and the day after `until`, locally."""
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(since + timedelta(days=1), time.min, zone),
        datetime.combine(until + timedelta(days=1), time.min, zone),
    )


def build_status_report(
    *, since: date, until: date, step: Callable[[str], None] = lambda name: None
) -> StatusReport:
    """The status report of the period (since, until]. Raises ValidationError for a period
    that ends before it starts. `step` is called as each part is done (for progress bars).

    Ten queries whatever the size of the data or of the period: the measures, the pillars,
    the states on `since` and on `until`, the period's changes with the re-confirmations
    counted (the database compares each update with the entry before it) and the evidence
    of its updates, the latest recording, the risks and their links, the evidence added. The
    progress series replays the changes over the state on `since` (a re-confirmation moves
    nothing), so it costs no query.
    """
    if since >= until:
        raise ValidationError({"until": _("The period must end after it starts.")})
    if until >= date.max:
        raise ValidationError({"until": _("The period must end before 9999-12-31.")})
    measures = gather.measures()
    pillars = list(Pillar.objects.order_by("number"))
    before, after = gather.states_on(since), gather.states_on(until)
    live = [m for m in measures.values() if not m.archived and m.id in after]
    step("states")

    moves, reconfirmed = gather.changes_in(since, until)  # in history order
    evidence = gather.update_evidence(since, until)
    by_measure = defaultdict(list)
    for move in moves:
        by_measure[move.measure_id].append(move)
    in_order = sorted(by_measure, key=lambda pk: (measures[pk].pillar, measures[pk].code))
    changes = changes_of(
        [c for pk in in_order for c in by_measure[pk]],
        measures,
        evidence,
        period_bounds(since, until)[1],
    )
    grouped = defaultdict(list)
    for change in changes:
        grouped[change.pillar].append(change)
    titles = {p.number: p for p in pillars}
    step("changes")

    states = [measure_state(m, before.get(m.id), after[m.id]) for m in live]
    overview, pillar_overviews = overviews(live, before, after, pillars)
    evidence_added = added_evidence(since, until)
    step("risks, evidence and series")

    return StatusReport(
        since=since,
        until=until,
        history_recorded_through=gather.latest_recording(),
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
        reconfirmations=reconfirmations(reconfirmed, measures),
        newly_implemented=[
            m
            for m in states
            if m.status_until == Status.IMPLEMENTED and m.status_since != Status.IMPLEMENTED
        ],
        regressions=[c for c in changes if c.regression],
        stalled=[
            Stalled(
                **ref(m),
                status=after[m.id].status,
                since_date=after[m.id].effective_date,
                progress=after[m.id].progress,
                note=after[m.id].note,
            )
            for m in live
            if attention.stopped(after[m.id].status)
        ],
        reassessment_due=reassessment_due(live, after, until),
        overdue=[
            Overdue(
                **ref(m),
                target_date=m.target_date,
                days_overdue=(until - m.target_date).days,
                status=after[m.id].status,
                progress=after[m.id].progress,
            )
            for m in live
            if attention.overdue(m.target_date, after[m.id].status, until)
        ],
        risks=risk_coverage(measures, after),
        evidence_added=evidence_added,
        progress_over_time=progress_series(live, before, moves, series_dates(since, until)),
        measures=states,
    )


def ref(measure: gather.MeasureRow) -> dict:
    return {
        "measure": measure.code,
        "pillar": measure.pillar,
        "title_zh": measure.title_zh,
        "title_en": measure.title_en,
    }


def measure_state(measure, then: gather.State | None, now: gather.State) -> MeasureState:
    change = None
    if then is not None and then.progress is not None and now.progress is not None:
        change = now.progress - then.progress
    return MeasureState(
        **ref(measure),
        status_since=then.status if then else None,
        progress_since=then.progress if then else None,
        status_until=now.status,
        progress_until=now.progress,
        status_effective_date=now.effective_date,
        progress_change=change,
    )


def overviews(live, before: dict, after: dict, pillars: list[Pillar]):
    def block(number=None):
        chosen = [m for m in live if number is None or m.pillar == number]
        then = summarise(
            [(before[m.id].status, before[m.id].progress) for m in chosen if m.id in before]
        )
        now = summarise([(after[m.id].status, after[m.id].progress) for m in chosen])
        return then, now, difference(then, now)

    overview = Overview(*block())
    return overview, [
        PillarOverview(p.number, p.title_zh, p.title_en, *block(p.number)) for p in pillars
    ]


def changes_of(
    moves: list[gather.Change], measures: dict, evidence: dict, period_end: datetime
) -> list[Change]:
    """A Change per change of the period (given by measure, then in history order).
    `period_end` is the instant the period ends: a change recorded later is late news.

    This runs once per change of the period (tens of thousands at national scale), so it
    builds each Change positionally, in the order of its fields.
    """
    stage = STAGE.get
    # In UTC, like the recorded times: comparing datetimes of one zone is fast.
    period_end = period_end.astimezone(UTC)
    result, previous_measure, head = [], None, ()
    for move in moves:
        if move.measure_id != previous_measure:
            previous_measure = move.measure_id
            measure = measures[previous_measure]
            head = (measure.code, measure.pillar, measure.title_zh, measure.title_en)
        from_progress, progress = move.from_progress, move.progress
        was, now = stage(move.from_status), stage(move.status)
        result.append(
            Change(
                *head,
                move.effective_date,
                move.recorded_at,
                move.recorded_at >= period_end,
                move.from_status,
                move.status,
                from_progress,
                progress,
                None if progress is None or from_progress is None else progress - from_progress,
                was is not None and now is not None and now < was,  # choices.is_regression
                move.confidence,
                move.note,
                move.recorded_by,
                evidence.get(move.id, []),
            )
        )
    return result


def reconfirmations(reconfirmed: dict, measures: dict) -> Reconfirmations:
    """The re-confirmations of each measure that had any, by pillar and code."""
    in_order = sorted(reconfirmed, key=lambda pk: (measures[pk].pillar, measures[pk].code))
    rows = [
        Reconfirmation(
            **ref(measures[pk]), count=reconfirmed[pk].count, latest=reconfirmed[pk].latest
        )
        for pk in in_order
    ]
    return Reconfirmations(total=sum(r.count for r in rows), measures=rows)


def reassessment_due(live, after: dict, until: date) -> list[ReassessmentDue]:
    """Measures whose latest update as of `until` is older than their review interval. Not
    having been assessed for a while says nothing about progress; it says to look again."""
    return [
        ReassessmentDue(
            **ref(m),
            status=after[m.id].status,
            last_update=after[m.id].effective_date,
            days_since_update=(until - after[m.id].effective_date).days,
            review_every_days=m.review_every_days,
            never_assessed=attention.never_assessed(after[m.id].status),
        )
        for m in live
        if attention.reassessment_due(after[m.id].effective_date, m.review_every_days, until)
    ]


def risk_coverage(measures: dict, after: dict) -> list[RiskCoverage]:
    links = gather.risk_links()
    result = []
    for risk in Risk.objects.order_by("order", "key"):
        linked = sorted(
            (
                measures[pk]
                for pk in links.get(risk.pk, ())
                if not measures[pk].archived and pk in after
            ),
            key=lambda m: m.code,
        )
        done = [
            m
            for m in linked
            if after[m.id].status in (Status.IMPLEMENTED, Status.PARTIALLY_IMPLEMENTED)
        ]
        result.append(
            RiskCoverage(
                key=risk.key,
                title_zh=risk.title_zh,
                title_en=risk.title_en,
                measures=[
                    RiskMeasure(
                        m.code, m.title_zh, m.title_en, after[m.id].status, after[m.id].progress
                    )
                    for m in linked
                ],
                coverage=round(len(done) / len(linked), 3) if linked else None,
                uncovered=not done,
            )
        )
    return result


def added_evidence(since: date, until: date) -> EvidenceAdded:
    start, end = period_bounds(since, until)
    items = list(
        Evidence.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values("id", "key", "claim_zh", "claim_en", "source__title", "source__kind", "created_at")
    )
    kinds = Counter(item["source__kind"] for item in items)
    return EvidenceAdded(
        total=len(items),
        by_source_kind=dict(sorted(kinds.items())),
        items=[
            {
                "id": e["id"],
                "key": e["key"],
                "claim_zh": e["claim_zh"],
                "claim_en": e["claim_en"],
                "source": e["source__title"],
                "source_kind": e["source__kind"],
                "created_at": timezone.localtime(e["created_at"]),
            }
            for e in items
        ],
    )


def progress_series(live, before: dict, moves, days: list[date]) -> list[ProgressPoint]:
    """Mean progress overall and per pillar on each of `days`, by replaying the period's
    changes (given in history order) over the states on `since`: the updates left out
    re-confirmed the progress in force."""
    progress = {m.id: (before[m.id].progress if m.id in before else None) for m in live}
    tracked = {m.id: m.id in before for m in live}
    pillar = {m.id: m.pillar for m in live}
    # The period's changes of live measures, in the order they take effect (as given).
    timeline = [u for u in moves if u.measure_id in progress]
    points, position = [], 0
    for day in days:
        while position < len(timeline) and timeline[position].effective_date <= day:
            update = timeline[position]
            progress[update.measure_id] = update.progress
            tracked[update.measure_id] = True
            position += 1
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for pk, value in progress.items():
            if tracked[pk] and value is not None:
                sums[pillar[pk]][0] += value
                sums[pillar[pk]][1] += 1
        total = sum(s for s, _n in sums.values())
        assessed = sum(n for _s, n in sums.values())
        numbers = sorted({pillar[pk] for pk in progress if tracked[pk]})
        points.append(
            ProgressPoint(
                date=day,
                overall=round(total / assessed, 1) if assessed else None,
                pillars={
                    str(n): (round(sums[n][0] / sums[n][1], 1) if sums[n][1] else None)
                    for n in numbers
                },
            )
        )
    return points
