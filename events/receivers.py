"""The writer apps' signals, turned into Event rows in the writer's transaction.

Each receiver writes its rows with one INSERT (a batch of entries too) and then announces
them (events.signals.events_written), still inside the transaction: a subscriber's plan
(a webhook delivery) commits with the change or not at all."""

from evidence import signals as evidence_signals
from recommendations import signals as recommendation_signals
from review import signals as review_signals

from . import payloads
from .choices import EventType
from .models import Event
from .signals import events_written


def write(events: list[Event]) -> list[Event]:
    """Insert `events` in their order and announce them. On PostgreSQL and SQLite the ids
    come back from the INSERT; `occurred_at` (the database's clock) is read with them."""
    if not events:
        return events
    Event.objects.bulk_create(events)
    events_written.send(sender=Event, events=events)
    return events


def on_status_updates(sender, updates, **kwargs):
    bodies = payloads.status_updates(updates)
    write(
        [
            Event(
                type=EventType.STATUS_UPDATE_RECORDED,
                measure_id=update.measure_id,
                pillar_id=update.measure.pillar_id,
                payload=body,
            )
            for update, body in zip(updates, bodies, strict=True)
        ]
    )


def on_measure_changed(sender, measure, created=False, **kwargs):
    write(
        [
            Event(
                type=EventType.MEASURE_CHANGED,
                measure_id=measure.pk,
                pillar_id=measure.pillar_id,
                payload={"created": created, "measure": payloads.measure(measure.pk)},
            )
        ]
    )


def on_evidence_added(sender, evidence, **kwargs):
    write([Event(type=EventType.EVIDENCE_ADDED, payload=payloads.evidence(evidence.pk))])


def on_proposal_decided(sender, proposal, decision, **kwargs):
    body, pillar = payloads.proposal(proposal.pk)
    write(
        [
            Event(
                type=EventType.PROPOSAL_DECIDED,
                measure_id=proposal.measure_id,
                pillar_id=pillar,
                payload=body,
            )
        ]
    )


def on_report_published(sender, snapshot, **kwargs):
    write([Event(type=EventType.REPORT_PUBLISHED, payload=payloads.report(snapshot))])


def connect() -> None:
    uid = "events.receivers"
    recommendation_signals.status_updates_recorded.connect(
        on_status_updates, dispatch_uid=f"{uid}.status_updates"
    )
    recommendation_signals.measure_changed.connect(
        on_measure_changed, dispatch_uid=f"{uid}.measure_changed"
    )
    recommendation_signals.report_published.connect(
        on_report_published, dispatch_uid=f"{uid}.report_published"
    )
    evidence_signals.evidence_added.connect(on_evidence_added, dispatch_uid=f"{uid}.evidence")
    review_signals.proposal_decided.connect(on_proposal_decided, dispatch_uid=f"{uid}.proposal")
