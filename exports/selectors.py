"""The rows of each export, as `.values()` dicts: one query each, whatever the number of
rows, streamed from the database (`.iterator()`), never loaded whole.

Each selector takes `ids`, a queryset of the primary keys to export (a list's filtered
queryset's `.values("pk")`), so that the admin's and the API's filters, whatever joins they
make, select the rows and the export alone decides their columns and order.
"""

from django.db.models import (
    Aggregate,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from evidence.models import Evidence, EvidenceMeasure, StatusUpdateEvidence
from recommendations.models import Measure, StatusUpdate
from recommendations.selectors import LATEST_FIRST


def count_of(model, field: str) -> Coalesce:
    """An annotation: how many rows of `model` point at the outer row through `field`."""
    counted = (
        model.objects.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())


class KeyList(Aggregate):
    """Texts joined by ";", in no particular order: STRING_AGG on PostgreSQL, GROUP_CONCAT on
    SQLite."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ';')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def evidence_keys() -> Subquery:
    """An annotation of a status update: the keys of the evidence it cites (a piece with no
    key is left out: the count says how many it cites)."""
    keys = (
        StatusUpdateEvidence.objects.filter(
            status_update=OuterRef("pk"), evidence__key__isnull=False
        )
        .order_by()
        .values("status_update")
        .annotate(keys=KeyList("evidence__key"))
        .values("keys")
    )
    return Subquery(keys, output_field=CharField())


def measure_rows(ids: QuerySet) -> QuerySet:
    """Measures with their current state, when their latest entry was recorded and how much
    evidence they have, in code order."""
    latest = StatusUpdate.objects.filter(measure=OuterRef("pk")).order_by("-recorded_at")
    return (
        Measure.objects.filter(pk__in=ids)
        .annotate(
            last_recorded=Subquery(latest.values("recorded_at")[:1]),
            evidence_count=count_of(EvidenceMeasure, "measure"),
        )
        .order_by("code")
        .values(
            "code",
            "pillar__number",
            "title_zh",
            "title_en",
            "status",
            "progress",
            "status_effective_date",
            "last_recorded",
            "priority",
            "target_date",
            "review_every_days",
            "archived",
            "evidence_count",
            "updated_at",
        )
    )


def status_update_rows(ids: QuerySet) -> QuerySet:
    """Status updates with their measure and author, by measure code, each measure's history
    latest first (as its page shows it), with how many pieces of evidence each cites and their
    keys (so that the file imports again: intake)."""
    return (
        StatusUpdate.objects.filter(pk__in=ids)
        .annotate(
            evidence_count=count_of(StatusUpdateEvidence, "status_update"),
            evidence_keys=evidence_keys(),
        )
        .order_by("measure__code", *LATEST_FIRST)
        .values(
            "measure__code",
            "measure__title_zh",
            "measure__title_en",
            "status",
            "progress",
            "confidence",
            "effective_date",
            "recorded_at",
            "recorded_by__username",
            "note",
            "evidence_count",
            "evidence_keys",
        )
    )


def evidence_rows(ids: QuerySet) -> QuerySet:
    """One row per figure of each piece of evidence (one row, its figure columns empty, for a
    piece with none), with its source; newest evidence first, figures in their order."""
    return (
        Evidence.objects.filter(pk__in=ids)
        .order_by(F("date").desc(nulls_last=True), "id", "figures__order", "figures__id")
        .values(
            "id",
            "key",
            "claim_zh",
            "claim_en",
            "source__title",
            "source__kind",
            "source__reliability",
            "attribution",
            "date",
            "date_precision",
            "location",
            "figures__order",
            "figures__value",
            "figures__unit",
            "figures__qualifier",
            "figures__measures_zh",
            "figures__measures_en",
        )
    )
