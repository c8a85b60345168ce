"""The OpenAPI schema is accurate and valid, and its docs work with no internet."""

import json
from datetime import date
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from openapi_spec_validator import validate

from recommendations.choices import Status
from recommendations.models import ReportSnapshot
from tests.conftest import api_token
from tests.factories import MeasureFactory, SourceFactory
from tests.recommendations.test_reports import SINCE, UNTIL, history  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        out = StringIO()
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_schema_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/measures/{id}/status-updates/" in schema["paths"]


def test_every_operation_requires_authentication_and_documents_its_errors(schema):
    for path, method, operation in operations(schema):
        assert {"tokenAuth": []} in operation["security"], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "403", "412", "422"} <= set(operation["responses"]), (method, path)


def test_writes_to_a_measure_document_if_match_and_the_etag(schema):
    for path, method in [
        ("/api/v1/measures/{id}/", "patch"),
        ("/api/v1/measures/{id}/status-updates/", "post"),
    ]:
        operation = schema["paths"][path][method]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        success = operation["responses"]["201" if method == "post" else "200"]
        assert "If-Match" in headers
        assert "ETag" in success["headers"]


@pytest.mark.parametrize("path", ["/api/v1/evidence/{id}/", "/api/v1/sources/{id}/"])
def test_evidence_and_sources_document_if_match_and_the_etag(schema, path):
    for method in ("put", "patch"):
        operation = schema["paths"][path][method]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "If-Match" in headers, method
        assert "ETag" in operation["responses"]["200"]["headers"], method
    assert "ETag" in schema["paths"][path]["get"]["responses"]["200"]["headers"]
    created = schema["paths"][path.removesuffix("{id}/")]["post"]["responses"]["201"]
    assert "ETag" in created["headers"]


def test_every_post_documents_the_idempotency_key(schema):
    posts = [(path, op) for path, method, op in operations(schema) if method == "post"]

    assert posts
    for path, operation in posts:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path


def test_the_measure_list_documents_its_filters(schema):
    names = {p["name"] for p in schema["paths"]["/api/v1/measures/"]["get"]["parameters"]}

    assert {
        "as_of",
        "pillar",
        "status",
        "risk",
        "scenario",
        "institution",
        "priority",
        "archived",
        "target_date_after",
        "target_date_before",
        "updated_since",
        "search",
        "ordering",
        "page",
        "page_size",
    } <= names


def test_the_schema_and_docs_are_served(viewer_client):
    schema = viewer_client.get(reverse("schema"))
    docs = viewer_client.get(reverse("swagger-ui"))

    assert schema.status_code == 200
    assert docs.status_code == 200


def test_the_docs_load_their_assets_locally(viewer_client):
    html = viewer_client.get(reverse("swagger-ui")).content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html and "unpkg" not in html


@pytest.mark.parametrize("name", ["schema", "swagger-ui"])
def test_the_schema_and_docs_are_read_as_the_api_is(client, no_role_user, name):
    anonymous = client.get(reverse(name))
    client.force_login(no_role_user)
    no_role = client.get(reverse(name))

    assert (anonymous.status_code, no_role.status_code) == (401, 403)


def test_a_token_reads_the_schema(api, viewer):
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(viewer)}")

    response = api.get(reverse("schema"), {"format": "json"})

    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("name", ["schema", "swagger-ui"])
def test_a_setting_opens_the_schema_and_docs_to_anyone(client, settings, name):
    settings.API_SCHEMA_PUBLIC = True

    response = client.get(reverse(name))

    assert response.status_code == 200


# What the schema promises integrators, each checked against what the API does.

SCHEMA_PATHS = {
    "pillar-list": "/api/v1/pillars/",
    "measure-list": "/api/v1/measures/",
    "status-update-list": "/api/v1/status-updates/",
    "risk-list": "/api/v1/risks/",
    "scenario-list": "/api/v1/scenarios/",
    "innovation-mechanism-list": "/api/v1/innovation-mechanisms/",
    "institution-list": "/api/v1/institutions/",
    "report-list": "/api/v1/reports/",
    "evidence-list": "/api/v1/evidence/",
    "source-list": "/api/v1/sources/",
}


def component(schema, ref_or_name: str) -> dict:
    return schema["components"]["schemas"][ref_or_name.rsplit("/", 1)[-1]]


def validator(schema, name: str, cls=OAS30ReadValidator):
    document = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    return cls(document, format_checker=oas30_format_checker)


def parameters(operation) -> dict:
    return {p["name"]: p for p in operation.get("parameters", [])}


@pytest.fixture(scope="module")
def served(django_db_blocker):
    # What the schema says, not who may read it (tested above): opened by the setting.
    with django_db_blocker.unblock(), override_settings(API_SCHEMA_PUBLIC=True):
        return Client().get(reverse("schema"), {"format": "json"}).json()


def test_the_served_schema_passes_openapi_spec_validator(served):
    validate(served)


@pytest.mark.parametrize("route", SCHEMA_PATHS)
def test_search_and_ordering_are_advertised_exactly_where_they_are_accepted(
    schema, analyst_api, route
):
    advertised = parameters(schema["paths"][SCHEMA_PATHS[route]]["get"])

    for name in ("search", "ordering"):
        value = advertised[name]["schema"].get("enum", ["x"])[-1] if name in advertised else "x"
        response = analyst_api.get(reverse(route), {name: value})

        assert (response.status_code == 200) == (name in advertised), (route, name, response)


def test_ordering_is_an_enum_of_each_field_both_ways(schema):
    ordering = parameters(schema["paths"]["/api/v1/measures/"]["get"])["ordering"]

    assert ordering["schema"]["enum"] == [
        "code",
        "-code",
        "progress",
        "-progress",
        "status_effective_date",
        "-status_effective_date",
        "updated_at",
        "-updated_at",
    ]


def test_every_operation_declares_a_503_with_retry_after(schema):
    for path, method, operation in operations(schema):
        busy = operation["responses"].get("503", {})

        assert "Retry-After" in busy.get("headers", {}), (method, path)


def test_response_headers_are_declared_where_the_api_sends_them(schema):
    replayable = 0
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for code, header in [
            ("201", "Location"),
            ("202", "Location"),
            ("412", "ETag"),
            ("429", "Retry-After"),
        ]:
            if code in responses:
                assert header in responses[code]["headers"], (method, path, code)
        if "Idempotency-Key" in parameters(operation):
            replayable += 1
            successes = [code for code in responses if code.startswith("2")]
            assert successes, (method, path)
            for code in successes:
                assert "Idempotent-Replayed" in responses[code]["headers"], (method, path, code)

    # A status update (or its proposal), a piece of evidence, a source, the four decisions on
    # a proposal; an import and its confirmation; a follow; a webhook subscription, a
    # redelivery and a new secret.
    assert replayable == 13
    assert schema["components"]["headers"]["RetryAfter"]["schema"]["type"] == "integer"


def test_a_created_source_and_its_replay_send_the_declared_headers(analyst_api):
    body = {"kind": "news", "title": "A report", "reliability": "medium"}

    first = analyst_api.post(reverse("source-list"), body, HTTP_IDEMPOTENCY_KEY="k1")
    replay = analyst_api.post(reverse("source-list"), body, HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == replay.status_code == 201
    assert first["Location"] == replay["Location"]
    assert "Idempotent-Replayed" not in first
    assert replay["Idempotent-Replayed"] == "true"


def test_every_400_is_the_one_validation_error_component(schema):
    for path, method, operation in operations(schema):
        content = operation["responses"]["400"]["content"]

        assert set(content) == {"application/json"}, (method, path)
        assert content["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ValidationErrorBody"
        }, (method, path)
    assert component(schema, "ValidationErrorBody")["additionalProperties"] == {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
    }


@pytest.mark.parametrize(
    ("send", "field"),
    [
        (lambda api: api.get(reverse("measure-list"), {"colour": "red"}), "colour"),
        (lambda api: api.get(reverse("measure-list"), {"ordering": "nope"}), "ordering"),
        (lambda api: api.get(reverse("measure-list"), {"as_of": "someday"}), "as_of"),
        (
            lambda api: api.post(
                reverse("source-list"), '{"title": ', content_type="application/json"
            ),
            "non_field_errors",
        ),
        (
            lambda api: api.post(
                reverse("evidence-list"),
                {"source": 1, "claim_zh": "主张", "claim_en": "A claim", "figures": [{}]},
            ),
            "figures[0].value",
        ),
        (
            lambda api: api.patch(reverse("measure-detail", args=[1]), {}, HTTP_IF_MATCH="x"),
            "non_field_errors",
        ),
        (
            lambda api: api.post(
                reverse("measure-status-updates", args=[1]),
                {"status": "implemented", "progress": 50, "effective_date": "2026-01-01"},
            ),
            "progress",
        ),
    ],
    ids=["filter", "ordering", "date", "json", "nested", "if-match", "service-rule"],
)
def test_every_400_body_maps_each_field_to_its_messages(schema, analyst_api, send, field):
    measure = MeasureFactory(id=1, starts_on=date(2025, 1, 1))
    SourceFactory(id=1)
    assert measure.pk == 1

    response = send(analyst_api)

    assert response.status_code == 400
    assert field in response.json()
    assert validator(schema, "ValidationErrorBody").is_valid(response.json()), response.json()


def test_a_parse_error_keeps_its_message(analyst_api):
    response = analyst_api.post(reverse("source-list"), "[", content_type="application/json")

    [message] = response.json()["non_field_errors"]
    assert message.startswith("JSON parse error")


@pytest.mark.parametrize(
    "path", ["/api/v1/measures/abc/", "/api/v1/measures/1/nothing/", "/api/v2/", "/api/"]
)
def test_every_404_under_the_api_is_json(analyst_api, path):
    response = analyst_api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/api/v1/measures/abc/", "/api/v1/nothing/", "/api/v1/nothing"])
def test_every_404_under_the_api_is_json_with_debug_on_as_under_make_run(
    analyst_api, settings, path
):
    settings.DEBUG = True

    response = analyst_api.get(path, follow=True)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_path_without_its_slash_is_still_redirected(analyst_api):
    response = analyst_api.get("/api/v1/measures")

    assert response.status_code == 301 and response["Location"] == "/api/v1/measures/"


def test_a_404_elsewhere_is_still_a_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_filter_parameters_refer_to_the_component_enums(schema):
    enums = {
        name: set(body["enum"])
        for name, body in schema["components"]["schemas"].items()
        if "enum" in body
    }
    checked = 0
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            body = parameter["schema"]
            body = body.get("items", body)
            if "enum" in body:
                assert set(body["enum"]) not in enums.values(), (method, path, parameter)
            elif body.get("$ref", "").endswith("Enum"):
                checked += 1

    assert checked >= 9
    status = parameters(schema["paths"]["/api/v1/measures/"]["get"])["status"]
    assert status["schema"]["items"] == {"$ref": "#/components/schemas/StatusEnum"}
    assert component(schema, "StatusEnum")["enum"] == Status.values  # the ladder's order


def test_keys_and_urls_accept_exactly_what_the_api_returns_and_takes(schema):
    source = validator(schema, "Source")
    brief = validator(schema, "SourceBrief")
    source_in = validator(schema, "SourceRequest", OAS30WriteValidator)
    evidence_in = validator(schema, "EvidenceInputRequest", OAS30WriteValidator)
    answer = {"id": 1, "kind": "news", "title": "T", "reliability": "low"}
    answer |= {"evidence_count": 0, "created_at": "2026-01-01T00:00:00Z"}
    answer |= {"updated_at": "2026-01-01T00:00:00Z"}

    for key in (None, "a-key"):
        assert source.is_valid({**answer, "key": key, "url": ""})
        assert brief.is_valid(
            {"id": 1, "key": key, "kind": "news", "title": "T"} | {"reliability": "low"}
        )
    assert source.is_valid({**answer, "key": None, "url": "https://example.org/a"})
    assert not source.is_valid({**answer, "key": "", "url": ""})  # a blank key is stored as null
    for key in (None, "", "a-key"):
        assert source_in.is_valid(
            {"kind": "news", "title": "T", "reliability": "low"} | {"key": key}
        )
        assert evidence_in.is_valid({"source": 1, "claim_zh": "z", "claim_en": "e", "key": key})


def test_a_source_as_the_api_returns_it_matches_the_schema(schema, analyst_api):
    created = analyst_api.post(
        reverse("source-list"),
        {"key": "", "kind": "news", "title": "T", "reliability": "low", "url": ""},
    )
    evidence = analyst_api.post(
        reverse("evidence-list"),
        {"source": created.json()["id"], "claim_zh": "主张", "claim_en": "A claim", "key": ""},
    )

    assert created.status_code == evidence.status_code == 201
    assert (created.json()["key"], created.json()["url"]) == (None, "")
    validator(schema, "Source").validate(created.json())
    validator(schema, "Evidence").validate(evidence.json())


@pytest.mark.parametrize("path", ["/api/v1/reports/preview/", "/api/v1/reports/{id}/download/"])
def test_each_report_format_is_its_own_media_type(schema, path):
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]

    assert set(content) == {"application/json", "text/markdown", "text/csv", "text/html"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/StatusReport"}
    assert component(schema, "ReportSnapshotDetail")["properties"]["report"]["allOf"] == [
        {"$ref": "#/components/schemas/StatusReport"}
    ]


def assert_exact(schema, body: dict, value, where="StatusReport"):
    """`value` has every property `body` names and no other, all the way down."""
    if "$ref" in body:
        body = component(schema, body["$ref"])
    if "allOf" in body:
        body = component(schema, body["allOf"][0]["$ref"])
    if isinstance(value, dict) and "properties" in body:
        assert set(value) == set(body["properties"]), where
        for key, item in value.items():
            assert_exact(schema, body["properties"][key], item, f"{where}.{key}")
    elif isinstance(value, list) and "items" in body:
        for item in value:
            assert_exact(schema, body["items"], item, f"{where}[]")


@pytest.mark.usefixtures("history")
def test_a_status_report_is_exactly_its_component(schema, analyst_api):
    response = analyst_api.get(
        reverse("report-preview"), {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    )
    report = response.json()

    assert response.status_code == 200
    assert report["changes"] and report["stalled"] and report["evidence_added"]["items"] == []
    assert report["schema_version"] == 3 and report["reconfirmations"]["measures"]
    assert component(schema, "StatusReport")["properties"]["schema_version"] == {
        "$ref": "#/components/schemas/SchemaVersionEnum"
    }
    validator(schema, "StatusReport").validate(report)
    assert_exact(schema, {"$ref": "StatusReport"}, report)


@pytest.mark.usefixtures("history")
def test_a_published_report_refers_to_the_status_report(schema, analyst_api):
    call_command(
        "status_report",
        "--since",
        SINCE.isoformat(),
        "--until",
        UNTIL.isoformat(),
        "--save",
        stdout=StringIO(),
    )
    listed = analyst_api.get(reverse("report-list")).json()["results"][0]

    detail = analyst_api.get(listed["url"]).json()

    validator(schema, "ReportSnapshotDetail").validate(detail)
    assert_exact(schema, {"$ref": "StatusReport"}, detail["report"])


def as_published_in(version: int, report: dict) -> dict:
    """`report` (schema_version 3) as a snapshot of `version` holds it: without what later
    versions added."""
    old = {key: value for key, value in report.items() if key != "reconfirmations"}
    old["schema_version"] = version
    if version == 1:
        for block in [old["overview"], *old["pillars"]]:
            for side in ("since", "until", "change"):
                block[side] = {k: v for k, v in block[side].items() if k != "assessed"}
    return old


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.usefixtures("history")
def test_snapshots_published_in_earlier_versions_still_match_the_component(
    schema, analyst_api, version
):
    current = analyst_api.get(
        reverse("report-preview"), {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    ).json()
    published = json.dumps(as_published_in(version, current))
    snapshot = ReportSnapshot.objects.create(
        since=SINCE,
        until=UNTIL,
        version=1,
        report_json=published,
        sha256=ReportSnapshot.digest(published),
        **dict.fromkeys(["markdown_en", "markdown_zh", "html_en", "html_zh", "csv"], ""),
    )

    # The test client checks every response against the schema, this one included.
    detail = analyst_api.get(reverse("report-detail", args=[snapshot.pk]))

    assert detail.status_code == 200
    assert detail.json()["report"]["schema_version"] == version
    assert "reconfirmations" not in detail.json()["report"]
    validator(schema, "StatusReport").validate(detail.json()["report"])
    assert "reconfirmations" not in component(schema, "StatusReport")["required"]
    assert "assessed" not in component(schema, "StateSummary")["required"]


def test_operations_are_tagged_by_resource_and_tags_are_described(schema):
    described = {tag["name"]: tag["description"] for tag in schema["tags"]}
    tags = {path: operation["tags"] for path, _method, operation in operations(schema)}

    assert all(described.values())
    assert {tag for names in tags.values() for tag in names} == set(described)
    assert tags["/api/v1/measures/{id}/status-updates/"] == ["status-updates"]
    assert tags["/api/v1/innovation-mechanisms/{id}/"] == ["innovation-mechanisms"]


def test_no_component_describes_itself_with_a_mixins_docstring(schema):
    for name, body in schema["components"]["schemas"].items():
        assert "mixin" not in body.get("description", ""), name


def test_the_schema_has_no_placeholder_examples(served):
    assert "api.example.org" not in json.dumps(served)


def test_recording_a_status_update_has_real_examples(schema):
    operation = schema["paths"]["/api/v1/measures/{id}/status-updates/"]["post"]
    responses = operation["responses"]

    request = operation["requestBody"]["content"]["application/json"]["examples"]
    created = responses["201"]["content"]["application/json"]["examples"]
    assert validator(schema, "StatusUpdateInputRequest", OAS30WriteValidator).is_valid(
        next(iter(request.values()))["value"]
    )
    assert {"Recorded", "Replayed"} <= set(created)
    for example in created.values():
        validator(schema, "RecordedStatusUpdate").validate(example["value"])
    for code, name in [("412", "PreconditionFailed"), ("400", "ValidationErrorBody")]:
        [example] = responses[code]["content"]["application/json"]["examples"].values()
        validator(schema, name).validate(example["value"])


def test_the_schema_names_its_server_licence_and_contact(schema):
    assert schema["servers"] == [{"url": "/", "description": "This server"}]
    assert schema["info"]["license"]["name"]
    assert schema["info"]["contact"]["name"]


def test_every_operation_with_a_body_declares_the_415_of_a_body_that_is_not_json(schema):
    with_body = [
        (path, method, operation)
        for path, method, operation in operations(schema)
        if "requestBody" in operation
    ]

    assert with_body
    for path, method, operation in with_body:
        assert "415" in operation["responses"], (method, path)
