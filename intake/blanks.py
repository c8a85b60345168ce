"""The template to fill in: a CSV or an XLSX in Chinese or English, with the headings the
import reads and the values each column takes (the statuses a new entry may say, the
confidences).

- CSV: UTF-8 with a byte order mark (so that spreadsheets show its Chinese), its notes in rows
  starting with `#` (which the import skips), then the headings' row.
- XLSX: the sheet to fill in (headings in bold, frozen; the status and confidence columns
  offer their values in a drop-down), and a second sheet listing the values with their keys
  and the notes (the import reads the first sheet only).
"""

import csv
import io

from django.utils.translation import gettext as _
from django.utils.translation import override

from recommendations.choices import Confidence, Status
from recommendations.services import RECORDABLE_STATUSES

from .columns import TEMPLATE

FORMATS = ("csv", "xlsx")
LANGUAGES = ("en", "zh")
LOCALES = {"en": "en", "zh": "zh-hans"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
WIDTHS = (14, 16, 12, 14, 12, 50, 24)


def filename(fmt: str, lang: str) -> str:
    return f"status-updates-template_{lang}.{fmt}"


def statuses() -> list[tuple[str, str]]:
    return [(str(Status(value).label), value) for value in RECORDABLE_STATUSES]


def confidences() -> list[tuple[str, str]]:
    return [(str(label), value) for value, label in Confidence.choices]


def listed(pairs: list[tuple[str, str]]) -> str:
    return _(", ").join(f"{label} ({value})" for label, value in pairs)


def notes() -> list[str]:
    return [
        _(
            "Status updates to import: one row per update, under the headings below. Rows "
            "whose first cell starts with # are not read."
        ),
        _("Status: %(values)s.") % {"values": listed(statuses())},
        _("Confidence: %(values)s.") % {"values": listed(confidences())},
        _(
            "Progress: a whole number from 0 to 100 (“not started” is 0, “implemented” is "
            "100). Effective date: as 2026-05-01, not in the future. Evidence keys: separated "
            "by ; or ,."
        ),
        _(
            "Every import is checked first, row by row, and nothing is recorded until it is "
            "confirmed. A row already recorded is not recorded again."
        ),
        _(
            "If your status updates go to review, each valid row becomes a proposal when you "
            "confirm the import, and is recorded once an analyst approves it."
        ),
    ]


def headings() -> list[str]:
    return [str(column.heading) for column in TEMPLATE]


def template(fmt: str, lang: str) -> bytes:
    """The template file's bytes."""
    with override(LOCALES[lang]):
        return csv_template() if fmt == "csv" else xlsx_template()


def csv_template() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for note in notes():
        writer.writerow([f"# {note}"])
    writer.writerow(headings())
    return ("\ufeff" + out.getvalue()).encode()


def xlsx_template() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("status updates")[:31]
    sheet.append(headings())
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    sheet.freeze_panes = "A2"
    values = workbook.create_sheet(_("valid values")[:31])
    values.append([_("status"), _("key"), "", _("confidence"), _("key")])
    for cell in values[1]:
        cell.font = Font(bold=True)
    rows = max(len(statuses()), len(confidences()))
    for index in range(rows):
        status = statuses()[index] if index < len(statuses()) else ("", "")
        confidence = confidences()[index] if index < len(confidences()) else ("", "")
        values.append([*status, "", *confidence])
    values.append([])
    for note in notes():
        values.append([note])
    for letter, width in zip("ABCDE", (24, 24, 4, 12, 12), strict=True):
        values.column_dimensions[letter].width = width
    title = values.title.replace("'", "''")
    for column, count, letter in (("B", len(statuses()), "A"), ("E", len(confidences()), "D")):
        check = DataValidation(
            type="list",
            formula1=f"'{title}'!${letter}$2:${letter}${count + 1}",
            allow_blank=True,
        )
        check.add(f"{column}2:{column}10001")
        sheet.add_data_validation(check)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
