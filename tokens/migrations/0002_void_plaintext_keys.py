"""Keys that DRF's authtoken stored in clear are void: they sat in every backup and were
readable by every superuser, so they are treated as exposed. Each becomes a revoked token
(its digest only, named "legacy token"), so the token list shows who had one; then the
plaintext table is dropped. Clients need a new key (`manage.py create_api_token`)."""

import hashlib
import secrets
import string
from datetime import UTC, timedelta

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"


def void_plaintext_keys(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if LEGACY_TABLE not in connection.introspection.table_names(cursor):
            return
        table = connection.ops.quote_name(LEGACY_TABLE)
        cursor.execute(f'SELECT "key", "user_id", "created" FROM {table}')
        rows = cursor.fetchall()
    ApiToken = apps.get_model("tokens", "ApiToken")
    now = timezone.now()
    alphabet = string.ascii_lowercase + string.digits
    for key, user_id, created in rows:
        if isinstance(created, str):
            created = parse_datetime(created)
        if timezone.is_naive(created):
            created = timezone.make_aware(created, UTC)
        ApiToken.objects.create(
            user_id=user_id,
            name="legacy token",
            prefix="pt_" + "".join(secrets.choice(alphabet) for _ in range(10)),
            digest=hashlib.sha256(key.encode()).hexdigest(),
            created_at=min(created, now - timedelta(seconds=1)),
            expires_at=now,
            revoked_at=now,
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")


class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_api_token")]

    operations = [migrations.RunPython(void_plaintext_keys, migrations.RunPython.noop)]
