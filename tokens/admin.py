"""API tokens in the admin (superusers only: no role has their permissions). Creating one
shows its key once, on the page that answers the form; lists and pages never show a key."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from recommendations.admin import add_service_errors

from . import services
from .models import ApiToken


class ApiTokenAddForm(forms.ModelForm):
    days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=services.MAX_DAYS)

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.API_TOKEN_DAYS

    def clean(self):
        data = super().clean()
        if {"user", "name", "days"} <= data.keys():
            try:
                services.check_token_allowed(
                    user=data["user"], name=data["name"].strip(), days=data["days"]
                )
            except ValidationError as error:
                add_service_errors(self, error)
        return data


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("live")), ("expired", _("expired")), ("revoked", _("revoked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        live = Q(revoked_at__isnull=True)
        return {
            "live": queryset.filter(live, expires_at__gt=now),
            "expired": queryset.filter(live, expires_at__lte=now),
            "revoked": queryset.filter(revoked_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("user",)
    list_filter = (StateFilter,)
    search_fields = ("name", "prefix", "user__username")
    date_hierarchy = "created_at"
    autocomplete_fields = ("user",)
    actions = ("revoke",)
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["user", "name", "days"] if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row says who had which token when

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, key = services.create_token(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
            now=timezone.now(),
        )
        # The admin goes on with `obj` (its log entry, the answer): make it the saved row.
        obj.__dict__.update({f.attname: getattr(token, f.attname) for f in ApiToken._meta.fields})
        obj._state.adding = False
        request.new_api_key = key

    def response_add(self, request, obj, post_url_continue=None):
        """The key, this once, on a page no cache keeps: never in a message, which the
        session or a cookie would store."""
        response = TemplateResponse(
            request,
            "admin/tokens/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "token": obj,
                "key": request.new_api_key,
                "title": _("API token created"),
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        now = timezone.now()
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            services.revoke_token(token=token, now=now)
        self.message_user(
            request,
            ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", len(tokens))
            % {"count": len(tokens)},
            messages.SUCCESS,
        )
