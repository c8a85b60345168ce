from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.test import TransactionTestCase
from django.utils import translation
from rest_framework.test import APIClient

from recommendations.integrity import history_maintenance
from recommendations.roles import ANALYST, VIEWER

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


@pytest.fixture
def analyst_api(api, analyst):
    api.force_authenticate(analyst)
    return api


@pytest.fixture
def viewer_api(api, viewer):
    api.force_authenticate(viewer)
    return api
