from datetime import date
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import TransactionTestCase, override_settings
from django.utils import translation
from rest_framework.test import APIClient

from recommendations.integrity import history_maintenance
from recommendations.roles import ANALYST, REPORTER, VIEWER, user_has_role

# Every response under /api/v1/ is checked against the OpenAPI schema (tests/openapi_validation.py).
from tests.openapi_validation import (  # noqa: F401 (fixtures)
    openapi_checked_responses,
    openapi_checker,
    openapi_schema,
)

# Rules that depend on the date are given this "today", so tests need no clock tricks.
TODAY = date(2026, 6, 30)


@pytest.fixture(autouse=True, scope="session")
def flush_with_history_maintenance():
    """Between transactional tests the database is emptied, history included, which the
    append-only triggers refuse unless maintenance is on for the flush."""
    teardown = TransactionTestCase._fixture_teardown

    def flush(self):
        with history_maintenance(session=True):
            teardown(self)

    TransactionTestCase._fixture_teardown = flush
    yield
    TransactionTestCase._fixture_teardown = teardown


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Users made by tests get a cheap hash: production's PBKDF2 costs a third of a second per
    user, which most tests pay once or twice. Served and browser tests' app servers, which run
    with their own settings, keep the real one."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    # Production serves hashed files collected by `collectstatic`; tests render templates
    # without collecting.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def english_by_default():
    # A request in Chinese leaves its language active in the thread; each test starts afresh.
    translation.activate("en")
    yield
    translation.deactivate()


def make_user(django_user_model, username: str, group: str | None = None, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="correct horse battery staple", is_staff=True, **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def analyst(django_user_model):
    return make_user(django_user_model, "ana", ANALYST)


@pytest.fixture
def viewer(django_user_model):
    return make_user(django_user_model, "vic", VIEWER)


@pytest.fixture
def reporter(django_user_model):
    """Proposes status updates for review (the review app); records nothing itself."""
    return make_user(django_user_model, "rita", REPORTER)


@pytest.fixture
def no_role_user(django_user_model):
    """Staff, signed in, in no group: the admin shows them nothing, and the API refuses them."""
    return make_user(django_user_model, "nora")


@pytest.fixture
def analyst_client(client, analyst):
    client.force_login(analyst)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def api():
    return APIClient()


def authenticated_as(api, user):
    """`api` signed in as `user` as token authentication signs users in: with whether the user
    has a role already known (a token's one query tells it), so that the queries a test counts
    are the view's own (tests/tokens/test_authentication.py counts authentication's)."""
    user.has_role = user_has_role(user)
    api.force_authenticate(user)
    return api


@pytest.fixture
def analyst_api(api, analyst):
    return authenticated_as(api, analyst)


@pytest.fixture
def viewer_api(api, viewer):
    return authenticated_as(api, viewer)


def api_token(user) -> str:
    """A new API token of `user`, made by the command an administrator runs."""
    out = StringIO()
    call_command("create_api_token", user.username, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def app_models(*app_labels: str) -> list:
    """Every model of the apps, many-to-many link tables included."""
    return [
        model
        for label in app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]


def table_rows(model) -> list[tuple]:
    """Every row of `model`, every column, in a stable order. A many-to-many link table's rows
    go without their id: a link deleted and made again, or restored, may be numbered afresh."""
    meta = model._meta
    if meta.auto_created:
        columns = [f.attname for f in meta.concrete_fields if not f.primary_key]
        return list(model.objects.order_by(*columns).values_list(*columns))
    columns = [f.attname for f in meta.concrete_fields]
    return list(model.objects.order_by("pk").values_list(*columns))


def stored_state(models=None) -> dict:
    """Every row of `models` (by default every table of the tracker's two apps, which hold
    all an API or admin write can change), in a form two snapshots can be compared in."""
    models = app_models("recommendations", "evidence") if models is None else models
    return {model._meta.label: table_rows(model) for model in models}


def empty_inlines(*prefixes: str) -> dict:
    """The management forms of empty inline formsets, for POSTing an admin change page."""
    return {
        f"{prefix}-{name}": count
        for prefix in prefixes
        for name, count in (
            ("TOTAL_FORMS", 0),
            ("INITIAL_FORMS", 0),
            ("MIN_NUM_FORMS", 0),
            ("MAX_NUM_FORMS", 1000),
        )
    }
