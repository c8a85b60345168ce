"""Issuing, using and revoking API tokens. The key is returned once, by create_token; the
database keeps only its digest (tokens.keys)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from . import keys
from .models import ApiToken

# Ten years: a token needs an end, and a date this far off still fits every database.
MAX_DAYS = 3650


@transaction.atomic
def create_token(
    *, user, name: str = "", days: int | None = None, now: datetime
) -> tuple[ApiToken, str]:
    """A new token of `user`, valid `days` days from `now` (API_TOKEN_DAYS by default), and
    its key. The key is never stored and never returned again: this is its only copy.

    Raises ValidationError, writing nothing, for an inactive user, a name the user already
    gives a live token, or a number of days out of range.
    """
    days = settings.API_TOKEN_DAYS if days is None else days
    key = keys.new_key()
    prefix = key[: keys.PREFIX_LENGTH]
    name = name.strip() or f"token-{prefix.removeprefix(keys.PREFIX_START)}"
    check_token_allowed(user=user, name=name, days=days)
    token = ApiToken(
        user=user,
        name=name,
        prefix=prefix,
        digest=keys.digest_of(key),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    token.full_clean()
    token.save()
    return token, key


def check_token_allowed(*, user, name: str, days: int) -> None:
    """Raises ValidationError when `user` may not have a new token called `name` lasting
    `days` days: an inactive user, a name taken by a live token, days out of range."""
    if not user.is_active:
        raise ValidationError(
            {"user": _("%(user)s is deactivated; a token would not work.") % {"user": user}}
        )
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            {"days": _("A token lasts from 1 to %(max)s days.") % {"max": MAX_DAYS}}
        )
    taken = ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).first()
    if taken is not None:
        raise ValidationError(
            {
                "name": _(
                    "%(user)s already has a token called %(name)s (%(prefix)s); revoke it or "
                    "choose another name."
                )
                % {"user": user, "name": name, "prefix": taken.prefix}
            }
        )


@transaction.atomic
def revoke_tokens(
    *, user, name: str = "", prefix: str = "", every: bool = False, now: datetime
) -> list[ApiToken]:
    """Revoke `user`'s live token called `name`, or the one with `prefix`, or with `every`
    all of them; the revoked tokens (none when nothing matched). Requests that send a revoked
    token are refused (401) from now on. Rows are kept, with the time they were revoked.

    Raises ValidationError unless exactly one of `name`, `prefix` and `every` is given.
    """
    if sum(map(bool, (name, prefix, every))) != 1:
        raise ValidationError(_("Name one token (by name or prefix), or ask for all of them."))
    live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    if not every:
        live = live.filter(Q(name=name) if name else Q(prefix=prefix))
    revoked = list(live)
    for token in revoked:
        revoke_token(token=token, now=now)
    return revoked


def revoke_token(*, token: ApiToken, now: datetime) -> None:
    """Revoke one token (no-op when it already is). A save, not an UPDATE, so that anything
    that records changes to rows sees this one."""
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])


def note_use(*, token: ApiToken, now: datetime) -> None:
    """Record that `token` was used at `now`, at most once every API_TOKEN_LAST_USED_MINUTES:
    reading the API does not turn every request into a write. An UPDATE guarded by the
    same condition, so that app servers racing to note a use write once between them, and
    not a save: a token's use is not a change of the token."""
    due = now - timedelta(minutes=settings.API_TOKEN_LAST_USED_MINUTES)
    if token.last_used_at is not None and token.last_used_at > due:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=due), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now
