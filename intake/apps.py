from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    """Spreadsheets of status updates (CSV or XLSX): checked row by row in a dry run, then
    recorded on confirmation. It reads and writes through the recommendations and evidence
    apps' services and models; they know nothing of it."""

    name = "intake"
    verbose_name = _("Spreadsheet intake")
