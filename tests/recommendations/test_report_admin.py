"""Previewing and publishing status reports from the admin: the command's report and
snapshot, by the same code, within the API preview's bounds, with the publish permission."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from recommendations import services
from recommendations.choices import Status
from recommendations.models import ReportSnapshot
from recommendations.reports.render import render_csv, render_json
from recommendations.reports.snapshots import publish_report, save_report
from recommendations.reports.status import build_status_report
from recommendations.roles import ANALYST, VIEWER
from tests.factories import MeasureFactory, PillarFactory

pytestmark = pytest.mark.django_db

REPORT = reverse("admin:recommendations_reportsnapshot_report")
PERIOD = {"since": "2026-06-30", "until": "2026-09-30"}
SINCE, UNTIL = date(2026, 6, 30), date(2026, 9, 30)


@pytest.fixture
def history():
    pillar = PillarFactory(number=1)
    one = MeasureFactory(code="1.1", pillar=pillar, title_zh="加强数据治理")
    two = MeasureFactory(code="1.2", pillar=pillar)
    for measure, status, progress, day in (
        (one, Status.PLANNED, 10, date(2026, 5, 1)),
        (one, Status.IN_PROGRESS, 40, date(2026, 7, 10)),
        (two, Status.IN_PROGRESS, 20, date(2026, 8, 1)),
    ):
        services.record_status_update(
            measure=measure,
            status=status,
            progress=progress,
            effective_date=day,
            by=None,
            today=date(2026, 11, 26),
        )
    return one, two


def preview(client, **params):
    return client.get(REPORT, {"preview": "1", **PERIOD, **params})


def publish(client, **extra):
    return client.post(REPORT, {**PERIOD, **extra})


def test_a_viewer_previews_a_period_as_the_html_report_in_a_sandboxed_frame(history, viewer_client):
    response = preview(viewer_client, lang="zh")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<iframe sandbox srcdoc=" in page
    assert "风险覆盖" in page  # the Chinese report, escaped into srcdoc
    assert "Publish this report as a snapshot" not in page
    assert "may preview reports but not publish them" in page
    assert not ReportSnapshot.objects.exists()


def test_a_preview_downloads_the_report_in_the_format_chosen(history, viewer_client):
    response = preview(viewer_client, file="csv", download="1")

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="status-report_2026-06-30_2026-09-30_preview.csv"'
    )
    assert response["Content-Security-Policy"] == "sandbox"
    assert response.content.decode() == render_csv(build_status_report(since=SINCE, until=UNTIL))


def test_a_preview_of_the_last_quarter_needs_no_dates(history, viewer_client):
    response = viewer_client.get(REPORT, {"preview": "1", "period": "quarter", "lang": "en"})

    assert response.status_code == 200
    assert "<iframe sandbox srcdoc=" in response.content.decode()


def test_a_period_that_ends_before_it_starts_is_shown_on_until(history, viewer_client):
    response = viewer_client.get(
        REPORT, {"preview": "1", "since": "2026-09-30", "until": "2026-06-30"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["until"] == ["The period must end after it starts."]
    assert "<iframe" not in response.content.decode()


def test_a_preview_too_large_for_a_request_is_refused_with_the_way_out(
    history, viewer_client, settings
):
    settings.REPORT_PREVIEW_MAX_UPDATES = 1

    response = preview(viewer_client)

    assert response.status_code == 200
    assert "status_report" in response.context["form"].errors["until"][0]
    assert "<iframe" not in response.content.decode()


def test_an_analyst_publishes_a_previewed_period_as_the_command_would(history, analyst_client):
    shown = preview(analyst_client)

    response = publish(analyst_client)

    snapshot = ReportSnapshot.objects.get()
    assert "Publish this report as a snapshot" in shown.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:recommendations_reportsnapshot_change", args=[snapshot.pk]
    )
    assert (snapshot.since, snapshot.until, snapshot.version) == (SINCE, UNTIL, 1)
    assert snapshot.generated_by.username == "ana"
    assert snapshot.report_json == render_json(build_status_report(since=SINCE, until=UNTIL))


def test_a_viewer_may_not_publish_and_nothing_is_written(history, viewer_client):
    response = publish(viewer_client)

    assert response.status_code == 403
    assert not ReportSnapshot.objects.exists()


def test_publishing_a_period_that_has_a_snapshot_says_so_and_writes_nothing(
    history, analyst_client
):
    first, _ = save_report(report=build_status_report(since=SINCE, until=UNTIL))

    shown = preview(analyst_client)
    # An analyst has no "new version" box; one sent by hand is ignored.
    response = publish(analyst_client, force="on")
    after = analyst_client.get(response["Location"])

    assert "This period has a snapshot already" in shown.content.decode()
    assert 'name="force"' not in shown.content.decode()
    assert response.status_code == 302
    assert list(ReportSnapshot.objects.values_list("pk", flat=True)) == [first.pk]
    assert "nothing was published" in after.content.decode()


def test_a_superuser_may_publish_a_new_version_of_a_period(history, admin_client):
    save_report(report=build_status_report(since=SINCE, until=UNTIL))

    shown = preview(admin_client)
    unforced = publish(admin_client)
    forced = publish(admin_client, force="on")

    assert 'name="force"' in shown.content.decode()
    assert unforced.status_code == forced.status_code == 302
    assert sorted(ReportSnapshot.objects.values_list("version", flat=True)) == [1, 2]


def test_publishing_a_period_too_large_for_a_request_writes_nothing(
    history, analyst_client, settings
):
    settings.REPORT_PREVIEW_MAX_UPDATES = 15  # a preview of 2 updates fits; publishing costs 16

    response = publish(analyst_client)
    after = analyst_client.get(response["Location"])

    assert not ReportSnapshot.objects.exists()
    assert "status_report" in after.content.decode()


def test_only_a_superuser_may_force_a_new_version(history, analyst):
    with pytest.raises(PermissionDenied):
        publish_report(since=SINCE, until=UNTIL, by=analyst, force=True)

    assert not ReportSnapshot.objects.exists()


@pytest.mark.parametrize(
    ("role", "may_publish"), [(ANALYST, True), (VIEWER, False)], ids=["analyst", "viewer"]
)
def test_analysts_may_publish_and_viewers_may_not(django_user_model, role, may_publish):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="someone", is_staff=True)
    user.groups.add(Group.objects.get(name=role))

    assert user.has_perm("recommendations.publish_reportsnapshot") is may_publish


def test_the_snapshot_list_offers_the_report_page(viewer_client):
    url = reverse("admin:recommendations_reportsnapshot_changelist")

    as_viewer = viewer_client.get(url).content.decode()

    assert f'href="{REPORT}"' in as_viewer
    assert "Preview a report" in as_viewer


def test_an_analyst_sees_the_publish_button(analyst_client):
    url = reverse("admin:recommendations_reportsnapshot_changelist")

    page = analyst_client.get(url).content.decode()

    assert "Preview or publish a report" in page
