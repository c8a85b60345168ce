"""Exports written as CSV or XLSX files, in bounded memory: rows stream from one query in
chunks; CSV goes to the client as it is written, XLSX to a temporary file first (openpyxl's
write-only mode keeps no rows in memory) and then to the client from that file.

No cell can run as a formula: CSV text cells follow OWASP's rule (a leading `'`, the same
rule the status reports' CSV uses), and XLSX text cells are typed as text, never as formulas.
"""

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from itertools import islice

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from evidence.models import figure_text
from recommendations.reports.render import csv_text

from .tables import Table

FORMATS = ("csv", "xlsx")
LANGUAGES = ("en", "zh")
LOCALES = {"en": "en", "zh": "zh-hans"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Rows read from the database, and written, at a time.
CHUNK = 1000
# Spreadsheets open a UTF-8 CSV as UTF-8 (and show its Chinese) only after this mark.
BYTE_ORDER_MARK = "\ufeff"


def filename(table: Table, fmt: str, lang: str, today: date) -> str:
    """measures_2026-06-30_zh.xlsx"""
    return f"{table.name}_{today.isoformat()}_{lang}.{fmt}"


def chunks(rows: QuerySet) -> Iterator[list[dict]]:
    """The rows of one query, CHUNK at a time (streamed from the database, not loaded whole)."""
    stream = rows.iterator(chunk_size=CHUNK)
    while chunk := list(islice(stream, CHUNK)):
        yield chunk


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return figure_text(value)
    return str(value)


def csv_lines(table: Table, rows: QuerySet, lang: str) -> Iterator[bytes]:
    """The CSV file, a chunk of rows at a time. The language is switched on for each chunk
    only, so that nothing else the server does between chunks runs in it."""
    out = io.StringIO()
    writer = csv.writer(out)
    with translation.override(LOCALES[lang]):
        writer.writerow([str(column.heading) for column in table.columns])
    yield (BYTE_ORDER_MARK + out.getvalue()).encode()
    for chunk in chunks(rows):
        out.seek(0)
        out.truncate()
        with translation.override(LOCALES[lang]):
            for row in chunk:
                writer.writerow([csv_cell(column.value(row, lang)) for column in table.columns])
        yield out.getvalue().encode()


def xlsx_cell(sheet, value) -> WriteOnlyCell:
    if isinstance(value, datetime):
        value = timezone.localtime(value).replace(tzinfo=None)  # Excel knows no time zones
    elif isinstance(value, Decimal):
        value = Decimal(figure_text(value))  # 400, not 400.0000000000
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters XML cannot hold
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text, even when it starts with "=": never a formula
    elif isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def xlsx_file(table: Table, rows: QuerySet, lang: str):
    """The XLSX workbook (one sheet, headings in bold) in a temporary file, at its start. The
    file is deleted when closed."""
    workbook = Workbook(write_only=True)
    with translation.override(LOCALES[lang]):
        sheet = workbook.create_sheet(title=str(table.title)[:31])
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        headings = []
        for column in table.columns:
            heading = WriteOnlyCell(sheet, value=str(column.heading))
            heading.font = Font(bold=True)
            headings.append(heading)
        sheet.append(headings)
        for chunk in chunks(rows):
            for row in chunk:
                sheet.append(
                    [xlsx_cell(sheet, column.value(row, lang)) for column in table.columns]
                )
    out = tempfile.TemporaryFile()
    workbook.save(out)
    out.seek(0)
    return out


def export_response(table: Table, ids: QuerySet, fmt: str, lang: str, today: date):
    """The file of `table`'s rows among `ids`, as an attachment. Check the size first
    (services.check_export_size): this writes whatever it is given."""
    rows = table.rows(ids)
    name = filename(table, fmt, lang, today)
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_lines(table, rows, lang), content_type=MEDIA_TYPES[fmt]
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        response = FileResponse(
            xlsx_file(table, rows, lang),
            as_attachment=True,
            filename=name,
            content_type=MEDIA_TYPES[fmt],
        )
    # Opened in a browser, a file runs no script and reaches nothing on this origin.
    response["Content-Security-Policy"] = "sandbox"
    return response
