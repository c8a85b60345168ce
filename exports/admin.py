"""Export buttons on the changelists of measures, status updates and evidence: each exports
what the list's current filters, search and date drill-down show, every page of it, as CSV or
XLSX in the admin's language.

The recommendations and evidence apps know nothing of exports: this module extends the admins
they registered (a subclass with ExportMixin, registered in their place), so the dependency
runs one way. The buttons are the object-tools templates under templates/admin/.
"""

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from evidence.models import Evidence
from recommendations.models import Measure, StatusUpdate
from recommendations.text import prefers_chinese

from . import services
from .tables import EVIDENCE, MEASURES, STATUS_UPDATES, Table
from .writers import FORMATS, export_response


class ExportMixin:
    """A ModelAdmin that exports its changelist: `<changelist>/export/<csv|xlsx>/?<filters>`."""

    export_table: Table

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/<str:fmt>/", export, name=name), *super().get_urls()]

    def export_view(self, request, fmt):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if fmt not in FORMATS:
            raise Http404
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        query = request.GET.urlencode()
        back = HttpResponseRedirect(f"{changelist}?{query}" if query else changelist)
        try:
            # The list as its page would show it: filters, search and date drill-down, all
            # pages (the queryset, not the page of results).
            shown = self.get_changelist_instance(request).queryset
        except IncorrectLookupParameters:
            return HttpResponseRedirect(f"{changelist}?e=1")
        ids = shown.order_by().values("pk")
        try:
            services.check_export_size(rows=self.export_table.rows(ids))
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return back
        lang = "zh" if prefers_chinese() else "en"
        return export_response(self.export_table, ids, fmt, lang, timezone.localdate())


def add_exports(model, table: Table) -> None:
    """Register `model`'s admin again, as itself with ExportMixin."""
    current = admin.site.get_model_admin(model)
    registered = type(current)
    admin.site.unregister(model)
    extended = type(registered.__name__, (ExportMixin, registered), {"export_table": table})
    admin.site.register(model, extended)
    # What another app set on the registered instance (the audit app's History template, say)
    # carries over to the new one.
    replacement = admin.site.get_model_admin(model)
    for name, value in vars(current).items():
        vars(replacement).setdefault(name, value)


add_exports(Measure, MEASURES)
add_exports(StatusUpdate, STATUS_UPDATES)
add_exports(Evidence, EVIDENCE)
