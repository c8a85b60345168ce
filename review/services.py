"""Writes of the review app: propose a status update, revise it, and decide on it.

Every rule lives here, and the API, the admin (its review queue, its proposal forms, which
call the check_* functions before writing) and spreadsheet intake (`propose_many`, the batch
form of `propose`) call these functions. The rules of a status
update itself are not repeated: a proposal is checked by
recommendations.services.check_update_allowed when it is submitted and revised (against the
measure's state then), and approving it records it through
recommendations.services.record_status_update, which checks it again, under the measure's
lock, against the state then in force.

States: pending → approved | rejected (a reason) | changes_requested (a comment) | withdrawn
(by its proposer); changes_requested → pending (a revision by its proposer) | withdrawn. A
pending proposal may be revised too. Approved, rejected and withdrawn are final.

Who: `updates_need_review(user)` says whether a user's status updates go to review; a
proposer must hold `review.add_proposal` (and, when tied to institutions, propose for their
measures only); deciding needs `review.review_proposal`, and nobody decides on their own
proposal (four eyes: PermissionDenied, and a database constraint for approvals). Only its
proposer revises or withdraws a proposal.

Each function writes in one transaction, or writes nothing and raises: PermissionDenied (who
may not), TransitionRefused (the proposal's state does not allow it: it was decided,
withdrawn or revised in between), StaleVersion (the caller's expected version is stale),
ValidationError keyed by field (a rule refused the content). Decisions lock the proposal's
row, so of two reviewers deciding at once one wins and the other is refused.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from evidence.choices import Stance
from evidence.models import Evidence, EvidenceMeasure
from recommendations.choices import Confidence
from recommendations.models import Measure, MeasureInstitution
from recommendations.services import (
    BATCH,
    Refused,
    StaleVersion,
    check_update_allowed,
    record_status_update,
)

from . import signals
from .choices import OPEN, ProposalState
from .models import (
    Proposal,
    ProposalDecision,
    ProposalEvidence,
    ProposalRevision,
    ReporterInstitution,
)

# The fields of a proposal its proposer may change in a revision (those of a status update).
REVISABLE = ("status", "progress", "confidence", "effective_date", "note", "evidence")

PROPOSE_PERMISSION = "review.add_proposal"
REVIEW_PERMISSION = "review.review_proposal"


class TransitionRefused(ValidationError):
    """The proposal's state does not allow the action (someone decided, withdrew or revised it
    in between, or it is final). The API answers 409 Conflict."""

    def __init__(self, message: str):
        super().__init__({"state": ValidationError(message, code="state")})


# Who


def updates_need_review(user) -> bool:
    """Whether `user`'s status updates are proposed for review instead of recorded: a user
    who may propose (`review.add_proposal`: a reporter) and may not record
    (`recommendations.add_statusupdate`), or an analyst when REVIEW_ANALYST_UPDATES is on.
    Never a superuser's. No query beyond the user's permissions, once per request."""
    if not user.is_authenticated or user.is_superuser:
        return False
    if not user.has_perm(PROPOSE_PERMISSION):
        return False
    return settings.REVIEW_ANALYST_UPDATES or not user.has_perm("recommendations.add_statusupdate")


def may_review(user) -> bool:
    """Whether `user` may approve, reject and request changes (on others' proposals)."""
    return user.is_authenticated and user.has_perm(REVIEW_PERMISSION)


def check_may_propose(user, measure: Measure) -> None:
    """Raise PermissionDenied unless `user` may propose updates for `measure`: it needs
    `review.add_proposal`, and a user tied to institutions (ReporterInstitution) proposes only
    for the measures one of them is responsible for (lead or support). One query."""
    if not user.is_authenticated or not user.has_perm(PROPOSE_PERMISSION):
        raise PermissionDenied(_("You may not propose status updates."))
    ties = ReporterInstitution.objects.filter(user=user).aggregate(
        tied=Count("pk", distinct=True),
        responsible=Count(
            "pk", distinct=True, filter=Q(institution__measure_links__measure=measure)
        ),
    )
    if ties["tied"] and not ties["responsible"]:
        raise PermissionDenied(not_responsible(measure))


def not_responsible(measure: Measure) -> str:
    return _(
        "None of the institutions you report for is responsible for measure %(code)s: "
        "you may propose updates only for their measures."
    ) % {"code": measure.code}


def check_may_decide(user, proposal: Proposal) -> None:
    """Raise PermissionDenied unless `user` may decide on `proposal`: a reviewer, and not its
    proposer (four eyes)."""
    if not may_review(user):
        raise PermissionDenied(_("You may not review proposals."))
    if user.pk == proposal.proposed_by_id:
        raise PermissionDenied(
            _("Nobody may decide on their own proposal: another reviewer must (four eyes).")
        )


def check_proposer(user, proposal: Proposal, message: str) -> None:
    if not user.is_authenticated or user.pk != proposal.proposed_by_id:
        raise PermissionDenied(message)


def may_decide(user, proposal: Proposal) -> bool:
    """Whether `user` may decide on `proposal` now: a reviewer, not its proposer, and the
    proposal pending. What a page offers; the decision itself checks again."""
    try:
        check_may_decide(user, proposal)
    except PermissionDenied:
        return False
    return proposal.state == ProposalState.PENDING


def may_revise(user, proposal: Proposal) -> bool:
    """Whether `user` may revise or withdraw `proposal` now: its proposer, while it is open
    (pending, or with changes requested), still holding `review.add_proposal`."""
    return (
        user.is_authenticated
        and user.pk == proposal.proposed_by_id
        and proposal.state in OPEN
        and user.has_perm(PROPOSE_PERMISSION)
    )


# Reading what a write needs


def evidence_ids(evidence: Iterable) -> list[int]:
    """Ids of `evidence` (pieces or ids), each once, in the order given."""
    return list(dict.fromkeys(getattr(piece, "pk", piece) for piece in evidence))


def check_evidence_exists(ids: list[int], known: set[int] | None = None) -> None:
    """Raise ValidationError (key `evidence`) naming the ids of `ids` that no evidence has;
    `known`, the ids that exist when the caller has read them (propose_many), else read."""
    if not ids:
        return
    if known is None:
        known = set(Evidence.objects.filter(pk__in=ids).values_list("pk", flat=True))
    unknown = [str(pk) for pk in ids if pk not in known]
    if unknown:
        raise ValidationError(
            {"evidence": _("No evidence has the id %(ids)s.") % {"ids": ", ".join(unknown)}}
        )


def lock_proposal(proposal: Proposal | int, *, expected_version: int | None = None) -> Proposal:
    """Return the proposal's row, locked until the transaction ends: two writers to one
    proposal (two reviewers, a reviewer and its proposer) are checked one after the other.

    Raises Proposal.DoesNotExist, and StaleVersion when `expected_version` is given and is
    not the current one.
    """
    pk = proposal.pk if isinstance(proposal, Proposal) else proposal
    # NO KEY, as recommendations.services.lock_measure: rows referring to it may be written.
    locked = Proposal.objects.select_for_update(no_key=True).get(pk=pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleVersion(record=locked, expected=expected_version)
    return locked


def _refuse_unless(proposal: Proposal, states: tuple, message: str) -> None:
    if proposal.state not in states:
        raise TransitionRefused(
            message % {"id": proposal.pk, "state": ProposalState(proposal.state).label}
        )


# Checks a form makes before it writes (the admin's proposal forms), and the writes make again


def check_proposal(
    *,
    measure: Measure,
    by,
    status: str,
    progress: int | None,
    confidence: str,
    effective_date: date,
    note: str,
    evidence: list[int],
    today: date,
) -> None:
    """Raise unless `by` may propose this update of `measure` now: PermissionDenied when
    `by` may not propose for it, ValidationError keyed by field when evidence is unknown or a
    rule of history refuses the update (recommendations.services.check_update_allowed)."""
    check_may_propose(by, measure)
    check_evidence_exists(evidence)
    check_update_allowed(
        measure=measure,
        status=status,
        progress=progress,
        confidence=confidence,
        effective_date=effective_date,
        note=note,
        evidence=evidence,
        today=today,
    )


def check_revisable(changes: dict) -> None:
    """Raise ValidationError, keyed by each, when `changes` names a field a revision cannot
    change."""
    unknown = sorted(set(changes) - set(REVISABLE))
    if unknown:
        raise ValidationError(
            {field: _("This field cannot be changed in a revision.") for field in unknown}
        )


def check_revision(
    *, proposal: Proposal, changes: dict, by, today: date
) -> tuple[dict, list[int], list[int]]:
    """Raise unless `by` may revise `proposal` (locked: lock_proposal) with `changes` now:
    PermissionDenied when `by` is not its proposer or may no longer propose for its
    measure; TransitionRefused when it is not open; ValidationError for an unknown field, a
    revision that changes nothing, or a rule that refuses the update.

    Returns the revised update's fields (REVISABLE but evidence), the evidence ids it cites
    and those it cited before.
    """
    check_revisable(changes)
    check_proposer(by, proposal, _("Only its proposer may revise a proposal."))
    _refuse_unless(
        proposal,
        OPEN,
        _(
            "Proposal %(id)s is “%(state)s”: only a pending proposal, or one with changes "
            "requested, can be revised."
        ),
    )
    measure = Measure.objects.get(pk=proposal.measure_id)
    check_may_propose(by, measure)
    current_ids = list(proposal.evidence_links.order_by("pk").values_list("evidence_id", flat=True))
    ids = evidence_ids(changes["evidence"]) if "evidence" in changes else current_ids
    fields = {
        name: changes.get(name, getattr(proposal, name)) for name in REVISABLE if name != "evidence"
    }
    fields["note"] = (fields["note"] or "").strip()
    unchanged = all(getattr(proposal, name) == value for name, value in fields.items())
    if unchanged and set(ids) == set(current_ids):
        raise ValidationError(
            {
                "non_field_errors": _(
                    "This revision changes nothing: the proposal already says this."
                )
            }
        )
    check_evidence_exists(ids)
    check_update_allowed(measure=measure, evidence=ids, today=today, **fields)
    return fields, ids, current_ids


# Writes


def propose(
    *,
    measure: Measure | int,
    status: str,
    progress: int | None,
    effective_date: date,
    confidence: str = Confidence.MEDIUM,
    note: str = "",
    evidence: Iterable = (),
    by,
    expected_version: int | None = None,
    today: date | None = None,
) -> Proposal:
    """Propose a status update of `measure` for review: the same fields as
    record_status_update, checked at once by the same rules against the measure's state now,
    so that a proposal that could never be approved is refused. The measure is not changed
    (nor locked: approval checks again, under its lock). `evidence`: pieces or their ids.

    Returns the pending proposal, at revision 1. Raises Measure.DoesNotExist;
    PermissionDenied when `by` may not propose, or not for this measure; StaleVersion when
    `expected_version` (the measure's, as If-Match names it) is stale; ValidationError keyed by
    field when a rule refuses the update. Nothing is written then.
    """
    ids = evidence_ids(evidence)
    today = today or timezone.localdate()
    with transaction.atomic():
        target = Measure.objects.get(pk=measure.pk if isinstance(measure, Measure) else measure)
        if expected_version is not None and expected_version != target.version:
            raise StaleVersion(measure=target, expected=expected_version)
        check_proposal(
            measure=target,
            by=by,
            status=status,
            progress=progress,
            confidence=confidence,
            effective_date=effective_date,
            note=note,
            evidence=ids,
            today=today,
        )
        now = timezone.now()
        proposal = Proposal.objects.create(
            measure=target,
            status=status,
            progress=progress,
            confidence=confidence,
            effective_date=effective_date,
            note=note.strip(),
            proposed_by=by,
            proposed_at=now,
            updated_at=now,
        )
        _link_evidence(proposal, ids)
        _append_revision(proposal, ids, by=by, at=now)
    return proposal


def revise(
    *,
    proposal: Proposal | int,
    changes: dict,
    by,
    expected_version: int | None = None,
    today: date | None = None,
) -> Proposal:
    """A new revision of an open proposal (pending, or with changes requested) by its
    proposer: `changes` maps any of REVISABLE to new values (`evidence`: pieces or ids, the
    whole list); the rest is kept. The result is checked as a submission is, and the proposal
    is pending again. Every revision is kept (ProposalRevision).

    Raises Proposal.DoesNotExist; PermissionDenied when `by` is not its proposer (or may no
    longer propose for the measure); TransitionRefused when it is not open; StaleVersion;
    ValidationError for an unknown field, a revision that changes nothing, or a rule that
    refuses the update. Nothing is written then.
    """
    check_revisable(changes)
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = lock_proposal(proposal, expected_version=expected_version)
        fields, ids, current_ids = check_revision(
            proposal=locked, changes=changes, by=by, today=today
        )
        now = timezone.now()
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.state = ProposalState.PENDING
        locked.revision += 1
        locked.version += 1
        locked.updated_at = now
        locked.save()
        if set(ids) != set(current_ids):
            locked.evidence_links.all().delete()
            _link_evidence(locked, ids)
        _append_revision(locked, ids, by=by, at=now)
    return locked


def approve(
    *,
    proposal: Proposal | int,
    by,
    expected_version: int | None = None,
    today: date | None = None,
) -> Proposal:
    """Approve a pending proposal: it is recorded through record_status_update, which checks
    every rule again against the measure's state in force now, and becomes that entry of
    history (`status_update`), recorded by its proposer at the moment of approval (the
    approval's time too); the proposal carries who approved it. The evidence is cited at
    its revision current now.

    Raises Proposal.DoesNotExist; PermissionDenied when `by` may not review or proposed it;
    TransitionRefused when it is not pending (another reviewer decided first); StaleVersion;
    ValidationError keyed by field when a rule now refuses the update (the proposal stays
    pending: request changes). Nothing is written then.
    """
    with transaction.atomic():
        locked = lock_proposal(proposal, expected_version=expected_version)
        check_may_decide(by, locked)
        _refuse_unless(
            locked,
            (ProposalState.PENDING,),
            _("Proposal %(id)s is “%(state)s”: only a pending proposal can be approved."),
        )
        update = record_status_update(
            measure=locked.measure_id,
            status=locked.status,
            progress=locked.progress,
            confidence=locked.confidence,
            effective_date=locked.effective_date,
            note=locked.note,
            evidence=list(Evidence.objects.filter(proposal_links__proposal=locked)),
            by=locked.proposed_by,
            today=today,
            approved_by=by,
            proposed_at=locked.proposed_at,
        )
        locked.state = ProposalState.APPROVED
        locked.status_update = update
        locked.approved_by = by
        locked.approved_at = update.recorded_at
        return _decided(locked, by=by, at=update.recorded_at)


def reject(
    *, proposal: Proposal | int, by, reason: str, expected_version: int | None = None
) -> Proposal:
    """Reject a pending proposal, saying why (`reason`, required). Final.

    Raises as approve does, and ValidationError (key `reason`) when the reason is blank.
    """
    reason = _required(reason, "reason", _("Say why the proposal is rejected."))
    with transaction.atomic():
        locked = lock_proposal(proposal, expected_version=expected_version)
        check_may_decide(by, locked)
        _refuse_unless(
            locked,
            (ProposalState.PENDING,),
            _("Proposal %(id)s is “%(state)s”: only a pending proposal can be rejected."),
        )
        locked.state = ProposalState.REJECTED
        return _decided(locked, by=by, text=reason)


def request_changes(
    *, proposal: Proposal | int, by, comment: str, expected_version: int | None = None
) -> Proposal:
    """Send a pending proposal back to its proposer with `comment` (required) saying what
    should change; a revision makes it pending again.

    Raises as approve does, and ValidationError (key `comment`) when the comment is blank.
    """
    comment = _required(comment, "comment", _("Say what should change."))
    with transaction.atomic():
        locked = lock_proposal(proposal, expected_version=expected_version)
        check_may_decide(by, locked)
        _refuse_unless(
            locked,
            (ProposalState.PENDING,),
            _(
                "Proposal %(id)s is “%(state)s”: changes can be requested only on a pending "
                "proposal."
            ),
        )
        locked.state = ProposalState.CHANGES_REQUESTED
        return _decided(locked, by=by, text=comment)


def withdraw(*, proposal: Proposal | int, by, expected_version: int | None = None) -> Proposal:
    """Withdraw an open proposal (pending, or with changes requested); only its proposer may.
    Final.

    Raises Proposal.DoesNotExist; PermissionDenied when `by` is not its proposer;
    TransitionRefused when it is not open; StaleVersion. Nothing is written then.
    """
    with transaction.atomic():
        locked = lock_proposal(proposal, expected_version=expected_version)
        check_proposer(by, locked, _("Only its proposer may withdraw a proposal."))
        _refuse_unless(
            locked,
            OPEN,
            _(
                "Proposal %(id)s is “%(state)s”: only a pending proposal, or one with changes "
                "requested, can be withdrawn."
            ),
        )
        locked.state = ProposalState.WITHDRAWN
        return _decided(locked, by=by)


# Many proposals at once (a spreadsheet's rows)


@dataclass(frozen=True)
class NewProposal:
    """One update for propose_many: what propose takes, the measure by its id, the evidence
    as pieces or their ids."""

    measure: int
    status: str
    progress: int | None
    effective_date: date
    confidence: str = Confidence.MEDIUM
    note: str = ""
    evidence: tuple = ()


def lock_proposer(user) -> None:
    """Lock `user`'s row until the transaction ends: two batches of proposals by one proposer
    (one file confirmed twice at once) are checked one after the other, so that the second
    sees the first's proposals. NO KEY: rows that refer to the user may still be written."""
    rows = get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk)
    list(rows.values_list("pk", flat=True))


def propose_many(
    updates: Sequence[NewProposal],
    *,
    by,
    today: date | None = None,
    dry_run: bool = False,
    languages: Sequence[str] = (),
) -> list[Proposal | ValidationError]:
    """Propose each of `updates` as propose() would one at a time: `by` may propose for its
    measure (institution ties), its evidence exists, and check_update_allowed accepts it
    against the measure's state now. Proposals change no state, so each update is judged on
    its own, a measure's second update of the batch too, just as if it had been proposed after
    the first through the API; approval checks each again against the state then in force.

    Returns, for each update, its pending Proposal (revision 1), or the ValidationError
    refusing it, keyed by field: a measure none of `by`'s institutions is responsible for is
    refused on `measure`. With `languages`, a refusal is a `Refused` carrying its messages in
    each. All or none: the proposals are written, in the caller's transaction (or one of
    their own), only when none is refused and not `dry_run`; otherwise nothing is written and
    the Proposals returned are not saved. Raises PermissionDenied, writing nothing, when `by`
    may not propose at all.

    Constant statements per BATCH updates: measures, their supporting evidence, the
    institutions `by` reports for and which of the measures they are responsible for, the
    evidence named; then proposals, their evidence and first revisions inserted in bulk. An
    update back-dated before its measure's state reads the history around its date, as one
    proposal does.
    """
    if not by.is_authenticated or not by.has_perm(PROPOSE_PERMISSION):
        raise PermissionDenied(_("You may not propose status updates."))
    today = today or timezone.localdate()
    ids = sorted({update.measure for update in updates})
    measures = {
        measure.pk: measure
        for chunk in _chunks(ids)
        for measure in Measure.objects.filter(pk__in=chunk)
    }
    supported = {
        pk
        for chunk in _chunks(sorted(measures))
        for pk in EvidenceMeasure.objects.filter(measure__in=chunk, stance=Stance.SUPPORTS)
        .values_list("measure_id", flat=True)
        .distinct()
    }
    tied = list(by.reporter_institutions.values_list("institution_id", flat=True))
    responsible = (
        {
            pk
            for chunk in _chunks(sorted(measures))
            for pk in MeasureInstitution.objects.filter(
                measure__in=chunk, institution__in=tied
            ).values_list("measure_id", flat=True)
        }
        if tied
        else None
    )
    cited = [evidence_ids(update.evidence) for update in updates]
    named = sorted({pk for pks in cited for pk in pks})
    known = {
        pk
        for chunk in _chunks(named)
        for pk in Evidence.objects.filter(pk__in=chunk).values_list("pk", flat=True)
    }

    def check(update: NewProposal, pks: list[int]) -> None:
        # In propose()'s order: the measure, who, the evidence, the rules of history.
        measure = measures.get(update.measure)
        if measure is None:
            raise ValidationError(
                {"measure": _("There is no measure %(id)s.") % {"id": update.measure}}
            )
        if responsible is not None and measure.pk not in responsible:
            raise ValidationError({"measure": not_responsible(measure)})
        check_evidence_exists(pks, known)
        check_update_allowed(
            measure=measure,
            status=update.status,
            progress=update.progress,
            confidence=update.confidence,
            effective_date=update.effective_date,
            note=update.note,
            evidence=pks,
            today=today,
            supported=measure.pk in supported,
        )

    now = timezone.now()
    results: list[Proposal | ValidationError] = []
    for update, pks in zip(updates, cited, strict=True):
        refusal = _refusal(lambda update=update, pks=pks: check(update, pks), languages)
        results.append(
            refusal
            or Proposal(
                measure=measures[update.measure],
                status=update.status,
                progress=update.progress,
                confidence=update.confidence,
                effective_date=update.effective_date,
                note=update.note.strip(),
                proposed_by=by,
                proposed_at=now,
                updated_at=now,
            )
        )
    if dry_run or any(isinstance(result, ValidationError) for result in results):
        return results
    with transaction.atomic():
        Proposal.objects.bulk_create(results, batch_size=BATCH)
        ProposalEvidence.objects.bulk_create(
            (
                ProposalEvidence(proposal=proposal, evidence_id=pk)
                for proposal, pks in zip(results, cited, strict=True)
                for pk in pks
            ),
            batch_size=BATCH,
        )
        ProposalRevision.objects.bulk_create(
            (
                ProposalRevision(
                    proposal=proposal,
                    number=1,
                    status=proposal.status,
                    progress=proposal.progress,
                    confidence=proposal.confidence,
                    effective_date=proposal.effective_date,
                    note=proposal.note,
                    evidence=pks,
                    by=by,
                    at=now,
                )
                for proposal, pks in zip(results, cited, strict=True)
            ),
            batch_size=BATCH,
        )
    return results


def _chunks(ids: list) -> Iterable[list]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _refusal(check: Callable[[], None], languages: Sequence[str]) -> ValidationError | None:
    """None when `check` passes; else its ValidationError, with its messages in each of
    `languages` (a Refused: the same check, against the same state, in each)."""
    try:
        check()
    except ValidationError as error:
        if not languages:
            return error
        in_languages = {}
        for language in languages:
            with translation.override(language):
                try:
                    check()
                except ValidationError as again:
                    in_languages[language] = again.message_dict
        return Refused(error, in_languages)
    return None


def _required(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: message})
    return text


def _decided(proposal: Proposal, *, by, text: str = "", at=None) -> Proposal:
    """Save the locked proposal's new state and append the decision."""
    at = at or timezone.now()
    proposal.version += 1
    proposal.updated_at = at
    proposal.save()
    decision = ProposalDecision.objects.create(
        proposal=proposal,
        state=proposal.state,
        revision=proposal.revision,
        text=text,
        by=by,
        at=at,
    )
    signals.proposal_decided.send(sender=Proposal, proposal=proposal, decision=decision)
    return proposal


def _link_evidence(proposal: Proposal, ids: list[int]) -> None:
    ProposalEvidence.objects.bulk_create(
        ProposalEvidence(proposal=proposal, evidence_id=pk) for pk in ids
    )


def _append_revision(proposal: Proposal, ids: list[int], *, by, at) -> None:
    ProposalRevision.objects.create(
        proposal=proposal,
        number=proposal.revision,
        status=proposal.status,
        progress=proposal.progress,
        confidence=proposal.confidence,
        effective_date=proposal.effective_date,
        note=proposal.note,
        evidence=ids,
        by=by,
        at=at,
    )
