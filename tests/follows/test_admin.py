"""Follows and digest settings in the admin: each user with a role sees and manages their
own; superusers see everyone's; the digests sent are read-only."""

from datetime import date

import pytest
from django.urls import reverse

from follows.choices import DigestState
from follows.models import DigestSent, DigestSettings, Follow
from recommendations.models import MeasureRisk
from tests.conftest import make_user
from tests.factories import MeasureFactory, PillarFactory, RiskFactory

pytestmark = pytest.mark.django_db


def url(model: str, action: str, *args) -> str:
    return reverse(f"admin:follows_{model}_{action}", args=args)


@pytest.fixture
def other(django_user_model):
    return make_user(django_user_model, "oz", "analyst")


def test_a_viewer_follows_a_measure_in_the_admin(viewer_client, viewer):
    measure = MeasureFactory(code="3.2")

    response = viewer_client.post(url("follow", "add"), {"measure": measure.pk})

    assert response.status_code == 302
    assert Follow.objects.get(user=viewer).measure == measure
    assert DigestSettings.objects.get(user=viewer).frequency == "weekly"


def test_the_add_page_picks_the_measure_named_in_its_address(viewer_client):
    measure = MeasureFactory(code="3.2")

    page = viewer_client.get(url("follow", "add"), {"measure": measure.pk})

    assert page.context["adminform"].form.initial["measure"] == str(measure.pk)


@pytest.mark.parametrize(
    "form", [{}, {"pillar": "PILLAR", "measure": "MEASURE"}], ids=["none", "two"]
)
def test_a_follow_of_no_target_or_two_is_refused(viewer_client, form):
    measure = MeasureFactory()
    values = {"PILLAR": measure.pillar_id, "MEASURE": measure.pk}
    data = {key: values[value] for key, value in form.items()}

    response = viewer_client.post(url("follow", "add"), data)

    assert response.status_code == 200
    assert "Follow exactly one measure, pillar or risk." in response.content.decode()
    assert not Follow.objects.exists()


def test_following_twice_is_refused_in_the_form(viewer_client, viewer):
    pillar = PillarFactory()
    Follow.objects.create(user=viewer, pillar=pillar)

    response = viewer_client.post(url("follow", "add"), {"pillar": pillar.pk})

    assert response.status_code == 200
    assert "You already follow it." in response.content.decode()
    assert Follow.objects.count() == 1


def test_each_user_sees_only_their_own_follows_and_superusers_see_all(
    viewer_client, viewer, other, admin_client
):
    measure = MeasureFactory()
    mine = Follow.objects.create(user=viewer, measure=measure)
    theirs = Follow.objects.create(user=other, measure=measure)

    listed = viewer_client.get(url("follow", "changelist")).context["cl"].result_list
    foreign = viewer_client.get(url("follow", "change", theirs.pk))
    everyone = admin_client.get(url("follow", "changelist")).context["cl"].result_list

    assert list(listed) == [mine]
    assert foreign.status_code == 302  # Django's answer to a record one may not see
    assert set(everyone) == {mine, theirs}


def test_a_user_removes_their_own_follow_but_not_someone_else_s(viewer_client, viewer, other):
    measure = MeasureFactory()
    mine = Follow.objects.create(user=viewer, measure=measure)
    theirs = Follow.objects.create(user=other, measure=measure)

    viewer_client.post(url("follow", "delete", mine.pk), {"post": "yes"})
    viewer_client.post(url("follow", "delete", theirs.pk), {"post": "yes"})

    assert list(Follow.objects.all()) == [theirs]


def test_a_user_without_a_role_sees_no_follows(client, no_role_user):
    client.force_login(no_role_user)

    assert client.get(url("follow", "changelist")).status_code == 403
    assert client.get(url("digestsettings", "add")).status_code == 403


def test_digest_settings_are_added_then_changed(viewer_client, viewer):
    form = {"frequency": "daily", "language": "zh", "weekday": 5, "email": "v@example.org"}

    added = viewer_client.post(url("digestsettings", "add"), form)
    add_again = viewer_client.get(url("digestsettings", "add"))
    row = DigestSettings.objects.get(user=viewer)
    changed = viewer_client.post(url("digestsettings", "change", row.pk), {**form, "weekday": 1})

    assert (added.status_code, changed.status_code) == (302, 302)
    assert add_again.context["adminform"].form.initial["weekday"] == 5  # the ones saved
    row.refresh_from_db()
    assert (row.frequency, row.language, row.weekday, row.version) == ("daily", "zh", 1, 2)


def test_someone_else_s_digest_settings_are_out_of_reach(viewer_client, other):
    row = DigestSettings.objects.create(user=other, frequency="daily")

    response = viewer_client.post(
        url("digestsettings", "change", row.pk),
        {"frequency": "off", "language": "en", "weekday": 1, "email": ""},
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.frequency == "daily"


def test_the_digests_sent_are_read_only_and_each_user_s_own(viewer_client, viewer, other):
    for user in (viewer, other):
        DigestSent.objects.create(
            user=user,
            frequency="daily",
            period_start=date(2026, 6, 29),
            period_end=date(2026, 6, 29),
            state=DigestState.SENT,
            language="en",
        )

    listed = viewer_client.get(url("digestsent", "changelist")).context["cl"].result_list
    mine = DigestSent.objects.get(user=viewer)

    assert [row.user for row in listed] == [viewer]
    assert viewer_client.get(url("digestsent", "add")).status_code == 403
    assert viewer_client.post(
        url("digestsent", "delete", mine.pk), {"post": "yes"}
    ).status_code == (403)


@pytest.mark.parametrize("model", ["measure", "pillar", "risk"])
def test_a_measure_s_pillar_s_or_risk_s_page_offers_to_follow_it(viewer_client, model):
    measure = MeasureFactory()
    MeasureRisk.objects.create(measure=measure, risk=RiskFactory())
    record = {"measure": measure, "pillar": measure.pillar, "risk": measure.risks.get()}[model]

    page = viewer_client.get(reverse(f"admin:recommendations_{model}_change", args=[record.pk]))

    assert f'{url("follow", "add")}?{model}={record.pk}"' in page.content.decode()
