"""The analysts' tool for sources and evidence. Every save goes through evidence.services,
which bumps the record's version; a change form refuses to save over a change made since it
was loaded."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from config.admin_widgets import SafeAutocomplete
from recommendations.admin import add_service_errors
from recommendations.text import localized

from . import services
from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)


class VersionedForm(forms.ModelForm):
    """A change form carrying the version it was loaded at; saving it over a later change is
    refused."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("expected_version", self.instance.version)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            try:
                # The admin's change view runs in one transaction: the lock holds until saved.
                services.lock(self.instance, expected_version=cleaned.get("expected_version"))
            except ValidationError as error:
                add_service_errors(self, error)
        return cleaned

    def changed_fields(self) -> dict:
        """The record's own fields the user changed, as the service takes them."""
        names = {field.name for field in self._meta.model._meta.concrete_fields}
        return {name: self.cleaned_data[name] for name in self.changed_data if name in names}


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = VersionedForm
    list_display = ("title", "authors", "kind", "year", "reliability", "evidence_count")
    list_filter = ("kind", "reliability", "year")
    search_fields = ("key", "title", "authors", "venue", "citation", "note_zh", "note_en")
    readonly_fields = ("version", "created_at", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(evidence_total=Count("evidence"))

    @admin.display(description=_("evidence"), ordering="evidence_total")
    def evidence_count(self, obj):
        return obj.evidence_total

    def save_model(self, request, obj, form, change):
        saved = services.save_source(source=obj, fields=form.changed_fields() if change else {})
        obj.version = saved.version


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


# Inline models of a piece of evidence -> the name of their list in save_evidence.
LINK_LISTS = {model: name for name, (model, target) in services.LINK_MODELS.items()}


@admin.register(Evidence)
class EvidenceAdmin(SafeAutocomplete, admin.ModelAdmin):
    form = VersionedForm
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
    readonly_fields = ("created_by", "version", "created_at", "updated_at")
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
        pass  # saved with its figures and links in save_related, in one service call

    def save_related(self, request, form, formsets, change):
        """Save the evidence, its institutions, figures and links through save_evidence, which
        bumps the version once when any of them changed."""
        lists = {}
        for formset in formsets:
            kept = kept_forms(formset)
            if formset.has_changed():
                lists[formset.model] = kept
        figures = None
        if EvidenceFigure in lists:
            rows = sorted(lists.pop(EvidenceFigure), key=lambda f: f.cleaned_data["order"] or 0)
            figures = [
                {field: row.cleaned_data[field] for field in services.FIGURE_FIELDS} for row in rows
            ]
        links = {}
        for model, rows in lists.items():
            target = services.LINK_MODELS[LINK_LISTS[model]][1]
            links[LINK_LISTS[model]] = [
                {target: row.cleaned_data[target], "stance": row.cleaned_data["stance"]}
                for row in rows
            ]
        saved = services.save_evidence(
            evidence=form.instance,
            fields=form.changed_fields() if change else {},
            figures=figures,
            links=links,
            institutions=(
                list(form.cleaned_data["institutions"])
                if "institutions" in form.changed_data
                else None
            ),
            by=request.user,
        )
        form.instance.version = saved.version


def kept_forms(formset) -> list:
    """The forms of an inline formset that stay after saving, and for the admin's history
    message, what it added, changed and deleted."""
    deleted = formset.deleted_forms if formset.can_delete else []
    kept = [
        form
        for form in formset.forms
        if form not in deleted and (form.instance.pk or form.has_changed())
    ]
    formset.new_objects = [form.instance for form in kept if not form.instance.pk]
    formset.changed_objects = [
        (form.instance, form.changed_data)
        for form in kept
        if form.instance.pk and form.has_changed()
    ]
    formset.deleted_objects = [form.instance for form in deleted if form.instance.pk]
    return kept
