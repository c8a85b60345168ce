"""The shape of a status report's JSON (schema_version 3; published reports of versions 1
and 2 lack only what is marked "since schema_version 2" or "3"), for the OpenAPI schema: one
serializer per dataclass of reports/status.py, the fields in the same order. They describe
render_json's output and are never used to write it; a test validates real reports against
the schema they give."""

from rest_framework import serializers

from ..choices import Confidence, Status
from .serializers import StatusCountsSerializer


def nullable_status(**kwargs):
    return serializers.ChoiceField(choices=Status.choices, allow_null=True, **kwargs)


class ReportPeriodSerializer(serializers.Serializer):
    since = serializers.DateField(help_text="Start of the period (exclusive).")
    until = serializers.DateField(help_text="End of the period (inclusive).")


class StateSummarySerializer(serializers.Serializer):
    measures = serializers.IntegerField()
    by_status = StatusCountsSerializer(help_text="Measures at each status.")
    mean_progress = serializers.FloatField(
        allow_null=True, help_text="Over assessed measures; null if none."
    )
    assessed = serializers.IntegerField(
        required=False,
        help_text="Measures with a progress value: those `mean_progress` is over (in `change`, "
        "until minus since). Since schema_version 2.",
    )


class ReportOverviewSerializer(serializers.Serializer):
    since = StateSummarySerializer()
    until = StateSummarySerializer()
    change = StateSummarySerializer(help_text="`until` minus `since`.")


class ReportPillarSerializer(ReportOverviewSerializer):
    number = serializers.IntegerField()
    title_zh = serializers.CharField()
    title_en = serializers.CharField()


class MeasureRefSerializer(serializers.Serializer):
    measure = serializers.CharField(help_text="The measure's code.")
    pillar = serializers.IntegerField(help_text="Its pillar's number.")
    title_zh = serializers.CharField()
    title_en = serializers.CharField()


class ReportEvidenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    claim_zh = serializers.CharField()
    claim_en = serializers.CharField()
    source = serializers.CharField(help_text="The source's title.")


class ReportChangeSerializer(MeasureRefSerializer):
    effective_date = serializers.DateField()
    recorded_at = serializers.DateTimeField()
    recorded_after_period = serializers.BooleanField()
    from_status = nullable_status(help_text="Null when the update is the measure's first.")
    to_status = serializers.ChoiceField(choices=Status.choices)
    from_progress = serializers.IntegerField(allow_null=True)
    to_progress = serializers.IntegerField(allow_null=True)
    progress_change = serializers.IntegerField(allow_null=True)
    regression = serializers.BooleanField()
    confidence = serializers.ChoiceField(
        choices=Confidence.choices, allow_blank=True, help_text="Empty when not assessed."
    )
    note = serializers.CharField(allow_blank=True)
    recorded_by = serializers.CharField(allow_null=True)
    evidence = ReportEvidenceSerializer(many=True)


class ReportPillarChangesSerializer(serializers.Serializer):
    pillar = serializers.IntegerField()
    title_zh = serializers.CharField()
    title_en = serializers.CharField()
    updates = ReportChangeSerializer(
        many=True,
        help_text="Updates whose status or progress differs from the entry before them, in "
        "history order (schema_version 3); every update of the period before it.",
    )


class ReportReconfirmationSerializer(MeasureRefSerializer):
    count = serializers.IntegerField(
        help_text="Updates of the measure in the period that repeated the status and progress "
        "in force."
    )
    latest = serializers.DateField(help_text="The latest effective date among them.")


class ReportReconfirmationsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Re-confirmations of all measures.")
    measures = ReportReconfirmationSerializer(many=True, help_text="By pillar, then code.")


class ReportMeasureStateSerializer(MeasureRefSerializer):
    status_since = nullable_status(help_text="Null when its history had not begun by `since`.")
    progress_since = serializers.IntegerField(allow_null=True)
    status_until = serializers.ChoiceField(choices=Status.choices)
    progress_until = serializers.IntegerField(allow_null=True)
    status_effective_date = serializers.DateField()
    progress_change = serializers.IntegerField(allow_null=True)


class ReportStalledSerializer(MeasureRefSerializer):
    status = serializers.ChoiceField(choices=Status.choices)
    since_date = serializers.DateField()
    progress = serializers.IntegerField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class ReportReassessmentDueSerializer(MeasureRefSerializer):
    status = serializers.ChoiceField(choices=Status.choices)
    last_update = serializers.DateField()
    days_since_update = serializers.IntegerField()
    review_every_days = serializers.IntegerField()
    never_assessed = serializers.BooleanField()


class ReportOverdueSerializer(MeasureRefSerializer):
    target_date = serializers.DateField()
    days_overdue = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    progress = serializers.IntegerField(allow_null=True)


class ReportRiskMeasureSerializer(serializers.Serializer):
    measure = serializers.CharField()
    title_zh = serializers.CharField()
    title_en = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    progress = serializers.IntegerField(allow_null=True)


class ReportRiskSerializer(serializers.Serializer):
    key = serializers.CharField()
    title_zh = serializers.CharField()
    title_en = serializers.CharField()
    measures = ReportRiskMeasureSerializer(many=True)
    coverage = serializers.FloatField(
        allow_null=True,
        help_text="Share of the risk's mitigating measures that cover it: partially "
        "implemented or implemented. Null when no measure mitigates it.",
    )
    uncovered = serializers.BooleanField(
        help_text="No mitigating measure covers the risk (coverage 0 or null). In "
        "schema_version 1: no mitigating measure in progress or beyond."
    )


class ReportAddedEvidenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(allow_null=True)
    claim_zh = serializers.CharField()
    claim_en = serializers.CharField()
    source = serializers.CharField(help_text="The source's title.")
    source_kind = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReportEvidenceAddedSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_source_kind = serializers.DictField(child=serializers.IntegerField())
    items = ReportAddedEvidenceSerializer(many=True)


class ReportProgressPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    overall = serializers.FloatField(allow_null=True)
    pillars = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Pillar number → mean progress."
    )


class StatusReportSerializer(serializers.Serializer):
    """A status report as published: the same report always renders to the same bytes.
    schema_version 3 (current) lists as changes only the updates that changed a status or
    progress and counts the others in `reconfirmations`; 2 added `assessed` to every summary,
    gave the progress series every month end, and flagged a risk uncovered exactly when no
    measure covers it. Published snapshots keep the version they were written in."""

    schema_version = serializers.ChoiceField(choices=[(1, "1"), (2, "2"), (3, "3")])
    report = serializers.ChoiceField(choices=[("status", "status")])
    period = ReportPeriodSerializer()
    history_recorded_through = serializers.DateTimeField(
        allow_null=True, help_text="When the latest status update it could include was recorded."
    )
    overview = ReportOverviewSerializer()
    pillars = ReportPillarSerializer(many=True)
    changes = ReportPillarChangesSerializer(many=True)
    reconfirmations = ReportReconfirmationsSerializer(
        required=False,
        help_text="Per measure, the updates that re-confirmed the state in force: counted, not "
        "listed. Since schema_version 3.",
    )
    newly_implemented = ReportMeasureStateSerializer(many=True)
    regressions = ReportChangeSerializer(many=True)
    stalled = ReportStalledSerializer(many=True)
    reassessment_due = ReportReassessmentDueSerializer(many=True)
    overdue = ReportOverdueSerializer(many=True)
    risks = ReportRiskSerializer(many=True)
    evidence_added = ReportEvidenceAddedSerializer()
    progress_over_time = ReportProgressPointSerializer(many=True)
    measures = ReportMeasureStateSerializer(many=True)
