"""Bad input, generated and by hand: the API answers anything with a success or a documented
4xx, never a 5xx; its answers match its own OpenAPI schema; a viewer writes nothing but its own
follows and digest settings; refused input writes nothing.

The fuzzing runs schemathesis on every operation of the schema the app serves
(GET /api/schema/), in-process through the WSGI app, on the paper's seed, with a fixed seed.
Each generated request runs in a savepoint that is rolled back, so every example starts from
the same rows and a failure replays exactly.

The defects the fuzzing found are pinned by the tests further down (values the API returns
that the schema must accept, ids that are not numbers, dates at the ends of the calendar,
null characters, deep nesting).
"""

import copy
import json
import logging
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from io import StringIO

import hypothesis
import jsonschema
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from evidence.choices import Attribution, Reliability, SourceKind
from evidence.models import Evidence, Source
from recommendations import services
from recommendations.choices import Status
from recommendations.models import Measure, ReportSnapshot
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from tests.conftest import TODAY, api_token, stored_state
from tests.factories import EvidenceFactory, MeasureFactory, SourceFactory

pytestmark = pytest.mark.django_db

SEED = 20250415
# Per operation and generation mode: requests that fit the schema, and requests that break it.
EXAMPLES = 25
# A viewer's writes: refused by the permission check before their input is read, so fewer
# bodies explore as much (the analyst's run sends every operation EXAMPLES of them).
VIEWER_EXAMPLES = 8
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # Every operation of the schema is fuzzed, including ones where most generated input is
    # refused early; that is the point, not a slow or filtered strategy.
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.filter_too_much,
        hypothesis.HealthCheck.data_too_large,
    ],
)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The service reads today's date when the caller gives none; the API gives none.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    # Throttling counts requests per client in the cache; ids and addresses repeat across tests.
    cache.clear()


# Values the API returns that the served schema must accept (each once refused by it).


@dataclass(frozen=True)
class Returned:
    """A value the API returns at `pointer` (a JSON pointer into the served schema)."""

    pointer: str
    returned: object
    reason: str


def unescape(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~")


def component(name: str, field: str) -> str:
    return f"/components/schemas/{name}/properties/{field}"


def json_response(path: str) -> str:
    escaped = path.replace("/", "~1")
    return f"/paths/{escaped}/get/responses/200/content/application~1json/schema"


# A status report of a period with no measures, as render_json writes it.
NO_MEASURES = {"measures": 0, "by_status": dict.fromkeys(Status.values, 0), "mean_progress": None}
EMPTY_REPORT = {
    "schema_version": 1,
    "report": "status",
    "period": {"since": "2026-06-30", "until": "2026-09-30"},
    "history_recorded_through": None,
    "overview": {"since": NO_MEASURES, "until": NO_MEASURES, "change": NO_MEASURES},
    **dict.fromkeys(["pillars", "changes", "newly_implemented", "regressions", "stalled"], []),
    **dict.fromkeys(["reassessment_due", "overdue", "risks", "progress_over_time"], []),
    "evidence_added": {"total": 0, "by_source_kind": {}, "items": []},
    "measures": [],
}

RETURNED_VALUES = {
    "measure-progress-null": Returned(
        component("Measure", "progress"),
        None,
        "A measure not yet assessed (every measure of the seed) has progress null; the schema "
        "says integer, not nullable.",
    ),
    "measure-as-of-null": Returned(
        component("Measure", "as_of"),
        None,
        "Every measure read without ?as_of= has as_of null; the schema says a date, not nullable.",
    ),
    "measure-priority-blank": Returned(
        component("Measure", "priority"),
        "",
        'A measure with no priority (every measure of the seed) has priority ""; the schema '
        "allows only high, medium, low.",
    ),
    "status-update-confidence-blank": Returned(
        component("StatusUpdate", "confidence"),
        "",
        'A "not assessed" entry (every measure\'s first) has confidence ""; the schema allows '
        "only high, medium, low.",
    ),
    "status-update-recorded-by-null": Returned(
        component("StatusUpdate", "recorded_by"),
        None,
        "An entry recorded by no user (the seed's, a command's) has recorded_by null; the "
        "schema says a string, not nullable.",
    ),
    "report-generated-by-null": Returned(
        component("ReportSnapshot", "generated_by"),
        None,
        "A report published by no user (`status_report --save` from cron) has generated_by "
        "null; the schema says a string, not nullable.",
    ),
    "evidence-date-precision-blank": Returned(
        component("Evidence", "date_precision"),
        "",
        'Undated evidence has date_precision ""; the schema allows only day, month, year.',
    ),
    "feed-page-is-a-cursor-page": Returned(
        json_response("/api/v1/status-updates/"),
        {"next": None, "previous": None, "results": [], "resume": None},
        "The feed is cursor-paginated (next, previous, results, resume), but its response "
        "names PaginatedStatusUpdateList, which the page-numbered history of "
        "measures/{id}/status-updates/ also names: the schema requires count and has no resume.",
    ),
    "report-preview-is-a-json-object": Returned(
        json_response("/api/v1/reports/preview/"),
        EMPTY_REPORT,
        "reports/preview/ answers a JSON object (file=json, the default) under "
        "application/json; the schema says a binary string.",
    ),
    "report-download-is-a-json-object": Returned(
        json_response("/api/v1/reports/{id}/download/"),
        EMPTY_REPORT,
        "reports/{id}/download/ answers a JSON object (file=json, the default) under "
        "application/json; the schema says a binary string.",
    ),
}

# Fuzzing


@pytest.fixture
def wsgi_app(settings):
    """The WSGI app, answering in the test's transaction."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis's Host
    # A bare WSGI request closes the connection when it ends, which would end the test's
    # transaction; Django's test client disconnects the same receivers.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded_database(analyst):
    """The paper's seed, with one assessed measure and one published report."""
    call_command("load_seed", stdout=StringIO())
    services.record_status_update(
        measure=Measure.objects.get(code="3.2"),
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date=date(2026, 3, 1),
        note="Pilots in two banks",
        by=analyst,
        today=TODAY,
    )
    save_report(report=build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31)))


@pytest.fixture
def quiet_client_errors(caplog):
    # Each refused request logs a warning; thousands of them would bury a failure's report.
    # Server errors are logged as errors, with their traceback, and still show.
    caplog.set_level(logging.ERROR, logger="django.request")


@pytest.fixture
def api_schema(wsgi_app, seeded_database, quiet_client_errors, settings):
    """The schema the app serves, less the known drift, calling the app in-process. Fetched
    anonymously, as the setting that opens it allows (who may read it: tests/test_openapi.py)."""
    settings.API_SCHEMA_PUBLIC = True
    served = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    raw = copy.deepcopy(served.raw_schema)
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_dict(raw, config=config)
    schema.app = wsgi_app
    return schema


def served_operations(schema, methods=("get", "post", "put", "patch", "delete")) -> set[str]:
    """Every operation of the schema as served (of `methods`), labelled like `GET
    /api/v1/measures/`."""
    return {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in methods
    }


def fuzz(schema, exercise, *, examples=EXAMPLES, writes_only=False) -> tuple[dict, list[str]]:
    """Run `exercise(case)` on `examples` generated cases of every operation (its writes
    only, if `writes_only`), valid and invalid.

    Returns how many requests each operation got, and a description of every failure (the
    check or assertion that failed, the request as curl, the response).
    """
    requests: dict[str, int] = {}
    findings = []

    def counted(label: str):
        def run(case):
            requests[label] += 1
            exercise(case)

        return run

    settings = hypothesis.settings(FUZZ_SETTINGS, max_examples=examples)
    for result in schema.get_all_operations():
        operation = result.ok()
        if writes_only and operation.method.upper() not in WRITES:
            continue
        requests[operation.label] = 0
        for mode in GenerationMode:
            if mode == GenerationMode.NEGATIVE and not breakable(operation):
                continue  # a list that takes no parameter: no request can break its schema
            strategy = operation.as_strategy(generation_mode=mode)
            test = hypothesis.given(case=strategy)(counted(operation.label))
            try:
                hypothesis.seed(SEED)(settings(test))()
            except (Exception, FailureGroup) as failure:  # FailureGroup is no Exception
                findings.append(f"{operation.label} with {mode} input:\n{describe(failure)}")
    return requests, findings


def breakable(operation) -> bool:
    """Whether a request can break the operation's schema: it has a parameter or a body."""
    return bool(len(operation.query) or len(operation.path_parameters) or len(operation.body))


def describe(failure: BaseException) -> str:
    if isinstance(failure, FailureGroup):
        return failure.message
    if isinstance(failure, BaseExceptionGroup):
        return "\n".join(describe(each) for each in failure.exceptions)
    return f"{type(failure).__name__}: {failure}"


def call_and_roll_back(case, token: str, *, check_writes: bool = False):
    """Send `case` as the token's user; return the response and whether the database changed.

    The request runs in a savepoint that is rolled back, also after a database error.
    """
    cache.clear()  # a run sends more requests than one user's allowance a minute
    with transaction.atomic():
        before = stored_state() if check_writes else None
        response = case.call(headers={"Authorization": f"Token {token}"})
        # After a 5xx the transaction may be unusable (PostgreSQL); the check reports the 5xx.
        changed = check_writes and response.status_code < 500 and stored_state() != before
        transaction.set_rollback(True)
    return response, changed


def test_the_api_answers_an_analyst_without_5xx_and_as_its_schema_says(api_schema, analyst):
    token = api_token(analyst)

    def exercise(case):
        response, _changed = call_and_roll_back(case, token)
        case.validate_response(response, checks=CHECKS)

    requests, findings = fuzz(api_schema, exercise)

    assert not findings, "\n\n".join(findings)
    assert set(requests) == served_operations(api_schema)
    assert all(requests.values()), requests


# A user's own follows and digest settings: any role writes them (never the tracker's data).
OWN_OPERATIONS = {"/api/v1/follows/", "/api/v1/follows/{id}/", "/api/v1/digest-settings/"}


def test_a_viewer_writes_nothing_whatever_it_sends(api_schema, viewer):
    token = api_token(viewer)

    def exercise(case):
        # Writes only: the analyst's run sends every GET, and test_permissions checks that no
        # GET of any route writes anything (a snapshot before and after each is slow).
        response, changed = call_and_roll_back(case, token, check_writes=True)
        case.validate_response(response, checks=CHECKS)
        own = case.operation.path in OWN_OPERATIONS
        accepted = 200 <= response.status_code < 300 and not own
        assert not accepted, f"A viewer's write was accepted: {case.as_curl_command()}"
        assert not changed, f"A viewer's request changed the database: {case.as_curl_command()}"

    requests, findings = fuzz(api_schema, exercise, examples=VIEWER_EXAMPLES, writes_only=True)

    assert not findings, "\n\n".join(findings)
    assert set(requests) == served_operations(api_schema, ("post", "put", "patch", "delete"))
    assert all(requests.values()), requests


# The defects found, pinned


@pytest.mark.parametrize("value", RETURNED_VALUES.values(), ids=RETURNED_VALUES.keys())
def test_the_served_schema_accepts_what_the_api_returns(viewer_client, value):
    served = viewer_client.get(reverse("schema"), {"format": "json"}).json()

    assert accepts(served, value.pointer, value.returned), value.reason


def accepts(schema: dict, pointer: str, value) -> bool:
    """Whether the OpenAPI 3.0 schema at `pointer` accepts `value`."""
    document = {"$ref": f"#{pointer}", **as_json_schema(schema)}
    return jsonschema.Draft4Validator(document).is_valid(value)


def as_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema's null type, everywhere in `node`."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


# Hand-written bad input, through the real client as an analyst


@pytest.fixture
def analyst_api(analyst):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(analyst)}")
    return api


@dataclass
class Records:
    """One measure, source and piece of evidence, and a published report made when asked for."""

    measure: Measure
    source: Source
    evidence: Evidence

    @cached_property
    def report(self) -> ReportSnapshot:
        period = build_status_report(since=date(2025, 12, 31), until=date(2026, 3, 31))
        return save_report(report=period)[0]


@pytest.fixture
def records() -> Records:
    source = SourceFactory()
    return Records(MeasureFactory(), source, EvidenceFactory(source=source))


def send(api: APIClient, method: str, url: str, body=None, **headers):
    """A request with `body` as query parameters (GET) or as JSON (a str or bytes as it is)."""
    if method == "GET":
        return api.get(url, body, headers=headers)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return api.generic(method, url, data, content_type="application/json", headers=headers)


@dataclass(frozen=True)
class Write:
    """A write the API serves: its route, and a valid body for it."""

    method: str
    route: str

    def url(self, records: Records) -> str:
        target = {
            "measure-detail": records.measure,
            "measure-status-updates": records.measure,
            "evidence-detail": records.evidence,
            "source-detail": records.source,
        }.get(self.route)
        return reverse(self.route, args=[target.pk] if target else [])

    def body(self, records: Records) -> dict:
        evidence = {
            "source": records.source.pk,
            "attribution": Attribution.CITED,
            "claim_zh": "新的证据",
            "claim_en": "New evidence",
        }
        source = {"kind": SourceKind.NEWS, "title": "A new report", "reliability": Reliability.LOW}
        return {
            "measure-detail": {"priority": "high"},
            "measure-status-updates": {
                "status": "planned",
                "progress": 10,
                "effective_date": "2026-01-01",
            },
            "evidence-list": evidence,
            "evidence-detail": evidence,
            "source-list": source,
            "source-detail": source,
        }[self.route]

    # A free-text field of the body.
    @property
    def long_field(self) -> str:
        return {
            "measure-detail": "description_en",
            "measure-status-updates": "note",
            "evidence-list": "claim_en",
            "evidence-detail": "claim_en",
            "source-list": "citation",
            "source-detail": "citation",
        }[self.route]


WRITE_ROUTES = [
    Write("PATCH", "measure-detail"),
    Write("POST", "measure-status-updates"),
    Write("POST", "evidence-list"),
    Write("PUT", "evidence-detail"),
    Write("PATCH", "evidence-detail"),
    Write("POST", "source-list"),
    Write("PUT", "source-detail"),
    Write("PATCH", "source-detail"),
]
WRITE_IDS = [f"{write.method}-{write.route}" for write in WRITE_ROUTES]


@pytest.mark.parametrize("write", WRITE_ROUTES, ids=WRITE_IDS)
def test_each_write_accepts_the_valid_body_the_bad_ones_start_from(analyst_api, records, write):
    # So each bad body below is refused for what was broken in it, and stored_state() sees
    # every kind of write.
    body = {**write.body(records), write.long_field: "café"}
    before = stored_state()

    response = send(analyst_api, write.method, write.url(records), body)

    assert response.status_code in (200, 201), response.content[:300]
    assert stored_state() != before


@dataclass(frozen=True)
class DatePlace:
    """Where a date goes: a query parameter of a GET, or a field of a write's body."""

    name: str
    route: str
    write: Write | None = None
    others: tuple = ()  # the other query parameters it needs

    def send(self, api: APIClient, records: Records, value: str):
        if self.write is None:
            params = {**dict(self.others), self.name: value}
            return send(api, "GET", reverse(self.route), params)
        body = {**self.write.body(records), self.name: value}
        return send(api, self.write.method, self.write.url(records), body)


DATE_PLACES = [
    DatePlace("as_of", "measure-list"),
    DatePlace("target_date_after", "measure-list"),
    DatePlace("target_date_before", "measure-list"),
    DatePlace("updated_since", "measure-list"),
    DatePlace("effective_after", "status-update-list"),
    DatePlace("effective_before", "status-update-list"),
    DatePlace("recorded_after", "status-update-list"),
    DatePlace("recorded_before", "status-update-list"),
    DatePlace("date_after", "evidence-list"),
    DatePlace("date_before", "evidence-list"),
    DatePlace("since", "report-list"),
    DatePlace("until", "report-list"),
    DatePlace("since", "report-preview", others=(("until", "2026-09-30"),)),
    DatePlace("until", "report-preview", others=(("since", "2026-06-30"),)),
    DatePlace("effective_date", "measure-status-updates", Write("POST", "measure-status-updates")),
    DatePlace("target_date", "measure-detail", Write("PATCH", "measure-detail")),
    DatePlace("date", "evidence-list", Write("POST", "evidence-list")),
    DatePlace("published_on", "source-list", Write("POST", "source-list")),
]


@pytest.mark.parametrize("value", ["2026-02-30", "0000-01-01", "99999-01-01"])
@pytest.mark.parametrize("place", DATE_PLACES, ids=lambda place: f"{place.route}-{place.name}")
def test_an_impossible_date_is_a_400_naming_it_and_writes_nothing(
    analyst_api, records, place, value
):
    before = stored_state()

    response = place.send(analyst_api, records, value)

    assert response.status_code == 400, response.content[:300]
    assert place.name in response.json()
    assert stored_state() == before


# The query parameters that name a moment (a date and time), not a day.
MOMENT_FILTERS = [
    ("measure-list", "updated_since"),
    ("status-update-list", "recorded_after"),
    ("status-update-list", "recorded_before"),
    ("change-list", "since"),
]
MOMENT_IDS = [name for _route, name in MOMENT_FILTERS]


@pytest.mark.parametrize(
    ("route", "params", "expected"),
    [
        pytest.param("measure-list", {"as_of": "0001-01-01"}, 200, id="as_of-first-day"),
        pytest.param("measure-list", {"as_of": "9999-12-31"}, 200, id="as_of-last-day"),
        pytest.param(
            "status-update-list", {"effective_after": "0001-01-01"}, 200, id="effective_after-first"
        ),
        pytest.param(
            "evidence-list", {"date_before": "9999-12-31"}, 200, id="date_before-last-day"
        ),
        # A moment is refused outside the years 1000 to 9998, which every time zone can hold.
        *[
            pytest.param(route, {name: moment}, 400, id=f"{name}-{end}")
            for route, name in MOMENT_FILTERS
            for end, moment in [
                ("first-moment-local", "0001-01-01T00:00:00"),
                ("last-moment-west", "9999-12-31T23:59:59-14:00"),
            ]
        ],
        pytest.param(
            "report-preview",
            {"since": "0001-01-01", "until": "0001-01-02"},
            200,
            id="preview-first-days",
        ),
        pytest.param(
            "report-preview",
            {"since": "2026-01-01", "until": "9999-12-31"},
            400,
            id="preview-until-the-last-day",
        ),
    ],
)
def test_the_first_and_last_days_a_date_can_name_are_an_answer_or_a_400_naming_them(
    analyst_api, records, route, params, expected
):
    response = analyst_api.get(reverse(route), params)

    assert response.status_code == expected, response.content[:300]
    if expected == 400:  # each error names a parameter given
        assert response.json() and set(response.json()) <= set(params), response.json()


@pytest.mark.parametrize("offset", ["+16:00", "-23:59"])
@pytest.mark.parametrize(("route", "name"), MOMENT_FILTERS, ids=MOMENT_IDS)
def test_a_moment_16_hours_or_more_from_utc_is_a_400_naming_it(analyst_api, route, name, offset):
    response = analyst_api.get(reverse(route), {name: f"2026-01-01T00:00:00{offset}"})

    assert response.status_code == 400, response.content[:300]
    assert name in response.json()


def test_a_huge_page_size_gives_a_capped_page(analyst_api, settings):
    settings.API_MAX_PAGE_SIZE = 2
    MeasureFactory.create_batch(3)

    response = analyst_api.get(reverse("measure-list"), {"page_size": 10**12})

    assert response.status_code == 200, response.content[:300]
    assert len(response.json()["results"]) == 2


PAGED_ROUTES = [
    "measure-list",
    "measure-status-updates",
    "evidence-list",
    "source-list",
    "institution-list",
    "report-list",
]


@pytest.mark.parametrize("page", ["-1", "abc", "0"])
@pytest.mark.parametrize("route", PAGED_ROUTES)
def test_a_page_that_is_not_a_positive_whole_number_is_a_4xx(analyst_api, records, route, page):
    args = [records.measure.pk] if route == "measure-status-updates" else []

    response = analyst_api.get(reverse(route, args=args), {"page": page})

    assert 400 <= response.status_code < 500


def test_a_cursor_that_names_no_position_is_a_4xx(analyst_api):
    response = analyst_api.get(reverse("status-update-list"), {"cursor": "abc"})

    assert 400 <= response.status_code < 500


# Every list, and the detail and extra routes of the records in Records: route -> record.
GET_ROUTES = {
    "pillar-list": None,
    "change-list": None,
    "measure-list": None,
    "measure-detail": "measure",
    "measure-status-updates": "measure",
    "status-update-list": None,
    "risk-list": None,
    "scenario-list": None,
    "innovation-mechanism-list": None,
    "institution-list": None,
    "report-list": None,
    "report-detail": "report",
    "report-download": "report",
    "report-preview": None,
    "evidence-list": None,
    "evidence-detail": "evidence",
    "source-list": None,
    "source-detail": "source",
}


@pytest.mark.parametrize(("route", "record"), GET_ROUTES.items(), ids=list(GET_ROUTES))
def test_an_unknown_filter_is_a_400_naming_it(analyst_api, records, route, record):
    args = [getattr(records, record).pk] if record else []

    response = analyst_api.get(reverse(route, args=args), {"colour": "blue"})

    assert response.status_code == 400
    assert "colour" in response.json()


@pytest.mark.parametrize("write", WRITE_ROUTES, ids=WRITE_IDS)
def test_an_oversized_body_is_a_4xx_and_writes_nothing(analyst_api, records, write):
    too_long = "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = {**write.body(records), write.long_field: too_long}
    before = stored_state()

    response = send(analyst_api, write.method, write.url(records), body)

    assert 400 <= response.status_code < 500
    assert stored_state() == before


@pytest.mark.parametrize("write", WRITE_ROUTES, ids=WRITE_IDS)
def test_a_body_that_is_not_utf_8_is_a_400_and_writes_nothing(analyst_api, records, write):
    valid = json.dumps({**write.body(records), write.long_field: "café"})  # ASCII, escaped
    body = valid.replace("\\u00e9", "\xe9").encode("latin-1")  # é as one byte, not UTF-8
    before = stored_state()

    response = send(analyst_api, write.method, write.url(records), body)

    assert response.status_code == 400
    assert stored_state() == before


@pytest.mark.parametrize("body", ["[1, 2]", "42", "null"], ids=["list", "number", "null"])
@pytest.mark.parametrize("write", WRITE_ROUTES, ids=WRITE_IDS)
def test_a_json_body_that_is_not_an_object_is_a_400_and_writes_nothing(
    analyst_api, records, write, body
):
    before = stored_state()

    response = send(analyst_api, write.method, write.url(records), body)

    assert response.status_code == 400
    assert stored_state() == before


@pytest.mark.parametrize("write", WRITE_ROUTES, ids=WRITE_IDS)
def test_deeply_nested_json_is_a_4xx_and_writes_nothing(analyst_api, records, write):
    body = '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    before = stored_state()

    response = send(analyst_api, write.method, write.url(records), body)

    assert 400 <= response.status_code < 500
    assert stored_state() == before


@pytest.mark.parametrize("if_match", ["garbage", "W/", '"-1"', '"v1"', '"' + "9" * 13 + '"'])
@pytest.mark.parametrize("write", WRITE_ROUTES[:2], ids=WRITE_IDS[:2])
def test_an_if_match_that_names_no_version_is_a_400_and_writes_nothing(
    analyst_api, records, write, if_match
):
    before = stored_state()

    response = send(
        analyst_api, write.method, write.url(records), write.body(records), **{"If-Match": if_match}
    )

    assert response.status_code == 400
    assert stored_state() == before


POSTS = [write for write in WRITE_ROUTES if write.method == "POST"]


@pytest.mark.parametrize("write", POSTS, ids=[write.route for write in POSTS])
def test_an_idempotency_key_of_300_characters_is_a_400_and_writes_nothing(
    analyst_api, records, write
):
    before = stored_state()

    response = send(
        analyst_api,
        write.method,
        write.url(records),
        write.body(records),
        **{"Idempotency-Key": "k" * 300},
    )

    assert response.status_code == 400
    assert stored_state() == before


# Every operation that names a record by id, and the ones where a non-numeric id is a 500.
ID_OPERATIONS = [
    ("GET", "pillar-detail"),
    ("GET", "measure-detail"),
    ("PATCH", "measure-detail"),
    ("GET", "measure-status-updates"),
    ("POST", "measure-status-updates"),
    ("GET", "status-update-detail"),
    ("GET", "risk-detail"),
    ("GET", "scenario-detail"),
    ("GET", "innovation-mechanism-detail"),
    ("GET", "institution-detail"),
    ("GET", "report-detail"),
    ("GET", "report-download"),
    ("GET", "evidence-detail"),
    ("PUT", "evidence-detail"),
    ("PATCH", "evidence-detail"),
    ("GET", "source-detail"),
    ("PUT", "source-detail"),
    ("PATCH", "source-detail"),
    ("GET", "follow-detail"),
    ("DELETE", "follow-detail"),
]


@pytest.mark.parametrize(
    ("method", "route"), ID_OPERATIONS, ids=[f"{m}-{r}" for m, r in ID_OPERATIONS]
)
@pytest.mark.parametrize("record_id", ["abc", "null", "1e3", "9" * 19])
def test_an_id_that_is_not_a_bigint_is_a_404(analyst_api, method, route, record_id):
    url = reverse(route, args=[1]).replace("/1/", f"/{record_id}/")
    before = stored_state()

    response = send(analyst_api, method, url, {})

    assert response.status_code == 404
    assert stored_state() == before


@pytest.mark.parametrize(
    "links",
    [
        {"measures": [{"measure": "3\x002", "stance": "supports"}]},
        {"risks": [{"risk": "data\x00security", "stance": "supports"}]},
        {"scenarios": [{"scenario": "risk\x00control", "stance": "supports"}]},
        {"innovation_mechanisms": [{"mechanism": "x\x00y", "stance": "supports"}]},
        {"institutions": ["pb\x00oc"]},
    ],
    ids=["measures", "risks", "scenarios", "innovation_mechanisms", "institutions"],
)
def test_a_null_character_in_a_linked_key_is_a_400_and_writes_nothing(analyst_api, records, links):
    body = {**Write("POST", "evidence-list").body(records), **links}
    before = stored_state()

    response = send(analyst_api, "POST", reverse("evidence-list"), body)

    assert response.status_code == 400
    assert stored_state() == before


@pytest.mark.parametrize("route", ["measure-list", "evidence-list", "source-list"])
def test_a_null_character_in_search_is_a_400_naming_search(analyst_api, route):
    response = analyst_api.get(reverse(route), {"search": "a\x00b"})

    assert response.status_code == 400
    assert "search" in response.json()
