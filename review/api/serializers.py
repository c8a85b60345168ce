"""Shapes of the proposals API. Output serializers read only what the selectors loaded; input
serializers check shape and type, and leave every rule to the services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import RefuseUnknownFields
from evidence.models import Evidence
from recommendations.api.serializers import MeasureStateSerializer
from recommendations.choices import Confidence, Status
from recommendations.models.history import NOTE_MAX_LENGTH

from ..choices import DECIDED
from ..models import Proposal, ProposalDecision, ProposalRevision

USERNAME = {"slug_field": "username", "read_only": True}


class ProposalRevisionSerializer(serializers.ModelSerializer):
    """One revision as its proposer submitted it (the first submission is revision 1)."""

    evidence = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text="Ids of the evidence cited."
    )
    by = serializers.SlugRelatedField(**USERNAME)

    class Meta:
        model = ProposalRevision
        fields = (
            "number",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "note",
            "evidence",
            "by",
            "at",
        )
        read_only_fields = fields


class ProposalDecisionSerializer(serializers.ModelSerializer):
    """A decision: the state it moved the proposal to, on which revision, by whom, when, and
    the reason (rejected) or comment (changes requested)."""

    state = serializers.ChoiceField(choices=[(s.value, s.label) for s in DECIDED], read_only=True)
    by = serializers.SlugRelatedField(**USERNAME)

    class Meta:
        model = ProposalDecision
        fields = ("state", "revision", "text", "by", "at")
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer):
    """A proposed status update as its latest revision says it, where its review stands, and
    its whole story: every revision and every decision."""

    url = serializers.HyperlinkedIdentityField(view_name="proposal-detail")
    measure_code = serializers.CharField(source="measure.code", read_only=True)
    pillar = serializers.IntegerField(source="measure.pillar.number", read_only=True)
    measure_state = MeasureStateSerializer(
        source="measure",
        read_only=True,
        help_text="The measure's state now, which approving the proposal would change.",
    )
    evidence = serializers.SerializerMethodField()
    proposed_by = serializers.SlugRelatedField(**USERNAME)
    approved_by = serializers.SlugRelatedField(
        **USERNAME, allow_null=True, help_text="Null until approved."
    )
    status_update = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The entry of history the approved proposal became; null until approved.",
    )
    status_update_url = serializers.HyperlinkedRelatedField(
        source="status_update",
        view_name="status-update-detail",
        read_only=True,
        allow_null=True,
    )
    revisions = ProposalRevisionSerializer(many=True, read_only=True)
    decisions = ProposalDecisionSerializer(many=True, read_only=True)

    class Meta:
        model = Proposal
        fields = (
            "id",
            "url",
            "measure",
            "measure_code",
            "pillar",
            "state",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "note",
            "evidence",
            "revision",
            "version",
            "proposed_by",
            "proposed_at",
            "updated_at",
            "approved_by",
            "approved_at",
            "status_update",
            "status_update_url",
            "measure_state",
            "revisions",
            "decisions",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_evidence(self, proposal) -> list[int]:
        return [link.evidence_id for link in proposal.evidence_links.all()]


VERSION = serializers.IntegerField(
    required=False,
    write_only=True,
    help_text="The proposal's version you last saw; a stale one is refused (400). The "
    "If-Match header does the same with 412.",
)


class ProposalRevisionInputSerializer(RefuseUnknownFields, serializers.Serializer):
    """A revision by the proposer: any of the update's fields; the others are kept.
    `evidence`, when given, is the whole list."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    progress = serializers.IntegerField(allow_null=True, required=False)
    confidence = serializers.ChoiceField(choices=Confidence.choices, required=False)
    effective_date = serializers.DateField(required=False)
    note = serializers.CharField(allow_blank=True, required=False, max_length=NOTE_MAX_LENGTH)
    evidence = serializers.PrimaryKeyRelatedField(
        queryset=Evidence.objects.all(), many=True, required=False
    )
    version = VERSION


class DecisionInputSerializer(RefuseUnknownFields, serializers.Serializer):
    """Approve or withdraw: nothing to say but, optionally, the version you decide on."""

    version = VERSION


class RejectInputSerializer(DecisionInputSerializer):
    reason = serializers.CharField(
        allow_blank=True, max_length=NOTE_MAX_LENGTH, help_text="Why it is rejected (required)."
    )


class RequestChangesInputSerializer(DecisionInputSerializer):
    comment = serializers.CharField(
        allow_blank=True, max_length=NOTE_MAX_LENGTH, help_text="What should change (required)."
    )
