"""Swagger UI at /api/docs/, in a real browser: it renders every operation of the schema and
every request it makes stays on this machine (its assets are served locally)."""

from urllib.parse import urlsplit

import pytest

from .support import ANALYST_USER

pytestmark = pytest.mark.browser

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_swagger_ui_renders_every_operation_offline(signed_in, shots, served):
    page = signed_in(ANALYST_USER)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.wait_for_load_state("networkidle")
    shots.take(page, "swagger-ui")

    schema = page.request.get("/api/schema/?format=json").json()
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    shown = page.evaluate(
        """() => [...document.querySelectorAll(".swagger-ui .opblock")].map(block => [
            block.querySelector(".opblock-summary-method").innerText,
            block.querySelector(".opblock-summary-path").dataset.path,
        ])"""
    )
    shown = [tuple(operation) for operation in shown]
    assert sorted(shown) == sorted(operations)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith(schema["info"]["title"])

    # The page, its scripts, styles, fonts and the schema: all from the served app.
    origin = urlsplit(served.url)
    assert any(urlsplit(url).path == "/api/schema/" for url in requests), requests
    leaving = [
        url
        for url in requests
        if urlsplit(url).scheme not in {"data", "blob"}
        and (urlsplit(url).hostname, urlsplit(url).port) != (origin.hostname, origin.port)
    ]
    assert not leaving, f"Requests that leave the machine: {leaving}"
