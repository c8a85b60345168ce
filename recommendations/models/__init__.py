from .concepts import InnovationMechanism, Institution, Pillar, Risk, RiskMechanism, Scenario
from .history import StatusUpdate
from .idempotency import IdempotencyKey
from .measures import Measure, MeasureInstitution, MeasureRisk

__all__ = [
    "IdempotencyKey",
    "InnovationMechanism",
    "Institution",
    "Measure",
    "MeasureInstitution",
    "MeasureRisk",
    "Pillar",
    "Risk",
    "RiskMechanism",
    "Scenario",
    "StatusUpdate",
]
