from .views import SubscriptionViewSet

# (path, viewset, basename) under /api/v1/.
routes = [("webhooks", SubscriptionViewSet, "webhook")]
