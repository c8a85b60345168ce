"""The app's URLs plus the benchmark's: /bench/limit/... and /bench/naive/..."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from config.urls import handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

from . import limit, naive

router = SimpleRouter()
router.register("measures", naive.MeasureViewSet, basename="naive-measure")
router.register("status-updates", naive.StatusUpdateViewSet, basename="naive-status-update")

urlpatterns = [
    *app_urlpatterns,
    path("bench/limit/measures/", limit.measures),
    path("bench/limit/measures/<int:pk>/status-updates/", limit.record),
    path("bench/limit/status-updates/", limit.status_updates),
    path("bench/limit/report-sql/", limit.report_sql),
    path("bench/limit/token/", limit.token_only),
    path("bench/naive/", include(router.urls)),
]
