"""The audit trail in the admin: a site-wide, read-only "recent changes" list, filterable by
user, model, channel and date, and each tracked record's trail on its History page."""

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from config.admin_filters import value_filter
from config.admin_paginator import GrowingTableAdmin

from .api.serializers import field_changes
from .models import Change
from .registry import TRACKED, labels
from .selectors import trail, visible_changes


class ModelFilter(admin.SimpleListFilter):
    title = _("model")
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = [item.model_class() for item in TRACKED]
        hidden = set() if request.user.is_superuser else {i.label for i in TRACKED if i.private}
        return [
            (model._meta.label_lower, model._meta.verbose_name)
            for model in models
            if model._meta.label_lower not in hidden
        ]

    def queryset(self, request, queryset):
        if self.value() not in labels():
            return queryset
        object_id = request.GET.get(ObjectFilter.parameter_name, "")
        if object_id.isdigit() and len(object_id) <= 18:
            return queryset  # ObjectFilter takes both
        return trail(queryset, self.value(), None)


class ObjectFilter(admin.SimpleListFilter):
    """One record's trail (with `model`: also what belongs to it), as linked from its
    History page."""

    title = _("record")
    parameter_name = "object_id"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value or not value.isdigit() or len(value) > 18:
            return queryset
        label = request.GET.get(ModelFilter.parameter_name)
        return trail(queryset, label if label in labels() else None, int(value))


# auditlog's admin module registers a page of its own for the log model: this one replaces it.
if admin.site.is_registered(Change):
    admin.site.unregister(Change)


@admin.register(Change)
class ChangeAdmin(GrowingTableAdmin, admin.ModelAdmin):
    list_display = (
        "timestamp",
        "user",
        "channel",
        "action",
        "content_type",
        "record",
        "summary",
    )
    # Every change adds a row: the list is counted by estimate, a user is typed rather than
    # chosen from every username the trail holds, and a search reads the rows it pages
    # through (newest first, by the primary key).
    list_filter = (
        ModelFilter,
        ObjectFilter,
        "channel",
        "action",
        value_filter("actor_username", Change._meta.get_field("actor_username").verbose_name),
        "timestamp",
    )
    date_hierarchy = "timestamp"
    search_fields = ("object_repr",)
    list_per_page = 50
    fields = (
        "timestamp",
        "user",
        "channel",
        "via",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "belongs_to",
        "changes_table",
        "remote_addr",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return visible_changes(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("user"), ordering="actor_username")
    def user(self, change):
        return change.actor_username or "–"

    @admin.display(description=_("record"))
    def record(self, change):
        url = (
            reverse("admin:audit_change_changelist")
            + "?"
            + urlencode({"model": change.model_label, "object_id": change.object_id})
        )
        return format_html('<a href="{}">{}</a>', url, change.object_repr[:80])

    @admin.display(description=_("belongs to"))
    def belongs_to(self, change):
        if not change.parent_model:
            return "–"
        url = (
            reverse("admin:audit_change_changelist")
            + "?"
            + urlencode({"model": change.parent_model, "object_id": change.parent_id})
        )
        return format_html(
            '<a href="{}">{} #{}</a>', url, model_name(change.parent_model), change.parent_id
        )

    @admin.display(description=_("fields changed"))
    def summary(self, change):
        names = [
            field_name(change.model_label, item["field"]) for item in field_changes(change.changes)
        ]
        return ", ".join(names)[:120]

    @admin.display(description=_("before and after"))
    def changes_table(self, change):
        return changes_html(change)


def changes_html(change: Change):
    rows = []
    for item in field_changes(change.changes):
        label = field_name(change.model_label, item["field"])
        if "added" in item or "removed" in item:
            sign = "+" if "added" in item else "−"
            values = item.get("added", item.get("removed"))
            rows.append((label, "", f"{sign} " + "; ".join(values)))
        else:
            rows.append((label, shown(item["before"]), shown(item["after"])))
    if not rows:
        return "–"
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("field"),
        _("before"),
        _("after"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
    )


def model_name(label: str) -> str:
    """A model's name in the reader's language ("evidence.evidence" -> 证据)."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


def field_name(label: str, field: str) -> str:
    """A field's name in the reader's language; the stored name if the model lost it."""
    try:
        return str(apps.get_model(label)._meta.get_field(field).verbose_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return field


def shown(value) -> str:
    return "–" if value is None else str(value)


def trail_url(model, object_id) -> str:
    """The recent-changes list narrowed to one record's trail."""
    return (
        reverse("admin:audit_change_changelist")
        + "?"
        + urlencode({"model": model._meta.label_lower, "object_id": object_id})
    )


# Each tracked record's History page (Django's own log of admin actions) links to its audit
# trail, which holds every change whatever made it, and lists the latest entries.
for item in TRACKED:
    model_admin = admin.site._registry.get(item.model_class())
    if model_admin is not None:
        model_admin.object_history_template = "audit/object_history.html"
