from .concepts import InnovationMechanism, Institution, Pillar, Risk, RiskMechanism, Scenario
from .history import StatusUpdate
from .idempotency import IdempotencyKey
from .measures import Measure, MeasureInstitution, MeasureRisk
from .reports import ReportSnapshot
from .seed import SeedValue

__all__ = [
    "IdempotencyKey",
    "InnovationMechanism",
    "Institution",
    "Measure",
    "MeasureInstitution",
    "MeasureRisk",
    "Pillar",
    "ReportSnapshot",
    "Risk",
    "RiskMechanism",
    "Scenario",
    "SeedValue",
    "StatusUpdate",
]
