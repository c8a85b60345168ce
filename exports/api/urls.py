from django.urls import path

from .views import EvidenceExportView, MeasureExportView, StatusUpdateExportView

# Under /api/v1/, beside the lists they export (before the router's routes).
urlpatterns = [
    path("measures/export/", MeasureExportView.as_view(), name="measure-export"),
    path("status-updates/export/", StatusUpdateExportView.as_view(), name="status-update-export"),
    path("evidence/export/", EvidenceExportView.as_view(), name="evidence-export"),
]
