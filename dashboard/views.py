"""The admin's home page: the context TrackerAdminSite.index adds to Django's index."""

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from recommendations.models import StatusUpdate
from recommendations.reports.charts import COLOURS, status_bar
from recommendations.reports.render import mean_over
from recommendations.text import localized

from .selectors import home_page


def measure_list(**filters) -> str:
    url = reverse("admin:recommendations_measure_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def home_context(request) -> dict:
    page = home_page(timezone.localdate())
    return {
        "home": page,
        "overall_bar": status_bar(page.overall.by_status, _("All measures")),
        "overall_mean": mean_over(page.overall),
        "status_links": [
            (status, label, count, measure_list(status__exact=status), COLOURS[status])
            for status, label, count in page.overall.counts
        ],
        "pillar_rows": [
            {
                "number": pillar.number,
                "title": localized(pillar, "title"),
                "bar": status_bar(standing.by_status, localized(pillar, "title")),
                "mean": mean_over(standing),
                "measures": standing.measures,
                "link": measure_list(pillar__id__exact=pillar.pk),
            }
            for pillar, standing in page.pillars
        ],
        "attention_blocks": [
            {
                "label": kind.label,
                "count": count,
                "link": measure_list(attention=kind.key),
                "items": [
                    (
                        m.code,
                        localized(m, "title"),
                        reverse("admin:recommendations_measure_change", args=[m.pk]),
                    )
                    for m in items
                ],
            }
            for kind, count, items in page.attention
        ],
        "latest": [
            {
                "update": update,
                "title": localized(update.measure, "title"),
                "link": reverse("admin:recommendations_measure_change", args=[update.measure_id]),
            }
            for update in page.latest
        ],
        # A field's own name: a template's translate tag cannot look up a "%" in a message.
        "progress_label": StatusUpdate._meta.get_field("progress").verbose_name,
        "all_history": reverse("admin:recommendations_statusupdate_changelist"),
    }
