"""What the events app announces: kwargs `events`, the Event rows just written (with their
ids), inside the writer's transaction. Webhooks fan out from here, so that a delivery is
planned exactly when its event commits."""

from django.dispatch import Signal

events_written = Signal()
