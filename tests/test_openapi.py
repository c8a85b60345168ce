"""The OpenAPI schema is accurate and valid, and its docs work with no internet."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

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
        assert "401" in operation["responses"], (method, path)
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


def test_the_schema_and_docs_are_served(client):
    schema = client.get(reverse("schema"))
    docs = client.get(reverse("swagger-ui"))

    assert schema.status_code == 200
    assert docs.status_code == 200


def test_the_docs_load_their_assets_locally(client):
    html = client.get(reverse("swagger-ui")).content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html and "unpkg" not in html
