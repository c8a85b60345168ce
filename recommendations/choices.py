"""Vocabularies of the recommendations app. Each is backed by a CheckConstraint on its field."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    """Where a measure stands. `not_assessed` is only ever a measure's first entry: nobody has
    looked yet, which is a different claim from `not_started` (somebody looked; nothing
    has happened)."""

    NOT_ASSESSED = "not_assessed", _("Not assessed")
    NOT_STARTED = "not_started", _("Not started")
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    PARTIALLY_IMPLEMENTED = "partially_implemented", _("Partially implemented")
    IMPLEMENTED = "implemented", _("Implemented")
    STALLED = "stalled", _("Stalled")
    ABANDONED = "abandoned", _("Abandoned")


# The implementation ladder. Moving down it is a regression and needs a note. Stalled and
# abandoned are off the ladder: they say the work stopped, not how far it had come.
STAGE = {
    Status.NOT_STARTED: 0,
    Status.PLANNED: 1,
    Status.IN_PROGRESS: 2,
    Status.PARTIALLY_IMPLEMENTED: 3,
    Status.IMPLEMENTED: 4,
}

# Statuses that say the work has stopped; entering one needs a note saying why.
STOPPED = (Status.STALLED, Status.ABANDONED)

# "In progress or beyond": the measures the reports count as under way.
ACTIVE = (Status.IN_PROGRESS, Status.PARTIALLY_IMPLEMENTED, Status.IMPLEMENTED)


def is_regression(previous: str | None, new: str) -> bool:
    """Whether moving from `previous` to `new` goes down the implementation ladder."""
    if previous not in STAGE or new not in STAGE:
        return False
    return STAGE[new] < STAGE[previous]


class Confidence(models.TextChoices):
    """How sure the analyst is of an assessment."""

    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Priority(models.TextChoices):
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class InstitutionRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    SUPPORT = "support", _("Support")


class InstitutionKind(models.TextChoices):
    REGULATOR = "regulator", _("Regulator")
    BANK = "bank", _("Bank")
    SECURITIES_FIRM = "securities_firm", _("Securities firm")
    INSURER = "insurer", _("Insurer")
    CONSUMER_FINANCE = "consumer_finance", _("Consumer finance company")
    FINTECH = "fintech", _("Fintech company")
    TECHNOLOGY_COMPANY = "technology_company", _("Technology company")
    FINANCIAL_INFORMATION = "financial_information", _("Financial information provider")
    INTERNATIONAL_BODY = "international_body", _("International body")
    RESEARCH = "research", _("Research institution")
    OTHER = "other", _("Other")


class Language(models.TextChoices):
    """The language something is written in for a reader (a report, a digest, a webhook's
    e-mail): the reports' codes, zh and en."""

    ZH = "zh", "中文"
    EN = "en", "English"

    @classmethod
    def of(cls, code: str | None) -> "Language":
        """The language for a Django language code (a request's: "zh-hans", "zh-cn",
        "en-us"), or for settings.LANGUAGE_CODE when none is given."""
        from django.conf import settings

        return cls.ZH if (code or settings.LANGUAGE_CODE).lower().startswith("zh") else cls.EN

    @property
    def django_code(self) -> str:
        """Django's code for it (translation.override)."""
        return "zh-hans" if self == Language.ZH else "en"
