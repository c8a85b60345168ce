from .views import EvidenceViewSet, SourceViewSet

# (path, viewset, basename) under /api/v1/.
routes = [
    ("evidence", EvidenceViewSet, "evidence"),
    ("sources", SourceViewSet, "source"),
]
