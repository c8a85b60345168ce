from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import routers

from audit.api.urls import routes as audit_routes
from config.api import api_not_found
from evidence.api.urls import routes as evidence_routes
from follows.api.urls import routes as follow_routes
from intake.api.urls import routes as intake_routes
from recommendations.api.urls import routes as recommendation_routes
from review.api.urls import routes as review_routes
from webhooks.api.urls import routes as webhook_routes


class Router(routers.DefaultRouter):
    """Ids in URLs are whole numbers that fit a bigint: anything else is a 404, not a 500."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        kwarg = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        value = getattr(viewset, "lookup_value_regex", "[0-9]{1,18}")
        return f"(?P<{lookup_prefix}{kwarg}>{value})"


handler400 = "config.api.bad_request"
handler403 = "config.api.permission_denied"
handler404 = "config.api.page_not_found"
handler500 = "config.api.server_error"

admin.site.site_header = _("Policy recommendation tracker")
admin.site.site_title = _("Policy recommendation tracker")
# The site is the admin: no "View site" link back to where one already is.
admin.site.site_url = None
# The changelists and forms get the width the app list in a side bar would take.
admin.site.enable_nav_sidebar = False

router = Router()
for prefix, viewset, basename in (
    *recommendation_routes,
    *evidence_routes,
    *audit_routes,
    *review_routes,
    *intake_routes,
    *follow_routes,
    *webhook_routes,
):
    router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    # The language switch in the admin's header posts here (a cookie; the browser's
    # Accept-Language is the default).
    path("i18n/", include("django.conf.urls.i18n")),
    # Lists as files (the exports app), beside the lists they export.
    path("api/v1/", include("exports.api.urls")),
    path("api/v1/", include(router.urls)),
    # One's own digest settings: a single record, not a collection.
    path("api/v1/", include("follows.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its start-up script is a file of its own, so the page runs under a CSP with no inline
    # script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/auth/", include("rest_framework.urls")),
    # Anything else under /api/ ending in "/" (without one, APPEND_SLASH redirects here).
    re_path(r"^api/(?:.*/)?$", api_not_found),
]
