"""The schema check every API response goes through (tests/openapi_validation.py) refuses
what the schema does not declare, and lets through what it does."""

import json

import pytest

JSON = {"Content-Type": "application/json"}
EMPTY_PAGE = json.dumps({"count": 0, "next": None, "previous": None, "results": []}).encode()


def test_a_declared_status_with_a_matching_body_passes(openapi_checker):
    problems = openapi_checker.problems(
        "GET", "http://testserver/api/v1/measures/", 200, JSON, EMPTY_PAGE
    )

    assert problems == []


def test_an_undeclared_status_fails(openapi_checker):
    problems = openapi_checker.problems(
        "GET", "http://testserver/api/v1/measures/", 418, JSON, b'{"detail": "teapot"}'
    )

    assert any("418" in problem for problem in problems)


def test_a_body_that_does_not_match_fails(openapi_checker):
    body = json.dumps({"count": "many", "results": "none"}).encode()

    problems = openapi_checker.problems(
        "GET", "http://testserver/api/v1/measures/", 200, JSON, body
    )

    assert any("count" in problem for problem in problems)


def test_an_undeclared_media_type_fails(openapi_checker):
    problems = openapi_checker.problems(
        "GET", "http://testserver/api/v1/measures/1/", 404, {"Content-Type": "text/html"}, b"<h1>"
    )

    assert any("MediaTypeNotFound" in problem for problem in problems)


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/api/v1/reports/preview/", ("/api/v1/reports/preview/", "get")),
        ("GET", "/api/v1/reports/7/", ("/api/v1/reports/{id}/", "get")),
        (
            "POST",
            "/api/v1/measures/3/status-updates/",
            ("/api/v1/measures/{id}/status-updates/", "post"),
        ),
        ("DELETE", "/api/v1/status-updates/3/", None),
        ("GET", "/api/v1/nowhere/", None),
    ],
)
def test_a_request_is_matched_to_the_operation_it_calls(openapi_checker, method, path, operation):
    assert openapi_checker.operation(method, path) == operation
