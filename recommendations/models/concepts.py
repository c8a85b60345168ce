"""The paper's framework: pillars, application scenarios, institutions, risks and the ways
generative AI promotes financial innovation. Each record has a stable natural key that the
seed and the API use."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import InstitutionKind
from ..text import localized


class Concept(models.Model):
    """A named idea of the paper's framework, with a stable key and text in both languages."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    title_zh = models.CharField(_("title (Chinese)"), max_length=255)
    title_en = models.CharField(_("title (English)"), max_length=255)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)

    class Meta:
        abstract = True
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return localized(self, "title")


class Pillar(models.Model):
    """One policy pillar of the paper's section 四: a heading, an aim and its measures."""

    number = models.PositiveSmallIntegerField(
        _("number"), unique=True, validators=[MinValueValidator(1)]
    )
    title_zh = models.CharField(_("title (Chinese)"), max_length=255)
    title_en = models.CharField(_("title (English)"), max_length=255)
    context_zh = models.TextField(_("context (Chinese)"), blank=True)
    context_en = models.TextField(_("context (English)"), blank=True)
    aim_zh = models.TextField(_("aim (Chinese)"))
    aim_en = models.TextField(_("aim (English)"))

    class Meta:
        ordering = ["number"]
        verbose_name = _("pillar")
        verbose_name_plural = _("pillars")
        constraints = [
            models.CheckConstraint(
                condition=Q(number__gte=1), name="%(app_label)s_%(class)s_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}. {localized(self, 'title')}"


class Scenario(Concept):
    """An application direction of generative AI in finance (智能客服 … 智能风控)."""

    class Meta(Concept.Meta):
        verbose_name = _("application scenario")
        verbose_name_plural = _("application scenarios")


class Institution(models.Model):
    """A body the tracker names: a regulator responsible for a measure, or a bank or firm
    whose case the evidence describes."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=255)
    name_en = models.CharField(_("name (English)"), max_length=255)
    kind = models.CharField(_("kind"), max_length=32, choices=InstitutionKind.choices)
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        help_text=_("ISO 3166 code; blank if international."),
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=InstitutionKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return localized(self, "name")


class Risk(Concept):
    """A way generative AI may threaten financial stability (paper, section 三(二))."""

    class Meta(Concept.Meta):
        verbose_name = _("risk")
        verbose_name_plural = _("risks")


class RiskMechanism(models.Model):
    """One channel through which a risk works. Means nothing without its risk."""

    risk = models.ForeignKey(
        Risk, on_delete=models.CASCADE, related_name="mechanisms", verbose_name=_("risk")
    )
    order = models.PositiveSmallIntegerField(_("order"))
    title_zh = models.CharField(_("title (Chinese)"), max_length=255)
    title_en = models.CharField(_("title (English)"), max_length=255)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)

    class Meta:
        ordering = ["risk", "order"]
        verbose_name = _("risk mechanism")
        verbose_name_plural = _("risk mechanisms")
        constraints = [
            models.UniqueConstraint(
                fields=["risk", "order"], name="%(app_label)s_%(class)s_unique_order"
            ),
        ]

    def __str__(self) -> str:
        return localized(self, "title")


class InnovationMechanism(Concept):
    """A way generative AI promotes financial innovation (paper, section 三(一))."""

    class Meta(Concept.Meta):
        verbose_name = _("innovation mechanism")
        verbose_name_plural = _("innovation mechanisms")
