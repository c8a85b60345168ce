from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Signed webhooks: subscriptions, a delivery per event and subscription planned in the
    event's own transaction (receivers.py), and the worker's task that POSTs them (tasks.py).
    It reads the events app; nothing reads it."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from . import receivers

        receivers.connect()
