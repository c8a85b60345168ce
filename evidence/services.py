"""Writes of sources and evidence. A piece of evidence is saved with its figures and links in
one transaction, validated as a whole; nothing is written when any part is wrong."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)

# Link lists of a piece of evidence: name -> (link model, field naming the linked record).
LINK_MODELS = {
    "measures": (EvidenceMeasure, "measure"),
    "risks": (EvidenceRisk, "risk"),
    "scenarios": (EvidenceScenario, "scenario"),
    "innovation_mechanisms": (EvidenceInnovationMechanism, "mechanism"),
}


@transaction.atomic
def save_source(*, source: Source | None = None, fields: dict) -> Source:
    """Create a source, or change the given fields of one. Raises ValidationError, writing
    nothing, when a value breaks a rule."""
    source = source or Source()
    for field, value in fields.items():
        setattr(source, field, value)
    source.full_clean()
    source.save()
    return source


@transaction.atomic
def save_evidence(
    *,
    evidence: Evidence | None = None,
    fields: dict,
    figures: list[dict] | None = None,
    links: dict[str, list[dict]] | None = None,
    institutions: list | None = None,
    by=None,
) -> Evidence:
    """Create a piece of evidence, or change one. `figures`, each list of `links` and
    `institutions`, when given, replace what the evidence had.

    Raises ValidationError, keyed by field, writing nothing, when any part breaks a rule
    (a figure, a link twice to one record, a value out of range).
    """
    evidence = evidence or Evidence(created_by=by)
    for field, value in fields.items():
        setattr(evidence, field, value)
    evidence.full_clean()
    evidence.save()
    if figures is not None:
        evidence.figures.all().delete()
        rows = [
            EvidenceFigure(evidence=evidence, order=order, **figure)
            for order, figure in enumerate(figures, start=1)
        ]
        errors = {}
        for index, row in enumerate(rows):
            try:
                row.full_clean(exclude=["evidence"])
            except ValidationError as error:
                errors[f"figures[{index}]"] = error.messages
        if errors:
            raise ValidationError(errors)
        EvidenceFigure.objects.bulk_create(rows)
    for name, items in (links or {}).items():
        model, target = LINK_MODELS[name]
        targets = [item[target] for item in items]
        if len(set(targets)) != len(targets):
            raise ValidationError({name: _("Each record may be linked only once.")})
        model.objects.filter(evidence=evidence).delete()
        model.objects.bulk_create(
            model(evidence=evidence, stance=item["stance"], **{target: item[target]})
            for item in items
        )
    if institutions is not None:
        evidence.institutions.set(institutions)
    return evidence
