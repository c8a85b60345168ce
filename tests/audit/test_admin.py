"""The audit trail in the admin: a read-only "recent changes" list with its filters, and
each record's trail from its History page."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import Change
from recommendations.models import MeasureRisk
from tests.factories import MeasureFactory, RiskFactory, SourceFactory
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

CHANGES = reverse("admin:audit_change_changelist")


def listed(response) -> list[Change]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"model": "evidence.source"},
        {"actor_username__exact": "ana"},
        {"channel__exact": "admin"},
        {
            "timestamp__gte": "2020-01-01 00:00:00+00:00",
            "timestamp__lt": "2100-01-01 00:00:00+00:00",
        },
        {"timestamp__year": "2026"},
        {"model": "recommendations.measure", "object_id": "1"},
        {"q": "Study"},
    ],
)
def test_recent_changes_render_with_every_filter(viewer_client, params):
    SourceFactory()

    response = viewer_client.get(CHANGES, params)

    assert response.status_code == 200
    for title in ("model", "channel", "username", "time"):
        assert f"By {title}" in response.content.decode()


def test_a_filter_the_list_does_not_declare_is_refused(viewer_client):
    response = viewer_client.get(CHANGES, {"object_repr__regex": ".*"})

    assert response.status_code == 400


def test_recent_changes_filter_by_model(viewer_client):
    source = SourceFactory()
    MeasureFactory()

    rows = listed(viewer_client.get(CHANGES, {"model": "evidence.source"}))

    assert [(row.content_type.model, row.object_id) for row in rows] == [("source", source.pk)]


def test_a_viewer_does_not_see_changes_to_users_and_groups(viewer_client, admin_client):
    Group.objects.create(name="auditors")

    seen_by_viewer = {row.content_type.app_label for row in listed(viewer_client.get(CHANGES))}
    seen_by_admin = {row.content_type.app_label for row in listed(admin_client.get(CHANGES))}

    assert "auth" not in seen_by_viewer and "auth" in seen_by_admin


def test_the_trail_cannot_be_added_changed_or_deleted_in_the_admin(admin_client):
    SourceFactory()
    change = Change.objects.latest("id")
    page = reverse("admin:audit_change_change", args=[change.pk])

    adding = admin_client.get(reverse("admin:audit_change_add"))
    editing = admin_client.post(page, {"object_repr": "rewritten"})
    deleting = admin_client.post(
        reverse("admin:audit_change_delete", args=[change.pk]), {"post": "yes"}
    )

    assert adding.status_code == 403
    assert editing.status_code == 403
    assert deleting.status_code == 403
    change.refresh_from_db()
    assert change.object_repr != "rewritten"


def test_an_entry_page_shows_before_and_after(admin_client):
    source = SourceFactory(title="Before")
    source.title = "After"
    source.save()
    change = Change.objects.latest("id")

    page = admin_client.get(reverse("admin:audit_change_change", args=[change.pk]))

    assert page.status_code == 200
    assert "<td>title</td><td>Before</td><td>After</td>" in page.content.decode()


def test_a_measures_history_page_shows_its_trail_with_its_links(analyst_client):
    measure = MeasureFactory(title_en="Traced")
    MeasureRisk.objects.create(measure=measure, risk=RiskFactory(), rationale_en="Because")

    page = analyst_client.get(reverse("admin:recommendations_measure_history", args=[measure.pk]))

    content = page.content.decode()
    assert page.status_code == 200
    assert 'id="audit-trail"' in content
    assert "Because" in content
    assert f"{CHANGES}?model=recommendations.measure&amp;object_id={measure.pk}" in content


def test_viewers_and_analysts_may_read_the_trail_and_nothing_more():
    for name in ("viewer", "analyst"):
        codenames = set(
            Group.objects.get(name=name)
            .permissions.filter(content_type__app_label="audit")
            .values_list("codename", flat=True)
        )

        assert codenames == {"view_change"}


def test_recent_changes_speak_chinese(viewer_client):
    SourceFactory()

    response = viewer_client.get(CHANGES, HTTP_ACCEPT_LANGUAGE="zh-hans")

    content = response.content.decode()
    assert "审计记录" in content and "渠道" in content and "变更的字段" in content


def test_a_tokens_history_page_shows_its_trail(admin_client, analyst):
    admin_client.post(
        reverse("admin:tokens_apitoken_add"), {"user": analyst.pk, "name": "etl", "days": 30}
    )
    token = ApiToken.objects.get(user=analyst)

    page = admin_client.get(reverse("admin:tokens_apitoken_history", args=[token.pk]))

    assert page.status_code == 200
    assert "etl" in page.content.decode()
