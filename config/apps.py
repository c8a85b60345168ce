"""Third-party apps under names people read in the admin."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    """django-axes (failed sign-ins and lockouts), named in the admin's language rather than
    "Axes"."""

    verbose_name = _("Sign-in attempts")
