"""What the events app announces: kwargs `events`, the Event rows just written (with their
ids), and `planned`, what the planners below wrote with them (their key: rows), inside the
writer's transaction. Webhooks fan out from here, so that a delivery is planned exactly when
its event commits.

A planner writes rows for new events in the events' own INSERT on PostgreSQL: one statement,
one round trip, for the event and what it sets off (a webhook delivery per subscription). It
is a data-modifying WITH over `written` (the events just inserted: id, type, measure_id,
pillar_id), `INSERT ... SELECT ... FROM written ... RETURNING 1`, and its count comes back in
`planned`. On SQLite, which has no such WITH, planners are not asked: `planned` lacks their
key and they plan from the signal."""

from collections.abc import Callable
from dataclasses import dataclass

from django.dispatch import Signal

events_written = Signal()


@dataclass(frozen=True)
class Planner:
    key: str
    # (SQL, parameters) of the statement over `written`, made when the events are written.
    statement: Callable[[], tuple[str, list]]


PLANNERS: dict[str, Planner] = {}


def add_planner(planner: Planner) -> None:
    """Have `planner` write its rows with every batch of events (an app's ready())."""
    PLANNERS[planner.key] = planner
