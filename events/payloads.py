"""Each event's object as the API shows it, built in the writer's transaction.

The API's own serializers build it, with a request for the public address (settings
PUBLIC_URL), so that links in a payload point where a receiver can follow them. Objects
already loaded by the writer (a status update comes back from record_status_update with its
measure and citations) cost no query; a batch of entries costs a constant few."""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request

from evidence.api.serializers import EvidenceSerializer
from evidence.selectors import evidence_list
from recommendations.api import rows
from recommendations.api.reports import ReportSnapshotSerializer
from recommendations.api.serializers import MeasureSerializer
from recommendations.selectors import measures_current
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
    """The entries as GET /api/v1/status-updates/{id}/ shows them, built as the feed builds its
    rows (recommendations/api/rows.py, held equal to the serializer by its tests): an entry
    that comes back from record_status_update, its citations loaded, costs no query; a
    batch's entries cost one query for all their citations."""
    request = _request_for(settings.PUBLIC_URL)
    loaded = all("evidence_links" in getattr(u, "_prefetched_objects_cache", {}) for u in updates)
    if loaded:
        return [rows.recorded_entry(u, request) for u in updates]
    return rows.update_rows([_as_row(u) for u in updates], request)


def _as_row(update) -> dict:
    """An entry as rows.update_rows reads it (rows.UPDATE_COLUMNS), from the instance."""
    return {
        "id": update.pk,
        "measure_id": update.measure_id,
        "measure__code": update.measure.code,
        "status": update.status,
        "progress": update.progress,
        "confidence": update.confidence,
        "effective_date": update.effective_date,
        "recorded_at": update.recorded_at,
        "recorded_by__username": update.recorded_by.username if update.recorded_by else None,
        "proposed_at": update.proposed_at,
        "approved_by__username": update.approved_by.username if update.approved_by else None,
        "note": update.note,
    }


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
