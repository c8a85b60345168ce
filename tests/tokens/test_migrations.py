"""Keys that DRF's authtoken stored in clear are void after the upgrade, and the plaintext
table is gone; the token list keeps a revoked "legacy token" row (its digest only)."""

import hashlib
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tokens.migrations.0002_void_plaintext_keys")
LEGACY_KEY = "0123456789abcdef0123456789abcdef01234567"


def test_a_plaintext_key_is_revoked_and_its_table_dropped(analyst, api):
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE "authtoken_token" ("key" varchar(40) PRIMARY KEY, '
            '"user_id" integer NOT NULL, "created" timestamp with time zone NOT NULL)'
            if connection.vendor == "postgresql"
            else 'CREATE TABLE "authtoken_token" ("key" varchar(40) PRIMARY KEY, '
            '"user_id" integer NOT NULL, "created" datetime NOT NULL)'
        )
        cursor.execute(
            'INSERT INTO "authtoken_token" VALUES (%s, %s, %s)',
            [LEGACY_KEY, analyst.pk, "2025-01-02 03:04:05"],
        )

    migration.void_plaintext_keys(apps, SimpleNamespace(connection=connection))

    assert "authtoken_token" not in connection.introspection.table_names()
    legacy = ApiToken.objects.get(user=analyst)
    assert legacy.name == "legacy token" and legacy.revoked_at is not None
    assert legacy.digest == hashlib.sha256(LEGACY_KEY.encode()).hexdigest()
    api.credentials(HTTP_AUTHORIZATION=f"Token {LEGACY_KEY}")
    assert api.get(reverse("pillar-list")).status_code == 401


def test_a_database_that_never_had_the_table_is_left_alone():
    migration.void_plaintext_keys(apps, SimpleNamespace(connection=connection))

    assert not ApiToken.objects.exists()
