"""What an API key looks like, and the only form in which the database holds it.

A key is `pt_` + a 10-character lookup id + `_` + a 43-character secret (32 random bytes,
URL-safe base64): `pt_k3v9x0q2mz_Xq...`. The first 13 characters are the token's `prefix`,
stored in clear to find the row (and shown in lists, so people can tell tokens apart); the
database keeps only the SHA-256 of the whole key. With 256 random bits behind it, a plain
SHA-256 cannot be reversed or guessed, so no slow password hash is needed and checking a key
costs microseconds.
"""

import hashlib
import hmac
import re
import secrets
import string

PREFIX_START = "pt_"
PREFIX_LENGTH = len(PREFIX_START) + 10
KEY_PATTERN = re.compile(r"pt_[a-z0-9]{10}_[A-Za-z0-9_-]{43}")
LOOKUP_ALPHABET = string.ascii_lowercase + string.digits


def new_key() -> str:
    lookup = "".join(secrets.choice(LOOKUP_ALPHABET) for _ in range(PREFIX_LENGTH - 3))
    return f"{PREFIX_START}{lookup}_{secrets.token_urlsafe(32)}"


def prefix_of(key: str) -> str | None:
    """The prefix of a well-formed key; None for anything else (no query is worth it)."""
    return key[:PREFIX_LENGTH] if KEY_PATTERN.fullmatch(key) else None


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, digest: str) -> bool:
    """Whether `key` is the key whose digest is stored, in constant time."""
    return hmac.compare_digest(digest_of(key), digest)
