import functools

import orjson
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef
from django.db.models.expressions import RawSQL

from freshness.markers import all_changes_sql
from recommendations.roles import has_role

from . import keys
from .models import ApiToken

# Stands in for the prefix while the lookup is compiled; no key has it (keys.prefix_of).
PREFIX_MARK = "\x00prefix"


def lookup(prefix: str, vendor: str):
    """The token with `prefix`, its user, `has_role` (whether the user is a viewer or an
    analyst) and `table_changes` (every change counter, as JSON: a conditional read of the
    API compares them and needs no query of its own, config.conditional), as one query."""
    return (
        ApiToken.objects.select_related("user")
        .annotate(
            has_role=has_role(OuterRef("user_id")),
            table_changes=RawSQL(all_changes_sql(vendor), ()),
        )
        .filter(prefix=prefix)  # unique
        .order_by()[:1]
    )


@functools.lru_cache(maxsize=8)
def compiled_lookup(alias: str, vendor: str) -> tuple[str, tuple, int, dict]:
    """`lookup`'s SQL and parameters, compiled once per process and database; where the
    prefix goes among the parameters; and the database's converters of the row's values (the
    ORM's own: SQLite's dates, say). Compiling the query (a join and an EXISTS) cost more than
    sending it, on every authenticated request."""
    compiler = lookup(PREFIX_MARK, vendor).query.get_compiler(alias)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    columns = {
        "token": compiler.klass_info["select_fields"],
        "user": compiler.klass_info["related_klass_infos"][0]["select_fields"],
        **{name: [position] for name, position in compiler.annotation_col_map.items()},
    }
    return sql, tuple(params), params.index(PREFIX_MARK), converters, columns


def token_for_key(key: str) -> ApiToken | None:
    """The token whose key `key` is, revoked and expired ones included, with its user and
    `has_role` loaded in the same single query (`lookup`); None when no token has this key. A
    malformed key costs no query."""
    prefix = keys.prefix_of(key)
    if prefix is None:
        return None
    sql, params, at, converters, columns = compiled_lookup(connection.alias, connection.vendor)
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
    token = ApiToken.from_db(
        connection.alias, _fields(ApiToken), [row[i] for i in columns["token"]]
    )
    token.has_role = bool(row[columns["has_role"][0]])
    token.table_changes = orjson.loads(row[columns["table_changes"][0]] or "{}")
    token.user = get_user_model().from_db(
        connection.alias, _fields(get_user_model()), [row[i] for i in columns["user"]]
    )
    if not keys.matches(key, token.digest):
        return None
    return token


def _fields(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]
