"""The admin's frame on every page: a language switch, a read-only notice for viewers; and
pages that show what belongs together: a pillar's measures, a measure's evidence, a report
alone."""

from datetime import date

import pytest
from django.urls import reverse

from evidence.choices import Stance
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from tests.factories import EvidenceFactory, MeasureFactory, PillarFactory, link_evidence

pytestmark = pytest.mark.django_db

READ_ONLY = "can read everything here but change nothing"


def test_the_language_switch_sets_the_admins_language(analyst_client):
    page = reverse("admin:recommendations_measure_changelist")

    switched = analyst_client.post(reverse("set_language"), {"language": "zh-hans", "next": page})
    answer = analyst_client.get(page, HTTP_ACCEPT_LANGUAGE="en")

    assert switched.status_code == 302 and switched["Location"] == page
    assert answer.content.decode().count('lang="zh-hans"') == 1
    assert 'aria-pressed="true">中文' in answer.content.decode()


def test_the_language_switch_refuses_to_send_anyone_elsewhere(analyst_client):
    switched = analyst_client.post(
        reverse("set_language"), {"language": "en", "next": "https://evil.example/"}
    )

    assert switched.status_code == 302
    assert not switched["Location"].startswith("https://evil.example")


def test_a_viewer_is_told_on_every_page_that_the_account_is_read_only(viewer_client):
    page = viewer_client.get(reverse("admin:recommendations_measure_changelist"))

    assert READ_ONLY in page.content.decode()


def test_an_analyst_is_not_told_the_account_is_read_only(analyst_client):
    page = analyst_client.get(reverse("admin:recommendations_measure_changelist"))

    assert READ_ONLY not in page.content.decode()


def test_a_pillars_page_lists_its_measures_and_where_they_stand(analyst_client):
    pillar = PillarFactory(number=7)
    MeasureFactory(code="7.1", pillar=pillar, title_en="Sandbox rules")
    MeasureFactory(code="7.2", pillar=pillar, archived=True, title_en="Old idea")

    page = analyst_client.get(reverse("admin:recommendations_pillar_change", args=[pillar.pk]))

    text = page.content.decode()
    assert "<b>7.1</b> Sandbox rules</a> — Not assessed, –" in text
    assert "Old idea" not in text


def test_a_measures_page_lists_its_evidence_with_stance(analyst_client):
    measure = MeasureFactory(code="7.1")
    link_evidence(EvidenceFactory(claim_en="Pilots ran in two banks"), measure, Stance.SUPPORTS)

    page = analyst_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    assert "Supports: Pilots ran in two banks" in page.content.decode()


def test_the_measure_list_shows_when_each_was_last_recorded_and_archived_in_words(
    analyst_client,
):
    MeasureFactory(code="7.1", archived=True)

    page = analyst_client.get(reverse("admin:recommendations_measure_changelist"))

    text = page.content.decode()
    assert 'class="field-last_recorded">20' in text
    assert 'class="field-archived_label">archived<' in text
    assert "icon-no.svg" not in text


def test_a_snapshot_opens_alone_sandboxed(analyst_client, analyst):
    report = build_status_report(since=date(2026, 1, 1), until=date(2026, 3, 31))
    snapshot, _created = save_report(report=report, by=analyst)
    alone = reverse("admin:recommendations_reportsnapshot_page", args=[snapshot.pk, "en"])

    change = analyst_client.get(
        reverse("admin:recommendations_reportsnapshot_change", args=[snapshot.pk])
    )
    page = analyst_client.get(alone)

    assert alone in change.content.decode()
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == "sandbox"
    assert page.content.decode() == snapshot.html_en
    assert analyst_client.get(alone.replace("/en/", "/fr/")).status_code == 404
