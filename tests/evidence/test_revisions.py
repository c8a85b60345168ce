"""What history cites stays as cited: every save of a piece of evidence writes a revision, a
status update cites the revision current when it was recorded, revisions are append-only, and
the last support of an implemented measure cannot be taken away behind history's back."""

import json
import shutil
from datetime import date

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence import services
from evidence.choices import Stance
from evidence.models import Evidence, EvidenceFigure, EvidenceMeasure, EvidenceRevision
from recommendations import services as history
from recommendations.choices import Status
from recommendations.models import Measure
from tests.conftest import TODAY
from tests.evidence.test_admin import change_url, form_data
from tests.evidence.test_seed import load_seed, seed_file
from tests.factories import EvidenceFactory, MeasureFactory, SourceFactory, link_evidence

pytestmark = pytest.mark.django_db

EVIDENCE_LIST = reverse("evidence-list")


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    # Throttling counts requests per user id in the cache; ids repeat across tests.
    cache.clear()


def figure(value: str, measures_en: str) -> dict:
    return {
        "value": value,
        "unit": "%",
        "measures_zh": f"{measures_en}（中文）",
        "measures_en": measures_en,
    }


def revisions_url(evidence_id: int) -> str:
    return reverse("evidence-revisions", args=[evidence_id])


def revision_url(evidence_id: int, version: int) -> str:
    return reverse("evidence-revision", args=[evidence_id, version])


def record(measure, status, progress, *, evidence=(), note="", day=date(2026, 3, 1)):
    return history.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=day,
        note=note,
        evidence=evidence,
        by=None,
        today=TODAY,
    )


def create_evidence(api, **extra) -> dict:
    response = api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory(title="Annual survey").pk,
            "claim_zh": "旧的主张",
            "claim_en": "Old claim",
            "figures": [figure("12.5", "rejections")],
            **extra,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def implemented_measure_supported_by(evidence, status=Status.IMPLEMENTED) -> object:
    """A measure made `status` on the strength of its "supports" link to `evidence` alone
    (the update itself cites nothing)."""
    measure = MeasureFactory(code="2.1")
    link_evidence(evidence, measure, Stance.SUPPORTS)
    record(measure, status, 100 if status == Status.IMPLEMENTED else 60)
    return measure


# Revisions and what a status update cites


def test_a_status_update_still_shows_what_it_cited_after_the_evidence_is_edited(analyst_api):
    piece = create_evidence(analyst_api)
    measure = MeasureFactory()
    response = analyst_api.post(
        reverse("measure-status-updates", args=[measure.pk]),
        {
            "status": "in_progress",
            "progress": 40,
            "effective_date": "2026-03-01",
            "evidence": [piece["id"]],
        },
    )
    assert response.status_code == 201, response.content
    update_url = response.json()["url"]

    edited = analyst_api.patch(
        f"{EVIDENCE_LIST}{piece['id']}/",
        {"claim_en": "Rewritten claim", "figures": [figure("99", "something else")]},
    )

    assert edited.status_code == 200, edited.content
    assert edited.json()["version"] == 2
    cited = analyst_api.get(update_url).json()["cited_evidence"]
    assert cited == [{"evidence": piece["id"], "version": 1}]
    then = analyst_api.get(revision_url(piece["id"], 1)).json()
    assert then["claim_en"] == "Old claim"
    assert [(f["value"], f["measures_en"]) for f in then["figures"]] == [
        ("12.5000000000", "rejections")
    ]
    assert then["source"]["title"] == "Annual survey"
    now = analyst_api.get(revision_url(piece["id"], 2)).json()
    assert (now["claim_en"], now["figures"][0]["measures_en"]) == (
        "Rewritten claim",
        "something else",
    )


def test_the_feed_and_the_history_name_the_cited_revision(analyst_api):
    evidence = EvidenceFactory()
    measure = MeasureFactory()
    record(measure, Status.IN_PROGRESS, 40, evidence=[evidence])
    services.save_evidence(evidence=evidence, fields={"claim_en": "Later wording"})

    feed = analyst_api.get(reverse("status-update-list")).json()["results"]
    entries = analyst_api.get(reverse("measure-status-updates", args=[measure.pk])).json()

    cited = [{"evidence": evidence.pk, "version": 1}]
    assert [row["cited_evidence"] for row in feed if row["evidence"]] == [cited]
    assert [row["cited_evidence"] for row in entries["results"] if row["evidence"]] == [cited]


def test_every_save_writes_a_revision_and_they_are_listed_latest_first(analyst_api, analyst):
    piece = create_evidence(analyst_api)
    analyst_api.patch(f"{EVIDENCE_LIST}{piece['id']}/", {"claim_en": "Second wording"})
    analyst_api.patch(f"{EVIDENCE_LIST}{piece['id']}/", {"claim_en": "Second wording"})  # no-op

    response = analyst_api.get(revisions_url(piece["id"]))

    assert response.status_code == 200
    listed = response.json()["results"]
    assert [(row["version"], row["claim_en"]) for row in listed] == [
        (2, "Second wording"),
        (1, "Old claim"),
    ]
    assert {row["created_by"] for row in listed} == {analyst.username}
    assert listed[0]["url"] == f"http://testserver{revision_url(piece['id'], 2)}"


def test_the_revision_list_runs_a_fixed_number_of_queries(analyst_api, django_assert_num_queries):
    evidence = EvidenceFactory()
    for n in range(5):
        services.save_evidence(evidence=evidence, fields={"claim_en": f"Wording {n}"})

    # 1: the change counters (ETag); 2: the evidence; 3: COUNT; 4: the page of revisions with
    # their authors.
    with django_assert_num_queries(4):
        response = analyst_api.get(revisions_url(evidence.pk))

    assert response.json()["count"] == 5


@pytest.mark.parametrize("version", [0, 7])
def test_a_revision_that_does_not_exist_is_404(analyst_api, version):
    evidence = EvidenceFactory()
    services.save_evidence(evidence=evidence, fields={"claim_en": "Once"})

    assert analyst_api.get(revision_url(evidence.pk, version)).status_code == 404


def test_a_seeded_or_factory_made_piece_gets_its_revision_when_first_cited():
    evidence = EvidenceFactory(claim_en="Written around the services")

    update = record(MeasureFactory(), Status.IN_PROGRESS, 40, evidence=[evidence])

    link = update.evidence_links.get()
    assert (link.revision.version, link.revision.content["claim_en"]) == (
        1,
        "Written around the services",
    )


def test_the_evidence_admin_lists_its_revisions(analyst_client):
    evidence = EvidenceFactory()
    services.save_evidence(evidence=evidence, fields={"claim_en": "First wording"})
    services.save_evidence(evidence=evidence, fields={"claim_en": "Second wording"})

    page = analyst_client.get(change_url(evidence)).content.decode()

    assert "Revisions (latest first)" in page
    assert "Second wording" in page and "First wording" in page


def test_the_status_update_admin_shows_the_revision_it_cited(analyst_client):
    evidence = EvidenceFactory(claim_en="What was cited")
    update = record(MeasureFactory(), Status.IN_PROGRESS, 40, evidence=[evidence])
    services.save_evidence(evidence=evidence, fields={"claim_en": "What it says now"})
    revision = update.evidence_links.get().revision

    page = analyst_client.get(change_url(update)).content.decode()
    cited = analyst_client.get(change_url(revision))

    assert "What was cited (version 1)" in page
    assert change_url(revision) in page
    assert "What it says now" not in page
    assert cited.status_code == 200
    assert "What was cited" in cited.content.decode()


def test_nobody_edits_a_revision_in_the_admin(admin_client):
    evidence = EvidenceFactory()
    services.save_evidence(evidence=evidence, fields={"claim_en": "Once"})
    revision = evidence.revisions.get()

    response = admin_client.post(change_url(revision), {"version": 5})

    assert response.status_code == 403
    assert EvidenceRevision.objects.get().version == revision.version


@pytest.mark.parametrize("sql", ["UPDATE {t} SET version = version + 1", "DELETE FROM {t}"])
def test_the_database_refuses_to_change_a_revision(sql):
    evidence = EvidenceFactory()
    services.save_evidence(evidence=evidence, fields={"claim_en": "As written"})

    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.format(t=EvidenceRevision._meta.db_table))

    assert EvidenceRevision.objects.get().content["claim_en"] == "As written"


# The last support of an implemented measure


@pytest.mark.parametrize("status", [Status.IMPLEMENTED, Status.PARTIALLY_IMPLEMENTED])
def test_removing_the_last_supporting_link_of_an_implemented_measure_is_400(analyst_api, status):
    evidence = EvidenceFactory()
    implemented_measure_supported_by(evidence, status)

    response = analyst_api.patch(f"{EVIDENCE_LIST}{evidence.pk}/", {"measures": []})

    assert response.status_code == 400
    assert "First record a status update" in response.json()["measures"][0]
    assert EvidenceMeasure.objects.filter(evidence=evidence, stance=Stance.SUPPORTS).exists()
    assert Evidence.objects.get().version == 1


def test_turning_the_last_supporting_link_into_context_is_refused_too(analyst_api):
    evidence = EvidenceFactory()
    implemented_measure_supported_by(evidence)

    response = analyst_api.patch(
        f"{EVIDENCE_LIST}{evidence.pk}/", {"measures": [{"measure": "2.1", "stance": "context"}]}
    )

    assert response.status_code == 400
    assert EvidenceMeasure.objects.get(evidence=evidence).stance == Stance.SUPPORTS


def test_the_admin_refuses_to_remove_the_last_supporting_link(analyst_client):
    evidence = EvidenceFactory()
    implemented_measure_supported_by(evidence)
    data = form_data(analyst_client.get(change_url(evidence)))

    response = analyst_client.post(
        change_url(evidence), {**data, "evidencemeasure_set-0-DELETE": "on"}
    )

    assert response.status_code == 200
    assert "First record a status update" in response.content.decode()
    assert EvidenceMeasure.objects.filter(evidence=evidence).exists()
    assert Evidence.objects.get().version == 1


def test_the_link_may_go_once_a_status_update_moved_the_measure_back(analyst_api):
    evidence = EvidenceFactory()
    measure = implemented_measure_supported_by(evidence)
    record(measure, Status.IN_PROGRESS, 80, note="The law was suspended.", day=date(2026, 4, 1))

    response = analyst_api.patch(f"{EVIDENCE_LIST}{evidence.pk}/", {"measures": []})

    assert response.status_code == 200, response.content
    assert not EvidenceMeasure.objects.filter(evidence=evidence).exists()


def test_the_link_may_go_while_other_evidence_still_supports_the_measure(analyst_api):
    evidence = EvidenceFactory()
    measure = implemented_measure_supported_by(evidence)
    link_evidence(EvidenceFactory(), measure, Stance.SUPPORTS)

    response = analyst_api.patch(f"{EVIDENCE_LIST}{evidence.pk}/", {"measures": []})

    assert response.status_code == 200, response.content


def test_the_link_may_go_when_the_entry_in_force_cites_evidence(analyst_api):
    evidence = EvidenceFactory()
    measure = MeasureFactory(code="2.1")
    link_evidence(evidence, measure, Stance.SUPPORTS)
    record(measure, Status.IMPLEMENTED, 100, evidence=[EvidenceFactory()])

    response = analyst_api.patch(f"{EVIDENCE_LIST}{evidence.pk}/", {"measures": []})

    assert response.status_code == 200, response.content


def test_a_seed_that_turns_the_last_supporting_link_into_context_is_refused(tmp_path):
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    evidence = seed_file("evidence.json")
    piece = next(item for item in evidence if item.get("measures"))
    code = piece["measures"][0]["measure"]

    def seed_with_stance(stance: str) -> None:
        piece["measures"][0]["stance"] = stance
        (tmp_path / "seed" / "evidence.json").write_text(json.dumps(evidence), encoding="utf-8")
        load_seed(dir=tmp_path / "seed")

    seed_with_stance(Stance.SUPPORTS)
    measure = Measure.objects.get(code=code)
    EvidenceMeasure.objects.filter(measure=measure).exclude(evidence__key=piece["key"]).delete()
    record(measure, Status.IMPLEMENTED, 100, day=date(2026, 3, 1))

    with pytest.raises(CommandError, match="First record a status update"):
        seed_with_stance(Stance.CONTEXT)

    link = EvidenceMeasure.objects.get(measure=measure, evidence__key=piece["key"])
    assert link.stance == Stance.SUPPORTS


def test_analysts_cannot_delete_evidence(analyst_api, analyst_client, analyst):
    evidence = EvidenceFactory()

    api = analyst_api.delete(f"{EVIDENCE_LIST}{evidence.pk}/")
    admin = analyst_client.post(
        reverse("admin:evidence_evidence_delete", args=[evidence.pk]), {"post": "yes"}
    )

    assert api.status_code == 405
    assert admin.status_code == 403
    assert not analyst.has_perm("evidence.delete_evidence")
    assert Evidence.objects.filter(pk=evidence.pk).exists()


# Figures: a bounded number, validated without a query each


def test_more_figures_than_the_cap_is_400_and_writes_nothing(analyst_api, settings):
    count = settings.EVIDENCE_MAX_FIGURES + 1

    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "figures": [figure(str(n), f"figure {n}") for n in range(count)],
        },
    )

    assert response.status_code == 400
    assert response.json()["figures"] == [
        "A piece of evidence states at most 100 figures; this one has 101."
    ]
    assert not Evidence.objects.exists()


def test_the_service_refuses_more_figures_than_the_setting_allows(settings):
    settings.EVIDENCE_MAX_FIGURES = 3
    evidence = EvidenceFactory()

    with pytest.raises(ValidationError, match="at most 3 figures; this one has 4"):
        services.save_evidence(
            evidence=evidence,
            fields={},
            figures=[
                {
                    "value": n,
                    "unit": "",
                    "qualifier": "exact",
                    "measures_zh": "数",
                    "measures_en": "n",
                }
                for n in range(4)
            ],
        )

    assert not EvidenceFigure.objects.exists()
    assert Evidence.objects.get().version == 1


def test_the_queries_of_a_post_do_not_grow_with_its_figures(analyst_api, settings):
    source = SourceFactory()

    def post(figures: int) -> int:
        body = {
            "source": source.pk,
            "claim_zh": "主张",
            "claim_en": f"A claim with {figures} figures",
            "figures": [figure(str(n), f"figure {n}") for n in range(figures)],
        }
        with CaptureQueriesContext(connection) as queries:
            response = analyst_api.post(EVIDENCE_LIST, body)
        assert response.status_code == 201, response.content
        return len(queries)

    post(1)  # the first request of a client also reads what later ones find cached

    few, many = post(2), post(settings.EVIDENCE_MAX_FIGURES)
    if connection.vendor == "sqlite":
        # SQLite caps a statement's parameters: the audit trail's one INSERT of the figures'
        # entries is split in batches of what fits (49 rows), one statement each.
        assert post(40) == few
        assert many == few + 2
    else:
        assert many == few
    assert EvidenceFigure.objects.count() == 1 + 2 + settings.EVIDENCE_MAX_FIGURES + (
        40 if connection.vendor == "sqlite" else 0
    )
