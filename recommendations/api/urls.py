from .reports import ReportSnapshotViewSet
from .views import (
    InnovationMechanismViewSet,
    InstitutionViewSet,
    MeasureViewSet,
    PillarViewSet,
    RiskViewSet,
    ScenarioViewSet,
    StatusUpdateViewSet,
)

# (path, viewset, basename) under /api/v1/.
routes = [
    ("pillars", PillarViewSet, "pillar"),
    ("measures", MeasureViewSet, "measure"),
    ("status-updates", StatusUpdateViewSet, "status-update"),
    ("risks", RiskViewSet, "risk"),
    ("scenarios", ScenarioViewSet, "scenario"),
    ("innovation-mechanisms", InnovationMechanismViewSet, "innovation-mechanism"),
    ("institutions", InstitutionViewSet, "institution"),
    ("reports", ReportSnapshotViewSet, "report"),
]
