"""API tokens at the door: stored as digests, refused once expired or revoked, their last use
noted without turning reads into writes, and a role needed to read."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import api_token
from tests.factories import PillarFactory
from tokens.models import ApiToken
from tokens.services import create_token, revoke_tokens

pytestmark = pytest.mark.django_db


def with_token(api, key: str):
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_the_database_holds_the_digest_of_a_key_never_the_key(analyst):
    key = api_token(analyst)

    token = ApiToken.objects.get(user=analyst)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tokens_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)

    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix)
    assert key not in stored and key[len(token.prefix) + 1 :] not in stored


def test_a_token_reads_the_api_with_the_same_header_as_before(api, analyst):
    PillarFactory()

    response = with_token(api, api_token(analyst)).get(reverse("pillar-list"))

    assert response.status_code == 200


def test_an_expired_token_is_refused_with_401(api, analyst):
    _, key = create_token(user=analyst, days=30, now=timezone.now() - timedelta(days=31))

    response = with_token(api, key).get(reverse("pillar-list"))

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_is_refused_with_401_and_its_row_is_kept(api, analyst):
    token, key = create_token(user=analyst, name="ci", now=timezone.now())
    allowed = with_token(api, key).get(reverse("pillar-list"))

    revoke_tokens(user=analyst, name="ci", now=timezone.now())
    refused = api.get(reverse("pillar-list"))

    assert (allowed.status_code, refused.status_code) == (200, 401)
    assert "revoked" in refused.json()["detail"]
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_known_prefix_with_another_secret_is_refused(api, analyst):
    key = api_token(analyst)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    response = with_token(api, forged).get(reverse("pillar-list"))

    assert response.status_code == 401


def test_a_malformed_key_is_refused_without_a_query(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = with_token(api, "0123456789abcdef0123456789abcdef01234567").get(
            reverse("pillar-list")
        )

    assert response.status_code == 401


def test_a_deactivated_users_token_is_refused(api, analyst):
    key = api_token(analyst)
    analyst.is_active = False
    analyst.save()

    response = with_token(api, key).get(reverse("pillar-list"))

    assert response.status_code == 401


def token_writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith('UPDATE "tokens_apitoken"')]


def test_the_last_use_is_written_at_most_once_every_few_minutes(api, analyst, settings):
    settings.API_TOKEN_LAST_USED_MINUTES = 5
    key = api_token(analyst)
    with_token(api, key)
    token = ApiToken.objects.get(user=analyst)
    assert token.last_used_at is None

    with CaptureQueriesContext(connection) as first:
        api.get(reverse("pillar-list"))
    token.refresh_from_db()
    noted = token.last_used_at
    with CaptureQueriesContext(connection) as soon_after:
        api.get(reverse("pillar-list"))
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=noted - timedelta(minutes=6))
    with CaptureQueriesContext(connection) as later:
        api.get(reverse("pillar-list"))

    assert noted is not None
    assert (len(token_writes(first)), len(token_writes(soon_after)), len(token_writes(later))) == (
        1,
        0,
        1,
    )
    token.refresh_from_db()
    assert token.last_used_at > noted - timedelta(minutes=6)


# Roles


def test_a_token_of_a_user_with_no_role_reads_nothing(api, no_role_user):
    response = with_token(api, api_token(no_role_user)).get(reverse("pillar-list"))

    assert response.status_code == 403
    assert "no role" in response.json()["detail"]


def test_a_signed_in_user_with_no_role_reads_nothing(client, no_role_user):
    client.force_login(no_role_user)

    response = client.get(reverse("pillar-list"))

    assert response.status_code == 403


def test_a_viewer_reads_with_a_token(api, viewer):
    response = with_token(api, api_token(viewer)).get(reverse("pillar-list"))

    assert response.status_code == 200


def test_opening_reading_to_anyone_opens_it_to_a_user_with_no_role(api, no_role_user, settings):
    settings.API_ANONYMOUS_READ = True

    response = with_token(api, api_token(no_role_user)).get(reverse("pillar-list"))

    assert response.status_code == 200


def test_a_token_finds_its_user_and_role_in_one_query(api, viewer, django_assert_num_queries):
    PillarFactory()
    with_token(api, api_token(viewer)).get(reverse("pillar-list"))  # notes the first use

    # 1: the token, its user, whether the user has a role and the change counters (ETag);
    # 2: the pillars (as in tests/recommendations/test_api.py, where the client is signed in
    # without a query).
    with django_assert_num_queries(2):
        response = api.get(reverse("pillar-list"))
    # A 304: the token's statement alone.
    with django_assert_num_queries(1):
        unchanged = api.get(reverse("pillar-list"), HTTP_IF_NONE_MATCH=response["ETag"])

    assert response.status_code == 200 and unchanged.status_code == 304


def test_a_session_asks_for_the_role_once(client, viewer, django_assert_num_queries):
    PillarFactory()
    client.force_login(viewer)

    # 1: the session; 2: its user; 3: whether the user has a role; 4: the change counters
    # (ETag); 5: the pillars.
    with django_assert_num_queries(5):
        response = client.get(reverse("pillar-list"))

    assert response.status_code == 200


def test_the_lookup_compiled_once_reads_what_the_orm_reads(analyst):
    from tokens import keys, selectors

    key = api_token(analyst)
    expected = next(iter(selectors.lookup(keys.prefix_of(key), connection.vendor)))

    with CaptureQueriesContext(connection) as queries:
        found = selectors.token_for_key(key)
        again = selectors.token_for_key(key)

    assert len(queries) == 2  # one statement each, nothing compiled or fetched besides
    assert queries[0]["sql"] == queries[1]["sql"]
    for token in (found, again):
        assert [getattr(token, f.attname) for f in ApiToken._meta.concrete_fields] == [
            getattr(expected, f.attname) for f in ApiToken._meta.concrete_fields
        ]
        assert token.expires_at.tzinfo is not None
        assert (token.has_role, token.user.pk, token.user.date_joined) == (
            True,
            analyst.pk,
            expected.user.date_joined,
        )
    assert selectors.token_for_key(key[:-1] + ("x" if key[-1] != "x" else "y")) is None


# Committed: on PostgreSQL the change counters move when a transaction commits.
@pytest.mark.django_db(transaction=True)
def test_the_counters_read_with_the_token_see_every_committed_change(api, viewer):
    pillar = PillarFactory()
    client = with_token(api, api_token(viewer))
    first = client.get(reverse("pillar-list"))

    unchanged = client.get(reverse("pillar-list"), HTTP_IF_NONE_MATCH=first["ETag"])
    pillar.title_en = "Renamed"
    pillar.save()
    changed = client.get(reverse("pillar-list"), HTTP_IF_NONE_MATCH=first["ETag"])

    assert (unchanged.status_code, changed.status_code) == (304, 200)
    assert changed["ETag"] != first["ETag"]
    assert "Renamed" in changed.content.decode()
