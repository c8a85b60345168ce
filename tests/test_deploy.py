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
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

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
