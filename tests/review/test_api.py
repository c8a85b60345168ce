"""The review over the API: a reporter's status update answers 202 with the proposal; each
endpoint of proposals/, with its permissions per role, ETags, If-Match, Idempotency-Key and
pinned query counts. Every response is checked against the schema (tests/openapi_validation)."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from recommendations.choices import Status
from recommendations.models import Measure, MeasureInstitution, StatusUpdate
from recommendations.roles import REPORTER
from review import services
from review.models import Proposal, ReporterInstitution
from tests.conftest import TODAY, api_token, authenticated_as, make_user
from tests.factories import EvidenceFactory, InstitutionFactory, MeasureFactory, PillarFactory
from tests.review.conftest import propose

pytestmark = pytest.mark.django_db

BODY = {
    "status": "in_progress",
    "progress": 30,
    "effective_date": "2026-03-01",
    "confidence": "medium",
    "note": "Pilots in two banks",
    "evidence": [],
}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The service reads today's date when the caller gives none; the API gives none.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


def as_user(user) -> APIClient:
    return authenticated_as(APIClient(), user)


def history_url(measure):
    return reverse("measure-status-updates", args=[measure.pk])


def detail_url(proposal):
    return reverse("proposal-detail", args=[proposal.pk])


def action_url(proposal, name):
    return reverse(f"proposal-{name}", args=[proposal.pk])


# Proposing through the status-update POST


def test_a_reporters_status_update_is_proposed_202_with_its_location(measure, reporter_api):
    response = reporter_api.post(history_url(measure), BODY)

    proposal = Proposal.objects.get()
    assert response.status_code == 202, response.json()
    assert response["Location"] == f"http://testserver/api/v1/proposals/{proposal.pk}/"
    body = response.json()
    assert (body["id"], body["state"], body["measure_code"], body["proposed_by"]) == (
        proposal.pk,
        "pending",
        "3.2",
        "rita",
    )
    assert body["measure_state"] == {
        "id": measure.pk,
        "code": "3.2",
        "status": "not_assessed",
        "progress": None,
        "status_effective_date": "2025-01-01",
        "version": 1,
    }
    assert [r["number"] for r in body["revisions"]] == [1] and body["decisions"] == []
    assert reporter_api.get(response["Location"]).json()["id"] == proposal.pk
    measure.refresh_from_db()
    assert (measure.version, measure.status_updates.count()) == (1, 1)


def test_an_analysts_status_update_is_still_recorded_at_once(measure, analyst_api):
    response = analyst_api.post(history_url(measure), BODY)

    assert response.status_code == 201
    assert not Proposal.objects.exists()


def test_the_setting_makes_an_analysts_update_a_proposal(measure, analyst_api, settings):
    settings.REVIEW_ANALYST_UPDATES = True

    response = analyst_api.post(history_url(measure), BODY)

    assert response.status_code == 202
    assert Proposal.objects.get().proposed_by.username == "ana"


def test_a_viewer_neither_records_nor_proposes(measure, viewer_api):
    response = viewer_api.post(history_url(measure), BODY)

    assert response.status_code == 403
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "status": "implemented", "progress": 100}, "evidence"),
        ({**BODY, "effective_date": "2026-07-01"}, "effective_date"),
        ({**BODY, "confidense": "high"}, "confidense"),
        ({**BODY, "evidence": [987654]}, "evidence"),
        ({**BODY, "status": "stalled", "note": ""}, "note"),
    ],
    ids=["rule", "future", "unknown-field", "unknown-evidence", "no-note"],
)
def test_a_proposal_a_rule_refuses_is_a_400_and_writes_nothing(measure, reporter_api, body, field):
    response = reporter_api.post(history_url(measure), body)

    assert response.status_code == 400
    assert field in response.json()
    assert not Proposal.objects.exists()


def test_a_reporter_proposes_only_for_its_institutions_measures(measure, reporter, reporter_api):
    ReporterInstitution.objects.create(user=reporter, institution=InstitutionFactory(key="nfra"))

    refused = reporter_api.post(history_url(measure), BODY)
    MeasureInstitution.objects.create(
        measure=measure,
        institution=reporter.reporter_institutions.get().institution,
        role="support",
    )
    accepted = reporter_api.post(history_url(measure), BODY)

    assert refused.status_code == 403
    assert "3.2" in refused.json()["detail"]
    assert accepted.status_code == 202


def test_an_unknown_measure_is_a_404(reporter_api):
    response = reporter_api.post(reverse("measure-status-updates", args=[987654]), BODY)

    assert response.status_code == 404


def test_if_match_names_the_measures_version_when_proposing(measure, reporter_api):
    stale = reporter_api.post(history_url(measure), BODY, HTTP_IF_MATCH='"7"')
    fresh = reporter_api.post(history_url(measure), BODY, HTTP_IF_MATCH='"1"')

    assert stale.status_code == 412
    assert (stale.json()["current_version"], stale["ETag"]) == (1, '"1"')
    assert fresh.status_code == 202
    assert Proposal.objects.count() == 1


def test_a_retried_proposal_is_replayed_not_made_twice(measure, reporter_api):
    first = reporter_api.post(history_url(measure), BODY, HTTP_IDEMPOTENCY_KEY="p-1")
    replay = reporter_api.post(history_url(measure), BODY, HTTP_IDEMPOTENCY_KEY="p-1")
    other = reporter_api.post(
        history_url(measure), {**BODY, "progress": 40}, HTTP_IDEMPOTENCY_KEY="p-1"
    )

    assert (first.status_code, replay.status_code, other.status_code) == (202, 202, 422)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Location"] == first["Location"] and replay.json() == first.json()
    assert Proposal.objects.count() == 1


def test_the_feed_and_as_of_show_only_approved_entries(measure, reporter, analyst_api):
    proposal = propose(measure, reporter)
    feed = reverse("status-update-list")
    as_of = {"as_of": "2026-06-30"}

    before_feed = analyst_api.get(feed).json()["results"]
    before_state = analyst_api.get(reverse("measure-detail", args=[measure.pk]), as_of).json()
    approved = analyst_api.post(action_url(proposal, "approve"))
    after_feed = analyst_api.get(feed).json()["results"]
    after_state = analyst_api.get(reverse("measure-detail", args=[measure.pk]), as_of).json()

    assert [u["status"] for u in before_feed] == ["not_assessed"]
    assert before_state["status"] == "not_assessed"
    assert approved.status_code == 200
    assert [u["status"] for u in after_feed] == ["not_assessed", "in_progress"]
    assert after_feed[-1]["recorded_by"] == "rita"
    assert after_feed[-1]["id"] == approved.json()["status_update"]
    assert (after_state["status"], after_state["progress"]) == ("in_progress", 30)


def test_a_reporter_reads_the_api_with_a_token_as_a_viewer_does(measure, reporter):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(reporter)}")

    for name in ("measure-list", "status-update-list", "evidence-list", "change-list"):
        assert api.get(reverse(name)).status_code == 200, name
    assert api.get(reverse("measure-detail", args=[measure.pk])).status_code == 200
    assert (
        api.patch(reverse("measure-detail", args=[measure.pk]), {"priority": "high"}).status_code
        == 403
    )
    assert api.post(reverse("source-list"), {"title": "T"}).status_code == 403


# Reading proposals


@pytest.fixture
def proposals(measure, reporter, django_user_model):
    """The reporter's proposal on 3.2, and a colleague's on a measure of pillar 4."""
    colleague = make_user(django_user_model, "ron", REPORTER)
    other = MeasureFactory(code="4.1", pillar=PillarFactory(number=4))
    return {"mine": propose(measure, reporter), "theirs": propose(other, colleague)}


def ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_a_reporter_sees_its_own_proposals_and_others_see_all(
    proposals, reporter_api, analyst, viewer
):
    mine, theirs = proposals["mine"], proposals["theirs"]

    assert ids(reporter_api.get(reverse("proposal-list"))) == [mine.pk]
    assert ids(as_user(analyst).get(reverse("proposal-list"))) == [theirs.pk, mine.pk]
    assert ids(as_user(viewer).get(reverse("proposal-list"))) == [theirs.pk, mine.pk]
    assert reporter_api.get(detail_url(theirs)).status_code == 404
    assert reporter_api.post(action_url(theirs, "withdraw")).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "pending"}, ["theirs", "mine"]),
        ({"state": ["rejected", "approved"]}, []),
        ({"measure": "3.2"}, ["mine"]),
        ({"pillar": 4}, ["theirs"]),
        ({"proposed_by": "ron"}, ["theirs"]),
        ({"institution": "pboc"}, ["mine"]),
    ],
)
def test_proposals_filter_by_state_measure_pillar_proposer_and_institution(
    proposals, analyst_api, params, expected
):
    response = analyst_api.get(reverse("proposal-list"), params)

    assert ids(response) == [proposals[name].pk for name in expected]


@pytest.mark.parametrize(
    "params",
    [
        {"state": "lost"},
        {"measure": "9.9"},
        {"pillar": "one"},
        {"proposed_by": "nobody"},
        {"institution": "nowhere"},
        {"colour": "red"},
        {"ordering": "id"},
    ],
)
def test_a_filter_value_that_names_nothing_is_a_400(proposals, analyst_api, params):
    response = analyst_api.get(reverse("proposal-list"), params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_proposals_are_not_read_anonymously_even_when_reading_is_open(proposals, settings):
    settings.API_ANONYMOUS_READ = True

    assert APIClient().get(reverse("proposal-list")).status_code == 401
    assert APIClient().get(detail_url(proposals["mine"])).status_code == 401


# On PostgreSQL the change counters move when a transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_proposal_carries_its_etag_and_answers_304(proposals, analyst_api, analyst):
    url = detail_url(proposals["mine"])

    first = analyst_api.get(url)
    again = analyst_api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    services.request_changes(proposal=proposals["mine"], by=analyst, comment="More")
    changed = analyst_api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["ETag"].startswith('"1.')
    assert again.status_code == 304
    assert changed.status_code == 200 and changed["ETag"].startswith('"2.')


def test_a_list_of_proposals_costs_the_same_queries_at_any_size(
    measure, reporter, analyst, django_user_model, django_assert_num_queries
):
    """A page: its count, its rows (with measure, pillar, proposer and approver), then
    evidence, revisions and decisions (each with its author); before them the change
    counters behind the ETag and the user's permissions (whether it sees every proposal)."""
    evidence = EvidenceFactory()
    for index in range(6):
        proposal = propose(measure, reporter, evidence=[evidence], progress=30 + index)
        if index % 2:
            services.request_changes(proposal=proposal, by=analyst, comment="More")
    services.approve(proposal=Proposal.objects.filter(state="pending").first(), by=analyst)
    url = reverse("proposal-list")

    for size in (1, 100):
        # As a request signs its user in: with no permission read yet.
        api = as_user(django_user_model.objects.get(pk=analyst.pk))
        with django_assert_num_queries(QUERIES_PER_PAGE):
            response = api.get(url, {"page_size": size})
        assert len(response.json()["results"]) == min(size, 6)


# counters, permissions (the user's own, its groups'), count, page, evidence, revisions,
# decisions
QUERIES_PER_PAGE = 8


# Deciding


@pytest.fixture
def pending(measure, reporter):
    return propose(measure, reporter)


def test_an_analyst_approves_and_the_answer_is_the_approved_proposal(pending, measure, analyst_api):
    response = analyst_api.post(action_url(pending, "approve"), HTTP_IF_MATCH='"1"')

    body = response.json()
    update = StatusUpdate.objects.get(proposal=pending)
    assert response.status_code == 200, body
    assert response["ETag"] == '"2"'
    assert (body["state"], body["approved_by"], body["status_update"]) == (
        "approved",
        "ana",
        update.pk,
    )
    assert body["status_update_url"].endswith(f"/api/v1/status-updates/{update.pk}/")
    assert body["approved_at"] is not None
    assert body["measure_state"]["version"] == 2
    assert [d["state"] for d in body["decisions"]] == ["approved"]


def test_a_second_approval_is_a_409(pending, analyst_api, second_analyst):
    analyst_api.post(action_url(pending, "approve"))

    response = as_user(second_analyst).post(action_url(pending, "approve"))

    assert response.status_code == 409
    assert "only a pending proposal can be approved" in response.json()["detail"]
    assert StatusUpdate.objects.filter(proposal__isnull=False).count() == 1


def test_nobody_approves_their_own_proposal_over_the_api(measure, analyst_api, settings):
    settings.REVIEW_ANALYST_UPDATES = True
    proposed = analyst_api.post(history_url(measure), BODY)
    proposal = Proposal.objects.get()

    response = analyst_api.post(action_url(proposal, "approve"))

    assert proposed.status_code == 202
    assert response.status_code == 403
    assert "four eyes" in response.json()["detail"]
    assert Proposal.objects.get().state == "pending"


@pytest.mark.parametrize("name", ["approve", "reject", "request-changes"])
def test_reporters_and_viewers_do_not_decide(pending, reporter_api, viewer_api, name):
    body = {"reason": "No"} if name == "reject" else {"comment": "More"}

    assert reporter_api.post(action_url(pending, name), body).status_code == 403
    assert viewer_api.post(action_url(pending, name), body).status_code == 403
    assert Proposal.objects.get().state == "pending"


def test_a_rejection_needs_a_reason(pending, analyst_api):
    missing = analyst_api.post(action_url(pending, "reject"), {})
    blank = analyst_api.post(action_url(pending, "reject"), {"reason": " "})
    rejected = analyst_api.post(action_url(pending, "reject"), {"reason": "No source"})

    assert (missing.status_code, blank.status_code) == (400, 400)
    assert "reason" in missing.json() and "reason" in blank.json()
    assert rejected.status_code == 200
    assert rejected.json()["decisions"][0] == {
        **rejected.json()["decisions"][0],
        "state": "rejected",
        "text": "No source",
        "by": "ana",
        "revision": 1,
    }


def test_changes_requested_then_revised_by_the_proposer(pending, analyst, reporter_api):
    evidence = EvidenceFactory()
    analyst_api = as_user(analyst)

    no_comment = analyst_api.post(action_url(pending, "request-changes"), {"comment": ""})
    requested = analyst_api.post(action_url(pending, "request-changes"), {"comment": "Cite it"})
    by_analyst = analyst_api.patch(detail_url(pending), {"progress": 40})
    stale = reporter_api.patch(detail_url(pending), {"progress": 40}, HTTP_IF_MATCH='"1"')
    revised = reporter_api.patch(
        detail_url(pending), {"progress": 40, "evidence": [evidence.pk]}, HTTP_IF_MATCH='"2"'
    )

    assert no_comment.status_code == 400 and "comment" in no_comment.json()
    assert requested.status_code == 200 and requested.json()["state"] == "changes_requested"
    assert by_analyst.status_code == 403
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert revised.status_code == 200, revised.json()
    body = revised.json()
    assert (body["state"], body["revision"], body["progress"], body["evidence"]) == (
        "pending",
        2,
        40,
        [evidence.pk],
    )
    assert revised["ETag"] == '"3"'
    assert [(r["number"], r["progress"]) for r in body["revisions"]] == [(1, 30), (2, 40)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"measure": 3}, "measure"),
        ({"progress": 30}, "non_field_errors"),
        ({"status": "implemented", "progress": 100}, "evidence"),
        ({"version": 5, "progress": 40}, "version"),
        ({"effective_date": "someday"}, "effective_date"),
    ],
    ids=["not-revisable", "no-change", "rule", "stale-version", "bad-date"],
)
def test_a_bad_revision_is_a_400(pending, reporter_api, body, field):
    response = reporter_api.patch(detail_url(pending), body)

    assert response.status_code == 400
    assert field in response.json()
    assert Proposal.objects.get().revision == 1


def test_only_its_proposer_withdraws_it(pending, analyst, reporter_api):
    by_analyst = as_user(analyst).post(action_url(pending, "withdraw"))
    withdrawn = reporter_api.post(action_url(pending, "withdraw"))
    again = reporter_api.post(action_url(pending, "withdraw"))

    assert by_analyst.status_code == 403
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert again.status_code == 409


def test_a_decision_is_idempotent(pending, analyst_api):
    url = action_url(pending, "reject")

    first = analyst_api.post(url, {"reason": "No"}, HTTP_IDEMPOTENCY_KEY="d-1")
    replay = analyst_api.post(url, {"reason": "No"}, HTTP_IDEMPOTENCY_KEY="d-1")
    other = analyst_api.post(url, {"reason": "Other"}, HTTP_IDEMPOTENCY_KEY="d-1")

    assert (first.status_code, replay.status_code, other.status_code) == (200, 200, 422)
    assert replay["Idempotent-Replayed"] == "true" and replay["ETag"] == first["ETag"]
    assert Proposal.objects.get().decisions.count() == 1


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda api, url: api.post(url + "approve/", {}, HTTP_IF_MATCH="soon"), 400),
        (lambda api, url: api.post(url + "approve/", [1, 2]), 400),
        (lambda api, url: api.post(url + "approve/", {"why": "x"}), 400),
        (lambda api, url: api.post(url + "approve/", "{", content_type="application/json"), 400),
        (lambda api, url: api.post(url + "reject/", {"reason": "x" * 10_001}), 400),
        (lambda api, url: api.put(url, BODY), 405),
        (lambda api, url: api.delete(url), 405),
        (lambda api, url: api.post(url, BODY), 405),
        (lambda api, url: api.get("/api/v1/proposals/abc/"), 404),
        (lambda api, url: api.get("/api/v1/proposals/987654/"), 404),
        (lambda api, url: api.post("/api/v1/proposals/987654/approve/"), 404),
        (lambda api, url: api.post(reverse("proposal-list"), BODY), 405),
    ],
)
def test_bad_requests_are_a_4xx_and_write_nothing(pending, analyst_api, send, expected):
    response = send(analyst_api, detail_url(pending))

    assert response.status_code == expected
    assert Proposal.objects.get().version == 1
    assert Measure.objects.get().version == 1


def test_an_entry_of_history_leads_back_to_the_proposal_it_came_from(
    measure, reporter, analyst, analyst_api
):
    proposal = services.approve(proposal=propose(measure, reporter), by=analyst, today=TODAY)
    first_entry = measure.status_updates.order_by("id").first()

    found = analyst_api.get(reverse("proposal-list"), {"status_update": proposal.status_update_id})
    none = analyst_api.get(reverse("proposal-list"), {"status_update": first_entry.pk})

    assert ids(found) == [proposal.pk]
    assert found.json()["results"][0]["approved_by"] == "ana"
    assert ids(none) == []


def test_a_proposal_made_then_approved_is_in_the_measures_history(measure, reporter_api, analyst):
    proposed = reporter_api.post(history_url(measure), BODY)
    approved = as_user(analyst).post(proposed["Location"] + "approve/")
    history = as_user(analyst).get(history_url(measure)).json()["results"]

    assert approved.status_code == 200
    assert [(e["status"], e["recorded_by"]) for e in history] == [
        ("in_progress", "rita"),
        ("not_assessed", None),
    ]
    assert history[0]["effective_date"] == date(2026, 3, 1).isoformat()
    assert StatusUpdate.objects.filter(status=Status.IN_PROGRESS).get().proposal.approved_by == (
        analyst
    )
