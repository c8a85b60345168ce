"""Vocabularies of the evidence app. Each is backed by a CheckConstraint on its field."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    SURVEY = "survey", _("Survey")
    ACADEMIC_STUDY = "academic_study", _("Academic study")
    POLICY_DOCUMENT = "policy_document", _("Policy document")
    NEWS = "news", _("News")
    COMPANY_DISCLOSURE = "company_disclosure", _("Company disclosure")
    TECHNICAL_REPORT = "technical_report", _("Technical report")


class Reliability(models.TextChoices):
    """How far a source can be trusted, best first."""

    HIGH = "high", _("High: peer-reviewed research or official statistics")
    MEDIUM = "medium", _("Medium: survey, working paper, news or technical report")
    LOW = "low", _("Low: a party's own claim, a repost or an unsourced statement")


# Sorting key: a higher rank is more reliable.
RELIABILITY_RANK = {Reliability.HIGH: 3, Reliability.MEDIUM: 2, Reliability.LOW: 1}


class Attribution(models.TextChoices):
    CITED = "cited", _("Cited: the source names where the claim comes from")
    UNSOURCED = "unsourced", _("Unsourced: stated without naming where it comes from")


class Stance(models.TextChoices):
    """How a piece of evidence bears on what it is linked to."""

    SUPPORTS = "supports", _("Supports")
    CHALLENGES = "challenges", _("Challenges")
    CONTEXT = "context", _("Context")


class DatePrecision(models.TextChoices):
    DAY = "day", _("Day")
    MONTH = "month", _("Month")
    YEAR = "year", _("Year")


class Qualifier(models.TextChoices):
    EXACT = "exact", _("exactly")
    APPROXIMATELY = "approximately", _("approximately")
    MORE_THAN = "more_than", _("more than")
    AT_LEAST = "at_least", _("at least")
    LESS_THAN = "less_than", _("less than")
