"""What the audit trail records: ONE list, TRACKED. To track another model (a new token
model, say), add one line to it; nothing else changes.

Each entry names the model, the fields left out (noise such as a version counter, or a
secret), the fields masked (recorded as changed, never their value), its many-to-many fields
without a model of their own, whether only superusers may read its entries (`private`), the
record it belongs to (`parent`: a figure's evidence, so an evidence's trail shows its figures),
and for a model whose primary key is itself a secret, what to name it by (`identity`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from auditlog.registry import auditlog
from django.apps import apps
from django.db.models import Model

# What a masked field records, before and after: that it changed, and nothing of the value.
REDACTED = "[redacted]"


def redact(value: str) -> str:
    return REDACTED


@dataclass(frozen=True)
class Tracked:
    model: str  # "app_label.ModelName"
    exclude: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()
    m2m: tuple[str, ...] = ()
    private: bool = False
    # The field naming the record this one belongs to.
    parent: str | None = None
    # (object id, text) to name an object by, when its primary key must not be written down.
    identity: Callable[[Model], tuple[int, str]] | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        return self.model.lower()

    def model_class(self) -> type[Model]:
        return apps.get_model(self.model)


# A measure's current state (status, progress, status since) is written by status updates,
# which are their own append-only history; versions and timestamps are noise.
STATE = ("status", "progress", "status_effective_date", "version", "updated_at")
VERSIONED = ("version", "updated_at")

TRACKED = [
    Tracked("recommendations.Measure", exclude=STATE, m2m=("scenarios",)),
    Tracked("recommendations.MeasureInstitution", parent="measure"),
    Tracked("recommendations.MeasureRisk", parent="measure"),
    Tracked("evidence.Source", exclude=VERSIONED),
    Tracked("evidence.Evidence", exclude=VERSIONED, m2m=("institutions",)),
    Tracked("evidence.EvidenceFigure", parent="evidence"),
    Tracked("evidence.EvidenceMeasure", parent="evidence"),
    Tracked("evidence.EvidenceRisk", parent="evidence"),
    Tracked("evidence.EvidenceScenario", parent="evidence"),
    Tracked("evidence.EvidenceInnovationMechanism", parent="evidence"),
    Tracked(
        "auth.User",
        exclude=("last_login",),
        mask=("password",),
        m2m=("groups", "user_permissions"),
        private=True,
    ),
    Tracked("auth.Group", m2m=("permissions",), private=True),
    # Neither the key nor its digest is written down; last use is noted by a plain UPDATE.
    Tracked("tokens.ApiToken", exclude=("digest", "last_used_at"), private=True, parent="user"),
    # Which institutions a reporter reports for: access, as its groups are.
    Tracked("review.ReporterInstitution", private=True, parent="user"),
]


def tracked(model: type[Model]) -> Tracked | None:
    """The entry of TRACKED for `model`, if it is tracked."""
    return _by_label().get(model._meta.label_lower)


def private_labels() -> list[str]:
    return [item.label for item in TRACKED if item.private]


def labels() -> list[str]:
    """The models entries are filed under (a proxy's go under its concrete model's)."""
    return [item.label for item in TRACKED if not item.model_class()._meta.proxy]


def _by_label() -> dict[str, Tracked]:
    return {item.label: item for item in TRACKED}


def register_all() -> None:
    """Register every model of TRACKED with auditlog; models of apps not installed are
    skipped. Writers that insert in bulk are recorded too (services.record_bulk_creates)."""
    from .services import record_bulk_creates

    installed = {config.label for config in apps.get_app_configs()}
    for item in TRACKED:
        if item.model.split(".")[0] not in installed:
            continue
        model = item.model_class()
        if auditlog.contains(model):
            continue
        auditlog.register(
            model,
            exclude_fields=list(item.exclude),
            mask_fields=list(item.mask),
            mask_callable="audit.registry.redact" if item.mask else None,
            m2m_fields=set(item.m2m),
        )
        record_bulk_creates(model)
