"""Finding and deleting synthetic rows: what marks them, and the one function that deletes
them, history included."""

import time
from dataclasses import dataclass, fields

from django.db import connection, transaction
from django.db.models import Model

from evidence.models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceMeasure,
    EvidenceRevision,
    EvidenceRisk,
    EvidenceScenario,
    Source,
    StatusUpdateEvidence,
)
from freshness.triggers import TRACKED, bulk_changes

from ..integrity import history_maintenance, lift_statement_timeout
from ..models import (
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    Risk,
    RiskMechanism,
    Scenario,
    StatusUpdate,
)
from .writer import table

CODE_PREFIX = "SYN-"  # measure codes

KEY_PREFIX = "syn-"  # sources, evidence, risks and scenarios

PILLAR_TITLE_EN = "Synthetic pillar"

FIRST_PILLAR = 1001


@dataclass(frozen=True)
class SyntheticCounts:
    """Rows written (or deleted) per kind, and the seconds it took."""

    pillars: int = 0
    measures: int = 0
    status_updates: int = 0
    update_evidence: int = 0
    evidence_links: int = 0
    risk_links: int = 0
    scenario_links: int = 0
    institution_links: int = 0
    sources: int = 0
    evidence: int = 0
    figures: int = 0
    risks: int = 0
    scenarios: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """'1000 measures, 50000 status updates, … in 2.1 s'."""
        counts = ", ".join(
            f"{getattr(self, field.name)} {field.name.replace('_', ' ')}"
            for field in fields(self)
            if field.name != "seconds"
        )
        return f"{counts} in {self.seconds:.1f} s"


# Where each table's synthetic rows are, in SQL. substr() compares exactly on both backends,
# where SQLite's LIKE would ignore case.
def synthetic_measures_sql() -> str:
    return f"SELECT id FROM {table(Measure)} WHERE substr(code, 1, 4) = '{CODE_PREFIX}'"


def synthetic_keys_sql(model: type[Model]) -> str:
    return f"SELECT id FROM {table(model)} WHERE substr(key, 1, 4) = '{KEY_PREFIX}'"


def synthetic_pillars_sql() -> str:
    title = f"{PILLAR_TITLE_EN} "
    return (
        f"SELECT id FROM {table(Pillar)} WHERE number >= {FIRST_PILLAR} "
        f"AND substr(title_en, 1, {len(title)}) = '{title}'"
    )


def synthetic_exists() -> bool:
    """Whether any synthetic pillar, measure, source, evidence, risk or scenario exists."""
    selects = [synthetic_pillars_sql(), synthetic_measures_sql()] + [
        synthetic_keys_sql(model) for model in (Source, Evidence, Risk, Scenario)
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + " OR ".join(f"EXISTS ({select})" for select in selects))
        return bool(cursor.fetchone()[0])


# Status updates, their evidence, and evidence revisions: the append-only tables purged.
HISTORY_STEPS = 3


@transaction.atomic
# Millions of rows: each table counted once, not a trigger per row (freshness.triggers).
@bulk_changes(TRACKED)
def delete_synthetic() -> SyntheticCounts:
    """Delete every synthetic row, set-based, in one transaction, and return the counts.

    Only synthetic rows and the rows that hang off them go. Raises IntegrityError, deleting
    nothing, when another row still refers to a synthetic one (say an update of a paper
    measure citing synthetic evidence). This is the one place that deletes status history:
    it lifts the append-only triggers (integrity.history_maintenance) for those deletes only.
    """
    began = time.perf_counter()
    lift_statement_timeout()
    measures, evidence = synthetic_measures_sql(), synthetic_keys_sql(Evidence)
    risks, scenarios = synthetic_keys_sql(Risk), synthetic_keys_sql(Scenario)
    updates = f"SELECT id FROM {table(StatusUpdate)} WHERE measure_id IN ({measures})"
    # (count's name, or "" for rows not counted; model; which rows), children first; the first
    # HISTORY_STEPS are append-only tables.
    steps = [
        ("update_evidence", StatusUpdateEvidence, f"status_update_id IN ({updates})"),
        ("status_updates", StatusUpdate, f"measure_id IN ({measures})"),
        ("", EvidenceRevision, f"evidence_id IN ({evidence})"),
        (
            "evidence_links",
            EvidenceMeasure,
            f"measure_id IN ({measures}) OR evidence_id IN ({evidence})",
        ),
        ("", EvidenceRisk, f"evidence_id IN ({evidence})"),
        ("", EvidenceScenario, f"evidence_id IN ({evidence})"),
        ("", EvidenceInnovationMechanism, f"evidence_id IN ({evidence})"),
        ("", Evidence.institutions.through, f"evidence_id IN ({evidence})"),
        ("figures", EvidenceFigure, f"evidence_id IN ({evidence})"),
        ("risk_links", MeasureRisk, f"measure_id IN ({measures})"),
        ("institution_links", MeasureInstitution, f"measure_id IN ({measures})"),
        (
            "scenario_links",
            Measure.scenarios.through,
            f"measure_id IN ({measures}) OR scenario_id IN ({scenarios})",
        ),
        ("", RiskMechanism, f"risk_id IN ({risks})"),
        ("measures", Measure, f"id IN ({measures})"),
        ("evidence", Evidence, f"id IN ({evidence})"),
        ("sources", Source, f"id IN ({synthetic_keys_sql(Source)})"),
        ("pillars", Pillar, f"id IN ({synthetic_pillars_sql()})"),
        ("risks", Risk, f"id IN ({risks})"),
        ("scenarios", Scenario, f"id IN ({scenarios})"),
    ]
    counts = {}
    with connection.cursor() as cursor:
        # History is append-only in the database; purging synthetic data is the one exception.
        with history_maintenance():
            for name, model, where in steps[:HISTORY_STEPS]:
                cursor.execute(f"DELETE FROM {table(model)} WHERE {where}")
                if name:
                    counts[name] = cursor.rowcount
        for name, model, where in steps[HISTORY_STEPS:]:
            cursor.execute(f"DELETE FROM {table(model)} WHERE {where}")
            if name:
                counts[name] = cursor.rowcount
    # Foreign keys are deferred to the commit; check them now, so that a row still referring
    # to a synthetic one fails here, even inside a caller's longer transaction.
    connection.check_constraints(table_names=[model._meta.db_table for _, model, _ in steps])
    return SyntheticCounts(**counts, seconds=time.perf_counter() - began)
