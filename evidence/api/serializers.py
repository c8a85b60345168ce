"""Shapes of the evidence API. Nested figures and links are written in one service call."""

from rest_framework import serializers

from config.api import RefuseUnknownFields
from recommendations.models import InnovationMechanism, Institution, Measure, Risk, Scenario

from ..choices import DatePrecision
from ..models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)

VERSION_HELP = (
    "The record's version, its ETag. On a write, the version you last saw: a stale one is "
    "refused (400). The If-Match header does the same with 412."
)


class SourceSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    evidence_count = serializers.IntegerField(read_only=True)
    # Written, it is the version the client expects, not a new value (the views take it out).
    version = serializers.IntegerField(required=False, help_text=VERSION_HELP)

    class Meta:
        model = Source
        fields = (
            "id",
            "key",
            "kind",
            "authors",
            "title",
            "venue",
            "year",
            "published_on",
            "url",
            "citation",
            "reliability",
            "note_zh",
            "note_en",
            "evidence_count",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "evidence_count", "created_at", "updated_at")


class SourceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ("id", "key", "kind", "title", "reliability")


class FigureSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvidenceFigure
        fields = ("value", "unit", "qualifier", "measures_zh", "measures_en")


def link_serializer(model, field: str, slug: str, queryset):
    """A serializer of one link kind, naming the linked record by its code or key."""
    return type(
        f"{model.__name__}Serializer",
        (serializers.ModelSerializer,),
        {
            field: serializers.SlugRelatedField(slug_field=slug, queryset=queryset),
            "Meta": type("Meta", (), {"model": model, "fields": (field, "stance")}),
        },
    )


MeasureLinkSerializer = link_serializer(EvidenceMeasure, "measure", "code", Measure.objects.all())
RiskLinkSerializer = link_serializer(EvidenceRisk, "risk", "key", Risk.objects.all())
ScenarioLinkSerializer = link_serializer(
    EvidenceScenario, "scenario", "key", Scenario.objects.all()
)
MechanismLinkSerializer = link_serializer(
    EvidenceInnovationMechanism, "mechanism", "key", InnovationMechanism.objects.all()
)

# Link list name on the API -> (serializer, prefetched reverse accessor).
LINKS = {
    "measures": (MeasureLinkSerializer, "evidencemeasure_set"),
    "risks": (RiskLinkSerializer, "evidencerisk_set"),
    "scenarios": (ScenarioLinkSerializer, "evidencescenario_set"),
    "innovation_mechanisms": (MechanismLinkSerializer, "evidenceinnovationmechanism_set"),
}

EVIDENCE_FIELDS = (
    "key",
    "attribution",
    "claim_zh",
    "claim_en",
    "quote",
    "location",
    "date",
    "date_precision",
    "note_zh",
    "note_en",
)


class EvidenceSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="evidence-detail")
    date_precision = serializers.ChoiceField(
        choices=DatePrecision.choices, allow_blank=True, read_only=True
    )
    source = SourceBriefSerializer(read_only=True)
    figures = FigureSerializer(many=True, read_only=True)
    institutions = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    measures = MeasureLinkSerializer(source="evidencemeasure_set", many=True, read_only=True)
    risks = RiskLinkSerializer(source="evidencerisk_set", many=True, read_only=True)
    scenarios = ScenarioLinkSerializer(source="evidencescenario_set", many=True, read_only=True)
    innovation_mechanisms = MechanismLinkSerializer(
        source="evidenceinnovationmechanism_set", many=True, read_only=True
    )

    class Meta:
        model = Evidence
        fields = (
            "id",
            "url",
            "source",
            *EVIDENCE_FIELDS,
            "figures",
            "institutions",
            "measures",
            "risks",
            "scenarios",
            "innovation_mechanisms",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class EvidenceInputSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    """A piece of evidence to create or change. Lists given replace the old ones."""

    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all())
    figures = FigureSerializer(many=True, required=False)
    institutions = serializers.SlugRelatedField(
        slug_field="key", many=True, required=False, queryset=Institution.objects.all()
    )
    measures = MeasureLinkSerializer(many=True, required=False)
    risks = RiskLinkSerializer(many=True, required=False)
    scenarios = ScenarioLinkSerializer(many=True, required=False)
    innovation_mechanisms = MechanismLinkSerializer(many=True, required=False)
    version = serializers.IntegerField(required=False, write_only=True, help_text=VERSION_HELP)

    class Meta:
        model = Evidence
        fields = ("source", *EVIDENCE_FIELDS, "figures", "institutions", *LINKS, "version")
        extra_kwargs = {"key": {"validators": []}}  # uniqueness: the model's, via the service

    def split(self) -> dict:
        """The service's arguments: fields, figures, links and institutions (the expected
        `version` is the view's to weigh against If-Match)."""
        data = dict(self.validated_data)
        data.pop("version", None)
        return {
            "figures": data.pop("figures", None),
            "institutions": data.pop("institutions", None),
            "links": {name: data.pop(name) for name in LINKS if name in data},
            "fields": data,
        }
