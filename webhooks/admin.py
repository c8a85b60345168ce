"""Webhooks in the admin: subscriptions (each manager's own; a superuser's all), made, changed,
paused, resumed and given a new secret through the services, the secret shown once on the
page that answers the form; deliveries read-only with their attempts, and redelivered.
Superusers see the outbox's depth and its oldest undelivered event above the subscriptions."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from config.admin_paginator import GrowingTableAdmin
from events.choices import EventType
from recommendations.admin import add_service_errors
from recommendations.choices import Language
from recommendations.services import StaleVersion

from . import selectors, services
from .choices import DeliveryState
from .models import Delivery, DeliveryAttempt, Subscription

# Attempts a delivery's page lists, newest first (the API lists them all).
ATTEMPTS_SHOWN = 50
# What a subscription's form changes (the service's CHANGEABLE).
EDITABLE = ["url", "description", "events", "pillar", "measure", "active", "language"]


class SubscriptionForm(forms.ModelForm):
    # Text: the service says what is wrong with a URL (and allows loopback ones in tests).
    url = forms.CharField(label=_("URL"), max_length=2000)
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every type, those added later too."),
    )

    class Meta:
        model = Subscription
        fields = EDITABLE
        help_texts = {
            "url": _(
                "Where deliveries are POSTed (http or https). Hosts that resolve to private, "
                "loopback or link-local addresses are refused."
            ),
            "active": _("Untick to pause: nothing is delivered until it is ticked again."),
        }

    def clean(self):
        data = super().clean()
        if "url" in data:
            try:
                services.check_subscription(
                    url=data["url"],
                    events=data.get("events") or [],
                    pillar=data.get("pillar"),
                    measure=data.get("measure"),
                )
            except ValidationError as error:
                add_service_errors(self, error)
        return data


class RotateSecretForm(forms.Form):
    """The confirmation of a new secret: the subscription's version when the page showed it."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ManagersOnly:
    """What the admin lets a user do here: manage webhooks (a superuser, or a holder of the
    permission), and only its own subscriptions unless a superuser."""

    def has_module_permission(self, request):
        return selectors.may_manage(request.user)

    def has_view_permission(self, request, obj=None):
        return selectors.may_manage(request.user)


@admin.register(Subscription)
class SubscriptionAdmin(ManagersOnly, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = (
        "__str__",
        "url",
        "owner",
        "event_list",
        "active",
        "paused_at",
        "pending_deliveries",
    )
    list_filter = ("active",)
    list_select_related = ("owner",)
    search_fields = ("url", "description")
    autocomplete_fields = ("measure",)
    actions = ("pause", "resume")
    readonly_fields = (
        "owner",
        "paused_reason",
        "paused_at",
        "version",
        "created_at",
        "updated_at",
        "deliveries_link",
    )

    def get_queryset(self, request):
        # A count per listed row, on the pending deliveries' index.
        pending = (
            Delivery.objects.filter(subscription=OuterRef("pk"), state=DeliveryState.PENDING)
            .order_by()
            .values("subscription")
            .annotate(total=Count("pk"))
            .values("total")
        )
        queryset = (
            super().get_queryset(request).annotate(pending_count=Coalesce(Subquery(pending), 0))
        )
        return selectors.visible_subscriptions(request.user, queryset)

    def has_add_permission(self, request):
        return selectors.may_manage(request.user)

    def has_change_permission(self, request, obj=None):
        return selectors.may_manage(request.user)

    def has_delete_permission(self, request, obj=None):
        return selectors.may_manage(request.user)

    def get_urls(self):
        rotate = path(
            "<path:object_id>/rotate-secret/",
            self.admin_site.admin_view(self.rotate_secret_view),
            name="webhooks_subscription_rotate_secret",
        )
        return [rotate, *super().get_urls()]

    def get_changeform_initial_data(self, request):
        """A new subscription's e-mail goes in the language the admin is used in."""
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("language", Language.of(getattr(request, "LANGUAGE_CODE", None)))
        return initial

    def get_fields(self, request, obj=None):
        return EDITABLE if obj is None else [*EDITABLE, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    @admin.display(description=_("events"))
    def event_list(self, obj):
        if not obj.events:
            return _("all")
        labels = dict(EventType.choices)
        return ", ".join(str(labels.get(name, name)) for name in obj.events)

    @admin.display(description=_("pending deliveries"), ordering="pending_count")
    def pending_deliveries(self, obj):
        return obj.pending_count

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj):
        url = reverse("admin:webhooks_delivery_changelist")
        return format_html(
            '<a href="{}?subscription__id__exact={}">{}</a>', url, obj.pk, _("All its deliveries")
        )

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in EDITABLE}
        if change:
            services.update_subscription(subscription=obj, changes=fields)
            obj.refresh_from_db()
            return
        created = services.create_subscription(owner=request.user, **fields)
        # The admin goes on with `obj` (its log entry, the answer): make it the saved row.
        obj.__dict__.update(
            {f.attname: getattr(created, f.attname) for f in Subscription._meta.fields}
        )
        obj._state.adding = False
        request.new_webhook_secret = created.secret

    def delete_model(self, request, obj):
        services.delete_subscription(subscription=obj)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            services.delete_subscription(subscription=subscription)

    def response_add(self, request, obj, post_url_continue=None):
        return self.secret_page(
            request, obj, request.new_webhook_secret, _("Webhook subscription created")
        )

    def secret_page(self, request, subscription, secret, title, **extra):
        """The secret, this once, on a page no cache keeps: never in a message, which the
        session or a cookie would store."""
        response = TemplateResponse(
            request,
            "admin/webhooks/subscription/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "subscription": subscription,
                "secret": secret,
                "title": title,
                **extra,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def rotate_secret_view(self, request, object_id):
        """Give the subscription a new secret: GET asks to confirm (and writes nothing), POST
        does it through services.rotate_secret with the version the confirmation showed, and
        answers with the new secret, shown once, and until when the old one signs too. A stale
        version changes nothing and says so. Whoever may not change the subscription gets a
        403; another manager's subscription is a 404."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404
        visible = selectors.visible_subscriptions(request.user, Subscription.objects.all())
        subscription = get_object_or_404(visible, pk=object_id)
        if not self.has_change_permission(request, subscription):
            raise PermissionDenied
        here = reverse("admin:webhooks_subscription_rotate_secret", args=[subscription.pk])
        form = RotateSecretForm(
            request.POST if request.method == "POST" else None,
            initial={"version": subscription.version},
        )
        if request.method == "POST" and form.is_valid():
            try:
                rotated = services.rotate_secret(
                    subscription=subscription, expected_version=form.cleaned_data["version"]
                )
            except StaleVersion as stale:
                messages.error(
                    request,
                    gettext("Nothing was changed: %(reason)s")
                    % {"reason": " ".join(stale.messages)},
                )
                return HttpResponseRedirect(here)
            self.log_change(request, rotated, [{"changed": {"fields": ["secret"]}}])
            return self.secret_page(
                request,
                rotated,
                rotated.secret,
                _("Webhook secret rotated"),
                previous_until=rotated.previous_secret_until,
            )
        return TemplateResponse(
            request,
            "admin/webhooks/subscription/rotate_secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "subscription": subscription,
                "original": subscription,
                "form": form,
                "hours": settings.WEBHOOK_SECRET_OVERLAP_HOURS,
                "title": _("Give the subscription a new secret?"),
            },
            status=400 if request.method == "POST" else 200,
        )

    def changelist_view(self, request, extra_context=None):
        extra = {"outbox": selectors.outbox()} if request.user.is_superuser else {}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    @admin.action(description=_("Pause the selected subscriptions"), permissions=["change"])
    def pause(self, request, queryset):
        paused = [
            s
            for s in queryset
            if s.active
            and services.pause_subscription(
                subscription=s, reason=str(_("Paused in the admin.")), now=timezone.now()
            )
        ]
        self.message_user(
            request,
            ngettext(
                "Paused %(count)d subscription.", "Paused %(count)d subscriptions.", len(paused)
            )
            % {"count": len(paused)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Resume the selected subscriptions"), permissions=["change"])
    def resume(self, request, queryset):
        resumed = [s for s in queryset if not s.active]
        for subscription in resumed:
            services.resume_subscription(subscription=subscription)
        self.message_user(
            request,
            ngettext(
                "Resumed %(count)d subscription.",
                "Resumed %(count)d subscriptions.",
                len(resumed),
            )
            % {"count": len(resumed)},
            messages.SUCCESS,
        )


class SubscriptionFilter(admin.RelatedFieldListFilter):
    """The subscriptions the user manages (a superuser's: all)."""

    def field_choices(self, field, request, model_admin):
        visible = selectors.visible_subscriptions(request.user, Subscription.objects.order_by("id"))
        return [(s.pk, str(s)) for s in visible]


@admin.register(Delivery)
class DeliveryAdmin(ManagersOnly, GrowingTableAdmin, admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event_type",
        "subscription",
        "state",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("state", ("subscription", SubscriptionFilter))
    ordering = ("-id",)
    actions = ("redeliver",)
    fields = (
        "webhook_id",
        "event_type",
        "subscription",
        "measure",
        "state",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "attempt_list",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .select_related("event", "subscription", "measure")
            .defer("event__payload")
        )
        if request.user.is_superuser:
            return queryset
        return queryset.filter(subscription__owner=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request):
        return selectors.may_manage(request.user)

    @admin.display(description=_("webhook-id"), ordering="event_id")
    def webhook_id(self, obj):
        return obj.event.message_id

    @admin.display(description=_("event"))
    def event_type(self, obj):
        return obj.event.get_type_display()

    @admin.display(description=_("attempts, newest first"))
    def attempt_list(self, obj):
        attempts = DeliveryAttempt.objects.filter(delivery=obj).order_by("-id")[:ATTEMPTS_SHOWN]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    timezone.localtime(a.attempted_at).strftime("%Y-%m-%d %H:%M:%S"),
                    a.status_code if a.status_code is not None else "—",
                    a.error or "—",
                    a.duration_ms,
                    a.response_body[:200],
                )
                for a in attempts
            ),
        )
        if not rows:
            return _("None yet.")
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("attempted at"),
            _("status code"),
            _("error"),
            _("duration (ms)"),
            _("response (first bytes)"),
        )
        return format_html("<table>{}{}</table>", head, rows)

    @admin.action(description=_("Deliver the selected events again"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        chosen = []
        for delivery in queryset:
            try:
                services.redeliver(delivery=delivery)
            except Delivery.DoesNotExist:  # pruned since the list was read
                continue
            chosen.append(delivery)
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery will be attempted again.",
                "%(count)d deliveries will be attempted again.",
                len(chosen),
            )
            % {"count": len(chosen)},
            messages.SUCCESS,
        )
