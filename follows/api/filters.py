"""Query filters of the follows list."""

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from ..models import TARGETS, Follow


class FollowFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(
        choices=[(name, name) for name in TARGETS],
        method="filter_kind",
        help_text=_("Only follows of measures, of pillars, or of risks."),
    )

    class Meta:
        model = Follow
        fields = []

    def filter_kind(self, queryset, name, value):
        return queryset.filter(**{f"{value}__isnull": False})
