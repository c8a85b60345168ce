"""Evidence revisions: every piece gets the revision of its current version (earlier versions
predate revisions and are not known), and every status update's evidence cites that revision.
0005 makes the citation required and revisions append-only, in a transaction of its own:
PostgreSQL alters no table with foreign-key checks pending from this one's writes."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F

from evidence.revisions import snapshot
from recommendations.integrity import history_maintenance

BATCH = 500


def back_fill(apps, schema_editor):
    Evidence = apps.get_model("evidence", "Evidence")
    EvidenceRevision = apps.get_model("evidence", "EvidenceRevision")
    StatusUpdateEvidence = apps.get_model("evidence", "StatusUpdateEvidence")
    db = schema_editor.connection.alias
    ids = list(Evidence.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        pieces = (
            Evidence.objects.using(db)
            .filter(pk__in=ids[start : start + BATCH])
            .select_related("source")
            .prefetch_related(
                "figures",
                "institutions",
                "evidencemeasure_set__measure",
                "evidencerisk_set__risk",
                "evidencescenario_set__scenario",
                "evidenceinnovationmechanism_set__mechanism",
            )
        )
        EvidenceRevision.objects.using(db).bulk_create(
            EvidenceRevision(
                evidence=piece,
                version=piece.version,
                content=snapshot(piece),
                created_at=piece.updated_at,
            )
            for piece in pieces
        )
    current = EvidenceRevision.objects.using(db).filter(
        evidence=models.OuterRef("evidence"), version=F("evidence__version")
    )
    # The links are history: the database lets only this maintenance change them.
    with history_maintenance(db):
        StatusUpdateEvidence.objects.using(db).update(
            revision=models.Subquery(current.values("pk")[:1])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0003_source_evidence_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EvidenceRevision",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(verbose_name="version")),
                ("content", models.JSONField(verbose_name="content")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="created at"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
                (
                    "evidence",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="revisions",
                        to="evidence.evidence",
                        verbose_name="evidence",
                    ),
                ),
            ],
            options={
                "verbose_name": "evidence revision",
                "verbose_name_plural": "evidence revisions",
                "ordering": ["evidence", "-version"],
            },
        ),
        migrations.AddField(
            model_name="statusupdateevidence",
            name="revision",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="status_update_links",
                to="evidence.evidencerevision",
                verbose_name="cited revision",
            ),
        ),
        migrations.AddConstraint(
            model_name="evidencerevision",
            constraint=models.UniqueConstraint(
                fields=("evidence", "version"), name="evidence_evidencerevision_unique"
            ),
        ),
        migrations.RunPython(back_fill, migrations.RunPython.noop),
    ]
