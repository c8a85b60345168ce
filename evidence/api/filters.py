import django_filters as filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from config.api import WholeNumberFilter
from recommendations.api.filters import measure_by_id_or_code
from recommendations.models import Risk, Scenario

from ..choices import Attribution, Reliability, SourceKind, Stance
from ..models import (
    Evidence,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)


def keep(queryset: QuerySet, name: str, value: str) -> QuerySet:
    # Applied together in EvidenceFilter.filter_queryset, so that `stance` binds to the link.
    return queryset


class EvidenceFilter(filters.FilterSet):
    measure = filters.CharFilter(method=keep, help_text=_("Measure id or code."))
    risk = filters.ModelChoiceFilter(
        queryset=Risk.objects.all(), to_field_name="key", method=keep, help_text=_("Risk key.")
    )
    scenario = filters.ModelChoiceFilter(
        queryset=Scenario.objects.all(),
        to_field_name="key",
        method=keep,
        help_text=_("Scenario key."),
    )
    stance = filters.ChoiceFilter(
        choices=Stance.choices,
        method=keep,
        help_text=_(
            "With measure, risk or scenario: the stance of that link; alone: any link "
            "with this stance."
        ),
    )
    source_kind = filters.ChoiceFilter(field_name="source__kind", choices=SourceKind.choices)
    reliability = filters.ChoiceFilter(
        field_name="source__reliability", choices=Reliability.choices
    )
    attribution = filters.ChoiceFilter(choices=Attribution.choices)
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Evidence
        fields = []

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        stance = {"stance": data["stance"]} if data.get("stance") else {}
        targets = []
        if data.get("measure"):
            targets.append((EvidenceMeasure, {"measure": measure_by_id_or_code(data["measure"])}))
        if data.get("risk"):
            targets.append((EvidenceRisk, {"risk": data["risk"]}))
        if data.get("scenario"):
            targets.append((EvidenceScenario, {"scenario": data["scenario"]}))
        for model, lookup in targets:
            queryset = queryset.filter(
                Exists(model.objects.filter(evidence=OuterRef("pk"), **lookup, **stance))
            )
        if stance and not targets:
            any_link = Q()
            for model in (
                EvidenceMeasure,
                EvidenceRisk,
                EvidenceScenario,
                EvidenceInnovationMechanism,
            ):
                any_link |= Q(Exists(model.objects.filter(evidence=OuterRef("pk"), **stance)))
            queryset = queryset.filter(any_link)
        return queryset


class SourceFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=SourceKind.choices)
    reliability = filters.ChoiceFilter(choices=Reliability.choices)
    year = WholeNumberFilter()

    class Meta:
        model = Source
        fields = []
