"""Every API response a test sees is checked against the OpenAPI schema by a third-party
validator (openapi-core): its status code must be declared for the operation, and its media
type, declared headers and body must match what the schema says.

In-process tests (Django's test client and DRF's APIClient) are checked by the autouse fixture
`openapi_checked_responses` for every path under /api/v1/ whose operation the schema declares,
against the schema drf-spectacular generates once per session. The served tests (tests/served)
check each server's answers against the schema that server serves.

OPENAPI_STRICT=0 in the environment turns the checks off (default on). A test that
deliberately produces an answer the schema does not declare (a forced 500) opts out with
`@pytest.mark.openapi_unchecked`. OPENAPI_FINDINGS=<file> also appends each disagreement to that
file as a JSON line (operation, status, what failed), to list them across a whole run.
"""

import json
import os
import re
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.deserializing.media_types.util import plain_loads
from openapi_core.testing import MockRequest, MockResponse

API_PREFIX = "/api/v1/"
# openapi-core reads text/html and text/plain bodies as text, any other text/* as bytes.
TEXT_MEDIA_TYPES = {"text/markdown": plain_loads, "text/csv": plain_loads}


def strict() -> bool:
    """Whether responses are checked (OPENAPI_STRICT, default 1)."""
    value = os.environ.get("OPENAPI_STRICT", "1").strip().lower()
    if value not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ValueError(f"OPENAPI_STRICT must be a boolean (1/0), got {value!r}")
    return value in {"1", "true", "yes", "on"}


class ResponseChecker:
    """Checks responses against one OpenAPI 3 schema (a dict, as served)."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.openapi = OpenAPI.from_dict(
            schema, config=Config(extra_media_type_deserializers=TEXT_MEDIA_TYPES)
        )
        # Templates with fewer parameters first: /reports/preview/ before /reports/{id}/.
        self.templates = sorted(
            schema["paths"], key=lambda template: (template.count("{"), template)
        )

    @cached_property
    def patterns(self) -> list[tuple[str, re.Pattern]]:
        return [
            (template, re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"))
            for template in self.templates
        ]

    def operation(self, method: str, path: str) -> tuple[str, str] | None:
        """(path template, method) of the declared operation a request calls, if any."""
        method = method.lower()
        for template, pattern in self.patterns:
            if pattern.match(path):
                return (template, method) if method in self.schema["paths"][template] else None
        return None

    def operations(self) -> set[tuple[str, str]]:
        """Every (path template, method) the schema declares."""
        methods = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
        return {
            (template, method)
            for template, item in self.schema["paths"].items()
            for method in item
            if method in methods
        }

    def problems(self, method: str, url: str, status: int, headers: dict, body: bytes) -> list[str]:
        """What in this response disagrees with the schema (empty if nothing does)."""
        parts = urlsplit(url)
        request = MockRequest(
            f"{parts.scheme or 'http'}://{parts.netloc or 'testserver'}",
            method,
            parts.path,
            args=dict(parse_qsl(parts.query)),
        )
        content_type = headers.get("Content-Type", "")
        response = MockResponse(body, status, headers=headers, content_type=content_type)
        try:
            self.openapi.validate_response(request, response)
        except Exception as error:  # openapi-core's errors: every one is a finding
            return describe(error)
        return []

    def check(self, method: str, url: str, status: int, headers: dict, body: bytes) -> None:
        """Fail, saying what disagrees, unless the response matches its declared operation."""
        found = self.problems(method, url, status, headers, body)
        if found and os.environ.get("OPENAPI_FINDINGS"):
            record_finding(self.operation(method, urlsplit(url).path), status, headers, found)
        if found:
            shown = body[:600].decode(errors="replace")
            raise AssertionError(
                f"{method.upper()} {url} answered {status} ({headers.get('Content-Type', '-')}), "
                "which the OpenAPI schema does not allow:\n  "
                + "\n  ".join(found)
                + f"\nbody: {shown}\n(OPENAPI_STRICT=0 turns this check off)"
            )


def record_finding(operation, status: int, headers: dict, found: list[str]) -> None:
    line = {
        "operation": operation,
        "status": status,
        "content_type": headers.get("Content-Type", ""),
        "problems": found,
    }
    with open(os.environ["OPENAPI_FINDINGS"], "a") as findings:
        findings.write(json.dumps(line) + "\n")


def describe(error: BaseException) -> list[str]:
    """openapi-core's error and its causes, with each schema error and where it is."""
    found = []
    while error is not None:
        found.append(f"{type(error).__name__}: {error}"[:300])
        for schema_error in list(getattr(error, "schema_errors", ()) or ())[:5]:
            where = "/".join(str(part) for part in schema_error.absolute_path) or "(body)"
            found.append(f"  at {where}: {schema_error.message}"[:400])
        error = error.__cause__
    return found


# In-process tests


@pytest.fixture(scope="session")
def openapi_schema(django_db_blocker) -> dict:
    """The schema drf-spectacular generates, as JSON would carry it."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    with django_db_blocker.unblock():
        generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


@pytest.fixture(scope="session")
def openapi_checker(openapi_schema) -> ResponseChecker:
    return ResponseChecker(openapi_schema)


@pytest.fixture(autouse=True)
def openapi_checked_responses(request, monkeypatch):
    """Check every response of the test client under /api/v1/ against the schema."""
    if not strict() or request.node.get_closest_marker("openapi_unchecked"):
        return
    from django.test.client import Client

    checker = request.getfixturevalue("openapi_checker")
    send = Client.request

    def checked(client, **wsgi):
        response = send(client, **wsgi)
        path = wsgi.get("PATH_INFO", "")
        method = wsgi.get("REQUEST_METHOD", "GET")
        if path.startswith(API_PREFIX) and checker.operation(method, path):
            query = wsgi.get("QUERY_STRING", "")
            if response.streaming:
                # A streamed file (an export) is read here, checked, and handed on whole.
                body = b"".join(response.streaming_content)
                response.streaming_content = [body]
            else:
                body = response.content
            checker.check(
                method,
                f"http://testserver{path}" + (f"?{query}" if query else ""),
                response.status_code,
                dict(response.headers),
                body,
            )
        return response

    monkeypatch.setattr(Client, "request", checked)
