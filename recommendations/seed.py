"""Loading the paper's framework from fixtures/ (see fixtures/README.md), keyed on natural keys.

Every field the seed loads is remembered with the value the seed gave it (SeedValue), and so
is every link it makes. A later load changes a field only while it still holds that value, and
adds or removes a link only while nobody has changed it since; anything else is a conflict,
reported and left as people made it. A second load changes nothing. Loading never deletes a
record (only links and figures the seed made and nobody changed since) and never touches
status history beyond giving a new measure its first entry.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

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
    SeedValue,
)

# The SeedValue field that stands for the record or link itself: the seed made it (or found
# it when provenance began).
ITSELF = ""
MISSING = object()


class SeedError(Exception):
    """The seed data is malformed or breaks a rule; says which file and record."""


class Tally:
    """What a load did, per kind of record: created, updated, unchanged or removed."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}

    def add(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def total(self, outcome: str) -> int:
        return sum(counter[outcome] for counter in self.counts.values())

    def changes(self) -> int:
        return self.total("created") + self.total("updated") + self.total("removed")


def as_json(value: Any) -> Any:
    """A value as the seed remembers and compares it: one JSON form per value (a figure's 43
    and 43.0000000000 alike, a related record by its id)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


@dataclass(frozen=True)
class Conflict:
    """A field or link whose stored value is not the one the seed last gave it: the seed
    leaves it as people made it."""

    file: str
    record: str  # "measure 3.2", "measure-scenario relationship 3.2/risk_control"
    field: str  # blank for the record or link itself
    seed: Any  # what the fixture says now; for a record or link, whether it exists
    stored: Any

    def __str__(self) -> str:
        if self.field:
            return (
                f"{self.file}, {self.record}, {self.field}: the seed has {shown(self.seed)}, "
                f"the database {shown(self.stored)}"
            )
        if self.seed:
            return f"{self.file}, {self.record}: in the seed, removed from the database since"
        return f"{self.file}, {self.record}: dropped by the seed, changed in the database since"


class SeedLoad:
    """One load: what the seed gave each record before (the SeedValue rows), what this load
    does (its tally), and the conflicts it leaves to people."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.conflicts: list[Conflict] = []
        self.written = False  # whether the load was kept, not rolled back
        # (model label, record key) -> {field: the value the seed last gave it}
        self.given: dict[tuple[str, str], dict[str, Any]] = {}
        self.ids: dict[tuple[str, str, str], int] = {}
        for pk, model, record, field, value in SeedValue.objects.values_list(
            "pk", "model", "record", "field", "value"
        ):
            self.given.setdefault((model, record), {})[field] = value
            self.ids[(model, record, field)] = pk
        self.remembered: dict[tuple[str, str, str], Any] = {}
        self.forgotten: set[tuple[str, str, str]] = set()

    def knows(self, model: type[models.Model], key: str) -> bool:
        """Whether the seed made this record, or found it since provenance began."""
        return ITSELF in self.given.get((model._meta.label_lower, key), {})

    def adopting(self, model: type[models.Model], key: str, lookup: dict) -> bool:
        """Whether the record exists but the seed has no record of it: loaded before
        provenance began (or made by people). Its parts that are missing may have been removed
        by people, so the seed does not add them."""
        return not self.knows(model, key) and model.objects.filter(**lookup).exists()

    def remember(self, model: type[models.Model], key: str, field: str, value: Any) -> None:
        name = model._meta.label_lower
        self.given.setdefault((name, key), {})[field] = value
        self.remembered[(name, key, field)] = value
        self.forgotten.discard((name, key, field))

    def forget(self, model: type[models.Model], key: str) -> None:
        name = model._meta.label_lower
        for field in self.given.pop((name, key), {}):
            self.remembered.pop((name, key, field), None)
            self.forgotten.add((name, key, field))

    def conflict(self, file: str, model: type[models.Model], key: str, field: str, seed, stored):
        label = f"{model._meta.verbose_name} {key}"
        self.conflicts.append(Conflict(file, label, field, seed, stored))

    def merge(self, file: str, obj: models.Model, key: str, values: dict) -> dict:
        """Decide, field by field, what this load does to `obj`, a row that exists: return the
        fields to write (with the fixture's values), those that still hold what the seed gave
        them. Fields people changed are conflicts, unless they hold the fixture's value.

        A row the seed has no record of (loaded before provenance began, or made by people)
        is adopted: the fixture's values are taken as what the seed gave it, so that a field
        that differs is kept as it is, never overwritten.
        """
        model = type(obj)
        given = self.given.get((model._meta.label_lower, key), {})
        if ITSELF not in given:
            self.remember(model, key, ITSELF, True)
        writes = {}
        for field, value in values.items():
            seed = as_json(value)
            stored = as_json(getattr(obj, model._meta.get_field(field).attname))
            last = given.get(field, MISSING)
            if stored == seed:
                if last != seed:
                    self.remember(model, key, field, seed)
            elif last is not MISSING and stored == last:
                writes[field] = value
                self.remember(model, key, field, seed)
            else:
                self.conflict(file, model, key, field, seed, stored)
                if last is MISSING:
                    self.remember(model, key, field, seed)
        return writes

    def created(self, obj: models.Model, key: str, values: dict) -> None:
        """Remember a record the seed just made, with the values it gave it."""
        model = type(obj)
        self.remember(model, key, ITSELF, True)
        for field, value in values.items():
            self.remember(model, key, field, as_json(value))
        self.tally.add(model._meta.verbose_name_plural, "created")

    def upsert(
        self,
        model: type[models.Model],
        *,
        file: str,
        key: str,
        lookup: dict,
        values: dict,
        create: bool = True,
    ) -> models.Model | None:
        """The row matching `lookup`, made if the seed never made it (and `create`), or brought
        up to date where it still holds what the seed gave it; validated first. None, and a
        conflict, when the seed made it and people removed it since (or, with `create`
        false, when the record it belongs to was loaded before provenance began, so its
        absence may be a removal)."""
        kind = model._meta.verbose_name_plural
        obj = model.objects.filter(**lookup).first()
        if obj is None:
            if self.knows(model, key) or not create:
                self.conflict(file, model, key, ITSELF, True, False)
                if not self.knows(model, key):
                    self.remember(model, key, ITSELF, True)
                self.tally.add(kind, "unchanged")
                return None
            obj = model(**lookup, **values)
            obj.full_clean()
            obj.save()
            self.created(obj, key, values)
            return obj
        given = dict(self.given.get((model._meta.label_lower, key), {}))
        kept = len(self.conflicts)
        writes = self.merge(file, obj, key, values)
        if writes:
            for field, value in writes.items():
                setattr(obj, field, value)
            try:
                obj.full_clean()
            except ValidationError:
                if len(self.conflicts) == kept:
                    raise  # the fixture alone breaks a rule
                # The seed's new values would break a rule beside what people changed (a
                # date without its precision): the record stays as people made it.
                obj.refresh_from_db(fields=[model._meta.get_field(f).attname for f in writes])
                for field, value in writes.items():
                    self.remember(model, key, field, given[field])
                    stored = as_json(getattr(obj, model._meta.get_field(field).attname))
                    self.conflict(file, model, key, field, as_json(value), stored)
                writes = {}
            else:
                obj.save()
        self.tally.add(kind, "updated" if writes else "unchanged")
        return obj

    def remove_dropped(
        self,
        model: type[models.Model],
        *,
        file: str,
        parent: str,
        kept: set[str],
        find: Callable[[str], dict],
    ) -> None:
        """Remove the links of `parent` that the seed made and the fixture no longer has, if
        they still hold what the seed gave them; a link changed since is a conflict, kept.
        `find(suffix)` gives the filter of the link whose key is `<parent>/<suffix>`."""
        name, prefix = model._meta.label_lower, f"{parent}/"
        dropped = [
            key
            for (label, key), given in self.given.items()
            if label == name
            and key.startswith(prefix)
            and key[len(prefix) :] not in kept
            and ITSELF in given
        ]
        for key in dropped:
            given = self.given[(name, key)]
            row = model.objects.filter(**find(key[len(prefix) :])).first()
            if row is not None:
                fields = {field: value for field, value in given.items() if field != ITSELF}
                attnames = {field: model._meta.get_field(field).attname for field in fields}
                if any(as_json(getattr(row, attnames[f])) != v for f, v in fields.items()):
                    self.conflict(file, model, key, ITSELF, False, True)
                    continue
                row.delete()
                self.tally.add(model._meta.verbose_name_plural, "removed")
            self.forget(model, key)

    def save(self) -> None:
        """Write what the seed now gives each record (one statement per kind of change)."""
        now = timezone.now()
        gone = [self.ids[key] for key in self.forgotten if key in self.ids]
        SeedValue.objects.filter(pk__in=gone).delete()
        changed, new = [], []
        for (model, record, field), value in self.remembered.items():
            pk = self.ids.get((model, record, field))
            row = SeedValue(pk=pk, model=model, record=record, field=field, value=value)
            row.loaded_at = now
            (changed if pk else new).append(row)
        SeedValue.objects.bulk_update(changed, ["value", "loaded_at"], batch_size=500)
        SeedValue.objects.bulk_create(new, batch_size=500)


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


def text(record: dict, *fields: str) -> dict:
    """The bilingual fields `<field>_zh`, `<field>_en` of a record (blank when absent)."""
    return {
        f"{field}_{lang}": record.get(f"{field}_{lang}", "")
        for field in fields
        for lang in ("zh", "en")
    }


def load_concepts(seed_dir: Path, load: SeedLoad, progress: Callable[[str], None]) -> None:
    for name, model in (
        ("scenarios.json", Scenario),
        ("innovation_mechanisms.json", InnovationMechanism),
    ):
        for record in read(seed_dir, name):
            with record_context(name, record):
                load.upsert(
                    model,
                    file=name,
                    key=record["key"],
                    lookup={"key": record["key"]},
                    values={"order": record["order"], **text(record, "title", "description")},
                )
        progress(name)

    for record in read(seed_dir, "risks.json"):
        with record_context("risks.json", record):
            adopting = load.adopting(Risk, record["key"], {"key": record["key"]})
            risk = load.upsert(
                Risk,
                file="risks.json",
                key=record["key"],
                lookup={"key": record["key"]},
                values={"order": record["order"], **text(record, "title", "description")},
            )
            if risk is None:
                continue
            for mechanism in record["mechanisms"]:
                load.upsert(
                    RiskMechanism,
                    file="risks.json",
                    key=f"{risk.key}/{mechanism['order']}",
                    lookup={"risk": risk, "order": mechanism["order"]},
                    values=text(mechanism, "title", "description"),
                    create=not adopting,
                )
    progress("risks.json")

    for record in read(seed_dir, "institutions.json"):
        with record_context("institutions.json", record):
            load.upsert(
                Institution,
                file="institutions.json",
                key=record["key"],
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
            load.upsert(
                Pillar,
                file="pillars.json",
                key=str(record["number"]),
                lookup={"number": record["number"]},
                values=text(record, "title", "context", "aim"),
            )
    progress("pillars.json")


def load_links(
    load: SeedLoad,
    model: type[models.Model],
    *,
    file: str,
    parent: models.Model,
    parent_key: str,
    parent_field: str,
    target_field: str,
    target_key: str,
    links: dict[str, tuple[models.Model, dict]],
    create: bool,
) -> None:
    """Bring one record's links of one kind to the fixture's `links` (target's natural key ->
    (target, values)), as far as nobody changed them since the seed made them."""
    for natural, (target, values) in links.items():
        load.upsert(
            model,
            file=file,
            key=f"{parent_key}/{natural}",
            lookup={parent_field: parent, target_field: target},
            values=values,
            create=create,
        )
    load.remove_dropped(
        model,
        file=file,
        parent=parent_key,
        kept=set(links),
        find=lambda natural: {parent_field: parent, f"{target_field}__{target_key}": natural},
    )


def targets(model: type[models.Model], field: str, keys: list, *, file: str, record: str):
    """The records of `model` whose `field` is in `keys`, by key; SeedError if one is unknown."""
    found = {getattr(obj, field): obj for obj in model.objects.filter(**{f"{field}__in": keys})}
    unknown = [key for key in keys if key not in found]
    if unknown:
        raise SeedError(f"{file}, record {record!r}: unknown {model._meta.model_name} in {unknown}")
    return found


def load_measures(
    seed_dir: Path, load: SeedLoad, progress: Callable[[str], None], *, history_starts_on: date
) -> None:
    """Measures and their links. A new measure's history starts, not assessed, on
    `history_starts_on`; an existing one's changes go through the service, which bumps its
    version once for its fields and links together."""
    file, label = "measures.json", Measure._meta.verbose_name_plural
    for record in read(seed_dir, file):
        with record_context(file, record):
            code = record["code"]
            values = text(record, "title", "description")
            measure = Measure.objects.filter(code=code).first()
            create_links = load.knows(Measure, code) or measure is None
            writes = {}
            if measure is None:
                if load.knows(Measure, code):
                    load.conflict(file, Measure, code, ITSELF, True, False)
                    continue
                measure = services.create_measure(
                    measure=Measure(
                        code=code, pillar=Pillar.objects.get(number=record["pillar"]), **values
                    ),
                    starts_on=history_starts_on,
                )
                load.created(measure, code, values)
                existed = False
            else:
                writes = load.merge(file, measure, code, values)
                existed = True
            before = load.tally.changes()
            link_kinds = (
                (MeasureInstitution, "institution", "institutions", Institution, "key"),
                (MeasureRisk, "risk", "risks", Risk, "key"),
            )
            for model, field, list_name, target_model, key_field in link_kinds:
                items = record.get(list_name, [])
                found = targets(
                    target_model, key_field, [i[field] for i in items], file=file, record=code
                )
                values_of = {
                    MeasureInstitution: lambda i: {"role": i["role"], **text(i, "note")},
                    MeasureRisk: lambda i: text(i, "rationale"),
                }[model]
                load_links(
                    load,
                    model,
                    file=file,
                    parent=measure,
                    parent_key=code,
                    parent_field="measure",
                    target_field=field,
                    target_key=key_field,
                    links={i[field]: (found[i[field]], values_of(i)) for i in items},
                    create=create_links,
                )
            scenarios = targets(
                Scenario, "key", record.get("scenarios", []), file=file, record=code
            )
            load_links(
                load,
                Measure.scenarios.through,
                file=file,
                parent=measure,
                parent_key=code,
                parent_field="measure",
                target_field="scenario",
                target_key="key",
                links={key: (scenario, {}) for key, scenario in scenarios.items()},
                create=create_links,
            )
            if existed:
                links_changed = load.tally.changes() != before
                if writes or links_changed:
                    services.update_measure(
                        measure=measure, changes=writes, links_changed=links_changed
                    )
                load.tally.add(label, "updated" if writes else "unchanged")
    progress(file)
