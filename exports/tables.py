"""What each export holds: its columns, headed in the chosen language, and the selector of its
rows. A column's value is typed (text, whole number, decimal, date, moment); the writers
(writers.py) turn it into a CSV cell or an XLSX cell of that type.

Texts are the chosen language's: a status or any other choice by its label, a bilingual field
by its half in that language (the other half when that one is blank), yes/no in words.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from evidence.choices import Attribution, DatePrecision, Qualifier, Reliability, SourceKind
from evidence.models import Evidence, date_text
from recommendations.choices import Confidence, Priority, Status
from recommendations.models import Measure, StatusUpdate

from . import selectors


@dataclass(frozen=True)
class Column:
    heading: Promise  # translated when the file is written
    value: Callable[[dict, str], Any]  # (row, lang) -> the cell's value
    width: int = 12  # characters, for the XLSX column


@dataclass(frozen=True)
class Table:
    name: str  # the file's name, and the API's path
    title: Promise  # the XLSX sheet's name
    model: type
    columns: tuple[Column, ...]
    rows: Callable[[QuerySet], QuerySet]  # selectors.<kind>_rows(ids)


def field(name: str) -> Callable[[dict, str], Any]:
    return lambda row, lang: row[name]


def bilingual(name: str) -> Callable[[dict, str], str]:
    """The chosen language's half of a bilingual field, else the other half."""

    def value(row: dict, lang: str) -> str:
        zh, en = row[f"{name}_zh"] or "", row[f"{name}_en"] or ""
        return (zh or en) if lang == "zh" else (en or zh)

    return value


def choice(name: str, choices) -> Callable[[dict, str], str | None]:
    labels = dict(choices.choices)
    return lambda row, lang: None if row[name] in (None, "") else str(labels[row[name]])


def yes_no(name: str) -> Callable[[dict, str], str]:
    return lambda row, lang: str(_("yes") if row[name] else _("no"))


def key_list(name: str) -> Callable[[dict, str], str]:
    """Keys the database joined in no order, sorted: "a;b"."""
    return lambda row, lang: ";".join(sorted((row[name] or "").split(";"))).strip(";")


def dated(day: date | None, precision: str) -> str | date | None:
    """A date as precise as it is known: a year or a month as the admin writes it in the
    chosen language (2024年10月, October 2024), a day as a date."""
    if day is None or precision in ("", DatePrecision.DAY):
        return day
    return date_text(day, precision)


MEASURES = Table(
    name="measures",
    title=_("measures"),
    model=Measure,
    rows=selectors.measure_rows,
    columns=(
        Column(_("code"), field("code"), 8),
        Column(_("pillar"), field("pillar__number"), 8),
        Column(_("title"), bilingual("title"), 40),
        Column(_("status"), choice("status", Status)),
        Column(_("progress (%)"), field("progress"), 8),
        Column(_("status since"), field("status_effective_date")),
        Column(_("last recorded"), field("last_recorded"), 17),
        Column(_("priority"), choice("priority", Priority)),
        Column(_("target date"), field("target_date")),
        Column(_("review every (days)"), field("review_every_days")),
        Column(_("archived"), yes_no("archived"), 8),
        Column(_("evidence"), field("evidence_count"), 8),
        Column(_("updated at"), field("updated_at"), 17),
    ),
)

STATUS_UPDATES = Table(
    name="status-updates",
    title=_("status updates"),
    model=StatusUpdate,
    rows=selectors.status_update_rows,
    columns=(
        Column(_("measure"), field("measure__code"), 8),
        Column(_("title"), bilingual("measure__title"), 40),
        Column(_("status"), choice("status", Status)),
        Column(_("progress (%)"), field("progress"), 8),
        Column(_("confidence"), choice("confidence", Confidence)),
        Column(_("effective date"), field("effective_date")),
        Column(_("recorded at"), field("recorded_at"), 17),
        Column(_("recorded by"), field("recorded_by__username")),
        Column(_("note"), field("note"), 60),
        Column(_("evidence"), field("evidence_count"), 8),
        Column(_("evidence keys"), key_list("evidence_keys"), 24),
    ),
)

EVIDENCE = Table(
    name="evidence",
    title=_("evidence"),
    model=Evidence,
    rows=selectors.evidence_rows,
    columns=(
        Column(_("key"), field("key"), 16),
        Column(_("claim"), bilingual("claim"), 60),
        Column(_("source"), field("source__title"), 40),
        Column(_("source kind"), choice("source__kind", SourceKind), 16),
        Column(_("reliability"), choice("source__reliability", Reliability)),
        Column(_("attribution"), choice("attribution", Attribution)),
        Column(_("date"), lambda row, lang: dated(row["date"], row["date_precision"])),
        Column(_("location in source"), field("location")),
        Column(_("figure"), field("figures__order"), 8),
        Column(_("value"), field("figures__value")),
        Column(_("unit"), field("figures__unit"), 8),
        Column(_("qualifier"), choice("figures__qualifier", Qualifier)),
        Column(_("what it measures"), bilingual("figures__measures"), 40),
    ),
)

TABLES = {table.name: table for table in (MEASURES, STATUS_UPDATES, EVIDENCE)}
