"""The writer apps' signals, turned into Event rows in the writer's transaction.

Each receiver writes its rows with one INSERT (a batch of entries too) and then announces
them (events.signals.events_written), still inside the transaction: a subscriber's plan
(a webhook delivery) commits with the change or not at all."""

import functools
from datetime import datetime

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from config.db import prepared_cursor
from evidence import signals as evidence_signals
from recommendations import signals as recommendation_signals
from review import signals as review_signals

from . import payloads
from .choices import EventType
from .models import Event
from .signals import PLANNERS, events_written


def write(events: list[Event]) -> list[Event]:
    """Insert `events` in their order, in one statement with what the planners write for them
    (PostgreSQL), and announce them. Ids (and `occurred_at`, the database's clock when not
    given) come back on the instances."""
    if not events:
        return events
    if connection.vendor == "postgresql":
        planned = _insert_postgresql(events)
    else:
        Event.objects.bulk_create(events)
        planned = {}
    events_written.send(sender=Event, events=events, planned=planned)
    return events


def _insert_postgresql(events: list[Event]) -> dict[str, int]:
    """One INSERT … SELECT from a JSON document of the rows, with each planner's statement
    over the rows it returns (`written`). Django's bulk_create sends each column as an array,
    and escaping every payload inside a text array cost 0.25 ms a row; one JSON parameter
    costs orjson's encoding only. Ids are drawn in the rows' order. Returns each planner's
    count of rows written."""
    rows = orjson.dumps(
        [
            {
                "type": event.type,
                "measure": event.measure_id,
                "pillar": event.pillar_id,
                "payload": event.payload,
                "at": event.occurred_at if isinstance(event.occurred_at, datetime) else None,
            }
            for event in events
        ],
        default=_json_default,
    ).decode()
    plans = [(planner.key, *planner.statement()) for planner in PLANNERS.values()]
    # Prepared once per connection: its text is the same for any number of events.
    with prepared_cursor() as cursor:
        cursor.execute(
            _statement(tuple(sql for _key, sql, _params in plans)),
            [rows, *(value for _key, _sql, params in plans for value in params)],
        )
        returned = sorted(cursor.fetchall())
    for event, row in zip(events, returned, strict=True):
        event.pk, event.occurred_at = row[0], row[1]
    return {key: returned[0][2 + n] for n, (key, _sql, _params) in enumerate(plans)}


@functools.lru_cache(maxsize=8)
def _statement(plans: tuple[str, ...]) -> str:
    """The events' INSERT as `written`, each planner's statement over it, and the events'
    ids and moments with each planner's count."""
    insert = (
        f"INSERT INTO {connection.ops.quote_name(Event._meta.db_table)} "
        "(type, measure_id, pillar_id, payload, occurred_at) "
        "SELECT x.type, x.measure, x.pillar, x.payload, COALESCE(x.at, now()) "
        "FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) "
        "AS (type text, measure bigint, pillar bigint, payload jsonb, at timestamptz)) "
        "WITH ORDINALITY AS x(type, measure, pillar, payload, at, n) "
        "ORDER BY x.n RETURNING id, occurred_at, type, measure_id, pillar_id"
    )
    planned = "".join(f", planned_{n} AS ({sql})" for n, sql in enumerate(plans))
    counts = "".join(f", (SELECT count(*) FROM planned_{n})" for n in range(len(plans)))
    return f"WITH written AS ({insert}){planned} SELECT id, occurred_at{counts} FROM written"


_encoder = DjangoJSONEncoder()


def _json_default(value):
    return _encoder.default(value)


def on_status_updates(sender, updates, **kwargs):
    bodies = payloads.status_updates(updates)
    write(
        [
            Event(
                type=EventType.STATUS_UPDATE_RECORDED,
                measure_id=update.measure_id,
                pillar_id=update.measure.pillar_id,
                payload=body,
                # The moment the entry was recorded (the database's clock on PostgreSQL):
                # given, so that a batch's INSERT carries no expression to compile per row.
                occurred_at=update.recorded_at,
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
