"""Query filters of the proposals list. A value that names nothing (an unknown state, measure,
username or institution key) is a 400, never an empty or unfiltered list."""

import django_filters as filters
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config.api import WholeNumberFilter
from recommendations.api.filters import measure_by_id_or_code
from recommendations.models import Institution

from ..choices import ProposalState
from ..models import Proposal


class ProposalFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(
        choices=ProposalState.choices, help_text=_("One or more states (repeat the parameter).")
    )
    measure = filters.CharFilter(method="filter_measure", help_text=_("Measure id or code."))
    pillar = WholeNumberFilter(field_name="measure__pillar__number", help_text=_("Pillar number."))
    proposed_by = filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        help_text=_("Username of the proposer."),
    )
    status_update = WholeNumberFilter(
        help_text=_("Id of a status update: the proposal it was approved from, if any.")
    )
    institution = filters.ModelChoiceFilter(
        field_name="measure__institutions",
        queryset=Institution.objects.all(),
        to_field_name="key",
        help_text=_("Key of an institution responsible for the measure."),
    )

    class Meta:
        model = Proposal
        fields = []

    def filter_measure(self, queryset, name, value):
        return queryset.filter(measure=measure_by_id_or_code(value))
