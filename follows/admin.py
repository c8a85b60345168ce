"""Follows, digest settings and the digests sent, in the admin. Every user with a role sees
and manages their own; superusers see everyone's. Writes go through follows.services."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from config.admin_paginator import GrowingTableAdmin
from config.admin_widgets import SafeAutocomplete

from . import services
from .models import TARGETS, DigestSent, DigestSettings, Follow


def has_role(request) -> bool:
    """A viewer, reporter or analyst (each reads measures), or a superuser. Read from the
    permissions the admin has loaded for the page anyway: no query of its own."""
    user = request.user
    return user.is_active and (user.is_superuser or user.has_perm("recommendations.view_measure"))


class OwnRowsAdmin(admin.ModelAdmin):
    """Rows that belong to a user: any user with a role opens the pages (the groups hold no
    permission of this app: following is everyone's), and sees their own rows only;
    superusers see every row."""

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("user")
        return rows if request.user.is_superuser else rows.filter(user=request.user)

    def has_module_permission(self, request):
        return has_role(request)

    def has_view_permission(self, request, obj=None):
        return has_role(request) and self.owns(request, obj)

    def owns(self, request, obj) -> bool:
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk


class FollowForm(forms.ModelForm):
    class Meta:
        model = Follow
        fields = TARGETS

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        services.check_follow(user=self.user, **{name: data.get(name) for name in TARGETS})
        return data


@admin.register(Follow)
class FollowAdmin(GrowingTableAdmin, SafeAutocomplete, OwnRowsAdmin):
    """What each user follows. A follow is added or removed, never changed: add one to
    follow a measure (?measure=<id> in the add page's address picks it), a pillar or a
    risk."""

    form = FollowForm
    list_display = ("target_name", "kind_name", "user", "created_at")
    list_filter = ("pillar", "risk")
    autocomplete_fields = ("measure",)
    fields = TARGETS

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if request.user.is_superuser else [f for f in shown if f != "user"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("measure", "pillar", "risk")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        return Form

    @admin.display(description=_("follows"))
    def target_name(self, obj):
        return str(obj.target)

    @admin.display(description=_("kind"))
    def kind_name(self, obj):
        return Follow._meta.get_field(obj.kind).verbose_name

    def has_add_permission(self, request):
        return has_role(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return has_role(request) and self.owns(request, obj)

    def save_model(self, request, obj, form, change):
        made = services.follow(
            user=request.user,
            language=getattr(request, "LANGUAGE_CODE", None),
            **{name: form.cleaned_data.get(name) for name in TARGETS},
        )
        obj.pk, obj.user, obj.created_at = made.pk, made.user, made.created_at

    def delete_model(self, request, obj):
        services.unfollow(follow=obj)

    def delete_queryset(self, request, queryset):
        for follow in queryset:
            services.unfollow(follow=follow)


class DigestSettingsForm(forms.ModelForm):
    class Meta:
        model = DigestSettings
        fields = services.SETTINGS_FIELDS


@admin.register(DigestSettings)
class DigestSettingsAdmin(GrowingTableAdmin, OwnRowsAdmin):
    """How often, in which language and to which address each user's digest goes. A user
    adds theirs once (following something makes it with the defaults)."""

    form = DigestSettingsForm
    list_display = ("user", "frequency", "language", "weekday", "address")
    list_filter = ("frequency", "language")
    fields = services.SETTINGS_FIELDS

    @admin.display(description=_("e-mail address"))
    def address(self, obj):
        return obj.address or "–"

    def has_add_permission(self, request):
        return has_role(request)

    def get_changeform_initial_data(self, request):
        # One set per user: adding them again starts from the ones saved, and saving changes
        # them (services.update_digest_settings makes or changes them).
        existing = DigestSettings.objects.filter(user=request.user).first()
        if existing is None:
            return super().get_changeform_initial_data(request)
        return {name: getattr(existing, name) for name in services.SETTINGS_FIELDS}

    def has_change_permission(self, request, obj=None):
        return has_role(request) and self.owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # frequency "off" stops the digests

    def save_model(self, request, obj, form, change):
        saved = services.update_digest_settings(
            user=obj.user if change else request.user,
            changes={name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS},
            language=getattr(request, "LANGUAGE_CODE", None),
        )
        obj.pk, obj.user, obj.version = saved.pk, saved.user, saved.version


@admin.register(DigestSent)
class DigestSentAdmin(GrowingTableAdmin, OwnRowsAdmin):
    """Each digest claimed: sent, found empty, failed (tried again by later runs), or left
    `sending` by a worker that stopped (never sent twice: a superuser deletes the row to let
    the next run send that period again). Written by the sending service only."""

    list_display = (
        "user",
        "frequency",
        "period_start",
        "period_end",
        "state",
        "changes",
        "attempts",
        "claimed_at",
        "sent_at",
    )
    list_filter = ("state", "frequency")
    fields = (
        "user",
        "frequency",
        "period_start",
        "period_end",
        "state",
        "attempts",
        "claimed_at",
        "sent_at",
        "email",
        "language",
        "changes",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
