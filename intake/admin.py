"""Spreadsheet imports in the admin: upload a file (its "add" page), see the dry run's result
row by row (its page), and confirm it; download the template. Analysts and superusers see
every import; a reporter imports (its rows are proposed for review) and sees its own."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from config.admin_paginator import GrowingTableAdmin
from recommendations.choices import Confidence, Status
from recommendations.text import prefers_chinese

from . import blanks, selectors, services
from .models import Import, ImportRow
from .readers import FileRefused, too_large

# Rows an import's page shows (errors first); the API and the command give them all.
ROWS_SHOWN = 200
XLSX = blanks.MEDIA_TYPES["xlsx"]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=capfirst(_("spreadsheet")),
        help_text=_("A CSV (UTF-8 or GBK) or XLSX file, under the template's headings."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv," + XLSX}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ValidationError(too_large(upload.size).messages)
        return upload


@admin.register(Import)
class ImportAdmin(GrowingTableAdmin, admin.ModelAdmin):
    list_display = (
        "filename",
        "uploaded_at",
        "uploaded_by",
        # No format column (the file's name says it, and the filter picks it): the list fits
        # a laptop's width with the proposing imports' column.
        "route",
        "rows",
        "to_record",
        "to_propose",
        "already",
        "errors",
        "state",
    )
    list_filter = ("state", "route", "format", "channel")
    list_select_related = ("uploaded_by",)
    date_hierarchy = None
    ordering = ("-uploaded_at", "-id")

    def get_queryset(self, request):
        return selectors.visible_imports(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        # Every import (analysts), or a reporter's own (it may import: add_import).
        if obj is not None and not selectors.sees_every_import(request.user):
            return obj.uploaded_by_id == request.user.pk
        return selectors.sees_imports(request.user)

    def has_add_permission(self, request):
        return request.user.has_perm("intake.add_import")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def may_confirm(self, request, imported: Import) -> bool:
        """Whether to offer the button: an import of proposals is confirmed by whoever
        uploaded it (intake.services.check_confirmer), any other by an analyst."""
        if imported.confirmed or not request.user.has_perm("intake.confirm_import"):
            return False
        return not imported.proposes or imported.uploaded_by_id == request.user.pk

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="intake_import_confirm"),
            path(
                "template/<str:lang>/<str:fmt>/",
                wrap(self.template_view),
                name="intake_import_template",
            ),
            *super().get_urls(),
        ]

    def context(self, request, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "templates": [
                (lang, fmt, reverse("admin:intake_import_template", args=[lang, fmt]))
                for lang in blanks.LANGUAGES
                for fmt in blanks.FORMATS
            ],
            "max_rows": f"{settings.IMPORT_MAX_ROWS:,}",
            "max_megabytes": f"{settings.IMPORT_MAX_BYTES / 1024 / 1024:g}",
            **extra,
        }

    def add_view(self, request, form_url="", extra_context=None):
        """Upload a file: it is checked in a dry run and its result shown; nothing is
        recorded until it is confirmed there."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        proposes = services.route(request.user) == services.PROPOSE
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                imported = services.check_file(
                    data=upload.read(),
                    filename=upload.name or "",
                    by=request.user,
                    channel=Import.Channel.ADMIN,
                )
            except FileRefused as refused:
                form.add_error("file", refused.messages)
            else:
                return HttpResponseRedirect(
                    reverse("admin:intake_import_change", args=[imported.pk])
                )
        return TemplateResponse(
            request,
            "admin/intake/import/upload.html",
            self.context(
                request,
                form=form,
                proposes=proposes,
                title=_("Import a spreadsheet of status updates"),
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The import: its file, its rows' outcomes (errors first, each on its row and
        column), and the button that records it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404
        imported = get_object_or_404(selectors.visible_imports(request.user), pk=object_id)
        only_errors = request.GET.get("errors") == "1"
        rows = selectors.rows_shown(imported, only_errors=only_errors, limit=ROWS_SHOWN)
        language = "zh-hans" if prefers_chinese() else "en"
        shown = [
            {
                "row": row,
                # What the row says as read (a value that could not be read is blank), and
                # statuses and confidences by their labels.
                "measure": row.values.get("measure") or "",
                "status": label(Status, row.values.get("status")),
                "progress": row.values.get("progress"),
                "effective_date": row.values.get("effective_date") or "",
                "confidence": label(Confidence, row.values.get("confidence")),
                "note": row.values.get("note") or "",
                "evidence": "; ".join(row.values.get("evidence") or []),
                "problems": [
                    {
                        "column": problem.get("column", ""),
                        "heading": problem.get("heading", ""),
                        "messages": selectors.messages_in_language(problem, language),
                    }
                    for problem in row.problems
                ],
            }
            for row in rows
        ]
        total = imported.errors if only_errors else imported.rows
        return TemplateResponse(
            request,
            "admin/intake/import/result.html",
            self.context(
                request,
                imported=imported,
                original=imported,
                rows=shown,
                shown=len(shown),
                total=total,
                only_errors=only_errors,
                may_confirm=self.may_confirm(request, imported),
                sees_proposals=request.user.has_perm("review.view_proposal"),
                title=str(imported),
                api_url=reverse("import-detail", args=[imported.pk]),
                Outcome=ImportRow.Outcome,
                progress_label=_("progress (%)"),
            ),
        )

    def confirm_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("intake.confirm_import"):
            raise PermissionDenied
        imported = get_object_or_404(
            selectors.visible_imports(request.user, Import.objects.all()), pk=pk
        )
        page = reverse("admin:intake_import_change", args=[pk])
        version = request.POST.get("version", "")
        try:
            confirmed = services.confirm(
                imported,
                by=request.user,
                expected_version=int(version) if version.isdigit() else None,
            )
        except (ValidationError, PermissionDenied) as error:
            nothing = (
                _("Nothing was proposed.") if imported.proposes else _("Nothing was recorded.")
            )
            self.message_user(
                request, nothing + " " + " ".join(refusal_messages(error)), messages.ERROR
            )
        else:
            self.message_user(request, confirmed_message(confirmed), messages.SUCCESS)
        return HttpResponseRedirect(page)

    def template_view(self, request, lang, fmt):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if lang not in blanks.LANGUAGES or fmt not in blanks.FORMATS:
            raise Http404
        response = HttpResponse(blanks.template(fmt, lang), content_type=blanks.MEDIA_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{blanks.filename(fmt, lang)}"'
        response["Content-Security-Policy"] = "sandbox"
        return response


def confirmed_message(confirmed: Import) -> str:
    if confirmed.proposes:
        return _(
            "Proposed %(proposed)s status updates for review; %(already_proposed)s rows were "
            "already proposed, %(already)s already recorded, %(errors)s rows with errors were "
            "left out."
        ) % {
            "proposed": confirmed.to_propose,
            "already_proposed": confirmed.already_proposed,
            "already": confirmed.already,
            "errors": confirmed.errors,
        }
    return _(
        "Recorded %(recorded)s status updates; %(already)s rows were already recorded, "
        "%(errors)s rows with errors were left out."
    ) % {"recorded": confirmed.to_record, "already": confirmed.already, "errors": confirmed.errors}


def refusal_messages(error: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(error, PermissionDenied):
        return [str(error)]
    if hasattr(error, "error_dict"):
        return [f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items()]
    return error.messages


def label(choices, value) -> str:
    """A status's or confidence's label, "" for none or for what is no choice."""
    return str(choices(value).label) if value in choices.values else ""
