from .views import ImportViewSet

# (path, viewset, basename) under /api/v1/.
routes = [("imports", ImportViewSet, "import")]
