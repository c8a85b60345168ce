"""What the seed gave each record it loaded, so that a later load can tell its own values from
people's edits (recommendations.seed)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SeedValue(models.Model):
    """The value the seed last gave one field of one record it loaded, or, with a blank
    `field`, the record or link itself. A later load changes the field only while it still
    holds this value."""

    model = models.CharField(_("model"), max_length=100)  # "recommendations.measure"
    record = models.CharField(_("record"), max_length=255)  # natural key: "3.2", "3.2/pboc"
    field = models.CharField(_("field"), max_length=100, blank=True)
    value = models.JSONField(_("seeded value"), null=True)
    loaded_at = models.DateTimeField(_("loaded at"), default=timezone.now)

    class Meta:
        ordering = ["model", "record", "field"]
        verbose_name = _("seed value")
        verbose_name_plural = _("seed values")
        constraints = [
            models.UniqueConstraint(
                fields=["model", "record", "field"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.record} {self.field}".strip()
