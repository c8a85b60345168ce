"""Vocabularies of the follows app. Each is backed by a CheckConstraint on its field."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from recommendations.choices import Language  # noqa: F401 (the digests' vocabulary too)


class Frequency(models.TextChoices):
    """How often a user's digest goes out."""

    OFF = "off", _("Off")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


# The language a digest is written in (the reports' codes: zh, en), and Django's code for each
# (translation.override).
DJANGO_LANGUAGE = {language: language.django_code for language in Language}


class Weekday(models.IntegerChoices):
    """The day a weekly digest goes out, ISO 8601's numbering (1 is Monday)."""

    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")
    SUNDAY = 7, _("Sunday")


class DigestState(models.TextChoices):
    """Where one period's digest for one user stands."""

    # Claimed and being sent. A row left here by a worker that died is never sent again:
    # the digest goes at most once (README, "Follows and digests").
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    EMPTY = "empty", _("Nothing to say")
    FAILED = "failed", _("Failed")
