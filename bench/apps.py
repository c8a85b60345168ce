"""The benchmark as an app, only where a run installs it (bench/settings.py)."""

from django.apps import AppConfig

# What `X-Bench-Outbox` switches off for one request (bench.webhooks): "outbox", the events
# app's receivers (a change writes no event and plans no delivery); "webhooks", only the
# webhooks app's part (events are written, no delivery is planned); absent, nothing.
HEADER = "HTTP_X_BENCH_OUTBOX"


class SwitchConfig(AppConfig):
    """An app server whose requests each say which part of the outbox to leave out, so that
    bench.webhooks prices every variant in the same worker process and database backend: no
    variant pays or saves for being a different process."""

    name = "bench"
    label = "bench_switch"


class OutboxSwitch:
    """Middleware: before each request, the outbox's receivers and planner are connected or
    not, as its header asks (a gunicorn sync worker serves one request at a time)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.saved = None
        self.state = ""

    def __call__(self, request):
        wanted = request.META.get(HEADER, "")
        if wanted != self.state:
            self.switch(wanted)
        return self.get_response(request)

    def switch(self, wanted: str) -> None:
        from events.signals import PLANNERS, events_written
        from evidence import signals as evidence_signals
        from recommendations import signals as recommendation_signals
        from review import signals as review_signals

        signals = (
            recommendation_signals.status_updates_recorded,
            recommendation_signals.measure_changed,
            recommendation_signals.report_published,
            evidence_signals.evidence_added,
            review_signals.proposal_decided,
            events_written,
        )
        if self.saved is None:  # everything as the app connected it
            self.saved = (
                {signal: list(signal.receivers) for signal in signals},
                dict(PLANNERS),
            )
        receivers, planners = self.saved
        for signal in signals:
            with signal.lock:
                signal.receivers = [
                    entry for entry in receivers[signal] if not left_out(entry[0][0], wanted)
                ]
                signal.sender_receivers_cache.clear()
        PLANNERS.clear()
        if wanted not in ("outbox", "webhooks"):
            PLANNERS.update(planners)
        self.state = wanted


def left_out(uid, wanted: str) -> bool:
    if not isinstance(uid, str):
        return False
    if wanted == "outbox":
        return uid.startswith(("events.receivers", "webhooks."))
    if wanted == "webhooks":
        return uid.startswith("webhooks.")
    return False
