"""Query filters of the API. A value that names nothing (an unknown status, risk key or
measure code) is a 400, never an empty or unfiltered list."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from config.api import BoundedIsoDateTimeFilter, StrictBooleanFilter, WholeNumberFilter

from ..choices import Priority, Status
from ..models import Institution, Measure, Risk, Scenario, StatusUpdate


class MeasureFilter(filters.FilterSet):
    pillar = WholeNumberFilter(field_name="pillar__number", help_text=_("Pillar number."))
    status = filters.MultipleChoiceFilter(
        choices=Status.choices,
        method="filter_status",
        help_text=_("One or more statuses (repeat the parameter); with as_of, the status then."),
    )
    risk = filters.ModelChoiceFilter(
        field_name="risks",
        queryset=Risk.objects.all(),
        to_field_name="key",
        help_text=_("Key of a risk the measure mitigates."),
    )
    scenario = filters.ModelChoiceFilter(
        field_name="scenarios",
        queryset=Scenario.objects.all(),
        to_field_name="key",
        help_text=_("Key of an application scenario."),
    )
    institution = filters.ModelChoiceFilter(
        field_name="institutions",
        queryset=Institution.objects.all(),
        to_field_name="key",
        help_text=_("Key of a responsible institution."),
    )
    priority = filters.ChoiceFilter(choices=Priority.choices)
    archived = StrictBooleanFilter()
    target_date_after = filters.DateFilter(field_name="target_date", lookup_expr="gte")
    target_date_before = filters.DateFilter(field_name="target_date", lookup_expr="lte")
    updated_since = BoundedIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text=_("Measures changed (state or fields) at or after this ISO 8601 time."),
    )

    class Meta:
        model = Measure
        fields = []

    def filter_status(self, queryset, name, value):
        # measures_as_of() annotates the status on the as-of date as status_then.
        field = "status_then" if "status_then" in queryset.query.annotations else "status"
        return queryset.filter(**{f"{field}__in": value}) if value else queryset


def measure_by_id_or_code(value: str) -> Measure:
    measure = Measure.objects.filter(code=value).first()
    if measure is None and value.isascii() and value.isdigit():
        measure = Measure.objects.filter(pk=int(value)).first()
    if measure is None:
        raise ValidationError(
            {"measure": _("No measure has the id or code %(value)s.") % {"value": value}}
        )
    return measure


class StatusUpdateFilter(filters.FilterSet):
    measure = filters.CharFilter(method="filter_measure", help_text=_("Measure id or code."))
    pillar = WholeNumberFilter(field_name="measure__pillar__number")
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    effective_after = filters.DateFilter(field_name="effective_date", lookup_expr="gte")
    effective_before = filters.DateFilter(field_name="effective_date", lookup_expr="lte")
    recorded_after = BoundedIsoDateTimeFilter(field_name="recorded_at", lookup_expr="gte")
    recorded_before = BoundedIsoDateTimeFilter(field_name="recorded_at", lookup_expr="lte")

    class Meta:
        model = StatusUpdate
        fields = []

    def filter_measure(self, queryset, name, value):
        return queryset.filter(measure=measure_by_id_or_code(value))
