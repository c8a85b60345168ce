"""Proposals in the admin: proposed, revised and withdrawn by their proposers, and decided on
by reviewers from a review panel (on the home page's queue and on each proposal's page).
Every write goes through review.services, which holds every rule; the forms call its check_*
functions in clean() and the views show its refusals. Superusers tie reporters to the
institutions they report for.

Who sees what: reviewers, viewers and superusers see every proposal; a proposer
(`review.add_proposal` without `review.view_proposal`: a reporter) sees only their own. A
proposer adds proposals here when their updates go to review, and revises their own while it
is open; everyone else sees proposals read-only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_paginator import GrowingTableAdmin
from config.admin_widgets import SafeAutocomplete, SafeAutocompleteSelectMultiple
from evidence.models import Evidence, StatusUpdateEvidence
from recommendations.admin import CORRECTION_FIELDS, UpdateFieldsForm, add_service_errors
from recommendations.models import Measure
from recommendations.services import lock_measure

from . import panels, selectors, services
from .models import Proposal, ReporterInstitution

BREAK = mark_safe("<br>")  # noqa: S308 (a constant)

# The fields of the update a proposer states, in the form's order.
UPDATE_FIELDS = ("status", "progress", "confidence", "effective_date", "note")


def shown_errors(form: forms.BaseForm, error: Exception) -> None:
    """A service's refusal on the form: PermissionDenied (not for this measure) on top, a
    ValidationError on its fields."""
    if isinstance(error, PermissionDenied):
        form.add_error(None, str(error))
    else:
        add_service_errors(form, error)


class ProposalFieldsForm(UpdateFieldsForm):
    """The update's fields as a proposer states them, and the evidence cited. `user` is set
    by ProposalAdmin.get_form: who proposes."""

    evidence = forms.ModelMultipleChoiceField(
        queryset=Evidence.objects.all(),
        required=False,
        label=capfirst(_("evidence")),
        # The record form's widget: the same lookup of evidence, by key or claim.
        widget=SafeAutocompleteSelectMultiple(
            StatusUpdateEvidence._meta.get_field("evidence"), admin.site
        ),
    )
    user = None


class ProposeForm(ProposalFieldsForm):
    """Proposes a status update for review. clean() makes the service's checks (under the
    measure's lock, which the admin's add view holds until the proposal is written), so a
    proposal that could never be approved is refused here, on its fields."""

    expected_version = forms.IntegerField(
        label=_("version the form was loaded at"), widget=forms.HiddenInput, required=False
    )

    class Meta:
        model = Proposal
        fields = ("measure", *UPDATE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("measure"):
            return cleaned
        try:
            measure = lock_measure(
                cleaned["measure"], expected_version=cleaned.get("expected_version")
            )
            services.check_proposal(
                measure=measure,
                by=self.user,
                evidence=[piece.pk for piece in cleaned.get("evidence") or []],
                today=timezone.localdate(),
                **{name: cleaned.get(name) for name in UPDATE_FIELDS},
            )
        except (PermissionDenied, ValidationError) as error:
            shown_errors(self, error)
        return cleaned


class ReviseForm(ProposalFieldsForm):
    """A new revision of an open proposal, by its proposer: every field as it should now say.
    clean() locks the proposal (until the admin's change view has written the revision) and
    makes the service's checks: its version, its state, the rules of history, and that the
    revision changes something."""

    expected_version = forms.IntegerField(
        label=_("version the form was loaded at"), widget=forms.HiddenInput
    )

    class Meta:
        model = Proposal
        fields = UPDATE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("expected_version", self.instance.version)

    def current_measure(self) -> Measure | None:
        return self.instance.measure

    def changes(self) -> dict:
        """The proposal as revised: every field a revision may change."""
        return {name: self.cleaned_data.get(name) for name in services.REVISABLE}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            locked = services.lock_proposal(
                self.instance.pk, expected_version=cleaned["expected_version"]
            )
            services.check_revision(
                proposal=locked, changes=self.changes(), by=self.user, today=timezone.localdate()
            )
        except (PermissionDenied, ValidationError) as error:
            shown_errors(self, error)
        return cleaned


class DecisionForm(forms.Form):
    """What a review panel's buttons post. The reason or comment is required by the service
    (a blank one is refused there, and shown as a message); the version is the proposal's
    when the panel was shown, so that a decision on a proposal changed since is refused."""

    ACTIONS = ("approve", "reject", "request_changes", "withdraw")

    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS])
    text = forms.CharField(required=False, strip=True)
    expected_version = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False)


def safe_next(request, url: str) -> str:
    """`url` when it leads back into this site, else the admin's home page."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("admin:index")


@admin.register(Proposal)
class ProposalAdmin(GrowingTableAdmin, SafeAutocomplete, admin.ModelAdmin):
    """Every proposed status update and where its review stands. A table that grows with
    history: counted by estimate, searched by indexed prefixes only."""

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
    autocomplete_fields = ("measure",)
    # A proposal as it stands, for whoever may not change it.
    read_only = (
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
    add_fields = ("measure", *UPDATE_FIELDS, "evidence", "expected_version")
    # Its proposer's form while it is open: the update's fields, and what it cannot change.
    revise_fields = (
        "measure",
        "state",
        *UPDATE_FIELDS,
        "evidence",
        "expected_version",
        "revision",
        "proposed_at",
        "revision_list",
        "decision_list",
    )
    revise_read_only = ("measure", "state", "revision", "proposed_at")

    def get_queryset(self, request):
        # What a proposal's page names, in its own query; a proposer's own proposals only.
        rows = (
            super()
            .get_queryset(request)
            .select_related("measure", "proposed_by", "approved_by", "status_update__measure")
        )
        return selectors.visible_proposals(request.user, rows)

    def get_urls(self):
        decide = path(
            "<path:object_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name="review_proposal_decide",
        )
        return [decide, *super().get_urls()]

    # Who may do what (the services check again when it is done)

    def has_view_permission(self, request, obj=None):
        """Viewers, reviewers and superusers see every proposal; a proposer their own."""
        user = request.user
        if selectors.sees_every_proposal(user):
            return True
        may_propose = user.is_active and user.has_perm(services.PROPOSE_PERMISSION)
        return may_propose and (obj is None or obj.proposed_by_id == user.pk)

    def has_add_permission(self, request):
        """Whoever's status updates go to review: a reporter; an analyst under
        REVIEW_ANALYST_UPDATES. Others record directly, or not at all."""
        return services.updates_need_review(request.user)

    def has_change_permission(self, request, obj=None):
        """Its proposer, while it is open: a change is a revision."""
        return obj is not None and services.may_revise(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    # The form

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return self.revise_fields if self.has_change_permission(request, obj) else self.read_only

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if self.has_change_permission(request, obj):
            return (*self.revise_read_only, "revision_list", "decision_list")
        return self.read_only

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ProposeForm
        elif self.has_change_permission(request, obj):
            kwargs["form"] = ReviseForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a class made for this request
        return form

    def get_changeform_initial_data(self, request):
        """The record form's pre-filled values, when it sent the user here (a correction's
        values, the measure), and the measure's version then."""
        initial = {
            name: value
            for name, value in super().get_changeform_initial_data(request).items()
            if name in CORRECTION_FIELDS
        }
        initial.setdefault("effective_date", timezone.localdate())
        measure_pk = request.GET.get("measure", "")
        measure = Measure.objects.filter(pk=measure_pk).first() if measure_pk.isdigit() else None
        if measure:
            initial.update(measure=measure.pk, expected_version=measure.version)
        return initial

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.revise(
                proposal=obj.pk,
                changes=form.changes(),
                by=request.user,
                expected_version=data["expected_version"],
            )
        else:
            saved = services.propose(
                measure=data["measure"],
                evidence=data.get("evidence") or [],
                by=request.user,
                expected_version=data.get("expected_version"),
                **{name: data.get(name) for name in UPDATE_FIELDS},
            )
        # The admin goes on with `obj` (its log entry, the answer): make it the saved row.
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in Proposal._meta.fields})
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the service linked the evidence

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_continue" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request,
            _(
                "Proposed: %(proposal)s. It waits for review; the measure's state does not "
                "change until a reviewer approves it."
            )
            % {"proposal": obj},
            messages.SUCCESS,
        )
        return redirect("admin:review_proposal_change", obj.pk)

    def response_change(self, request, obj):
        self.message_user(
            request,
            _("Revised: proposal %(id)s, revision %(revision)s, waits for review again.")
            % {"id": obj.pk, "revision": obj.revision},
            messages.SUCCESS,
        )
        return redirect("admin:review_proposal_change", obj.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The page shows an open proposal's review panel above its fields; a revision is
        saved once (no "save and add another")."""
        extra = {"show_save_and_add_another": False, "show_save_and_continue": False}
        found = selectors.visible_proposals(
            request.user, Proposal.objects.filter(pk=_pk(object_id))
        )
        proposal = selectors.with_review_panel(found).first()
        if proposal is not None and proposal.state in services.OPEN:
            extra["review_panel"] = panels.panel(
                request.user, proposal, next_url=request.get_full_path(), on_its_page=True
            )
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # Deciding: the review panel's buttons

    def decide_view(self, request, object_id):
        """Approve, reject, request changes on, or withdraw the proposal, as the posted
        `action` says, through the service; then back to `next`. The service's refusal is a
        message naming the reason, nothing written: a stale version, a state that no longer
        allows it, a blank reason, a rule of history that now refuses the update. Who may not
        do it at all gets a 403."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        proposal = self.get_object(request, unquote(object_id))
        if proposal is None:
            raise Http404
        form = DecisionForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(gettext("This decision is not one the page offers."))
        data = form.cleaned_data
        action, version = data["action"], data["expected_version"]
        back = safe_next(request, data["next"])
        try:
            decided = self.decide(request.user, proposal, action, data["text"], version)
        except ValidationError as error:
            messages.error(
                request,
                gettext("Proposal %(id)s: nothing was done. %(reason)s")
                % {"id": proposal.pk, "reason": " ".join(error.messages)},
            )
            return redirect(back)
        messages.success(request, decided_message(decided, action))
        return redirect(back)

    @staticmethod
    def decide(user, proposal: Proposal, action: str, text: str, version: int) -> Proposal:
        """The service call for `action` (PermissionDenied and ValidationError pass through)."""
        common = {"proposal": proposal.pk, "by": user, "expected_version": version}
        if action == "approve":
            return services.approve(**common)
        if action == "reject":
            return services.reject(**common, reason=text)
        if action == "request_changes":
            return services.request_changes(**common, comment=text)
        return services.withdraw(**common)

    # Read-only fields

    @admin.display(description=_("measure"), ordering="measure__code")
    def measure_code(self, obj):
        return obj.measure.code

    @admin.display(description=_("evidence"))
    def evidence_list(self, obj):
        links = obj.evidence_links.select_related("evidence").order_by("evidence_id")
        rows = [
            (reverse("admin:evidence_evidence_change", args=[link.evidence_id]), link.evidence)
            for link in links
        ]
        return format_html_join(BREAK, '<a href="{}">{}</a>', rows) or "–"

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


def _pk(object_id: str) -> int | None:
    value = unquote(object_id)
    return int(value) if value.isdigit() else None


def decided_message(proposal: Proposal, action: str) -> str:
    """What the reviewer (or proposer) is told once the decision is written."""
    values = {"id": proposal.pk, "code": proposal.measure.code}
    if action == "approve":
        measure = proposal.measure  # read now: its state after the approval
        return gettext(
            "Approved proposal %(id)s: measure %(code)s is now %(status)s, %(progress)s, "
            "since %(day)s."
        ) % {
            **values,
            "status": measure.get_status_display(),
            "progress": panels.percent(measure.progress),
            "day": measure.status_effective_date.isoformat(),
        }
    if action == "reject":
        return (
            gettext("Rejected proposal %(id)s for measure %(code)s; its proposer sees your reason.")
            % values
        )
    if action == "request_changes":
        return gettext(
            "Sent proposal %(id)s for measure %(code)s back to %(user)s with your comment."
        ) % {**values, "user": proposal.proposed_by}
    return gettext("Withdrew proposal %(id)s for measure %(code)s; nothing was recorded.") % values


@admin.register(ReporterInstitution)
class ReporterInstitutionAdmin(admin.ModelAdmin):
    """Which institutions a user reports for: a user tied to some proposes status updates
    only for the measures they are responsible for. Superusers only (it is access)."""

    list_display = ("user", "institution")
    list_filter = ("institution",)
    list_select_related = ("user", "institution")
    search_fields = ("user__username", "institution__key", "institution__name_zh")
