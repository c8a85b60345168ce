from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExportsConfig(AppConfig):
    """Lists as CSV and XLSX files, from the admin and the API. No models: it reads the
    recommendations and evidence apps' (never the reverse)."""

    name = "exports"
    verbose_name = _("Exports")
