"""Revisions of evidence: what a piece said at each of its versions, kept as it was written.

Every write of a piece of evidence (evidence.services, the seed) appends the revision of its new
version; a status update cites the revision current when it was recorded, so what history
cites stays as cited whatever later edits do. Revision rows are append-only in the database
(migration 0005). This module imports no service of recommendations: recommendations.services
calls it when recording a status update.
"""

from collections.abc import Iterable

from django.db.models import F, Prefetch, QuerySet

from .models import (
    Evidence,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRevision,
    EvidenceRisk,
    EvidenceScenario,
)

BATCH = 500

# The evidence's own fields a revision keeps.
FIELDS = (
    "key",
    "attribution",
    "claim_zh",
    "claim_en",
    "quote",
    "location",
    "date",
    "date_precision",
    "note_zh",
    "note_en",
)
SOURCE_FIELDS = (
    "key",
    "kind",
    "authors",
    "title",
    "venue",
    "year",
    "published_on",
    "url",
    "citation",
    "reliability",
)
FIGURE_FIELDS = ("value", "unit", "qualifier", "measures_zh", "measures_en")
# Link list -> (reverse accessor on Evidence, linked field, the linked record's natural key).
LINKS = {
    "measures": ("evidencemeasure_set", "measure", "code"),
    "risks": ("evidencerisk_set", "risk", "key"),
    "scenarios": ("evidencescenario_set", "scenario", "key"),
    "innovation_mechanisms": ("evidenceinnovationmechanism_set", "mechanism", "key"),
}


def as_json(value):
    """Dates as ISO text, decimals as plain (never exponent) text; the rest unchanged."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "as_tuple"):
        return format(value, "f")
    return value


def with_content() -> QuerySet[Evidence]:
    """Evidence with everything a snapshot reads loaded: a constant number of queries."""
    return Evidence.objects.select_related("source").prefetch_related(
        "figures",
        "institutions",
        Prefetch("evidencemeasure_set", EvidenceMeasure.objects.select_related("measure")),
        Prefetch("evidencerisk_set", EvidenceRisk.objects.select_related("risk")),
        Prefetch("evidencescenario_set", EvidenceScenario.objects.select_related("scenario")),
        Prefetch(
            "evidenceinnovationmechanism_set",
            EvidenceInnovationMechanism.objects.select_related("mechanism"),
        ),
    )


def snapshot(evidence) -> dict:
    """The content of `evidence` (loaded as `with_content` loads it) as a revision keeps it.

    Also reads a migration's historical models, which have the same fields and accessors.
    """
    source = evidence.source
    content = {name: as_json(getattr(evidence, name)) for name in FIELDS}
    content["source"] = {
        "id": source.pk,
        "version": source.version,
        **{name: as_json(getattr(source, name)) for name in SOURCE_FIELDS},
    }
    figures = sorted(evidence.figures.all(), key=lambda figure: (figure.order, figure.pk))
    content["figures"] = [
        {name: as_json(getattr(figure, name)) for name in FIGURE_FIELDS} for figure in figures
    ]
    content["institutions"] = sorted(item.key for item in evidence.institutions.all())
    for name, (accessor, target, natural_key) in LINKS.items():
        content[name] = sorted(
            (
                {target: getattr(getattr(link, target), natural_key), "stance": link.stance}
                for link in getattr(evidence, accessor).all()
            ),
            key=lambda link: link[target],
        )
    return content


def record_revisions(evidence_ids: Iterable[int], *, by=None) -> list[EvidenceRevision]:
    """Append the revision of each piece's current version, from what is stored now, in a
    constant number of queries. Call it in the transaction that wrote the version."""
    ids = sorted(set(evidence_ids))
    written = []
    # In batches: a database bounds the parameters of one query (the prefetches' IN lists).
    for start in range(0, len(ids), BATCH):
        pieces = with_content().filter(pk__in=ids[start : start + BATCH])
        written += EvidenceRevision.objects.bulk_create(
            EvidenceRevision(
                evidence=piece, version=piece.version, content=snapshot(piece), created_by=by
            )
            for piece in pieces
        )
    return written


def current_revisions(ids: Iterable[int]) -> list[EvidenceRevision]:
    """The revision of each piece's current version, for a status update to cite, in one
    query: in Evidence's order (latest date first), with the id, the evidence and the version
    loaded. A piece that does not exist, or that has no revision yet (written around the
    services: raw SQL, a test's factory), has none in the list (see `uncited`)."""
    ids = sorted(set(ids))
    if not ids:
        return []
    # EvidenceRevision's order starts with its evidence's, then the newest version first.
    return list(
        EvidenceRevision.objects.filter(evidence__in=ids, version=F("evidence__version")).only(
            "id", "evidence_id", "version"
        )
    )


def uncited(ids: Iterable[int], cited: list[EvidenceRevision]) -> tuple[list[int], list[int]]:
    """Of the pieces `ids` that have no revision in `cited` (current_revisions): those that
    exist but have no revision yet, which record_revisions writes from what they hold now, and
    those that do not exist. No query when every piece has its revision."""
    missing = sorted(set(ids) - {revision.evidence_id for revision in cited})
    if not missing:
        return [], []
    existing = set(Evidence.objects.filter(pk__in=missing).values_list("pk", flat=True))
    return [pk for pk in missing if pk in existing], [pk for pk in missing if pk not in existing]
