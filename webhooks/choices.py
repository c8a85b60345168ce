from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryState(models.TextChoices):
    """Where a delivery stands: attempted until the receiver answers 2xx (delivered) or its
    retries run out (failed, and its subscription paused)."""

    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
