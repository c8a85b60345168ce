"""From a sheet's cells to each row's values, as the services take them, and each cell that
could not be read, by row and column.

What a cell may hold, whether the file is a CSV (text only) or an XLSX (typed cells):

- **measure code**: the code as text (a code that Excel turned into a number, 3.2, is read
  back as "3.2");
- **status** and **confidence**: the key (`in_progress`) or the label in English or Chinese
  ("In progress", "推进中"), whatever the case and spaces;
- **progress**: a whole number from 0 to 100, as a number or as text ("30", "30%", "３０"); a
  number shown as a percentage in Excel (0.3 shown as 30%) is read as shown;
- **effective date**: a date cell, an Excel date serial number (a date cell that lost its
  format), or text as 2026-05-01, 2026/5/1, 2026.5.1 or 2026年5月1日;
- **note**: any text; **evidence keys**: keys separated by `;` or `,` (or spaces, `；`, `，`,
  `、`).

Messages are kept in every language of the site, so that a row's problems read in the
language of whoever looks at them later.
"""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override

from recommendations.choices import Confidence, Status

from . import columns
from .columns import letter
from .readers import Cell, FileRefused, Sheet

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)

DATE_TEXT = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
)
MOMENT_TEXT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
KEY_SEPARATORS = re.compile(r"[\s;,；，、]+")
# Excel's date serial numbers: 1 is 1900-01-01, 2958465 is 9999-12-31.
SERIAL_RANGE = (1, 2958465)


def in_languages(make: Callable[[], str]) -> dict[str, list[str]]:
    """A message in every language of the site."""
    messages = {}
    for language in LANGUAGES:
        with override(language):
            messages[language] = [str(make())]
    return messages


@dataclass
class Problem:
    """What is wrong with a row, in the column at fault (none for the row as a whole)."""

    field: str | None
    column: str  # the column's letter, "" for the row
    heading: str  # the column's heading as the file writes it
    messages: dict[str, list[str]]  # language -> messages

    def as_json(self) -> dict:
        return {
            "field": self.field,
            "column": self.column,
            "heading": self.heading,
            "messages": self.messages,
        }


@dataclass
class Row:
    number: int  # as the spreadsheet numbers it
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    key: str = ""
    sequence: int = 0
    outcome: str = ""  # an ImportRow.Outcome, once checked
    status_update: Any = None  # once recorded
    proposal: Any = None  # once proposed


@dataclass(frozen=True)
class Layout:
    """Where each column is: field -> (index, heading as written)."""

    positions: dict[str, tuple[int, str]]

    @property
    def is_export(self) -> bool:
        """The status history export's layout: its recorded-at orders a day's entries."""
        return "recorded_at" in self.positions

    def where(self, field_name: str | None) -> tuple[str, str]:
        """The letter and heading of the column that gives `field_name` ("", "" if none)."""
        where = self.positions.get(field_name or "")
        if where is None:
            return "", ""
        index, heading = where
        return letter(index), heading

    def problem(self, field_name: str | None, make: Callable[[], str]) -> Problem:
        """A problem in the column that gives `field_name` (the row's, when none does)."""
        return Problem(field_name, *self.where(field_name), in_languages(make))


def quoted(items) -> str:
    return _(", ").join(f"“{item}”" for item in items)


def layout(headings: list[Cell]) -> Layout:
    """The columns of the headings' row; FileRefused naming what is unknown, repeated or
    missing."""
    positions: dict[str, tuple[int, str]] = {}
    unknown, repeated = [], []
    for index, cell in enumerate(headings):
        if cell.value is None:
            continue
        heading = str(cell.value).strip()
        column = columns.column_for(heading)
        if column is None:
            unknown.append(f"{letter(index)} “{heading}”")
        elif column.field in positions:
            repeated.append(f"“{positions[column.field][1]}”, “{heading}”")
        else:
            positions[column.field] = (index, heading)
    missing = [
        str(column.heading)
        for column in columns.TEMPLATE
        if column.required and column.field not in positions
    ]
    problems = []
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": _(", ").join(unknown)})
    if repeated:
        problems.append(
            _("Columns given twice: %(columns)s.") % {"columns": _("; ").join(repeated)}
        )
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": quoted(missing)})
    if problems:
        problems.append(
            _(
                "The first row must name the columns: %(columns)s (the template's; the status "
                "history export's columns are read too)."
            )
            % {"columns": quoted(str(column.heading) for column in columns.TEMPLATE)}
        )
        raise FileRefused(problems)
    return Layout(positions)


def rows(sheet: Sheet, progress: Callable[[int], None] | None = None) -> tuple[Layout, list[Row]]:
    """Each row's values and problems."""
    if not sheet.rows:
        raise FileRefused(_("The file has no rows."))
    (_number, headings), *data = sheet.rows
    found = layout(headings)
    parsed = []
    for count, (number, cells) in enumerate(data, start=1):
        parsed.append(parse_row(found, number, cells))
        if progress and count % 1000 == 0:
            progress(1000)
    if progress:
        progress(len(data) % 1000)
    if not parsed:
        raise FileRefused(_("The file has no rows of status updates under its headings."))
    keyed(parsed)
    ordered(parsed, export=found.is_export)
    return found, parsed


class Unreadable(Exception):
    def __init__(self, make: Callable[[], str]):
        self.make = make


def parse_row(found: Layout, number: int, cells: list[Cell]) -> Row:
    row = Row(number)
    for name, (index, _heading) in found.positions.items():
        if name in columns.NOT_READ:
            continue
        cell = cells[index] if index < len(cells) else Cell(None)
        try:
            row.values[name] = READERS[name](cell)
        except Unreadable as error:
            row.problems.append(found.problem(name, error.make))
    row.values.setdefault("note", "")
    row.values.setdefault("evidence", [])
    count = row.values.pop("evidence_count", None)
    if count is not None and count != len(row.values["evidence"]) and not row.problems:
        row.problems.append(
            found.problem(
                "evidence",
                lambda: (
                    _(
                        "The export counts %(count)s pieces of evidence on this entry, but the row "
                        "names %(keys)s by key: evidence without a key cannot be imported. Give "
                        "each piece a key, or cite it in the admin."
                    )
                    % {"count": count, "keys": len(row.values["evidence"])}
                ),
            )
        )
    return row


# Each field's reader: a cell -> the value, or Unreadable.


def text(cell: Cell) -> str | None:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


def read_measure(cell: Cell) -> str:
    code = text(cell)
    if code is None:
        raise Unreadable(lambda: _("Give the measure's code, such as 3.2."))
    return code


def choice_reader(choices, what: Callable[[], str]):
    def names() -> dict[str, str]:
        known = {}
        for value, label in choices.choices:
            known[squeezed(value)] = value
            for language in LANGUAGES:
                with override(language):
                    known[squeezed(str(label))] = value
        return known

    cache: dict[str, str] = {}

    def read(cell: Cell) -> str:
        if not cache:
            cache.update(names())
        given = text(cell)
        if given is None:
            return ""
        found = cache.get(squeezed(given))
        if found is None:
            raise Unreadable(
                lambda: (
                    _("“%(given)s” is not a %(what)s; write one of %(choices)s.")
                    % {
                        "given": given,
                        "what": what(),
                        "choices": quoted(str(label) for _value, label in choices.choices),
                    }
                )
            )
        return found

    return read


def squeezed(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


read_status = choice_reader(Status, lambda: _("status"))
read_confidence = choice_reader(Confidence, lambda: _("confidence"))


def read_progress(cell: Cell) -> int | None:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, datetime | date):
        raise Unreadable(lambda: _("Progress is a whole number from 0 to 100."))
    if isinstance(value, int | float):
        number = value * 100 if cell.percent else value
    else:
        written = str(value).strip().rstrip("%％").strip()
        try:
            number = float(written)
        except ValueError:
            raise Unreadable(
                lambda: (
                    _("“%(given)s” is not a percentage: write a whole number from 0 to 100.")
                    % {"given": value}
                )
            ) from None
    if number != number or abs(number - round(number)) > 1e-9:  # NaN, or a fraction
        raise Unreadable(lambda: _("Progress is a whole number from 0 to 100."))
    return int(round(number))


def read_date(cell: Cell) -> str:
    value = cell.value
    if value is None:
        raise Unreadable(lambda: _("Give the date the change took effect, such as 2026-05-01."))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel date stored as its serial number (a date cell that lost its format).
        if SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]:
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date().isoformat()
    match = DATE_TEXT.fullmatch(str(value).strip())
    if match:
        try:
            return date(*(int(part) for part in match.groups())).isoformat()
        except ValueError:
            pass
    raise Unreadable(
        lambda: _("“%(given)s” is not a date: write it as 2026-05-01.") % {"given": value}
    )


def read_note(cell: Cell) -> str:
    return text(cell) or ""


def read_keys(cell: Cell) -> list[str]:
    written = text(cell)
    if written is None:
        return []
    return list(dict.fromkeys(key for key in KEY_SEPARATORS.split(written) if key))


def read_moment(cell: Cell) -> str | None:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    match = MOMENT_TEXT.fullmatch(str(value).strip())
    if match:
        year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError:
            pass
        else:
            return moment.isoformat(sep=" ", timespec="seconds")
    raise Unreadable(
        lambda: (
            _("“%(given)s” is not a moment: write it as 2026-05-01 14:30, or leave it empty.")
            % {"given": value}
        )
    )


def read_count(cell: Cell) -> int | None:
    value = cell.value
    if value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or number < 0 or not number.is_integer():
        raise Unreadable(
            lambda: (
                _(
                    "This column is the export's count of evidence; name the pieces under "
                    "“%(column)s” instead."
                )
                % {"column": columns.EVIDENCE.heading}
            )
        )
    return int(number)


READERS: dict[str, Callable[[Cell], Any]] = {
    "measure": read_measure,
    "status": read_status,
    "progress": read_progress,
    "effective_date": read_date,
    "confidence": read_confidence,
    "note": read_note,
    "evidence": read_keys,
    "recorded_at": read_moment,
    "evidence_count": read_count,
}
assert {column.field for column in columns.COLUMNS} == {*READERS, *columns.NOT_READ}

# What a row says, as compared with a history entry (intake.services): its key's parts.
COMPARED = ("measure", "status", "progress", "confidence", "effective_date", "note", "evidence")


def compared(values: dict) -> tuple:
    """What a row says, as compared with a history entry and keyed: a value that could not
    be read is None."""
    note, evidence = values.get("note"), values.get("evidence")
    return (
        values.get("measure"),
        values.get("status"),
        values.get("progress"),
        values.get("confidence"),
        values.get("effective_date"),
        note.strip() if isinstance(note, str) else note,
        tuple(sorted(evidence)) if isinstance(evidence, list) else evidence,
    )


def keyed(parsed: list[Row]) -> None:
    """Each row's key: a digest of what it says and of how many rows before it say the same
    (the second of two identical rows is another entry, with a key of its own)."""
    seen: dict[tuple, int] = {}
    for row in parsed:
        said = compared(row.values)
        seen[said] = occurrence = seen.get(said, 0) + 1
        payload = json.dumps([*said, occurrence], ensure_ascii=False, default=str)
        row.key = hashlib.sha256(payload.encode()).hexdigest()


def ordered(parsed: list[Row], *, export: bool) -> None:
    """The order rows are checked and recorded in (`sequence`): by effective date, then by
    when they were recorded where the file says (the export), then as the file lists them
    (the export lists each history latest first, so its rows go bottom up)."""

    def order(row: Row) -> tuple:
        values = row.values
        return (
            values.get("effective_date") or "",
            values.get("recorded_at") or "",
            -row.number if export else row.number,
        )

    for sequence, row in enumerate(sorted(parsed, key=order), start=1):
        row.sequence = sequence
