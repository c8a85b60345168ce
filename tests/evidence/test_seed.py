import json
import shutil
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from evidence.choices import Attribution
from evidence.models import Evidence, EvidenceFigure, EvidenceRisk, Source
from recommendations import services
from recommendations.choices import Status
from recommendations.models import (
    InnovationMechanism,
    Institution,
    Measure,
    Pillar,
    Risk,
    RiskMechanism,
    Scenario,
    SeedValue,
    StatusUpdate,
)
from tests.conftest import TODAY, empty_inlines, stored_state

pytestmark = pytest.mark.django_db

PUBLISHED_ON = date(2025, 4, 15)
MODELS = (
    Pillar,
    Measure,
    Risk,
    RiskMechanism,
    Scenario,
    InnovationMechanism,
    Institution,
    Source,
    Evidence,
    EvidenceFigure,
    StatusUpdate,
)


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """The seed, loaded once for the module: each test starts where `load_seed()` on an empty
    database leaves it, its own transaction a savepoint inside the one that loaded the seed,
    rolled back after the module's last test. (A load takes seconds; the tests that start
    from an empty database are in test_seed_first_load.py.)"""
    with django_db_blocker.unblock(), transaction.atomic():
        load_seed()
        yield
        transaction.set_rollback(True)


def load_seed(**kwargs) -> str:
    out = StringIO()
    call_command("load_seed", stdout=out, **kwargs)
    return out.getvalue()


def seed_file(name: str) -> list[dict]:
    return json.loads((settings.SEED_DIR / name).read_text(encoding="utf-8"))


def snapshot() -> dict:
    return {
        "counts": {model.__name__: model.objects.count() for model in MODELS},
        "measures": list(Measure.objects.values_list("code", "version", "status", "updated_at")),
        "evidence": list(Evidence.objects.values_list("key", "version", "updated_at")),
        "sources": list(Source.objects.values_list("key", "version", "updated_at")),
    }


def test_the_seed_holds_the_papers_framework():

    assert list(Pillar.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5]
    assert Measure.objects.count() == 15
    assert {p.number: p.measures.count() for p in Pillar.objects.all()} == {
        n: 3 for n in range(1, 6)
    }
    assert list(Risk.objects.values_list("key", flat=True)) == [
        "data_security",
        "technology_application",
        "financial_regulation",
    ]
    assert all(risk.mechanisms.exists() for risk in Risk.objects.all())
    assert list(Scenario.objects.values_list("title_zh", flat=True)) == [
        "智能客服",
        "智能营销",
        "智能业务",
        "智能投顾",
        "智能风控",
    ]
    assert InnovationMechanism.objects.count() == 3


def test_every_seed_record_is_loaded():

    assert Evidence.objects.count() == len(seed_file("evidence.json"))
    assert Source.objects.count() == len(seed_file("sources.json"))
    assert Institution.objects.count() == len(seed_file("institutions.json"))
    assert EvidenceFigure.objects.count() == sum(
        len(record["figures"]) for record in seed_file("evidence.json")
    )


def test_every_measure_starts_not_assessed_on_the_papers_publication_date():

    histories = {
        (u.measure.code, u.status, u.progress, u.effective_date)
        for u in StatusUpdate.objects.select_related("measure")
    }

    assert StatusUpdate.objects.count() == 15
    assert histories == {
        (code, Status.NOT_ASSESSED, None, PUBLISHED_ON)
        for code in Measure.objects.values_list("code", flat=True)
    }
    assert set(Measure.objects.values_list("version", flat=True)) == {1}


def test_a_second_load_changes_nothing():
    before = snapshot()

    output = load_seed()

    assert snapshot() == before
    assert "0 created, 0 updated" in output.splitlines()[-1]


def test_loading_never_touches_recorded_history():
    measure = Measure.objects.get(code="3.2")
    services.record_status_update(
        measure=measure,
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date=date(2026, 3, 1),
        by=None,
        today=TODAY,
    )

    load_seed()

    measure.refresh_from_db()
    assert (measure.status, measure.progress, measure.version) == (Status.IN_PROGRESS, 30, 2)
    assert measure.status_updates.count() == 2


def test_a_changed_seed_text_updates_the_measure_and_bumps_its_version(tmp_path):
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    measures = seed_file("measures.json")
    measures[0]["title_en"] = "A better translation"
    (tmp_path / "seed" / "measures.json").write_text(json.dumps(measures), encoding="utf-8")

    output = load_seed(dir=tmp_path / "seed")

    measure = Measure.objects.get(code=measures[0]["code"])
    assert (measure.title_en, measure.version) == ("A better translation", 2)
    assert "1 updated" in output.splitlines()[-1]


def test_a_first_load_puts_every_source_and_piece_of_evidence_at_version_1():

    assert set(Source.objects.values_list("version", flat=True)) == {1}
    assert set(Evidence.objects.values_list("version", flat=True)) == {1}


def test_a_changed_seed_figure_or_source_bumps_only_their_versions(tmp_path):
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    evidence = seed_file("evidence.json")
    evidence[0]["figures"][0]["value"] = "12345"
    sources = seed_file("sources.json")
    sources[0]["title"] = "A corrected title"
    (tmp_path / "seed" / "evidence.json").write_text(json.dumps(evidence), encoding="utf-8")
    (tmp_path / "seed" / "sources.json").write_text(json.dumps(sources), encoding="utf-8")

    load_seed(dir=tmp_path / "seed")

    changed = Evidence.objects.get(key=evidence[0]["key"])
    assert (changed.version, changed.figures.first().value) == (2, Decimal("12345"))
    assert Source.objects.get(key=sources[0]["key"]).version == 2
    assert Evidence.objects.filter(version=1).count() == len(evidence) - 1
    assert Source.objects.filter(version=1).count() == len(sources) - 1


def test_the_pillars_and_measures_are_the_papers_words():

    pillar = Pillar.objects.get(number=3)
    assert pillar.title_zh.startswith("构建数据安全与隐私保护体系")
    assert pillar.aim_zh.startswith("要在保障客户隐私的前提下释放数据价值")
    assert Measure.objects.get(code="3.2").title_zh == "推广隐私计算技术"
    assert Measure.objects.get(code="4.1").title_zh == "推行“监管沙盒”机制"
    assert "联邦学习" in Measure.objects.get(code="3.2").description_zh


def test_the_joint_regulatory_mechanism_names_its_four_bodies():

    links = Measure.objects.get(code="4.3").institution_links.select_related("institution")

    assert {link.institution.key for link in links} == {"pboc", "nfra", "csrc", "cac"}


def test_the_figures_are_the_papers_figures():

    def figures(key):
        return {(f.value, f.unit) for f in Evidence.objects.get(key=key).figures.all()}

    assert (Decimal("43"), "%") in figures("nvidia_survey_adoption_2024")
    assert (Decimal("400"), "家") in figures("nvidia_survey_adoption_2024")
    assert {Decimal("20"), Decimal("25"), Decimal("97")} <= {
        value for value, _ in figures("duxiaoman_xuanyuan")
    }
    assert Decimal("0.00390625") in {value for value, _ in figures("deepseek_r1_inference_cost")}


def test_unsourced_figures_name_the_paper_as_their_source_and_say_so():

    unsourced = Evidence.objects.filter(attribution=Attribution.UNSOURCED)

    assert unsourced.exists()
    assert set(unsourced.values_list("source__key", flat=True)) == {"wang2025"}
    assert Evidence.objects.get(key="abc_chatabc").attribution == Attribution.UNSOURCED
    assert Evidence.objects.get(key="ai_loan_approval_20pct_faster").source.key == "fuster2019"


def test_every_cited_source_backs_some_evidence():

    assert not Source.objects.filter(evidence__isnull=True).exists()


def test_the_papers_slips_are_noted_not_corrected():

    launch = Evidence.objects.get(key="chatgpt_launch_2022")
    assert launch.date == date(2022, 11, 1)
    assert "12月" in launch.note_zh and "12月" in launch.note_en
    assert "27,500" in Evidence.objects.get(key="chatgpt_training_compute").note_en


def test_every_quote_is_verbatim_from_the_paper():
    paper = " ".join((settings.SEED_DIR / "wang2025.txt").read_text(encoding="utf-8").split())

    quotes = [" ".join(record["quote"].split()) for record in seed_file("evidence.json")]

    assert all(quotes)
    assert [quote for quote in quotes if quote not in paper] == []


# People's edits and later loads


def changed_seed(tmp_path, name: str, change) -> object:
    """A copy of the seed in which `change(records)` has edited the records of file `name`."""
    seed = tmp_path / "seed"
    if not seed.exists():
        shutil.copytree(settings.SEED_DIR, seed)
    records = json.loads((seed / name).read_text(encoding="utf-8"))
    change(records)
    (seed / name).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return seed


def by_key(records: list[dict], field: str, value) -> dict:
    return next(record for record in records if record[field] == value)


def conflicts(output: str) -> list[str]:
    return [
        line.strip() for line in output.splitlines() if line.startswith("  ") and ": the" in line
    ]


def patch(api, url: str, body: dict) -> None:
    response = api.patch(url, body, format="json")
    assert response.status_code == 200, response.content


def remove_scenario_in_the_admin(client, measure: Measure, scenario_key: str) -> None:
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "scenarios": [s.pk for s in measure.scenarios.exclude(key=scenario_key)],
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_a_measure_title_edited_through_the_api_survives_a_reload_as_a_conflict(analyst_api):
    measure = Measure.objects.get(code="3.2")
    patch(analyst_api, reverse("measure-detail", args=[measure.pk]), {"title_en": "Ours"})

    output = load_seed()

    measure.refresh_from_db()
    assert (measure.title_en, measure.version) == ("Ours", 2)
    assert conflicts(output) == [
        'measures.json, measure 3.2, title_en: the seed has "Promote privacy-preserving '
        'computation", the database "Ours"'
    ]
    assert "0 updated" in output.splitlines()[-1] and "1 conflicts" in output.splitlines()[-1]


def test_an_evidence_claim_and_a_source_note_edited_through_the_api_survive_a_reload(
    analyst_api,
):
    load_seed()
    evidence = Evidence.objects.get(key="mashang_tianjing")
    source = Source.objects.get(key="fuster2019")
    patch(analyst_api, reverse("evidence-detail", args=[evidence.pk]), {"claim_en": "Ours"})
    patch(analyst_api, reverse("source-detail", args=[source.pk]), {"note_en": "Checked: ok"})

    output = load_seed()

    evidence.refresh_from_db()
    source.refresh_from_db()
    assert (evidence.claim_en, evidence.version) == ("Ours", 2)
    assert (source.note_en, source.version) == ("Checked: ok", 2)
    assert [line.split(":")[0] for line in conflicts(output)] == [
        "sources.json, source fuster2019, note_en",
        "evidence.json, evidence mashang_tianjing, claim_en",
    ]


def test_a_seed_scenario_removed_in_the_admin_is_not_added_back(analyst_client):
    measure = Measure.objects.get(code="2.1")
    remove_scenario_in_the_admin(analyst_client, measure, "risk_control")
    version = Measure.objects.get(code="2.1").version

    output = load_seed()

    measure.refresh_from_db()
    assert set(measure.scenarios.values_list("key", flat=True)) == {
        "investment_advisory",
        "business_operations",
    }
    assert measure.version == version
    assert "measures.json, measure-scenario relationship 2.1/risk_control: in the seed, " in output
    assert "0 created, 0 updated" in output.splitlines()[-1]


def test_a_changed_fixture_reaches_untouched_fields_and_records_only(analyst_api, tmp_path):
    edited = Measure.objects.get(code="3.2")
    patch(analyst_api, reverse("measure-detail", args=[edited.pk]), {"title_en": "Ours"})

    def change(measures):
        by_key(measures, "code", "3.2").update(title_en="Seed's new title", description_en="New")
        by_key(measures, "code", "3.3")["title_en"] = "Another new title"

    output = load_seed(dir=changed_seed(tmp_path, "measures.json", change))

    edited.refresh_from_db()
    untouched = Measure.objects.get(code="3.3")
    assert (edited.title_en, edited.description_en, edited.version) == ("Ours", "New", 3)
    assert (untouched.title_en, untouched.version) == ("Another new title", 2)
    assert Measure.objects.filter(version=1).count() == 13
    assert conflicts(output) == [
        'measures.json, measure 3.2, title_en: the seed has "Seed\'s new title", the database '
        '"Ours"'
    ]


def test_after_a_field_is_loaded_anew_the_next_change_of_the_fixture_reaches_it_too(tmp_path):
    load_seed(dir=changed_seed(tmp_path, "pillars.json", lambda p: p[0].update(aim_en="One")))

    load_seed(dir=changed_seed(tmp_path, "pillars.json", lambda p: p[0].update(aim_en="Two")))

    assert Pillar.objects.get(number=1).aim_en == "Two"


def test_a_link_the_fixture_drops_is_removed_only_while_still_as_seeded(analyst_api, tmp_path):
    # 3.1's risk links are as the seed made them; mashang_tianjing's risk link gets another
    # stance from an analyst.
    evidence = Evidence.objects.get(key="mashang_tianjing")
    patch(
        analyst_api,
        reverse("evidence-detail", args=[evidence.pk]),
        {"risks": [{"risk": "data_security", "stance": "supports"}]},
    )
    measure = Measure.objects.get(code="3.1")
    seed = changed_seed(
        tmp_path, "measures.json", lambda m: by_key(m, "code", "3.1").update(risks=[])
    )
    seed = changed_seed(
        tmp_path, "evidence.json", lambda e: by_key(e, "key", "mashang_tianjing").update(risks=[])
    )

    output = load_seed(dir=seed)

    measure.refresh_from_db()
    evidence.refresh_from_db()
    assert (measure.risks.count(), measure.version) == (0, 2)
    assert list(EvidenceRisk.objects.filter(evidence=evidence).values_list("stance")) == [
        ("supports",)
    ]
    assert evidence.version == 2  # the analyst's edit only
    assert (
        "evidence.json, evidence on a risk mashang_tianjing/data_security: dropped by the seed, "
        "changed in the database since" in output
    )


def test_a_link_new_in_the_fixture_is_added_and_bumps_the_version(tmp_path):
    seed = changed_seed(
        tmp_path,
        "measures.json",
        lambda m: by_key(m, "code", "1.1").update(scenarios=["marketing"]),
    )

    load_seed(dir=seed)

    measure = Measure.objects.get(code="1.1")
    assert (list(measure.scenarios.values_list("key", flat=True)), measure.version) == (
        ["marketing"],
        2,
    )


def test_a_dry_run_writes_nothing_and_lists_what_would_change(analyst_api, tmp_path):
    measure = Measure.objects.get(code="3.2")
    patch(analyst_api, reverse("measure-detail", args=[measure.pk]), {"title_en": "Ours"})
    seed = changed_seed(
        tmp_path, "measures.json", lambda m: by_key(m, "code", "3.3").update(title_en="New")
    )
    before = stored_state()

    output = load_seed(dir=seed, dry_run=True)

    assert stored_state() == before
    assert "measures: 0 created, 1 updated, 14 unchanged" in output
    assert conflicts(output) == [
        'measures.json, measure 3.2, title_en: the seed has "Promote privacy-preserving '
        'computation", the database "Ours"'
    ]
    assert output.splitlines()[-1].startswith("Dry run, nothing written.")
    assert "0 created, 1 updated" in output.splitlines()[-1]


def test_loads_after_edits_change_nothing(analyst_api, analyst_client):
    measure = Measure.objects.get(code="2.1")
    patch(analyst_api, reverse("measure-detail", args=[measure.pk]), {"title_en": "Ours"})
    remove_scenario_in_the_admin(analyst_client, measure, "risk_control")
    before = stored_state()

    outputs = [load_seed(), load_seed()]

    assert stored_state() == before
    assert all("0 created, 0 updated" in output.splitlines()[-1] for output in outputs)


def test_a_database_seeded_before_provenance_keeps_its_edits_and_missing_links(
    analyst_api, analyst_client, tmp_path
):
    load_seed()
    measure = Measure.objects.get(code="2.1")
    patch(analyst_api, reverse("measure-detail", args=[measure.pk]), {"title_en": "Ours"})
    remove_scenario_in_the_admin(analyst_client, measure, "risk_control")
    SeedValue.objects.all().delete()  # as a database loaded before the seed kept provenance
    version = Measure.objects.get(pk=measure.pk).version

    output = load_seed()
    later = load_seed(
        dir=changed_seed(
            tmp_path,
            "measures.json",
            lambda m: by_key(m, "code", "2.1").update(description_en="New"),
        )
    )

    measure.refresh_from_db()
    assert (measure.title_en, measure.description_en) == ("Ours", "New")
    assert "risk_control" not in measure.scenarios.values_list("key", flat=True)
    assert measure.version == version + 1  # the description only
    assert "0 created, 0 updated" in output.splitlines()[-1]
    assert len(conflicts(output)) == 1 and "2.1/risk_control: in the seed" in output
    assert "1 updated" in later.splitlines()[-1]


def test_a_strict_load_with_a_conflict_fails_and_writes_nothing(analyst_api, tmp_path):
    measure = Measure.objects.get(code="3.2")
    patch(analyst_api, reverse("measure-detail", args=[measure.pk]), {"title_en": "Ours"})
    seed = changed_seed(
        tmp_path, "measures.json", lambda m: by_key(m, "code", "3.3").update(title_en="New")
    )
    before = stored_state()

    with pytest.raises(CommandError, match="1 conflicts"):
        load_seed(dir=seed, strict=True)

    assert stored_state() == before


def test_a_strict_load_without_conflicts_loads(tmp_path):
    seed = changed_seed(
        tmp_path, "measures.json", lambda m: by_key(m, "code", "3.3").update(title_en="New")
    )

    load_seed(dir=seed, strict=True)

    assert Measure.objects.get(code="3.3").title_en == "New"


def test_seed_values_that_would_break_a_rule_beside_an_edit_are_conflicts_not_errors(
    analyst_api, tmp_path
):
    load_seed()
    evidence = Evidence.objects.get(key="chatgpt_launch_2022")
    patch(analyst_api, reverse("evidence-detail", args=[evidence.pk]), {"date_precision": "year"})
    seed = changed_seed(
        tmp_path,
        "evidence.json",
        lambda e: by_key(e, "key", "chatgpt_launch_2022").update(date=None, date_precision=None),
    )

    output = load_seed(dir=seed)

    evidence.refresh_from_db()
    assert (evidence.date, evidence.date_precision, evidence.version) == (
        date(2022, 11, 1),
        "year",
        2,
    )
    assert [line.split(":")[0] for line in conflicts(output)] == [
        "evidence.json, evidence chatgpt_launch_2022, date_precision",
        "evidence.json, evidence chatgpt_launch_2022, date",
    ]
