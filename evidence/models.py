"""Sources and the evidence drawn from them: claims, figures and cases, linked to the measures,
risks, scenarios and innovation mechanisms they bear on."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from recommendations.models import (
    InnovationMechanism,
    Institution,
    Measure,
    Risk,
    Scenario,
    StatusUpdate,
)
from recommendations.text import localized, prefers_chinese

from .choices import Attribution, DatePrecision, Qualifier, Reliability, SourceKind, Stance


def valid(field: str, choices: type[models.TextChoices]) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": choices.values}),
        name=f"%(app_label)s_%(class)s_{field}_valid",
    )


def figure_text(value) -> str:
    """A figure's value as people write it: 400, 43.5, 0.0039 (no trailing zeros, no
    exponent)."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def date_text(day, precision: str) -> str:
    """A date as precise as it is known: 2024 (2024年), 2024-10 (2024年10月), 2024-10-15."""
    if day is None:
        return ""
    if precision == DatePrecision.YEAR:
        return pgettext("a year alone", "%(year)s") % {"year": day.year}
    if precision == DatePrecision.MONTH:
        return formats.date_format(day, "YEAR_MONTH_FORMAT")
    return formats.date_format(day, "DATE_FORMAT")


class Source(models.Model):
    """Where evidence comes from: a study, survey, policy document, news item, company
    disclosure or technical report, with its full citation and how far it can be trusted."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Optional stable identifier, used by the seed."),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=SourceKind.choices)
    authors = models.CharField(_("authors"), max_length=500, blank=True)
    title = models.CharField(_("title"), max_length=500)
    venue = models.CharField(_("publisher or venue"), max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    published_on = models.DateField(_("published on"), null=True, blank=True)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    citation = models.TextField(_("full citation"), blank=True)
    reliability = models.CharField(_("reliability"), max_length=16, choices=Reliability.choices)
    note_zh = models.TextField(_("note (Chinese)"), blank=True)
    note_en = models.TextField(_("note (English)"), blank=True)
    # Bumped by every change (evidence.services), so a stale write can be refused.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        constraints = [
            valid("kind", SourceKind),
            valid("reliability", Reliability),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | Q(year__gte=1000, year__lte=9999),
                name="%(app_label)s_%(class)s_year_range",
            ),
        ]
        indexes = [models.Index(fields=["kind"], name="source_kind_idx")]

    def __str__(self) -> str:
        who = f"{self.authors}: " if self.authors else ""
        return f"{who}{self.title}" + (f" ({self.year})" if self.year else "")

    def save(self, *args, **kwargs):
        self.key = self.key or None  # blank keys are absent, so several may be blank
        super().save(*args, **kwargs)


class Evidence(models.Model):
    """One claim, figure or case, as its source states it."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Optional stable identifier, used by the seed."),
    )
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("source")
    )
    attribution = models.CharField(
        _("attribution"), max_length=16, choices=Attribution.choices, default=Attribution.CITED
    )
    claim_zh = models.TextField(_("claim (Chinese)"))
    claim_en = models.TextField(_("claim (English)"))
    quote = models.TextField(_("quote"), blank=True, help_text=_("Verbatim, from the source."))
    location = models.CharField(
        _("location in source"), max_length=100, blank=True, help_text=_("Section or page.")
    )
    date = models.DateField(_("date"), null=True, blank=True, help_text=_("When the claim held."))
    date_precision = models.CharField(
        _("date precision"), max_length=8, choices=DatePrecision.choices, blank=True
    )
    note_zh = models.TextField(_("note (Chinese)"), blank=True)
    note_en = models.TextField(
        _("note (English)"), blank=True, help_text=_("Slips or contradictions in the source.")
    )
    institutions = models.ManyToManyField(
        Institution, related_name="evidence", blank=True, verbose_name=_("institutions named")
    )
    measures = models.ManyToManyField(
        Measure,
        through="EvidenceMeasure",
        related_name="evidence",
        blank=True,
        verbose_name=_("measures"),
    )
    risks = models.ManyToManyField(
        Risk, through="EvidenceRisk", related_name="evidence", blank=True, verbose_name=_("risks")
    )
    scenarios = models.ManyToManyField(
        Scenario,
        through="EvidenceScenario",
        related_name="evidence",
        blank=True,
        verbose_name=_("application scenarios"),
    )
    innovation_mechanisms = models.ManyToManyField(
        InnovationMechanism,
        through="EvidenceInnovationMechanism",
        related_name="evidence",
        blank=True,
        verbose_name=_("innovation mechanisms"),
    )
    status_updates = models.ManyToManyField(
        StatusUpdate,
        through="StatusUpdateEvidence",
        related_name="evidence",
        blank=True,
        verbose_name=_("status updates"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # Bumped by every change, figures and links included (evidence.services).
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-date", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            valid("attribution", Attribution),
            models.CheckConstraint(
                condition=Q(date__isnull=True, date_precision="")
                | Q(date__isnull=False, date_precision__in=DatePrecision.values),
                name="%(app_label)s_%(class)s_date_precision_iff_date",
            ),
        ]
        indexes = [
            # Serves the reports' "evidence added in a period".
            models.Index(fields=["created_at"], name="evidence_created_idx"),
            models.Index(fields=["date"], name="evidence_date_idx"),
        ]

    def __str__(self) -> str:
        return localized(self, "claim")[:100]

    def save(self, *args, **kwargs):
        self.key = self.key or None
        super().save(*args, **kwargs)


class EvidenceFigure(models.Model):
    """A number a piece of evidence states: its value, unit and what it measures."""

    evidence = models.ForeignKey(
        Evidence, on_delete=models.CASCADE, related_name="figures", verbose_name=_("evidence")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10)
    unit = models.CharField(_("unit"), max_length=64, blank=True)
    qualifier = models.CharField(
        _("qualifier"), max_length=16, choices=Qualifier.choices, default=Qualifier.EXACT
    )
    measures_zh = models.CharField(_("what it measures (Chinese)"), max_length=500)
    measures_en = models.CharField(_("what it measures (English)"), max_length=500)

    class Meta:
        ordering = ["evidence", "order", "id"]
        verbose_name = _("figure")
        verbose_name_plural = _("figures")
        constraints = [valid("qualifier", Qualifier)]

    def __str__(self) -> str:
        return f"{self.value.normalize():f} {self.unit}".strip()


class EvidenceLink(models.Model):
    """How a piece of evidence bears on a record: supports, challenges or gives context."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, verbose_name=_("evidence"))
    stance = models.CharField(_("stance"), max_length=16, choices=Stance.choices)

    class Meta:
        abstract = True


def link_meta(target: str, verbose: str, verbose_plural: str) -> type:
    class Meta:
        ordering = ["evidence", target]
        verbose_name = verbose
        verbose_name_plural = verbose_plural
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", target], name="%(app_label)s_%(class)s_unique"
            ),
            valid("stance", Stance),
        ]

    return Meta


class EvidenceMeasure(EvidenceLink):
    measure = models.ForeignKey(
        Measure, on_delete=models.PROTECT, related_name="evidence_links", verbose_name=_("measure")
    )
    Meta = link_meta("measure", _("evidence on a measure"), _("evidence on measures"))

    def __str__(self) -> str:
        return f"{self.measure.code}: {self.get_stance_display()}"


class EvidenceRisk(EvidenceLink):
    risk = models.ForeignKey(
        Risk, on_delete=models.PROTECT, related_name="evidence_links", verbose_name=_("risk")
    )
    Meta = link_meta("risk", _("evidence on a risk"), _("evidence on risks"))

    def __str__(self) -> str:
        return f"{self.risk}: {self.get_stance_display()}"


class EvidenceScenario(EvidenceLink):
    scenario = models.ForeignKey(
        Scenario,
        on_delete=models.PROTECT,
        related_name="evidence_links",
        verbose_name=_("application scenario"),
    )
    Meta = link_meta("scenario", _("evidence on a scenario"), _("evidence on scenarios"))

    def __str__(self) -> str:
        return f"{self.scenario}: {self.get_stance_display()}"


class EvidenceInnovationMechanism(EvidenceLink):
    mechanism = models.ForeignKey(
        InnovationMechanism,
        on_delete=models.PROTECT,
        related_name="evidence_links",
        verbose_name=_("innovation mechanism"),
    )
    Meta = link_meta(
        "mechanism",
        _("evidence on an innovation mechanism"),
        _("evidence on innovation mechanisms"),
    )

    def __str__(self) -> str:
        return f"{self.mechanism}: {self.get_stance_display()}"


class EvidenceRevision(models.Model):
    """What a piece of evidence said at one of its versions: its fields, its source's citation,
    figures, institutions and links, as written then. Appended by every save, never changed."""

    evidence = models.ForeignKey(
        # Evidence with revisions cannot be deleted: history may cite it, and rows are kept.
        Evidence,
        on_delete=models.PROTECT,
        related_name="revisions",
        verbose_name=_("evidence"),
    )
    version = models.PositiveIntegerField(_("version"))
    # Shape: evidence.revisions.snapshot (fields, "source", "figures", "institutions", links).
    content = models.JSONField(_("content"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # Append-only: a user who wrote revisions is deactivated, not deleted.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["evidence", "-version"]
        verbose_name = _("evidence revision")
        verbose_name_plural = _("evidence revisions")
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "version"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        claim = localized_value(self.content, "claim")[:100]
        return _("%(claim)s (version %(version)s)") % {"claim": claim, "version": self.version}


def localized_value(content: dict, field: str) -> str:
    """`localized` for a snapshot's dict."""
    zh, en = content.get(f"{field}_zh", ""), content.get(f"{field}_en", "")
    return (zh or en) if prefers_chinese() else (en or zh)


class StatusUpdateEvidence(models.Model):
    """Evidence attached to a status update, and the revision of it the update cited. Part of
    the history: appended, never changed."""

    status_update = models.ForeignKey(
        StatusUpdate,
        on_delete=models.PROTECT,
        related_name="evidence_links",
        verbose_name=_("status update"),
    )
    evidence = models.ForeignKey(
        Evidence,
        on_delete=models.PROTECT,
        related_name="status_update_links",
        verbose_name=_("evidence"),
    )
    revision = models.ForeignKey(
        EvidenceRevision,
        on_delete=models.PROTECT,
        related_name="status_update_links",
        verbose_name=_("cited revision"),
    )

    class Meta:
        # An update's evidence in Evidence's own order (latest date first), as the API lists it.
        ordering = ["status_update", "-evidence__date", "evidence"]
        verbose_name = _("evidence of a status update")
        verbose_name_plural = _("evidence of status updates")
        constraints = [
            models.UniqueConstraint(
                fields=["status_update", "evidence"], name="%(app_label)s_%(class)s_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status_update} ← {self.evidence_id}"
