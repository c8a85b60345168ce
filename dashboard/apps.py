from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The admin's home page: where everything stands at a glance. Reads only."""

    name = "dashboard"
    verbose_name = _("Home")
