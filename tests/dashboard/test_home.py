"""The admin's home page: where each pillar stands, what needs attention today, the latest
changes by everyone, each a link to the list it summarises."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recommendations import services
from recommendations.choices import Status
from tests.factories import MeasureFactory, PillarFactory

pytestmark = pytest.mark.django_db


def record(measure, status, progress, day, **kwargs):
    return services.record_status_update(
        measure=measure, status=status, progress=progress, effective_date=day, by=None, **kwargs
    )


@pytest.fixture
def measures():
    today = timezone.localdate()
    one, two = PillarFactory(number=1, title_en="Data"), PillarFactory(number=2, title_en="Law")
    start = today - timedelta(days=400)
    m = {
        "1.1": MeasureFactory(code="1.1", pillar=one, starts_on=start, title_en="Sandbox"),
        "1.2": MeasureFactory(
            code="1.2", pillar=one, starts_on=start, target_date=today - timedelta(days=5)
        ),
        "2.1": MeasureFactory(code="2.1", pillar=two, starts_on=start, title_en="Never looked at"),
        "2.2": MeasureFactory(code="2.2", pillar=two, starts_on=start),
    }
    record(m["1.1"], Status.IN_PROGRESS, 40, today - timedelta(days=3))
    record(m["1.2"], Status.PLANNED, 10, today - timedelta(days=200))
    record(m["2.2"], Status.STALLED, 20, today - timedelta(days=10), note="No budget.")
    return m


def test_the_home_page_shows_where_each_pillar_stands(analyst_client, measures):
    page = analyst_client.get(reverse("admin:index")).content.decode()

    assert "Where each pillar stands" in page
    assert "1. Data" in page and "2. Law" in page
    # 1.1 at 40 and 1.2 at 10 of pillar 1; 2.2 at 20 of pillar 2 (2.1 not assessed).
    assert "25% over 2 of 2 assessed" in page
    assert "20% over 1 of 2 assessed" in page
    assert "23.3% over 3 of 4 assessed" in page
    assert f"?pillar__id__exact={measures['1.1'].pillar_id}" in page
    assert "?status__exact=stalled" in page


def test_the_home_page_lists_what_needs_attention_with_links_to_the_filtered_list(
    analyst_client, measures
):
    response = analyst_client.get(reverse("admin:index"))
    blocks = {
        block["label"]: {code for code, _title, _link in block["items"]}
        for block in response.context["attention_blocks"]
    }

    assert blocks == {
        # Never assessed in 400 days: due for a first look too, as the reports count it.
        "Reassessment due": {"1.2", "2.1"},
        "Overdue": {"1.2"},
        "Stalled or abandoned": {"2.2"},
        "Never assessed": {"2.1"},
    }
    assert "?attention=never_assessed" in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("reassessment_due", ["1.2", "2.1"]),
        ("overdue", ["1.2"]),
        ("stopped", ["2.2"]),
        ("never_assessed", ["2.1"]),
    ],
)
def test_the_measure_list_filters_by_what_needs_attention(analyst_client, measures, kind, codes):
    response = analyst_client.get(
        reverse("admin:recommendations_measure_changelist"), {"attention": kind}
    )

    assert response.status_code == 200
    assert [m.code for m in response.context["cl"].result_list] == codes


def test_the_home_page_lists_the_latest_status_updates_by_everyone(analyst_client, measures):
    response = analyst_client.get(reverse("admin:index"))

    latest = [row["update"].measure.code for row in response.context["latest"]]

    assert latest[:3] == ["2.2", "1.2", "1.1"]
    assert "Latest status updates, by everyone" in response.content.decode()


READ_ONLY = "can read everything here but change nothing"


def test_a_viewer_is_told_the_account_is_read_only(viewer_client, measures):
    assert READ_ONLY in viewer_client.get(reverse("admin:index")).content.decode()


def test_an_analyst_is_not_told_the_account_is_read_only(analyst_client, measures):
    assert READ_ONLY not in analyst_client.get(reverse("admin:index")).content.decode()


def test_the_home_page_speaks_chinese(analyst_client, measures):
    page = analyst_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    text = page.content.decode()
    assert "各支柱进展" in text
    assert "需要关注" in text


def test_the_home_page_runs_the_same_queries_for_more_measures(analyst_client, measures):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert analyst_client.get(reverse("admin:index")).status_code == 200
        return len(captured)

    before = queries()
    pillar = PillarFactory(number=3)
    for n in range(12):
        measure = MeasureFactory(code=f"3.{n}", pillar=pillar, starts_on=date(2025, 1, 1))
        record(measure, Status.PLANNED, n, date(2025, 6, 1))

    assert queries() == before
