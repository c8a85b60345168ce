import json
import shutil
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from evidence.choices import Attribution
from evidence.models import Evidence, EvidenceFigure, Source
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
    StatusUpdate,
)
from tests.conftest import TODAY

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
    load_seed()

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
    load_seed()

    assert Evidence.objects.count() == len(seed_file("evidence.json"))
    assert Source.objects.count() == len(seed_file("sources.json"))
    assert Institution.objects.count() == len(seed_file("institutions.json"))
    assert EvidenceFigure.objects.count() == sum(
        len(record["figures"]) for record in seed_file("evidence.json")
    )


def test_every_measure_starts_not_assessed_on_the_papers_publication_date():
    load_seed()

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
    load_seed()
    before = snapshot()

    output = load_seed()

    assert snapshot() == before
    assert "0 created, 0 updated" in output.splitlines()[-1]


def test_loading_never_touches_recorded_history():
    load_seed()
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
    load_seed()
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    measures = seed_file("measures.json")
    measures[0]["title_en"] = "A better translation"
    (tmp_path / "seed" / "measures.json").write_text(json.dumps(measures), encoding="utf-8")

    output = load_seed(dir=tmp_path / "seed")

    measure = Measure.objects.get(code=measures[0]["code"])
    assert (measure.title_en, measure.version) == ("A better translation", 2)
    assert "1 updated" in output.splitlines()[-1]


def test_a_first_load_puts_every_source_and_piece_of_evidence_at_version_1():
    load_seed()

    assert set(Source.objects.values_list("version", flat=True)) == {1}
    assert set(Evidence.objects.values_list("version", flat=True)) == {1}


def test_a_changed_seed_figure_or_source_bumps_only_their_versions(tmp_path):
    load_seed()
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


def test_a_malformed_seed_is_refused_and_writes_nothing(tmp_path):
    shutil.copytree(settings.SEED_DIR, tmp_path / "seed")
    evidence = seed_file("evidence.json")
    evidence[-1]["source"] = "no_such_source"
    (tmp_path / "seed" / "evidence.json").write_text(json.dumps(evidence), encoding="utf-8")

    with pytest.raises(CommandError, match="no_such_source"):
        load_seed(dir=tmp_path / "seed")

    assert all(model.objects.count() == 0 for model in MODELS)


def test_the_pillars_and_measures_are_the_papers_words():
    load_seed()

    pillar = Pillar.objects.get(number=3)
    assert pillar.title_zh.startswith("构建数据安全与隐私保护体系")
    assert pillar.aim_zh.startswith("要在保障客户隐私的前提下释放数据价值")
    assert Measure.objects.get(code="3.2").title_zh == "推广隐私计算技术"
    assert Measure.objects.get(code="4.1").title_zh == "推行“监管沙盒”机制"
    assert "联邦学习" in Measure.objects.get(code="3.2").description_zh


def test_the_joint_regulatory_mechanism_names_its_four_bodies():
    load_seed()

    links = Measure.objects.get(code="4.3").institution_links.select_related("institution")

    assert {link.institution.key for link in links} == {"pboc", "nfra", "csrc", "cac"}


def test_the_figures_are_the_papers_figures():
    load_seed()

    def figures(key):
        return {(f.value, f.unit) for f in Evidence.objects.get(key=key).figures.all()}

    assert (Decimal("43"), "%") in figures("nvidia_survey_adoption_2024")
    assert (Decimal("400"), "家") in figures("nvidia_survey_adoption_2024")
    assert {Decimal("20"), Decimal("25"), Decimal("97")} <= {
        value for value, _ in figures("duxiaoman_xuanyuan")
    }
    assert Decimal("0.00390625") in {value for value, _ in figures("deepseek_r1_inference_cost")}


def test_unsourced_figures_name_the_paper_as_their_source_and_say_so():
    load_seed()

    unsourced = Evidence.objects.filter(attribution=Attribution.UNSOURCED)

    assert unsourced.exists()
    assert set(unsourced.values_list("source__key", flat=True)) == {"wang2025"}
    assert Evidence.objects.get(key="abc_chatabc").attribution == Attribution.UNSOURCED
    assert Evidence.objects.get(key="ai_loan_approval_20pct_faster").source.key == "fuster2019"


def test_every_cited_source_backs_some_evidence():
    load_seed()

    assert not Source.objects.filter(evidence__isnull=True).exists()


def test_the_papers_slips_are_noted_not_corrected():
    load_seed()

    launch = Evidence.objects.get(key="chatgpt_launch_2022")
    assert launch.date == date(2022, 11, 1)
    assert "12月" in launch.note_zh and "12月" in launch.note_en
    assert "27,500" in Evidence.objects.get(key="chatgpt_training_compute").note_en


def test_every_quote_is_verbatim_from_the_paper():
    paper = " ".join((settings.SEED_DIR / "wang2025.txt").read_text(encoding="utf-8").split())

    quotes = [" ".join(record["quote"].split()) for record in seed_file("evidence.json")]

    assert all(quotes)
    assert [quote for quote in quotes if quote not in paper] == []
