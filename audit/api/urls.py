from .views import ChangeViewSet

# (path, viewset, basename) under /api/v1/.
routes = [("changes", ChangeViewSet, "change")]
