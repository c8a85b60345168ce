"""Shapes of the API. Output serializers read only what the selectors loaded; input serializers
check shape and type, and leave every rule to the services."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import RefuseUnknownFields

from ..choices import Confidence, Priority, Status
from ..models import (
    InnovationMechanism,
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    Risk,
    RiskMechanism,
    Scenario,
    StatusUpdate,
)
from ..models.history import NOTE_MAX_LENGTH


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scenario
        fields = ("id", "key", "order", "title_zh", "title_en", "description_zh", "description_en")


class InnovationMechanismSerializer(serializers.ModelSerializer):
    class Meta:
        model = InnovationMechanism
        fields = ScenarioSerializer.Meta.fields


class InstitutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Institution
        fields = ("id", "key", "name_zh", "name_en", "kind", "country")


# How many measures are at each status (selectors annotate `count_<status>`).
StatusCountsSerializer = type(
    "StatusCountsSerializer",
    (serializers.Serializer,),
    {status: serializers.IntegerField(source=f"count_{status}") for status in Status.values},
)


class PillarSerializer(serializers.ModelSerializer):
    measure_count = serializers.IntegerField(read_only=True)
    status_counts = StatusCountsSerializer(source="*", read_only=True)
    mean_progress = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Mean progress of its assessed, non-archived measures (null if none).",
    )

    class Meta:
        model = Pillar
        fields = (
            "id",
            "number",
            "title_zh",
            "title_en",
            "context_zh",
            "context_en",
            "aim_zh",
            "aim_en",
            "measure_count",
            "status_counts",
            "mean_progress",
        )


class MeasureRiskSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="risk.key")

    class Meta:
        model = MeasureRisk
        fields = ("key", "rationale_zh", "rationale_en")


class MeasureInstitutionSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="institution.key")

    class Meta:
        model = MeasureInstitution
        fields = ("key", "role")


class MeasureSerializer(serializers.ModelSerializer):
    """A measure with its current state, or with the state it had on `as_of` when asked."""

    url = serializers.HyperlinkedIdentityField(view_name="measure-detail")
    pillar = serializers.IntegerField(source="pillar.number", read_only=True)
    status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    status_effective_date = serializers.SerializerMethodField()
    risks = MeasureRiskSerializer(source="risk_links", many=True, read_only=True)
    scenarios = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    institutions = MeasureInstitutionSerializer(
        source="institution_links", many=True, read_only=True
    )
    evidence_count = serializers.IntegerField(read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, allow_blank=True, read_only=True)
    as_of = serializers.SerializerMethodField()

    class Meta:
        model = Measure
        fields = (
            "id",
            "url",
            "code",
            "pillar",
            "title_zh",
            "title_en",
            "description_zh",
            "description_en",
            "status",
            "progress",
            "status_effective_date",
            "version",
            "priority",
            "target_date",
            "review_every_days",
            "archived",
            "risks",
            "scenarios",
            "institutions",
            "evidence_count",
            "updated_at",
            "as_of",
        )
        read_only_fields = fields

    def _then(self, measure, field: str):
        # measures_as_of() annotates the state on a date as `<field>_then`.
        return getattr(measure, f"{field}_then") if self._as_of() else getattr(measure, field)

    def _as_of(self):
        return self.context.get("as_of")

    @extend_schema_field(serializers.ChoiceField(choices=Status.choices))
    def get_status(self, measure) -> str:
        return self._then(measure, "status")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_progress(self, measure) -> int | None:
        return self._then(measure, "progress")

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_status_effective_date(self, measure):
        value = self._then(measure, "status_effective_date")
        return value.isoformat() if value else None

    @extend_schema_field(
        serializers.DateField(allow_null=True, help_text="The as_of date asked for, if any.")
    )
    def get_as_of(self, measure):
        day = self._as_of()
        return day.isoformat() if day else None


class MeasureUpdateInputSerializer(RefuseUnknownFields, serializers.Serializer):
    """The fields of a measure that people edit. `version`, if given, must be current."""

    title_zh = serializers.CharField(max_length=255, required=False)
    title_en = serializers.CharField(max_length=255, required=False)
    description_zh = serializers.CharField(allow_blank=True, required=False)
    description_en = serializers.CharField(allow_blank=True, required=False)
    priority = serializers.ChoiceField(choices=[("", "none"), *Priority.choices], required=False)
    target_date = serializers.DateField(allow_null=True, required=False)
    review_every_days = serializers.IntegerField(required=False)
    archived = serializers.BooleanField(required=False)
    version = serializers.IntegerField(required=False, write_only=True)

    unknown_field_message = _("This field cannot be changed here.")


class CitedEvidenceSerializer(serializers.Serializer):
    """A piece of evidence an update cites, and the revision of it that it cited."""

    evidence = serializers.IntegerField(source="evidence_id")
    version = serializers.IntegerField(
        source="revision.version",
        help_text="The revision cited: GET /api/v1/evidence/{evidence}/revisions/{version}/.",
    )


class StatusUpdateSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="status-update-detail")
    measure_code = serializers.CharField(source="measure.code", read_only=True)
    confidence = serializers.ChoiceField(
        choices=Confidence.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty on a measure's first entry, not assessed.",
    )
    recorded_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Empty for entries written by the seed or a command. For an approved "
        "proposal: its proposer.",
    )
    proposed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="For an approved proposal, when it was proposed (`recorded_at` is when it "
        "was approved); empty for an entry recorded directly.",
    )
    approved_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="For an approved proposal, who approved it (never its proposer); empty for "
        "an entry recorded directly.",
    )
    evidence = serializers.SerializerMethodField()
    cited_evidence = CitedEvidenceSerializer(
        source="evidence_links",
        many=True,
        read_only=True,
        help_text="Each piece of `evidence` with the revision cited, in the same order: what "
        "the update cited, whatever later edits of the evidence changed.",
    )

    class Meta:
        model = StatusUpdate
        fields = (
            "id",
            "url",
            "measure",
            "measure_code",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "recorded_at",
            "recorded_by",
            "proposed_at",
            "approved_by",
            "note",
            "evidence",
            "cited_evidence",
        )
        read_only_fields = fields

    def get_evidence(self, update) -> list[int]:
        return [link.evidence_id for link in update.evidence_links.all()]


class HistoryEntrySerializer(StatusUpdateSerializer):
    """An entry of one measure's history (pages by number, unlike the feed's cursor)."""


class MeasureStateSerializer(serializers.ModelSerializer):
    """The measure's state after a write: its new version is the new ETag."""

    class Meta:
        model = Measure
        fields = ("id", "code", "status", "progress", "status_effective_date", "version")
        read_only_fields = fields


class RecordedStatusUpdateSerializer(StatusUpdateSerializer):
    measure_state = MeasureStateSerializer(source="measure", read_only=True)

    class Meta(StatusUpdateSerializer.Meta):
        fields = (*StatusUpdateSerializer.Meta.fields, "measure_state")
        read_only_fields = fields


class StatusUpdateInputSerializer(RefuseUnknownFields, serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    progress = serializers.IntegerField(allow_null=True, required=False, default=None)
    confidence = serializers.ChoiceField(choices=Confidence.choices, default=Confidence.MEDIUM)
    effective_date = serializers.DateField()
    note = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=NOTE_MAX_LENGTH
    )
    # Ids: the service reads the pieces, with the revisions it cites, in one query (and
    # refuses an id that names no evidence).
    evidence = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
    )
    version = serializers.IntegerField(
        required=False,
        write_only=True,
        help_text="The measure's version you last saw; a stale one is refused (400). The "
        "If-Match header does the same with 412.",
    )


class RiskMechanismSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskMechanism
        fields = ("order", "title_zh", "title_en", "description_zh", "description_en")


class MitigatingMeasureSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="measure.id")
    code = serializers.CharField(source="measure.code")
    title_zh = serializers.CharField(source="measure.title_zh")
    title_en = serializers.CharField(source="measure.title_en")
    status = serializers.ChoiceField(source="measure.status", choices=Status.choices)
    progress = serializers.IntegerField(source="measure.progress", allow_null=True)
    archived = serializers.BooleanField(source="measure.archived")

    class Meta:
        model = MeasureRisk
        fields = (
            "id",
            "code",
            "title_zh",
            "title_en",
            "status",
            "progress",
            "archived",
            "rationale_zh",
            "rationale_en",
        )


class RiskSerializer(serializers.ModelSerializer):
    mechanisms = RiskMechanismSerializer(many=True, read_only=True)
    mitigating_measures = MitigatingMeasureSerializer(
        source="measure_links", many=True, read_only=True
    )

    class Meta:
        model = Risk
        fields = (
            "id",
            "key",
            "order",
            "title_zh",
            "title_en",
            "description_zh",
            "description_en",
            "mechanisms",
            "mitigating_measures",
        )
