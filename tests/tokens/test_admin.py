"""Tokens in the admin: creating one shows its key once; no page shows a key again."""

import re

import pytest
from django.urls import reverse

from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tokens_apitoken_add")
CHANGELIST = reverse("admin:tokens_apitoken_changelist")


def shown_key(response) -> str:
    return re.search(r'<code id="api-key">([^<]+)</code>', response.content.decode()).group(1)


def test_creating_a_token_shows_its_key_once_on_a_page_no_cache_keeps(admin_client, analyst, api):
    response = admin_client.post(ADD, {"user": analyst.pk, "name": "dashboard", "days": 90})

    key = shown_key(response)
    token = ApiToken.objects.get(user=analyst)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert (token.name, key.startswith(token.prefix)) == ("dashboard", True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("pillar-list")).status_code == 200
    for page in (CHANGELIST, reverse("admin:tokens_apitoken_change", args=[token.pk])):
        assert key not in admin_client.get(page).content.decode()
    assert key not in admin_client.get(reverse("admin:index")).content.decode()


def test_the_list_shows_what_tells_tokens_apart(admin_client, analyst):
    admin_client.post(ADD, {"user": analyst.pk, "name": "dashboard", "days": 90})
    token = ApiToken.objects.get()

    html = admin_client.get(CHANGELIST).content.decode()

    for column in ("name", "user", "prefix", "created_at", "expires_at", "last_used_at"):
        assert f"column-{column}" in html
    assert "column-revoked_at" in html and token.prefix in html
    assert token.digest not in html


def test_a_name_taken_by_a_live_token_is_refused_on_the_form(admin_client, analyst):
    admin_client.post(ADD, {"user": analyst.pk, "name": "ci", "days": 90})

    response = admin_client.post(ADD, {"user": analyst.pk, "name": "ci", "days": 90})

    assert response.status_code == 200
    assert "already has a token called ci" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_the_revoke_action_revokes(admin_client, analyst, api):
    response = admin_client.post(ADD, {"user": analyst.pk, "name": "ci", "days": 90})
    key = shown_key(response)
    token = ApiToken.objects.get()

    admin_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert token.revoked_at is not None
    assert api.get(reverse("pillar-list")).status_code == 401


def test_tokens_cannot_be_deleted_only_revoked(admin_client, analyst):
    admin_client.post(ADD, {"user": analyst.pk, "name": "ci", "days": 90})
    token = ApiToken.objects.get()

    response = admin_client.get(reverse("admin:tokens_apitoken_delete", args=[token.pk]))

    assert response.status_code == 403


def test_roles_do_not_manage_tokens(analyst_client):
    assert analyst_client.get(CHANGELIST).status_code == 403
    assert analyst_client.get(ADD).status_code == 403
