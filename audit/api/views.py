"""The audit trail over the API: read-only, cursor-paginated in recording order."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.permissions import BasePermission

from config.api import CursorPagination
from config.conditional import ConditionalReads
from config.openapi import ERROR_RESPONSES, with_errors

from ..models import Change
from ..selectors import visible_changes
from .filters import ChangeFilter
from .serializers import ChangeSerializer


class CanReadTrail(BasePermission):
    """A signed-in user whose role may read the trail (viewer, analyst, superuser: the
    permission audit.view_change). Never anonymous, whatever API_ANONYMOUS_READ says: the
    trail names who did what."""

    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated and request.user.has_perm("audit.view_change")


@extend_schema_view(
    list=extend_schema(
        summary="Feed of changes, in recording order",
        responses={
            **with_errors(ChangeSerializer, (400, 401, 429, 503)),
            403: ERROR_RESPONSES[403],
        },
    ),
)
class ChangeViewSet(ConditionalReads, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every change to measures and their links, evidence with its figures and links, and
    sources (and, for superusers, to users, groups and API tokens): who made it, when, through
    what (admin, API or command), and each field before and after. Entries are never changed
    or deleted. Status updates are not repeated here: they are their own history, linked from
    a measure's entries by `status_updates`. Page with the `next` cursor; keep `resume` to get
    later entries."""

    serializer_class = ChangeSerializer
    filterset_class = ChangeFilter
    conditional_actions = ("list",)
    freshness_models = (Change,)
    pagination_class = CursorPagination
    permission_classes = [CanReadTrail]
    write_permissions: dict = {}

    def get_queryset(self):
        return visible_changes(self.request.user).order_by("id")
