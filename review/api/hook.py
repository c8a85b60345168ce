"""What the recommendations app asks of this one (settings.STATUS_UPDATE_REVIEW): whether
the user's updates go to review, and if so, to propose the update instead of recording it —
POST /api/v1/measures/{id}/status-updates/ through propose(), the admin's record form by
sending the user to admin_proposal_form(). The recommendations app knows nothing else of
this one."""

from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode
from rest_framework.response import Response

from recommendations.api.serializers import StatusUpdateInputSerializer
from recommendations.models import Measure

from .. import selectors, services
from .serializers import ProposalSerializer
from .views import write_version


def needs_review(user) -> bool:
    """Whether `user`'s status updates are proposed instead of recorded (a reporter's; an
    analyst's with REVIEW_ANALYST_UPDATES on)."""
    return services.updates_need_review(user)


def propose(request, measure_id) -> Response:
    """Propose the status update the request's body states, as the status-update POST would
    record it: the same body, the same rules, If-Match naming the measure's version. Answers
    202 Accepted with the proposal, and its address in Location."""
    data = StatusUpdateInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    fields = dict(data.validated_data)
    version = write_version(request, fields)
    try:
        proposal = services.propose(
            measure=int(measure_id), by=request.user, expected_version=version, **fields
        )
    except Measure.DoesNotExist:
        raise Http404 from None
    body = ProposalSerializer(
        selectors.proposals().get(pk=proposal.pk), context={"request": request}
    ).data
    # A plain str: DRF's Hyperlink is a str subclass that WSGI servers refuse.
    return Response(body, status=202, headers={"Location": str(body["url"])})


def admin_proposal_form(initial: dict) -> str:
    """The admin's form that proposes a status update, pre-filled with `initial` (any of
    measure, status, progress, confidence, effective_date, note)."""
    url = reverse("admin:review_proposal_add")
    return f"{url}?{urlencode(initial)}" if initial else url
