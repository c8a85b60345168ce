"""The audit trail: one append-only row per change to a tracked record (audit.registry).

django-auditlog writes the rows (its LogEntry, swapped for this model by
AUDITLOG_LOGENTRY_MODEL); this model adds through what the change came (channel and request
or command), the actor's username as it was, and the record the change belongs to (a figure's
evidence, a link's measure). The database refuses to change or delete a row (migration 0002).
"""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    ADMIN = "admin", _("admin")
    API = "api", _("API")
    COMMAND = "command", _("command")
    OTHER = "other", _("other")


class ChangeManager(LogEntryManager):
    """auditlog's manager, with every entry stamped with who, through what, and the record
    it belongs to (services.stamp)."""

    def log_create(self, instance, force_log: bool = False, **kwargs):
        from .services import stamp

        return super().log_create(instance, force_log, **stamp(instance, kwargs))

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        from .services import stamp

        return super().log_m2m_changes(
            changed_queryset, instance, operation, field_name, **stamp(instance, kwargs)
        )


class Change(AbstractLogEntry):
    # auditlog's fields, redeclared only for labels this project translates.
    object_id = models.BigIntegerField(_("record id"), blank=True, null=True, db_index=True)
    object_repr = models.TextField(_("record"))
    action = models.PositiveSmallIntegerField(
        _("action"),
        choices=[
            (AbstractLogEntry.Action.CREATE, _("create")),
            (AbstractLogEntry.Action.UPDATE, _("update")),
            (AbstractLogEntry.Action.DELETE, _("delete")),
            (AbstractLogEntry.Action.ACCESS, _("access")),
        ],
        db_index=True,
    )
    changes = models.JSONField(_("before and after"), null=True)
    remote_addr = models.GenericIPAddressField(_("client address"), blank=True, null=True)
    timestamp = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # The trail outlives what it names: deleting a content type that has entries is refused,
    # and the table takes no UPDATE or DELETE anyway.
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("model"),
    )
    # Who, as plain values rather than a foreign key: a user deleted later (or a backup
    # restored elsewhere) leaves the entry whole.
    actor = None
    actor_user_id = models.BigIntegerField(_("user id"), null=True, blank=True)
    actor_username = models.CharField(_("username"), max_length=150, blank=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=Channel.choices, default=Channel.OTHER
    )
    via = models.CharField(
        _("via"), max_length=255, blank=True, help_text=_("The request or command.")
    )
    parent_model = models.CharField(
        _("belongs to model"),
        max_length=100,
        blank=True,
        help_text=_("The record this one belongs to, as app_label.model: a figure's evidence."),
    )
    parent_id = models.BigIntegerField(_("belongs to id"), null=True, blank=True)

    objects = ChangeManager()

    class Meta:
        get_latest_by = "timestamp"
        ordering = ["-id"]
        verbose_name = _("change")
        verbose_name_plural = _("changes")
        indexes = [
            models.Index(fields=["parent_model", "parent_id"], name="change_parent_idx"),
            models.Index(fields=["actor_username", "id"], name="change_username_idx"),
        ]
        # Superusers hold every permission, so these say nothing; the admin and the API
        # refuse every write themselves (audit.admin, audit.api).
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr}"

    @property
    def model_label(self) -> str:
        return f"{self.content_type.app_label}.{self.content_type.model}"
