from .concepts import InnovationMechanism, Institution, Pillar, Risk, RiskMechanism, Scenario
from .history import StatusUpdate
from .measures import Measure, MeasureInstitution, MeasureRisk

__all__ = [
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
