"""The analysts' tool. Forms check rules by calling the services (never restating them), and
status history is read-only: a new entry goes through services.record_status_update."""

import logging
from importlib import import_module

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, OuterRef, Q, Subquery, TextField
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _

from config.admin_filters import OlderThanFilter
from config.admin_paginator import GrowingTableAdmin, related_count
from config.admin_widgets import (
    IndexedAutocomplete,
    LinkRowsInline,
    PreloadedRowsFormSet,
    SafeAutocomplete,
    SafeAutocompleteSelectMultiple,
)
from evidence.models import Evidence, StatusUpdateEvidence

from . import attention, services
from .choices import Confidence, Status
from .models import (
    IdempotencyKey,
    InnovationMechanism,
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    ReportSnapshot,
    Risk,
    RiskMechanism,
    Scenario,
    StatusUpdate,
)
from .reports.limits import check_publish_size
from .reports.preview import PreviewFailed, preview_bytes
from .reports.render import EXTENSIONS, FORMATS, LANGUAGES, MEDIA_TYPES
from .reports.snapshots import (
    LOCALIZED_FORMATS,
    SNAPSHOT_FILES,
    STORED_TEXTS,
    latest_snapshot,
    publish_report,
    snapshot_filename,
)
from .reports.status import report_period
from .selectors import LATEST_FIRST, needing_attention
from .text import localized

DOWNLOAD_LABELS = {"json": "JSON", "csv": "CSV", "markdown": "Markdown", "html": "HTML"}
LANGUAGE_LABELS = {"en": "EN", "zh": "中文"}
BILINGUAL_TITLE_SEARCH = ("key", "title_zh", "title_en", "description_zh", "description_en")

logger = logging.getLogger(__name__)


def review_hook():
    """The module settings.STATUS_UPDATE_REVIEW names (the review app's), or None: whose
    status updates go to review (`needs_review(user)`), and the admin's form that proposes
    one (`admin_proposal_form(initial)`). This app knows nothing else of the review."""
    path = settings.STATUS_UPDATE_REVIEW
    return import_module(path) if path else None


def proposal_form_for(user, initial: dict) -> str | None:
    """The admin's proposal form pre-filled with `initial`, when `user`'s status updates go
    to review (a reporter's; an analyst's under REVIEW_ANALYST_UPDATES); else None."""
    review = review_hook()
    if review is None or not review.needs_review(user):
        return None
    return review.admin_proposal_form(initial)


def add_service_errors(
    form: forms.BaseForm, error: ValidationError, rename: dict[str, str] | None = None
) -> None:
    """Show a service's ValidationError on the form: on a field the form has (the service's
    name for it mapped through `rename`), else on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        field = (rename or {}).get(field, field)
        form.add_error(field if field in form.fields else None, errors)


class LocalizedTitleMixin:
    @admin.display(description=_("title"))
    def title(self, obj):
        return localized(obj, "title")


# A page lists at most this many of a record's measures or evidence, then links to the
# list of them all.
LISTED = 50


def more_link(url: str, text) -> str:
    return format_html('<p><a href="{}">{}</a></p>', url, text)


def measure_states(measures, more_url: str | None = None) -> str:
    """Measures as a compact list: code and title linking to the measure, status, progress;
    the first LISTED of them, and then `more_url` to all."""
    measures = list(measures[: LISTED + 1])
    more = len(measures) > LISTED
    rows = [
        (
            reverse("admin:recommendations_measure_change", args=[m.pk]),
            m.code,
            localized(m, "title"),
            m.get_status_display(),
            "–" if m.progress is None else f"{m.progress}%",
        )
        for m in measures[:LISTED]
    ]
    if not rows:
        return "–"
    items = format_html_join("", '<li><a href="{}"><b>{}</b> {}</a> — {}, {}</li>', rows)
    listed = format_html('<ul class="compact-list">{}</ul>', items)
    if more and more_url:
        listed += more_link(
            more_url,
            _("All its measures (this page lists the first %(count)s)") % {"count": LISTED},
        )
    return listed


# Pillars, concepts and institutions are the paper's framework: tens of rows (a pillar per
# 200 measures at most), so their lists count exactly and offer filter facets (ShowFacets
# .ALLOW, Django's default).


@admin.register(Pillar)
class PillarAdmin(LocalizedTitleMixin, admin.ModelAdmin):
    list_display = ("number", "title", "measure_count")
    search_fields = ("title_zh", "title_en", "aim_zh", "aim_en", "context_zh", "context_en")
    readonly_fields = ("measures_and_states",)

    @admin.display(description=_("measures and where they stand"))
    def measures_and_states(self, obj):
        url = reverse("admin:recommendations_measure_changelist")
        return measure_states(
            obj.measures.filter(archived=False).order_by("code"),
            more_url=f"{url}?{urlencode({'pillar__id__exact': obj.pk, 'archived__exact': 0})}",
        )

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(measure_count=related_count(Measure, "pillar"))
        )

    @admin.display(description=_("measures"), ordering="measure_count")
    def measure_count(self, obj):
        return obj.measure_count


class ConceptAdmin(LocalizedTitleMixin, admin.ModelAdmin):
    list_display = ("key", "title", "title_zh", "title_en", "order")
    search_fields = BILINGUAL_TITLE_SEARCH
    ordering = ("order", "key")


class RiskMechanismInline(admin.StackedInline):
    model = RiskMechanism
    extra = 0


@admin.register(Risk)
class RiskAdmin(ConceptAdmin):
    inlines = [RiskMechanismInline]


@admin.register(Scenario)
class ScenarioAdmin(ConceptAdmin):
    pass


@admin.register(InnovationMechanism)
class InnovationMechanismAdmin(ConceptAdmin):
    pass


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("key", "name_zh", "name_en", "kind", "country")
    list_filter = ("kind", "country")
    search_fields = ("key", "name_zh", "name_en")


# Notes and rationales in a link's row: two lines high, as wide as their column.
COMPACT_TEXT = {TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 20})}}


class MeasureInstitutionInline(LinkRowsInline, admin.TabularInline):
    model = MeasureInstitution
    extra = 0
    autocomplete_fields = ("institution",)
    formfield_overrides = COMPACT_TEXT


class MeasureRiskInline(LinkRowsInline, admin.TabularInline):
    model = MeasureRisk
    extra = 0
    autocomplete_fields = ("risk",)
    formfield_overrides = COMPACT_TEXT


# A measure's page shows this many history entries; the rest are a link away.
HISTORY_SHOWN = 50


class LatestHistoryFormSet(PreloadedRowsFormSet):
    """The latest HISTORY_SHOWN entries only: a measure may have thousands."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:HISTORY_SHOWN]
        return self._latest


class StatusHistoryInline(admin.TabularInline):
    """A measure's latest history entries, latest first, read-only."""

    model = StatusUpdate
    formset = LatestHistoryFormSet
    verbose_name_plural = _("status history (latest first)")
    fields = (
        "effective_date",
        "status",
        "progress",
        "confidence",
        "note",
        "evidence_list",
        "recorded_at",
        "recorded_by",
    )
    readonly_fields = fields
    ordering = LATEST_FIRST
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("recorded_by")
            .prefetch_related("evidence")
            .order_by(*self.ordering)
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("evidence"))
    def evidence_list(self, obj):
        return "; ".join(str(item) for item in obj.evidence.all()) or "–"


class MeasureForm(forms.ModelForm):
    expected_version = forms.IntegerField(
        label=_("version the form was loaded at"), widget=forms.HiddenInput, required=False
    )
    history_starts_on = forms.DateField(
        label=_("History starts on"),
        required=False,
        help_text=_("The date of the measure's first entry, “not assessed”. Default: today."),
    )

    class Meta:
        model = Measure
        fields = ("pillar", "code", *services.EDITABLE_MEASURE_FIELDS, "scenarios")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields.pop("history_starts_on")
            self.initial.setdefault("expected_version", self.instance.version)

    def clean(self):
        cleaned = super().clean()
        try:
            if not self.instance.pk:
                starts_on = cleaned.get("history_starts_on")
                if starts_on:
                    services.check_history_start(starts_on, today=timezone.localdate())
            else:
                # The admin's change view runs in one transaction: the lock holds until saved.
                services.lock_measure(
                    self.instance.pk, expected_version=cleaned.get("expected_version")
                )
        except ValidationError as error:
            add_service_errors(self, error, rename={"starts_on": "history_starts_on"})
        return cleaned


class AttentionFilter(admin.SimpleListFilter):
    """Measures that need attention today, by the rules the reports use (attention.py)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [(kind.key, kind.label) for kind in attention.KINDS]

    def queryset(self, request, queryset):
        if self.value() in {kind.key for kind in attention.KINDS}:
            return queryset.filter(
                pk__in=needing_attention(self.value(), timezone.localdate()).values("pk")
            )
        return queryset


@admin.register(Measure)
class MeasureAdmin(
    GrowingTableAdmin, IndexedAutocomplete, SafeAutocomplete, LocalizedTitleMixin, admin.ModelAdmin
):
    form = MeasureForm
    list_display = (
        "code",
        "title",
        "pillar_number",
        "status",
        "progress",
        "status_effective_date",
        "last_recorded",
        "target_date",
        "archived_label",
    )
    list_filter = (
        AttentionFilter,
        "pillar",
        "status",
        "priority",
        "archived",
        "risks",
        "scenarios",
    )
    list_select_related = ("pillar",)
    search_fields = ("code", "title_zh", "title_en", "description_zh", "description_en")
    # A measure is picked by its code's beginning or a word of its title (indexes of
    # migration 0008).
    autocomplete_search_fields = ("^code", "title_zh", "title_en")
    autocomplete_fields = ("scenarios",)
    readonly_fields = (
        "status",
        "progress",
        "status_effective_date",
        "version",
        "created_at",
        "updated_at",
        "full_history",
        "evidence_on_it",
    )
    inlines = [MeasureInstitutionInline, MeasureRiskInline, StatusHistoryInline]
    actions = ["archive", "restore"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "pillar",
                    "code",
                    "title_zh",
                    "title_en",
                    "description_zh",
                    "description_en",
                    "scenarios",
                )
            },
        ),
        (_("Planning"), {"fields": ("priority", "target_date", "review_every_days", "archived")}),
        (
            _("Current state (from the status history)"),
            {
                "fields": (
                    "status",
                    "progress",
                    "status_effective_date",
                    "version",
                    "created_at",
                    "updated_at",
                    "full_history",
                    "expected_version",
                ),
            },
        ),
        (_("Evidence"), {"fields": ("evidence_on_it",)}),
    )

    def get_list_queryset(self, queryset):
        # Each listed measure's latest entry: an index probe per row, not a join of the whole
        # history grouped by measure (which took seconds at 2 million updates). Not a sort
        # key for that reason: sorting on it would read every measure's history.
        latest = (
            StatusUpdate.objects.filter(measure=OuterRef("pk"))
            .order_by()
            .values("measure")
            .annotate(latest=Max("recorded_at"))
            .values("latest")
        )
        return queryset.annotate(last_recorded=Subquery(latest))

    @admin.display(description=_("pillar"), ordering="pillar__number")
    def pillar_number(self, obj):
        return format_html(
            '<span title="{}">{}</span>', localized(obj.pillar, "title"), obj.pillar.number
        )

    @admin.display(description=_("last recorded"))
    def last_recorded(self, obj):
        moment = getattr(obj, "last_recorded", None)
        return timezone.localtime(moment).strftime("%Y-%m-%d") if moment else "–"

    @admin.display(description=_("archived"), ordering="archived")
    def archived_label(self, obj):
        return _("archived") if obj.archived else ""

    @admin.display(description=_("evidence on this measure"))
    def evidence_on_it(self, obj):
        links = list(
            obj.evidence_links.select_related("evidence").order_by("stance", "evidence_id")[
                : LISTED + 1
            ]
        )
        rows = [
            (
                reverse("admin:evidence_evidence_change", args=[link.evidence_id]),
                link.get_stance_display(),
                localized(link.evidence, "claim")[:160],
            )
            for link in links[:LISTED]
        ]
        if not rows:
            return "–"
        items = format_html_join("", '<li><a href="{}">{}: {}</a></li>', rows)
        listed = format_html('<ul class="compact-list">{}</ul>', items)
        if len(links) > LISTED:
            url = reverse("admin:evidence_evidence_changelist")
            listed += more_link(
                f"{url}?{urlencode({'measures__id__exact': obj.pk})}",
                _("All evidence on it (this page lists the first %(count)s)") % {"count": LISTED},
            )
        return listed

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (
                    None,
                    {
                        "fields": (
                            "pillar",
                            "code",
                            "title_zh",
                            "title_en",
                            "description_zh",
                            "description_en",
                            "scenarios",
                            "history_starts_on",
                        )
                    },
                ),
                (_("Planning"), {"fields": ("priority", "target_date", "review_every_days")}),
            )
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        # Code and pillar are the measure's identity once it has a history.
        return self.readonly_fields + (("pillar", "code") if obj else ())

    def has_delete_permission(self, request, obj=None):
        return False  # every measure has a history: archive it instead

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Whose updates go to review proposes one from here instead of recording it.
        extra = {"proposal_form": proposal_form_for(request.user, {"measure": object_id})}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.display(description=_("status history"))
    def full_history(self, obj):
        count = obj.status_updates.count()
        url = reverse("admin:recommendations_statusupdate_changelist")
        return format_html(
            '<a href="{}?measure__id__exact={}">{}</a>',
            url,
            obj.pk,
            _("All %(count)s entries (this page shows the latest %(shown)s)")
            % {"count": count, "shown": min(count, HISTORY_SHOWN)},
        )

    def save_model(self, request, obj, form, change):
        if not change:
            services.create_measure(
                measure=obj,
                starts_on=form.cleaned_data.get("history_starts_on") or timezone.localdate(),
                by=request.user,
            )
            return
        # A change is saved in save_related, once its links are saved too: one edit, one
        # version.

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            return
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in services.EDITABLE_MEASURE_FIELDS
        }
        links_changed = "scenarios" in form.changed_data or any(
            formset.has_changed()
            for formset in formsets
            if formset.model in (MeasureInstitution, MeasureRisk)
        )
        saved = services.update_measure(
            measure=form.instance.pk, changes=changes, links_changed=links_changed, by=request.user
        )
        form.instance.version = saved.version

    @admin.action(description=_("Archive the selected measures"), permissions=["change"])
    def archive(self, request, queryset):
        self._set_archived(request, queryset, True)

    @admin.action(description=_("Restore the selected archived measures"), permissions=["change"])
    def restore(self, request, queryset):
        self._set_archived(request, queryset, False)

    def _set_archived(self, request, queryset, archived: bool):
        for pk in queryset.values_list("pk", flat=True):
            services.update_measure(measure=pk, changes={"archived": archived}, by=request.user)
        self.message_user(request, _("Done."), messages.SUCCESS)


class UpdateFieldsForm(forms.ModelForm):
    """A form stating a status update (recording one here; proposing one in the review app):
    only the statuses a new entry may say, a confidence the user picks, and the measure's
    state now beside the status."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" not in self.fields:
            return
        # Only what a new entry may say, and no judgement made for the analyst.
        labels = dict(Status.choices)
        self.fields["status"].choices = [("", "---------")] + [
            (status, labels[status]) for status in services.RECORDABLE_STATUSES
        ]
        self.fields["confidence"].required = True
        self.fields["confidence"].choices = [("", "---------"), *Confidence.choices]
        measure = self.current_measure()
        if measure is not None:
            self.fields["status"].help_text = _(
                "Now: %(status)s, progress %(progress)s, since %(day)s."
            ) % {
                "status": measure.get_status_display(),
                "progress": "–" if measure.progress is None else f"{measure.progress}%",
                "day": measure.status_effective_date.isoformat()
                if measure.status_effective_date
                else "–",
            }

    def current_measure(self) -> Measure | None:
        """The measure the entry is for, as bound or pre-filled (None when unknown)."""
        value = self.data.get("measure") if self.is_bound else self.initial.get("measure")
        value = getattr(value, "pk", value)
        if value is None or not str(value).isdigit():
            return None
        return Measure.objects.filter(pk=value).first()

    def _post_clean(self):
        # Model validation is part of the service's check (clean()); only build the instance
        # here so that it is not reported twice.
        self.instance = forms.models.construct_instance(self, self.instance, self._meta.fields)


class StatusUpdateForm(UpdateFieldsForm):
    """Records a new entry. The service checks every rule, the model's own ones included."""

    evidence = forms.ModelMultipleChoiceField(
        queryset=Evidence.objects.all(),
        required=False,
        label=capfirst(_("evidence")),  # as Django writes model fields' labels
        widget=SafeAutocompleteSelectMultiple(
            StatusUpdateEvidence._meta.get_field("evidence"), admin.site
        ),
    )
    expected_version = forms.IntegerField(
        label=_("version the form was loaded at"), widget=forms.HiddenInput, required=False
    )

    class Meta:
        model = StatusUpdate
        fields = ("measure", "status", "progress", "confidence", "effective_date", "note")
        help_texts = {
            "note": _(
                "History is never edited. To correct a mistaken entry, record a new one with "
                "the same effective date and say here which entry it corrects: both stay in "
                "the history, and the later one is in force."
            ),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("measure"):
            return cleaned
        try:
            # The admin's add view runs in one transaction: the lock holds until saved.
            measure = services.lock_measure(
                cleaned["measure"], expected_version=cleaned.get("expected_version")
            )
            services.check_update_allowed(
                measure=measure,
                status=cleaned["status"],
                progress=cleaned.get("progress"),
                confidence=cleaned.get("confidence") or "",
                effective_date=cleaned["effective_date"],
                note=cleaned.get("note") or "",
                evidence=cleaned.get("evidence") or [],
                today=timezone.localdate(),
            )
        except ValidationError as error:
            add_service_errors(self, error)
        return cleaned


# A status-update search lists the entries of at most this many measures.
SEARCHED_MEASURES = 1000

# The fields a link to the record form may pre-fill.
CORRECTION_FIELDS = ("status", "progress", "confidence", "effective_date", "note")


def correction_link(update: StatusUpdate) -> str:
    """The record form, pre-filled with `update`'s values and a note naming it."""
    note = _("Corrects the entry of %(day)s (#%(id)s): ") % {
        "day": update.effective_date.isoformat(),
        "id": update.pk,
    }
    params = {
        "measure": update.measure_id,
        "status": update.status,
        "progress": "" if update.progress is None else update.progress,
        "confidence": update.confidence,
        "effective_date": update.effective_date.isoformat(),
        "note": note,
    }
    return f"{reverse('admin:recommendations_statusupdate_add')}?{urlencode(params)}"


class RecordedBeforeFilter(OlderThanFilter):
    """ "Older entries": the list newest first by recording, continued after a row at any
    depth from the recorded_at index (ids and recording moments rise together)."""

    moment = "recorded_at"


@admin.register(StatusUpdate)
class StatusUpdateAdmin(GrowingTableAdmin, SafeAutocomplete, admin.ModelAdmin):
    """All status history. Entries are added here and never changed or deleted."""

    form = StatusUpdateForm
    list_display = (
        "measure_code",
        "status",
        "progress",
        "confidence",
        "effective_date",
        "recorded_at",
        "recorded_by",
        "evidence_count",
    )
    list_filter = ("status", "confidence", "measure__pillar", RecordedBeforeFilter)
    # A measure's page links to its whole history here.
    extra_lookups = ("measure__id__exact",)
    list_select_related = ("measure", "recorded_by")
    date_hierarchy = "effective_date"
    # A search finds measures (get_search_results), not words in the notes of millions of
    # entries, which it would read every one of.
    search_fields = ("^measure__code", "measure__title_zh", "measure__title_en")
    autocomplete_fields = ("measure",)
    ordering = ("-recorded_at", "-id")

    def get_search_results(self, request, queryset, search_term):
        """The entries of the measures whose code begins with, or whose title holds, each word
        (their indexes find them), of the first SEARCHED_MEASURES of them by code. Given the
        measures, the planner knows how many entries match and reads them by the measure
        index; joined in one query, it could not tell, and walked every update, newest
        first, for seconds."""
        if not search_term.strip():
            return queryset, False
        measures = Measure.objects.all()
        for word in smart_split(search_term):
            if word[0] in "\"'" and word[-1] == word[0] and len(word) > 1:
                word = unescape_string_literal(word)
            measures = measures.filter(
                Q(code__istartswith=word)
                | Q(title_zh__icontains=word)
                | Q(title_en__icontains=word)
            )
        found = list(
            measures.order_by("code").values_list("pk", flat=True)[: SEARCHED_MEASURES + 1]
        )
        if len(found) > SEARCHED_MEASURES:
            messages.warning(
                request,
                _(
                    "The search matched more than %(count)s measures: the list shows the entries "
                    "of the first %(count)s by code. Add a word to narrow it."
                )
                % {"count": SEARCHED_MEASURES},
            )
        return queryset.filter(measure__in=found[:SEARCHED_MEASURES]), False

    def get_queryset(self, request):
        # A count per listed row (an index probe each), not a join of every update's
        # evidence grouped by update; not a sort key, which would count for every update.
        return (
            super()
            .get_queryset(request)
            .annotate(evidence_total=related_count(StatusUpdateEvidence, "status_update"))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "measure",
                "status",
                "progress",
                "confidence",
                "effective_date",
                "note",
                "evidence",
                "expected_version",
            )
        return (
            "measure",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "note",
            "evidence_list",
            "recorded_at",
            "recorded_by",
        )

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else ()

    def get_changeform_initial_data(self, request):
        # "Correct this entry" pre-fills the entry's own values (the form checks them all).
        initial = {
            name: value
            for name, value in super().get_changeform_initial_data(request).items()
            if name in CORRECTION_FIELDS
        }
        initial.setdefault("effective_date", timezone.localdate())
        measure_pk = request.GET.get("measure", "")
        # A hand-edited ?measure= that is not an id prefills nothing (rather than a 500).
        measure = Measure.objects.filter(pk=measure_pk).first() if measure_pk.isdigit() else None
        if measure:
            initial.update(measure=measure.pk, expected_version=measure.version)
        return initial

    @admin.display(description=_("measure"), ordering="measure__code")
    def measure_code(self, obj):
        return obj.measure.code

    @admin.display(description=_("evidence"))
    def evidence_count(self, obj):
        return obj.evidence_total

    @admin.display(description=_("evidence (as cited)"))
    def evidence_list(self, obj):
        """Each piece as the update cited it (its revision then), and a link to it now."""
        links = [
            format_html(
                '<a href="{}">{}</a> · <a href="{}">{}</a>',
                reverse("admin:evidence_evidencerevision_change", args=[link.revision_id]),
                link.revision,
                reverse("admin:evidence_evidence_change", args=[link.evidence_id]),
                _("the evidence now"),
            )
            for link in obj.evidence_links.select_related("revision")
        ]
        return format_html("<br>".join(["{}"] * len(links)), *links) if links else "–"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """A user whose status updates go to review records nothing here, whatever the
        method: they are sent to the proposal form, pre-filled with what this form was given
        (a correction's values, the measure), and told why. A redirect rather than a proposal
        made in save_model: the proposal form and its page say what will happen (another
        person approves before anything is recorded), where this form would say "Recorded";
        and the review app, not this one, keeps its form and its rules (review_hook)."""
        wanted = {
            name: request.GET[name]
            for name in ("measure", *CORRECTION_FIELDS)
            if request.GET.get(name, "") != ""
        }
        proposal_form = proposal_form_for(request.user, wanted)
        if proposal_form is not None:
            self.message_user(
                request,
                _(
                    "Your status updates go to review: propose this one here. Another person "
                    "approves it before it is recorded."
                ),
                messages.INFO,
            )
            return HttpResponseRedirect(proposal_form)
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        update = self.get_object(request, object_id)
        extra = {}
        if update is not None and request.user.has_perm("recommendations.add_statusupdate"):
            if not update.measure.archived and update.status in services.RECORDABLE_STATUSES:
                extra["correction_link"] = correction_link(update)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def save_model(self, request, obj, form, change):
        update = services.record_status_update(
            measure=obj.measure,
            status=obj.status,
            progress=obj.progress,
            confidence=obj.confidence,
            effective_date=obj.effective_date,
            note=obj.note,
            evidence=form.cleaned_data.get("evidence") or [],
            by=request.user,
            expected_version=form.cleaned_data.get("expected_version"),
        )
        obj.pk, obj.recorded_at, obj.recorded_by = update.pk, update.recorded_at, update.recorded_by

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_continue" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request,
            _("Recorded: %(update)s. The measure's current state is now %(status)s.")
            % {
                "update": obj,
                "status": Measure.objects.get(pk=obj.measure_id).get_status_display(),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:recommendations_measure_change", args=[obj.measure_id])
        )


class ReportPeriodForm(forms.Form):
    """A report's period, language and format: the status_report command's options."""

    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            ("month", _("The last complete month")),
            ("quarter", _("The last complete quarter")),
            ("year", _("The last complete year")),
            ("", _("From “since” to “until” below")),
        ],
    )
    since = forms.DateField(
        label=_("since (exclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        label=_("until (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    lang = forms.ChoiceField(
        label=_("Language"), choices=[("zh", "中文"), ("en", "English")], required=False
    )
    file = forms.ChoiceField(
        label=_("Format"),
        choices=[(fmt, DOWNLOAD_LABELS[fmt]) for fmt in ("html", "markdown", "csv", "json")],
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            dated = cleaned.get("since") or cleaned.get("until")
            cleaned["since"], cleaned["until"] = report_period(
                since=cleaned.get("since"),
                until=cleaned.get("until"),
                # Dates given win over the period chosen beside them.
                period=None if dated else cleaned.get("period"),
                today=timezone.localdate(),
            )
        except ValidationError as error:
            add_service_errors(self, error)
        cleaned["lang"] = cleaned.get("lang") or current_lang()
        cleaned["file"] = cleaned.get("file") or "html"
        return cleaned


class PublishForm(forms.Form):
    """Publishing a previewed period; `force` only for superusers."""

    since = forms.DateField(widget=forms.HiddenInput)
    until = forms.DateField(widget=forms.HiddenInput)
    force = forms.BooleanField(
        label=_("Publish a new version, although this period has a snapshot"), required=False
    )

    def __init__(self, *args, may_force: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_force:
            del self.fields["force"]


def current_lang() -> str:
    return "zh" if translation.get_language().startswith("zh") else "en"


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(admin.ModelAdmin):
    """Published status reports: listed, viewed and downloaded; never changed."""

    list_display = ("__str__", "generated_at", "generated_by", "short_sha256", "downloads")
    list_filter = ("until",)
    list_select_related = ("generated_by",)
    date_hierarchy = "until"
    facts = (
        "since",
        "until",
        "version",
        "generated_at",
        "generated_by",
        "sha256",
        "downloads",
    )
    readonly_fields = (*facts, "preview")
    fieldsets = (
        (None, {"fields": facts}),
        (_("report"), {"fields": ("preview",)}),
    )

    def get_queryset(self, request):
        # The stored renderings are large: a page of the list reads none of them, and the
        # change page only the one preview() shows.
        return super().get_queryset(request).defer(*STORED_TEXTS)

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path(
                "<int:pk>/download/<str:fmt>/<str:lang>/",
                download,
                name="recommendations_reportsnapshot_download",
            ),
            path(
                "<int:pk>/page/<str:lang>/",
                self.admin_site.admin_view(self.page_view),
                name="recommendations_reportsnapshot_page",
            ),
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="recommendations_reportsnapshot_report",
            ),
            *super().get_urls(),
        ]

    def report_view(self, request):
        """Preview a period's report (in the page, or as a file in any format), and publish it
        as a snapshot: the command's `status_report` and `--save`, by the same code and
        within the API preview's bounds. Viewing snapshots lets one preview; publishing needs
        the publish permission (analysts), and a new version of a period that has one a
        superuser."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        may_publish = request.user.has_perm("recommendations.publish_reportsnapshot")
        may_force = request.user.is_superuser
        if request.method == "POST":
            if not may_publish:
                raise PermissionDenied
            return self.publish(request, may_force)
        form = ReportPeriodForm(
            request.GET if "preview" in request.GET else None,
            initial={"period": "quarter", "lang": current_lang(), "file": "html"},
        )
        context = {"form": form, "preview": None, "publish_form": None, "existing": None}
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                answer = self.compute_preview(request, data)
            except ValidationError as error:
                add_service_errors(form, error)
            except PreviewFailed as failure:
                logger.error("Report preview failed: %s", failure)
                form.add_error(
                    None,
                    _(
                        "The report could not be computed now. Try again, or run "
                        "`manage.py status_report`."
                    ),
                )
            else:
                if not isinstance(answer, str):
                    return answer  # a download
                context["preview"] = answer
                period = {"since": data["since"], "until": data["until"]}
                context["existing"] = latest_snapshot(**period)
                if may_publish:
                    context["publish_form"] = PublishForm(initial=period, may_force=may_force)
        return self.render_report_page(request, context, may_publish)

    def compute_preview(self, request, data: dict) -> str | HttpResponse:
        """The HTML report to show in the page, or the download the form asks for."""
        fmt = data["file"] if "download" in request.GET else "html"
        body = preview_bytes(data["since"], data["until"], fmt, data["lang"])
        if fmt == "html" and "download" not in request.GET:
            return body.decode()
        response = HttpResponse(body, content_type=MEDIA_TYPES[fmt])
        name = f"status-report_{data['since']}_{data['until']}_preview"
        if fmt in LOCALIZED_FORMATS:
            name += f"_{data['lang']}"
        response["Content-Disposition"] = f'attachment; filename="{name}.{EXTENSIONS[fmt]}"'
        response["Content-Security-Policy"] = "sandbox"
        return response

    def publish(self, request, may_force: bool):
        form = PublishForm(request.POST, may_force=may_force)
        if form.is_valid():
            data = form.cleaned_data
            try:
                check_publish_size(data["since"], data["until"])
                snapshot, created = publish_report(
                    since=data["since"],
                    until=data["until"],
                    by=request.user,
                    force=data.get("force", False),
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                if created:
                    self.message_user(
                        request,
                        _("Published %(snapshot)s.") % {"snapshot": snapshot},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:recommendations_reportsnapshot_change", args=[snapshot.pk])
                    )
                self.message_user(
                    request, self.exists_message(snapshot, may_force), messages.WARNING
                )
        else:
            self.message_user(request, _("Choose a period to publish."), messages.ERROR)
        query = {"preview": "1", "period": ""}
        if form.is_valid():
            query.update(since=form.cleaned_data["since"], until=form.cleaned_data["until"])
        url = reverse("admin:recommendations_reportsnapshot_report")
        return HttpResponseRedirect(f"{url}?{urlencode(query)}")

    @staticmethod
    def exists_message(snapshot, may_force: bool) -> str:
        text = _(
            "This period has a snapshot already (%(snapshot)s, generated %(when)s); nothing was "
            "published."
        ) % {
            "snapshot": snapshot,
            "when": timezone.localtime(snapshot.generated_at).strftime("%Y-%m-%d %H:%M"),
        }
        if may_force:
            text += " " + _("Tick “Publish a new version” to add one.")
        return text

    def render_report_page(self, request, context: dict, may_publish: bool):
        return TemplateResponse(
            request,
            "admin/recommendations/reportsnapshot/report.html",
            {
                **self.admin_site.each_context(request),
                **context,
                "opts": self.opts,
                "title": _("Publish a status report")
                if may_publish
                else _("Preview a status report"),
                "may_publish": may_publish,
            },
        )

    def download_view(self, request, pk, fmt, lang):
        snapshot = get_object_or_404(ReportSnapshot, pk=pk)
        if not self.has_view_permission(request, snapshot):
            raise PermissionDenied
        if fmt not in FORMATS or lang not in LANGUAGES:
            raise Http404
        response = HttpResponse(snapshot.rendering(fmt, lang), content_type=MEDIA_TYPES[fmt])
        filename = snapshot_filename(snapshot, fmt, lang)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Content-Security-Policy"] = "sandbox"
        return response

    def page_view(self, request, pk, lang):
        """The stored HTML page alone, in the browser: sandboxed, as every stored rendering."""
        snapshot = get_object_or_404(ReportSnapshot, pk=pk)
        if not self.has_view_permission(request, snapshot):
            raise PermissionDenied
        if lang not in LANGUAGES:
            raise Http404
        response = HttpResponse(snapshot.rendering("html", lang), content_type=MEDIA_TYPES["html"])
        response["Content-Security-Policy"] = "sandbox"
        return response

    @admin.display(description=_("SHA-256"))
    def short_sha256(self, obj):
        return obj.sha256[:12]

    @admin.display(description=_("downloads"))
    def downloads(self, obj):
        links = [
            (
                reverse("admin:recommendations_reportsnapshot_download", args=[obj.pk, fmt, lang]),
                f"{DOWNLOAD_LABELS[fmt]} {LANGUAGE_LABELS[lang]}"
                if fmt in LOCALIZED_FORMATS
                else DOWNLOAD_LABELS[fmt],
            )
            for fmt, lang in SNAPSHOT_FILES
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description=_("report"))
    def preview(self, obj):
        lang = "zh" if translation.get_language().startswith("zh") else "en"
        html = obj.html_zh if lang == "zh" else obj.html_en
        alone = reverse("admin:recommendations_reportsnapshot_page", args=[obj.pk, lang])
        # sandbox: the stored page runs no script and cannot reach the admin.
        return format_html(
            '<p><a href="{}" target="_blank" rel="noopener">{}</a></p>'
            '<iframe sandbox srcdoc="{}" title="{}"></iframe>',
            alone,
            _("Open the report alone"),
            html,
            _("report"),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ResponseFilter(admin.SimpleListFilter):
    """A remembered request by how it was answered: fixed choices, where a filter on the
    status column would read every row for the values it holds."""

    title = _("response status")
    parameter_name = "answered"

    def lookups(self, request, model_admin):
        return [
            ("2xx", _("succeeded (2xx)")),
            ("4xx", _("refused (4xx)")),
            ("5xx", _("failed (5xx)")),
            ("none", _("not answered yet")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(response_status__isnull=True)
        if value in {"2xx", "4xx", "5xx"}:
            low = int(value[0]) * 100
            return queryset.filter(response_status__gte=low, response_status__lt=low + 100)
        return queryset


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(GrowingTableAdmin, admin.ModelAdmin):
    """The API's remembered Idempotency-Keys, for tracing a client's retries. Read-only;
    `manage.py purge_idempotency_keys` deletes expired ones. Every API write with a key adds
    one: the list is a growing table's (its searches read the unexpired keys)."""

    list_display = ("key", "user", "method", "path", "response_status", "created_at", "expires_at")
    # Every key is a POST's. The date filter, not a date hierarchy: no index on created_at
    # (each write would pay for one) to find the first and the last.
    list_filter = (ResponseFilter, "created_at")
    list_select_related = ("user",)
    search_fields = ("key", "path", "user__username")
    ordering = ("-id",)  # creation order, by the primary key's index
    exclude = ("response_body", "response_headers")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
