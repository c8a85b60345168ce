from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    """The outbox: one row per change worth telling anyone about, written in the transaction
    of the change (events/receivers.py listens to the writer apps' signals). Webhooks and
    digests read it; the writer apps know nothing of it."""

    name = "events"
    verbose_name = _("Events")

    def ready(self):
        from . import receivers

        receivers.connect()
