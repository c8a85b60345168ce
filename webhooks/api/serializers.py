"""Shapes of the webhooks API. Output fields read only what the selectors loaded; the input
checks shape and type, and leaves every rule (where a URL may point, which event types exist,
one filter at most) to the services."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import RefuseUnknownFields
from events.choices import EventType
from recommendations.models import Measure, Pillar

from ..choices import DeliveryState
from ..models import Delivery, DeliveryAttempt, Subscription
from ..targets import URL_MAX_LENGTH


@extend_schema_field(OpenApiTypes.INT)
class PillarNumberField(serializers.SlugRelatedField):
    """A pillar by its number, as the API's filters name it."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="number", queryset=Pillar.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class SubscriptionSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    """A webhook subscription: where its events are POSTed, which ones, and whether it is
    active (or paused, and why). Its secret is never shown again after the 201 that made it
    (or the rotation that replaced it)."""

    url = serializers.CharField(
        max_length=URL_MAX_LENGTH,
        help_text="Where deliveries are POSTed: http:// or https://, on a public address (a "
        "host that resolves to a private, loopback or link-local one is refused).",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        required=False,
        max_length=len(EventType.values),
        help_text="Event types to deliver; empty (the default): all, those added later too.",
    )
    pillar = PillarNumberField(
        allow_null=True,
        required=False,
        help_text="Only events about measures of this pillar (its number).",
    )
    measure = serializers.PrimaryKeyRelatedField(
        queryset=Measure.objects.all(),
        allow_null=True,
        required=False,
        help_text="Only events about this measure (its id).",
    )
    measure_code = serializers.CharField(source="measure.code", read_only=True, allow_null=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    version = serializers.IntegerField(
        required=False,
        help_text="The subscription's version: on a write, the one you last saw; a stale one "
        "is refused (400). The If-Match header does the same with 412.",
    )

    class Meta:
        model = Subscription
        fields = (
            "id",
            "url",
            "description",
            "events",
            "pillar",
            "measure",
            "measure_code",
            "active",
            "language",
            "paused_reason",
            "paused_at",
            "owner",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "paused_reason", "paused_at", "created_at", "updated_at")
        extra_kwargs = {
            "active": {
                "help_text": "Off: paused (nothing is delivered; deliveries wait). On again: "
                "resumed, and waiting deliveries go out in order."
            },
            "language": {
                "help_text": "The language of the e-mail that tells the owner the subscription "
                "was paused. By default, on creation, the request's (Accept-Language)."
            },
        }


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    """A subscription just made, or given a new secret: the only answer that shows it."""

    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_` + base64), shown this once: keep it where "
        "the receiver verifies signatures.",
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = (*SubscriptionSerializer.Meta.fields, "secret")


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One POST of the delivery: the status code (null when no HTTP answer came, `error` says
    why), its duration, and the first kilobyte of the answer."""

    class Meta:
        model = DeliveryAttempt
        fields = ("attempted_at", "status_code", "error", "duration_ms", "response_body")
        read_only_fields = fields


class DeliveredEventSerializer(serializers.Serializer):
    id = serializers.CharField(
        source="message_id", help_text="The webhook-id header: the same on every attempt."
    )
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField(source="occurred_at")


class DeliverySerializer(serializers.ModelSerializer):
    """An event's delivery to the subscription: its state, when it is next attempted (while
    pending), and every attempt, newest first."""

    event = DeliveredEventSerializer(read_only=True)
    state = serializers.ChoiceField(choices=DeliveryState.choices, read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "event",
            "measure",
            "state",
            "attempt_count",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "attempts",
        )
        read_only_fields = fields


class EmptyInputSerializer(RefuseUnknownFields, serializers.Serializer):
    """Nothing to say (a body, if any, is an empty object)."""
