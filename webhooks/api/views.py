"""API v1 of the webhooks app: subscriptions, their deliveries and redelivery. Superusers
manage every subscription; holders of the `webhooks.manage_subscription` permission (with a
role, as for any request) manage their own. Reads come from selectors; writes go through
webhooks.services."""

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import COMMON_PARAMS, TrackerPermission, check_query_params, etag, if_match_version
from config.conditional import ConditionalReads
from config.openapi import (
    ENUM_COMPONENT,
    ERROR_RESPONSES,
    ERRORS_READ,
    ERRORS_WRITE,
    IDEMPOTENCY_KEY,
    with_errors,
)
from recommendations.api.idempotency import run_idempotent
from recommendations.choices import Language
from recommendations.models import Measure, Pillar

from .. import selectors, services
from ..choices import DeliveryState
from ..models import MANAGE_PERMISSION, Delivery, Subscription
from . import serializers as s
from .filters import SubscriptionFilter

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The subscription\'s ETag as you last saw it, such as "2". If it changed '
    "since (by its owner, or paused by the worker), the write is refused with 412 and "
    "nothing is written.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The subscription's version, for If-Match on the next write.",
)
DELIVERY_PATH = OpenApiParameter(
    "delivery", int, OpenApiParameter.PATH, description="The delivery's id."
)
STATE_FILTER = OpenApiParameter(
    "state",
    str,
    OpenApiParameter.QUERY,
    enum=DeliveryState.values,
    description="Only deliveries in this state.",
    extensions={ENUM_COMPONENT: "DeliveryStateEnum"},
)
SECRET_SHOWN = (
    "The answer is the only one that shows the secret: keep it where the receiver verifies "
    "signatures. A retry with the same Idempotency-Key replays it (the key remembers the "
    "answer for IDEMPOTENCY_KEY_TTL_HOURS)."
)


class SubscriptionPermission(TrackerPermission):
    """As every endpoint (a role, and never anonymous here), and, for any method, a superuser
    or a holder of webhooks.manage_subscription: subscriptions name receivers and carry
    every change to them."""

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated or not super().has_permission(request, view):
            return False
        if getattr(view, "action", None) is None:
            return True  # no handler for this method: the view answers 405
        if not selectors.may_manage(request.user):
            raise exceptions.PermissionDenied(
                _("Managing webhooks needs the permission “Can manage webhook subscriptions”.")
            )
        return True


def expected_version(request, data: dict) -> int | None:
    """The version a write expects: If-Match's, else the body's `version`."""
    version = if_match_version(request)
    body_version = data.pop("version", None)
    return version if version is not None else body_version


@extend_schema_view(
    list=extend_schema(
        summary="List webhook subscriptions",
        responses=with_errors(s.SubscriptionSerializer, ERRORS_READ),
    ),
    retrieve=extend_schema(
        summary="Get a webhook subscription",
        parameters=[ETAG_HEADER],
        responses=with_errors(s.SubscriptionSerializer, ERRORS_READ),
    ),
    create=extend_schema(
        summary="Subscribe a receiver to events",
        description="Deliveries of the events it takes start with the next change. " + SECRET_SHOWN,
        request=s.SubscriptionSerializer,
        parameters=[IDEMPOTENCY_KEY, ETAG_HEADER],
        responses=with_errors(s.SubscriptionWithSecretSerializer, ERRORS_WRITE, created=True),
    ),
    partial_update=extend_schema(
        summary="Change, pause or resume a webhook subscription",
        request=s.SubscriptionSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        responses=with_errors(s.SubscriptionSerializer, ERRORS_WRITE),
    ),
    destroy=extend_schema(
        summary="Delete a webhook subscription",
        description="With its deliveries and their attempts. Pausing it (`active`: false) "
        "keeps them.",
        parameters=[IF_MATCH],
        responses={204: None, **{code: ERROR_RESPONSES[code] for code in ERRORS_WRITE}},
    ),
)
class SubscriptionViewSet(
    ConditionalReads,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook subscriptions: each event a subscription takes is POSTed to its URL, signed
    per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least
    once, in order per measure, retried with exponential backoff for up to three days; then
    the subscription is paused and its owner told by e-mail. Superusers see every
    subscription; holders of the permission to manage webhooks see their own."""

    serializer_class = s.SubscriptionSerializer
    filterset_class = SubscriptionFilter
    permission_classes = [SubscriptionPermission]
    freshness_models = (Subscription, get_user_model(), Pillar, Measure)
    write_permissions = {
        "create": MANAGE_PERMISSION,
        "partial_update": MANAGE_PERMISSION,
        "destroy": MANAGE_PERMISSION,
        "redeliver": MANAGE_PERMISSION,
        "rotate_secret": MANAGE_PERMISSION,
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generator
            return selectors.subscriptions().none()
        return selectors.visible_subscriptions(self.request.user)

    def visible(self, pk) -> Subscription:
        """The subscription, if the user manages it (a 404 otherwise)."""
        return get_object_or_404(
            selectors.visible_subscriptions(self.request.user, Subscription.objects.all()), pk=pk
        )

    def answer(self, subscription, serializer=s.SubscriptionSerializer, **kwargs) -> Response:
        fresh = selectors.subscriptions().get(pk=subscription.pk)
        if serializer is s.SubscriptionWithSecretSerializer:
            fresh.secret = subscription.secret
        body = serializer(fresh, context=self.get_serializer_context()).data
        return Response(
            body, headers={"ETag": etag(fresh.version), **kwargs.pop("headers", {})}, **kwargs
        )

    def retrieve(self, request, *args, **kwargs):
        subscription = self.get_object()
        return Response(
            self.get_serializer(subscription).data, headers={"ETag": etag(subscription.version)}
        )

    def create(self, request, *args, **kwargs):
        def handler():
            data = s.SubscriptionSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = dict(data.validated_data)
            fields.pop("version", None)
            fields.setdefault("language", Language.of(getattr(request, "LANGUAGE_CODE", None)))
            subscription = services.create_subscription(owner=request.user, **fields)
            location = request.build_absolute_uri(reverse("webhook-detail", args=[subscription.pk]))
            return self.answer(
                subscription,
                s.SubscriptionWithSecretSerializer,
                status=status.HTTP_201_CREATED,
                headers={"Location": str(location)},
            )

        return run_idempotent(request, handler)

    def partial_update(self, request, pk=None):
        """Change any of its fields (the others are kept). `active`: false pauses it; true
        resumes it, and the deliveries that waited go out in order. With If-Match, a stale
        version is a 412."""
        subscription = self.visible(pk)
        data = s.SubscriptionSerializer(subscription, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        version = expected_version(request, changes)
        updated = services.update_subscription(
            subscription=subscription, changes=changes, expected_version=version
        )
        return self.answer(updated)

    def destroy(self, request, pk=None):
        subscription = self.visible(pk)
        services.delete_subscription(
            subscription=subscription, expected_version=if_match_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A webhook subscription's deliveries, newest event first",
        parameters=[STATE_FILTER],
        responses=with_errors(s.DeliverySerializer(many=True), ERRORS_READ),
    )
    @action(detail=True, filter_backends=[])
    def deliveries(self, request, pk=None):
        """Each event delivered (or to be) to the subscription, with every attempt: status
        code, duration and the first kilobyte of the answer."""
        check_query_params(request, {*COMMON_PARAMS, "page", "page_size", "state"})
        subscription = self.visible(pk)
        queryset = selectors.deliveries(subscription)
        state = request.query_params.get("state")
        if state is not None:
            if state not in DeliveryState.values:
                raise exceptions.ValidationError(
                    {
                        "state": [
                            _("One of: %(states)s.") % {"states": ", ".join(DeliveryState.values)}
                        ]
                    }
                )
            queryset = queryset.filter(state=state)
        page = self.paginate_queryset(queryset)
        data = s.DeliverySerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(data.data)

    @extend_schema(
        summary="Deliver an event again",
        description="Whatever its state: a new schedule of retries starts now, with the same "
        "webhook-id. It goes once the subscription is active, after any earlier pending "
        "delivery of the same measure.",
        parameters=[DELIVERY_PATH, IDEMPOTENCY_KEY],
        request=s.EmptyInputSerializer,
        responses=with_errors(s.DeliverySerializer, ERRORS_WRITE),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery>[0-9]{1,18})/redeliver",
        url_name="redeliver",
        filter_backends=[],
        pagination_class=None,
    )
    def redeliver(self, request, pk=None, delivery=None):
        subscription = self.visible(pk)
        chosen = get_object_or_404(subscription.deliveries.all(), pk=delivery)

        def handler():
            s.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
            try:
                services.redeliver(delivery=chosen)
            except Delivery.DoesNotExist:  # pruned since it was read
                raise Http404 from None
            fresh = selectors.deliveries(subscription).get(pk=chosen.pk)
            return Response(s.DeliverySerializer(fresh, context=self.get_serializer_context()).data)

        return run_idempotent(request, handler)

    @extend_schema(
        summary="Give a webhook subscription a new secret",
        description="Deliveries are signed with the new secret and, for "
        "WEBHOOK_SECRET_OVERLAP_HOURS (24 by default), the old one too: `webhook-signature` "
        "then holds both signatures, and a receiver may switch over in that time. " + SECRET_SHOWN,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, ETAG_HEADER],
        request=s.EmptyInputSerializer,
        responses=with_errors(s.SubscriptionWithSecretSerializer, ERRORS_WRITE),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="rotate-secret",
        url_name="rotate-secret",
        filter_backends=[],
        pagination_class=None,
    )
    def rotate_secret(self, request, pk=None):
        subscription = self.visible(pk)

        def handler():
            s.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
            rotated = services.rotate_secret(
                subscription=subscription, expected_version=if_match_version(request)
            )
            return self.answer(rotated, s.SubscriptionWithSecretSerializer)

        return run_idempotent(request, handler)
