import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef

from recommendations.roles import has_role

from . import keys
from .models import ApiToken

# Stands in for the prefix while the lookup is compiled; no key has it (keys.prefix_of).
PREFIX_MARK = "\x00prefix"


def lookup(prefix: str):
    """The token with `prefix`, its user and `has_role` (whether the user is a viewer or an
    analyst), as one query."""
    return (
        ApiToken.objects.select_related("user")
        .annotate(has_role=has_role(OuterRef("user_id")))
        .filter(prefix=prefix)  # unique
        .order_by()[:1]
    )


@functools.lru_cache(maxsize=8)
def compiled_lookup(alias: str, vendor: str) -> tuple[str, tuple, int, dict]:
    """`lookup`'s SQL and parameters, compiled once per process and database; where the
    prefix goes among the parameters; and the database's converters of the row's values (the
    ORM's own: SQLite's dates, say). Compiling the query (a join and an EXISTS) cost more than
    sending it, on every authenticated request."""
    compiler = lookup(PREFIX_MARK).query.get_compiler(alias)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    return sql, tuple(params), params.index(PREFIX_MARK), converters


def token_for_key(key: str) -> ApiToken | None:
    """The token whose key `key` is, revoked and expired ones included, with its user and
    `has_role` loaded in the same single query (`lookup`); None when no token has this key. A
    malformed key costs no query."""
    prefix = keys.prefix_of(key)
    if prefix is None:
        return None
    sql, params, at, converters = compiled_lookup(connection.alias, connection.vendor)
    params = (*params[:at], prefix, *params[at + 1 :])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    for position, (functions, expression) in converters.items():
        for convert in functions:
            row[position] = convert(row[position], expression, connection)
    token_fields, user_fields = _fields(ApiToken), _fields(get_user_model())
    split = len(token_fields)
    token = ApiToken.from_db(connection.alias, token_fields, row[:split])
    token.has_role = bool(row[split])
    token.user = get_user_model().from_db(connection.alias, user_fields, row[split + 1 :])
    if not keys.matches(key, token.digest):
        return None
    return token


def _fields(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]
