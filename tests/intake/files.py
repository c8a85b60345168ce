"""Spreadsheets for the intake tests, made as people make them: CSV text in an encoding, or an
XLSX workbook written by openpyxl (with typed cells, formulas, merges as asked)."""

import csv
import io
from collections.abc import Callable

from openpyxl import Workbook, load_workbook

HEADINGS = [
    "measure code",
    "status",
    "progress (%)",
    "effective date",
    "confidence",
    "note",
    "evidence keys",
]
HEADINGS_ZH = ["措施编号", "状态", "进度（%）", "生效日期", "置信度", "备注", "证据标识键"]


def csv_bytes(
    rows: list[list],
    *,
    headings: list[str] = HEADINGS,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headings)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: list[list],
    *,
    headings: list[str] = HEADINGS,
    edit: Callable | None = None,
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    if edit:
        edit(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_rows(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
