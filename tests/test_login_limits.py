"""Failed sign-ins are limited on every login page, with counts in the database that every
app server shares: after LOGIN_FAILURE_LIMIT failures the account and the client address are
locked out, even with the right password, until the lockout ends or is lifted."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery staple"
LOGIN_PAGES = ["admin:login", "rest_framework:login"]


def sign_in(client, page, username, password, address="192.0.2.10"):
    return client.post(
        reverse(page),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_after_too_many_failures_even_the_right_password_is_refused(django_user_model, page):
    make_user(django_user_model, "alice")
    client = Client()

    failures = [
        sign_in(client, page, "alice", f"guess {n}").status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    right = sign_in(client, page, "alice", RIGHT)

    assert failures[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username="alice").failures_since_start >= 5


def test_the_lockout_holds_for_the_account_from_another_address(django_user_model):
    make_user(django_user_model, "alice")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "admin:login", "alice", f"guess {n}", address="192.0.2.10")

    response = sign_in(Client(), "admin:login", "alice", RIGHT, address="198.51.100.7")

    assert response.status_code == 429


def test_one_address_trying_many_accounts_is_locked_out(django_user_model):
    make_user(django_user_model, "bob")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "admin:login", f"user{n}", "guess")

    response = sign_in(Client(), "admin:login", "bob", RIGHT)

    assert response.status_code == 429


def test_lifting_a_lockout_lets_the_right_password_in(django_user_model):
    make_user(django_user_model, "alice")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "admin:login", "alice", f"guess {n}")

    call_command("axes_reset", stdout=StringIO())
    client = Client()
    response = sign_in(client, "admin:login", "alice", RIGHT)

    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_a_success_before_the_limit_starts_the_count_again(django_user_model):
    make_user(django_user_model, "alice")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(Client(), "admin:login", "alice", f"guess {n}")
    sign_in(Client(), "admin:login", "alice", RIGHT)

    codes = [
        sign_in(Client(), "admin:login", "alice", f"again {n}").status_code
        for n in range(settings.AXES_FAILURE_LIMIT - 1)
    ]

    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(Client(), "admin:login", "alice", RIGHT).status_code == 302
