from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from . import registry, services

        # Every model in registry.TRACKED is recorded from here on, whoever writes it.
        registry.register_all()
        # Management commands record their changes with the channel "command".
        services.record_commands()
