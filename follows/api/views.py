"""API v1 of the follows app: your follows, and your digest settings. Everyone with a role
manages their own (never anyone else's), whatever else their role allows; reads come from
selectors, writes go through follows.services."""

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from config.api import COMMON_PARAMS, TrackerPermission, check_query_params, etag, if_match_version
from config.openapi import (
    ENUM_COMPONENT,
    ERROR_RESPONSES,
    ERRORS_READ,
    ERRORS_WRITE,
    IDEMPOTENCY_KEY,
    with_errors,
)
from recommendations.api.idempotency import run_idempotent

from .. import selectors, services
from ..models import TARGETS, DigestSettings, Follow
from .filters import FollowFilter
from .serializers import (
    DigestSettingsInputSerializer,
    DigestSettingsSerializer,
    FollowInputSerializer,
    FollowSerializer,
)


class OwnPermission(TrackerPermission):
    """A role, as every endpoint; never anonymous, whatever API_ANONYMOUS_READ says (these
    are the user's own). Writing needs nothing more: each user manages their own."""

    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated and super().has_permission(request, view)


def any_role(request) -> bool:
    return True  # the role is checked already (TrackerPermission)


def language_of(request) -> str | None:
    """The language the request is in (Accept-Language): a new user's digest language."""
    return getattr(request, "LANGUAGE_CODE", None)


@extend_schema_view(
    list=extend_schema(
        summary="List what you follow",
        parameters=[
            OpenApiParameter(
                "kind",
                str,
                enum=TARGETS,
                description="Only follows of measures, of pillars, or of risks.",
                # Not a source's kind (config.openapi.FILTER_ENUMS).
                extensions={ENUM_COMPONENT: "FollowKindEnum"},
            )
        ],
        responses=with_errors(FollowSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get one of your follows", responses=with_errors(FollowSerializer, ERRORS_READ)
    ),
    create=extend_schema(
        summary="Follow a measure, a pillar or a risk",
        request=FollowInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses=with_errors(FollowSerializer, ERRORS_WRITE, created=True),
    ),
    destroy=extend_schema(
        summary="Stop following",
        responses={
            204: OpenApiResponse(description="No longer followed."),
            **{code: ERROR_RESPONSES[code] for code in (400, 401, 403, 404, 429, 503)},
        },
    ),
)
class FollowViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """What you follow, newest first: measures, pillars (every measure of the pillar) and
    risks (every measure addressing the risk). Your digest lists what changed in them.
    Following something the first time makes your digest settings (weekly, on Mondays, in the
    request's language): see digest-settings/."""

    serializer_class = FollowSerializer
    filterset_class = FollowFilter
    permission_classes = [OwnPermission]
    write_permissions = {"create": any_role, "destroy": any_role}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generation: no user
            return Follow.objects.none()
        return selectors.follows_of(self.request.user)

    def create(self, request, *args, **kwargs):
        def handler():
            data = FollowInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            follow = services.follow(
                user=request.user, language=language_of(request), **data.validated_data
            )
            body = FollowSerializer(
                self.get_queryset().get(pk=follow.pk), context=self.get_serializer_context()
            ).data
            # A plain str: DRF's Hyperlink is a str subclass that WSGI servers refuse.
            return Response(
                body, status=status.HTTP_201_CREATED, headers={"Location": str(body["url"])}
            )

        return run_idempotent(request, handler)

    def destroy(self, request, *args, **kwargs):
        services.unfollow(follow=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='Your settings\' ETag as you last saw it, such as "2". If they changed since '
    "(in the admin, or another client), the change is refused with 412 and nothing is written.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="The settings' version, for If-Match.",
)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get your digest settings",
        parameters=[ETAG_HEADER],
        responses=with_errors(DigestSettingsSerializer, ERRORS_READ),
    ),
    partial_update=extend_schema(
        summary="Change your digest settings",
        request=DigestSettingsInputSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(DigestSettingsSerializer, ERRORS_WRITE),
    ),
)
class DigestSettingsViewSet(viewsets.GenericViewSet):
    """Your digest settings, one set per user: how often it goes (off, daily or weekly), in
    which language (zh or en), on which day (weekly), to which address. Until you first
    follow something or change them, the defaults are shown (version 0)."""

    serializer_class = DigestSettingsSerializer
    permission_classes = [OwnPermission]
    write_permissions = {"partial_update": any_role}
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generation: no user
            return DigestSettings.objects.none()
        return DigestSettings.objects.select_related("user").filter(user=self.request.user)

    def answer(self, row: DigestSettings) -> Response:
        body = DigestSettingsSerializer(row, context=self.get_serializer_context()).data
        return Response(body, headers={"ETag": etag(row.version)})

    def retrieve(self, request, *args, **kwargs):
        check_query_params(request, COMMON_PARAMS)
        row = self.get_queryset().first() or services.unsaved_digest_settings(
            user=request.user, language=language_of(request)
        )
        return self.answer(row)

    def partial_update(self, request, *args, **kwargs):
        check_query_params(request, COMMON_PARAMS)
        data = DigestSettingsInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = services.update_digest_settings(
            user=request.user,
            changes=dict(data.validated_data),
            expected_version=if_match_version(request),
            language=language_of(request),
        )
        return self.answer(row)
