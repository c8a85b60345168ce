"""Loading the paper's sources and evidence from fixtures/ (see fixtures/README.md), and the
whole seed in one transaction. The rules of what a load may change are recommendations.seed's."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from recommendations.models import InnovationMechanism, Institution, Measure, Risk, Scenario
from recommendations.seed import (
    SeedError,
    SeedLoad,
    load_concepts,
    load_links,
    load_measures,
    read,
    record_context,
    targets,
    text,
)

from . import services
from .models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)

# The paper itself: its publication date is when every measure's history begins.
PAPER_SOURCE_KEY = "wang2025"

# evidence.json link lists: (list name, link model, target field, target model, target key).
LINKS = (
    ("measures", EvidenceMeasure, "measure", Measure, "code"),
    ("risks", EvidenceRisk, "risk", Risk, "key"),
    ("scenarios", EvidenceScenario, "scenario", Scenario, "key"),
    ("innovation_mechanisms", EvidenceInnovationMechanism, "mechanism", InnovationMechanism, "key"),
)


def as_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def as_decimal(value: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def load_sources(seed_dir: Path, load: SeedLoad) -> dict[str, Source]:
    """Sources, keyed on their key; a changed one gets a new version. A source people removed
    since the seed made it is left out."""
    sources = {}
    for record in read(seed_dir, "sources.json"):
        with record_context("sources.json", record):
            before = load.tally.total("updated")
            source = load.upsert(
                Source,
                file="sources.json",
                key=record["key"],
                lookup={"key": record["key"]},
                values={
                    "kind": record["kind"],
                    "authors": record.get("authors", ""),
                    "title": record["title"],
                    "venue": record.get("venue", ""),
                    "year": record.get("year"),
                    "published_on": as_date(record.get("published_on")),
                    "url": record.get("url", ""),
                    "citation": record.get("citation", ""),
                    "reliability": record["reliability"],
                    **text(record, "note"),
                },
            )
            if source is None:
                continue
            sources[record["key"]] = source
            if load.tally.total("updated") != before:
                services.bump_version(source)
    return sources


def load_evidence(seed_dir: Path, load: SeedLoad, sources: dict[str, Source]) -> None:
    """Evidence, keyed on its key, with its figures (keyed on their order) and links; a piece
    whose fields, figures, links or institutions changed gets a new version. Evidence of a
    source people removed is left out."""
    file = "evidence.json"
    removed = {record.get("key") for record in read(seed_dir, "sources.json")} - set(sources)
    for record in read(seed_dir, file):
        with record_context(file, record):
            key = record["key"]
            if record["source"] not in sources:
                if record["source"] in removed:
                    continue  # with its source: the removal is reported on the source
                raise SeedError(f"{file}, record {key!r}: unknown source {record['source']!r}")
            existed = Evidence.objects.filter(key=key).exists()
            adopting = load.adopting(Evidence, key, {"key": key})
            before = load.tally.changes()
            evidence = load.upsert(
                Evidence,
                file=file,
                key=key,
                lookup={"key": key},
                values={
                    "source": sources[record["source"]],
                    "attribution": record["attribution"],
                    "quote": record.get("quote", ""),
                    "location": record.get("location", ""),
                    "date": as_date(record.get("date")),
                    "date_precision": record.get("date_precision") or "",
                    **text(record, "claim", "note"),
                },
            )
            if evidence is None:
                continue
            figures = record.get("figures", [])
            for order, figure in enumerate(figures, start=1):
                load.upsert(
                    EvidenceFigure,
                    file=file,
                    key=f"{key}/{order}",
                    lookup={"evidence": evidence, "order": order},
                    values={
                        "value": as_decimal(figure["value"]),
                        "unit": figure.get("unit", ""),
                        "qualifier": figure.get("qualifier", "exact"),
                        **text(figure, "measures"),
                    },
                    create=not adopting,
                )
            load.remove_dropped(
                EvidenceFigure,
                file=file,
                parent=key,
                kept={str(order) for order in range(1, len(figures) + 1)},
                find=lambda order, evidence=evidence: {"evidence": evidence, "order": int(order)},
            )
            supported = services.supported_measures(evidence)
            for list_name, link_model, field, target_model, key_field in LINKS:
                items = record.get(list_name, [])
                found = targets(
                    target_model, key_field, [i[field] for i in items], file=file, record=key
                )
                load_links(
                    load,
                    link_model,
                    file=file,
                    parent=evidence,
                    parent_key=key,
                    parent_field="evidence",
                    target_field=field,
                    target_key=key_field,
                    links={i[field]: (found[i[field]], {"stance": i["stance"]}) for i in items},
                    create=not adopting,
                )
            named = targets(
                Institution, "key", record.get("institutions", []), file=file, record=key
            )
            load_links(
                load,
                Evidence.institutions.through,
                file=file,
                parent=evidence,
                parent_key=key,
                parent_field="evidence",
                target_field="institution",
                target_key="key",
                links={natural: (institution, {}) for natural, institution in named.items()},
                create=not adopting,
            )
            # An implemented measure keeps its last support, whoever would take it away.
            services.check_still_supported(
                evidence=evidence, measures=supported - services.supported_measures(evidence)
            )
            if not existed:
                services.record_revision(evidence)
            elif load.tally.changes() != before:
                services.bump_version(evidence)  # and writes the revision of the new version


def load_seed(
    seed_dir: Path,
    progress: Callable[[str], None] = lambda name: None,
    *,
    dry_run: bool = False,
    strict: bool = False,
) -> SeedLoad:
    """Load every file of the seed, all or nothing, and return what the load did and the
    conflicts it left as people made them. With `dry_run`, do the same and roll it all back;
    with `strict`, roll it back if there is any conflict (`load.written` says).
    Raises SeedError naming the bad record; nothing is written then."""
    with transaction.atomic():
        load = SeedLoad()
        load_concepts(seed_dir, load, progress)
        sources = load_sources(seed_dir, load)
        progress("sources.json")
        paper = sources.get(PAPER_SOURCE_KEY)
        if paper is None or paper.published_on is None:
            raise SeedError(
                f"sources.json: the paper ({PAPER_SOURCE_KEY!r}) needs a published_on "
                "date, where every measure's history begins"
            )
        load_measures(seed_dir, load, progress, history_starts_on=paper.published_on)
        load_evidence(seed_dir, load, sources)
        progress("evidence.json")
        load.save()
        load.written = not (dry_run or (strict and load.conflicts))
        if not load.written:
            transaction.set_rollback(True)
    return load
