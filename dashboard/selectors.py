"""The home page's reads: where each pillar stands, what needs attention, what changed
lately. Three queries whatever the number of measures (tests/dashboard)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from recommendations import attention
from recommendations.choices import Status
from recommendations.models import Pillar, StatusUpdate
from recommendations.selectors import live_measure_states

# How many of the latest status updates the home page lists, and of each attention list.
LATEST_CHANGES = 10
ATTENTION_ITEMS = 8


@dataclass
class Standing:
    """Measures by status, and their mean progress over those assessed."""

    by_status: Counter = field(default_factory=Counter)
    measures: int = 0
    assessed: int = 0
    progress_total: int = 0

    def add(self, measure) -> None:
        self.by_status[measure.status] += 1
        self.measures += 1
        if measure.progress is not None:
            self.assessed += 1
            self.progress_total += measure.progress

    @property
    def mean_progress(self) -> float | None:
        return round(self.progress_total / self.assessed, 1) if self.assessed else None

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        """(status, label, count) in ladder order."""
        return [(s, Status(s).label, self.by_status[s]) for s in Status.values]


@dataclass
class HomePage:
    day: date
    overall: Standing
    pillars: list[tuple[Pillar, Standing]]
    attention: list[tuple[attention.Kind, int, list]]  # kind, how many, the first few
    latest: list[StatusUpdate]


def home_page(day: date) -> HomePage:
    overall, by_pillar = Standing(), defaultdict(Standing)
    needing = {kind.key: [] for kind in attention.KINDS}
    for measure in live_measure_states():
        overall.add(measure)
        by_pillar[measure.pillar_id].add(measure)
        for kind in attention.kinds_of(measure, day):
            needing[kind].append(measure)
    pillars = [(pillar, by_pillar[pillar.pk]) for pillar in Pillar.objects.order_by("number")]
    latest = list(
        StatusUpdate.objects.select_related("measure", "recorded_by").order_by("-id")[
            :LATEST_CHANGES
        ]
    )
    return HomePage(
        day=day,
        overall=overall,
        pillars=pillars,
        attention=[
            (kind, len(needing[kind.key]), needing[kind.key][:ATTENTION_ITEMS])
            for kind in attention.KINDS
        ],
        latest=latest,
    )
