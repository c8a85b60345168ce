"""Generating a synthetic dataset: concepts, sources and evidence, pillars, measures and
their links, every measure's history, and the measures' stored states."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from math import ceil
from random import Random

from django.db import connection, transaction

from evidence.choices import Attribution, DatePrecision, Qualifier, Reliability, SourceKind
from evidence.models import Evidence, EvidenceFigure, EvidenceMeasure, Source
from evidence.revisions import record_revisions
from freshness.triggers import TRACKED, bulk_changes

from ..choices import InstitutionKind, InstitutionRole, Priority
from ..integrity import lift_statement_timeout, serialise_history_writes
from ..models import (
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    Risk,
    Scenario,
    StatusUpdate,
)
from .histories import (
    EPOCH,
    IMPLEMENTED,
    LOCAL_OFFSET,
    NOT_ASSESSED,
    Packed,
    day_number,
    measure_history,
    update_counts,
)
from .purge import (
    CODE_PREFIX,
    FIRST_PILLAR,
    KEY_PREFIX,
    PILLAR_TITLE_EN,
    SyntheticCounts,
    delete_synthetic,
    synthetic_exists,
    synthetic_measures_sql,
)
from .writer import Writer, table

# (measures, status updates) of each preset size.
SIZES = {"S": (1_000, 50_000), "M": (20_000, 2_000_000), "L": (40_000, 8_000_000)}

DEFAULT_TODAY = date(2026, 10, 31)

MEASURES_PER_PILLAR = 200

# The paper's records, used when all are present (else synthetic ones are created).
PAPER_RISKS = ("data_security", "technology_application", "financial_regulation")

PAPER_SCENARIOS = (
    "customer_service",
    "marketing",
    "business_operations",
    "investment_advisory",
    "risk_control",
)

HISTORY_STARTS = (date(2023, 1, 1), date(2025, 12, 31))


class SyntheticDataExists(Exception):
    """Synthetic rows are already in the database, and replacing them was not asked for."""


def sizes(*, size: str | None, measures: int | None, updates: int | None) -> tuple[int, int]:
    """The (measures, updates) to generate: a preset (S unless given) overridden by explicit
    numbers. Raises ValueError when they cannot make a history."""
    preset_measures, preset_updates = SIZES[size or "S"]
    measures = preset_measures if measures is None else measures
    updates = preset_updates if updates is None else updates
    if measures < 1:
        raise ValueError("Generate at least one measure.")
    if updates < measures:
        raise ValueError(
            f"Each measure's history starts with one entry: {updates} updates cannot cover "
            f"{measures} measures."
        )
    return measures, updates


@transaction.atomic
# Millions of rows: each table counted once, not a trigger per row (freshness.triggers).
@bulk_changes(TRACKED)
def generate_synthetic(
    *,
    measures: int,
    updates: int,
    seed: int,
    today: date = DEFAULT_TODAY,
    replace: bool = False,
    progress: Callable[[str, int], object] | None = None,
) -> SyntheticCounts:
    """Write `measures` synthetic measures with exactly `updates` status updates in all, every
    effective date on or before `today`, in one transaction; return the counts.

    Every row satisfies the models' constraints and the service's rules: not assessed only
    first, a note on every regression and stop, evidence for every implemented entry.
    `progress` is called with a stage ("generating", then "inserting") and the number of
    status updates it went through since the last call.
    Raises SyntheticDataExists when synthetic data is present and `replace` is false; with
    `replace` that data is deleted first, in the same transaction.
    """
    began = time.perf_counter()
    lift_statement_timeout()
    if synthetic_exists():
        if not replace:
            raise SyntheticDataExists(
                "Synthetic data is already loaded: pass --replace to delete and regenerate "
                "it, or --delete to remove it."
            )
        delete_synthetic()
    rng = Random(seed)
    writer = Writer(postgres=connection.vendor == "postgresql")
    concepts = _concepts(writer)
    last_day = day_number(min(HISTORY_STARTS[1], today))
    first_day = min(day_number(HISTORY_STARTS[0]), last_day - 365)
    evidence = _sources_and_evidence(writer, rng, measures, first_day, day_number(today))
    pillars = _create_pillars(writer, ceil(measures / MEASURES_PER_PILLAR))
    counts = update_counts(rng, measures, updates)
    starts = [rng.randint(first_day, last_day) for _ in range(measures)]
    ids = _create_measures(writer, rng, pillars, starts)
    _link_measures(writer, rng, ids, concepts)

    links: list[tuple] = []
    attached: list[tuple] = []
    packed = _generate_histories(
        seed, ids, counts, starts, day_number(today), evidence, links, attached, progress
    )
    # Ids commit in order (integrity.serialise_history_writes): other writers of history wait.
    serialise_history_writes()
    written = writer.status_updates(packed, ids, progress)
    writer.rows(EvidenceMeasure, ("measure", "evidence", "stance"), links)
    # Each piece's revision 1, with its links, for the updates to cite.
    record_revisions(evidence)
    attached_count = writer.update_evidence(attached)
    _refresh_states()
    return SyntheticCounts(
        pillars=len(pillars),
        measures=len(ids),
        status_updates=written,
        update_evidence=attached_count,
        evidence_links=len(links),
        risk_links=writer.written.get(MeasureRisk, 0),
        scenario_links=writer.written.get(Measure.scenarios.through, 0),
        institution_links=writer.written.get(MeasureInstitution, 0),
        sources=writer.written[Source],
        evidence=len(evidence),
        figures=writer.written.get(EvidenceFigure, 0),
        risks=concepts.created_risks,
        scenarios=concepts.created_scenarios,
        seconds=time.perf_counter() - began,
    )


@dataclass
class _Concepts:
    risks: list[int]
    scenarios: list[int]
    regulators: list[int]
    created_risks: int
    created_scenarios: int


def _concepts(writer: "Writer") -> _Concepts:
    """Ids of the paper's risks, scenarios and regulators; synthetic risks and scenarios
    created when the paper's are not all loaded."""
    ids, created = {}, {}
    for model, keys, zh, en in (
        (Risk, PAPER_RISKS, "风险", "risk"),
        (Scenario, PAPER_SCENARIOS, "场景", "scenario"),
    ):
        found = dict(model.objects.filter(key__in=keys).values_list("key", "id"))
        created[model] = 0 if len(found) == len(keys) else len(keys)
        if created[model]:
            keys = [f"{KEY_PREFIX}{en}-{n}" for n in range(1, len(keys) + 1)]
            writer.rows(
                model,
                ("key", "order", "title_zh", "title_en", "description_zh", "description_en"),
                [
                    (key, n, f"合成{zh} {n}", f"Synthetic {en} {n}", "", "")
                    for n, key in enumerate(keys, 1)
                ],
            )
            found = dict(model.objects.filter(key__in=keys).values_list("key", "id"))
        ids[model] = [found[key] for key in keys]
    regulators = Institution.objects.filter(kind=InstitutionKind.REGULATOR).order_by("key")
    return _Concepts(
        risks=ids[Risk],
        scenarios=ids[Scenario],
        regulators=list(regulators.values_list("id", flat=True)),
        created_risks=created[Risk],
        created_scenarios=created[Scenario],
    )


def _sources_and_evidence(
    writer: "Writer", rng: Random, measures: int, first: int, last: int
) -> list[int]:
    """Create synthetic sources, evidence and figures; returns the evidence ids in key order."""
    at = writer.timestamp((first - 1) * 86400 - LOCAL_OFFSET)  # before any history starts
    sources = [f"{KEY_PREFIX}source-{n:05d}" for n in range(1, max(3, measures // 100) + 1)]
    source_rows = []
    for n, key in enumerate(sources, 1):
        published = date.fromordinal(rng.randint(first, last) + EPOCH)
        source_rows.append(
            (key, rng.choice(SourceKind.values), f"Synthetic Author {n}")
            + (f"Synthetic source {n}", "Synthetic Press", published.year, published)
            + (
                f"https://example.org/synthetic/{key}",
                f"Synthetic Author {n}. Synthetic source {n}.",
            )
            + (rng.choice(Reliability.values), "", "", at, at, 1)
        )
    writer.rows(
        Source,
        ("key", "kind", "authors", "title", "venue", "year", "published_on", "url", "citation")
        + ("reliability", "note_zh", "note_en", "created_at", "updated_at", "version"),
        source_rows,
    )
    source_ids = dict(Source.objects.filter(key__in=sources).values_list("key", "id"))

    keys = [f"{KEY_PREFIX}evidence-{n:06d}" for n in range(1, max(10, measures // 4) + 1)]
    evidence_rows = []
    for n, key in enumerate(keys, 1):
        precision = rng.choice(["", DatePrecision.DAY.value, DatePrecision.MONTH.value])
        day = date.fromordinal(rng.randint(first, last) + EPOCH)
        day = {"": None, "day": day, "month": day.replace(day=1)}[precision]
        evidence_rows.append(
            (key, source_ids[rng.choice(sources)], Attribution.CITED.value)
            + (f"合成证据 {n}", f"Synthetic evidence {n}", "", f"p. {rng.randint(1, 300)}")
            + (day, precision, "", "", at, at, 1)
        )
    writer.rows(
        Evidence,
        ("key", "source", "attribution", "claim_zh", "claim_en", "quote", "location", "date")
        + ("date_precision", "note_zh", "note_en", "created_at", "updated_at", "version"),
        evidence_rows,
    )
    found = dict(Evidence.objects.filter(key__in=keys).values_list("key", "id"))
    evidence = [found[key] for key in keys]
    figures = [
        (piece, order, f"{rng.randint(1, 1_000_000) / 100:.2f}", rng.choice(["%", "亿元", "家"]))
        + (rng.choice(Qualifier.values), f"合成指标 {n}.{order}", f"Synthetic figure {n}.{order}")
        for n, piece in enumerate(evidence, 1)
        for order in range(rng.choice([0, 0, 0, 1, 1, 2]))
    ]
    writer.rows(
        EvidenceFigure,
        ("evidence", "order", "value", "unit", "qualifier", "measures_zh", "measures_en"),
        figures,
    )
    return evidence


def _create_pillars(writer: "Writer", count: int) -> list[int]:
    """Create `count` synthetic pillars; returns their ids in number order."""
    numbers = range(FIRST_PILLAR, FIRST_PILLAR + count)
    writer.rows(
        Pillar,
        ("number", "title_zh", "title_en", "context_zh", "context_en", "aim_zh", "aim_en"),
        [
            (n, f"合成支柱 {n}", f"{PILLAR_TITLE_EN} {n}", "", "", "合成数据", "Synthetic data")
            for n in numbers
        ],
    )
    found = dict(Pillar.objects.filter(number__in=numbers).values_list("number", "id"))
    return [found[n] for n in numbers]


def _create_measures(
    writer: "Writer", rng: Random, pillars: list[int], starts: list[int]
) -> list[int]:
    """Create the measures (not assessed, version 0, until _refresh_states); returns ids."""
    codes, rows = [], []
    for i, start in enumerate(starts):
        number = f"{FIRST_PILLAR + i // MEASURES_PER_PILLAR}.{i % MEASURES_PER_PILLAR + 1:05d}"
        codes.append(f"{CODE_PREFIX}{number}")
        # Created at 08:00 on the day its history starts, before any entry is recorded.
        created = writer.timestamp(start * 86400 - LOCAL_OFFSET + 8 * 3600)
        target = None
        if rng.random() < 0.7:
            target = date.fromordinal(start + rng.randint(365, 1460) + EPOCH)
        rows.append(
            (pillars[i // MEASURES_PER_PILLAR], codes[-1], f"合成措施 {number}")
            + (f"Synthetic measure {number}", "", "", rng.choice(["", *Priority.values]))
            + (target, rng.choice([30, 60, 90, 90, 180]), False, NOT_ASSESSED, 0)
            + (created, created)
        )
    writer.rows(
        Measure,
        ("pillar", "code", "title_zh", "title_en", "description_zh", "description_en")
        + ("priority", "target_date", "review_every_days", "archived", "status", "version")
        + ("created_at", "updated_at"),
        rows,
    )
    found = dict(Measure.objects.filter(code__in=codes).values_list("code", "id"))
    return [found[code] for code in codes]


def _link_measures(writer: "Writer", rng: Random, ids: list[int], concepts: _Concepts) -> None:
    """Link measures to risks, scenarios and (when the paper's are loaded) regulators."""
    risks, scenarios, institutions = [], [], []
    for measure in ids:
        for risk in rng.sample(concepts.risks, rng.choice([0, 1, 1, 2])):
            risks.append((measure, risk, "合成理由", "Synthetic rationale"))
        for scenario in rng.sample(concepts.scenarios, rng.choice([0, 1, 1, 2])):
            scenarios.append((measure, scenario))
        if concepts.regulators and rng.random() < 0.8:
            picked = rng.sample(concepts.regulators, min(2, len(concepts.regulators)))
            for role, institution in zip(InstitutionRole.values, picked, strict=False):
                institutions.append((measure, institution, role, "", ""))
    writer.rows(MeasureRisk, ("measure", "risk", "rationale_zh", "rationale_en"), risks)
    writer.rows(Measure.scenarios.through, ("measure", "scenario"), scenarios)
    writer.rows(
        MeasureInstitution, ("measure", "institution", "role", "note_zh", "note_en"), institutions
    )


def _generate_histories(
    seed: int,
    ids: list[int],
    counts: list[int],
    starts: list[int],
    today: int,
    evidence: list[int],
    links: list[tuple],
    attached: list[tuple],
    progress: Callable[[str, int], object] | None,
) -> "Packed":
    """Every measure's history, packed.

    Appends each measure's evidence links (measure, evidence, stance) to `links`, and its
    updates' evidence (measure, effective day, recorded second, evidence) to `attached`, so
    that every implemented entry has evidence or its measure a "supports" link.
    """
    packed, done = Packed(len(ids)), 0
    for index, (measure, count, start) in enumerate(zip(ids, counts, starts, strict=True)):
        # One stream per measure: its history does not depend on the order of generation.
        rng = Random(f"synthetic:{seed}:{index}")
        entries = measure_history(rng, count=count, start=start, today=today)
        packed.add(index, entries)
        implemented = sum(entry[0] == IMPLEMENTED for entry in entries)
        # Measures implemented for long have documented it; others may not have.
        supported = rng.random() < (0.95 if implemented > 2 else 0.5 if implemented else 0.2)
        chosen = rng.sample(evidence, min(len(evidence), rng.choice([0, 1, 1, 2]) + supported))
        for n, piece in enumerate(chosen):
            stance = "supports" if supported and not n else rng.choice(["context", "challenges"])
            links.append((measure, piece, stance))
        for status, _, _, day, second, _ in entries:
            if (status == IMPLEMENTED and not supported) or (
                status != NOT_ASSESSED and rng.random() < 0.02
            ):
                attached.append((measure, day, second, rng.choice(evidence)))
        done += count
        if progress and (done >= Writer.BATCH or index == len(ids) - 1):
            progress("generating", done)
            done = 0
    return packed


def _refresh_states() -> None:
    """Set every synthetic measure's state to its latest entry by (effective date, recorded
    at, id), its version to its number of entries and its last change to its last recording,
    in one UPDATE."""
    measure, history = table(Measure), table(StatusUpdate)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One pass over the history. Correlated subqueries would be planned against the
            # statistics of a table still empty to the planner, and MAX(recorded_at) per
            # measure has been seen to walk statusupdate_recorded_idx for minutes.
            cursor.execute(
                f"UPDATE {measure} AS m SET status = latest.status, "
                "progress = latest.progress, status_effective_date = latest.effective_date, "
                "version = latest.updates, updated_at = latest.last_recorded_at "
                "FROM (SELECT DISTINCT ON (u.measure_id) u.measure_id, u.status, u.progress, "
                "u.effective_date, COUNT(*) OVER entries AS updates, "
                "MAX(u.recorded_at) OVER entries AS last_recorded_at "
                f"FROM {history} AS u WHERE u.measure_id IN ({synthetic_measures_sql()}) "
                "WINDOW entries AS (PARTITION BY u.measure_id) "
                "ORDER BY u.measure_id, u.effective_date DESC, u.recorded_at DESC, u.id DESC"
                ") AS latest WHERE m.id = latest.measure_id"
            )
            return
        # SQLite answers each subquery with a range of statusupdate_measure_asof_idx.
        entries = f"FROM {history} AS u WHERE u.measure_id = {measure}.id"
        cursor.execute(
            f"UPDATE {measure} SET (status, progress, status_effective_date) = "
            f"(SELECT u.status, u.progress, u.effective_date {entries} "
            "ORDER BY u.effective_date DESC, u.recorded_at DESC, u.id DESC LIMIT 1), "
            f"version = (SELECT COUNT(*) {entries}), "
            f"updated_at = (SELECT MAX(u.recorded_at) {entries}) "
            f"WHERE id IN ({synthetic_measures_sql()})"
        )
