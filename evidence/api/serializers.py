"""Shapes of the evidence API. Nested figures and links are written in one service call."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from config.api import RefuseUnknownFields
from recommendations.models import InnovationMechanism, Institution, Measure, Risk, Scenario

from .. import services
from ..choices import Attribution, DatePrecision, Qualifier, Reliability, SourceKind, Stance
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
    # The service refuses more (EVIDENCE_MAX_FIGURES); the bound here spares validating each
    # figure of a list that long first.
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

    def to_internal_value(self, data):
        # The service's cap on figures, checked before each figure is validated: a list of
        # thousands is refused at once.
        if isinstance(data, dict) and isinstance(data.get("figures"), list):
            services.check_figure_count(len(data["figures"]))
        return super().to_internal_value(data)

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


# Revisions: what a piece of evidence said at one version, read from its stored snapshot.


class SourceSnapshotSerializer(serializers.Serializer):
    """The source as it read when the revision was written."""

    id = serializers.IntegerField()
    version = serializers.IntegerField()
    key = serializers.SlugField(allow_null=True)
    kind = serializers.ChoiceField(choices=SourceKind.choices)
    authors = serializers.CharField(allow_blank=True)
    title = serializers.CharField()
    venue = serializers.CharField(allow_blank=True)
    year = serializers.IntegerField(allow_null=True)
    published_on = serializers.DateField(allow_null=True)
    url = serializers.CharField(allow_blank=True)
    citation = serializers.CharField(allow_blank=True)
    reliability = serializers.ChoiceField(choices=Reliability.choices)


class FigureSnapshotSerializer(serializers.Serializer):
    value = serializers.DecimalField(max_digits=30, decimal_places=10)
    unit = serializers.CharField(allow_blank=True)
    qualifier = serializers.ChoiceField(choices=Qualifier.choices)
    measures_zh = serializers.CharField()
    measures_en = serializers.CharField()


def link_snapshot_serializer(name: str, field: str, help_text: str):
    return type(
        name,
        (serializers.Serializer,),
        {
            field: serializers.CharField(help_text=help_text),
            "stance": serializers.ChoiceField(choices=Stance.choices),
        },
    )


class EvidenceRevisionSerializer(serializers.Serializer):
    """One revision of a piece of evidence: its fields, source, figures, institutions and
    links as they were at `version`. Revisions are never changed."""

    evidence = serializers.IntegerField(source="evidence_id")
    version = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(
        source="created_by.username",
        allow_null=True,
        help_text="Empty for revisions written by the seed, a command or the migration.",
    )
    source = SourceSnapshotSerializer(source="content.source")
    key = serializers.SlugField(source="content.key", allow_null=True)
    attribution = serializers.ChoiceField(source="content.attribution", choices=Attribution.choices)
    claim_zh = serializers.CharField(source="content.claim_zh")
    claim_en = serializers.CharField(source="content.claim_en")
    quote = serializers.CharField(source="content.quote", allow_blank=True)
    location = serializers.CharField(source="content.location", allow_blank=True)
    date = serializers.DateField(source="content.date", allow_null=True)
    date_precision = serializers.ChoiceField(
        source="content.date_precision", choices=DatePrecision.choices, allow_blank=True
    )
    note_zh = serializers.CharField(source="content.note_zh", allow_blank=True)
    note_en = serializers.CharField(source="content.note_en", allow_blank=True)
    figures = FigureSnapshotSerializer(source="content.figures", many=True)
    institutions = serializers.ListField(
        source="content.institutions", child=serializers.CharField(help_text="Institution key.")
    )
    measures = link_snapshot_serializer("MeasureLinkSnapshot", "measure", "Measure code.")(
        source="content.measures", many=True
    )
    risks = link_snapshot_serializer("RiskLinkSnapshot", "risk", "Risk key.")(
        source="content.risks", many=True
    )
    scenarios = link_snapshot_serializer("ScenarioLinkSnapshot", "scenario", "Scenario key.")(
        source="content.scenarios", many=True
    )
    innovation_mechanisms = link_snapshot_serializer(
        "MechanismLinkSnapshot", "mechanism", "Innovation mechanism key."
    )(source="content.innovation_mechanisms", many=True)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, revision) -> str:
        return reverse(
            "evidence-revision",
            args=[revision.evidence_id, revision.version],
            request=self.context.get("request"),
        )
