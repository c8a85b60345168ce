"""The evidence API, /api/v1/evidence/ and /api/v1/sources/, through a real APIClient."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.choices import Attribution, DatePrecision, Qualifier, Reliability, SourceKind, Stance
from evidence.models import (
    Evidence,
    EvidenceFigure,
    EvidenceInnovationMechanism,
    EvidenceRisk,
    EvidenceScenario,
    Source,
)
from recommendations.models import IdempotencyKey, InnovationMechanism
from tests.factories import (
    ConceptFactory,
    EvidenceFactory,
    InstitutionFactory,
    MeasureFactory,
    RiskFactory,
    ScenarioFactory,
    SourceFactory,
    link_evidence,
)

pytestmark = pytest.mark.django_db

EVIDENCE_LIST = reverse("evidence-list")
SOURCE_LIST = reverse("source-list")


class InnovationMechanismFactory(ConceptFactory):
    class Meta:
        model = InnovationMechanism


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    # Throttling counts requests per user id in the cache; ids repeat across tests.
    cache.clear()


def evidence_url(evidence) -> str:
    return reverse("evidence-detail", args=[evidence.pk])


def source_url(source) -> str:
    return reverse("source-detail", args=[source.pk])


def listed(response) -> list:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def add_figure(evidence, *, order, value, measures_en, unit="", qualifier=Qualifier.EXACT):
    return EvidenceFigure.objects.create(
        evidence=evidence,
        order=order,
        value=Decimal(value),
        unit=unit,
        qualifier=qualifier,
        measures_zh=f"{measures_en}（中文）",
        measures_en=measures_en,
    )


def stored(evidence) -> dict:
    """What the database holds for `evidence`, in a form two snapshots can be compared in."""
    evidence = Evidence.objects.get(pk=evidence.pk)
    return {
        "claim_en": evidence.claim_en,
        "figures": list(
            evidence.figures.order_by("order").values_list("order", "value", "measures_en")
        ),
        "institutions": sorted(evidence.institutions.values_list("key", flat=True)),
        "measures": sorted(evidence.evidencemeasure_set.values_list("measure__code", "stance")),
        "risks": sorted(evidence.evidencerisk_set.values_list("risk__key", "stance")),
        "scenarios": sorted(evidence.evidencescenario_set.values_list("scenario__key", "stance")),
        "innovation_mechanisms": sorted(
            evidence.evidenceinnovationmechanism_set.values_list("mechanism__key", "stance")
        ),
    }


def fully_linked_evidence(*, n: int) -> Evidence:
    """Evidence with two figures, two institutions and a link of every kind."""
    evidence = EvidenceFactory(
        source=SourceFactory(title=f"Study {n}"), date=date(2025, 1, n), date_precision="day"
    )
    add_figure(evidence, order=1, value="10", measures_en=f"first {n}")
    add_figure(evidence, order=2, value="20", measures_en=f"second {n}")
    evidence.institutions.add(InstitutionFactory(), InstitutionFactory())
    link_evidence(evidence, MeasureFactory(), Stance.SUPPORTS)
    EvidenceRisk.objects.create(evidence=evidence, risk=RiskFactory(), stance=Stance.CHALLENGES)
    EvidenceScenario.objects.create(
        evidence=evidence, scenario=ScenarioFactory(), stance=Stance.CONTEXT
    )
    EvidenceInnovationMechanism.objects.create(
        evidence=evidence, mechanism=InnovationMechanismFactory(), stance=Stance.SUPPORTS
    )
    return evidence


# Shapes


def test_evidence_detail_shows_source_brief_figures_institutions_and_links_with_stance(
    analyst_api,
):
    source = SourceFactory(
        key="pboc-2025",
        kind=SourceKind.POLICY_DOCUMENT,
        title="Fintech Development Plan",
        reliability=Reliability.MEDIUM,
        authors="PBOC",
    )
    evidence = EvidenceFactory(
        source=source,
        key="pboc-plan-share",
        attribution=Attribution.UNSOURCED,
        claim_zh="银行使用大模型",
        claim_en="Banks use large models",
        quote="Banks use large models.",
        location="p. 3",
        date=date(2025, 3, 1),
        date_precision=DatePrecision.MONTH,
    )
    add_figure(
        evidence,
        order=1,
        value="42.5",
        unit="%",
        measures_en="share of banks",
        qualifier="at_least",
    )
    evidence.institutions.add(InstitutionFactory(key="pboc"))
    link_evidence(evidence, MeasureFactory(code="1.1"), Stance.SUPPORTS)
    EvidenceRisk.objects.create(
        evidence=evidence, risk=RiskFactory(key="hallucination"), stance=Stance.CHALLENGES
    )
    EvidenceScenario.objects.create(
        evidence=evidence, scenario=ScenarioFactory(key="credit"), stance=Stance.CONTEXT
    )
    EvidenceInnovationMechanism.objects.create(
        evidence=evidence, mechanism=InnovationMechanismFactory(key="automation"), stance="supports"
    )

    response = analyst_api.get(evidence_url(evidence))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == evidence.pk
    assert body["url"] == f"http://testserver/api/v1/evidence/{evidence.pk}/"
    assert body["source"] == {
        "id": source.pk,
        "key": "pboc-2025",
        "kind": "policy_document",
        "title": "Fintech Development Plan",
        "reliability": "medium",
    }
    assert {k: body[k] for k in ("key", "attribution", "claim_zh", "claim_en", "quote")} == {
        "key": "pboc-plan-share",
        "attribution": "unsourced",
        "claim_zh": "银行使用大模型",
        "claim_en": "Banks use large models",
        "quote": "Banks use large models.",
    }
    assert (body["location"], body["date"], body["date_precision"]) == (
        "p. 3",
        "2025-03-01",
        "month",
    )
    assert body["figures"] == [
        {
            "value": "42.5000000000",
            "unit": "%",
            "qualifier": "at_least",
            "measures_zh": "share of banks（中文）",
            "measures_en": "share of banks",
        }
    ]
    assert body["institutions"] == ["pboc"]
    assert body["measures"] == [{"measure": "1.1", "stance": "supports"}]
    assert body["risks"] == [{"risk": "hallucination", "stance": "challenges"}]
    assert body["scenarios"] == [{"scenario": "credit", "stance": "context"}]
    assert body["innovation_mechanisms"] == [{"mechanism": "automation", "stance": "supports"}]
    assert body["version"] == 1
    assert re.fullmatch(r'"1\.[0-9a-f]{20}"', response["ETag"])
    assert {"created_at", "updated_at"} <= body.keys()


def test_evidence_list_is_a_page_of_the_same_shape_as_the_detail(analyst_api):
    evidence = fully_linked_evidence(n=1)

    page = analyst_api.get(EVIDENCE_LIST).json()
    detail = analyst_api.get(evidence_url(evidence)).json()

    assert (page["count"], page["next"], page["previous"]) == (1, None, None)
    assert page["results"] == [detail]


def test_evidence_detail_of_an_unknown_id_is_404(analyst_api):
    response = analyst_api.get(reverse("evidence-detail", args=[999999]))

    assert response.status_code == 404


def test_source_list_shows_how_much_evidence_each_source_has(analyst_api):
    cited = SourceFactory(title="A cited study")
    SourceFactory(title="An uncited study")
    EvidenceFactory.create_batch(2, source=cited)

    response = analyst_api.get(SOURCE_LIST)

    assert response.status_code == 200
    counts = {row["title"]: row["evidence_count"] for row in response.json()["results"]}
    assert counts == {"A cited study": 2, "An uncited study": 0}


def test_source_detail_shows_the_full_citation(analyst_api):
    source = SourceFactory(
        key="imf-gfsr",
        kind=SourceKind.TECHNICAL_REPORT,
        authors="IMF",
        title="Global Financial Stability Report",
        venue="IMF",
        year=2024,
        published_on=date(2024, 10, 22),
        url="https://www.imf.org/gfsr",
        citation="IMF (2024). GFSR.",
        reliability=Reliability.HIGH,
        note_zh="第三章",
        note_en="Chapter 3",
    )
    EvidenceFactory(source=source)

    response = analyst_api.get(source_url(source))

    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k not in {"created_at", "updated_at"}} == {
        "id": source.pk,
        "key": "imf-gfsr",
        "kind": "technical_report",
        "authors": "IMF",
        "title": "Global Financial Stability Report",
        "venue": "IMF",
        "year": 2024,
        "published_on": "2024-10-22",
        "url": "https://www.imf.org/gfsr",
        "citation": "IMF (2024). GFSR.",
        "reliability": "high",
        "note_zh": "第三章",
        "note_en": "Chapter 3",
        "evidence_count": 1,
        "version": 1,
    }
    assert re.fullmatch(r'"1\.[0-9a-f]{20}"', response["ETag"])


# Evidence filters


def test_measure_filter_takes_a_measure_code(analyst_api):
    measure = MeasureFactory(code="2.3")
    on_measure = EvidenceFactory()
    link_evidence(on_measure, measure)
    link_evidence(EvidenceFactory(), MeasureFactory(code="2.4"))

    response = analyst_api.get(EVIDENCE_LIST, {"measure": "2.3"})

    assert listed(response) == [on_measure.pk]


def test_measure_filter_takes_a_measure_id(analyst_api):
    measure = MeasureFactory(code="2.3")
    on_measure = EvidenceFactory()
    link_evidence(on_measure, measure)
    link_evidence(EvidenceFactory(), MeasureFactory(code="2.4"))

    response = analyst_api.get(EVIDENCE_LIST, {"measure": str(measure.pk)})

    assert listed(response) == [on_measure.pk]


@pytest.mark.parametrize("value", ["9.9", "999999"])
def test_measure_filter_naming_no_measure_is_400(analyst_api, value):
    MeasureFactory(code="2.3")

    response = analyst_api.get(EVIDENCE_LIST, {"measure": value})

    assert response.status_code == 400
    assert response.json() == {"measure": [f"No measure has the id or code {value}."]}


def test_risk_filter_takes_a_risk_key(analyst_api):
    on_risk = EvidenceFactory()
    EvidenceRisk.objects.create(evidence=on_risk, risk=RiskFactory(key="bias"), stance="supports")
    EvidenceRisk.objects.create(
        evidence=EvidenceFactory(), risk=RiskFactory(key="privacy"), stance="supports"
    )

    response = analyst_api.get(EVIDENCE_LIST, {"risk": "bias"})

    assert listed(response) == [on_risk.pk]


def test_unknown_risk_key_is_400(analyst_api):
    RiskFactory(key="bias")

    response = analyst_api.get(EVIDENCE_LIST, {"risk": "no-such-risk"})

    assert response.status_code == 400
    assert "risk" in response.json()


def test_scenario_filter_takes_a_scenario_key(analyst_api):
    on_scenario = EvidenceFactory()
    EvidenceScenario.objects.create(
        evidence=on_scenario, scenario=ScenarioFactory(key="credit"), stance="context"
    )
    EvidenceScenario.objects.create(
        evidence=EvidenceFactory(), scenario=ScenarioFactory(key="advice"), stance="context"
    )

    response = analyst_api.get(EVIDENCE_LIST, {"scenario": "credit"})

    assert listed(response) == [on_scenario.pk]


def test_unknown_scenario_key_is_400(analyst_api):
    response = analyst_api.get(EVIDENCE_LIST, {"scenario": "no-such-scenario"})

    assert response.status_code == 400
    assert "scenario" in response.json()


def test_stance_alone_matches_evidence_with_any_link_of_that_stance(analyst_api):
    via_measure = EvidenceFactory()
    link_evidence(via_measure, MeasureFactory(), Stance.CHALLENGES)
    via_mechanism = EvidenceFactory()
    EvidenceInnovationMechanism.objects.create(
        evidence=via_mechanism, mechanism=InnovationMechanismFactory(), stance=Stance.CHALLENGES
    )
    other_stance = EvidenceFactory()
    EvidenceRisk.objects.create(evidence=other_stance, risk=RiskFactory(), stance=Stance.SUPPORTS)
    EvidenceFactory()  # linked to nothing

    response = analyst_api.get(EVIDENCE_LIST, {"stance": "challenges"})

    assert sorted(listed(response)) == sorted([via_measure.pk, via_mechanism.pk])


def test_stance_with_measure_binds_to_the_link_to_that_measure(analyst_api):
    a, b = MeasureFactory(code="1.1"), MeasureFactory(code="1.2")
    supports_a_context_b = EvidenceFactory()
    link_evidence(supports_a_context_b, a, Stance.SUPPORTS)
    link_evidence(supports_a_context_b, b, Stance.CONTEXT)
    supports_b = EvidenceFactory()
    link_evidence(supports_b, b, Stance.SUPPORTS)

    on_b = analyst_api.get(EVIDENCE_LIST, {"measure": "1.2", "stance": "supports"})
    on_a = analyst_api.get(EVIDENCE_LIST, {"measure": "1.1", "stance": "supports"})

    assert listed(on_b) == [supports_b.pk]
    assert listed(on_a) == [supports_a_context_b.pk]


def test_stance_with_risk_binds_to_the_link_to_that_risk(analyst_api):
    bias = RiskFactory(key="bias")
    evidence = EvidenceFactory()
    EvidenceRisk.objects.create(evidence=evidence, risk=bias, stance=Stance.CONTEXT)
    link_evidence(evidence, MeasureFactory(), Stance.SUPPORTS)

    response = analyst_api.get(EVIDENCE_LIST, {"risk": "bias", "stance": "supports"})

    assert listed(response) == []


def test_unknown_stance_filter_is_400(analyst_api):
    response = analyst_api.get(EVIDENCE_LIST, {"stance": "agrees"})

    assert response.status_code == 400
    assert "stance" in response.json()


def test_source_kind_filter_matches_the_kind_of_the_source(analyst_api):
    news = EvidenceFactory(source=SourceFactory(kind=SourceKind.NEWS))
    EvidenceFactory(source=SourceFactory(kind=SourceKind.SURVEY))

    response = analyst_api.get(EVIDENCE_LIST, {"source_kind": "news"})

    assert listed(response) == [news.pk]


def test_reliability_filter_matches_the_reliability_of_the_source(analyst_api):
    low = EvidenceFactory(source=SourceFactory(reliability=Reliability.LOW))
    EvidenceFactory(source=SourceFactory(reliability=Reliability.HIGH))

    response = analyst_api.get(EVIDENCE_LIST, {"reliability": "low"})

    assert listed(response) == [low.pk]


def test_attribution_filter(analyst_api):
    unsourced = EvidenceFactory(attribution=Attribution.UNSOURCED)
    EvidenceFactory(attribution=Attribution.CITED)

    response = analyst_api.get(EVIDENCE_LIST, {"attribution": "unsourced"})

    assert listed(response) == [unsourced.pk]


@pytest.mark.parametrize(
    "name, value", [("source_kind", "blog"), ("reliability", "certain"), ("attribution", "rumour")]
)
def test_an_unknown_choice_in_a_filter_is_400(analyst_api, name, value):
    response = analyst_api.get(EVIDENCE_LIST, {name: value})

    assert response.status_code == 400
    assert name in response.json()


def test_date_after_and_date_before_include_their_bounds(analyst_api):
    def dated(day):
        return EvidenceFactory(date=day, date_precision=DatePrecision.DAY)

    dated(date(2025, 2, 28))
    first = dated(date(2025, 3, 1))
    last = dated(date(2025, 3, 31))
    dated(date(2025, 4, 1))
    EvidenceFactory(date=None)

    response = analyst_api.get(
        EVIDENCE_LIST, {"date_after": "2025-03-01", "date_before": "2025-03-31"}
    )

    assert listed(response) == [last.pk, first.pk]


@pytest.mark.parametrize("name", ["date_after", "date_before"])
def test_a_malformed_date_filter_is_400(analyst_api, name):
    response = analyst_api.get(EVIDENCE_LIST, {name: "2025-13-01"})

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize(
    "fields, term",
    [
        ({"claim_zh": "大模型提升了信贷审批效率"}, "信贷审批"),
        ({"claim_en": "Chatbots cut call-centre costs"}, "call-centre"),
        ({"quote": "we saw a 30% drop in fraud"}, "drop in fraud"),
    ],
)
def test_search_matches_claims_and_quote(analyst_api, fields, term):
    match = EvidenceFactory(**fields)
    EvidenceFactory(claim_zh="无关", claim_en="Unrelated", quote="")

    response = analyst_api.get(EVIDENCE_LIST, {"search": term})

    assert listed(response) == [match.pk]


def test_search_matches_the_title_of_the_source(analyst_api):
    match = EvidenceFactory(source=SourceFactory(title="Survey of Chinese banks"))
    EvidenceFactory(source=SourceFactory(title="Insurance report"))

    response = analyst_api.get(EVIDENCE_LIST, {"search": "chinese banks"})

    assert listed(response) == [match.pk]


def test_evidence_is_newest_first_with_undated_last_by_default(analyst_api):
    undated = EvidenceFactory(date=None)
    old = EvidenceFactory(date=date(2024, 1, 1), date_precision="day")
    new = EvidenceFactory(date=date(2025, 1, 1), date_precision="day")

    response = analyst_api.get(EVIDENCE_LIST)

    assert listed(response) == [new.pk, old.pk, undated.pk]


def test_ordering_by_date_ascending_puts_undated_evidence_last(analyst_api):
    undated = EvidenceFactory(date=None)
    new = EvidenceFactory(date=date(2025, 1, 1), date_precision="day")
    old = EvidenceFactory(date=date(2024, 1, 1), date_precision="day")

    response = analyst_api.get(EVIDENCE_LIST, {"ordering": "date"})

    assert listed(response) == [old.pk, new.pk, undated.pk]


def test_ordering_by_an_unlisted_field_is_400_naming_it(analyst_api):
    response = analyst_api.get(EVIDENCE_LIST, {"ordering": "claim_en"})

    assert response.status_code == 400
    [message] = response.json()["ordering"]
    assert "claim_en" in message


def test_an_unknown_query_parameter_is_400_naming_it(analyst_api):
    response = analyst_api.get(EVIDENCE_LIST, {"measures": "1.1"})

    assert response.status_code == 400
    assert list(response.json()) == ["measures"]
    [message] = response.json()["measures"]
    assert message.startswith("Unknown query parameter. Allowed: ")
    assert {"measure", "stance", "search", "ordering", "page_size"} <= set(
        message.removeprefix("Unknown query parameter. Allowed: ").rstrip(".").split(", ")
    )


def test_page_size_is_capped_at_the_maximum(analyst_api, settings):
    settings.API_MAX_PAGE_SIZE = 2
    EvidenceFactory.create_batch(3)

    response = analyst_api.get(EVIDENCE_LIST, {"page_size": 100})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["count"] == 3


def test_page_size_chooses_the_number_of_rows_per_page(analyst_api):
    EvidenceFactory.create_batch(3)

    response = analyst_api.get(EVIDENCE_LIST, {"page_size": 2, "page": 2})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("value", ["0", "abc", "-1", ""])
def test_page_size_that_is_not_a_positive_whole_number_is_400(analyst_api, value):
    response = analyst_api.get(EVIDENCE_LIST, {"page_size": value})

    assert response.status_code == 400
    assert "page_size" in response.json()


# Source filters


def test_source_kind_filter(analyst_api):
    survey = SourceFactory(kind=SourceKind.SURVEY)
    SourceFactory(kind=SourceKind.NEWS)

    response = analyst_api.get(SOURCE_LIST, {"kind": "survey"})

    assert listed(response) == [survey.pk]


def test_source_reliability_filter(analyst_api):
    medium = SourceFactory(reliability=Reliability.MEDIUM)
    SourceFactory(reliability=Reliability.HIGH)

    response = analyst_api.get(SOURCE_LIST, {"reliability": "medium"})

    assert listed(response) == [medium.pk]


def test_source_year_filter(analyst_api):
    of_2024 = SourceFactory(year=2024)
    SourceFactory(year=2023)
    SourceFactory(year=None)

    response = analyst_api.get(SOURCE_LIST, {"year": 2024})

    assert listed(response) == [of_2024.pk]


def test_sources_ordered_by_year_put_undated_ones_last(analyst_api):
    undated = SourceFactory(year=None)
    new = SourceFactory(year=2025)
    old = SourceFactory(year=2020)

    ascending = analyst_api.get(SOURCE_LIST, {"ordering": "year"})
    descending = analyst_api.get(SOURCE_LIST, {"ordering": "-year"})

    assert listed(ascending) == [old.pk, new.pk, undated.pk]
    assert listed(descending) == [new.pk, old.pk, undated.pk]


@pytest.mark.parametrize(
    "params", [{"kind": "blog"}, {"year": "recent"}, {"year": "2020.5"}, {"author": "IMF"}]
)
def test_a_bad_source_filter_is_400_naming_it(analyst_api, params):
    response = analyst_api.get(SOURCE_LIST, params)

    assert response.status_code == 400
    assert list(response.json()) == list(params)


@pytest.mark.parametrize(
    "fields, term",
    [
        ({"title": "Generative AI in banking"}, "in banking"),
        ({"authors": "Zhang Wei"}, "zhang"),
        ({"venue": "金融研究"}, "金融"),
        ({"citation": "doi:10.1000/xyz"}, "10.1000"),
    ],
)
def test_source_search_matches_title_authors_venue_and_citation(analyst_api, fields, term):
    match = SourceFactory(**fields)
    SourceFactory(title="Unrelated", authors="", venue="", citation="")

    response = analyst_api.get(SOURCE_LIST, {"search": term})

    assert listed(response) == [match.pk]


# Creating and changing evidence


def test_analyst_creates_evidence_with_figures_institutions_and_links(analyst_api):
    source = SourceFactory()
    InstitutionFactory(key="cbirc")
    MeasureFactory(code="3.1")
    RiskFactory(key="bias")
    ScenarioFactory(key="credit")
    InnovationMechanismFactory(key="automation")

    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": source.pk,
            "key": "credit-bias",
            "claim_zh": "模型存在偏差",
            "claim_en": "Models are biased",
            "date": "2025-06-01",
            "date_precision": "month",
            "figures": [
                {
                    "value": "12.5",
                    "unit": "%",
                    "measures_zh": "拒绝率",
                    "measures_en": "rejections",
                },
                {
                    "value": "3",
                    "qualifier": "more_than",
                    "measures_zh": "家",
                    "measures_en": "banks",
                },
            ],
            "institutions": ["cbirc"],
            "measures": [{"measure": "3.1", "stance": "supports"}],
            "risks": [{"risk": "bias", "stance": "challenges"}],
            "scenarios": [{"scenario": "credit", "stance": "context"}],
            "innovation_mechanisms": [{"mechanism": "automation", "stance": "supports"}],
        },
    )

    assert response.status_code == 201, response.content
    evidence = Evidence.objects.get()
    assert response["Location"] == f"http://testserver/api/v1/evidence/{evidence.pk}/"
    assert type(response.headers["Location"]) is str  # WSGI servers refuse str subclasses
    assert response.json()["id"] == evidence.pk
    assert response.json()["measures"] == [{"measure": "3.1", "stance": "supports"}]
    assert (evidence.key, evidence.source, evidence.date) == (
        "credit-bias",
        source,
        date(2025, 6, 1),
    )
    assert stored(evidence) == {
        "claim_en": "Models are biased",
        "figures": [(1, Decimal("12.5"), "rejections"), (2, Decimal("3"), "banks")],
        "institutions": ["cbirc"],
        "measures": [("3.1", "supports")],
        "risks": [("bias", "challenges")],
        "scenarios": [("credit", "context")],
        "innovation_mechanisms": [("automation", "supports")],
    }
    assert evidence.figures.get(order=2).qualifier == Qualifier.MORE_THAN


def test_created_evidence_records_the_requesting_user(analyst_api, analyst):
    response = analyst_api.post(
        EVIDENCE_LIST, {"source": SourceFactory().pk, "claim_zh": "主张", "claim_en": "A claim"}
    )

    assert response.status_code == 201
    assert Evidence.objects.get().created_by == analyst


def test_put_replaces_fields_figures_and_links(analyst_api):
    evidence = EvidenceFactory(claim_en="Old claim")
    add_figure(evidence, order=1, value="1", measures_en="old figure")
    link_evidence(evidence, MeasureFactory(code="1.1"), Stance.SUPPORTS)
    MeasureFactory(code="1.2")
    new_source = SourceFactory()

    response = analyst_api.put(
        evidence_url(evidence),
        {
            "source": new_source.pk,
            "claim_zh": "新主张",
            "claim_en": "New claim",
            "figures": [{"value": "7", "measures_zh": "新", "measures_en": "new figure"}],
            "measures": [{"measure": "1.2", "stance": "challenges"}],
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["measures"] == [{"measure": "1.2", "stance": "challenges"}]
    assert response.json()["source"]["id"] == new_source.pk
    after = stored(evidence)
    assert after["claim_en"] == "New claim"
    assert after["figures"] == [(1, Decimal("7"), "new figure")]
    assert after["measures"] == [("1.2", "challenges")]


def test_put_without_a_required_field_is_400(analyst_api):
    evidence = EvidenceFactory(claim_en="Old claim")

    response = analyst_api.put(evidence_url(evidence), {"claim_en": "New claim"})

    assert response.status_code == 400
    assert {"source", "claim_zh"} <= response.json().keys()
    assert stored(evidence)["claim_en"] == "Old claim"


def test_patch_replaces_the_lists_it_gives(analyst_api):
    evidence = EvidenceFactory()
    add_figure(evidence, order=1, value="1", measures_en="first")
    add_figure(evidence, order=2, value="2", measures_en="second")
    EvidenceRisk.objects.create(evidence=evidence, risk=RiskFactory(key="bias"), stance="supports")
    RiskFactory(key="privacy")

    response = analyst_api.patch(
        evidence_url(evidence),
        {
            "figures": [{"value": "9", "measures_zh": "九", "measures_en": "only"}],
            "risks": [{"risk": "privacy", "stance": "context"}],
        },
    )

    assert response.status_code == 200, response.content
    after = stored(evidence)
    assert after["figures"] == [(1, Decimal("9"), "only")]
    assert after["risks"] == [("privacy", "context")]


def test_patch_with_an_empty_list_removes_every_item_of_it(analyst_api):
    evidence = EvidenceFactory()
    link_evidence(evidence, MeasureFactory(code="1.1"))
    evidence.institutions.add(InstitutionFactory(key="pboc"))

    response = analyst_api.patch(evidence_url(evidence), {"measures": [], "institutions": []})

    assert response.status_code == 200
    assert (stored(evidence)["measures"], stored(evidence)["institutions"]) == ([], [])


def test_patch_without_lists_leaves_figures_institutions_and_links_alone(analyst_api):
    evidence = fully_linked_evidence(n=1)
    before = stored(evidence)

    response = analyst_api.patch(evidence_url(evidence), {"claim_en": "Reworded claim"})

    assert response.status_code == 200
    assert stored(evidence) == {**before, "claim_en": "Reworded claim"}


def test_changing_evidence_keeps_who_created_it(analyst_api, admin_user):
    evidence = EvidenceFactory(created_by=admin_user)

    response = analyst_api.patch(evidence_url(evidence), {"claim_en": "Reworded claim"})

    assert response.status_code == 200
    evidence.refresh_from_db()
    assert evidence.created_by == admin_user


def test_a_second_link_to_one_measure_on_create_is_400_and_writes_nothing(analyst_api):
    MeasureFactory(code="1.1")

    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "figures": [{"value": "1", "measures_zh": "一", "measures_en": "one"}],
            "measures": [
                {"measure": "1.1", "stance": "supports"},
                {"measure": "1.1", "stance": "context"},
            ],
        },
    )

    assert response.status_code == 400
    assert "measures" in response.json()
    assert Evidence.objects.count() == 0
    assert EvidenceFigure.objects.count() == 0


def test_a_failed_update_leaves_the_old_figures_and_links(analyst_api):
    evidence = fully_linked_evidence(n=1)
    MeasureFactory(code="1.1")
    before = stored(evidence)

    response = analyst_api.patch(
        evidence_url(evidence),
        {
            "claim_en": "Reworded claim",
            "figures": [{"value": "5", "measures_zh": "五", "measures_en": "new"}],
            "measures": [
                {"measure": "1.1", "stance": "supports"},
                {"measure": "1.1", "stance": "challenges"},
            ],
        },
    )

    assert response.status_code == 400
    assert "measures" in response.json()
    assert stored(evidence) == before
    assert EvidenceFigure.objects.count() == 2


def test_an_unknown_source_is_400(analyst_api):
    response = analyst_api.post(
        EVIDENCE_LIST, {"source": 999999, "claim_zh": "主张", "claim_en": "A claim"}
    )

    assert response.status_code == 400
    assert "source" in response.json()
    assert Evidence.objects.count() == 0


def test_an_unknown_measure_code_in_a_link_is_400(analyst_api):
    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "measures": [{"measure": "9.9", "stance": "supports"}],
        },
    )

    assert response.status_code == 400
    assert response.json() == {"measures[0].measure": ["Object with code=9.9 does not exist."]}
    assert Evidence.objects.count() == 0


def test_an_invalid_link_stance_is_400(analyst_api):
    MeasureFactory(code="1.1")

    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "measures": [{"measure": "1.1", "stance": "agrees"}],
        },
    )

    assert response.status_code == 400
    assert response.json().keys() == {"measures[0].stance"}
    assert Evidence.objects.count() == 0


def test_an_invalid_figure_is_400(analyst_api):
    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "figures": [{"value": "many", "measures_zh": "多", "measures_en": "many"}],
        },
    )

    assert response.status_code == 400
    assert response.json().keys() == {"figures[0].value"}
    assert Evidence.objects.count() == 0


def test_a_date_without_its_precision_is_400(analyst_api):
    response = analyst_api.post(
        EVIDENCE_LIST,
        {
            "source": SourceFactory().pk,
            "claim_zh": "主张",
            "claim_en": "A claim",
            "date": "2025-06-01",
        },
    )

    assert response.status_code == 400
    assert Evidence.objects.count() == 0


def test_a_duplicate_evidence_key_is_400(analyst_api):
    EvidenceFactory(key="taken")

    response = analyst_api.post(
        EVIDENCE_LIST,
        {"source": SourceFactory().pk, "key": "taken", "claim_zh": "主张", "claim_en": "A claim"},
    )

    assert response.status_code == 400
    assert "key" in response.json()
    assert Evidence.objects.count() == 1


def test_changing_a_key_to_one_already_taken_is_400(analyst_api):
    EvidenceFactory(key="taken")
    evidence = EvidenceFactory(key="mine")

    response = analyst_api.patch(evidence_url(evidence), {"key": "taken"})

    assert response.status_code == 400
    assert "key" in response.json()
    evidence.refresh_from_db()
    assert evidence.key == "mine"


def test_keeping_its_own_key_is_not_a_duplicate(analyst_api):
    evidence = EvidenceFactory(key="mine")

    response = analyst_api.patch(evidence_url(evidence), {"key": "mine", "claim_en": "Reworded"})

    assert response.status_code == 200


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_a_malformed_json_body_is_400(analyst_api, url):
    response = analyst_api.post(url, '{"title": "unclosed', content_type="application/json")

    assert response.status_code == 400
    [message] = response.json()["non_field_errors"]
    assert "JSON parse error" in message
    assert (Evidence.objects.count(), Source.objects.count()) == (0, 0)


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_a_json_body_that_is_not_an_object_is_400(analyst_api, url):
    response = analyst_api.post(url, [{"title": "A study"}])

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert (Evidence.objects.count(), Source.objects.count()) == (0, 0)


# Creating and changing sources


def test_analyst_creates_a_source(analyst_api):
    response = analyst_api.post(
        SOURCE_LIST,
        {
            "key": "bis-2024",
            "kind": "technical_report",
            "title": "AI in central banking",
            "year": 2024,
            "reliability": "high",
        },
    )

    assert response.status_code == 201, response.content
    source = Source.objects.get()
    assert (source.key, source.kind, source.title, source.year) == (
        "bis-2024",
        SourceKind.TECHNICAL_REPORT,
        "AI in central banking",
        2024,
    )
    assert response.json()["id"] == source.pk
    assert response.json()["evidence_count"] == 0
    assert response["Location"].endswith(f"/api/v1/sources/{source.pk}/")
    assert type(response.headers["Location"]) is str


def test_put_replaces_a_source(analyst_api):
    source = SourceFactory(title="Old title", kind=SourceKind.NEWS, reliability=Reliability.LOW)
    EvidenceFactory(source=source)

    response = analyst_api.put(
        source_url(source), {"kind": "survey", "title": "New title", "reliability": "medium"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["evidence_count"] == 1
    source.refresh_from_db()
    assert (source.kind, source.title, source.reliability) == ("survey", "New title", "medium")


def test_patch_changes_only_the_given_source_fields(analyst_api):
    source = SourceFactory(title="Old title", year=2020)

    response = analyst_api.patch(source_url(source), {"year": 2021})

    assert response.status_code == 200
    source.refresh_from_db()
    assert (source.title, source.year) == ("Old title", 2021)


def test_an_invalid_source_kind_is_400(analyst_api):
    response = analyst_api.post(
        SOURCE_LIST, {"kind": "blog", "title": "A post", "reliability": "low"}
    )

    assert response.status_code == 400
    assert "kind" in response.json()
    assert Source.objects.count() == 0


def test_a_year_out_of_range_is_400(analyst_api):
    response = analyst_api.post(
        SOURCE_LIST, {"kind": "news", "title": "A post", "reliability": "low", "year": 99}
    )

    assert response.status_code == 400
    assert Source.objects.count() == 0


def test_a_duplicate_source_key_is_400(analyst_api):
    SourceFactory(key="taken")

    response = analyst_api.post(
        SOURCE_LIST, {"key": "taken", "kind": "news", "title": "A post", "reliability": "low"}
    )

    assert response.status_code == 400
    assert "key" in response.json()
    assert Source.objects.count() == 1


def test_changing_a_source_key_to_one_already_taken_is_400(analyst_api):
    SourceFactory(key="taken")
    source = SourceFactory(key="mine")

    response = analyst_api.patch(source_url(source), {"key": "taken"})

    assert response.status_code == 400
    assert "key" in response.json()
    source.refresh_from_db()
    assert source.key == "mine"


def test_a_source_keeping_its_own_key_is_not_a_duplicate(analyst_api):
    source = SourceFactory(key="mine")

    response = analyst_api.put(
        source_url(source), {"key": "mine", "kind": "news", "title": "A post", "reliability": "low"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("key", ["", None])
def test_several_sources_may_have_no_key(analyst_api, key):
    SourceFactory(key=None)

    response = analyst_api.post(
        SOURCE_LIST, {"key": key, "kind": "news", "title": "A post", "reliability": "low"}
    )

    assert response.status_code == 201, response.content
    assert list(Source.objects.values_list("key", flat=True)) == [None, None]


# Permissions


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_anonymous_reading_is_401_with_a_challenge(api, url):
    response = api.get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_anonymous_writing_is_401(api, url):
    response = api.post(url, {"kind": "news", "title": "A post", "reliability": "low"})

    assert response.status_code == 401
    assert (Evidence.objects.count(), Source.objects.count()) == (0, 0)


def test_anonymous_reading_is_allowed_when_configured(api, settings):
    settings.API_ANONYMOUS_READ = True
    evidence = EvidenceFactory()

    evidence_list = api.get(EVIDENCE_LIST)
    source_detail = api.get(source_url(evidence.source))

    assert listed(evidence_list) == [evidence.pk]
    assert source_detail.status_code == 200


def test_anonymous_writing_is_401_even_when_anonymous_reading_is_allowed(api, settings):
    settings.API_ANONYMOUS_READ = True
    source = SourceFactory()

    response = api.post(EVIDENCE_LIST, {"source": source.pk, "claim_zh": "主", "claim_en": "A"})

    assert response.status_code == 401
    assert Evidence.objects.count() == 0


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_viewer_reads(viewer_api, url):
    EvidenceFactory()

    response = viewer_api.get(url)

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_viewer_cannot_create_evidence(viewer_api):
    source = SourceFactory()

    response = viewer_api.post(
        EVIDENCE_LIST, {"source": source.pk, "claim_zh": "主张", "claim_en": "A claim"}
    )

    assert response.status_code == 403
    assert Evidence.objects.count() == 0


def test_viewer_cannot_create_a_source(viewer_api):
    response = viewer_api.post(
        SOURCE_LIST, {"kind": "news", "title": "A post", "reliability": "low"}
    )

    assert response.status_code == 403
    assert Source.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch"])
def test_viewer_cannot_change_evidence(viewer_api, method):
    evidence = EvidenceFactory(claim_zh="旧", claim_en="Old claim")
    add_figure(evidence, order=1, value="1", measures_en="old figure")
    before = stored(evidence)

    response = getattr(viewer_api, method)(
        evidence_url(evidence),
        {"source": evidence.source_id, "claim_zh": "新", "claim_en": "New claim", "figures": []},
    )

    assert response.status_code == 403
    assert stored(evidence) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_viewer_cannot_change_a_source(viewer_api, method):
    source = SourceFactory(title="Old title", kind=SourceKind.NEWS, reliability=Reliability.LOW)

    response = getattr(viewer_api, method)(
        source_url(source), {"kind": "news", "title": "New title", "reliability": "low"}
    )

    assert response.status_code == 403
    source.refresh_from_db()
    assert source.title == "Old title"


def test_superuser_writes_evidence_and_sources(api, admin_user):
    api.force_authenticate(admin_user)

    source = api.post(SOURCE_LIST, {"kind": "news", "title": "A post", "reliability": "low"})
    evidence = api.post(
        EVIDENCE_LIST, {"source": source.json()["id"], "claim_zh": "主张", "claim_en": "A claim"}
    )

    assert (source.status_code, evidence.status_code) == (201, 201)
    assert Evidence.objects.get().created_by == admin_user


@pytest.mark.parametrize("user", ["analyst", "viewer", "admin_user"])
@pytest.mark.parametrize("kind", ["evidence", "source"])
def test_nothing_is_deleted_through_the_api(api, request, user, kind):
    evidence = EvidenceFactory()
    api.force_authenticate(request.getfixturevalue(user))
    record = evidence if kind == "evidence" else evidence.source

    response = api.delete(reverse(f"{kind}-detail", args=[record.pk]))

    assert response.status_code == 405
    assert type(record).objects.filter(pk=record.pk).exists()


def test_anonymous_deleting_is_401(api):
    evidence = EvidenceFactory()

    response = api.delete(evidence_url(evidence))

    assert response.status_code == 401
    assert Evidence.objects.filter(pk=evidence.pk).exists()


# Idempotency-Key


def new_source_body(title="A post") -> dict:
    return {"kind": "news", "title": title, "reliability": "low"}


def new_evidence_body(source, claim_en="A claim") -> dict:
    return {
        "source": source.pk,
        "claim_zh": "主张",
        "claim_en": claim_en,
        "figures": [{"value": "1.5", "measures_zh": "一", "measures_en": "one"}],
    }


def test_a_retried_evidence_post_replays_the_first_answer_and_writes_once(analyst_api):
    body = new_evidence_body(SourceFactory())

    first = analyst_api.post(EVIDENCE_LIST, body, HTTP_IDEMPOTENCY_KEY="evidence-1")
    retry = analyst_api.post(EVIDENCE_LIST, body, HTTP_IDEMPOTENCY_KEY="evidence-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"]
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Evidence.objects.count() == 1
    assert EvidenceFigure.objects.count() == 1


def test_a_retried_source_post_replays_the_first_answer_and_writes_once(analyst_api):
    first = analyst_api.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="source-1")
    retry = analyst_api.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="source-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Source.objects.count() == 1


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_reusing_a_key_for_another_body_is_422_and_writes_nothing(analyst_api, url):
    source = SourceFactory(title="Existing")
    bodies = {
        EVIDENCE_LIST: (new_evidence_body(source, "One"), new_evidence_body(source, "Two")),
        SOURCE_LIST: (new_source_body("One"), new_source_body("Two")),
    }[url]
    first = analyst_api.post(url, bodies[0], HTTP_IDEMPOTENCY_KEY="k-1")
    counts = (Evidence.objects.count(), Source.objects.count())

    response = analyst_api.post(url, bodies[1], HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert response.status_code == 422
    assert (Evidence.objects.count(), Source.objects.count()) == counts


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_an_idempotency_key_longer_than_255_characters_is_400(analyst_api, url):
    body = new_evidence_body(SourceFactory()) if url == EVIDENCE_LIST else new_source_body()
    before = (Evidence.objects.count(), Source.objects.count())

    response = analyst_api.post(url, body, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    [message] = response.json()["non_field_errors"]
    assert "Idempotency-Key" in message
    assert (Evidence.objects.count(), Source.objects.count()) == before
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "two words", "clé"])
def test_an_idempotency_key_of_other_than_visible_ascii_is_400(analyst_api, key):
    response = analyst_api.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert Source.objects.count() == 0


def test_an_idempotency_key_of_255_characters_is_accepted(analyst_api):
    response = analyst_api.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="k" * 255)

    assert response.status_code == 201


def test_idempotency_keys_belong_to_one_user(analyst, admin_user):
    first, second = APIClient(), APIClient()
    first.force_authenticate(analyst)
    second.force_authenticate(admin_user)

    one = first.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="shared")
    two = second.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="shared")

    assert (one.status_code, two.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in two
    assert Source.objects.count() == 2


def test_an_idempotency_key_used_on_one_endpoint_is_refused_on_another(analyst_api):
    source = analyst_api.post(SOURCE_LIST, new_source_body(), HTTP_IDEMPOTENCY_KEY="k-1")

    response = analyst_api.post(
        EVIDENCE_LIST,
        {"source": source.json()["id"], "claim_zh": "主张", "claim_en": "A claim"},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.status_code == 422
    assert Evidence.objects.count() == 0


def test_a_refused_attempt_retried_unchanged_is_checked_afresh(analyst_api):
    body = {"kind": "blog", "title": "A post", "reliability": "low"}
    analyst_api.post(SOURCE_LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    retry = analyst_api.post(SOURCE_LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert retry.status_code == 400
    assert "Idempotent-Replayed" not in retry


@pytest.mark.parametrize("url", [EVIDENCE_LIST, SOURCE_LIST])
def test_a_refused_attempt_is_not_remembered_so_the_corrected_retry_succeeds(analyst_api, url):
    source = SourceFactory(title="Existing")
    if url == EVIDENCE_LIST:
        wrong, fixed = {**new_evidence_body(source), "source": 999999}, new_evidence_body(source)
    else:
        wrong, fixed = {**new_source_body(), "kind": "blog"}, new_source_body()
    refused = analyst_api.post(url, wrong, HTTP_IDEMPOTENCY_KEY="k-1")

    retry = analyst_api.post(url, fixed, HTTP_IDEMPOTENCY_KEY="k-1")

    assert refused.status_code == 400
    assert retry.status_code == 201, retry.content
    assert (Evidence.objects.count(), Source.objects.count()) == (
        (1, 1) if url == EVIDENCE_LIST else (0, 2)
    )


# Constant query counts


@pytest.mark.parametrize("page_size", [1, 100])
def test_evidence_list_query_count_does_not_grow_with_rows(
    analyst_api, django_assert_num_queries, page_size
):
    for n in range(1, 5):
        fully_linked_evidence(n=n)

    # 1: the change counters (ETag); 2: COUNT for pagination; 3: the page with its source;
    # 4: figures; 5: institutions; 6: measure links with their measures; 7: risk links with
    # their risks; 8: scenario links with their scenarios; 9: mechanism links.
    with django_assert_num_queries(9):
        response = analyst_api.get(EVIDENCE_LIST, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, 4)
    assert all(len(row["figures"]) == 2 for row in response.json()["results"])


@pytest.mark.parametrize("page_size", [1, 100])
def test_source_list_query_count_does_not_grow_with_rows(
    analyst_api, django_assert_num_queries, page_size
):
    for n in range(1, 5):
        fully_linked_evidence(n=n)
        EvidenceFactory(source=Source.objects.get(title=f"Study {n}"))

    # 1: the change counters (ETag); 2: COUNT for pagination; 3: the page with evidence_count
    # annotated (Count, GROUP BY).
    with django_assert_num_queries(3):
        response = analyst_api.get(SOURCE_LIST, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, 4)
    assert all(row["evidence_count"] == 2 for row in response.json()["results"])


# Versions: ETag and If-Match


def figures_body(*values: str) -> list[dict]:
    return [
        {"value": value, "measures_zh": "数", "measures_en": f"figure {value}"} for value in values
    ]


def test_a_change_with_the_current_if_match_is_saved_and_bumps_the_etag(analyst_api):
    evidence = EvidenceFactory()
    add_figure(evidence, order=1, value="1", measures_en="figure 1")
    etag = analyst_api.get(evidence_url(evidence))["ETag"]

    response = analyst_api.patch(
        evidence_url(evidence), {"figures": figures_body("2")}, HTTP_IF_MATCH=etag
    )

    assert etag.startswith('"1.')  # the version, then a digest of what the body shows
    assert response.status_code == 200, response.content
    assert (response.json()["version"], response["ETag"]) == (2, '"2"')
    assert stored(evidence)["figures"] == [(1, Decimal("2"), "figure 2")]


def test_a_second_writer_with_the_same_etag_is_412_and_the_first_ones_figures_stay(analyst_api):
    evidence = EvidenceFactory()
    add_figure(evidence, order=1, value="1", measures_en="figure 1")
    etag = analyst_api.get(evidence_url(evidence))["ETag"]
    first = analyst_api.patch(
        evidence_url(evidence), {"figures": figures_body("2", "3")}, HTTP_IF_MATCH=etag
    )
    before = stored(evidence)

    second = analyst_api.patch(
        evidence_url(evidence),
        {"claim_en": "Mine", "figures": figures_body("9")},
        HTTP_IF_MATCH=etag,
    )

    assert first.status_code == 200
    assert second.status_code == 412
    assert second.json()["current_version"] == 2
    assert second["ETag"] == '"2"'
    assert stored(evidence) == before
    assert before["figures"] == [(1, Decimal("2"), "figure 2"), (2, Decimal("3"), "figure 3")]
    assert Evidence.objects.get(pk=evidence.pk).version == 2


def test_a_stale_version_in_the_evidence_body_is_400_and_writes_nothing(analyst_api):
    evidence = EvidenceFactory(claim_en="Old claim")
    analyst_api.patch(evidence_url(evidence), {"claim_en": "Second claim"})

    response = analyst_api.patch(evidence_url(evidence), {"claim_en": "Mine", "version": 1})

    assert response.status_code == 400
    assert "version" in response.json()
    assert Evidence.objects.get(pk=evidence.pk).claim_en == "Second claim"


def test_if_match_wins_over_the_version_in_the_body(analyst_api):
    evidence = EvidenceFactory(claim_en="Old claim")
    analyst_api.patch(evidence_url(evidence), {"claim_en": "Second claim"})

    response = analyst_api.patch(
        evidence_url(evidence), {"claim_en": "Third claim", "version": 1}, HTTP_IF_MATCH='"2"'
    )

    assert response.status_code == 200, response.content
    assert response["ETag"] == '"3"'


def test_a_put_with_a_stale_if_match_is_412_and_writes_nothing(analyst_api):
    evidence = fully_linked_evidence(n=1)
    analyst_api.patch(evidence_url(evidence), {"claim_en": "Second claim"})
    before = stored(evidence)

    response = analyst_api.put(
        evidence_url(evidence),
        {"source": evidence.source_id, "claim_zh": "新", "claim_en": "New", "figures": []},
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert stored(evidence) == before


def test_a_write_that_changes_nothing_keeps_the_version(analyst_api):
    evidence = fully_linked_evidence(n=1)
    body = analyst_api.get(evidence_url(evidence)).json()

    response = analyst_api.patch(
        evidence_url(evidence),
        {"claim_en": body["claim_en"], "figures": body["figures"], "risks": body["risks"]},
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200, response.content
    assert response["ETag"] == '"1"'
    assert Evidence.objects.get(pk=evidence.pk).version == 1


@pytest.mark.parametrize("value", ["x3", "abc", '"1", "2"'])
def test_a_malformed_if_match_is_a_400(analyst_api, value):
    evidence = EvidenceFactory(claim_en="Old claim")

    response = analyst_api.patch(evidence_url(evidence), {"claim_en": "Mine"}, HTTP_IF_MATCH=value)

    assert response.status_code == 400
    assert Evidence.objects.get(pk=evidence.pk).claim_en == "Old claim"


def test_created_evidence_is_at_version_1_with_its_etag_and_location(analyst_api):
    response = analyst_api.post(EVIDENCE_LIST, new_evidence_body(SourceFactory()))

    assert response.status_code == 201, response.content
    assert (response.json()["version"], response["ETag"]) == (1, '"1"')
    assert type(response.headers["Location"]) is str


def test_a_replayed_create_carries_the_etag_too(analyst_api):
    body = new_evidence_body(SourceFactory())

    analyst_api.post(EVIDENCE_LIST, body, HTTP_IDEMPOTENCY_KEY="k-etag")
    retry = analyst_api.post(EVIDENCE_LIST, body, HTTP_IDEMPOTENCY_KEY="k-etag")

    assert (retry["Idempotent-Replayed"], retry["ETag"]) == ("true", '"1"')


def test_a_source_change_with_the_current_if_match_bumps_its_etag(analyst_api):
    source = SourceFactory(title="Old title")

    response = analyst_api.patch(source_url(source), {"title": "New title"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 200, response.content
    assert (response.json()["version"], response["ETag"]) == (2, '"2"')
    assert Source.objects.get(pk=source.pk).title == "New title"


def test_a_stale_if_match_on_a_source_is_412_and_writes_nothing(analyst_api):
    source = SourceFactory(title="Old title")
    analyst_api.patch(source_url(source), {"title": "Second title"})

    response = analyst_api.put(
        source_url(source),
        {"kind": "survey", "title": "Mine", "reliability": "low"},
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert (response.json()["current_version"], response["ETag"]) == (2, '"2"')
    source.refresh_from_db()
    assert (source.title, source.kind, source.version) == ("Second title", "academic_study", 2)


def test_a_stale_version_in_a_source_body_is_400(analyst_api):
    source = SourceFactory(title="Old title")
    analyst_api.patch(source_url(source), {"title": "Second title"})

    response = analyst_api.patch(source_url(source), {"title": "Mine", "version": 1})

    assert response.status_code == 400
    assert "version" in response.json()
    assert Source.objects.get(pk=source.pk).title == "Second title"


def test_a_source_read_from_the_api_and_sent_back_changed_is_saved(analyst_api):
    source = SourceFactory(title="Old title")
    body = analyst_api.get(source_url(source)).json()

    response = analyst_api.put(source_url(source), {**body, "title": "New title"})

    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["version"]) == ("New title", 2)


def test_a_created_source_is_at_version_1_with_its_etag(analyst_api):
    response = analyst_api.post(SOURCE_LIST, new_source_body())

    assert response.status_code == 201, response.content
    assert (response.json()["version"], response["ETag"]) == (1, '"1"')
    assert type(response.headers["Location"]) is str
