"""The admin site every app registers with: changelists filter only by what their admin
declares, and a query string with a null character is refused. A viewer can no longer run
`?report_json__regex=…` for half a minute or give a 500 with `?target_date__year=-1`. Every
admin also reads in the active language where Django writes English (config/admin_language.py)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.filters import SimpleListFilter

from config.admin_language import TranslatedAdmin, install

# Lookups a field's list filter uses (Django's Field, Choices, Boolean, Date, Related,
# AllValues and Empty list filters).
FILTER_SUFFIXES = ("", "__exact", "__isnull", "__gte", "__lt", "__isempty", "__id__exact")


def declared_lookups(model_admin: admin.ModelAdmin, request) -> set[str]:
    """The query parameters the admin's own filters, date hierarchy and links use."""
    allowed = set(getattr(model_admin, "extra_lookups", ()))
    for item in model_admin.get_list_filter(request):
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            allowed.add(item.parameter_name)
            continue
        path = item[0] if isinstance(item, (tuple, list)) else item
        allowed |= {path + suffix for suffix in FILTER_SUFFIXES}
        if path.endswith("__pk") or path.endswith("__id"):
            continue
        allowed.add(f"{path}__pk__exact")
    if model_admin.date_hierarchy:
        allowed |= {f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")}
    return allowed


class DeclaredLookupsOnly:
    """Refuse (400) a changelist filter the admin does not declare: Django otherwise takes any
    lookup on any local field, regex included."""

    def lookup_allowed(self, lookup, value, request=None):
        if lookup not in declared_lookups(self, request):
            return False
        return super().lookup_allowed(lookup, value, request)


class TrackerAdminSite(admin.AdminSite):
    # The home page shows where everything stands above the list of tables (dashboard app).
    index_template = "dashboard/index.html"

    def index(self, request, extra_context=None):
        from dashboard.views import home_context

        return super().index(request, {**home_context(request), **(extra_context or {})})

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, DeclaredLookupsOnly):
            admin_class = type(
                admin_class.__name__, (DeclaredLookupsOnly, TranslatedAdmin, admin_class), {}
            )
        super().register(model_or_iterable, admin_class, **options)


class TrackerAdminConfig(AdminConfig):
    default_site = "config.admin_site.TrackerAdminSite"

    def ready(self):
        super().ready()
        # The task queue's rows are the task framework's own bookkeeping (a growing table in
        # another app's words): what they did is shown where it matters, as webhook deliveries.
        from django_tasks_db.models import DBTaskResult

        if self.default_site and admin.site.is_registered(DBTaskResult):
            admin.site.unregister(DBTaskResult)
        install()  # yes/no icons in the active language (config/admin_language.py)
