"""The columns a spreadsheet of status updates has, and the headings each is known by.

Two layouts are read, told apart by their headings alone:

- the **template's**: measure code, status, progress (%), effective date, confidence, note,
  evidence keys (intake.blanks writes it);
- the **status history export's** (exports.tables.STATUS_UPDATES): measure, title, status,
  progress (%), confidence, effective date, recorded at, recorded by, note, evidence (its
  count), evidence keys. Its title and author are not read (the importer records); its
  recorded-at orders entries of one day, and its count of evidence is checked against the keys.

A heading matches in English or Chinese (the catalogue's words), or as the API's field name,
whatever its case, spaces, underscores and brackets: "Progress (%)", "进度（%）" and
"progress" are one column.
"""

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

# The languages a heading may be written in, as the site's catalogues have them.
HEADING_LANGUAGES = ("en", "zh-hans")


@dataclass(frozen=True)
class Column:
    field: str  # the value it gives (intake.parsing.Values), or an export column not read
    heading: Promise  # the template's heading
    aliases: tuple[Promise, ...] = ()
    required: bool = False


MEASURE = Column("measure", _("measure code"), (_("measure"), _("code")), required=True)
STATUS = Column("status", _("status"), required=True)
PROGRESS = Column("progress", _("progress (%)"), required=True)
EFFECTIVE_DATE = Column("effective_date", _("effective date"), required=True)
CONFIDENCE = Column("confidence", _("confidence"), required=True)
NOTE = Column("note", _("note"))
EVIDENCE = Column("evidence", _("evidence keys"))
# The export's columns beside those.
TITLE = Column("title", _("title"))
RECORDED_AT = Column("recorded_at", _("recorded at"))
RECORDED_BY = Column("recorded_by", _("recorded by"))
EVIDENCE_COUNT = Column("evidence_count", _("evidence"))

# The template's columns, in its order.
TEMPLATE = (MEASURE, STATUS, PROGRESS, EFFECTIVE_DATE, CONFIDENCE, NOTE, EVIDENCE)
COLUMNS = (*TEMPLATE, TITLE, RECORDED_AT, RECORDED_BY, EVIDENCE_COUNT)
# Columns whose values are not read.
NOT_READ = ("title", "recorded_by")


def normalised(heading: str) -> str:
    """A heading as compared: lower case, without spaces, underscores, hyphens, brackets,
    percent signs or colons (half- or full-width)."""
    return re.sub(r"[\s_\-()（）%％:：]+", "", str(heading)).casefold()


def _known_headings() -> dict[str, Column]:
    known: dict[str, Column] = {}
    for column in COLUMNS:
        names = []
        for language in HEADING_LANGUAGES:
            with override(language):
                names += [str(name) for name in (column.heading, *column.aliases)]
        for name in names:
            known.setdefault(normalised(name), column)
    return known


_KNOWN: dict[str, Column] | None = None


def column_for(heading: str) -> Column | None:
    """The column a heading names, or None."""
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = _known_headings()
    return _KNOWN.get(normalised(heading))


def letter(index: int) -> str:
    """A column's letter as spreadsheets write it: 0 -> A, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name
