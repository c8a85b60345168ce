"""A spreadsheet of status updates as it was checked, and what became of each of its rows:
recorded, or proposed for review (intake.services.route decides which, for whoever uploads it).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recommendations.models import StatusUpdate
from review.models import Proposal


class Import(models.Model):
    """One file uploaded: checked in a dry run when it came in (nothing recorded), then
    confirmed (its valid rows recorded, or proposed for review, in one transaction), or left
    unconfirmed."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class State(models.TextChoices):
        CHECKED = "checked", _("checked, not recorded")
        CONFIRMED = "confirmed", _("confirmed")

    class Encoding(models.TextChoices):
        UTF8 = "utf-8", "UTF-8"
        UTF8_BOM = "utf-8-sig", _("UTF-8 with a byte order mark")
        UTF16 = "utf-16", "UTF-16"
        GBK = "gbk", "GBK"

    class Channel(models.TextChoices):
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        COMMAND = "command", _("command")

    class Route(models.TextChoices):
        """What its valid rows become (intake.services.route, for who uploaded it)."""

        RECORD = "record", _("recorded directly")
        PROPOSE = "propose", _("proposed for review")

    filename = models.CharField(_("file name"), max_length=255)
    digest = models.CharField(_("SHA-256"), max_length=64, help_text=_("Of the file's bytes."))
    size = models.PositiveIntegerField(_("size (bytes)"))
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    encoding = models.CharField(
        _("encoding"),
        max_length=16,
        choices=Encoding.choices,
        blank=True,
        help_text=_("How a CSV file's text was read."),
    )
    channel = models.CharField(_("through"), max_length=16, choices=Channel.choices)
    # Where each column was: field -> [index, heading as written] (intake.parsing.Layout).
    layout = models.JSONField(_("columns"), default=dict)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.CHECKED
    )
    route = models.CharField(
        _("valid rows are"),
        max_length=16,
        choices=Route.choices,
        default=Route.RECORD,
        help_text=_(
            "Recorded, or proposed for review when the status updates of who uploaded it go "
            "to review; only they confirm a file of proposals."
        ),
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    # Goes up whenever its rows' outcomes change (confirmed, or refused on confirmation), so
    # that a confirmation can insist on the outcomes its caller saw (If-Match).
    version = models.PositiveIntegerField(_("version"), default=1)
    # How many of its rows came out each way (of the dry run; after confirmation, of it).
    rows = models.PositiveIntegerField(_("rows"), default=0)
    to_record = models.PositiveIntegerField(_("to record"), default=0)
    to_propose = models.PositiveIntegerField(_("to propose"), default=0)
    already = models.PositiveIntegerField(_("already recorded"), default=0)
    already_proposed = models.PositiveIntegerField(_("already proposed"), default=0)
    errors = models.PositiveIntegerField(_("with errors"), default=0)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("spreadsheet import")
        verbose_name_plural = _("spreadsheet imports")
        permissions = [("confirm_import", "Can confirm import")]
        indexes = [models.Index(fields=["uploaded_at"], name="intake_import_uploaded_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["checked", "confirmed"]),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(route__in=["record", "propose"]),
                name="%(app_label)s_%(class)s_route_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(state="checked", confirmed_at__isnull=True)
                | models.Q(state="confirmed", confirmed_at__isnull=False),
                name="%(app_label)s_%(class)s_confirmed_iff_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({timezone.localtime(self.uploaded_at):%Y-%m-%d %H:%M})"

    @property
    def confirmed(self) -> bool:
        return self.state == self.State.CONFIRMED

    @property
    def proposes(self) -> bool:
        return self.route == self.Route.PROPOSE


class ImportRow(models.Model):
    """One row of an imported file: the values read from it, and its outcome."""

    class Outcome(models.TextChoices):
        RECORD = "record", _("would record")
        RECORDED = "recorded", _("recorded")
        ALREADY = "already", _("already recorded")
        # An import whose rows are proposed for review (Import.Route.PROPOSE).
        PROPOSE = "propose", _("would propose")
        PROPOSED = "proposed", _("proposed")
        ALREADY_PROPOSED = "already_proposed", _("already proposed")
        ERROR = "error", _("error")

    of_import = models.ForeignKey(
        Import, on_delete=models.CASCADE, related_name="row_results", verbose_name=_("import")
    )
    number = models.PositiveIntegerField(_("row"), help_text=_("As the spreadsheet numbers it."))
    # In which order the rows are checked and recorded: by effective date, then as the file
    # lists them (intake.parsing.application_order).
    sequence = models.PositiveIntegerField(_("order recorded"))
    key = models.CharField(
        _("key"),
        max_length=64,
        help_text=_("A digest of the row's values and of how many rows before it repeat them."),
    )
    # measure, status, progress, effective_date, confidence, note, evidence (keys), and
    # recorded_at for a file in the export's layout; as read (intake.parsing.Values).
    values = models.JSONField(_("values"), default=dict)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    # [{"field", "column" (letter), "heading", "messages": {language: [message, ...]}}]
    problems = models.JSONField(_("errors"), default=list, blank=True)
    status_update = models.ForeignKey(
        StatusUpdate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("status update"),
    )
    proposal = models.ForeignKey(
        Proposal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposal"),
    )

    class Meta:
        ordering = ["of_import", "number"]
        verbose_name = _("imported row")
        verbose_name_plural = _("imported rows")
        constraints = [
            models.UniqueConstraint(
                fields=["of_import", "number"], name="%(app_label)s_%(class)s_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    outcome__in=[
                        "record",
                        "recorded",
                        "already",
                        "propose",
                        "proposed",
                        "already_proposed",
                        "error",
                    ]
                ),
                name="%(app_label)s_%(class)s_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.of_import_id}:{self.number}"
