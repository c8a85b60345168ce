"""Loading the paper's sources and evidence from fixtures/ (see fixtures/README.md), and the
whole seed in one transaction."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from recommendations.models import InnovationMechanism, Institution, Measure, Risk, Scenario
from recommendations.seed import (
    SeedError,
    Tally,
    load_concepts,
    load_measures,
    read,
    record_context,
    text,
    upsert,
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


def changes(tally: Tally) -> int:
    return tally.total("created") + tally.total("updated")


def load_sources(seed_dir: Path, tally: Tally) -> dict[str, Source]:
    """Sources, keyed on their key; a changed one gets a new version."""
    sources = {}
    for record in read(seed_dir, "sources.json"):
        with record_context("sources.json", record):
            before = tally.total("updated")
            sources[record["key"]] = upsert(
                Source,
                tally,
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
            if tally.total("updated") != before:
                services.bump_version(sources[record["key"]])
    return sources


def load_evidence(seed_dir: Path, tally: Tally, sources: dict[str, Source]) -> None:
    """Evidence, keyed on its key, with its figures (keyed on their order) and links; a piece
    whose fields, figures, links or institutions changed gets a new version."""
    for record in read(seed_dir, "evidence.json"):
        with record_context("evidence.json", record):
            if record["source"] not in sources:
                raise SeedError(
                    f"evidence.json, record {record['key']!r}: unknown source {record['source']!r}"
                )
            existed = Evidence.objects.filter(key=record["key"]).exists()
            before = changes(tally)
            evidence = upsert(
                Evidence,
                tally,
                lookup={"key": record["key"]},
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
            for order, figure in enumerate(record.get("figures", []), start=1):
                upsert(
                    EvidenceFigure,
                    tally,
                    lookup={"evidence": evidence, "order": order},
                    values={
                        "value": as_decimal(figure["value"]),
                        "unit": figure.get("unit", ""),
                        "qualifier": figure.get("qualifier", "exact"),
                        **text(figure, "measures"),
                    },
                )
            if existed:
                services.check_support_kept(
                    evidence=evidence, measure_links=measure_links_after(evidence, record)
                )
            for list_name, link_model, field, target_model, key_field in LINKS:
                for link in record.get(list_name, []):
                    target = target_model.objects.get(**{key_field: link[field]})
                    upsert(
                        link_model,
                        tally,
                        lookup={"evidence": evidence, field: target},
                        values={"stance": link["stance"]},
                    )
            named = Institution.objects.filter(key__in=record.get("institutions", []))
            if len(named) != len(set(record.get("institutions", []))):
                raise SeedError(
                    f"evidence.json, record {record['key']!r}: unknown institution "
                    f"in {record['institutions']}"
                )
            missing = set(named) - set(evidence.institutions.all())
            if missing:
                evidence.institutions.add(*missing)
            if not existed:
                services.record_revision(evidence)
            elif missing or changes(tally) != before:
                services.bump_version(evidence)  # and writes the revision of the new version


def measure_links_after(evidence: Evidence, record: dict) -> list[dict]:
    """The evidence's measure links once the record's are loaded: the seed adds and updates
    links, and removes none."""
    links = {
        link.measure_id: {"measure": link.measure, "stance": link.stance}
        for link in EvidenceMeasure.objects.filter(evidence=evidence).select_related("measure")
    }
    for link in record.get("measures", []):
        measure = Measure.objects.get(code=link["measure"])
        links[measure.pk] = {"measure": measure, "stance": link["stance"]}
    return list(links.values())


@transaction.atomic
def load_seed(seed_dir: Path, progress: Callable[[str], None] = lambda name: None) -> Tally:
    """Load every file of the seed, all or nothing. Raises SeedError naming the bad record."""
    tally = Tally()
    load_concepts(seed_dir, tally, progress)
    sources = load_sources(seed_dir, tally)
    progress("sources.json")
    paper = sources.get(PAPER_SOURCE_KEY)
    if paper is None or paper.published_on is None:
        raise SeedError(
            f"sources.json: the paper ({PAPER_SOURCE_KEY!r}) needs a published_on "
            "date, where every measure's history begins"
        )
    load_measures(seed_dir, tally, progress, history_starts_on=paper.published_on)
    load_evidence(seed_dir, tally, sources)
    progress("evidence.json")
    return tally
