"""Loading the paper's framework from fixtures/ (see fixtures/README.md), keyed on natural keys.

A second load changes nothing. Loading adds and updates records, never deletes any, and never
touches status history beyond giving a new measure its first entry.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import models

from . import services
from .models import (
    InnovationMechanism,
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    Risk,
    RiskMechanism,
    Scenario,
)


class SeedError(Exception):
    """The seed data is malformed or breaks a rule; says which file and record."""


class Tally:
    """What a load did, per kind of record: created, updated or unchanged."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}

    def add(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def total(self, outcome: str) -> int:
        return sum(counter[outcome] for counter in self.counts.values())


def read(seed_dir: Path, name: str) -> list[dict]:
    path = seed_dir / name
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(f"{path}: file not found") from None
    except json.JSONDecodeError as error:
        raise SeedError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(records, list):
        raise SeedError(f"{path}: expected a list of records")
    return records


@contextmanager
def record_context(name: str, record: dict) -> Iterator[None]:
    """Name the file and record in any error raised while loading it."""
    ident = record
    if isinstance(record, dict):
        ident = record.get("key") or record.get("code") or record.get("number")
    try:
        yield
    except KeyError as error:
        raise SeedError(f"{name}, record {ident!r}: missing field {error}") from None
    except ValidationError as error:
        raise SeedError(f"{name}, record {ident!r}: {error.messages}") from None
    except (models.ObjectDoesNotExist, TypeError, ValueError) as error:
        raise SeedError(f"{name}, record {ident!r}: {error}") from None


def upsert(model: type[models.Model], tally: Tally, *, lookup: dict, values: dict):
    """Create the row matching `lookup`, or bring its `values` up to date; validated first."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean()
        obj.save()
        tally.add(model._meta.verbose_name_plural, "created")
        return obj
    changed = {field: value for field, value in values.items() if getattr(obj, field) != value}
    if changed:
        for field, value in changed.items():
            setattr(obj, field, value)
        obj.full_clean()
        obj.save()
    tally.add(model._meta.verbose_name_plural, "updated" if changed else "unchanged")
    return obj


def text(record: dict, *fields: str) -> dict:
    """The bilingual fields `<field>_zh`, `<field>_en` of a record (blank when absent)."""
    return {
        f"{field}_{lang}": record.get(f"{field}_{lang}", "")
        for field in fields
        for lang in ("zh", "en")
    }


def load_concepts(seed_dir: Path, tally: Tally, progress: Callable[[str], None]) -> None:
    for name, model in (
        ("scenarios.json", Scenario),
        ("innovation_mechanisms.json", InnovationMechanism),
    ):
        for record in read(seed_dir, name):
            with record_context(name, record):
                upsert(
                    model,
                    tally,
                    lookup={"key": record["key"]},
                    values={"order": record["order"], **text(record, "title", "description")},
                )
        progress(name)

    for record in read(seed_dir, "risks.json"):
        with record_context("risks.json", record):
            risk = upsert(
                Risk,
                tally,
                lookup={"key": record["key"]},
                values={"order": record["order"], **text(record, "title", "description")},
            )
            for mechanism in record["mechanisms"]:
                upsert(
                    RiskMechanism,
                    tally,
                    lookup={"risk": risk, "order": mechanism["order"]},
                    values=text(mechanism, "title", "description"),
                )
    progress("risks.json")

    for record in read(seed_dir, "institutions.json"):
        with record_context("institutions.json", record):
            upsert(
                Institution,
                tally,
                lookup={"key": record["key"]},
                values={
                    "kind": record["kind"],
                    "country": record.get("country", ""),
                    **text(record, "name"),
                },
            )
    progress("institutions.json")

    for record in read(seed_dir, "pillars.json"):
        with record_context("pillars.json", record):
            upsert(
                Pillar,
                tally,
                lookup={"number": record["number"]},
                values=text(record, "title", "context", "aim"),
            )
    progress("pillars.json")


def load_measures(
    seed_dir: Path, tally: Tally, progress: Callable[[str], None], *, history_starts_on: date
) -> None:
    """Measures and their links. A new measure's history starts, not assessed, on
    `history_starts_on`; an existing one's text is updated through the service, which bumps
    its version."""
    label = Measure._meta.verbose_name_plural
    for record in read(seed_dir, "measures.json"):
        with record_context("measures.json", record):
            values = text(record, "title", "description")
            measure = Measure.objects.filter(code=record["code"]).first()
            if measure is None:
                measure = services.create_measure(
                    measure=Measure(
                        code=record["code"],
                        pillar=Pillar.objects.get(number=record["pillar"]),
                        **values,
                    ),
                    starts_on=history_starts_on,
                )
                tally.add(label, "created")
            else:
                changes = {f: v for f, v in values.items() if getattr(measure, f) != v}
                if changes:
                    services.update_measure(measure=measure, changes=changes)
                tally.add(label, "updated" if changes else "unchanged")
            for link in record.get("institutions", []):
                upsert(
                    MeasureInstitution,
                    tally,
                    lookup={
                        "measure": measure,
                        "institution": Institution.objects.get(key=link["institution"]),
                    },
                    values={"role": link["role"], **text(link, "note")},
                )
            for link in record.get("risks", []):
                upsert(
                    MeasureRisk,
                    tally,
                    lookup={"measure": measure, "risk": Risk.objects.get(key=link["risk"])},
                    values=text(link, "rationale"),
                )
            scenarios = Scenario.objects.filter(key__in=record.get("scenarios", []))
            if len(scenarios) != len(set(record.get("scenarios", []))):
                raise SeedError(
                    f"measures.json, record {record['code']!r}: unknown scenario in "
                    f"{record['scenarios']}"
                )
            missing = set(scenarios) - set(measure.scenarios.all())
            if missing:
                measure.scenarios.add(*missing)
    progress("measures.json")
