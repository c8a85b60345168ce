"""What a proposal's review panel shows, on the admin's home page (the review queue, a
proposer's own proposals) and on the proposal's own page: the measure's state now beside the
one proposed, with what would change marked; the evidence cited; who proposed it, when, at
which revision, and the comment it was last sent back with; and what the reader may do with
it (decide on it; or, as its proposer, revise or withdraw it). Built from rows of
review.selectors.with_review_panel, so a panel reads nothing more."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from recommendations.choices import is_regression
from recommendations.text import localized

from . import services
from .choices import ProposalState
from .models import Proposal


@dataclass(frozen=True)
class Line:
    """One field of the update: as the measure stands now, as proposed, and the difference
    (empty when the proposal does not change it)."""

    label: str
    now: str
    proposed: str
    difference: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.difference)


def percent(value: int | None) -> str:
    return "–" if value is None else f"{value}%"


def lines(proposal: Proposal) -> list[Line]:
    """The measure's status, progress and effective date now beside the proposal's."""
    measure = proposal.measure
    status_difference = ""
    if proposal.status != measure.status:
        status_difference = (
            _("a regression") if is_regression(measure.status, proposal.status) else _("changed")
        )
    progress_difference = ""
    if proposal.progress != measure.progress:
        progress_difference = (
            _("changed")
            if measure.progress is None
            else f"{proposal.progress - measure.progress:+d}"
        )
    date_difference = ""
    since = measure.status_effective_date
    if since is not None and proposal.effective_date != since:
        days = abs((proposal.effective_date - since).days)
        if proposal.effective_date > since:
            date_difference = ngettext("%(count)s day later", "%(count)s days later", days)
        else:
            date_difference = ngettext(
                "%(count)s day earlier: back-dated", "%(count)s days earlier: back-dated", days
            )
        date_difference %= {"count": days}
    return [
        Line(
            _("status"),
            measure.get_status_display(),
            proposal.get_status_display(),
            status_difference,
        ),
        Line(
            _("progress"),
            percent(measure.progress),
            percent(proposal.progress),
            progress_difference,
        ),
        Line(
            _("effective date"),
            since.isoformat() if since else "–",
            proposal.effective_date.isoformat(),
            date_difference,
        ),
    ]


def panel(user, proposal: Proposal, *, next_url: str, on_its_page: bool = False) -> dict:
    """The context of review/panel.html for `proposal` (a row of with_review_panel), as
    `user` sees it; its forms send the reader back to `next_url`. On the proposal's own page
    (`on_its_page`), its proposer revises in the form below the panel."""
    measure = proposal.measure
    sent_back = proposal.decided_state == ProposalState.CHANGES_REQUESTED
    return {
        "proposal": proposal,
        "measure_title": localized(measure, "title"),
        "measure_link": reverse("admin:recommendations_measure_change", args=[measure.pk]),
        "proposal_link": reverse("admin:review_proposal_change", args=[proposal.pk]),
        "lines": lines(proposal),
        "evidence": [
            (
                reverse("admin:evidence_evidence_change", args=[link.evidence_id]),
                str(link.evidence),
            )
            for link in proposal.evidence_links.all()
        ],
        # The comment it was last sent back with (it may be pending again, revised).
        "comment": proposal.decided_text if sent_back else "",
        "comment_by": proposal.decided_by if sent_back else "",
        "decide_url": reverse("admin:review_proposal_decide", args=[proposal.pk]),
        "may_decide": services.may_decide(user, proposal),
        # Four eyes: a reviewer sees why there is nothing to click on their own proposal.
        "own_for_reviewer": user.pk == proposal.proposed_by_id and services.may_review(user),
        "may_revise": services.may_revise(user, proposal),
        "next": next_url,
        "on_its_page": on_its_page,
    }
