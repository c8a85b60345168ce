"""Deliveries planned as events are written: in the writer's transaction, so that a delivery
exists exactly when its event committed, and a run enqueued once it has committed. On
PostgreSQL the events' own INSERT writes them (a planner: services.fan_out_over_written, one
statement for an event and its deliveries); elsewhere services.fan_out does, one INSERT ...
SELECT per batch of events, whatever the number of subscriptions."""

from events.models import Event
from events.signals import Planner, add_planner, events_written

from . import services

KEY = "webhooks"


def on_events_written(sender, events, planned=None, **kwargs):
    if planned is not None and KEY in planned:
        services.planned(planned[KEY])
    else:
        services.fan_out(events)


def connect() -> None:
    add_planner(Planner(KEY, services.fan_out_over_written))
    events_written.connect(on_events_written, sender=Event, dispatch_uid="webhooks.fan_out")
