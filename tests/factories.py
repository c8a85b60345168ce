"""Minimal valid records. A test spells out every value it relies on."""

from datetime import date

import factory

from evidence.choices import Attribution, Reliability, SourceKind, Stance
from evidence.models import Evidence, EvidenceMeasure, Source
from recommendations import services
from recommendations.choices import InstitutionKind
from recommendations.models import Institution, Measure, Pillar, Risk, Scenario

HISTORY_STARTS_ON = date(2025, 1, 1)


class PillarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pillar
        django_get_or_create = ("number",)

    number = factory.Sequence(lambda n: n + 1)
    title_zh = factory.Sequence(lambda n: f"支柱{n}")
    title_en = factory.Sequence(lambda n: f"Pillar {n}")
    aim_zh = "要……"
    aim_en = "To …"


class MeasureFactory(factory.django.DjangoModelFactory):
    """A measure whose history starts, not assessed, on HISTORY_STARTS_ON."""

    class Meta:
        model = Measure

    pillar = factory.SubFactory(PillarFactory)
    code = factory.Sequence(lambda n: f"T.{n}")
    title_zh = factory.Sequence(lambda n: f"措施{n}")
    title_en = factory.Sequence(lambda n: f"Measure {n}")

    @classmethod
    def _create(cls, model_class, *args, starts_on=HISTORY_STARTS_ON, **kwargs):
        return services.create_measure(measure=model_class(*args, **kwargs), starts_on=starts_on)


class ConceptFactory(factory.django.DjangoModelFactory):
    key = factory.Sequence(lambda n: f"concept_{n}")
    title_zh = factory.Sequence(lambda n: f"概念{n}")
    title_en = factory.Sequence(lambda n: f"Concept {n}")


class RiskFactory(ConceptFactory):
    class Meta:
        model = Risk


class ScenarioFactory(ConceptFactory):
    class Meta:
        model = Scenario


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    key = factory.Sequence(lambda n: f"institution_{n}")
    name_zh = factory.Sequence(lambda n: f"机构{n}")
    name_en = factory.Sequence(lambda n: f"Institution {n}")
    kind = InstitutionKind.REGULATOR


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    kind = SourceKind.ACADEMIC_STUDY
    title = factory.Sequence(lambda n: f"Study {n}")
    reliability = Reliability.HIGH


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    source = factory.SubFactory(SourceFactory)
    attribution = Attribution.CITED
    claim_zh = factory.Sequence(lambda n: f"证据{n}")
    claim_en = factory.Sequence(lambda n: f"Evidence {n}")


def link_evidence(evidence: Evidence, measure: Measure, stance: str = Stance.SUPPORTS):
    return EvidenceMeasure.objects.create(evidence=evidence, measure=measure, stance=stance)
