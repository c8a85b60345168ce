"""The admin's home page: the context TrackerAdminSite.index adds to Django's index."""

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from recommendations.models import StatusUpdate
from recommendations.reports.charts import COLOURS, status_bar
from recommendations.reports.render import mean_over
from recommendations.text import localized
from review import panels, selectors, services
from review.choices import OPEN
from webhooks import selectors as webhook_selectors

from .selectors import home_page


def measure_list(**filters) -> str:
    url = reverse("admin:recommendations_measure_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def review_context(request) -> dict:
    """A reviewer's queue (the oldest pending proposals, each with its review panel), and a
    proposer's own proposals with what was decided. Five queries at most, whatever the number
    of proposals."""
    user, home = request.user, reverse("admin:index")
    proposals = reverse("admin:review_proposal_changelist")
    context = {}
    if services.may_review(user):
        rows, total = selectors.review_queue()
        context["review_queue"] = {
            "panels": [panels.panel(user, proposal, next_url=home) for proposal in rows],
            "total": total,
            "all_pending": f"{proposals}?{urlencode({'state__exact': 'pending'})}",
        }
    if services.updates_need_review(user):
        open_, decided = selectors.own_proposals(user)
        context["own_proposals"] = {
            "rows": [
                {
                    "proposal": proposal,
                    "title": localized(proposal.measure, "title"),
                    "link": reverse("admin:review_proposal_change", args=[proposal.pk]),
                    "open": proposal.state in OPEN,
                    "decide_url": reverse("admin:review_proposal_decide", args=[proposal.pk]),
                }
                for proposal in [*open_, *decided]
            ],
            "all": proposals,
            "add": reverse("admin:review_proposal_add"),
            "next": home,
        }
    return context


def outbox_context(request) -> dict:
    """For superusers: the webhooks' outbox depth and its oldest undelivered event (two
    queries)."""
    return {"outbox": webhook_selectors.outbox()} if request.user.is_superuser else {}


def home_context(request) -> dict:
    page = home_page(timezone.localdate())
    return {
        **review_context(request),
        **outbox_context(request),
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
