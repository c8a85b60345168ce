from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from config.api import BoundedIsoDateTimeFilter, WholeNumberFilter

from ..models import Change, Channel
from ..registry import labels
from ..selectors import trail


class ChangeFilter(filters.FilterSet):
    model = filters.ChoiceFilter(
        choices=[(label, label) for label in labels()],
        method="filter_trail",
        help_text=_("The tracked model, as app_label.model (recommendations.measure)."),
    )
    object_id = WholeNumberFilter(
        method="filter_trail",
        min_value=1,
        max_value=2**63 - 1,
        help_text=_(
            "The record's id. With `model`, also the entries of what belongs to it: a "
            "measure's links, an evidence's figures and links."
        ),
    )
    user = filters.CharFilter(
        field_name="actor_username",
        help_text=_("The username of who made the change (kept after the user is deleted)."),
    )
    since = BoundedIsoDateTimeFilter(
        field_name="timestamp",
        lookup_expr="gte",
        help_text=_("Changes written at or after this moment (ISO 8601)."),
    )
    channel = filters.ChoiceFilter(choices=Channel.choices)

    class Meta:
        model = Change
        fields = []

    def filter_trail(self, queryset, name, value):
        # `model` and `object_id` work together: applied once, when the first is met.
        if getattr(self, "_trail_applied", False):
            return queryset
        self._trail_applied = True
        data = self.form.cleaned_data
        return trail(queryset, data.get("model") or None, data.get("object_id"))
