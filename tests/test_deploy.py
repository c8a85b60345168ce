"""Production settings: the deploy check passes, errors show no traceback, and throttling
answers 429 with Retry-After from counts every app server shares."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.urls import reverse
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from recommendations.api import rows

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def manage(*args, **env):
    return python("manage.py", *args, **env)


def python(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_passes_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="tracker.example.org",
        DEBUG="0",
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("entry_point", ["config.wsgi", "config.asgi"])
def test_an_app_server_refuses_to_start_without_a_secret_key(entry_point):
    result = python("-c", f"import {entry_point}", SECRET_KEY="", DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_deploy_check_fails_without_a_secret_key():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY="", DEBUG="0", ALLOWED_HOSTS="x"
    )

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_commands_that_sign_nothing_run_without_a_secret_key():
    # A fresh checkout's schema check, as CI and a packager run it: no DEBUG, no key.
    result = manage("makemigrations", "--check", "--dry-run", SECRET_KEY="", DEBUG="0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_a_misspelt_boolean_setting_stops_start_up():
    result = manage("check", DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.openapi_unchecked  # a forced 500, which no operation declares
@pytest.mark.parametrize("path", ["/api/v1/measures/", "/admin/"])
def test_a_server_error_shows_no_traceback(admin_user, monkeypatch, path):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(rows, "measure_rows_queryset", broken)
    monkeypatch.setattr("django.contrib.admin.sites.AdminSite.each_context", broken)
    client = APIClient(raise_request_exception=False)
    client.force_login(admin_user)

    response = client.get(path)

    body = response.content.decode()
    assert response.status_code == 500
    assert "secret internals" not in body and "Traceback" not in body


@pytest.fixture
def database_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_throttling_answers_429_with_retry_after(database_cache, analyst, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    client = APIClient()
    client.force_authenticate(analyst)

    codes = [client.get(reverse("scenario-list")).status_code for _ in range(4)]
    refused = client.get(reverse("scenario-list"))

    assert codes == [200, 200, 200, 429]
    assert int(refused["Retry-After"]) > 0


def test_a_client_cannot_escape_the_anonymous_throttle_by_sending_x_forwarded_for(
    database_cache, settings, monkeypatch
):
    settings.API_ANONYMOUS_READ = True
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    client = APIClient()

    codes = [
        client.get(reverse("scenario-list"), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(3)
    ]

    assert codes == [200, 200, 429]


def test_behind_trusted_proxies_the_client_is_the_address_they_saw(
    database_cache, settings, monkeypatch
):
    settings.API_ANONYMOUS_READ = True
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    monkeypatch.setitem(api_settings.user_settings, "NUM_PROXIES", 1)
    monkeypatch.delattr(api_settings, "NUM_PROXIES", raising=False)
    client = APIClient()

    def get(forwarded: str) -> int:
        return client.get(reverse("scenario-list"), HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The proxy appends the address it saw; what the client wrote before it is not trusted.
    codes = [get("203.0.113.9, 198.51.100.1"), get("198.51.100.1"), get("1.2.3.4, 198.51.100.1")]
    other = get("198.51.100.2")

    assert (codes, other) == ([200, 200, 429], 200)


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/api/v1/pillars/"])
def test_every_page_carries_a_content_security_policy_with_no_inline_script(admin_client, path):
    response = admin_client.get(path)

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
