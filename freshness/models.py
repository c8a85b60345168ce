"""How many times each table has changed: the cheap marker behind the API's ETags."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TableChanges(models.Model):
    """One tracked table and a counter that goes up whenever a transaction that wrote it (an
    insert, update, delete or truncate) commits. Kept by database triggers (freshness.triggers),
    so that bulk writes, the admin, commands and raw SQL all count; never written by the app."""

    table = models.CharField(max_length=63, primary_key=True)
    changes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["table"]
        verbose_name = _("table change counter")
        verbose_name_plural = _("table change counters")
        default_permissions = ()  # nobody edits or views them through the admin

    def __str__(self) -> str:
        return f"{self.table}: {self.changes}"
