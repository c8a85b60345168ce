"""Deliveries planned as events are written: in the writer's transaction, so that a delivery
exists exactly when its event committed (services.fan_out: one INSERT ... SELECT per batch of
events, whatever the number of subscriptions), and a run enqueued once it has committed."""

from events.models import Event
from events.signals import events_written

from . import services


def on_events_written(sender, events, **kwargs):
    services.fan_out(events)


def connect() -> None:
    events_written.connect(on_events_written, sender=Event, dispatch_uid="webhooks.fan_out")
