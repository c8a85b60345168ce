"""Writes of sources and evidence. A piece of evidence is saved with its figures and links in
one transaction, validated as a whole; nothing is written when any part is wrong."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from recommendations.choices import Status
from recommendations.models import Measure, StatusUpdate
from recommendations.selectors import LATEST_FIRST
from recommendations.services import StaleVersion

from . import signals
from .choices import Stance
from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
    StatusUpdateEvidence,
)
from .revisions import record_revisions

# Link lists of a piece of evidence: name -> (link model, field naming the linked record).
LINK_MODELS = {
    "measures": (EvidenceMeasure, "measure"),
    "risks": (EvidenceRisk, "risk"),
    "scenarios": (EvidenceScenario, "scenario"),
    "innovation_mechanisms": (EvidenceInnovationMechanism, "mechanism"),
}


# What two lists of figures are compared on: same values in the same order is no change.
FIGURE_FIELDS = ("value", "unit", "qualifier", "measures_zh", "measures_en")

# A measure in one of these states keeps at least one piece of evidence that supports it: a
# "supports" link, or evidence cited by the entry in force (recommendations.services
# check_update_allowed demands one of the two to record `implemented`).
SUPPORT_KEPT = (Status.IMPLEMENTED, Status.PARTIALLY_IMPLEMENTED)


def lock(record: Source | Evidence, *, expected_version: int | None = None):
    """Return the record's row, locked until the transaction ends.

    Raises StaleVersion when `expected_version` is given and is not the current one.
    """
    # Lock the row: two writers to one record are checked one after the other, so they
    # cannot both pass the check with the same version. NO KEY, as lock_measure's.
    locked = type(record).objects.select_for_update(no_key=True).get(pk=record.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleVersion(record=locked, expected=expected_version)
    return locked


def set_fields(record: Source | Evidence, fields: dict) -> bool:
    """Give `record` the values of `fields`; return whether any differed."""
    changed = False
    for name, value in fields.items():
        field = record._meta.get_field(name)
        if name == "key":
            value = value or None  # the models store a blank key as none
        stored = value.pk if field.is_relation and value is not None else value
        if getattr(record, field.attname) != stored:
            setattr(record, name, value)
            changed = True
    return changed


def bump_version(record: Source | Evidence, *, by=None) -> None:
    """Count a change made to `record` (or its figures and links) by a writer that saves rows
    itself, the seed: bump its version, so that a client holding the old one is refused; a
    piece of evidence also gets the revision of its new version."""
    type(record).objects.filter(pk=record.pk).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    record.refresh_from_db(fields=["version", "updated_at"])
    if isinstance(record, Evidence):
        record_revisions([record.pk], by=by)


def record_revision(evidence: Evidence, *, by=None) -> None:
    """Write the revision of a piece of evidence that a writer saving rows itself (the seed)
    has just created, at version 1."""
    record_revisions([evidence.pk], by=by)


@transaction.atomic
def save_source(
    *, source: Source | None = None, fields: dict, expected_version: int | None = None
) -> Source:
    """Create a source (at version 1), or change the given fields of one and bump its version.
    Its evidence's revisions keep the citation they were written with; each piece's next
    revision takes the new one.

    Changing nothing writes nothing. Raises StaleVersion when `expected_version` is not the
    source's version, ValidationError when a value breaks a rule; nothing is written then.
    """
    creating = source is None or source.pk is None
    source = (source or Source()) if creating else lock(source, expected_version=expected_version)
    if not set_fields(source, fields) and not creating:
        return source
    source.full_clean()
    if not creating:
        source.version += 1
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
    expected_version: int | None = None,
) -> Evidence:
    """Create a piece of evidence (at version 1), or change one and bump its version; either
    way, append the revision of the new version (evidence.revisions). `figures`, each list of
    `links` and `institutions`, when given, replace what the evidence had; changing any of
    them changes the evidence. Changing nothing writes nothing.

    Raises StaleVersion when `expected_version` is not the evidence's version, and
    ValidationError, keyed by field, when any part breaks a rule (a figure, more figures than
    EVIDENCE_MAX_FIGURES, a link twice to one record, a value out of range, the removal of
    the last support of an implemented measure); nothing is written then.
    """
    creating = evidence is None or evidence.pk is None
    if creating:
        evidence = evidence or Evidence()
        evidence.created_by = evidence.created_by or by
    else:
        evidence = lock(evidence, expected_version=expected_version)
    fields_changed = set_fields(evidence, fields)
    evidence.full_clean()
    new_figures = figures_to_write(evidence, figures, creating=creating)
    new_links = links_to_write(evidence, links or {}, creating=creating)
    if not creating and "measures" in new_links:
        check_support_kept(evidence=evidence, measure_links=new_links["measures"])
    new_institutions = institutions_to_write(evidence, institutions, creating=creating)
    if not creating:
        lists_changed = new_figures is not None or new_institutions is not None or new_links
        if not (fields_changed or lists_changed):
            return evidence
        evidence.version += 1
    evidence.save()
    if new_figures is not None:
        evidence.figures.all().delete()
        EvidenceFigure.objects.bulk_create(new_figures)
    for name, items in new_links.items():
        model, target = LINK_MODELS[name]
        model.objects.filter(evidence=evidence).delete()
        model.objects.bulk_create(
            model(evidence=evidence, stance=item["stance"], **{target: item[target]})
            for item in items
        )
    if new_institutions is not None:
        evidence.institutions.set(new_institutions)
    record_revisions([evidence.pk], by=by)
    if creating:
        signals.evidence_added.send(sender=Evidence, evidence=evidence, by=by)
    return evidence


def check_support_kept(*, evidence: Evidence, measure_links: list[dict]) -> None:
    """Raise ValidationError (key `measures`) when giving `evidence` these measure links
    (each {"measure": Measure, "stance": ...}) would leave an implemented or partially
    implemented measure with nothing that supports it: no other "supports" link, and no
    evidence cited by the entry in force. The way out is a status update that explains the
    change (moving the measure back, or citing other evidence); then the link may go.

    Locks the measures concerned, so that two writers cannot each remove one of the last two
    links."""
    kept = {item["measure"].pk for item in measure_links if item["stance"] == Stance.SUPPORTS}
    check_still_supported(evidence=evidence, measures=supported_measures(evidence) - kept)


def supported_measures(evidence: Evidence) -> set[int]:
    """Ids of the measures `evidence` has a "supports" link to."""
    return set(
        EvidenceMeasure.objects.filter(evidence=evidence, stance=Stance.SUPPORTS).values_list(
            "measure_id", flat=True
        )
    )


def check_still_supported(*, evidence: Evidence, measures: set[int]) -> None:
    """Raise ValidationError (key `measures`) when one of `measures`, losing its "supports"
    link to `evidence`, is implemented or partially implemented and has no other support (see
    check_support_kept). A writer that saves links itself (the seed) calls it after writing,
    in the same transaction, with the measures whose link went."""
    losing = set(measures)
    if not losing:
        return
    # Lock them all, whatever their state: an update making one implemented on the strength of
    # this link waits, and then finds it gone; the states read are those after the wait.
    locked = [
        pk
        for pk, status in Measure.objects.select_for_update()
        .filter(pk__in=losing)
        .order_by("pk")
        .values_list("pk", "status")
        if status in SUPPORT_KEPT
    ]
    entry_in_force = (
        StatusUpdate.objects.filter(measure=OuterRef(OuterRef("pk")))
        .order_by(*LATEST_FIRST)
        .values("pk")[:1]
    )
    unsupported = (
        Measure.objects.filter(pk__in=locked)
        .exclude(
            Exists(
                EvidenceMeasure.objects.filter(
                    measure=OuterRef("pk"), stance=Stance.SUPPORTS
                ).exclude(evidence=evidence)
            )
        )
        .exclude(
            Exists(StatusUpdateEvidence.objects.filter(status_update=Subquery(entry_in_force)))
        )
        .order_by("code")
    )
    messages = [
        _(
            "Measure %(code)s is “%(status)s” and this evidence is the last that supports it. "
            "First record a status update that explains the change (for instance moving the "
            "measure back, with a note, or citing other evidence), then remove the link."
        )
        % {"code": measure.code, "status": measure.get_status_display()}
        for measure in unsupported
    ]
    if messages:
        raise ValidationError({"measures": messages})


def check_figure_count(count: int) -> None:
    """Raise ValidationError (key `figures`) when `count` figures are more than one piece of
    evidence may state (setting EVIDENCE_MAX_FIGURES)."""
    if count > settings.EVIDENCE_MAX_FIGURES:
        raise ValidationError(
            {
                "figures": _(
                    "A piece of evidence states at most %(max)s figures; this one has %(count)s."
                )
                % {"max": settings.EVIDENCE_MAX_FIGURES, "count": count}
            }
        )


def figures_to_write(
    evidence: Evidence, figures: list[dict] | None, *, creating: bool
) -> list[EvidenceFigure] | None:
    """The validated rows replacing the evidence's figures; None when they would change
    nothing. Raises ValidationError keyed `figures` when there are too many (check_figure_count),
    `figures[<index>]` for a bad figure.

    Validation runs no query: a figure's only constraint (its qualifier is a known choice) is
    the field's choices, which clean_fields checks in Python; the database's constraint would
    cost a query (and a savepoint) per figure."""
    if figures is None:
        return None
    check_figure_count(len(figures))
    rows = [
        EvidenceFigure(evidence=evidence, order=order, **figure)
        for order, figure in enumerate(figures, start=1)
    ]
    errors = {}
    for index, row in enumerate(rows):
        try:
            row.full_clean(exclude=["evidence"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            errors[f"figures[{index}]"] = error.messages
    if errors:
        raise ValidationError(errors)
    old = [] if creating else list(evidence.figures.values_list(*FIGURE_FIELDS))
    new = [tuple(getattr(row, field) for field in FIGURE_FIELDS) for row in rows]
    return None if new == old else rows


def links_to_write(evidence: Evidence, links: dict[str, list[dict]], *, creating: bool) -> dict:
    """The link lists that differ from what the evidence has. Raises ValidationError when a
    list links one record twice."""
    changed = {}
    for name, items in links.items():
        model, target = LINK_MODELS[name]
        pairs = [(item[target].pk, item["stance"]) for item in items]
        if len({pk for pk, stance in pairs}) != len(pairs):
            raise ValidationError({name: _("Each record may be linked only once.")})
        old = set()
        if not creating:
            old = set(model.objects.filter(evidence=evidence).values_list(f"{target}_id", "stance"))
        if set(pairs) != old:
            changed[name] = items
    return changed


def institutions_to_write(evidence: Evidence, institutions, *, creating: bool):
    """`institutions`, or None when they are what the evidence names already."""
    if institutions is None:
        return None
    old = set() if creating else set(evidence.institutions.values_list("pk", flat=True))
    return None if {institution.pk for institution in institutions} == old else institutions
