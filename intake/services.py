"""Importing a spreadsheet of status updates: a dry run first, always; then confirmation.

- `check_file` reads the file (intake.readers, intake.parsing), checks every row and stores the
  import with each row's outcome: would record (or would propose), already recorded (or
  already proposed), or the error and its column. Nothing is recorded or proposed.
- `confirm` writes every row that would record (or propose), in one transaction, checked again
  against the state then in force; if any now fails, it writes none and says which.

What a valid row becomes is decided by `route`, for whoever imports: an analyst's rows are
recorded, with the rule the service records with (recommendations.services.
record_status_updates: in a dry run, the rows of one measure against the state the rows before
them make); the rows of someone whose updates go to review (a reporter) are proposed, by the
review app's rules (review.services.propose_many: each row as one proposal would be, against
the measure's state now, by someone who may propose for that measure).

A row is **already recorded** when the history holds what it says: the measure's entry with
the same status, progress, confidence, effective date, note and evidence, as many times as
the file says it up to that row; in a file of proposals, a row is **already proposed** when an
open proposal of the same person says it (an approved one is in the history: already
recorded). So importing a file again writes nothing, and nor does importing the status history
export into the database it came from.
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from importlib import import_module

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from config.bulk import update_rows
from evidence.models import Evidence, StatusUpdateEvidence
from recommendations import services as recording
from recommendations.models import Measure, StatusUpdate
from recommendations.services import StaleVersion
from review import services as reviewing
from review.choices import OPEN
from review.models import Proposal, ProposalEvidence

from . import parsing, readers
from .models import Import, ImportRow
from .parsing import LANGUAGES, Layout, Row, compared

RECORD = Import.Route.RECORD
PROPOSE = Import.Route.PROPOSE
# Rows read, checked and stored per statement.
BATCH = recording.BATCH

Outcome = ImportRow.Outcome
# The rows a confirmation checks again: those it writes, and those that say what the history
# (or an open proposal) already says, which count how many times it is said.
CHECKED_AGAIN = {
    RECORD: [Outcome.RECORD, Outcome.ALREADY],
    PROPOSE: [Outcome.PROPOSE, Outcome.ALREADY, Outcome.ALREADY_PROPOSED],
}


def route(user) -> str:
    """What a valid row imported by `user` becomes: "record" (recorded on confirmation) for
    an analyst or a superuser, or for a command run with no user; "propose" (proposed for
    review on confirmation, in the user's name) for a user whose status updates go to review
    (a reporter, an analyst under REVIEW_ANALYST_UPDATES: the review app's `needs_review`,
    asked through the hook the status-update POST asks), so that no import records what a
    second pair of eyes should see first. Anyone else may not import (PermissionDenied).
    Whether a user's rows are recorded or proposed is decided here and nowhere else."""
    if user is None:
        return RECORD
    if not user.is_active or not (user.is_superuser or user.has_perm("intake.add_import")):
        raise PermissionDenied(_("Only analysts and reporters may import status updates."))
    review = review_hook()
    if review is not None and review.needs_review(user):
        return PROPOSE
    if user.is_superuser or user.has_perm("recommendations.add_statusupdate"):
        return RECORD
    raise PermissionDenied(
        _("You may neither record status updates nor propose them, so you may not import them.")
    )


def review_hook():
    """The module that says whose status updates go to review (settings.STATUS_UPDATE_REVIEW,
    the review app's), or None."""
    path = getattr(settings, "STATUS_UPDATE_REVIEW", "")
    return import_module(path) if path else None


class NowRefused(Exception):
    """Confirmation found rows that the rules now refuse; nothing was recorded."""

    def __init__(self, rows: list[Row]):
        super().__init__(rows)
        self.rows = rows


def check_file(
    *,
    data: bytes,
    filename: str,
    by,
    channel: str,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> Import:
    """Read the file, check each row in a dry run, and store the import and its rows' outcomes.
    Nothing is recorded or proposed. Raises FileRefused (a ValidationError) for a file that
    cannot be imported at all, and PermissionDenied for a user who may not import."""
    kind = route(by)
    sheet = readers.read(data)
    layout, rows = parsing.rows(sheet, progress)
    apply(rows, layout, by=by, today=today or timezone.localdate(), dry_run=True, kind=kind)
    with transaction.atomic():
        imported = Import.objects.create(
            filename=filename[:255] or "-",
            digest=hashlib.sha256(data).hexdigest(),
            size=len(data),
            format=sheet.format,
            encoding=sheet.encoding,
            channel=channel,
            uploaded_by=by,
            route=kind,
            layout={name: list(where) for name, where in layout.positions.items()},
            **counts(row.outcome for row in rows),
        )
        ImportRow.objects.bulk_create(
            (
                ImportRow(
                    of_import=imported,
                    number=row.number,
                    sequence=row.sequence,
                    key=row.key,
                    values=row.values,
                    outcome=row.outcome,
                    problems=[problem.as_json() for problem in row.problems],
                )
                for row in rows
            ),
            batch_size=BATCH,
        )
    return imported


def counts(outcomes: Iterable[str]) -> dict[str, int]:
    """How many rows came out each way, as Import counts them."""
    tally = Counter(outcomes)
    return {
        "rows": sum(tally.values()),
        "to_record": tally[Outcome.RECORD] + tally[Outcome.RECORDED],
        "to_propose": tally[Outcome.PROPOSE] + tally[Outcome.PROPOSED],
        "already": tally[Outcome.ALREADY],
        "already_proposed": tally[Outcome.ALREADY_PROPOSED],
        "errors": tally[Outcome.ERROR],
    }


# What a confirmation (or a refusal) changes of the counts: errors aside, they are of the rows
# checked again.
COUNTED = ("to_record", "to_propose", "already", "already_proposed")


def confirm(
    imported: Import | int,
    *,
    by,
    today: date | None = None,
    expected_version: int | None = None,
) -> Import:
    """Record (or propose, as the import's route says) every row of the import that would
    record (or propose), in one transaction, each checked again against the state then in
    force (rows recorded, or proposed, in between are left out). If any row is now refused,
    nothing is written: the rows' new outcomes are stored and a ValidationError names each
    refused row. A confirmed import cannot be confirmed again. StaleVersion when
    `expected_version` is given and the outcomes have changed since. PermissionDenied when
    `by` may not import, or confirms proposals someone else uploaded; ValidationError when
    `by`'s rows would now become something else than the dry run said (upload again)."""
    kind = route(by)
    pk = imported.pk if isinstance(imported, Import) else imported
    today = today or timezone.localdate()
    try:
        with transaction.atomic():
            imported = Import.objects.select_for_update().get(pk=pk)
            if expected_version is not None and expected_version != imported.version:
                raise StaleVersion(record=imported, expected=expected_version)
            if imported.confirmed:
                message = (
                    _("This import was confirmed on %(when)s; its rows are proposed.")
                    if imported.proposes
                    else _("This import was confirmed on %(when)s; its rows are recorded.")
                )
                when = f"{timezone.localtime(imported.confirmed_at):%Y-%m-%d %H:%M}"
                raise ValidationError(message % {"when": when})
            check_confirmer(imported, by=by, kind=kind)
            stored = list(imported.row_results.filter(outcome__in=CHECKED_AGAIN[kind]))
            rows = [stored_row(row) for row in stored]
            apply(rows, layout_of(imported), by=by, today=today, dry_run=False, kind=kind)
            for row, record in zip(rows, stored, strict=True):
                record.outcome = row.outcome
                record.status_update = row.status_update
                record.proposal = row.proposal
            update_rows(ImportRow, stored, ["outcome", "status_update", "proposal"])
            imported.state = Import.State.CONFIRMED
            imported.confirmed_by = by
            imported.confirmed_at = timezone.now()
            tally = counts(row.outcome for row in rows)
            for name in COUNTED:
                setattr(imported, name, tally[name])
            imported.version += 1
            imported.save()
            return imported
    except NowRefused as refused:
        store_refusals(pk, refused.rows)
        raise ValidationError(
            {
                _("row %(number)s") % {"number": row.number}: [
                    described(problem) for problem in row.problems
                ]
                for row in refused.rows
                if row.problems
            }
        ) from None


def check_confirmer(imported: Import, *, by, kind: str) -> None:
    """Raise unless `by`, whose rows become `kind`, may confirm `imported`: proposals are made
    in the name of who uploaded the file, so only they confirm it (PermissionDenied); and the
    rows must become what the dry run said they would (a reporter's file is not recorded
    because an analyst confirms it, nor is an analyst's proposed because REVIEW_ANALYST_UPDATES
    was turned on since): ValidationError, upload the file again."""
    if imported.proposes and (by is None or by.pk != imported.uploaded_by_id):
        raise PermissionDenied(
            _(
                "Only whoever uploaded this import may confirm it: its rows are proposed for "
                "review in their name."
            )
        )
    if kind != imported.route:
        raise ValidationError(
            _(
                "This import was checked for its rows to be %(checked)s, and yours would now be "
                "%(now)s: upload the file again."
            )
            % {"checked": Import.Route(imported.route).label, "now": Import.Route(kind).label}
        )


def stored_row(record: ImportRow) -> Row:
    return Row(record.number, dict(record.values), [], record.key, record.sequence)


def layout_of(imported: Import) -> Layout:
    return Layout({name: tuple(where) for name, where in imported.layout.items()})


def store_refusals(pk: int, rows: list[Row]) -> None:
    """After a refused confirmation: the refused rows' errors, stored for the import's page."""
    refused = {row.number: row for row in rows if row.problems}
    with transaction.atomic():
        imported = Import.objects.select_for_update().get(pk=pk)
        records = list(imported.row_results.filter(number__in=list(refused)))
        for record in records:
            record.outcome = Outcome.ERROR
            record.problems = [problem.as_json() for problem in refused[record.number].problems]
        update_rows(ImportRow, records, ["outcome", "problems"])
        tally = counts(imported.row_results.values_list("outcome", flat=True))
        for name in (*COUNTED, "errors"):
            setattr(imported, name, tally[name])
        imported.version += 1
        imported.save(update_fields=[*COUNTED, "errors", "version"])


def described(problem: dict | parsing.Problem) -> str:
    """A row's problem (stored, or a parsing.Problem) in the active language, with its
    column: `C “progress (%)”: …`."""
    if isinstance(problem, parsing.Problem):
        problem = problem.as_json()
    messages = problem["messages"]
    text = " ".join(messages.get(get_language()) or next(iter(messages.values()), []))
    if not problem["column"]:
        return text
    return f"{problem['column']} “{problem['heading']}”: {text}"


def apply(
    rows: list[Row], layout: Layout, *, by, today: date, dry_run: bool, kind: str = RECORD
) -> None:
    """Give each row its outcome: rows with problems are errors; the others are looked up
    (their measure and evidence), compared with the history (already recorded?) and, for
    `kind` "propose", with `by`'s open proposals (already proposed?), and the rest checked
    and, unless `dry_run`, recorded (record_rows) or proposed (propose_rows), in their
    `sequence`. Raises NowRefused, having written nothing, when a row is refused and not
    `dry_run`."""
    readable = [row for row in rows if not row.problems]
    measures = measure_ids({row.values["measure"] for row in readable})
    pieces = evidence_by_key({key for row in readable for key in row.values["evidence"]})
    for row in readable:
        code = row.values["measure"]
        if code not in measures:
            row.problems.append(
                layout.problem(
                    "measure",
                    lambda code=code: (
                        _("There is no measure with the code “%(code)s”.") % {"code": code}
                    ),
                )
            )
        unknown = [key for key in row.values["evidence"] if key not in pieces]
        if unknown:
            row.problems.append(
                layout.problem(
                    "evidence",
                    lambda unknown=unknown: (
                        _("No evidence has the key %(keys)s.") % {"keys": parsing.quoted(unknown)}
                    ),
                )
            )
    readable = [row for row in readable if not row.problems]
    write = propose_rows if kind == PROPOSE else record_rows
    with transaction.atomic():
        refused = write(readable, layout, measures, pieces, by=by, today=today, dry_run=dry_run)
        if refused and not dry_run:
            raise NowRefused(refused)
    for row in rows:
        if row.problems:
            row.outcome = Outcome.ERROR


def record_rows(
    rows: list[Row],
    layout: Layout,
    measures: dict[str, int],
    pieces: dict[str, Evidence],
    *,
    by,
    today: date,
    dry_run: bool,
) -> list[Row]:
    """Rows already in the history are "already recorded"; the others are checked by
    record_status_updates (each against the state the rows before it make) and, unless
    `dry_run`, recorded. Returns the rows refused."""
    if not dry_run:
        # Before the history is read: a confirmation of the same rows running beside this
        # one waits here, then finds them recorded.
        recording.lock_measures(measures[row.values["measure"]] for row in rows)
    to_check = not_yet_said(rows, in_history(rows, measures))
    to_check.sort(key=lambda row: row.sequence)
    results = recording.record_status_updates(
        [
            recording.NewUpdate(
                measure=measures[row.values["measure"]],
                status=row.values["status"],
                progress=row.values["progress"],
                effective_date=date.fromisoformat(row.values["effective_date"]),
                confidence=row.values["confidence"],
                note=row.values["note"],
                evidence=tuple(pieces[key] for key in row.values["evidence"]),
            )
            for row in to_check
        ],
        by=by,
        today=today,
        dry_run=dry_run,
        languages=LANGUAGES,
    )
    for row, result in zip(to_check, results, strict=True):
        if isinstance(result, ValidationError):
            row.problems += refusal_problems(result, layout)
        else:
            row.outcome = Outcome.RECORD if dry_run else Outcome.RECORDED
            row.status_update = None if dry_run else result
    return [row for row in to_check if row.problems]


def propose_rows(
    rows: list[Row],
    layout: Layout,
    measures: dict[str, int],
    pieces: dict[str, Evidence],
    *,
    by,
    today: date,
    dry_run: bool,
) -> list[Row]:
    """Rows already in the history are "already recorded", rows an open proposal of `by`
    says are "already proposed"; the others are checked by review.services.propose_many
    (each as one proposal is: against its measure's state now, by someone who may propose
    for that measure) and, unless `dry_run`, proposed, all or none. Returns the rows refused.
    """
    if not dry_run:
        # Before the proposals are read: a confirmation of the same rows by the same person
        # running beside this one waits here, then finds them proposed.
        reviewing.lock_proposer(by)
    to_check = not_yet_said(
        rows, in_history(rows, measures), in_open_proposals(rows, measures, by=by)
    )
    to_check.sort(key=lambda row: row.sequence)
    results = reviewing.propose_many(
        [
            reviewing.NewProposal(
                measure=measures[row.values["measure"]],
                status=row.values["status"],
                progress=row.values["progress"],
                effective_date=date.fromisoformat(row.values["effective_date"]),
                confidence=row.values["confidence"],
                note=row.values["note"],
                evidence=tuple(pieces[key] for key in row.values["evidence"]),
            )
            for row in to_check
        ],
        by=by,
        today=today,
        dry_run=dry_run,
        languages=LANGUAGES,
    )
    for row, result in zip(to_check, results, strict=True):
        if isinstance(result, ValidationError):
            row.problems += refusal_problems(result, layout)
        else:
            row.outcome = Outcome.PROPOSE if dry_run else Outcome.PROPOSED
            row.proposal = None if dry_run else result
    return [row for row in to_check if row.problems]


def not_yet_said(rows: list[Row], recorded: Counter, proposed: Counter | None = None) -> list[Row]:
    """The rows that neither the history (`recorded`) nor open proposals (`proposed`) say
    yet; the others get their outcome. In the file's order: the k-th row saying the same is
    already said when the history and the proposals say it k times or more."""
    proposed = proposed or Counter()
    said: Counter = Counter()
    left = []
    for row in rows:
        what = compared(row.values)
        said[what] += 1
        if said[what] <= recorded[what]:
            row.outcome = Outcome.ALREADY
        elif said[what] <= recorded[what] + proposed[what]:
            row.outcome = Outcome.ALREADY_PROPOSED
        else:
            left.append(row)
    return left


def measure_ids(codes: set[str]) -> dict[str, int]:
    found = {}
    for chunk in chunks(sorted(codes)):
        found.update(Measure.objects.filter(code__in=chunk).values_list("code", "pk"))
    return found


def evidence_by_key(keys: set[str]) -> dict[str, Evidence]:
    found = {}
    for chunk in chunks(sorted(keys)):
        found.update((piece.key, piece) for piece in Evidence.objects.filter(key__in=chunk))
    return found


def chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def in_history(rows: list[Row], measures: dict[str, int]) -> Counter:
    """How many entries of the history say what each row says (parsing.compared): read for
    BATCH rows at a time, their measures' entries on their dates, with their evidence."""
    return saying(
        rows,
        measures,
        StatusUpdate.objects.all(),
        lambda ids: StatusUpdateEvidence.objects.filter(status_update__in=ids).values_list(
            "status_update_id", "evidence__key"
        ),
    )


def in_open_proposals(rows: list[Row], measures: dict[str, int], *, by) -> Counter:
    """How many open proposals (pending, or with changes requested) of `by` say what each row
    says, read as in_history reads entries. Approved ones are entries of the history."""
    return saying(
        rows,
        measures,
        Proposal.objects.filter(proposed_by=by, state__in=OPEN),
        lambda ids: ProposalEvidence.objects.filter(proposal__in=ids).values_list(
            "proposal_id", "evidence__key"
        ),
    )


def saying(
    rows: list[Row],
    measures: dict[str, int],
    entries: QuerySet,
    evidence_keys: Callable[[list[int]], QuerySet],
) -> Counter:
    """How many of `entries` (rows with a measure, the fields of a status update and
    evidence) say what each row says: two statements per BATCH rows, their measures' entries
    on their dates, then those entries' evidence keys (`evidence_keys(ids)`: (id, key)
    pairs)."""
    codes = {pk: code for code, pk in measures.items()}
    found: dict[int, tuple] = {}
    for chunk in chunks(rows):
        for pk, measure, status, progress, confidence, day, note in entries.filter(
            measure__in={measures[row.values["measure"]] for row in chunk},
            effective_date__in={row.values["effective_date"] for row in chunk},
        ).values_list(
            "id", "measure_id", "status", "progress", "confidence", "effective_date", "note"
        ):
            found[pk] = (codes[measure], status, progress, confidence, day.isoformat(), note)
    keys: dict[int, list[str]] = {pk: [] for pk in found}
    for chunk in chunks(sorted(found)):
        for entry, key in evidence_keys(chunk):
            keys[entry].append(key or "")  # a piece with no key: no row names it
    return Counter(
        (*entry[:5], entry[5].strip(), tuple(sorted(keys[pk]))) for pk, entry in found.items()
    )


def refusal_problems(error: ValidationError, layout: Layout) -> list[parsing.Problem]:
    """The service's refusal as problems, each in the column of its field, in every language
    the refusal carries (record_status_updates gives it LANGUAGES)."""
    languages = getattr(error, "in_languages", None) or {get_language(): error.message_dict}
    problems = []
    for field in next(iter(languages.values())):
        name = None if field == "__all__" else field
        column, heading = layout.where(name)
        messages = {language: found.get(field, []) for language, found in languages.items()}
        problems.append(parsing.Problem(name, column, heading, messages))
    return problems
