"""Files as they come: encodings, Excel's cells, and files that cannot be imported at all,
each refused with a message that says what to fix, storing and recording nothing."""

import io
import zipfile
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from intake import readers, services
from intake.models import Import
from recommendations.models import StatusUpdate
from tests.conftest import TODAY
from tests.factories import MeasureFactory
from tests.intake.files import HEADINGS, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

ROW = ["1.1", "推进中", "30", "2026-03-01", "中", "试点已启动", ""]


@pytest.fixture(autouse=True)
def measure():
    return MeasureFactory(code="1.1")


def check(data: bytes, by) -> Import:
    return services.check_file(data=data, filename="f", by=by, channel="api", today=TODAY)


def refused(data: bytes, by) -> str:
    """The refusal's text; nothing stored or recorded."""
    history = StatusUpdate.objects.count()
    with pytest.raises(ValidationError) as error:
        check(data, by)
    assert not Import.objects.exists()
    assert StatusUpdate.objects.count() == history
    return " ".join(error.value.messages)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (csv_bytes([ROW]), "utf-8"),
        (b"\xef\xbb\xbf" + csv_bytes([ROW]), "utf-8-sig"),
        (csv_bytes([ROW], encoding="gbk"), "gbk"),
        (csv_bytes([ROW], encoding="utf-16"), "utf-16"),
        (csv_bytes([ROW], delimiter=";"), "utf-8"),
        (csv_bytes([ROW], delimiter="\t"), "utf-8"),
    ],
    ids=["utf-8", "utf-8 with a byte order mark", "gbk", "utf-16", "semicolons", "tabs"],
)
def test_a_csv_is_read_in_its_encoding_which_the_import_names(analyst, data, encoding):
    imported = check(data, analyst)

    assert imported.encoding == encoding
    assert imported.row_results.get().values["note"] == "试点已启动"
    assert imported.row_results.get().outcome == "record"


def test_blank_rows_and_comment_rows_are_skipped_and_rows_keep_their_numbers(analyst):
    data = "# a note\n" + ",".join(HEADINGS) + "\n\n,,,,,,\n" + ",".join(ROW) + "\n"

    imported = check(data.encode(), analyst)

    assert list(imported.row_results.values_list("number", "outcome")) == [(5, "record")]


def test_a_cell_escaped_against_formulas_reads_as_written(analyst):
    row = [*ROW[:5], "'-5% this quarter", ""]

    imported = check(csv_bytes([row]), analyst)

    assert imported.row_results.get().values["note"] == "-5% this quarter"


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ("30", 30),
        (" 30% ", 30),
        ("３０", 30),
        ("30.0", 30),
        (30, 30),
        (30.0, 30),
    ],
)
def test_progress_is_read_as_written(analyst, cell, read):
    imported = check(xlsx_bytes([[*ROW[:2], cell, *ROW[3:]]]), analyst)

    assert imported.row_results.get().values["progress"] == read


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("thirty", "“thirty” is not a percentage"),
        ("30.5", "whole number"),
        (True, "whole number"),
    ],
)
def test_progress_that_is_no_whole_number_is_an_error_in_its_column(analyst, cell, message):
    imported = check(xlsx_bytes([[*ROW[:2], cell, *ROW[3:]]]), analyst)

    [problem] = imported.row_results.get().problems
    assert (problem["column"], problem["field"]) == ("C", "progress")
    assert message in problem["messages"]["en"][0]


@pytest.mark.parametrize(
    "cell",
    ["2026-03-01", "2026/3/1", "2026.3.1", "2026年3月1日", "2026-03-01 00:00:00", 46082],
)
def test_dates_are_read_as_people_and_excel_write_them(analyst, cell):
    imported = check(xlsx_bytes([[*ROW[:3], cell, *ROW[4:]]]), analyst)

    assert imported.row_results.get().values["effective_date"] == "2026-03-01"


@pytest.mark.parametrize("cell", ["3/1/2026", "2026-02-30", "yesterday"])
def test_a_date_that_is_no_date_is_an_error_in_its_column(analyst, cell):
    imported = check(csv_bytes([[*ROW[:3], cell, *ROW[4:]]]), analyst)

    [problem] = imported.row_results.get().problems
    assert (problem["column"], problem["field"]) == ("D", "effective_date")
    assert "2026-05-01" in problem["messages"]["en"][0]


def test_an_unknown_status_lists_the_valid_ones(analyst):
    imported = check(csv_bytes([[ROW[0], "done", *ROW[2:]]]), analyst)

    [problem] = imported.row_results.get().problems
    assert problem["column"] == "B"
    assert "“done” is not a status" in problem["messages"]["en"][0]
    assert "“In progress”" in problem["messages"]["en"][0]
    assert "推进中" in problem["messages"]["zh-hans"][0]


# Files refused whole


def test_unknown_and_missing_columns_are_named(analyst):
    data = csv_bytes([ROW], headings=["measure code", "satus", "progress", "date", "confidence"])

    message = refused(data, analyst)

    assert "Unknown columns: B “satus”, D “date”." in message
    assert "Missing columns: “status”, “effective date”." in message


def test_a_column_given_twice_is_named(analyst):
    data = csv_bytes([[*ROW, "1.1"]], headings=[*HEADINGS, "code"])

    assert "Columns given twice: “measure code”, “code”." in refused(data, analyst)


def test_formulas_are_refused_naming_each_cell(analyst):
    def formulas(sheet):
        sheet["C2"] = "=10*3"
        sheet["D3"] = "=TODAY()"

    data = xlsx_bytes([ROW, ROW], edit=formulas)

    assert "Cells C2, D3 hold formulas." in refused(data, analyst)


def test_merged_cells_are_refused_naming_each_range(analyst):
    data = xlsx_bytes([ROW, ROW], edit=lambda sheet: sheet.merge_cells("A2:A3"))

    assert "merged cells (A2:A3)" in refused(data, analyst)


def test_more_rows_than_the_setting_allows_are_refused(analyst, settings):
    settings.IMPORT_MAX_ROWS = 3

    assert check(csv_bytes([ROW] * 3), analyst).rows == 3
    Import.objects.all().delete()
    assert "more than 3 rows" in refused(csv_bytes([ROW] * 4), analyst)


def test_a_file_larger_than_the_setting_allows_is_refused(analyst, settings):
    settings.IMPORT_MAX_BYTES = 100

    assert "at most 100 may be imported" in refused(csv_bytes([ROW] * 5), analyst)


def test_a_workbook_that_unpacks_to_far_more_than_its_size_is_refused(analyst, settings):
    settings.IMPORT_MAX_BYTES = 20_000
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 1_000_000)

    assert "unpacks to 1,000,000 bytes" in refused(bomb.getvalue(), analyst)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a spreadsheet"),
        (readers.OLE_MAGIC + b"\x00" * 100, "Excel 97–2003 workbook (.xls)"),
        (readers.ZIP_MAGIC + b"not really a zip", "This is not a spreadsheet"),
        (b"PK\x03\x04" + bytes(range(256)) * 4, "This is not a spreadsheet"),
        (bytes(range(256)) * 8, "This is not a spreadsheet"),
        (b"just some words\nand more words\n", "Unknown columns"),
        (",".join(HEADINGS).encode(), "no rows of status updates"),
        (b"\xff\xfe\x00\xd8", "neither UTF-8 nor GBK"),
    ],
    ids=[
        "empty",
        "an image",
        "xls",
        "a broken zip",
        "binary after a zip mark",
        "binary",
        "text",
        "headings only",
        "utf-16 cut short",
    ],
)
def test_what_is_not_a_spreadsheet_is_refused(analyst, data, message):
    assert message in refused(data, analyst)


def test_a_docx_is_not_a_spreadsheet(analyst):
    document = io.BytesIO()
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")

    assert "This is not a spreadsheet" in refused(document.getvalue(), analyst)


def test_an_empty_workbook_has_no_rows(analyst):
    assert "The file has no rows." in refused(xlsx_bytes([], headings=[]), analyst)


def test_refusals_are_in_the_language_asked_for(analyst):
    from django.utils import translation

    data = csv_bytes([ROW], headings=["measure code", "status"])
    with translation.override("zh-hans"):
        message = refused(data, analyst)

    assert "缺少列" in message and "“进度（%）”" in message


def test_a_date_cell_is_read_as_its_day(analyst):
    imported = check(xlsx_bytes([[*ROW[:3], date(2026, 3, 1), *ROW[4:]]]), analyst)

    assert imported.row_results.get().values["effective_date"] == "2026-03-01"
