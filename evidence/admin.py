from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from config.admin_widgets import SafeAutocomplete
from recommendations.text import localized

from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("title", "authors", "kind", "year", "reliability", "evidence_count")
    list_filter = ("kind", "reliability", "year")
    search_fields = ("key", "title", "authors", "venue", "citation", "note_zh", "note_en")
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(evidence_total=Count("evidence"))

    @admin.display(description=_("evidence"), ordering="evidence_total")
    def evidence_count(self, obj):
        return obj.evidence_total


class FigureInline(admin.TabularInline):
    model = EvidenceFigure
    extra = 0


class LinkInline(SafeAutocomplete, admin.TabularInline):
    extra = 0


class MeasureLinkInline(LinkInline):
    model = EvidenceMeasure
    autocomplete_fields = ("measure",)


class RiskLinkInline(LinkInline):
    model = EvidenceRisk
    autocomplete_fields = ("risk",)


class ScenarioLinkInline(LinkInline):
    model = EvidenceScenario
    autocomplete_fields = ("scenario",)


class InnovationLinkInline(LinkInline):
    model = EvidenceInnovationMechanism
    autocomplete_fields = ("mechanism",)


@admin.register(Evidence)
class EvidenceAdmin(SafeAutocomplete, admin.ModelAdmin):
    list_display = ("claim", "source", "attribution", "date", "location", "figure_count")
    list_filter = (
        "attribution",
        "source__kind",
        "source__reliability",
        "date_precision",
        "measures__pillar",
        "risks",
        "scenarios",
    )
    list_select_related = ("source",)
    search_fields = (
        "key",
        "claim_zh",
        "claim_en",
        "quote",
        "note_zh",
        "note_en",
        "source__title",
        "source__authors",
    )
    autocomplete_fields = ("source", "institutions")
    readonly_fields = ("created_by", "created_at", "updated_at")
    date_hierarchy = "date"
    inlines = [
        FigureInline,
        MeasureLinkInline,
        RiskLinkInline,
        ScenarioLinkInline,
        InnovationLinkInline,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(figure_total=Count("figures"))

    @admin.display(description=_("claim"))
    def claim(self, obj):
        return localized(obj, "claim")[:120]

    @admin.display(description=_("figures"), ordering="figure_total")
    def figure_count(self, obj):
        return obj.figure_total

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
