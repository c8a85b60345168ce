"""Conditional reads: every list and detail the API reads, and the feed, carry an ETag that
changes whenever the body would, and answer If-None-Match with 304 Not Modified when it has
not. The tag is a digest of the change counters of the tables the body shows (freshness) and
of everything in the request that shapes the body; a 304 costs authentication, permissions
and throttling, never the body's queries: with a token, the counters are read in the token
lookup's statement (tokens.selectors), otherwise in one query on a table of a few dozen rows."""

import hashlib
import re

from django.http import HttpResponseNotModified
from django.utils import translation
from rest_framework import exceptions

from freshness.markers import changes, changes_in, tables_of
from freshness.triggers import TRACKED

# Raise it when a release changes how a body is written for the same data (a new field, a
# renamed one): tags given out before then stop matching.
BODY_FORMAT = 1

# A version first (measures, evidence, sources: for If-Match), then the digest; or the
# digest alone, weak. Either may come back in If-None-Match, weak or not.
TAG = re.compile(r'\s*(?:W/)?"(?:\d{1,12}\.)?([0-9a-f]{20})"\s*')


class NotModified(exceptions.APIException):
    status_code = 304

    def __init__(self, tag: str):
        super().__init__()
        self.tag = tag


def digest(request, tables: tuple[str, ...]) -> str:
    """What the body depends on: the tables' change counter and the request (its absolute URL
    with the query, the media type asked for, the language, the user)."""
    # Read with the token, in its own statement, when a token authenticated the request.
    counters = getattr(getattr(request, "auth", None), "table_changes", None)
    parts = (
        BODY_FORMAT,
        changes(tables) if counters is None else changes_in(counters, tables),
        request.build_absolute_uri(),
        request.accepted_media_type or "",
        translation.get_language() or "",
        request.user.pk,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def matching_tag(request, current: str) -> str | None:
    """The tag in If-None-Match whose digest is `current` (weak comparison), or None."""
    header = request.headers.get("If-None-Match", "")
    for candidate in header.split(","):
        match = TAG.fullmatch(candidate)
        if match and match.group(1) == current:
            return candidate.strip()
    return None


class ConditionalReads:
    """A viewset mixin: GET on `conditional_actions` gets an ETag, and a 304 when the client's
    If-None-Match still holds. `freshness_models` are the models whose rows the bodies show,
    through tables included (by default every tracked table). A response that already has an
    ETag (a record's version, for If-Match) keeps the version in front: "3.<digest>"."""

    conditional_actions = ("list", "retrieve")
    freshness_models: tuple = ()

    def freshness_tables(self) -> tuple[str, ...]:
        return tables_of(*self.freshness_models) if self.freshness_models else TRACKED

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.read_digest = None
        if request.method == "GET" and self.action in self.conditional_actions:
            self.read_digest = digest(request, self.freshness_tables())
            tag = matching_tag(request, self.read_digest)
            if tag is not None:
                raise NotModified(tag)

    def handle_exception(self, exc):
        if isinstance(exc, NotModified):
            return HttpResponseNotModified(headers={"ETag": exc.tag})
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "read_digest", None) and response.status_code == 200:
            version = re.fullmatch(r'"(\d{1,12})"', response.get("ETag", ""))
            response["ETag"] = (
                f'"{version.group(1)}.{self.read_digest}"' if version else f'W/"{self.read_digest}"'
            )
        return response
