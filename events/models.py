from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from recommendations.models import Measure, Pillar

from .choices import EventType


class Event(models.Model):
    """A change, as the API showed the changed object at that moment (`payload`), written in
    the change's own transaction: nothing is announced that did not commit, and nothing that
    committed is left unannounced. Never changed once written.

    Ids rise in commit order for one measure (its writes are serialised by the measure's
    lock), which is the order deliveries keep. `measure` and `pillar` say what a follower or a
    subscription's filter matches; events not about one measure (evidence, reports) have
    neither."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    measure = models.ForeignKey(
        Measure,
        verbose_name=_("measure"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # The (measure, id) index below serves it: one index less to write per event.
        db_index=False,
    )
    pillar = models.ForeignKey(
        Pillar,
        verbose_name=_("pillar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # Five pillars: an index would select nothing (readers go by time, or by measure).
        db_index=False,
    )
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    # The database's clock, as history's: app servers' clocks may differ.
    occurred_at = models.DateTimeField(_("occurred at"), db_default=Now(), db_index=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ("-id",)
        indexes = [models.Index(fields=["measure", "id"], name="event_measure_id")]

    def __str__(self):
        return f"#{self.pk} {self.type}"

    @property
    def message_id(self) -> str:
        """The id a delivery carries (Standard Webhooks' `webhook-id`): the same on every
        attempt, so a receiver can drop a repeat."""
        return f"evt_{self.pk}"

    def envelope(self) -> dict:
        """What a delivery's body says: the type, the moment, and the object."""
        return {
            "id": self.message_id,
            "type": self.type,
            "timestamp": self.occurred_at,
            "data": self.payload,
        }
