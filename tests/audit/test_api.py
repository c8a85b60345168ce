"""GET /api/v1/changes/: the audit trail over the API, through a real APIClient."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import Change
from audit.selectors import visible_changes
from recommendations.models import MeasureRisk
from tests.factories import MeasureFactory, RiskFactory, SourceFactory

pytestmark = pytest.mark.django_db

CHANGES = reverse("change-list")


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    cache.clear()


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_anonymous_clients_get_401_even_when_reading_is_open(settings):
    settings.API_ANONYMOUS_READ = True

    response = APIClient().get(CHANGES)

    assert response.status_code == 401


def test_a_signed_in_user_with_no_role_gets_403(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user(username="nobody"))

    response = client.get(CHANGES)

    assert response.status_code == 403


def test_a_viewer_reads_changes_with_user_channel_and_values(viewer_api, analyst):
    source = SourceFactory(title="Before")
    client = APIClient()
    client.force_authenticate(analyst)
    client.patch(reverse("source-detail", args=[source.pk]), {"title": "After"}, format="json")

    rows = results(viewer_api.get(CHANGES, {"model": "evidence.source", "object_id": source.pk}))

    assert [row["action"] for row in rows] == ["create", "update"]
    update = rows[-1]
    assert update["user"] == "ana" and update["channel"] == "api"
    assert update["changes"] == [{"field": "title", "before": "Before", "after": "After"}]
    assert update["via"] == f"PATCH /api/v1/sources/{source.pk}/"
    assert update["remote_addr"] is None  # superusers only
    assert rows[0]["user"] is None and rows[0]["channel"] == "other"


def test_viewers_do_not_see_changes_to_users_groups_and_tokens(viewer_api, admin_user):
    Group.objects.create(name="auditors")
    admin = APIClient()
    admin.force_authenticate(admin_user)

    seen_by_viewer = {row["model"] for row in results(viewer_api.get(CHANGES))}
    seen_by_superuser = {row["model"] for row in results(admin.get(CHANGES))}

    assert {"auth.user", "auth.group"} & seen_by_viewer == set()
    assert {"auth.user", "auth.group"} <= seen_by_superuser


def test_a_measures_trail_includes_its_links_and_points_to_its_status_history(viewer_api):
    measure, other = MeasureFactory(), MeasureFactory()
    MeasureRisk.objects.create(measure=measure, risk=RiskFactory(), rationale_en="Why")
    MeasureRisk.objects.create(measure=other, risk=RiskFactory(), rationale_en="Other")

    rows = results(
        viewer_api.get(CHANGES, {"model": "recommendations.measure", "object_id": measure.pk})
    )

    assert [row["model"] for row in rows] == [
        "recommendations.measure",
        "recommendations.measurerisk",
    ]
    assert rows[1]["belongs_to"] == {"model": "recommendations.measure", "id": measure.pk}
    history = f"http://testserver/api/v1/measures/{measure.pk}/status-updates/"
    assert [row["status_updates"] for row in rows] == [history, history]


def test_changes_filter_by_user_and_since(viewer_api, analyst):
    client = APIClient()
    client.force_authenticate(analyst)
    source = SourceFactory(title="One")
    client.patch(reverse("source-detail", args=[source.pk]), {"title": "Two"}, format="json")
    last = Change.objects.latest("id")

    by_user = results(viewer_api.get(CHANGES, {"user": "ana"}))
    since = results(viewer_api.get(CHANGES, {"since": last.timestamp.isoformat()}))

    assert [row["id"] for row in by_user] == [last.id]
    assert last.id in [row["id"] for row in since]
    assert all(row["id"] >= last.id for row in since)


@pytest.mark.parametrize(
    "params",
    [
        {"model": "auth.permission"},
        {"object_id": "abc"},
        {"since": "yesterday"},
        {"channel": "email"},
        {"modle": "evidence.source"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_filters_are_a_400(viewer_api, params):
    response = viewer_api.get(CHANGES, params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_changes_are_paged_by_cursor_in_recording_order(viewer_api, viewer):
    SourceFactory.create_batch(3)
    ids = sorted(visible_changes(viewer).values_list("id", flat=True))

    first = viewer_api.get(CHANGES, {"page_size": 2}).json()
    second = viewer_api.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == ids
    assert second["next"] is None


def test_the_trail_takes_no_writes(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)

    responses = [client.post(CHANGES, {}, format="json"), client.delete(CHANGES)]

    assert [r.status_code for r in responses] == [405, 405]


@pytest.mark.parametrize("page_size", [1, 100])
def test_the_change_list_query_count_does_not_grow_with_rows(
    viewer_api, viewer, django_assert_num_queries, page_size
):
    for _ in range(3):
        measure = MeasureFactory()
        MeasureRisk.objects.create(measure=measure, risk=RiskFactory())
    # The viewer's permissions are read once and cached on the user, which force_authenticate
    # hands to every request.
    viewer_api.get(CHANGES)

    # 1: the change counter behind the ETag; 2: the page, with each entry's model (no COUNT:
    # cursor pages).
    with django_assert_num_queries(2):
        response = viewer_api.get(CHANGES, {"page_size": page_size})

    assert len(results(response)) == min(page_size, visible_changes(viewer).count())


# Committed: on PostgreSQL the change counters move when a transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_poller_gets_304_until_the_trail_grows(viewer_api, django_assert_num_queries):
    SourceFactory()
    first = viewer_api.get(CHANGES)
    tag = first["ETag"]

    # The change counter only: none of the page's queries.
    with django_assert_num_queries(1):
        unchanged = viewer_api.get(CHANGES, HTTP_IF_NONE_MATCH=tag)
    SourceFactory()
    grown = viewer_api.get(CHANGES, HTTP_IF_NONE_MATCH=tag)

    assert (first.status_code, unchanged.status_code, grown.status_code) == (200, 304, 200)
    assert unchanged["ETag"] == tag and unchanged.content == b""
    assert grown["ETag"] != tag
    assert len(results(grown)) == len(results(first)) + 1
