from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    """What happened, as `<noun>.<past verb>`. Subscribers name these."""

    STATUS_UPDATE_RECORDED = "status_update.recorded", _("status update recorded")
    PROPOSAL_DECIDED = "proposal.decided", _("proposal decided")
    MEASURE_CHANGED = "measure.changed", _("measure changed")
    EVIDENCE_ADDED = "evidence.added", _("evidence added")
    REPORT_PUBLISHED = "report.published", _("report published")
