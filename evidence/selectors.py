"""Reads of sources and evidence, with everything their callers render loaded."""

from django.db.models import Count, Prefetch, QuerySet

from .models import (
    Evidence,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRevision,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)


def evidence_list() -> QuerySet[Evidence]:
    """Evidence with its source, figures, institutions and links loaded."""
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


def sources_with_counts() -> QuerySet[Source]:
    return Source.objects.annotate(evidence_count=Count("evidence"))


def revisions(*, evidence: Evidence | int) -> QuerySet[EvidenceRevision]:
    """A piece of evidence's revisions, latest first, with their author loaded."""
    return (
        EvidenceRevision.objects.filter(evidence=evidence)
        .select_related("created_by")
        .order_by("-version")
    )
