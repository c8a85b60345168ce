"""Query filters of the subscriptions list. A value that names nothing (an unknown username,
pillar or measure) is a 400, never an empty or unfiltered list."""

import django_filters as filters
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config.api import StrictBooleanFilter, WholeNumberFilter
from recommendations.api.filters import measure_by_id_or_code

from ..models import Subscription


class SubscriptionFilter(filters.FilterSet):
    active = StrictBooleanFilter(help_text=_("true: active; false: paused."))
    owner = filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        help_text=_("Username of the owner."),
    )
    pillar = WholeNumberFilter(field_name="pillar__number", help_text=_("Pillar number."))
    measure = filters.CharFilter(method="filter_measure", help_text=_("Measure id or code."))

    class Meta:
        model = Subscription
        fields = []

    def filter_measure(self, queryset, name, value):
        return queryset.filter(measure=measure_by_id_or_code(value))
