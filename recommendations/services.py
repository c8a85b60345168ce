"""Writes. Every rule about status history lives here (or in a model constraint), and the admin,
the API and the management commands all call these functions."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.bulk import update_rows
from evidence.choices import Stance
from evidence.models import EvidenceMeasure, StatusUpdateEvidence
from evidence.revisions import current_revisions, record_revisions, uncited

from . import signals
from .choices import Confidence, Status, is_regression
from .integrity import atomic, serialise_history_writes
from .models import Measure, StatusUpdate
from .selectors import LATEST_FIRST

# Fields of a measure that people edit; its state fields are derived from history.
# What a new entry may say: every status but "not assessed", which only a measure's first entry
# says. The record form offers these, and check_update_allowed refuses any other.
RECORDABLE_STATUSES = tuple(status for status in Status.values if status != Status.NOT_ASSESSED)

EDITABLE_MEASURE_FIELDS = (
    "title_zh",
    "title_en",
    "description_zh",
    "description_en",
    "priority",
    "target_date",
    "review_every_days",
    "archived",
)


class StaleVersion(ValidationError):
    """The caller's view of a record (a measure, a source, a piece of evidence) is out of
    date: someone changed it in between."""

    def __init__(self, *, measure: Measure | None = None, record=None, expected: int):
        record = measure if record is None else record
        self.current = record.version
        self.expected = expected
        values = {"expected": expected, "current": record.version}
        if isinstance(record, Measure):
            message = _(
                "Measure %(code)s has changed since you loaded it (you have version "
                "%(expected)s, it is now at version %(current)s). Reload it and try again."
            ) % {"code": record.code, **values}
        else:
            message = _(
                "This %(kind)s has changed since you loaded it (you have version %(expected)s, "
                "it is now at version %(current)s). Reload it and try again."
            ) % {"kind": record._meta.verbose_name, **values}
        super().__init__({"version": ValidationError(message, code="stale_version")})


# What recording an update reads of its measure: the rules' inputs, the state it replaces,
# and its pillar (which the event announcing the update names).
STATE_FIELDS = (
    "code",
    "pillar",
    "archived",
    "status",
    "progress",
    "status_effective_date",
    "version",
)


def lock_measure(
    measure: Measure | int,
    *,
    expected_version: int | None = None,
    fields: tuple[str, ...] | None = None,
) -> Measure:
    """Return the measure's row, locked until the transaction ends: only `fields` loaded
    when given (the rest deferred).

    Raises StaleVersion when `expected_version` is given and is not the current one, and
    Measure.DoesNotExist when there is no such measure.

    Only the row's own columns: what other tables say must be read by a statement of its
    own, after this one. On PostgreSQL a statement that waited for the lock still reads
    other tables as they were when it began (a subquery here would not see, say, the last
    supporting link that the writer it waited for removed: evidence.services).
    """
    pk = measure.pk if isinstance(measure, Measure) else measure
    # Lock the row: two writers to one measure are checked one after the other. NO KEY: rows
    # that refer to the measure may still be written (their foreign-key check, at commit, must
    # not wait on this lock while the change counters' lock is held: freshness.triggers).
    rows = Measure.objects.select_for_update(no_key=True)
    if fields is not None:
        rows = rows.only(*fields)
    locked = rows.get(pk=pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleVersion(measure=locked, expected=expected_version)
    return locked


def history_around(measure: Measure, day: date) -> dict:
    """In one query, what a back-dated update is checked against: the day `measure`'s history
    starts (`start`), the status in force on `day` (`previous_status`) and the first entry
    after `day` (`next_status`, `next_note`, `next_date`); None where there is none."""
    entries = StatusUpdate.objects.filter(measure=OuterRef("pk"))
    previous = entries.filter(effective_date__lte=day).order_by(*LATEST_FIRST)
    following = entries.filter(effective_date__gt=day).order_by(
        "effective_date", "recorded_at", "id"
    )
    return (
        Measure.objects.filter(pk=measure.pk)
        .order_by()
        .values(
            start=Subquery(entries.order_by("effective_date").values("effective_date")[:1]),
            previous_status=Subquery(previous.values("status")[:1]),
            next_status=Subquery(following.values("status")[:1]),
            next_note=Subquery(following.values("note")[:1]),
            next_date=Subquery(following.values("effective_date")[:1]),
        )
        .get()
    )


def check_update_allowed(
    *,
    measure: Measure,
    status: str,
    progress: int | None,
    confidence: str = Confidence.MEDIUM,
    effective_date: date,
    note: str = "",
    evidence: Iterable = (),
    today: date,
    supported: bool | None = None,
) -> None:
    """Raise ValidationError, keyed by field, listing every rule the update would break.

    `measure` should be locked (lock_measure) so that the checks still hold when it is written.
    `supported` says whether the measure has supporting evidence, when the caller has read it
    already (record_status_updates reads it for a batch of measures at once); None reads it.
    """
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    candidate = StatusUpdate(
        measure=measure,
        status=status,
        progress=progress,
        confidence=confidence,
        effective_date=effective_date,
        note=note,
    )
    try:
        candidate.clean()
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            for message in messages:
                fail(field, message)

    if measure.archived:
        fail(
            "measure",
            _("Measure %(code)s is archived; restore it before recording an update.")
            % {"code": measure.code},
        )
    if status not in RECORDABLE_STATUSES:
        fail(
            "status",
            _(
                "“Not assessed” is only a measure's first entry; record what the "
                "assessment found instead (“Not started” if nothing has happened)."
            ),
        )
    if effective_date > today:
        fail(
            "effective_date",
            _("The effective date cannot be in the future (today is %(today)s).")
            % {"today": today.isoformat()},
        )

    # The update's predecessor is the state in force on its effective date: for a back-dated
    # update that is not the current state.
    if measure.status_effective_date and effective_date >= measure.status_effective_date:
        previous_status = measure.status
    else:
        around = history_around(measure, effective_date)
        start = around["start"]
        if start and effective_date < start:
            fail(
                "effective_date",
                _(
                    "The history of measure %(code)s starts on %(start)s; an "
                    "update cannot take effect before it."
                )
                % {"code": measure.code, "start": start.isoformat()},
            )
        previous_status = around["previous_status"]
        # The entry after a back-dated one moves from it: that move must not become an
        # unexplained regression.
        if (
            around["next_status"] is not None
            and not around["next_note"].strip()
            and not note.strip()
            and is_regression(status, around["next_status"])
        ):
            fail(
                "note",
                _(
                    "The entry of %(day)s (“%(next)s”) would then read as a move back from "
                    "“%(this)s” with no note; add a note explaining it."
                )
                % {
                    "day": around["next_date"].isoformat(),
                    "next": Status(around["next_status"]).label,
                    "this": Status(status).label,
                },
            )

    if not note.strip():
        if is_regression(previous_status, status):
            fail(
                "note",
                _("Moving from “%(from)s” back to “%(to)s” needs a note saying why.")
                % {"from": Status(previous_status).label, "to": Status(status).label},
            )
        elif status == Status.STALLED:
            fail("note", _("Say what is blocking the measure."))
        elif status == Status.ABANDONED:
            fail("note", _("Say why the measure was abandoned."))

    if (
        status == Status.IMPLEMENTED
        and not list(evidence)
        and not (has_supporting_evidence(measure) if supported is None else supported)
    ):
        fail(
            "evidence",
            _(
                "Attach at least one piece of evidence that the measure is "
                "implemented, to this update or to the measure (stance “supports”)."
            ),
        )
    if errors:
        raise ValidationError(errors)


def has_supporting_evidence(measure: Measure) -> bool:
    return measure.evidence_links.filter(stance=Stance.SUPPORTS).exists()


def record_status_update(
    *,
    measure: Measure | int,
    status: str,
    progress: int | None,
    effective_date: date,
    confidence: str = Confidence.MEDIUM,
    note: str = "",
    evidence: Iterable = (),
    by: AbstractBaseUser | None,
    expected_version: int | None = None,
    today: date | None = None,
    approved_by: AbstractBaseUser | None = None,
    proposed_at: datetime | None = None,
) -> StatusUpdate:
    """Append an update to the measure's history and refresh its current state, atomically.
    `evidence` are pieces of evidence or their ids; each is cited at its current revision.
    An approved proposal (review.services.approve) is recorded `by` its proposer, with who
    `approved_by` it and when it was `proposed_at`; a database constraint refuses one person
    in both roles.

    Raises StaleVersion when `expected_version` is not the measure's version, and
    ValidationError, keyed by field, when any rule forbids the update (or names evidence that
    does not exist); nothing is written then. Measure.DoesNotExist when there is no such
    measure. The update comes back with its measure (the state fields, at the new version) and
    its evidence links with their cited revisions, loaded: reading them costs no query.
    """
    ids = list(dict.fromkeys(getattr(piece, "pk", piece) for piece in evidence))
    today = today or timezone.localdate()
    with atomic():
        locked = lock_measure(measure, expected_version=expected_version, fields=STATE_FIELDS)
        cited = current_revisions(ids)
        unrevisioned, unknown = uncited(ids, cited)
        if unknown:
            raise ValidationError(
                {
                    "evidence": _("Evidence %(ids)s does not exist.")
                    % {"ids": ", ".join(map(str, unknown))}
                }
            )
        check_update_allowed(
            measure=locked,
            status=status,
            progress=progress,
            confidence=confidence,
            effective_date=effective_date,
            note=note,
            evidence=ids,
            today=today,
        )
        return _append_update(
            locked,
            status=status,
            progress=progress,
            confidence=confidence,
            effective_date=effective_date,
            note=note.strip(),
            by=by,
            ids=ids,
            cited=cited,
            unrevisioned=unrevisioned,
            approved_by=approved_by,
            proposed_at=proposed_at,
        )


def _append_update(
    locked: Measure,
    *,
    status: str,
    progress: int | None,
    confidence: str,
    effective_date: date,
    note: str,
    by,
    ids: list[int],
    cited: list,
    unrevisioned: list[int],
    approved_by=None,
    proposed_at: datetime | None = None,
) -> StatusUpdate:
    """The writes of record_status_update, once every rule has passed."""
    # Ids commit in order, so a feed paged by id skips none; the moment is the database's.
    moment = serialise_history_writes()
    update = StatusUpdate.objects.create(
        measure=locked,
        status=status,
        progress=progress,
        confidence=confidence,
        effective_date=effective_date,
        note=note,
        recorded_by=by,
        recorded_at=moment,
        approved_by=approved_by,
        proposed_at=proposed_at,
    )
    if unrevisioned:
        # Pieces written around the services get the revision of what they hold now.
        record_revisions(unrevisioned)
        cited = current_revisions(ids)
    # Each piece is cited at its current revision: later edits make new ones, not this one.
    links = StatusUpdateEvidence.objects.bulk_create(
        StatusUpdateEvidence(
            status_update=update,
            evidence_id=revision.evidence_id,
            revision=revision,
        )
        for revision in cited
    )
    refresh_current_state(locked, latest=update, at=moment)
    update.measure = locked
    # Known, in Evidence's order (as the API lists them): no query to read them back. (As
    # prefetch_related leaves them: a queryset holding its results.)
    known = update.evidence_links.all()
    known._result_cache, known._prefetch_done = links, True
    update._prefetched_objects_cache = {"evidence_links": known}
    signals.status_updates_recorded.send(sender=StatusUpdate, updates=[update])
    return update


def refresh_current_state(
    measure: Measure, *, latest: StatusUpdate | None = None, at: datetime | None = None
) -> Measure:
    """Set the measure's stored state to the latest entry of its history and bump its version;
    `updated_at` becomes `at` (by default now).

    `latest` is the update just appended, recorded at the database's clock under the history
    writers' lock (so after every other entry): it is the latest unless it was back-dated, in
    which case the history is read again.
    """
    if (
        latest is None
        or measure.status_effective_date is None
        or latest.effective_date < measure.status_effective_date
    ):
        latest = StatusUpdate.objects.filter(measure=measure).order_by(*LATEST_FIRST).first()
    measure.status = latest.status if latest else Status.NOT_ASSESSED
    measure.progress = latest.progress if latest else None
    measure.status_effective_date = latest.effective_date if latest else None
    measure.version += 1
    measure.updated_at = at or timezone.now()
    # An UPDATE, not a save: the row is locked and every value is known, so there is nothing
    # to read first (the audit trail's save handler reads the row before a save to compare,
    # and records none of these fields: audit.registry).
    Measure.objects.filter(pk=measure.pk).update(
        status=measure.status,
        progress=measure.progress,
        status_effective_date=measure.status_effective_date,
        version=measure.version,
        updated_at=measure.updated_at,
    )
    return measure


def check_history_start(starts_on: date, *, today: date) -> None:
    """Raise ValidationError (key `starts_on`) when a history would start in the future:
    no update could then ever be recorded, as updates can be neither future nor earlier."""
    if starts_on > today:
        raise ValidationError(
            {
                "starts_on": _("A history cannot start in the future (today is %(today)s).")
                % {"today": today.isoformat()}
            }
        )


@transaction.atomic
def start_history(
    *, measure: Measure, starts_on: date, by=None, today: date | None = None
) -> StatusUpdate:
    """Give a measure with no history its first entry: not assessed, effective `starts_on`
    (not after `today`, by default the local date)."""
    check_history_start(starts_on, today=today or timezone.localdate())
    locked = lock_measure(measure)
    if locked.status_updates.exists():
        raise ValidationError(
            {"measure": _("Measure %(code)s already has a history.") % {"code": locked.code}}
        )
    moment = serialise_history_writes()
    update = StatusUpdate.objects.create(
        measure=locked,
        status=Status.NOT_ASSESSED,
        progress=None,
        confidence="",
        effective_date=starts_on,
        recorded_by=by,
        recorded_at=moment,
    )
    refresh_current_state(locked, latest=update, at=moment)
    measure.refresh_from_db()
    update.measure = locked
    signals.status_updates_recorded.send(sender=StatusUpdate, updates=[update])
    return update


@transaction.atomic
def create_measure(
    *, measure: Measure, starts_on: date, by=None, today: date | None = None
) -> Measure:
    """Save a new measure and start its history (not assessed, effective `starts_on`).

    Raises ValidationError, writing nothing, when a field breaks a rule.
    """
    measure.full_clean()
    measure.save()
    start_history(measure=measure, starts_on=starts_on, by=by, today=today)
    signals.measure_changed.send(sender=Measure, measure=measure, created=True, by=by)
    return measure


@transaction.atomic
def update_measure(
    *,
    measure: Measure | int,
    changes: dict,
    links_changed: bool = False,
    expected_version: int | None = None,
    by=None,
) -> Measure:
    """Change a measure's descriptive fields and bump its version. `links_changed` says that
    the caller changed its links (institutions, risks, scenarios) in this transaction: that is
    a change too, which readers polling versions or `updated_at` must see.

    Changing nothing writes nothing. Raises StaleVersion on a stale `expected_version`,
    ValidationError on a field that is not editable or a value that breaks a rule; nothing is
    written then.
    """
    locked = lock_measure(measure, expected_version=expected_version)
    not_editable = sorted(set(changes) - set(EDITABLE_MEASURE_FIELDS))
    if not_editable:
        raise ValidationError(
            {field: _("This field cannot be changed here.") for field in not_editable}
        )
    changed = {field: value for field, value in changes.items() if getattr(locked, field) != value}
    if not changed and not links_changed:
        return locked
    for field, value in changed.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.save()
    signals.measure_changed.send(sender=Measure, measure=locked, created=False, by=by)
    return locked


# Many updates at once (a spreadsheet's rows): rows written, and measures read, per statement.
BATCH = 500


@dataclass(frozen=True)
class NewUpdate:
    """One update for record_status_updates: what record_status_update takes, the measure by
    its id."""

    measure: int
    status: str
    progress: int | None
    effective_date: date
    confidence: str = Confidence.MEDIUM
    note: str = ""
    evidence: tuple = ()  # pieces of Evidence


class Refused(ValidationError):
    """An update of record_status_updates that a rule refused: the ValidationError of
    check_update_allowed, with its messages in each language asked for (`in_languages`:
    language code -> field -> messages)."""

    def __init__(self, error: ValidationError, in_languages: dict[str, dict[str, list[str]]]):
        super().__init__(error.error_dict if hasattr(error, "error_dict") else error.messages)
        self.in_languages = in_languages


def lock_measures(ids: Iterable[int]) -> dict[int, Measure]:
    """The measures `ids`, locked until the transaction ends, by id. Locked in id order, so
    that two writers of several measures never wait on each other in a circle."""
    ids = sorted(set(ids))
    locked = {}
    for start in range(0, len(ids), BATCH):
        rows = Measure.objects.select_for_update(no_key=True).filter(
            pk__in=ids[start : start + BATCH]
        )
        locked.update((measure.pk, measure) for measure in rows.order_by("pk"))
    return locked


def record_status_updates(
    updates: Sequence[NewUpdate],
    *,
    by: AbstractBaseUser | None,
    today: date | None = None,
    dry_run: bool = False,
    languages: Sequence[str] = (),
) -> list[StatusUpdate | ValidationError]:
    """Record `updates` in their order, as record_status_update would one after the other:
    each is checked by check_update_allowed against the state the updates before it make (a
    measure's second update of the batch against the first), and those the rules refuse are
    left out. Returns, for each update, its StatusUpdate or the ValidationError refusing it (a
    `Refused` with its messages in `languages`, when given). An unknown measure is refused.

    The writes are those of record_status_update: measures locked, entries appended at the
    history writers' turn, evidence cited at its current revision, each measure's state
    refreshed and its version bumped once per entry. They run in the caller's transaction (or
    one of their own), in a constant number of statements per BATCH updates, plus three
    reads for an update back-dated before a measure's current state (the history around its
    date, as for one update). The caller decides what to do with refusals: roll back, or
    commit the rest.

    `dry_run` checks the same way and writes nothing that outlives the call: measures are
    read, not locked; nothing is written unless an update back-dated into entries of this
    batch needs them in the history to be checked, and that is rolled back. The StatusUpdates
    returned then are not saved.
    """
    today = today or timezone.localdate()
    results: list[StatusUpdate | ValidationError | None] = [None] * len(updates)
    with transaction.atomic():
        ids = {update.measure for update in updates}
        if dry_run:
            measures = {
                m.pk: m
                for chunk in _chunks(sorted(ids))
                for m in Measure.objects.filter(pk__in=chunk)
            }
        else:
            measures = lock_measures(ids)
        supported = {
            pk
            for chunk in _chunks(sorted(measures))
            for pk in EvidenceMeasure.objects.filter(measure__in=chunk, stance=Stance.SUPPORTS)
            .values_list("measure_id", flat=True)
            .distinct()
        }
        batch = _Batch(by=by, write=not dry_run)
        for index, update in enumerate(updates):
            measure = measures.get(update.measure)
            if measure is None:
                results[index] = _refusal(
                    lambda pk=update.measure: ValidationError(
                        {"measure": _("There is no measure %(id)s.") % {"id": pk}}
                    ),
                    languages,
                )
                continue
            back_dated = (
                measure.status_effective_date is not None
                and update.effective_date < measure.status_effective_date
            )
            if back_dated and measure.pk in batch.measures:
                # Checked against the history around its date, which must hold the updates
                # of this batch before it.
                batch.flush(results)
            rule = {
                "measure": measure,
                "status": update.status,
                "progress": update.progress,
                "confidence": update.confidence,
                "effective_date": update.effective_date,
                "note": update.note,
                "evidence": update.evidence,
                "today": today,
                "supported": measure.pk in supported,
            }
            try:
                check_update_allowed(**rule)
            except ValidationError as error:
                results[index] = _refused(error, rule, languages)
                continue
            batch.add(index, measure, update)
            if batch.write and len(batch.entries) >= BATCH:
                batch.flush(results)
        if batch.write:
            batch.flush(results)
        else:
            for index, entry, _evidence in batch.entries:
                results[index] = entry
            if batch.flushed:  # rolled back below
                for result in results:
                    if isinstance(result, StatusUpdate):
                        result.pk = None
            transaction.set_rollback(True)
    return results


def _chunks(ids: list) -> Iterable[list]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _refusal(make: Callable[[], ValidationError], languages: Sequence[str]) -> ValidationError:
    error = make()
    if not languages:
        return error
    in_languages = {}
    for language in languages:
        with translation.override(language):
            in_languages[language] = make().message_dict
    return Refused(error, in_languages)


def _refused(error: ValidationError, rule: dict, languages: Sequence[str]) -> ValidationError:
    """The refusal of check_update_allowed, with its messages in `languages`: the same check,
    against the same state, in each."""
    if not languages:
        return error

    def check() -> ValidationError:
        try:
            check_update_allowed(**rule)
        except ValidationError as refusal:
            return refusal
        return error

    in_languages = {}
    for language in languages:
        with translation.override(language):
            in_languages[language] = check().message_dict
    return Refused(error, in_languages)


class _Batch:
    """The updates of record_status_updates checked and not yet written."""

    def __init__(self, *, by, write: bool):
        self.by = by
        self.write = write
        self.entries: list[tuple[int, StatusUpdate, tuple]] = []
        self.measures: dict[int, Measure] = {}
        self.flushed = False

    def add(self, index: int, measure: Measure, update: NewUpdate) -> None:
        entry = StatusUpdate(
            measure=measure,
            status=update.status,
            progress=update.progress,
            confidence=update.confidence,
            effective_date=update.effective_date,
            note=update.note.strip(),
            recorded_by=self.by,
        )
        self.entries.append((index, entry, update.evidence))
        self.measures[measure.pk] = measure
        # The state the entry makes (refresh_current_state's rule): the latest entry by
        # effective date, this one recorded after every other.
        if measure.status_effective_date is None or entry.effective_date >= (
            measure.status_effective_date
        ):
            measure.status = entry.status
            measure.progress = entry.progress
            measure.status_effective_date = entry.effective_date
        measure.version += 1

    def flush(self, results: list) -> None:
        """Write the entries checked so far, and the state they make."""
        if not self.entries:
            return
        self.flushed = True
        # Ids commit in order, so a feed paged by id skips none; the moment is the database's.
        # A dry run's entries are rolled back: they need no turn.
        moment = serialise_history_writes() if self.write else timezone.now()
        entries = [entry for _index, entry, _evidence in self.entries]
        for entry in entries:
            entry.recorded_at = moment
        StatusUpdate.objects.bulk_create(entries)
        # Each piece is cited at its current revision: later edits make new ones, not this one.
        # Pieces written around the services get the revision of what they hold now.
        ids = sorted({piece.pk for _i, _e, evidence in self.entries for piece in evidence})
        revisions = current_revisions(ids)
        unrevisioned, _unknown = uncited(ids, revisions)
        if unrevisioned:
            record_revisions(unrevisioned)
            revisions = current_revisions(ids)
        cited = {revision.evidence_id: revision for revision in revisions}
        StatusUpdateEvidence.objects.bulk_create(
            StatusUpdateEvidence(status_update=entry, evidence=piece, revision=cited[piece.pk])
            for _index, entry, evidence in self.entries
            for piece in evidence
        )
        measures = list(self.measures.values())
        for measure in measures:
            measure.updated_at = moment
        update_rows(
            Measure,
            measures,
            ["status", "progress", "status_effective_date", "version", "updated_at"],
        )
        for index, entry, _evidence in self.entries:
            results[index] = entry
        if self.write:
            signals.status_updates_recorded.send(sender=StatusUpdate, updates=entries)
        self.entries = []
        self.measures = {}
