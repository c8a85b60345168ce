"""Conditional reads (config.conditional, freshness): an ETag that changes whenever the body
would, and 304 Not Modified for a client whose copy still holds. On PostgreSQL the change
counters move when a transaction commits, so the tests that write between two reads commit
(transaction=True)."""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.models import EvidenceMeasure
from freshness.markers import changes
from freshness.triggers import TRACKED, UNTRACKED, bulk_changes
from recommendations import services
from recommendations.choices import Status
from recommendations.models import Measure, MeasureRisk, StatusUpdate
from tests.conftest import authenticated_as
from tests.factories import EvidenceFactory, MeasureFactory, RiskFactory

committed = pytest.mark.django_db(transaction=True)
TODAY = date(2026, 6, 30)


def record(measure, progress, effective_date, **kwargs):
    return services.record_status_update(
        measure=measure,
        status=Status.IN_PROGRESS,
        progress=progress,
        effective_date=effective_date,
        by=None,
        today=TODAY,
        **kwargs,
    )


def measure_url(measure):
    return reverse("measure-detail", args=[measure.pk])


def history_url(measure):
    return reverse("measure-status-updates", args=[measure.pk])


def again(client, url, first, **params):
    return client.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"])


# 304 and what it costs


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "measure-list",
        "status-update-list",
        "pillar-list",
        "risk-list",
        "scenario-list",
        "innovation-mechanism-list",
        "institution-list",
        "evidence-list",
        "source-list",
        "report-list",
    ],
)
def test_an_unchanged_list_is_a_304_with_no_body_for_one_query(
    analyst_api, django_assert_num_queries, name
):
    MeasureFactory()
    first = analyst_api.get(reverse(name))

    # 1: the change counters; none of the body's queries.
    with django_assert_num_queries(1):
        response = again(analyst_api, reverse(name), first)

    assert first.status_code == 200
    assert first["ETag"].startswith('W/"')
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == first["ETag"]


@pytest.mark.django_db
def test_an_unchanged_measure_is_a_304_and_its_etag_still_names_its_version(
    analyst_api, django_assert_num_queries
):
    measure = MeasureFactory()
    first = analyst_api.get(measure_url(measure))

    with django_assert_num_queries(1):
        response = again(analyst_api, measure_url(measure), first)

    assert first["ETag"].startswith('"1.')
    assert (response.status_code, response["ETag"]) == (304, first["ETag"])


@pytest.mark.django_db
def test_a_weak_or_listed_if_none_match_is_compared_weakly(analyst_api):
    measure = MeasureFactory()
    tag = analyst_api.get(measure_url(measure))["ETag"]

    response = analyst_api.get(measure_url(measure), HTTP_IF_NONE_MATCH=f'"x", W/{tag}')

    assert response.status_code == 304


@pytest.mark.django_db
def test_another_query_language_or_user_gets_the_body(analyst_api, viewer):
    viewer_api = authenticated_as(APIClient(), viewer)
    MeasureFactory(code="1.1")
    MeasureFactory(code="1.2")
    url = reverse("measure-list")
    first = analyst_api.get(url)

    other_query = analyst_api.get(url, {"page_size": 1}, HTTP_IF_NONE_MATCH=first["ETag"])
    other_language = analyst_api.get(
        url, HTTP_IF_NONE_MATCH=first["ETag"], HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    other_user = viewer_api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert [r.status_code for r in (other_query, other_language, other_user)] == [200] * 3
    assert len({first["ETag"], other_query["ETag"], other_language["ETag"]}) == 3


@pytest.mark.django_db
def test_a_304_still_needs_a_role(analyst_api, api, no_role_user):
    MeasureFactory()
    first = analyst_api.get(reverse("measure-list"))
    api.force_authenticate(no_role_user)

    response = api.get(reverse("measure-list"), HTTP_IF_NONE_MATCH=first["ETag"])

    assert response.status_code == 403


# Every change the body would show changes the tag


@committed
def test_a_new_status_update_changes_the_measure_the_lists_and_the_feed(analyst_api):
    measure = MeasureFactory()
    urls = [
        measure_url(measure),
        reverse("measure-list"),
        reverse("status-update-list"),
        history_url(measure),
        reverse("pillar-list"),
    ]
    firsts = [analyst_api.get(url) for url in urls]

    record(measure, 10, date(2026, 1, 5))

    assert [again(analyst_api, u, f).status_code for u, f in zip(urls, firsts, strict=True)] == [
        200
    ] * 5


@committed
def test_a_change_to_a_related_row_changes_the_measure_tag(analyst_api):
    measure = MeasureFactory()
    link = MeasureRisk.objects.create(measure=measure, risk=RiskFactory())
    first = analyst_api.get(measure_url(measure))
    EvidenceMeasure.objects.create(measure=measure, evidence=EvidenceFactory(), stance="context")
    second = again(analyst_api, measure_url(measure), first)

    link.delete()
    third = again(analyst_api, measure_url(measure), second)

    assert (second.status_code, second.json()["evidence_count"]) == (200, 1)
    assert second["ETag"].startswith('"1.')  # the version did not move; the digest did
    assert (third.status_code, third.json()["risks"]) == (200, [])


@committed
def test_a_bulk_update_outside_the_app_changes_the_tag(analyst_api):
    MeasureFactory(title_en="Old")
    first = analyst_api.get(reverse("measure-list"))

    Measure.objects.update(title_en="New")  # no save(), no signal: the database counts it

    response = again(analyst_api, reverse("measure-list"), first)
    assert (response.status_code, response.json()["results"][0]["title_en"]) == (200, "New")


@committed
def test_a_change_elsewhere_leaves_the_feed_unchanged(analyst_api):
    measure = MeasureFactory()
    first = analyst_api.get(reverse("status-update-list"))

    RiskFactory()
    unchanged = again(analyst_api, reverse("status-update-list"), first)
    record(measure, 10, date(2026, 1, 5))
    changed = again(analyst_api, reverse("status-update-list"), first)

    assert (unchanged.status_code, changed.status_code) == (304, 200)


@committed
def test_a_transaction_counts_once_however_many_rows_it_writes():
    before = changes(("recommendations_risk",))

    with transaction.atomic():
        RiskFactory.create_batch(3)

    assert changes(("recommendations_risk",)) == before + (
        1 if connection.vendor == "postgresql" else 3
    )


@committed
def test_a_bulk_load_counts_each_table_once():
    before = changes(("recommendations_risk",))

    with transaction.atomic(), bulk_changes(["recommendations_risk"]):
        RiskFactory.create_batch(3)

    assert changes(("recommendations_risk",)) > before


def test_every_table_the_api_may_show_is_counted_or_said_not_to_be():
    tables = {
        model._meta.db_table
        for label in ("recommendations", "evidence", "review")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }

    assert tables <= set(TRACKED) | set(UNTRACKED)


# Writes keep If-Match


@pytest.mark.django_db
def test_the_read_etag_works_as_if_match(analyst_api):
    measure = MeasureFactory(title_en="Old")
    tag = analyst_api.get(measure_url(measure))["ETag"]

    response = analyst_api.patch(
        measure_url(measure), {"title_en": "New"}, format="json", HTTP_IF_MATCH=tag
    )
    stale = analyst_api.patch(
        measure_url(measure), {"title_en": "Newer"}, format="json", HTTP_IF_MATCH=tag
    )

    assert (response.status_code, response["ETag"]) == (200, '"2"')
    assert stale.status_code == 412


# A measure's history: keyset pages


def long_history(count: int, per_day: int = 3):
    measure = MeasureFactory(starts_on=date(2025, 1, 1))
    for n in range(count):
        # Several entries a day, from the first of February 2025.
        record(measure, n % 100, date(2025, 2, 1) + timedelta(days=n // per_day))
    return measure


def follow(client, url, **params):
    pages = [client.get(url, params)]
    while pages[-1].json()["next"]:
        pages.append(client.get(pages[-1].json()["next"]))
    return pages


@pytest.mark.django_db
def test_following_next_reads_the_whole_history_in_order_once(analyst_api):
    measure = long_history(10)

    pages = follow(analyst_api, history_url(measure), page_size=3)

    ids = [row["id"] for page in pages for row in page.json()["results"]]
    expected = list(
        StatusUpdate.objects.filter(measure=measure)
        .order_by("-effective_date", "-recorded_at", "-id")
        .values_list("id", flat=True)
    )
    assert ids == expected  # 11 entries (with the first one), ties within a day included
    assert [len(page.json()["results"]) for page in pages] == [3, 3, 3, 2]
    assert set(pages[0].json()) == {"next", "results"}


@pytest.mark.django_db
def test_the_last_page_of_a_history_costs_the_queries_of_the_first(
    analyst_api, django_assert_num_queries
):
    measure = long_history(9)
    pages = follow(analyst_api, history_url(measure), page_size=2)

    # 1: the change counters (ETag); 2: the measure; 3: the page with measure and author;
    # 4: their evidence. No COUNT, whatever the depth.
    with django_assert_num_queries(4):
        first = analyst_api.get(history_url(measure), {"page_size": 2})
    with django_assert_num_queries(4):
        last = analyst_api.get(pages[-2].json()["next"])

    assert first.json()["results"] == pages[0].json()["results"]
    assert (len(last.json()["results"]), last.json()["next"]) == (2, None)


@pytest.mark.django_db
def test_the_first_pages_may_still_be_asked_for_by_number(analyst_api):
    measure = long_history(5)

    by_number = analyst_api.get(history_url(measure), {"page": 2, "page_size": 2})
    by_cursor = follow(analyst_api, history_url(measure), page_size=2)[1]

    assert by_number.json()["results"] == by_cursor.json()["results"]
    assert "cursor=" in by_number.json()["next"] and "page=" not in by_number.json()["next"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 11}, "page"),
        ({"page": 0}, "page"),
        ({"page": 2, "cursor": "ZD0yMDI1LTAxLTAx"}, "page"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "ZD0yMDI1LTAxLTAx"}, "cursor"),  # d=2025-01-01 and nothing else
    ],
)
def test_a_deep_page_number_or_a_made_up_cursor_is_a_400(analyst_api, params, field):
    measure = MeasureFactory()

    response = analyst_api.get(history_url(measure), params)

    assert response.status_code == 400
    assert field in response.json()


# The admin's history of a measure


def history_changelist(client, measure, **params):
    url = reverse("admin:recommendations_statusupdate_changelist")
    return client.get(url, {"measure__id__exact": measure.pk, **params})


@pytest.mark.django_db
def test_the_admin_history_costs_the_same_on_its_last_page_and_never_counts_the_table(
    analyst_client, django_assert_max_num_queries
):
    measure = long_history(220)  # 221 entries: three pages of 100
    history_changelist(analyst_client, measure)  # sessions and permissions warmed up

    with django_assert_max_num_queries(50) as first_queries:
        first = history_changelist(analyst_client, measure)
    with django_assert_max_num_queries(50) as last_queries:
        last = history_changelist(analyst_client, measure, p=3)

    assert len(first_queries) == len(last_queries)
    assert (first.status_code, last.status_code) == (200, 200)
    assert len(last.context["cl"].result_list) == 21
    counts = [q["sql"] for q in first_queries.captured_queries if counts_rows(q["sql"])]
    # One count, of this measure's entries (exact: few rows); none of the whole table.
    assert len(counts) == 1 and "measure_id" in counts[0]


def counts_rows(sql: str) -> bool:
    """Whether `sql` counts rows: a COUNT, or on PostgreSQL the admin's tracker_row_count."""
    return "COUNT(*)" in sql.upper() or "tracker_row_count(" in sql


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate")
def test_a_large_admin_list_is_counted_by_the_planners_estimate(
    analyst_client, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr("config.admin_paginator.EXACT_COUNT_BELOW", 0)
    measure = long_history(5)

    with django_assert_max_num_queries(50) as queries:
        response = history_changelist(analyst_client, measure)

    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if counts_rows(q["sql"])]
    # One round trip, which (its threshold 0) answers the planner's estimate, never a COUNT.
    assert len(counts) == 1 and counts[0].startswith("SELECT tracker_row_count(")
    assert counts[0].endswith(", 0)")


@pytest.mark.django_db
def test_an_unchanged_list_of_evidence_revisions_is_a_304(analyst_api):
    url = reverse("evidence-revisions", args=[EvidenceFactory().pk])
    first = analyst_api.get(url)

    response = again(analyst_api, url, first)

    assert (first.status_code, response.status_code) == (200, 304)
