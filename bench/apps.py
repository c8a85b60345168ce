"""The benchmark as an app, only where a run installs it (bench/settings.py)."""

import os

from django.apps import AppConfig


class DisconnectConfig(AppConfig):
    """An app server with part of the outbox switched off, once every app is ready:
    BENCH_DISCONNECT=outbox disconnects the events app's receivers (a change writes no event
    and plans no delivery), =webhooks only the webhooks app's fan-out (events are written,
    no delivery is planned). bench.webhooks prices each part against them."""

    name = "bench"
    label = "bench_disconnect"

    def ready(self):
        from events.signals import PLANNERS, events_written
        from evidence import signals as evidence_signals
        from recommendations import signals as recommendation_signals
        from review import signals as review_signals

        part = os.environ.get("BENCH_DISCONNECT")
        if part == "webhooks":
            events_written.disconnect(dispatch_uid="webhooks.fan_out")
            PLANNERS.pop("webhooks", None)  # its part of the events' INSERT on PostgreSQL
        if part != "outbox":
            return
        for signal in (
            recommendation_signals.status_updates_recorded,
            recommendation_signals.measure_changed,
            recommendation_signals.report_published,
            evidence_signals.evidence_added,
            review_signals.proposal_decided,
        ):
            for (uid, _sender), _receiver, _is_async in list(signal.receivers):
                if isinstance(uid, str) and uid.startswith("events.receivers"):
                    signal.disconnect(dispatch_uid=uid)
