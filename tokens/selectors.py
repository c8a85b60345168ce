from django.db.models import OuterRef

from recommendations.roles import has_role

from . import keys
from .models import ApiToken


def token_for_key(key: str) -> ApiToken | None:
    """The token whose key `key` is, revoked and expired ones included, with its user and
    `has_role` (whether the user is a viewer or an analyst) loaded in the same single query;
    None when no token has this key. A malformed key costs no query."""
    prefix = keys.prefix_of(key)
    if prefix is None:
        return None
    found = (
        ApiToken.objects.select_related("user")
        .annotate(has_role=has_role(OuterRef("user_id")))
        .filter(prefix=prefix)  # unique
        .order_by()[:1]
    )
    token = next(iter(found), None)
    if token is None or not keys.matches(key, token.digest):
        return None
    return token
