"""The follows API: each user lists, adds and removes their own follows and reads and changes
their own digest settings, whatever their role; never anyone else's."""

import pytest
from django.urls import reverse

from follows.models import DigestSettings, Follow
from recommendations.models import MeasureRisk
from tests.conftest import authenticated_as, make_user
from tests.factories import MeasureFactory, PillarFactory, RiskFactory

pytestmark = pytest.mark.django_db

FOLLOWS = reverse("follow-list")
SETTINGS = reverse("digest-settings")


@pytest.fixture
def reader(django_user_model):
    return make_user(django_user_model, "vic", "viewer", email="vic@example.org")


@pytest.fixture
def reader_api(api, reader):
    return authenticated_as(api, reader)


def test_a_viewer_follows_a_measure_by_code_a_pillar_by_number_and_a_risk_by_key(
    reader_api, reader
):
    MeasureFactory(code="3.2", title_en="Promote privacy")
    PillarFactory(number=4, title_en="Supervision")
    RiskFactory(key="data-security")

    bodies = [
        reader_api.post(FOLLOWS, body, format="json")
        for body in ({"measure": "3.2"}, {"pillar": 4}, {"risk": "data-security"})
    ]

    assert [r.status_code for r in bodies] == [201, 201, 201]
    measure = bodies[0].json()
    assert {k: measure[k] for k in ("kind", "measure", "pillar", "risk", "title_en")} == {
        "kind": "measure",
        "measure": "3.2",
        "pillar": None,
        "risk": None,
        "title_en": "Promote privacy",
    }
    assert bodies[0]["Location"] == measure["url"]
    assert [(b.json()["kind"], b.json()["pillar"]) for b in bodies[1:]] == [
        ("pillar", 4),
        ("risk", None),
    ]
    assert Follow.objects.filter(user=reader).count() == 3


def test_following_makes_the_digest_settings_weekly_in_the_request_s_language(reader_api, reader):
    MeasureFactory(code="3.2")

    reader_api.post(FOLLOWS, {"measure": "3.2"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    settings = DigestSettings.objects.get(user=reader)
    assert (settings.frequency, settings.language, settings.weekday) == ("weekly", "zh", 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"measure": "3.2", "pillar": 1}, "non_field_errors"),
        ({"measure": "9.9"}, "measure"),
        ({"pillar": 99}, "pillar"),
        ({"risk": "nothing"}, "risk"),
        ({"measure": "3.2", "note": "x"}, "note"),
    ],
)
def test_a_follow_that_names_not_exactly_one_known_target_is_a_400(reader_api, body, field):
    MeasureFactory(code="3.2", pillar=PillarFactory(number=1))

    response = reader_api.post(FOLLOWS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Follow.objects.exists()


def test_following_twice_is_a_400_and_writes_nothing(reader_api):
    MeasureFactory(code="3.2")
    reader_api.post(FOLLOWS, {"measure": "3.2"}, format="json")

    again = reader_api.post(FOLLOWS, {"measure": "3.2"}, format="json")

    assert again.status_code == 400
    assert again.json() == {"measure": ["You already follow it."]}
    assert Follow.objects.count() == 1


def test_a_retry_with_the_same_idempotency_key_follows_once(reader_api):
    MeasureFactory(code="3.2")

    first = reader_api.post(FOLLOWS, {"measure": "3.2"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    retry = reader_api.post(FOLLOWS, {"measure": "3.2"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry["Idempotent-Replayed"] == "true"
    assert Follow.objects.count() == 1


def test_each_user_sees_and_removes_only_their_own_follows(
    reader_api, reader, analyst, django_user_model
):
    measure = MeasureFactory(code="3.2")
    mine = Follow.objects.create(user=reader, measure=measure)
    theirs = Follow.objects.create(user=analyst, measure=measure)

    listed = reader_api.get(FOLLOWS).json()
    foreign = reader_api.get(reverse("follow-detail", args=[theirs.pk]))
    removed_theirs = reader_api.delete(reverse("follow-detail", args=[theirs.pk]))
    removed_mine = reader_api.delete(reverse("follow-detail", args=[mine.pk]))

    assert [f["id"] for f in listed["results"]] == [mine.pk]
    assert (foreign.status_code, removed_theirs.status_code) == (404, 404)
    assert removed_mine.status_code == 204
    assert list(Follow.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_the_list_filters_by_kind_and_refuses_an_unknown_one(reader_api, reader):
    Follow.objects.create(user=reader, measure=MeasureFactory())
    Follow.objects.create(user=reader, risk=RiskFactory())

    risks = reader_api.get(FOLLOWS, {"kind": "risk"}).json()
    unknown = reader_api.get(FOLLOWS, {"kind": "institution"})

    assert [f["kind"] for f in risks["results"]] == ["risk"]
    assert unknown.status_code == 400


def test_the_follow_list_reads_the_same_queries_for_any_number_of_follows(
    reader_api, reader, django_assert_num_queries
):
    risk = RiskFactory()
    for _n in range(4):
        measure = MeasureFactory()
        MeasureRisk.objects.create(measure=measure, risk=risk)
        Follow.objects.create(user=reader, measure=measure)
        Follow.objects.create(user=reader, pillar=measure.pillar)
    Follow.objects.create(user=reader, risk=risk)

    # 1: the count for pagination; 2: the page, with each follow's measure, pillar and risk.
    with django_assert_num_queries(2):
        response = reader_api.get(FOLLOWS)

    assert response.json()["count"] == 9


def test_digest_settings_show_the_defaults_until_made_then_change_with_if_match(reader_api, reader):
    shown = reader_api.get(SETTINGS, HTTP_ACCEPT_LANGUAGE="zh-hans")
    made_by_reading = DigestSettings.objects.filter(user=reader).exists()

    changed = reader_api.patch(
        SETTINGS, {"frequency": "daily", "language": "en"}, format="json", HTTP_IF_MATCH='"0"'
    )
    stale = reader_api.patch(SETTINGS, {"frequency": "off"}, format="json", HTTP_IF_MATCH='"0"')

    assert shown.status_code == 200 and shown["ETag"] == '"0"'
    assert {k: shown.json()[k] for k in ("frequency", "language", "weekday", "address")} == {
        "frequency": "weekly",
        "language": "zh",
        "weekday": 1,
        "address": "vic@example.org",
    }
    assert not made_by_reading
    assert changed.status_code == 200 and changed["ETag"] == '"1"'
    assert (changed.json()["frequency"], changed.json()["version"]) == ("daily", 1)
    assert stale.status_code == 412
    assert DigestSettings.objects.get(user=reader).frequency == "daily"


def test_digest_settings_send_to_the_address_given_else_the_account_s(reader_api, reader):
    response = reader_api.patch(SETTINGS, {"email": "desk@example.org"}, format="json")

    assert response.json()["address"] == "desk@example.org"
    assert reader_api.patch(SETTINGS, {"email": ""}, format="json").json()["address"] == (
        "vic@example.org"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"frequency": "hourly"},
        {"language": "fr"},
        {"weekday": 8},
        {"email": "not an address"},
        {"user": 1},
    ],
)
def test_digest_settings_refuse_what_they_do_not_know(reader_api, reader, body):
    response = reader_api.patch(SETTINGS, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(body)
    assert not DigestSettings.objects.filter(user=reader).exists()


def test_digest_settings_are_each_user_s_own(reader_api, reader, analyst):
    DigestSettings.objects.create(user=analyst, frequency="daily", email="ana@example.org")

    reader_api.patch(SETTINGS, {"frequency": "off"}, format="json")

    assert DigestSettings.objects.get(user=analyst).frequency == "daily"
    assert DigestSettings.objects.get(user=reader).frequency == "off"
