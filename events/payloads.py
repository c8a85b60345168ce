"""Each event's object as the API shows it, built in the writer's transaction.

The API's own serializers build it, with a request for the public address (settings
PUBLIC_URL), so that links in a payload point where a receiver can follow them. Objects
already loaded by the writer (a status update comes back from record_status_update with its
measure and citations) cost no query; a batch of entries costs a constant few."""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from rest_framework.request import Request

from evidence.api.serializers import EvidenceSerializer
from evidence.selectors import evidence_list
from recommendations.api.reports import ReportSnapshotSerializer
from recommendations.api.serializers import MeasureSerializer, StatusUpdateSerializer
from recommendations.selectors import cited_evidence, measures_current
from review.api.serializers import ProposalSerializer
from review.selectors import proposals


class PublicRequest(HttpRequest):
    """A GET of the public address: what links are built against. Its host is the
    deployment's own setting, not a client's header, so it is not checked against
    ALLOWED_HOSTS."""

    def __init__(self, url: str):
        super().__init__()
        parts = urlsplit(url)
        self.method = "GET"
        self.path = self.path_info = parts.path or "/"
        self._public_scheme, self._public_host = parts.scheme or "http", parts.netloc

    def _get_scheme(self):
        return self._public_scheme

    def get_host(self):
        return self._public_host


@cache
def _request_for(url: str) -> Request:
    return Request(PublicRequest(url))


def context() -> dict:
    return {"request": _request_for(settings.PUBLIC_URL)}


def status_updates(updates: list) -> list[dict]:
    """The entries as GET /api/v1/status-updates/{id}/ shows them. Entries without their
    citations loaded (a batch) get them in one query."""
    missing = [
        u for u in updates if "evidence_links" not in getattr(u, "_prefetched_objects_cache", {})
    ]
    if missing:
        prefetch_related_objects(missing, cited_evidence())
    return StatusUpdateSerializer(updates, many=True, context=context()).data


def measure(pk: int) -> dict:
    return MeasureSerializer(measures_current().get(pk=pk), context=context()).data


def evidence(pk: int) -> dict:
    return EvidenceSerializer(evidence_list().get(pk=pk), context=context()).data


def proposal(pk: int) -> tuple[dict, int]:
    """The proposal as the API shows it, and its measure's pillar (its id)."""
    loaded = proposals().get(pk=pk)
    return ProposalSerializer(loaded, context=context()).data, loaded.measure.pillar_id


def report(snapshot) -> dict:
    return ReportSnapshotSerializer(snapshot, context=context()).data
