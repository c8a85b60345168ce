"""The naive peer: the same endpoints written the way a typical DRF app is.

ModelViewSets with nested ModelSerializers (pillar, risks, scenarios, institutions), no
select_related or prefetch_related, DRF's stock PageNumberPagination, query parameters read
by hand, and a write that saves the serializer and bumps the version with save(). Served
only by bench/urls.py, under /bench/naive/; the same authentication, permission and
throttling settings as the real API apply.
"""

from datetime import date

from rest_framework import pagination, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from evidence.models import Evidence
from recommendations.models import Institution, Measure, Pillar, Risk, Scenario, StatusUpdate


class NaivePagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class PillarSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pillar
        fields = "__all__"


class RiskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Risk
        fields = "__all__"


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scenario
        fields = "__all__"


class InstitutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Institution
        fields = "__all__"


class MeasureSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="naive-measure-detail")
    pillar = PillarSerializer(read_only=True)
    risks = RiskSerializer(many=True, read_only=True)
    scenarios = ScenarioSerializer(many=True, read_only=True)
    institutions = InstitutionSerializer(many=True, read_only=True)
    evidence_count = serializers.SerializerMethodField()

    class Meta:
        model = Measure
        fields = "__all__"

    def get_evidence_count(self, measure) -> int:
        return measure.evidence_links.count()


class StatusUpdateSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="naive-status-update-detail")
    measure_code = serializers.CharField(source="measure.code", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    evidence = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Evidence.objects.all(), required=False
    )

    class Meta:
        model = StatusUpdate
        fields = "__all__"
        read_only_fields = ("measure", "recorded_at", "recorded_by")


class MeasureViewSet(viewsets.ModelViewSet):
    serializer_class = MeasureSerializer
    pagination_class = NaivePagination
    filter_backends = []
    write_permissions = {"status_updates": "recommendations.add_statusupdate"}

    def get_queryset(self):
        measures = Measure.objects.all().order_by("code")
        params = self.request.query_params
        if params.get("pillar"):
            measures = measures.filter(pillar__number=params["pillar"])
        statuses = params.getlist("status")
        if params.get("as_of"):
            # The state on a date: each measure's latest entry by then, checked in Python.
            day = date.fromisoformat(params["as_of"])
            kept = []
            for measure in measures:
                entry = (
                    measure.status_updates.filter(effective_date__lte=day)
                    .order_by("-effective_date", "-recorded_at", "-id")
                    .first()
                )
                if entry is None or (statuses and entry.status not in statuses):
                    continue
                measure.status = entry.status
                measure.progress = entry.progress
                measure.status_effective_date = entry.effective_date
                kept.append(measure)
            return kept
        if statuses:
            measures = measures.filter(status__in=statuses)
        return measures

    @action(detail=True, methods=["post"], url_path="status-updates")
    def status_updates(self, request, pk=None):
        measure = Measure.objects.get(pk=pk)
        serializer = StatusUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        update = serializer.save(measure=measure, recorded_by=request.user)
        measure.status = update.status
        measure.progress = update.progress
        measure.status_effective_date = update.effective_date
        measure.version += 1
        measure.save()
        return Response(serializer.data, status=201, headers={"ETag": f'"{measure.version}"'})


class StatusUpdateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = StatusUpdate.objects.all().order_by("id")
    serializer_class = StatusUpdateSerializer
    pagination_class = NaivePagination
    filter_backends = []
    write_permissions: dict = {}
