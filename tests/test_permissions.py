"""Who may do what: every API route × method × role, and the admin's doors for each role.

The API table lists, per route, the writes it serves; everything else follows the README's
rules: no credentials is a 401 whatever the method (authentication comes first), a signed-in
user with no role a 403 whatever the method (as in the admin), a method the route does not
serve is a 405 for anyone with a role, reading is a 200 for any role, and a write is a 403 for a
viewer or a reporter and a success for an analyst or a superuser. The review's writes are the
exceptions the table spells out: a reporter's status update is proposed (202), a proposal is
revised or withdrawn by its proposer only (the world's is the reporter's), and decided on by
reviewers. Spreadsheet imports are not for viewers: a viewer's read is a 403 too; a reporter
imports (its rows are proposed) and sees only its own imports, so another's is a 404 to it.
Follows and digest settings are everyone's own: any role adds and removes its follows and
changes its settings. Webhooks are managed by superusers (and holders of their permission,
tests/webhooks): any other role gets a 403 whatever it asks. A refused request writes nothing.
"""

from dataclasses import dataclass, field
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import Event
from evidence.choices import Attribution, Reliability, SourceKind
from evidence.revisions import record_revisions
from follows.services import follow
from intake.services import check_file
from recommendations.choices import Status
from recommendations.models import InnovationMechanism, Measure
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from recommendations.roles import REPORTER
from review import services
from review.choices import ProposalState
from review.models import Proposal
from tests.conftest import TODAY, api_token, app_models, empty_inlines, stored_state
from tests.factories import (
    EvidenceFactory,
    InstitutionFactory,
    MeasureFactory,
    RiskFactory,
    ScenarioFactory,
    SourceFactory,
)
from tests.intake.files import csv_bytes
from webhooks import services as webhooks
from webhooks.models import Subscription

pytestmark = pytest.mark.django_db

# Where an API write may land.
WRITTEN = app_models("recommendations", "evidence", "review", "intake", "follows", "webhooks")

API_PREFIX = "api/v1/"
ROLES = ("anonymous", "no role", "viewer", "reporter", "analyst", "superuser")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    """An API route: the record its URL names (None for a list), and the writes it serves,
    each with an analyst's success code; `roles` gives, per method (GET too), the codes of the
    roles that differ from the rule. Every route serves GET but the decisions on a proposal and
    the confirmation of an import; `not_for_viewers` routes are not read by viewers."""

    record: str | None = None
    writes: dict[str, int] = field(default_factory=dict)
    roles: dict[str, dict[str, int]] = field(default_factory=dict)
    reads: bool = True
    not_for_viewers: bool = False


# A proposal (the world's is the reporter's): its proposer revises and withdraws it, reviewers
# decide on it.
PROPOSER_ONLY = {"reporter": 200, "analyst": 403, "superuser": 403}
# An import (the world's was uploaded by a command): a reporter sees, and confirms, only its own.
NOT_THE_REPORTERS = {"reporter": 404}
# Webhooks: only superusers manage them here (none of these roles holds the permission).
NOT_MANAGERS = {"viewer": 403, "reporter": 403, "analyst": 403}


def managers_only(record: str | None = None, writes: dict | None = None, reads=True) -> Route:
    """A webhooks route: every method it serves refused to every role but a superuser."""
    writes = writes or {}
    methods = ["GET", *writes] if reads else list(writes)
    return Route(record, writes, {method: NOT_MANAGERS for method in methods}, reads=reads)


def EVERY_ROLE(code: int) -> dict[str, int]:  # noqa: N802 (reads as a constant)
    return {"viewer": code, "reporter": code}


# Every route under /api/v1/, by URL name. A route missing here fails
# test_the_table_covers_every_api_route.
ROUTES = {
    "api-root": Route(),
    "pillar-list": Route(),
    "pillar-detail": Route("pillar"),
    "measure-list": Route(),
    "measure-detail": Route("measure", {"PATCH": 200}),
    "measure-status-updates": Route("measure", {"POST": 201}, {"POST": {"reporter": 202}}),
    "status-update-list": Route(),
    "status-update-detail": Route("status_update"),
    "risk-list": Route(),
    "risk-detail": Route("risk"),
    "scenario-list": Route(),
    "scenario-detail": Route("scenario"),
    "innovation-mechanism-list": Route(),
    "innovation-mechanism-detail": Route("mechanism"),
    "institution-list": Route(),
    "institution-detail": Route("institution"),
    "report-list": Route(),
    "report-detail": Route("report"),
    "report-download": Route("report"),
    "report-preview": Route(),
    "measure-export": Route(),
    "status-update-export": Route(),
    "evidence-export": Route(),
    "evidence-list": Route(None, {"POST": 201}),
    "evidence-detail": Route("evidence", {"PUT": 200, "PATCH": 200}),
    "evidence-revisions": Route("evidence"),
    "evidence-revision": Route("revision"),
    "source-list": Route(None, {"POST": 201}),
    "source-detail": Route("source", {"PUT": 200, "PATCH": 200}),
    "change-list": Route(),
    "proposal-list": Route(),
    "proposal-detail": Route("proposal", {"PATCH": 403}, {"PATCH": PROPOSER_ONLY}),
    "proposal-approve": Route("proposal", {"POST": 200}, reads=False),
    "proposal-reject": Route("proposal", {"POST": 200}, reads=False),
    "proposal-request-changes": Route("proposal", {"POST": 200}, reads=False),
    "proposal-withdraw": Route("proposal", {"POST": 403}, {"POST": PROPOSER_ONLY}, reads=False),
    "import-list": Route(None, {"POST": 201}, {"POST": {"reporter": 201}}, not_for_viewers=True),
    "import-detail": Route("import", roles={"GET": NOT_THE_REPORTERS}, not_for_viewers=True),
    "import-confirm": Route(
        "import", {"POST": 200}, {"POST": NOT_THE_REPORTERS}, reads=False, not_for_viewers=True
    ),
    "import-template": Route(not_for_viewers=True),
    # Everyone with a role follows things and sets their digest; only their own.
    "follow-list": Route(None, {"POST": 201}, {"POST": EVERY_ROLE(201)}),
    "follow-detail": Route("follow", {"DELETE": 204}, {"DELETE": EVERY_ROLE(204)}),
    "digest-settings": Route(None, {"PATCH": 200}, {"PATCH": EVERY_ROLE(200)}),
    "webhook-list": managers_only(None, {"POST": 201}),
    "webhook-detail": managers_only("subscription", {"PATCH": 200, "DELETE": 204}),
    "webhook-deliveries": managers_only("subscription"),
    "webhook-redeliver": managers_only("delivery", {"POST": 200}, reads=False),
    "webhook-rotate-secret": managers_only("subscription", {"POST": 200}, reads=False),
}


def expected_status(route: Route, method: str, role: str) -> int:
    if role == "anonymous":
        return 401
    if role == "no role":
        return 403
    if method == "GET" and not route.reads:
        return 405
    if role in route.roles.get(method, {}):
        return route.roles[method][role]
    if method == "GET":
        return 403 if role == "viewer" and route.not_for_viewers else 200
    if method not in route.writes:
        return 405
    return 403 if role in ("viewer", "reporter") else route.writes[method]


MATRIX = [
    pytest.param(name, method, role, code, id=f"{role}-{method}-{name}-{code}")
    for name, route in ROUTES.items()
    for method in METHODS
    for role in ROLES
    for code in [expected_status(route, method, role)]
]


def api_route_names() -> set[str]:
    """Names of every route the URL resolver serves under /api/v1/."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            path = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, path)
            elif isinstance(pattern, URLPattern) and path.startswith(API_PREFIX):
                yield pattern.name

    return set(walk(get_resolver().url_patterns, ""))


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The service reads today's date when the caller gives none; the API gives none.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Each row signs in a new user; hashing a password the slow, safe way would take most
    # of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    # Throttling counts requests per client in the cache; ids and addresses repeat across tests.
    cache.clear()


@dataclass
class World:
    """One record of every kind an API route can name."""

    records: dict

    def url(self, name: str, role: str | None = None) -> str:
        record = ROUTES[name].record
        if record == "follow":  # one's own: each role's user follows something
            follows = self.records["follows"]
            return reverse(name, args=[follows.get(role, follows["superuser"]).pk])
        if record == "revision":  # named by its evidence and version
            revision = self.records[record]
            return reverse(name, args=[revision.evidence_id, revision.version])
        if record == "delivery":  # named by its subscription and id
            delivery = self.records[record]
            return reverse(name, args=[delivery.subscription_id, delivery.pk])
        return reverse(name, args=[self.records[record].pk] if record else [])


@pytest.fixture
def world(reporter, viewer, analyst, admin_user) -> World:
    measure = MeasureFactory()
    follows = {
        role: follow(user=user, pillar=measure.pillar)
        for role, user in [
            ("viewer", viewer),
            ("reporter", reporter),
            ("analyst", analyst),
            ("superuser", admin_user),
        ]
    }
    source = SourceFactory()
    snapshot, _created = save_report(
        report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31))
    )
    evidence = EvidenceFactory(source=source)
    (revision,) = record_revisions([evidence.pk])
    spreadsheet = csv_bytes([[measure.code, "planned", "10", "2026-01-01", "high", "", ""]])
    imported = check_file(data=spreadsheet, filename="f.csv", by=None, channel="api", today=TODAY)
    subscription = webhooks.create_subscription(owner=admin_user, url="http://127.0.0.1:9/in")
    webhooks.fan_out([Event.objects.order_by("id").first()])
    return World(
        {
            "pillar": measure.pillar,
            "measure": measure,
            "status_update": measure.status_updates.get(),
            "risk": RiskFactory(),
            "scenario": ScenarioFactory(),
            "mechanism": InnovationMechanism.objects.create(
                key="mechanism", title_zh="机制", title_en="Mechanism"
            ),
            "institution": InstitutionFactory(),
            "source": source,
            "evidence": evidence,
            "revision": revision,
            "report": snapshot,
            "proposal": services.propose(
                measure=measure,
                status=Status.IN_PROGRESS,
                progress=30,
                effective_date=date(2026, 1, 1),
                by=reporter,
                today=TODAY,
            ),
            "import": imported,
            "follows": follows,
            "subscription": subscription,
            "delivery": subscription.deliveries.get(),
        }
    )


def valid_body(name: str, method: str, world: World) -> dict:
    """A body the route accepts from an analyst; an empty one where the method is not served."""
    evidence = {
        "source": world.records["source"].pk,
        "attribution": Attribution.CITED,
        "claim_zh": "新的证据",
        "claim_en": "New evidence",
    }
    source = {
        "kind": SourceKind.ACADEMIC_STUDY,
        "title": "A new study",
        "reliability": Reliability.HIGH,
    }
    bodies = {
        ("measure-detail", "PATCH"): {"priority": "high"},
        ("measure-status-updates", "POST"): {
            "status": "planned",
            "progress": 10,
            "effective_date": "2026-01-01",
        },
        ("evidence-list", "POST"): evidence,
        ("evidence-detail", "PUT"): evidence,
        ("evidence-detail", "PATCH"): {"claim_en": "Reworded"},
        ("source-list", "POST"): source,
        ("source-detail", "PUT"): {**source, "reliability": Reliability.MEDIUM},
        ("source-detail", "PATCH"): {"title": "Retitled"},
        ("proposal-detail", "PATCH"): {"progress": 40},
        ("proposal-reject", "POST"): {"reason": "No source"},
        ("proposal-request-changes", "POST"): {"comment": "Cite the rules"},
        ("follow-list", "POST"): {"measure": world.records["measure"].code},
        ("digest-settings", "PATCH"): {"frequency": "daily"},
        ("webhook-list", "POST"): {"url": "http://127.0.0.1:9/new"},
        ("webhook-detail", "PATCH"): {"description": "Renamed"},
        ("import-list", "POST"): {
            "file": SimpleUploadedFile(
                "f.csv", csv_bytes([["T.0", "planned", "10", "2026-01-01", "high", "", ""]])
            )
        },
    }
    return bodies.get((name, method), {})


# The fixture that makes each signed-in role's user.
USER_FIXTURES = {
    "no role": "no_role_user",
    "viewer": "viewer",
    "reporter": "reporter",
    "analyst": "analyst",
    "superuser": "admin_user",
}


@pytest.fixture
def api_as(request):
    """An APIClient signed in as a role: the analyst and the user with no role with a real
    token, through the real authenticator; the others forced."""

    def sign_in(role: str) -> APIClient:
        api = APIClient()
        if role in ("analyst", "no role"):
            token = api_token(request.getfixturevalue(USER_FIXTURES[role]))
            api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        elif role != "anonymous":
            api.force_authenticate(request.getfixturevalue(USER_FIXTURES[role]))
        return api

    return sign_in


def send(api: APIClient, method: str, url: str, body: dict):
    if method == "GET":
        return api.get(url)
    uploads = any(isinstance(value, SimpleUploadedFile) for value in body.values())
    return getattr(api, method.lower())(url, body, format="multipart" if uploads else "json")


def test_the_table_covers_every_api_route():
    assert set(ROUTES) == api_route_names()


@pytest.mark.parametrize(("name", "method", "role", "expected"), MATRIX)
def test_each_role_gets_the_expected_status_from_each_route_and_method(
    api_as, world, name, method, role, expected
):
    api = api_as(role)
    body = valid_body(name, method, world)
    before = stored_state(WRITTEN)

    response = send(api, method, world.url(name, role), body)

    assert response.status_code == expected, response.content[:500]
    wrote = stored_state(WRITTEN) != before
    assert wrote == (method != "GET" and expected in (200, 201, 202, 204))


# The audit trail names who did what, proposals are claims nobody has accepted yet, imports
# name who uploaded what, and follows and digest settings are a user's own: they stay closed
# to anonymous clients.
SIGNED_IN_ONLY = {
    "change-list",
    "follow-list",
    "follow-detail",
    "digest-settings",
    "import-list",
    "import-detail",
    "import-confirm",
    "import-template",
    "proposal-list",
    "proposal-detail",
    "proposal-approve",
    "proposal-reject",
    "proposal-request-changes",
    "proposal-withdraw",
    "webhook-list",
    "webhook-detail",
    "webhook-deliveries",
    "webhook-redeliver",
    "webhook-rotate-secret",
}


@pytest.mark.parametrize("name", ROUTES)
def test_anonymous_reading_is_allowed_everywhere_when_the_setting_opens_it(world, settings, name):
    settings.API_ANONYMOUS_READ = True

    response = APIClient().get(world.url(name))

    assert response.status_code == (401 if name in SIGNED_IN_ONLY else 200), response.content[:500]


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("name", ROUTES)
def test_anonymous_writing_stays_401_everywhere_when_reading_is_opened(
    world, settings, name, method
):
    settings.API_ANONYMOUS_READ = True
    before = stored_state(WRITTEN)

    response = send(APIClient(), method, world.url(name), valid_body(name, method, world))

    assert response.status_code == 401
    assert stored_state(WRITTEN) == before


# The admin


def measure_change_form(measure: Measure) -> dict:
    """A valid POST of the measure's change page: a new English title, inlines left empty."""
    return {
        "title_zh": measure.title_zh,
        "title_en": "Retitled in the admin",
        "description_zh": "",
        "description_en": "",
        "scenarios": [],
        "priority": "",
        "target_date": "",
        "review_every_days": measure.review_every_days,
        "expected_version": measure.version,
        **empty_inlines("institution_links", "risk_links", "status_updates"),
    }


def open_the_measure_changelist(browser: Client, measure: Measure):
    return browser.get(reverse("admin:recommendations_measure_changelist"))


def open_the_status_update_add_page(browser: Client, measure: Measure):
    return browser.get(reverse("admin:recommendations_statusupdate_add"))


def post_a_measure_change(browser: Client, measure: Measure):
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    return browser.post(url, measure_change_form(measure))


def open_the_import_changelist(browser: Client, measure: Measure):
    return browser.get(reverse("admin:intake_import_changelist"))


def open_the_import_upload_page(browser: Client, measure: Measure):
    return browser.get(reverse("admin:intake_import_add"))


def open_the_home_page(browser: Client, measure: Measure):
    return browser.get(reverse("admin:index"))


def open_the_proposal_list(browser: Client, measure: Measure):
    return browser.get(reverse("admin:review_proposal_changelist"))


def open_the_proposal_add_page(browser: Client, measure: Measure):
    return browser.get(reverse("admin:review_proposal_add"), {"measure": measure.pk})


def post_a_request_for_changes(browser: Client, measure: Measure):
    """From a review panel: send another reporter's proposal back (which leaves the measure
    as it is)."""
    rex = User.objects.create_user("rex", is_staff=True)
    rex.groups.add(Group.objects.get(name=REPORTER))
    proposal = services.propose(
        measure=measure,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 1, 1),
        by=rex,
        today=TODAY,
    )
    return browser.post(
        reverse("admin:review_proposal_decide", args=[proposal.pk]),
        {"action": "request_changes", "text": "Which plan?", "expected_version": 1},
    )


def rotate_a_webhook_secret(browser: Client, measure: Measure, post: bool):
    """Confirm (GET) or give (POST) a new secret to another user's subscription: a superuser
    manages every one."""
    owner = User.objects.create_user("hook-owner")
    subscription = webhooks.create_subscription(owner=owner, url="http://127.0.0.1:9/in")
    url = reverse("admin:webhooks_subscription_rotate_secret", args=[subscription.pk])
    return browser.post(url, {"version": 1}) if post else browser.get(url)


def open_the_new_webhook_secret_page(browser: Client, measure: Measure):
    return rotate_a_webhook_secret(browser, measure, post=False)


def post_a_new_webhook_secret(browser: Client, measure: Measure):
    return rotate_a_webhook_secret(browser, measure, post=True)


ADMIN_DOORS = {
    # door: status for (anonymous, no role, viewer, reporter, analyst, superuser)
    open_the_measure_changelist: (302, 403, 200, 200, 200, 200),
    # A reporter is sent to the proposal form.
    open_the_status_update_add_page: (302, 403, 403, 302, 200, 200),
    post_a_measure_change: (302, 403, 403, 403, 302, 302),
    # A reporter imports (its rows are proposed) and lists its own imports.
    open_the_import_changelist: (302, 403, 403, 200, 200, 200),
    open_the_import_upload_page: (302, 403, 403, 200, 200, 200),
    open_the_home_page: (302, 200, 200, 200, 200, 200),
    # A reporter lists their own proposals.
    open_the_proposal_list: (302, 403, 200, 200, 200, 200),
    open_the_proposal_add_page: (302, 403, 403, 200, 403, 403),
    # A reporter does not see another's proposal.
    post_a_request_for_changes: (302, 403, 403, 404, 302, 302),
    # Webhooks: managed by superusers (and holders of the permission, tests/webhooks).
    open_the_new_webhook_secret_page: (302, 403, 403, 403, 403, 200),
    post_a_new_webhook_secret: (302, 403, 403, 403, 403, 200),
}


@pytest.fixture
def admin_as(request):
    """A browser signed in to the admin as a role (viewer and analyst are staff)."""

    def sign_in(role: str) -> Client:
        browser = Client()
        if role != "anonymous":
            browser.force_login(request.getfixturevalue(USER_FIXTURES[role]))
        return browser

    return sign_in


@pytest.mark.parametrize(
    ("door", "role", "expected"),
    [
        pytest.param(door, role, code, id=f"{role}-{door.__name__}-{code}")
        for door, codes in ADMIN_DOORS.items()
        for role, code in zip(ROLES, codes, strict=True)
    ],
)
def test_each_role_gets_the_expected_status_from_the_admin(admin_as, door, role, expected):
    measure = MeasureFactory(title_en="Original")
    browser = admin_as(role)

    response = door(browser, measure)

    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith(reverse("admin:login"))
    measure.refresh_from_db()
    changed = (measure.title_en, measure.version) != ("Original", 1)
    assert changed == (door is post_a_measure_change and role in ("analyst", "superuser"))
    sent_back = Proposal.objects.filter(state=ProposalState.CHANGES_REQUESTED).exists()
    assert sent_back == (door is post_a_request_for_changes and role in ("analyst", "superuser"))
    rotated = Subscription.objects.exclude(previous_secret="").exists()
    assert rotated == (door is post_a_new_webhook_secret and role == "superuser")
