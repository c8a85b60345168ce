from .views import ProposalViewSet

# (path, viewset, basename) under /api/v1/.
routes = [("proposals", ProposalViewSet, "proposal")]
