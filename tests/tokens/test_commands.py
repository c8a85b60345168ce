"""create_api_token always makes a new token and prints its key once; revoke_api_token
revokes by name, by prefix or all of a user's."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from tests.conftest import api_token
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def create(username: str, *args: str) -> tuple[str, str]:
    """The key the command printed on its last line, and what it told the operator."""
    out, err = StringIO(), StringIO()
    call_command("create_api_token", username, *args, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines()[-1], err.getvalue()


def revoke(username: str, *args: str) -> str:
    out = StringIO()
    call_command("revoke_api_token", username, *args, stdout=out)
    return out.getvalue()


def reads(api, key: str) -> int:
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get(reverse("pillar-list")).status_code


def test_running_it_twice_makes_two_tokens_and_never_prints_the_first_again(api, analyst):
    first, _ = create(analyst.username)

    second, told = create(analyst.username)

    assert first != second
    assert first not in told
    assert ApiToken.objects.filter(user=analyst).count() == 2
    assert (reads(api, first), reads(api, second)) == (200, 200)


def test_a_token_is_named_and_lasts_the_days_asked_for(analyst):
    before = timezone.now()

    key, told = create(analyst.username, "--name", "dashboard", "--days", "30")

    token = ApiToken.objects.get(user=analyst)
    assert (token.name, key.startswith(token.prefix)) == ("dashboard", True)
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert "dashboard" in told and "cannot be shown again" in told


def test_a_token_lasts_a_year_by_default(analyst, settings):
    settings.API_TOKEN_DAYS = 365

    create(analyst.username)

    token = ApiToken.objects.get(user=analyst)
    assert token.expires_at - token.created_at == timedelta(days=365)


def test_a_name_taken_by_a_live_token_is_refused_and_nothing_is_written(analyst):
    create(analyst.username, "--name", "ci")

    with pytest.raises(CommandError, match="already has a token called ci"):
        create(analyst.username, "--name", "ci")

    assert ApiToken.objects.filter(user=analyst).count() == 1


@pytest.mark.parametrize("days", ["0", "-3", "100000"])
def test_days_out_of_range_are_refused(analyst, days):
    with pytest.raises(CommandError, match="from 1 to"):
        create(analyst.username, "--days", days)

    assert not ApiToken.objects.exists()


def test_an_unknown_or_deactivated_user_gets_no_token(analyst):
    analyst.is_active = False
    analyst.save()

    with pytest.raises(CommandError, match="No user"):
        create("nobody")
    with pytest.raises(CommandError, match="deactivated"):
        create(analyst.username)

    assert not ApiToken.objects.exists()


def test_a_user_with_no_role_gets_a_token_and_a_warning(no_role_user):
    _, told = create(no_role_user.username)

    assert "no role" in told


def test_revoking_by_name_leaves_the_other_tokens_working(api, analyst):
    ci, _ = create(analyst.username, "--name", "ci")
    laptop, _ = create(analyst.username, "--name", "laptop")

    said = revoke(analyst.username, "--name", "ci")

    assert "Revoked 1" in said and ci not in said
    assert (reads(api, ci), reads(api, laptop)) == (401, 200)


def test_revoking_by_prefix(api, analyst):
    key = api_token(analyst)
    prefix = ApiToken.objects.get(user=analyst).prefix

    revoke(analyst.username, "--prefix", prefix)

    assert reads(api, key) == 401


def test_revoking_all_of_a_users_tokens(api, analyst, viewer):
    keys = [api_token(analyst), api_token(analyst)]
    other = api_token(viewer)

    said = revoke(analyst.username, "--all")

    assert "Revoked 2" in said
    assert [reads(api, key) for key in keys] == [401, 401]
    assert reads(api, other) == 200


def test_revoking_needs_a_name_a_prefix_or_all(analyst):
    api_token(analyst)

    with pytest.raises(CommandError, match="one of the arguments"):
        revoke(analyst.username)
    with pytest.raises(CommandError, match="no such live token"):
        revoke(analyst.username, "--name", "missing")

    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_a_name_is_free_again_once_its_token_is_revoked(analyst):
    create(analyst.username, "--name", "ci")
    revoke(analyst.username, "--name", "ci")

    create(analyst.username, "--name", "ci")

    assert ApiToken.objects.filter(user=analyst, name="ci").count() == 2
