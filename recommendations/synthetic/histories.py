"""Generating one measure's history: how many entries, on which days, along which statuses,
recorded when; and packing every measure's entries compactly for the writer.

Randomness comes only from the Random given; dates are day numbers since 1970-01-01 and
recording times seconds since then, so nothing depends on the clock.
"""

from array import array
from collections.abc import Iterator
from datetime import date
from random import Random

from ..choices import STAGE, STOPPED

# Updates per measure: one (the first entry) plus a share of the rest weighted by a Lomax
# (Pareto II) draw, capped at WEIGHT_CAP times the mean so that no seed hands one measure
# most of the table.
PARETO_ALPHA = 1.1

WEIGHT_CAP = 300

BACKDATED_SHARE = 0.05

SAME_DAY_SHARE = 0.1

# Status changes follow time, not the number of updates: a measure updated daily changes
# about as often as one updated monthly, and the rest of its entries re-confirm its state.
DAYS_PER_CHANGE = 30

# Analysts work in China Standard Time (UTC+8, no daylight saving time).
LOCAL_OFFSET = 8 * 3600

EPOCH = date(1970, 1, 1).toordinal()

# Plain strings, not Status members: they are compared and formatted millions of times.
NOT_ASSESSED, NOT_STARTED, PLANNED = "not_assessed", "not_started", "planned"

IN_PROGRESS, PARTIAL, IMPLEMENTED = "in_progress", "partially_implemented", "implemented"

STALLED, ABANDONED = "stalled", "abandoned"

LADDER = [status.value for status in sorted(STAGE, key=STAGE.get)]

RANK = {status.value: stage for status, stage in STAGE.items()}

HALTED = {status.value for status in STOPPED}

PROGRESS_RANGE = {
    NOT_STARTED: (0, 0),
    PLANNED: (0, 15),
    IN_PROGRESS: (10, 70),
    PARTIAL: (50, 95),
    IMPLEMENTED: (100, 100),
}

# Written raw into COPY's text format: no tab, newline or backslash in any of them.
REGRESSION_NOTES = (
    "合成：试点范围缩小 / Synthetic: pilot scope reduced",
    "合成：复核发现进度高估 / Synthetic: review found progress overstated",
    "合成：系统上线回退 / Synthetic: system rollout rolled back",
    "合成：牵头机构调整 / Synthetic: lead institution changed",
)

STALLED_NOTES = (
    "合成：预算未到位 / Synthetic: budget not released",
    "合成：等待监管意见 / Synthetic: waiting for the regulator's opinion",
    "合成：技术供应商更换 / Synthetic: technology vendor replaced",
)

ABANDONED_NOTES = (
    "合成：被新政策取代 / Synthetic: superseded by a new policy",
    "合成：成本收益不合理 / Synthetic: costs outweigh benefits",
)

RESUMED_NOTES = ("合成：工作恢复 / Synthetic: work resumed",)

ROUTINE_NOTES = (
    "合成：季度复核 / Synthetic: quarterly review",
    "合成：现场检查 / Synthetic: on-site inspection",
    "合成：机构报送 / Synthetic: reported by the institution",
)


def day_number(value: date) -> int:
    """Days since 1970-01-01: dates are plain integers while generating."""
    return value.toordinal() - EPOCH


def update_counts(rng: Random, measures: int, updates: int) -> list[int]:
    """Updates per measure, summing to `updates`: one each (the first entry) plus the rest
    shared out by skewed weights, largest remainders first."""
    weights = [rng.paretovariate(PARETO_ALPHA) - 1 for _ in range(measures)]
    cap = WEIGHT_CAP * sum(weights) / measures
    weights = [min(weight, cap) for weight in weights]
    total, extra = sum(weights), updates - measures
    quotas = [extra * weight / total for weight in weights]
    counts = [int(quota) for quota in quotas]
    by_remainder = sorted(range(measures), key=lambda i: counts[i] - quotas[i])
    for i in by_remainder[: extra - sum(counts)]:
        counts[i] += 1
    return [1 + count for count in counts]


# One history entry: (status, progress, confidence, effective day, recorded second, note).
Entry = tuple[str, int | None, str, int, int, str]

STATUSES = (NOT_ASSESSED, *LADDER, STALLED, ABANDONED)

CONFIDENCES = ("", "low", "medium", "high")

NOTES = ("", *REGRESSION_NOTES, *STALLED_NOTES, *ABANDONED_NOTES, *RESUMED_NOTES, *ROUTINE_NOTES)

NO_PROGRESS = 255


class Packed:
    """Every measure's entries in arrays, about 16 bytes each (a tuple takes ten times as
    much), and replayed in the order they were recorded across all measures."""

    def __init__(self, measures: int) -> None:
        self.measures = measures
        self.status, self.progress = bytearray(), bytearray()
        self.confidence, self.note = bytearray(), bytearray()
        self.day, self.second = array("i"), array("q")
        self.first = array("q")  # where each measure's entries begin
        # Per recorded day, keys (second of the day, measure) to sort a day at a time.
        self.recorded_on: dict[int, array] = {}
        self.codes = {
            "status": {value: code for code, value in enumerate(STATUSES)},
            "confidence": {value: code for code, value in enumerate(CONFIDENCES)},
            "note": {value: code for code, value in enumerate(NOTES)},
        }

    def add(self, index: int, entries: list[Entry]) -> None:
        """Pack one measure's entries, given in its recording order."""
        status, confidence, note = (self.codes[k] for k in ("status", "confidence", "note"))
        self.first.append(len(self.day))
        for entry_status, progress, entry_confidence, day, second, entry_note in entries:
            self.status.append(status[entry_status])
            self.progress.append(NO_PROGRESS if progress is None else progress)
            self.confidence.append(confidence[entry_confidence])
            self.note.append(note[entry_note])
            self.day.append(day)
            self.second.append(second)
            recorded_day, rest = divmod(second, 86400)
            keys = self.recorded_on.get(recorded_day)
            if keys is None:
                keys = self.recorded_on[recorded_day] = array("q")
            keys.append(rest * self.measures + index)

    def in_recording_order(self) -> Iterator[tuple[int, int]]:
        """(measure index, position of the entry) by recorded second, then measure index.

        A measure's entries come in its own recording order, as each was recorded after the
        one before it. Replays once: each day's keys are dropped once sorted."""
        following = array("q", self.first)
        for recorded_day in sorted(self.recorded_on):
            for key in sorted(self.recorded_on.pop(recorded_day)):
                index = key % self.measures
                position = following[index]
                following[index] = position + 1
                yield index, position


def measure_history(rng: Random, *, count: int, start: int, today: int) -> list[Entry]:
    """One measure's `count` entries in recording order: not assessed on `start`, then
    assessments along the ladder up to `today`, about BACKDATED_SHARE of them recorded after
    entries with a later effective date."""
    days = [start] + sorted(rng.randint(start, today) for _ in range(count - 1))
    for i in range(2, count):
        if rng.random() < SAME_DAY_SHARE:
            days[i] = days[i - 1]
    change = min(1.0, (today - start) / max(count - 1, 1) / DAYS_PER_CHANGE)
    statuses, progresses, explained = [NOT_ASSESSED], [None], [False]
    status, progress, resume = NOT_ASSESSED, None, None
    for _ in range(1, count):
        status, progress, resume, explain = _step(rng, status, progress, resume, change)
        statuses.append(status)
        progresses.append(progress)
        explained.append(explain)

    order = _recording_order(rng, days)
    rank = [0] * count
    for position, i in enumerate(order):
        rank[i] = position
    recorded = [0] * count
    previous = None
    for i in order:
        # Recorded in office hours on the day or up to a week later (never after today), and
        # always after the measure's previous recording.
        lag = rng.randint(1, 7) if rng.random() < 0.3 else 0
        own = min(days[i] + lag, today) * 86400 - LOCAL_OFFSET + rng.randint(32400, 64800)
        previous = own if previous is None else max(own, previous + rng.randint(5, 120))
        recorded[i] = previous
    # A busy measure's last recordings may run past midnight: pull them back into today,
    # a second apart, keeping their order.
    last_second = (today + 1) * 86400 - LOCAL_OFFSET - 1
    for i in reversed(order):
        if recorded[i] <= last_second:
            break
        recorded[i] = last_second
        last_second -= 1

    entries = []
    for i in order:
        status, note = statuses[i], ""
        if i:
            # A back-dated entry changes which entry precedes the next one: a regression from
            # the state in force when recorded, or from the one before it now, needs a note.
            before = i - 1
            while before and rank[before] > rank[i]:
                before -= 1
            if (
                explained[i]
                or status in HALTED
                or _down(statuses[i - 1], status)
                or _down(statuses[before], status)
            ):
                note = rng.choice(_notes(status, statuses[i - 1]))
            elif rng.random() < 0.08:
                note = rng.choice(ROUTINE_NOTES)
        r = rng.random()
        confidence = (
            "" if status == NOT_ASSESSED else "low" if r < 0.2 else "medium" if r < 0.7 else "high"
        )
        entries.append((status, progresses[i], confidence, days[i], recorded[i], note))
    return entries


def _recording_order(rng: Random, days: list[int]) -> list[int]:
    """The entries' indexes (effective order) in the order they were recorded: a few are
    recorded after one to three later ones. Never the first entry, nor one sharing its day
    with the next, so the order by (effective date, recorded at) stays the effective order."""
    count = len(days)
    eligible = [j for j in range(1, count - 1) if days[j] < days[j + 1]]
    late = set(
        rng.sample(eligible, min(len(eligible), int(BACKDATED_SHARE * count + rng.random())))
    )
    # A late entry follows at least the next one, recorded on time: it is back-dated.
    late = sorted(j for j in late if j + 1 not in late)
    key = {j: (j + rng.randint(1, min(3, count - 1 - j)), 1) for j in late}
    return sorted(range(count), key=lambda i: key.get(i, (i, 0)))


def _step(
    rng: Random, status: str, progress: int | None, resume: str | None, change: float
) -> tuple[str, int, str | None, bool]:
    """The entry after (status, progress), a change with probability `change`, else a
    re-confirmation: returns (status, progress, status to resume after a stop, whether it
    needs a note)."""
    r = rng.random()
    if status == NOT_ASSESSED:
        if r < 0.5:
            return NOT_STARTED, 0, None, False
        if r < 0.8:
            return PLANNED, rng.randint(0, 10), None, False
        return IN_PROGRESS, rng.randint(10, 30), None, False
    if r >= change:
        if status in (IN_PROGRESS, PARTIAL) and r < change + 0.1:
            progress = min(PROGRESS_RANGE[status][1], progress + rng.randint(0, 2))
        return status, progress, resume, False
    r = rng.random()
    if status == STALLED:
        if r < 0.5:
            return resume, progress, None, True
        if r < 0.6:
            lower = LADDER[max(0, RANK[resume] - 1)]
            return lower, _progress_within(rng, lower, progress), None, True
        if r < 0.75:
            return ABANDONED, progress, resume, True
        return status, progress, resume, True
    if status == ABANDONED:
        if r < 0.3:
            return PLANNED, rng.randint(0, 10), None, True
        return status, progress, resume, True
    stage = RANK[status]
    if stage == RANK[IMPLEMENTED]:
        if r < 0.12:
            return PARTIAL, rng.randint(50, 95), None, True
        return status, progress, None, False
    if r < 0.5:
        new = LADDER[min(RANK[IMPLEMENTED], stage + (2 if rng.random() < 0.1 else 1))]
        low, high = PROGRESS_RANGE[new]
        return new, min(high, max(low, progress) + rng.randint(0, 10)), None, False
    if r < 0.83:
        return status, min(PROGRESS_RANGE[status][1], progress + rng.randint(0, 10)), None, False
    if r < 0.9 and stage:
        lower = LADDER[stage - 1]
        return lower, _progress_within(rng, lower, progress), None, True
    if r < 0.98:
        return STALLED, progress, status, True
    return ABANDONED, progress, status, True


def _progress_within(rng: Random, status: str, ceiling: int) -> int:
    low, high = PROGRESS_RANGE[status]
    return rng.randint(low, max(low, min(high, ceiling)))


def _down(previous: str, new: str) -> bool:
    """choices.is_regression, on plain strings."""
    return previous in RANK and new in RANK and RANK[new] < RANK[previous]


def _notes(status: str, previous: str) -> tuple[str, ...]:
    if status == STALLED:
        return STALLED_NOTES
    if status == ABANDONED:
        return ABANDONED_NOTES
    return RESUMED_NOTES if previous in HALTED else REGRESSION_NOTES
