"""Shapes of the follows API. Input serializers check shape and type; the services hold every
rule."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import RefuseUnknownFields
from recommendations.api.filters import measure_by_id_or_code
from recommendations.models import Pillar, Risk

from ..choices import Frequency, Language, Weekday
from ..models import TARGETS, DigestSettings, Follow


class FollowSerializer(serializers.ModelSerializer):
    """One thing you follow: a measure (by code), a pillar (by number) or a risk (by key);
    the other two are null."""

    url = serializers.HyperlinkedIdentityField(view_name="follow-detail")
    kind = serializers.ChoiceField(
        choices=[(name, name) for name in TARGETS], read_only=True, help_text="What is followed."
    )
    measure = serializers.CharField(
        source="measure.code", read_only=True, allow_null=True, help_text="The measure's code."
    )
    pillar = serializers.IntegerField(
        source="pillar.number", read_only=True, allow_null=True, help_text="The pillar's number."
    )
    risk = serializers.CharField(
        source="risk.key", read_only=True, allow_null=True, help_text="The risk's key."
    )
    title_zh = serializers.SerializerMethodField()
    title_en = serializers.SerializerMethodField()

    class Meta:
        model = Follow
        fields = (
            "id",
            "url",
            "kind",
            "measure",
            "pillar",
            "risk",
            "title_zh",
            "title_en",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(help_text="The followed record's title."))
    def get_title_zh(self, follow) -> str:
        return follow.target.title_zh

    @extend_schema_field(serializers.CharField(help_text="The followed record's title."))
    def get_title_en(self, follow) -> str:
        return follow.target.title_en


class FollowInputSerializer(RefuseUnknownFields, serializers.Serializer):
    """Exactly one of `measure`, `pillar` or `risk`."""

    measure = serializers.CharField(
        required=False, max_length=32, help_text="A measure's id or code (3.2)."
    )
    pillar = serializers.SlugRelatedField(
        slug_field="number",
        queryset=Pillar.objects.all(),
        required=False,
        help_text="A pillar's number.",
    )
    risk = serializers.SlugRelatedField(
        slug_field="key", queryset=Risk.objects.all(), required=False, help_text="A risk's key."
    )

    def validate_measure(self, value):
        try:
            return measure_by_id_or_code(value)
        except serializers.ValidationError as error:  # keyed by `measure` already
            raise serializers.ValidationError(error.detail["measure"]) from None

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if len(attrs) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Name exactly one of measure, pillar or risk.")]}
            )
        return attrs


class DigestSettingsSerializer(serializers.ModelSerializer):
    """How often your digest goes, in which language, on which day (weekly), and where."""

    frequency = serializers.ChoiceField(choices=Frequency.choices)
    language = serializers.ChoiceField(choices=Language.choices)
    weekday = serializers.ChoiceField(
        choices=Weekday.choices,
        help_text="The day a weekly digest goes out (ISO: 1 is Monday); it covers the seven "
        "days before.",
    )
    email = serializers.EmailField(
        allow_blank=True, max_length=254, help_text="Empty: the account's own address."
    )
    address = serializers.SerializerMethodField()
    version = serializers.IntegerField(
        read_only=True,
        help_text="Goes up with every change; 0 until the settings are first saved. Send it "
        "as If-Match to refuse a change over someone else's (412).",
    )

    class Meta:
        model = DigestSettings
        fields = ("frequency", "language", "weekday", "email", "address", "version", "updated_at")
        read_only_fields = ("address", "version", "updated_at")

    @extend_schema_field(
        serializers.CharField(
            allow_blank=True,
            help_text="Where the digest goes: `email`, else the account's address; empty when "
            "there is neither (then no digest goes).",
        )
    )
    def get_address(self, row) -> str:
        return row.address


class DigestSettingsInputSerializer(RefuseUnknownFields, DigestSettingsSerializer):
    """Any of the settings; the others are kept."""

    class Meta(DigestSettingsSerializer.Meta):
        pass
