"""Proposals in the admin, read-only for now: their revisions and decisions are shown on each
proposal's page. Deciding goes through review.services (the API does; the admin's review
queue will). Superusers tie reporters to the institutions they report for."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from config.admin_paginator import GrowingTableAdmin

from .models import Proposal, ReporterInstitution

BREAK = mark_safe("<br>")  # noqa: S308 (a constant)


@admin.register(Proposal)
class ProposalAdmin(GrowingTableAdmin, admin.ModelAdmin):
    """Every proposed status update and where its review stands. Read-only. A table that
    grows with history: counted by estimate, searched by indexed prefixes only."""

    list_display = (
        "id",
        "measure_code",
        "state",
        "status",
        "progress",
        "effective_date",
        "proposed_by",
        "proposed_at",
        "approved_by",
    )
    list_filter = ("state", "status", "measure__pillar")
    list_select_related = ("measure", "proposed_by", "approved_by")
    search_fields = ("^measure__code", "^proposed_by__username")
    date_hierarchy = "proposed_at"
    fields = (
        "measure",
        "state",
        "status",
        "progress",
        "confidence",
        "effective_date",
        "note",
        "evidence_list",
        "revision",
        "proposed_by",
        "proposed_at",
        "approved_by",
        "approved_at",
        "status_update",
        "revision_list",
        "decision_list",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # What a proposal's page names, in its own query.
        return (
            super()
            .get_queryset(request)
            .select_related("measure", "proposed_by", "approved_by", "status_update__measure")
        )

    @admin.display(description=_("measure"), ordering="measure__code")
    def measure_code(self, obj):
        return obj.measure.code

    @admin.display(description=_("evidence"))
    def evidence_list(self, obj):
        ids = [str(link.evidence_id) for link in obj.evidence_links.all()]
        return ", ".join(ids) or "–"

    @admin.display(description=_("revisions"))
    def revision_list(self, obj):
        rows = [
            (
                revision.number,
                revision.at.date().isoformat(),
                revision.by,
                revision.get_status_display(),
                revision.progress,
                revision.effective_date.isoformat(),
                revision.note,
            )
            for revision in obj.revisions.select_related("by").order_by("number")
        ]
        return format_html_join(BREAK, "r{} · {} · {} · {} {}% · {} · {}", rows) or "–"

    @admin.display(description=_("decisions"))
    def decision_list(self, obj):
        rows = [
            (
                decision.at.date().isoformat(),
                decision.by,
                decision.get_state_display(),
                decision.revision,
                decision.text,
            )
            for decision in obj.decisions.select_related("by").order_by("at", "id")
        ]
        return format_html_join(BREAK, "{} · {} · {} (r{}) · {}", rows) or "–"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReporterInstitution)
class ReporterInstitutionAdmin(admin.ModelAdmin):
    """Which institutions a user reports for: a user tied to some proposes status updates
    only for the measures they are responsible for. Superusers only (it is access)."""

    list_display = ("user", "institution")
    list_filter = ("institution",)
    list_select_related = ("user", "institution")
    search_fields = ("user__username", "institution__key", "institution__name_zh")
