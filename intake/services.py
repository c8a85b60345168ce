"""Importing a spreadsheet of status updates: a dry run first, always; then confirmation.

- `check_file` reads the file (intake.readers, intake.parsing), checks every row with the rule
  the service records with (recommendations.services.record_status_updates, in a dry run: the
  rows of one measure against the state the rows before them make, nothing written), and
  stores the import with each row's outcome: would record, already recorded, or the error and
  its column.
- `confirm` records every row that would record, in one transaction, checked again against
  the state then in force; if any now fails, it records none and says which.

A row is **already recorded** when the history holds what it says: the measure's entry with
the same status, progress, confidence, effective date, note and evidence, as many times as
the file says it up to that row. So importing a file again writes nothing, and nor does
importing the status history export into the database it came from.

`route` decides what a valid row becomes for whoever imports it; it is the one place to say
it.
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from importlib import import_module

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from config.bulk import update_rows
from evidence.models import Evidence, StatusUpdateEvidence
from recommendations import services as recording
from recommendations.models import Measure, StatusUpdate
from recommendations.services import StaleVersion

from . import parsing, readers
from .models import Import, ImportRow
from .parsing import LANGUAGES, Layout, Row, compared

RECORD = "record"
# Rows read, checked and stored per statement.
BATCH = recording.BATCH

Outcome = ImportRow.Outcome


def route(user) -> str:
    """What a valid row imported by `user` becomes: "record" (recorded on confirmation) for
    an analyst or a superuser, or for a command run with no user; anyone else may not import
    (PermissionDenied). Nor may a user whose status updates go to review (a reporter, an
    analyst under REVIEW_ANALYST_UPDATES: the review app's `needs_review`), until rows can be
    proposed: recording them would skip the second pair of eyes. Whether a user's rows are
    recorded or proposed is decided here and nowhere else."""
    if user is None:
        return RECORD
    review = review_hook()
    if user.is_active and review is not None and review.needs_review(user):
        raise PermissionDenied(
            _(
                "Your status updates go to review, and an import cannot propose them yet: "
                "propose each update, or ask an analyst whose updates are recorded to import "
                "the file."
            )
        )
    if user.is_active and (user.is_superuser or user.has_perm("intake.add_import")):
        return RECORD
    raise PermissionDenied(_("Only analysts may import status updates."))


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
    Nothing is recorded. Raises FileRefused (a ValidationError) for a file that cannot be
    imported at all, and PermissionDenied for a user who may not import."""
    route(by)
    sheet = readers.read(data)
    layout, rows = parsing.rows(sheet, progress)
    apply(rows, layout, by=by, today=today or timezone.localdate(), dry_run=True)
    with transaction.atomic():
        imported = Import.objects.create(
            filename=filename[:255] or "-",
            digest=hashlib.sha256(data).hexdigest(),
            size=len(data),
            format=sheet.format,
            encoding=sheet.encoding,
            channel=channel,
            uploaded_by=by,
            layout={name: list(where) for name, where in layout.positions.items()},
            **counts(rows),
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


def counts(rows: Iterable[Row]) -> dict[str, int]:
    tally = Counter(row.outcome for row in rows)
    return {
        "rows": sum(tally.values()),
        "to_record": tally[Outcome.RECORD] + tally[Outcome.RECORDED],
        "already": tally[Outcome.ALREADY],
        "errors": tally[Outcome.ERROR],
    }


def confirm(
    imported: Import | int,
    *,
    by,
    today: date | None = None,
    expected_version: int | None = None,
) -> Import:
    """Record every row of the import that would record, in one transaction, each checked
    again against the state then in force (rows already recorded in between are left out).
    If any row is now refused, nothing is recorded: the rows' new outcomes are stored and a
    ValidationError names each refused row. A confirmed import cannot be confirmed again.
    StaleVersion when `expected_version` is given and the outcomes have changed since."""
    route(by)
    pk = imported.pk if isinstance(imported, Import) else imported
    today = today or timezone.localdate()
    try:
        with transaction.atomic():
            imported = Import.objects.select_for_update().get(pk=pk)
            if expected_version is not None and expected_version != imported.version:
                raise StaleVersion(record=imported, expected=expected_version)
            if imported.confirmed:
                raise ValidationError(
                    _("This import was confirmed on %(when)s; its rows are recorded.")
                    % {"when": f"{timezone.localtime(imported.confirmed_at):%Y-%m-%d %H:%M}"}
                )
            stored = list(
                imported.row_results.filter(outcome__in=[Outcome.RECORD, Outcome.ALREADY])
            )
            rows = [stored_row(row) for row in stored]
            apply(rows, layout_of(imported), by=by, today=today, dry_run=False)
            for row, record in zip(rows, stored, strict=True):
                record.outcome = row.outcome
                record.status_update = row.status_update
            update_rows(ImportRow, stored, ["outcome", "status_update"])
            imported.state = Import.State.CONFIRMED
            imported.confirmed_by = by
            imported.confirmed_at = timezone.now()
            tally = Counter(row.outcome for row in rows)
            imported.to_record = tally[Outcome.RECORDED]
            imported.already = tally[Outcome.ALREADY]
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
        tally = Counter(imported.row_results.values_list("outcome", flat=True))
        imported.to_record = tally[Outcome.RECORD]
        imported.already = tally[Outcome.ALREADY]
        imported.errors = tally[Outcome.ERROR]
        imported.version += 1
        imported.save(update_fields=["to_record", "already", "errors", "version"])


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


def apply(rows: list[Row], layout: Layout, *, by, today: date, dry_run: bool) -> None:
    """Give each row its outcome: rows with problems are errors; the others are looked up
    (their measure and evidence), compared with the history (already recorded?), and the rest
    checked and, unless `dry_run`, recorded, in their `sequence`. Raises NowRefused, having
    written nothing, when a row to record is refused and not `dry_run`."""
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
    with transaction.atomic():
        if not dry_run:
            # Before the history is read: a confirmation of the same rows running beside this
            # one waits here, then finds them recorded.
            recording.lock_measures(measures[row.values["measure"]] for row in readable)
        recorded = in_history(readable, measures)
        said: Counter = Counter()
        to_check = []
        for row in readable:  # in the file's order: the k-th row saying the same
            said[compared(row.values)] += 1
            if said[compared(row.values)] <= recorded[compared(row.values)]:
                row.outcome = Outcome.ALREADY
            else:
                to_check.append(row)
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
        refused = [row for row in to_check if row.problems]
        if refused and not dry_run:
            raise NowRefused(refused)
    for row in rows:
        if row.problems:
            row.outcome = Outcome.ERROR


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
    codes = {pk: code for code, pk in measures.items()}
    entries: dict[int, tuple] = {}
    for chunk in chunks(rows):
        found = StatusUpdate.objects.filter(
            measure__in={measures[row.values["measure"]] for row in chunk},
            effective_date__in={row.values["effective_date"] for row in chunk},
        ).values_list(
            "id", "measure_id", "status", "progress", "confidence", "effective_date", "note"
        )
        for pk, measure, status, progress, confidence, day, note in found:
            entries[pk] = (codes[measure], status, progress, confidence, day.isoformat(), note)
    keys: dict[int, list[str]] = {pk: [] for pk in entries}
    for chunk in chunks(sorted(entries)):
        for update, key in StatusUpdateEvidence.objects.filter(status_update__in=chunk).values_list(
            "status_update_id", "evidence__key"
        ):
            keys[update].append(key or "")  # a piece with no key: no row names it
    return Counter(
        (*entry[:5], entry[5].strip(), tuple(sorted(keys[pk]))) for pk, entry in entries.items()
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
