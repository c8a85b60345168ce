"""Checks an app server makes before it serves its first request."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    """Stop start-up, saying what to do, when no SECRET_KEY is set. The settings leave it
    empty without DEBUG, and Django refuses to read an empty one."""
    try:
        settings.SECRET_KEY  # noqa: B018
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. For local work run `make run` "
            "(which sets DEBUG=1) or export DEBUG=1."
        ) from None
