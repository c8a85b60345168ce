"""The admin's source and evidence pages save through evidence.services: every change bumps
the version, inline figures and links included, and a form left open while someone else
saved is refused."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from evidence import services
from evidence.models import Evidence, EvidenceFigure, EvidenceMeasure, Source
from tests.factories import EvidenceFactory, MeasureFactory, SourceFactory, link_evidence

pytestmark = pytest.mark.django_db

STALE = "has changed since you loaded it"


def change_url(record) -> str:
    opts = record._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])


def form_data(page) -> dict:
    """What the change page would post untouched: its form and every inline form."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    # An unticked box and an empty value are not posted at all.
    return {
        bound.html_name: bound.value()
        for form in forms
        for bound in form
        if bound.value() is not None and bound.value() is not False
    }


def figure_values(evidence) -> list:
    return list(
        EvidenceFigure.objects.filter(evidence=evidence).values_list("value", "measures_en")
    )


def evidence_with_a_figure() -> Evidence:
    evidence = EvidenceFactory(claim_en="Old claim")
    EvidenceFigure.objects.create(
        evidence=evidence, order=1, value=Decimal("1"), measures_zh="一", measures_en="one"
    )
    return evidence


def test_editing_a_source_bumps_its_version(analyst_client):
    source = SourceFactory(title="Old title")
    data = form_data(analyst_client.get(change_url(source)))

    response = analyst_client.post(change_url(source), {**data, "title": "New title"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    source.refresh_from_db()
    assert (source.title, source.version) == ("New title", 2)


def test_a_source_form_left_open_while_someone_saved_is_refused(analyst_client):
    source = SourceFactory(title="Old title")
    data = form_data(analyst_client.get(change_url(source)))
    services.save_source(source=source, fields={"title": "Their title"})

    response = analyst_client.post(change_url(source), {**data, "title": "My title"})

    assert response.status_code == 200
    assert STALE in response.content.decode()
    source.refresh_from_db()
    assert (source.title, source.version) == ("Their title", 2)


def test_saving_an_untouched_evidence_form_keeps_its_version(analyst_client):
    evidence = evidence_with_a_figure()
    link_evidence(evidence, MeasureFactory())
    data = form_data(analyst_client.get(change_url(evidence)))

    response = analyst_client.post(change_url(evidence), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Evidence.objects.get(pk=evidence.pk).version == 1
    assert figure_values(evidence) == [(Decimal("1"), "one")]


def test_editing_only_an_inline_figure_bumps_the_evidence_version(analyst_client):
    evidence = evidence_with_a_figure()
    data = form_data(analyst_client.get(change_url(evidence)))

    response = analyst_client.post(change_url(evidence), {**data, "figures-0-value": "2"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Evidence.objects.get(pk=evidence.pk).version == 2
    assert figure_values(evidence) == [(Decimal("2"), "one")]


def test_deleting_an_inline_link_bumps_the_evidence_version(analyst_client):
    evidence = EvidenceFactory()
    link_evidence(evidence, MeasureFactory())
    data = form_data(analyst_client.get(change_url(evidence)))

    response = analyst_client.post(
        change_url(evidence), {**data, "evidencemeasure_set-0-DELETE": "on"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Evidence.objects.get(pk=evidence.pk).version == 2
    assert not EvidenceMeasure.objects.exists()


def test_an_evidence_form_left_open_while_someone_saved_is_refused(analyst_client):
    evidence = evidence_with_a_figure()
    data = form_data(analyst_client.get(change_url(evidence)))
    services.save_evidence(
        evidence=evidence,
        fields={},
        figures=[{"value": Decimal("5"), "measures_zh": "五", "measures_en": "theirs"}],
    )

    response = analyst_client.post(
        change_url(evidence), {**data, "claim_en": "Mine", "figures-0-value": "9"}
    )

    assert response.status_code == 200
    assert STALE in response.content.decode()
    assert Evidence.objects.get(pk=evidence.pk).claim_en == "Old claim"
    assert figure_values(evidence) == [(Decimal("5"), "theirs")]
    assert Evidence.objects.get(pk=evidence.pk).version == 2


def test_adding_evidence_with_a_figure_starts_it_at_version_1(analyst_client, analyst):
    source = SourceFactory()
    page = analyst_client.get(reverse("admin:evidence_evidence_add"))
    data = {
        **form_data(page),
        "source": source.pk,
        "claim_zh": "主张",
        "claim_en": "A claim",
        "figures-TOTAL_FORMS": 1,
        "figures-0-order": 1,
        "figures-0-value": "3.5",
        "figures-0-qualifier": "exact",
        "figures-0-measures_zh": "三",
        "figures-0-measures_en": "three",
    }

    response = analyst_client.post(reverse("admin:evidence_evidence_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    evidence = Evidence.objects.get()
    assert (evidence.version, evidence.created_by, evidence.source) == (1, analyst, source)
    assert figure_values(evidence) == [(Decimal("3.5"), "three")]


def test_adding_a_source_starts_it_at_version_1(analyst_client):
    page = analyst_client.get(reverse("admin:evidence_source_add"))
    data = {**form_data(page), "kind": "news", "title": "A post", "reliability": "low"}

    response = analyst_client.post(reverse("admin:evidence_source_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Source.objects.get().version == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [("400", "400"), ("43.5", "43.5"), ("0.0039", "0.0039"), ("1200000", "1200000")],
)
def test_a_figure_is_shown_as_people_write_it(analyst_client, value, shown):
    evidence = EvidenceFactory()
    services.save_evidence(
        evidence=evidence,
        fields={},
        figures=[{"value": Decimal(value), "measures_zh": "数", "measures_en": "n"}],
    )

    page = analyst_client.get(reverse("admin:evidence_evidence_change", args=[evidence.pk]))

    assert f'name="figures-0-value" value="{shown}"' in page.content.decode()


@pytest.mark.parametrize(
    ("precision", "lang", "shown"),
    [
        ("year", "en", "2024"),
        ("year", "zh-hans", "2024年"),
        ("month", "en", "2024-10"),
        ("month", "zh-hans", "2024年10月"),
        ("day", "zh-hans", "2024-10-15"),
    ],
)
def test_the_evidence_list_shows_a_date_as_precise_as_it_is_known(
    analyst_client, precision, lang, shown
):
    EvidenceFactory(date=date(2024, 10, 15), date_precision=precision)

    page = analyst_client.get(
        reverse("admin:evidence_evidence_changelist"), HTTP_ACCEPT_LANGUAGE=lang
    )

    assert f'<td class="field-dated">{shown}</td>' in page.content.decode()


def test_a_sources_page_lists_the_evidence_drawn_from_it(analyst_client):
    source = SourceFactory()
    EvidenceFactory(
        source=source, claim_en="Two pilots ran", date=date(2025, 3, 1), date_precision="month"
    )

    page = analyst_client.get(reverse("admin:evidence_source_change", args=[source.pk]))

    assert "2025-03: Two pilots ran" in page.content.decode()
