import base64
import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from evidence.models import EvidenceMeasure
from recommendations import services
from recommendations.choices import Status
from recommendations.models import (
    Measure,
    MeasureInstitution,
    MeasureRisk,
    ReportSnapshot,
    StatusUpdate,
)
from recommendations.reports.render import render_json
from recommendations.reports.status import build_status_report
from tests.conftest import TODAY
from tests.factories import (
    EvidenceFactory,
    InstitutionFactory,
    MeasureFactory,
    PillarFactory,
    RiskFactory,
    ScenarioFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The service reads today's date when the caller gives none; the API gives none.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


def record(measure, status, progress, effective_date, **kwargs):
    kwargs.setdefault("by", None)
    return services.record_status_update(
        measure=measure,
        status=status,
        progress=progress,
        effective_date=effective_date,
        today=TODAY,
        **kwargs,
    )


def measures_url(**params):
    return reverse("measure-list"), params


def codes(response):
    return [row["code"] for row in response.json()["results"]]


def history_url(measure):
    return reverse("measure-status-updates", args=[measure.pk])


# Reading measures


def test_a_measure_shows_its_current_state_and_links(analyst_api):
    measure = MeasureFactory(code="3.2", pillar=PillarFactory(number=3))
    MeasureRisk.objects.create(
        measure=measure, risk=RiskFactory(key="data_security"), rationale_en="Keeps data in place."
    )
    MeasureInstitution.objects.create(
        measure=measure, institution=InstitutionFactory(key="pboc"), role="lead"
    )
    measure.scenarios.add(ScenarioFactory(key="risk_control"))
    EvidenceMeasure.objects.create(measure=measure, evidence=EvidenceFactory(), stance="context")
    record(measure, Status.IN_PROGRESS, 40, date(2026, 3, 1))

    response = analyst_api.get(reverse("measure-detail", args=[measure.pk]))

    body = response.json()
    assert response.status_code == 200
    assert re.fullmatch(r'"2\.[0-9a-f]{20}"', response["ETag"])  # the version, then a digest
    assert {
        k: body[k]
        for k in (
            "code",
            "pillar",
            "status",
            "progress",
            "status_effective_date",
            "version",
            "evidence_count",
            "as_of",
        )
    } == {
        "code": "3.2",
        "pillar": 3,
        "status": "in_progress",
        "progress": 40,
        "status_effective_date": "2026-03-01",
        "version": 2,
        "evidence_count": 1,
        "as_of": None,
    }
    assert body["risks"] == [
        {"key": "data_security", "rationale_zh": "", "rationale_en": "Keeps data in place."}
    ]
    assert body["institutions"] == [{"key": "pboc", "role": "lead"}]
    assert body["scenarios"] == ["risk_control"]
    assert body["url"].endswith(f"/api/v1/measures/{measure.pk}/")


def test_an_unknown_measure_is_a_404(analyst_api):
    response = analyst_api.get(reverse("measure-detail", args=[999999]))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("url", "search"),
    [
        ("measure-list", " ".join(["a"] * 11)),
        ("measure-list", "x" * 201),
        ("evidence-list", " ".join(str(n) for n in range(1000))),
        ("source-list", " ".join(["a"] * 11)),
    ],
)
def test_a_search_of_too_many_words_is_a_400(analyst_api, url, search):
    response = analyst_api.get(reverse(url), {"search": search})

    assert response.status_code == 400
    assert list(response.json()) == ["search"]


def test_a_search_of_ten_words_is_answered(analyst_api):
    MeasureFactory(code="1.1", title_en="one two three four five six seven eight nine ten")

    response = analyst_api.get(
        reverse("measure-list"), {"search": "one two three four five six seven eight nine ten"}
    )

    assert [row["code"] for row in response.json()["results"]] == ["1.1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pillar": 1}, ["1.1", "1.2"]),
        ({"status": "in_progress"}, ["1.1", "2.1"]),
        ({"status": ["planned", "implemented"]}, ["1.2"]),
        ({"risk": "data_security"}, ["1.1"]),
        ({"scenario": "risk_control"}, ["2.1"]),
        ({"institution": "pboc"}, ["1.2"]),
        ({"priority": "high"}, ["2.1"]),
        ({"archived": "true"}, ["2.2"]),
        ({"archived": "false"}, ["1.1", "1.2", "2.1"]),
        ({"target_date_after": "2026-06-01"}, ["1.2"]),
        ({"target_date_before": "2026-06-01"}, ["2.1"]),
        ({"search": "隐私"}, ["1.1"]),
        ({"search": "sandbox"}, ["2.1"]),
        ({"search": "2.2"}, ["2.2"]),
        ({"ordering": "-progress"}, ["2.1", "1.1", "1.2", "2.2"]),
        ({"ordering": "progress"}, ["1.2", "1.1", "2.1", "2.2"]),
        ({"ordering": "-status_effective_date"}, ["2.1", "1.2", "1.1", "2.2"]),
    ],
    ids=lambda value: str(value),
)
def test_measures_are_filtered_searched_and_ordered(analyst_api, params, expected):
    one, two = PillarFactory(number=1), PillarFactory(number=2)
    m11 = MeasureFactory(code="1.1", pillar=one, title_zh="推广隐私计算技术")
    m12 = MeasureFactory(code="1.2", pillar=one, target_date=date(2026, 12, 31))
    m21 = MeasureFactory(
        code="2.1",
        pillar=two,
        title_en="A regulatory sandbox",
        priority="high",
        target_date=date(2026, 1, 31),
    )
    MeasureFactory(code="2.2", pillar=two, archived=True)
    record(m11, Status.IN_PROGRESS, 30, date(2026, 1, 1))
    record(m12, Status.PLANNED, 10, date(2026, 2, 1))
    record(m21, Status.IN_PROGRESS, 60, date(2026, 3, 1))
    MeasureRisk.objects.create(measure=m11, risk=RiskFactory(key="data_security"))
    m21.scenarios.add(ScenarioFactory(key="risk_control"))
    MeasureInstitution.objects.create(
        measure=m12, institution=InstitutionFactory(key="pboc"), role="lead"
    )

    response = analyst_api.get(reverse("measure-list"), params)

    assert response.status_code == 200, response.json()
    assert codes(response) == expected


def test_updated_since_lists_measures_changed_since(analyst_api):
    old, changed = MeasureFactory(code="1.1"), MeasureFactory(code="1.2")
    Measure.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timezone.timedelta(days=3))
    since = timezone.now() - timezone.timedelta(days=1)
    record(changed, Status.PLANNED, 10, date(2026, 1, 1))

    response = analyst_api.get(reverse("measure-list"), {"updated_since": since.isoformat()})

    assert codes(response) == ["1.2"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"pillar": "one"}, "pillar"),
        ({"risk": "no_such_risk"}, "risk"),
        ({"scenario": "no_such_scenario"}, "scenario"),
        ({"institution": "nobody"}, "institution"),
        ({"priority": "urgent"}, "priority"),
        ({"archived": "perhaps"}, "archived"),
        ({"target_date_after": "2026-02-30"}, "target_date_after"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"as_of": "2026-13-01"}, "as_of"),
        ({"ordering": "title"}, "ordering"),
        ({"colour": "red"}, "colour"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"pillar": "1.5"}, "pillar"),
    ],
    ids=lambda value: str(value),
)
def test_a_bad_filter_is_a_400_naming_it(analyst_api, params, field):
    MeasureFactory()

    response = analyst_api.get(reverse("measure-list"), params)

    assert response.status_code == 400
    assert field in response.json()


def test_page_size_is_capped(analyst_api, settings):
    settings.API_MAX_PAGE_SIZE = 2
    MeasureFactory.create_batch(3)

    response = analyst_api.get(reverse("measure-list"), {"page_size": 100})

    assert len(response.json()["results"]) == 2
    assert response.json()["count"] == 3


# As of a date


def test_as_of_gives_the_state_on_that_date_with_back_dated_updates(analyst_api):
    measure = MeasureFactory(code="1.1", starts_on=date(2025, 4, 15))
    record(measure, Status.PLANNED, 10, date(2026, 1, 10))
    record(measure, Status.IN_PROGRESS, 50, date(2026, 4, 1))
    record(measure, Status.PLANNED, 20, date(2026, 2, 1))  # back-dated, recorded last

    def state_on(day):
        row = analyst_api.get(reverse("measure-list"), {"as_of": day}).json()["results"][0]
        return row["status"], row["progress"], row["status_effective_date"], row["as_of"]

    assert state_on("2025-12-31") == ("not_assessed", None, "2025-04-15", "2025-12-31")
    assert state_on("2026-01-31") == ("planned", 10, "2026-01-10", "2026-01-31")
    assert state_on("2026-03-01") == ("planned", 20, "2026-02-01", "2026-03-01")
    assert state_on("2026-06-30") == ("in_progress", 50, "2026-04-01", "2026-06-30")


def test_as_of_leaves_out_measures_whose_history_had_not_begun(analyst_api):
    MeasureFactory(code="1.1", starts_on=date(2025, 4, 15))
    MeasureFactory(code="1.2", starts_on=date(2026, 3, 1))

    response = analyst_api.get(reverse("measure-list"), {"as_of": "2026-01-01"})

    assert codes(response) == ["1.1"]


def test_as_of_filters_and_orders_by_the_state_then(analyst_api):
    first, second = MeasureFactory(code="1.1"), MeasureFactory(code="1.2")
    record(first, Status.IN_PROGRESS, 30, date(2026, 1, 1))
    record(second, Status.IN_PROGRESS, 20, date(2026, 1, 1))
    record(first, Status.PARTIALLY_IMPLEMENTED, 70, date(2026, 5, 1))

    in_progress_then = analyst_api.get(
        reverse("measure-list"), {"as_of": "2026-02-01", "status": "in_progress"}
    )
    by_progress_then = analyst_api.get(
        reverse("measure-list"), {"as_of": "2026-02-01", "ordering": "-progress"}
    )

    assert codes(in_progress_then) == ["1.1", "1.2"]
    assert codes(by_progress_then) == ["1.1", "1.2"]
    assert [r["progress"] for r in by_progress_then.json()["results"]] == [30, 20]


def test_a_measure_retrieved_as_of_a_date_has_a_weak_etag_without_a_version(analyst_api):
    measure = MeasureFactory()

    response = analyst_api.get(
        reverse("measure-detail", args=[measure.pk]), {"as_of": "2026-01-01"}
    )

    assert response.status_code == 200
    assert re.fullmatch(r'W/"[0-9a-f]{20}"', response["ETag"])


# Changing a measure


def test_an_analyst_changes_a_measure_and_gets_the_new_etag(analyst_api):
    measure = MeasureFactory(title_en="Old")

    response = analyst_api.patch(
        reverse("measure-detail", args=[measure.pk]),
        {"title_en": "New", "priority": "high"},
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert (response.json()["title_en"], response.json()["version"]) == ("New", 2)
    assert response["ETag"] == '"2"'
    assert Measure.objects.get(pk=measure.pk).title_en == "New"


def test_a_stale_if_match_on_a_measure_is_a_412_and_writes_nothing(analyst_api):
    measure = MeasureFactory(title_en="Old")
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))

    response = analyst_api.patch(
        reverse("measure-detail", args=[measure.pk]), {"title_en": "Mine"}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert response["ETag"] == '"2"'
    assert Measure.objects.get(pk=measure.pk).title_en == "Old"


def test_a_stale_version_in_the_body_is_a_400(analyst_api):
    measure = MeasureFactory(title_en="Old")
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))

    response = analyst_api.patch(
        reverse("measure-detail", args=[measure.pk]), {"title_en": "Mine", "version": 1}
    )

    assert response.status_code == 400
    assert "version" in response.json()
    assert Measure.objects.get(pk=measure.pk).title_en == "Old"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "implemented"},
        {"code": "9.9"},
        {"review_every_days": 0},
        {"priority": "urgent"},
        {"target_date": "soon"},
    ],
    ids=lambda body: next(iter(body)),
)
def test_a_measure_change_that_breaks_a_rule_is_a_400(analyst_api, body):
    measure = MeasureFactory()

    response = analyst_api.patch(reverse("measure-detail", args=[measure.pk]), body)

    assert response.status_code == 400
    assert next(iter(body)) in response.json()
    assert Measure.objects.get(pk=measure.pk).version == 1


def test_a_malformed_if_match_is_a_400(analyst_api):
    measure = MeasureFactory()

    response = analyst_api.patch(
        reverse("measure-detail", args=[measure.pk]), {"title_en": "x"}, HTTP_IF_MATCH="yesterday"
    )

    assert response.status_code == 400


def test_measures_cannot_be_replaced_created_or_deleted(analyst_api, admin_user):
    measure = MeasureFactory()
    analyst_api.force_authenticate(admin_user)

    put = analyst_api.put(reverse("measure-detail", args=[measure.pk]), {"title_en": "x"})
    post = analyst_api.post(reverse("measure-list"), {"code": "9.9"})
    delete = analyst_api.delete(reverse("measure-detail", args=[measure.pk]))

    assert (put.status_code, post.status_code, delete.status_code) == (405, 405, 405)


# Recording status updates


def post_update(client, measure, headers=None, **fields):
    body = {"status": "in_progress", "progress": 40, "effective_date": "2026-03-01", **fields}
    return client.post(history_url(measure), body, format="json", **(headers or {}))


def test_an_analyst_records_a_status_update(analyst_api, analyst):
    measure = MeasureFactory()
    proof = EvidenceFactory()

    response = post_update(
        analyst_api,
        measure,
        status="implemented",
        progress=100,
        evidence=[proof.pk],
        confidence="high",
        note="Rules published.",
        headers={"HTTP_IF_MATCH": '"1"'},
    )

    body = response.json()
    assert response.status_code == 201
    assert response["ETag"] == '"2"'
    assert response["Location"] == body["url"]
    assert type(response.headers["Location"]) is str  # WSGI servers refuse str subclasses
    assert {
        k: body[k]
        for k in (
            "status",
            "progress",
            "confidence",
            "effective_date",
            "recorded_by",
            "note",
            "evidence",
        )
    } == {
        "status": "implemented",
        "progress": 100,
        "confidence": "high",
        "effective_date": "2026-03-01",
        "recorded_by": analyst.username,
        "note": "Rules published.",
        "evidence": [proof.pk],
    }
    assert body["measure_state"] == {
        "id": measure.pk,
        "code": measure.code,
        "status": "implemented",
        "progress": 100,
        "status_effective_date": "2026-03-01",
        "version": 2,
    }
    assert StatusUpdate.objects.filter(measure=measure).count() == 2


def test_the_history_lists_updates_latest_first(analyst_api):
    measure = MeasureFactory(starts_on=date(2025, 4, 15))
    record(measure, Status.IN_PROGRESS, 50, date(2026, 4, 1))
    record(measure, Status.PLANNED, 20, date(2026, 2, 1))

    response = analyst_api.get(history_url(measure))

    assert [(r["status"], r["effective_date"]) for r in response.json()["results"]] == [
        ("in_progress", "2026-04-01"),
        ("planned", "2026-02-01"),
        ("not_assessed", "2025-04-15"),
    ]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"effective_date": "2026-07-01"}, "effective_date", "future"),
        ({"status": "implemented", "progress": 100}, "evidence", "evidence"),
        ({"status": "not_assessed", "progress": None}, "status", "first entry"),
        ({"status": "not_started", "progress": 5}, "progress", "0%"),
        ({"progress": 101}, "progress", "0 to 100"),
        ({"status": "stalled"}, "note", "blocking"),
        ({"effective_date": "2026-02-30"}, "effective_date", "format"),
        ({"status": "finished"}, "status", "valid choice"),
        ({"evidence": [999999]}, "evidence", "does not exist"),
        ({"progress": "lots"}, "progress", "valid integer"),
    ],
    ids=lambda value: str(value),
)
def test_a_status_update_that_breaks_a_rule_is_a_400_naming_it(analyst_api, fields, field, words):
    measure = MeasureFactory()

    response = post_update(analyst_api, measure, **fields)

    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert StatusUpdate.objects.filter(measure=measure).count() == 1
    assert Measure.objects.get(pk=measure.pk).version == 1


def test_a_regression_without_a_note_is_a_400(analyst_api):
    measure = MeasureFactory()
    record(measure, Status.PARTIALLY_IMPLEMENTED, 70, date(2026, 2, 1))

    response = post_update(analyst_api, measure, status="planned", progress=20)

    assert response.status_code == 400
    assert "needs a note" in response.json()["note"][0]


def test_a_stale_if_match_on_a_status_update_is_a_412_and_writes_nothing(analyst_api):
    measure = MeasureFactory()
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))

    response = post_update(analyst_api, measure, headers={"HTTP_IF_MATCH": '"1"'})

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert StatusUpdate.objects.filter(measure=measure).count() == 2


def test_a_stale_version_in_a_status_update_body_is_a_400(analyst_api):
    measure = MeasureFactory()
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))

    response = post_update(analyst_api, measure, version=1)

    assert response.status_code == 400
    assert "has changed since you loaded it" in response.json()["version"][0]


@pytest.mark.parametrize("misspelt", ["confidense", "notes", "evidences"])
def test_a_status_update_with_an_unknown_field_is_a_400_naming_it(analyst_api, misspelt):
    measure = MeasureFactory()

    response = post_update(analyst_api, measure, **{misspelt: "high"})

    assert response.status_code == 400
    assert response.json() == {misspelt: ["Unknown field."]}
    assert measure.status_updates.count() == 1  # its first, not_assessed entry


def test_a_status_update_for_an_unknown_measure_is_a_404(analyst_api):
    response = analyst_api.post(
        reverse("measure-status-updates", args=[999999]),
        {"status": "planned", "progress": 5, "effective_date": "2026-01-01"},
        format="json",
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"status": "planned",', "application/json"),
        ("[1, 2]", "application/json"),
        ("status=planned", "application/x-www-form-urlencoded"),
        ("null", "application/json"),
    ],
    ids=["truncated", "list", "form", "null"],
)
def test_a_malformed_body_is_a_4xx_and_writes_nothing(analyst_api, body, content_type):
    measure = MeasureFactory()

    response = analyst_api.generic("POST", history_url(measure), body, content_type=content_type)

    assert response.status_code in (400, 415)
    assert StatusUpdate.objects.filter(measure=measure).count() == 1


def test_status_updates_are_never_changed_or_deleted_through_the_api(analyst_api, admin_user):
    update = MeasureFactory().status_updates.get()
    analyst_api.force_authenticate(admin_user)
    url = reverse("status-update-detail", args=[update.pk])

    responses = [
        analyst_api.put(url, {"note": "x"}),
        analyst_api.patch(url, {"note": "x"}),
        analyst_api.delete(url),
    ]

    assert [r.status_code for r in responses] == [405, 405, 405]
    assert StatusUpdate.objects.get(pk=update.pk).note == ""


# Idempotent retries


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(analyst_api):
    measure = MeasureFactory()
    headers = {"HTTP_IDEMPOTENCY_KEY": "3f2c-retry", "HTTP_IF_MATCH": '"1"'}

    first = post_update(analyst_api, measure, headers=headers)
    retry = post_update(analyst_api, measure, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["ETag"] == first["ETag"] == '"2"'
    assert retry["Idempotent-Replayed"] == "true"
    assert StatusUpdate.objects.filter(measure=measure).count() == 2


def test_the_same_idempotency_key_with_another_body_is_refused(analyst_api):
    measure = MeasureFactory()
    post_update(analyst_api, measure, headers={"HTTP_IDEMPOTENCY_KEY": "k1"})

    response = post_update(
        analyst_api, measure, progress=45, headers={"HTTP_IDEMPOTENCY_KEY": "k1"}
    )

    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert StatusUpdate.objects.filter(measure=measure).count() == 2


def test_a_refused_request_is_not_remembered_under_its_key(analyst_api):
    measure = MeasureFactory()
    headers = {"HTTP_IDEMPOTENCY_KEY": "k2"}
    refused = post_update(analyst_api, measure, effective_date="2027-01-01", headers=headers)

    retried = post_update(analyst_api, measure, effective_date="2027-01-01", headers=headers)

    assert (refused.status_code, retried.status_code) == (400, 400)
    assert StatusUpdate.objects.filter(measure=measure).count() == 1


def test_an_expired_idempotency_key_is_forgotten(analyst_api, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 0
    measure = MeasureFactory()
    post_update(analyst_api, measure, headers={"HTTP_IDEMPOTENCY_KEY": "k3"})

    again = post_update(analyst_api, measure, progress=45, headers={"HTTP_IDEMPOTENCY_KEY": "k3"})

    assert again.status_code == 201
    assert StatusUpdate.objects.filter(measure=measure).count() == 3


def test_an_unusable_idempotency_key_is_a_400(analyst_api):
    measure = MeasureFactory()

    response = post_update(analyst_api, measure, headers={"HTTP_IDEMPOTENCY_KEY": "x" * 256})

    assert response.status_code == 400
    assert StatusUpdate.objects.filter(measure=measure).count() == 1


# The feed


def test_the_feed_pages_every_update_in_recording_order_by_cursor(analyst_api):
    first, second = MeasureFactory(code="1.1"), MeasureFactory(code="1.2")
    record(first, Status.PLANNED, 10, date(2026, 3, 1))
    record(second, Status.PLANNED, 10, date(2026, 1, 1))
    record(first, Status.IN_PROGRESS, 20, date(2026, 2, 1), note="Started, then re-planned.")
    expected = list(StatusUpdate.objects.order_by("id").values_list("id", flat=True))

    seen, url, params = [], reverse("status-update-list"), {"page_size": 2}
    while url:
        page = analyst_api.get(url, params).json()
        seen += [row["id"] for row in page["results"]]
        url, params = page["next"], None

    assert seen == expected


def test_the_feed_resumes_from_its_last_page_with_only_new_updates(analyst_api):
    measure = MeasureFactory()
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))
    last_page = analyst_api.get(reverse("status-update-list"), {"page_size": 5}).json()
    assert last_page["next"] is None
    nothing_yet = analyst_api.get(last_page["resume"]).json()

    update = record(measure, Status.IN_PROGRESS, 20, date(2026, 2, 1))
    resumed = analyst_api.get(nothing_yet["resume"]).json()

    assert nothing_yet["results"] == []
    assert [row["id"] for row in resumed["results"]] == [update.pk]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        base64.b64encode(b"p=abc").decode(),
        base64.b64encode(b"p=1&x=2").decode(),
        base64.b64encode(b"r=2&p=1").decode(),
        base64.b64encode(b"o=-1&p=1").decode(),
        base64.b64encode(b"p=1&p=2").decode(),
        base64.b64encode("p=١".encode()).decode(),
        "cD0",  # cut short
    ],
)
def test_a_cursor_the_api_did_not_give_out_is_a_400(analyst_api, cursor):
    record(MeasureFactory(), Status.PLANNED, 10, date(2026, 1, 1))

    response = analyst_api.get(reverse("status-update-list"), {"cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_the_feed_follows_its_own_next_and_previous_cursors(analyst_api):
    measure = MeasureFactory()
    for day in range(1, 5):
        record(measure, Status.IN_PROGRESS, 10 + day, date(2026, 1, day))

    first = analyst_api.get(reverse("status-update-list"), {"page_size": 2}).json()
    second = analyst_api.get(first["next"]).json()
    back = analyst_api.get(second["previous"]).json()

    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"measure": "1.1"}, [("1.1", "not_assessed"), ("1.1", "planned")]),
        ({"pillar": 2}, [("2.1", "not_assessed"), ("2.1", "in_progress")]),
        ({"status": "in_progress"}, [("2.1", "in_progress")]),
        ({"effective_after": "2026-01-01"}, [("1.1", "planned"), ("2.1", "in_progress")]),
        ({"effective_before": "2025-12-31"}, [("1.1", "not_assessed"), ("2.1", "not_assessed")]),
    ],
    ids=lambda value: str(value),
)
def test_the_feed_is_filtered(analyst_api, params, expected):
    m11 = MeasureFactory(code="1.1", pillar=PillarFactory(number=1))
    m21 = MeasureFactory(code="2.1", pillar=PillarFactory(number=2))
    record(m11, Status.PLANNED, 10, date(2026, 1, 5))
    record(m21, Status.IN_PROGRESS, 30, date(2026, 2, 5))

    response = analyst_api.get(reverse("status-update-list"), params)

    assert response.status_code == 200
    assert [(r["measure_code"], r["status"]) for r in response.json()["results"]] == expected


def test_the_feed_takes_a_measure_by_id_and_refuses_an_unknown_one(analyst_api):
    measure = MeasureFactory(code="1.1")

    by_id = analyst_api.get(reverse("status-update-list"), {"measure": measure.pk})
    unknown = analyst_api.get(reverse("status-update-list"), {"measure": "9.9"})

    # Its id in another script's digits (Arabic-Indic, which Python's int reads) names nothing.
    arabic = str(measure.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    other_digits = analyst_api.get(reverse("status-update-list"), {"measure": arabic})

    assert [r["measure"] for r in by_id.json()["results"]] == [measure.pk]
    assert unknown.status_code == 400
    assert other_digits.status_code == 400
    assert list(other_digits.json()) == ["measure"]


@pytest.mark.parametrize("value", ["1.5", "one"])
def test_the_feed_refuses_a_pillar_that_is_not_a_whole_number(analyst_api, value):
    record(MeasureFactory(pillar=PillarFactory(number=1)), Status.PLANNED, 10, date(2026, 1, 1))

    response = analyst_api.get(reverse("status-update-list"), {"pillar": value})

    assert response.status_code == 400
    assert list(response.json()) == ["pillar"]


def test_the_feed_filters_by_recording_time(analyst_api):
    measure = MeasureFactory()
    cut = timezone.now()
    record(measure, Status.PLANNED, 10, date(2026, 1, 1))

    after = analyst_api.get(reverse("status-update-list"), {"recorded_after": cut.isoformat()})
    before = analyst_api.get(reverse("status-update-list"), {"recorded_before": cut.isoformat()})

    assert [r["status"] for r in after.json()["results"]] == ["planned"]
    assert [r["status"] for r in before.json()["results"]] == ["not_assessed"]


# Pillars, risks, scenarios, institutions


def test_pillars_count_their_measures_by_status(analyst_api):
    pillar = PillarFactory(number=1)
    first, second = MeasureFactory(pillar=pillar), MeasureFactory(pillar=pillar)
    MeasureFactory(pillar=pillar, archived=True)
    record(first, Status.IN_PROGRESS, 40, date(2026, 1, 1))
    record(second, Status.PLANNED, 10, date(2026, 1, 1))

    body = analyst_api.get(reverse("pillar-detail", args=[pillar.pk])).json()

    assert body["measure_count"] == 2
    assert body["mean_progress"] == 25
    assert body["status_counts"] == {
        **{s: 0 for s in Status.values},
        "in_progress": 1,
        "planned": 1,
    }


def test_a_risk_lists_its_mechanisms_and_mitigating_measures_with_their_status(analyst_api):
    risk = RiskFactory(key="data_security")
    risk.mechanisms.create(order=1, title_zh="泄露", title_en="Leaks")
    measure = MeasureFactory(code="3.2")
    MeasureRisk.objects.create(measure=measure, risk=risk, rationale_en="Privacy computing.")
    record(measure, Status.IN_PROGRESS, 30, date(2026, 1, 1))

    body = analyst_api.get(reverse("risk-detail", args=[risk.pk])).json()

    assert [m["title_en"] for m in body["mechanisms"]] == ["Leaks"]
    assert body["mitigating_measures"] == [
        {
            "id": measure.pk,
            "code": "3.2",
            "title_zh": measure.title_zh,
            "title_en": measure.title_en,
            "status": "in_progress",
            "progress": 30,
            "archived": False,
            "rationale_zh": "",
            "rationale_en": "Privacy computing.",
        }
    ]


@pytest.mark.parametrize(
    ("name", "factory", "field"),
    [("scenario", ScenarioFactory, "key"), ("institution", InstitutionFactory, "key")],
)
def test_scenarios_and_institutions_are_listed_and_retrieved(analyst_api, name, factory, field):
    item = factory()

    listing = analyst_api.get(reverse(f"{name}-list"))
    detail = analyst_api.get(reverse(f"{name}-detail", args=[item.pk]))

    assert item.key in str(listing.json())
    assert detail.json()[field] == item.key


# Who may do what


WRITES = [
    ("patch", "measure-detail", {"title_en": "x"}),
    (
        "post",
        "measure-status-updates",
        {"status": "planned", "progress": 5, "effective_date": "2026-01-01"},
    ),
]


@pytest.mark.parametrize(("method", "name", "body"), WRITES, ids=[w[1] for w in WRITES])
@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 401), ("viewer", 403), ("analyst", (200, 201)), ("superuser", (200, 201))],
)
def test_who_may_write(api, analyst, viewer, admin_user, method, name, body, role, expected):
    measure = MeasureFactory()
    user = {"viewer": viewer, "analyst": analyst, "superuser": admin_user}.get(role)
    if user:
        api.force_authenticate(user)

    response = getattr(api, method)(reverse(name, args=[measure.pk]), body, format="json")

    assert response.status_code in (expected if isinstance(expected, tuple) else (expected,))
    written = Measure.objects.get(pk=measure.pk).version > 1
    assert written == (role in ("analyst", "superuser"))


def test_reading_needs_a_signed_in_user(api):
    response = api.get(reverse("measure-list"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_setting_opens_reading_to_anonymous_clients(api, settings):
    settings.API_ANONYMOUS_READ = True
    measure = MeasureFactory()

    read = api.get(reverse("measure-list"))
    write = post_update(api, measure)

    assert read.status_code == 200
    assert write.status_code == 401


def test_a_viewer_reads(viewer_api):
    MeasureFactory()

    response = viewer_api.get(reverse("measure-list"))

    assert response.status_code == 200


def test_session_writes_need_a_csrf_token(analyst):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)
    measure = MeasureFactory()

    response = browser.post(
        history_url(measure),
        {"status": "planned", "progress": 5, "effective_date": "2026-01-01"},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert StatusUpdate.objects.filter(measure=measure).count() == 1


# Query counts


def linked_measures(count):
    pillar = PillarFactory(number=1)
    risk, scenario, institution = RiskFactory(), ScenarioFactory(), InstitutionFactory()
    for index in range(count):
        measure = MeasureFactory(pillar=pillar, code=f"1.{index:03d}")
        MeasureRisk.objects.create(measure=measure, risk=risk)
        MeasureRisk.objects.create(measure=measure, risk=RiskFactory())
        MeasureInstitution.objects.create(measure=measure, institution=institution, role="lead")
        measure.scenarios.add(scenario, ScenarioFactory())
        EvidenceMeasure.objects.create(
            measure=measure, evidence=EvidenceFactory(), stance="supports"
        )
        record(measure, Status.IN_PROGRESS, 10 + index, date(2026, 1, 1))


@pytest.mark.parametrize("page_size", [1, 100])
@pytest.mark.parametrize("as_of", [None, "2026-02-01"])
def test_the_measure_list_runs_a_fixed_number_of_queries(
    analyst_api, django_assert_num_queries, page_size, as_of
):
    linked_measures(6)
    params = {"page_size": page_size, **({"as_of": as_of} if as_of else {})}

    # 1: the change counters (ETag); 2: COUNT for pagination; 3: the page with its pillar,
    # evidence count (and state then); 4: its scenarios, risk and institution links, one UNION.
    with django_assert_num_queries(4):
        response = analyst_api.get(reverse("measure-list"), params)

    assert len(response.json()["results"]) == min(page_size, 6)


@pytest.mark.parametrize("page_size", [1, 100])
def test_the_feed_runs_a_fixed_number_of_queries(analyst_api, django_assert_num_queries, page_size):
    linked_measures(6)

    # 1: the change counters (ETag); 2: the page of updates with measure and author; 3: their
    # evidence.
    with django_assert_num_queries(3):
        response = analyst_api.get(reverse("status-update-list"), {"page_size": page_size})

    assert len(response.json()["results"]) == min(page_size, 12)


def test_the_history_of_a_measure_runs_a_fixed_number_of_queries(
    analyst_api, django_assert_num_queries
):
    measure = MeasureFactory()
    for day in range(1, 6):
        record(measure, Status.IN_PROGRESS, day, date(2026, 1, day), evidence=[EvidenceFactory()])

    # 1: the change counters (ETag); 2: the measure; 3: the page with measure and author;
    # 4: evidence. No COUNT: the history pages by keyset.
    with django_assert_num_queries(4):
        response = analyst_api.get(history_url(measure), {"page_size": 100})

    assert len(response.json()["results"]) == 6


@pytest.mark.parametrize("name", ["pillar-list", "risk-list"])
def test_pillars_and_risks_run_a_fixed_number_of_queries(
    analyst_api, django_assert_num_queries, name
):
    linked_measures(6)

    # The change counters (ETag), then pillars: one annotated query; risks: risks, mechanisms,
    # links with their measures.
    with django_assert_num_queries(2 if name == "pillar-list" else 4):
        response = analyst_api.get(reverse(name))

    assert response.status_code == 200


# Published reports


def snapshot(version=2):
    files = {
        # A whole (empty) report, as the API's schema describes it.
        "report_json": render_json(
            build_status_report(since=date(2026, 3, 31), until=date(2026, 6, 30))
        ),
        "csv": "code,pillar",
        "markdown_en": "# en",
        "markdown_zh": "# zh",
        "html_en": "<p>en</p>",
        "html_zh": "<p>zh</p>",
    }
    return ReportSnapshot.objects.create(
        since=date(2026, 3, 31),
        until=date(2026, 6, 30),
        version=version,
        sha256=ReportSnapshot.digest(files["report_json"]),
        **files,
    )


def test_a_snapshot_links_to_each_of_its_files(analyst_api):
    shot = snapshot()
    base = f"http://testserver{reverse('report-download', args=[shot.pk])}"

    listed = analyst_api.get(reverse("report-list")).json()["results"]

    assert listed[0]["downloads"] == {
        "json": f"{base}?file=json",
        "csv": f"{base}?file=csv",
        "markdown_en": f"{base}?file=markdown&lang=en",
        "markdown_zh": f"{base}?file=markdown&lang=zh",
        "html_en": f"{base}?file=html&lang=en",
        "html_zh": f"{base}?file=html&lang=zh",
    }


@pytest.mark.parametrize(
    ("params", "body", "filename"),
    [
        ({}, None, "status-report_2026-03-31_2026-06-30_v2.json"),
        (
            {"file": "csv", "lang": "zh"},
            "code,pillar",
            "status-report_2026-03-31_2026-06-30_v2.csv",
        ),
        (
            {"file": "markdown", "lang": "zh"},
            "# zh",
            "status-report_2026-03-31_2026-06-30_v2_zh.md",
        ),
        ({"file": "html"}, "<p>en</p>", "status-report_2026-03-31_2026-06-30_v2_en.html"),
    ],
)
def test_a_snapshot_file_is_downloaded_under_its_name(analyst_api, params, body, filename):
    shot = snapshot()

    response = analyst_api.get(reverse("report-download", args=[shot.pk]), params)

    assert response.content.decode() == (shot.report_json if body is None else body)
    assert response["Content-Disposition"] == f'inline; filename="{filename}"'


def test_the_report_list_reads_no_stored_file(analyst_api, django_assert_num_queries):
    snapshot()
    snapshot(version=3)

    # The change counters (ETag), the count, the page with its authors: no rendering.
    with django_assert_num_queries(3) as queries:
        response = analyst_api.get(reverse("report-list"))

    assert [row["version"] for row in response.json()["results"]] == [3, 2]
    page = queries.captured_queries[-1]["sql"]
    assert "sha256" in page
    assert not any(column in page for column in ("report_json", "html_en", "markdown_zh"))


@pytest.mark.parametrize("since", ["2026-06-30", "2026-07-31"])
def test_a_preview_of_a_period_that_does_not_move_forward_is_a_400(analyst_api, since):
    params = {"since": since, "until": "2026-06-30"}

    response = analyst_api.get(reverse("report-preview"), params)

    assert response.status_code == 400
    assert response.json() == {"until": ["The period must end after it starts."]}
