"""Reading a spreadsheet's cells: CSV with the standard library, XLSX with openpyxl in its
read-only mode (rows streamed from the file, never the whole sheet in memory; no pandas).

A file is told by its bytes, not its name: an XLSX is a ZIP archive; anything else must be
text, and is read as CSV. Whatever cannot be read is refused with a FileRefused that says
why, before any row is checked: the wrong kind of file, text in an unknown encoding, formulas
(each cell named), merged cells (each range named), more than IMPORT_MAX_ROWS rows, more than
IMPORT_MAX_BYTES bytes.
"""

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .columns import letter

# An XLSX's parts may unpack to at most this many times IMPORT_MAX_BYTES (a ZIP bomb is
# refused before openpyxl reads it; its shared strings are read whole).
UNPACKED_RATIO = 8
# How many offending cells or ranges an error names before "and N more".
NAMED = 10
# A CSV cell that a spreadsheet would run as a formula is exported with a leading ' (OWASP's
# rule, recommendations.reports.render.csv_text): read, it loses the mark again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls)
ZIP_MAGIC = b"PK\x03\x04"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")


class FileRefused(ValidationError):
    """The file as a whole cannot be imported; nothing was checked or written."""


@dataclass(frozen=True)
class Cell:
    value: Any  # str, int, float, bool, datetime, or None
    percent: bool = False  # an XLSX number shown as a percentage (0.3 shown as 30%)


@dataclass
class Sheet:
    format: str  # "csv" or "xlsx"
    encoding: str = ""  # how a CSV's text was read: an Import.Encoding
    # (row number as a spreadsheet shows it, cells), blank rows and comment rows left out;
    # the first is the headings' row.
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)


def read(data: bytes) -> Sheet:
    """The rows of a CSV or XLSX file."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise too_large(len(data))
    if not data.strip():
        raise FileRefused(_("The file is empty."))
    if data.startswith(ZIP_MAGIC):
        return read_xlsx(data)
    if data.startswith(OLE_MAGIC):
        raise FileRefused(
            _(
                "This is an Excel 97–2003 workbook (.xls), which is not read: save it as an "
                "Excel workbook (.xlsx) or as CSV."
            )
        )
    return read_csv(data)


def too_large(size: int) -> FileRefused:
    return FileRefused(
        _("The file is %(size)s bytes; at most %(limit)s may be imported (IMPORT_MAX_BYTES).")
        % {"size": f"{size:,}", "limit": f"{settings.IMPORT_MAX_BYTES:,}"}
    )


def not_a_spreadsheet() -> FileRefused:
    return FileRefused(
        _(
            "This is not a spreadsheet: import a CSV file (UTF-8 or GBK text) or an Excel "
            "workbook (.xlsx), such as the template."
        )
    )


def too_many_rows() -> FileRefused:
    return FileRefused(
        _(
            "The file has more than %(limit)s rows of status updates, the most one import may "
            "hold (IMPORT_MAX_ROWS): split it into several files."
        )
        % {"limit": f"{settings.IMPORT_MAX_ROWS:,}"}
    )


def named(items: list[str]) -> str:
    shown = ", ".join(items[:NAMED])
    if len(items) > NAMED:
        more = len(items) - NAMED
        shown += " " + ngettext("and %(n)s more", "and %(n)s more", more) % {"n": more}
    return shown


# CSV


def decode(data: bytes) -> tuple[str, str]:
    """The file's text, and the encoding it was read in (an Import.Encoding): UTF-8, with or
    without a byte order mark, UTF-16 with its mark (Excel's "Unicode text"), or GBK (read as
    GB18030, of which GBK is a part: what Excel writes as "CSV" on a Chinese Windows)."""
    if data.startswith(codecs.BOM_UTF8):
        codec, encoding, data = "utf-8", "utf-8-sig", data[3:]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = encoding = "utf-16"
    else:
        # Control characters: binary, whatever it decodes to (neither UTF-8's nor GBK's
        # multi-byte characters use these bytes).
        if CONTROL_BYTES.search(data):
            raise not_a_spreadsheet()
        try:
            return check_text(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            codec, encoding = "gb18030", "gbk"
    try:
        return check_text(data.decode(codec)), encoding
    except UnicodeDecodeError:
        raise FileRefused(
            _(
                "The file's text is neither UTF-8 nor GBK. Save it as “CSV UTF-8” (or as an "
                "Excel workbook) and import it again."
            )
        ) from None


def check_text(text: str) -> str:
    if CONTROL.search(text):
        raise not_a_spreadsheet()
    return text


def delimiter(text: str) -> str:
    """The CSV's delimiter: whichever of comma, semicolon and tab its first line has most of
    (outside quotes)."""
    first = re.sub(r'"[^"]*"', "", text.split("\n", 1)[0])
    counts = {mark: first.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def csv_value(text: str) -> str | None:
    text = text.strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    return text or None


def read_csv(data: bytes) -> Sheet:
    text, encoding = decode(data)
    sheet = Sheet(format="csv", encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text), strict=False)
    try:
        for number, cells in enumerate(reader, start=1):
            values = [Cell(csv_value(cell)) for cell in cells]
            keep(sheet, number, values)
    except csv.Error as error:
        raise FileRefused(
            _("Row %(row)s of the CSV cannot be read (%(reason)s).")
            % {"row": reader.line_num, "reason": error}
        ) from None
    return sheet


def keep(sheet: Sheet, number: int, cells: list[Cell]) -> None:
    """Add a row unless it is blank or a comment (its first cell starts with #)."""
    if all(cell.value is None or cell.value == "" for cell in cells):
        return
    first = cells[0].value if cells else None
    if isinstance(first, str) and first.startswith("#"):
        return
    # The headings' row and at most IMPORT_MAX_ROWS rows under it.
    if len(sheet.rows) > settings.IMPORT_MAX_ROWS:
        raise too_many_rows()
    sheet.rows.append((number, cells))


# XLSX


def read_xlsx(data: bytes) -> Sheet:
    # Imported here: openpyxl is needed only for XLSX.
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise not_a_spreadsheet() from None
    if unpacked > settings.IMPORT_MAX_BYTES * UNPACKED_RATIO:
        raise FileRefused(
            _(
                "The workbook unpacks to %(size)s bytes, more than %(ratio)s times "
                "IMPORT_MAX_BYTES; it cannot be imported."
            )
            % {"size": f"{unpacked:,}", "ratio": UNPACKED_RATIO}
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises whatever its parsers meet in a broken file
        raise not_a_spreadsheet() from None
    try:
        if not workbook.worksheets:
            raise not_a_spreadsheet()
        worksheet = workbook.worksheets[0]
        merged = merged_ranges(archive, getattr(worksheet, "_worksheet_path", ""))
        if merged:
            raise FileRefused(
                ngettext(
                    "The sheet has merged cells (%(ranges)s): unmerge them, giving each row "
                    "its own values.",
                    "The sheet has merged cells (%(ranges)s): unmerge them, giving each row "
                    "its own values.",
                    len(merged),
                )
                % {"ranges": named(merged)}
            )
        sheet = Sheet(format="xlsx")
        formulas: list[str] = []
        try:
            for number, cells in xlsx_rows(worksheet, formulas):
                keep(sheet, number, cells)
        except FileRefused:
            raise
        except Exception:
            raise not_a_spreadsheet() from None
        if formulas:
            raise FileRefused(
                ngettext(
                    "Cell %(cells)s holds a formula. Formulas are not imported: replace each "
                    "with its value (copy, then paste values only).",
                    "Cells %(cells)s hold formulas. Formulas are not imported: replace each "
                    "with its value (copy, then paste values only).",
                    len(formulas),
                )
                % {"cells": named(formulas)}
            )
        return sheet
    finally:
        workbook.close()


def merged_ranges(archive: zipfile.ZipFile, path: str) -> list[str]:
    """The merged ranges of a worksheet part: its <mergeCell ref="A1:B2"/> elements, found in
    the XML as it unpacks (they follow the rows; openpyxl's read-only mode skips them)."""
    if not path:
        return []
    found: list[str] = []
    tail = b""
    with archive.open(path.lstrip("/")) as part:
        while chunk := part.read(1 << 20):
            text = tail + chunk
            found += [match.decode() for match in MERGE_CELL.findall(text)]
            # A tag cut at the chunk's end is found whole in the next one (once found whole
            # in both, it is listed once).
            cut = text.rfind(b"<")
            tail = text[cut:] if cut >= 0 and b">" not in text[cut:] else b""
    return list(dict.fromkeys(found))


def xlsx_rows(worksheet, formulas: list[str]) -> Iterator[tuple[int, list[Cell]]]:
    number = 0
    for row in worksheet.iter_rows():
        number += 1
        cells = []
        for index, cell in enumerate(row):
            kind = getattr(cell, "data_type", "n")
            value = cell.value
            if kind == "f":
                formulas.append(f"{letter(index)}{getattr(cell, 'row', number)}")
                value = None
            elif isinstance(value, str):
                value = value.strip() or None
            percent = isinstance(value, int | float) and "%" in (
                getattr(cell, "number_format", "") or ""
            )
            cells.append(Cell(value, percent))
        real = next((cell.row for cell in row if getattr(cell, "row", None)), None)
        if real:
            number = real
        yield number, cells
