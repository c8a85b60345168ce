"""Request counts per client for the API's throttles, when they live in the database."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Counter(models.Model):
    """One row per client and rate: requests in the current window and the one before it.

    On PostgreSQL the table is UNLOGGED (migration 0001): no WAL, no fsync, not replicated,
    emptied after a crash, which is what counts that expire within minutes deserve. Written
    only by `throttling.stores.DatabaseStore`, in one statement per request."""

    client = models.CharField(_("client"), max_length=200, primary_key=True)
    slot = models.BigIntegerField(_("window"))
    hits = models.PositiveIntegerField(_("requests in this window"))
    previous = models.PositiveIntegerField(_("requests in the window before"))
    # Not indexed: every request updates it, and an index would make each update a non-HOT
    # one. Pruning (rarely) scans the table, which holds one row per recent client.
    expires = models.BigIntegerField(_("expires (Unix time)"))

    class Meta:
        verbose_name = _("throttling count")
        verbose_name_plural = _("throttling counts")
        default_permissions = ()

    def __str__(self) -> str:
        return self.client
