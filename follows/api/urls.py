from django.urls import path

from .views import DigestSettingsViewSet, FollowViewSet

# (path, viewset, basename) under /api/v1/.
routes = [("follows", FollowViewSet, "follow")]

# Under /api/v1/: one set of settings per user, at one address.
urlpatterns = [
    path(
        "digest-settings/",
        DigestSettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="digest-settings",
    )
]
