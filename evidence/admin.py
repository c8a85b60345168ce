"""The analysts' tool for sources and evidence. Every save goes through evidence.services,
which bumps the record's version; a change form refuses to save over a change made since it
was loaded."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from config.admin_filters import value_filter
from config.admin_paginator import GrowingTableAdmin, related_count
from config.admin_widgets import (
    IndexedAutocomplete,
    LinkRowsInline,
    PreloadedRowsFormSet,
    SafeAutocomplete,
)
from recommendations.admin import LISTED, add_service_errors, more_link
from recommendations.text import localized

from . import services
from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRevision,
    EvidenceRisk,
    EvidenceScenario,
    Source,
    date_text,
    figure_text,
    localized_value,
)
from .revisions import LINKS as REVISION_LINKS


class VersionedForm(forms.ModelForm):
    """A change form carrying the version it was loaded at; saving it over a later change is
    refused."""

    expected_version = forms.IntegerField(
        label=_("version the form was loaded at"), widget=forms.HiddenInput, required=False
    )

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
class SourceAdmin(GrowingTableAdmin, admin.ModelAdmin):
    form = VersionedForm
    list_display = ("title", "authors", "kind", "year", "reliability", "evidence_count")
    # The year is typed: sources grow with the evidence, and a list of the years they hold
    # would read every one.
    list_filter = (
        "kind",
        "reliability",
        value_filter("year", Source._meta.get_field("year").verbose_name),
    )
    search_fields = ("key", "title", "authors", "venue", "citation", "note_zh", "note_en")
    readonly_fields = ("version", "created_at", "updated_at", "evidence_from_it")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("evidence drawn from this source"))
    def evidence_from_it(self, obj):
        if obj.pk is None:
            return "–"
        evidence = list(obj.evidence.order_by("-date", "id")[: LISTED + 1])
        rows = [
            (
                reverse("admin:evidence_evidence_change", args=[item.pk]),
                date_text(item.date, item.date_precision) or "–",
                localized(item, "claim")[:160],
            )
            for item in evidence[:LISTED]
        ]
        if not rows:
            return "–"
        items = format_html_join("", '<li><a href="{}">{}: {}</a></li>', rows)
        listed = format_html('<ul class="compact-list">{}</ul>', items)
        if len(evidence) > LISTED:
            url = reverse("admin:evidence_evidence_changelist")
            listed += more_link(
                f"{url}?{urlencode({'source__id__exact': obj.pk})}",
                _("All evidence drawn from it (this page lists the latest %(count)s)")
                % {"count": LISTED},
            )
        return listed

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(evidence_total=related_count(Evidence, "source"))
        )

    @admin.display(description=_("evidence"), ordering="evidence_total")
    def evidence_count(self, obj):
        return obj.evidence_total

    def save_model(self, request, obj, form, change):
        saved = services.save_source(source=obj, fields=form.changed_fields() if change else {})
        obj.version = saved.version


class FigureForm(forms.ModelForm):
    """Shows a stored value as people write it (400, not 400.0000000000)."""

    class Meta:
        model = EvidenceFigure
        fields = ("order", "value", "unit", "qualifier", "measures_zh", "measures_en")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["value"] = figure_text(self.instance.value)


class FigureInline(admin.TabularInline):
    model = EvidenceFigure
    form = FigureForm
    extra = 0
    max_num = settings.EVIDENCE_MAX_FIGURES  # the service refuses more


class LinkInline(LinkRowsInline, admin.TabularInline):
    """A piece of evidence's links to measures, risks, scenarios or mechanisms: all of them,
    as the form saves the whole list; they are the few records the claim bears on, and each
    row reads nothing more (LinkRowsInline)."""

    extra = 0


class MeasureLinkFormSet(PreloadedRowsFormSet):
    """Refuses, before anything is saved, to take the last support away from an implemented
    measure (evidence.services.check_support_kept)."""

    def clean(self):
        super().clean()
        if not self.instance.pk or any(self.errors):
            return
        links = [
            {"measure": form.cleaned_data["measure"], "stance": form.cleaned_data["stance"]}
            for form in self.forms
            if form.cleaned_data.get("measure") and not self._should_delete_form(form)
        ]
        try:
            services.check_support_kept(evidence=self.instance, measure_links=links)
        except ValidationError as error:
            raise ValidationError(error.messages) from None  # shown above the inline


class MeasureLinkInline(LinkInline):
    model = EvidenceMeasure
    formset = MeasureLinkFormSet
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


# A piece of evidence's page shows this many of its revisions; the rest are a link away.
REVISIONS_SHOWN = 20


class LatestRevisionsFormSet(PreloadedRowsFormSet):
    """The latest REVISIONS_SHOWN revisions only: every save adds one."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:REVISIONS_SHOWN]
        return self._latest


class RevisionInline(admin.TabularInline):
    """The piece's latest revisions, latest first: what it said at each version. Read-only."""

    model = EvidenceRevision
    formset = LatestRevisionsFormSet
    verbose_name_plural = _("revisions (latest first)")
    fields = ("version", "claim", "created_at", "created_by")
    readonly_fields = fields
    ordering = ("-version",)
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("claim"))
    def claim(self, obj):
        return localized_value(obj.content, "claim")[:120]


# Inline models of a piece of evidence -> the name of their list in save_evidence.
LINK_LISTS = {model: name for name, (model, target) in services.LINK_MODELS.items()}


@admin.register(Evidence)
class EvidenceAdmin(GrowingTableAdmin, IndexedAutocomplete, SafeAutocomplete, admin.ModelAdmin):
    form = VersionedForm
    list_display = ("claim", "source_title", "attribution", "dated", "figure_count")
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
    # A piece is picked by its key's beginning or a word of its claim (indexes of migration
    # 0006).
    autocomplete_search_fields = ("^key", "claim_zh", "claim_en")
    # A measure's page and a source's link to the evidence on them.
    extra_lookups = ("measures__id__exact", "source__id__exact")
    autocomplete_fields = ("source", "institutions")
    readonly_fields = ("created_by", "version", "created_at", "updated_at", "all_revisions")
    date_hierarchy = "date"
    inlines = [
        FigureInline,
        MeasureLinkInline,
        RiskLinkInline,
        ScenarioLinkInline,
        InnovationLinkInline,
        RevisionInline,
    ]

    def get_list_queryset(self, queryset):
        return queryset.annotate(figure_total=related_count(EvidenceFigure, "evidence"))

    @admin.display(description=_("revisions"))
    def all_revisions(self, obj):
        if obj.pk is None:
            return "–"
        url = reverse("admin:evidence_evidencerevision_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"evidence__id__exact": obj.pk}),
            _("All its revisions (this page shows the latest %(shown)s)")
            % {"shown": REVISIONS_SHOWN},
        )

    @admin.display(description=_("claim"))
    def claim(self, obj):
        return localized(obj, "claim")[:120]

    @admin.display(description=_("figures"), ordering="figure_total")
    def figure_count(self, obj):
        return obj.figure_total

    @admin.display(description=_("source"), ordering="source__title")
    def source_title(self, obj):
        title = obj.source.title
        return format_html(
            '<span title="{}">{}</span>',
            str(obj.source),
            title[:60] + ("…" if len(title) > 60 else ""),
        )

    @admin.display(description=_("date"), ordering="date")
    def dated(self, obj):
        return date_text(obj.date, obj.date_precision) or "–"

    def save_model(self, request, obj, form, change):
        pass  # saved with its figures and links in save_related, in one service call

    def save_related(self, request, form, formsets, change):
        """Save the evidence, its institutions, figures and links through save_evidence, which
        bumps the version once when any of them changed."""
        lists = {}
        for formset in formsets:
            kept = kept_forms(formset)
            if formset.model is EvidenceRevision:
                continue  # read-only: the service writes the new revision
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


@admin.register(EvidenceRevision)
class EvidenceRevisionAdmin(GrowingTableAdmin, admin.ModelAdmin):
    """Revisions are written by every save of a piece of evidence and never changed: a page
    shows one, as a status update that cited it saw it; the list, a piece's revisions, linked
    from its page."""

    list_display = ("__str__", "evidence", "version", "created_at", "created_by")
    list_select_related = ("evidence", "created_by")
    extra_lookups = ("evidence__id__exact",)
    fields = (
        "evidence_link",
        "version",
        "created_at",
        "created_by",
        "source",
        "claim_zh",
        "claim_en",
        "quote",
        "location",
        "date",
        "attribution",
        "note",
        "figures",
        "institutions",
        "links",
    )
    readonly_fields = fields
    ordering = ("evidence", "-version")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_model_perms(self, request):
        return {}  # reached from a piece of evidence or a status update, not the index

    @admin.display(description=_("evidence"))
    def evidence_link(self, obj):
        url = reverse("admin:evidence_evidence_change", args=[obj.evidence_id])
        return format_html('<a href="{}">{}</a>', url, obj.evidence)

    @admin.display(description=_("source"))
    def source(self, obj):
        cited = obj.content["source"]
        return format_html(
            "{} — {} ({}) {}<br>{}",
            cited["authors"],
            cited["title"],
            cited["year"] or "–",
            cited["url"],
            cited["citation"],
        )

    @admin.display(description=_("claim (Chinese)"))
    def claim_zh(self, obj):
        return obj.content["claim_zh"]

    @admin.display(description=_("claim (English)"))
    def claim_en(self, obj):
        return obj.content["claim_en"]

    @admin.display(description=_("quote"))
    def quote(self, obj):
        return obj.content["quote"] or "–"

    @admin.display(description=_("location in source"))
    def location(self, obj):
        return obj.content["location"] or "–"

    @admin.display(description=_("date"))
    def date(self, obj):
        return obj.content["date"] or "–"

    @admin.display(description=_("attribution"))
    def attribution(self, obj):
        return obj.content["attribution"]

    @admin.display(description=_("note"))
    def note(self, obj):
        return localized_value(obj.content, "note") or "–"

    @admin.display(description=_("figures"))
    def figures(self, obj):
        rows = [
            (item["qualifier"], item["value"], item["unit"], localized_value(item, "measures"))
            for item in obj.content["figures"]
        ]
        return format_html_join(mark_safe("<br>"), "{} {} {}: {}", rows) or "–"

    @admin.display(description=_("institutions named"))
    def institutions(self, obj):
        return ", ".join(obj.content["institutions"]) or "–"

    @admin.display(description=_("links"))
    def links(self, obj):
        rows = [
            (name, link[target], link["stance"])
            for name, (accessor, target, key) in REVISION_LINKS.items()
            for link in obj.content[name]
        ]
        return format_html_join(mark_safe("<br>"), "{}: {} ({})", rows) or "–"
