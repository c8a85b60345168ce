"""evidence.services: every change of a source or a piece of evidence bumps its version, and
a writer holding a stale version is refused with nothing written."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from evidence import services
from evidence.choices import Stance
from evidence.models import Evidence, EvidenceFigure, Source
from recommendations.services import StaleVersion
from tests.factories import EvidenceFactory, InstitutionFactory, MeasureFactory, SourceFactory

pytestmark = pytest.mark.django_db


def figure(value: str) -> dict:
    return {"value": Decimal(value), "measures_zh": "数", "measures_en": f"figure {value}"}


def figures_of(evidence) -> list:
    return list(
        EvidenceFigure.objects.filter(evidence=evidence).values_list("value", "measures_en")
    )


def version_of(record) -> int:
    return type(record).objects.get(pk=record.pk).version


def test_a_new_source_and_a_new_piece_of_evidence_start_at_version_1():
    source = services.save_source(fields={"kind": "news", "title": "A", "reliability": "low"})

    evidence = services.save_evidence(
        fields={"source": source, "claim_zh": "主张", "claim_en": "A claim"},
        figures=[figure("1")],
    )

    assert (version_of(source), version_of(evidence)) == (1, 1)


def test_each_change_bumps_the_version_by_one():
    source = SourceFactory(title="Old")

    services.save_source(source=source, fields={"title": "New"}, expected_version=1)
    services.save_source(source=source, fields={"title": "Newer"}, expected_version=2)

    assert (Source.objects.get().title, version_of(source)) == ("Newer", 3)


@pytest.mark.parametrize(
    "change",
    [
        {"figures": [figure("2")]},
        {"links": {"measures": []}},
        {"institutions": []},
        {"fields": {"quote": "Verbatim."}},
    ],
    ids=["figures", "links", "institutions", "fields"],
)
def test_changing_figures_links_institutions_or_fields_bumps_the_evidence_version(change):
    evidence = EvidenceFactory()
    services.save_evidence(
        evidence=evidence,
        fields={},
        figures=[figure("1")],
        links={"measures": [{"measure": MeasureFactory(), "stance": Stance.SUPPORTS}]},
        institutions=[InstitutionFactory()],
    )
    assert version_of(evidence) == 2

    services.save_evidence(evidence=evidence, **{"fields": {}, **change}, expected_version=2)

    assert version_of(evidence) == 3


def test_saving_what_is_already_stored_keeps_the_version():
    evidence = EvidenceFactory(claim_en="Claim")
    measure = MeasureFactory()
    links = {"measures": [{"measure": measure, "stance": Stance.SUPPORTS}]}
    services.save_evidence(evidence=evidence, fields={}, figures=[figure("1.5")], links=links)

    services.save_evidence(
        evidence=evidence,
        fields={"claim_en": "Claim"},
        figures=[{**figure("1.5"), "value": Decimal("1.50")}],
        links=links,
        institutions=[],
        expected_version=2,
    )
    services.save_source(source=evidence.source, fields={"title": evidence.source.title})

    assert (version_of(evidence), version_of(evidence.source)) == (2, 1)


def test_a_stale_expected_version_is_refused_and_writes_nothing():
    evidence = EvidenceFactory(claim_en="Old claim")
    services.save_evidence(evidence=evidence, fields={}, figures=[figure("1")])

    with pytest.raises(StaleVersion) as refused:
        services.save_evidence(
            evidence=evidence,
            fields={"claim_en": "Mine"},
            figures=[figure("9")],
            expected_version=1,
        )

    assert (refused.value.current, refused.value.expected) == (2, 1)
    assert "version" in refused.value.message_dict
    assert Evidence.objects.get(pk=evidence.pk).claim_en == "Old claim"
    assert figures_of(evidence) == [(Decimal("1"), "figure 1")]
    assert version_of(evidence) == 2


def test_of_two_writers_who_loaded_one_version_only_the_first_wins():
    source = SourceFactory(title="Loaded")
    loaded = source.version

    services.save_source(source=source, fields={"title": "First"}, expected_version=loaded)
    with pytest.raises(StaleVersion, match="This source has changed since you loaded it"):
        services.save_source(source=source, fields={"title": "Second"}, expected_version=loaded)

    assert (Source.objects.get().title, version_of(source)) == ("First", 2)


def test_a_refused_change_of_evidence_leaves_its_version():
    evidence = EvidenceFactory()

    with pytest.raises(ValidationError, match=r"figures\[0\]"):
        services.save_evidence(
            evidence=evidence, fields={}, figures=[{**figure("1"), "qualifier": "roughly"}]
        )

    assert version_of(evidence) == 1
    assert figures_of(evidence) == []
