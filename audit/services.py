"""Writing the trail: who made a change and through what.

Each entry is stamped from the context it was made in. A web request sets one for its whole
length (RecordChanges, middleware): the channel is "api" under /api/, "admin" under the
admin, and the actor is the request's user as it stands when the change is written, so a
user signed in by an API token in the view counts. A management command sets the channel
"command" and its name (record_commands). Outside both (a shell script importing the app) the
channel is "other".
"""

import functools
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from auditlog.context import auditlog_disabled, disable_auditlog
from auditlog.diff import model_instance_diff
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand
from django.db.models import Model
from django.urls import reverse

from config.api import client_address
from config.middleware import is_api

from .models import Change, Channel
from .registry import tracked


@dataclass(frozen=True)
class Context:
    channel: str
    via: str = ""
    request: object | None = None  # the HttpRequest, read when a change is written


_context: ContextVar[Context | None] = ContextVar("audit_context", default=None)


@contextmanager
def recording(channel: str, via: str = "", *, request=None) -> Iterator[None]:
    """Stamp changes made inside the block with `channel`, `via` and the request's user."""
    token = _context.set(Context(channel=channel, via=via[:255], request=request))
    try:
        yield
    finally:
        _context.reset(token)


def current() -> Context:
    return _context.get() or Context(channel=Channel.OTHER)


def stamp(instance: Model, entry: dict) -> dict:
    """`entry` (a Change's fields) with who, through what, the record `instance` belongs to,
    and for a model whose key is a secret, a harmless name for it."""
    context = current()
    entry.setdefault("channel", context.channel)
    entry.setdefault("via", context.via)
    user = getattr(context.request, "user", None)
    if user is not None and user.is_authenticated:
        entry.setdefault("actor_user_id", user.pk)
        entry.setdefault("actor_username", user.get_username())
        entry.setdefault("actor_email", getattr(user, "email", "") or None)
    if context.request is not None:
        entry.setdefault("remote_addr", ip_address_or_none(client_address(context.request)))
    if entry.get("changes"):
        entry["changes"] = own_fields(instance, entry["changes"])
    item = tracked(type(instance))
    if item is not None and item.identity is not None:
        object_id, text = item.identity(instance)
        entry["object_pk"], entry["object_id"], entry["object_repr"] = (
            str(object_id),
            object_id,
            text,
        )
    if item is not None and item.parent:
        parent_field = instance._meta.get_field(item.parent)
        entry.setdefault("parent_model", parent_field.related_model._meta.label_lower)
        entry.setdefault("parent_id", getattr(instance, parent_field.attname))
    return entry


def ip_address_or_none(value: str | None) -> str | None:
    """`value` if it is an IP address (behind proxies it comes from a header), else None."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def own_fields(instance: Model, changes: dict) -> dict:
    """`changes` without what auditlog also reports of a record created or deleted: its
    reverse relations ("evidence_links": "evidence.EvidenceMeasure.None"), which are no
    value of it. Many-to-many changes are kept."""
    names = {field.name for field in instance._meta.concrete_fields}
    return {
        name: value
        for name, value in changes.items()
        if name in names or (isinstance(value, dict) and value.get("type") == "m2m")
    }


class RecordChanges:
    """Middleware: changes made while serving a request are stamped with its channel, its
    method and path, its user and the client's address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with recording(channel_of(request), f"{request.method} {request.path}", request=request):
            return self.get_response(request)


def channel_of(request) -> str:
    if is_api(request):
        return Channel.API
    if request.path.startswith(reverse("admin:index")):
        return Channel.ADMIN
    return Channel.OTHER


# Commands whose writes are no change anyone made: restoring a backup puts back rows, the
# trail's own included, as they were recorded; migrate and flush rebuild the role groups from
# recommendations/roles.py, which is code (and a restore goes into a freshly migrated database,
# whose trail must be empty for the backup's to go back with its ids).
NOT_CHANGES = {"loaddata", "migrate", "flush"}


def record_commands() -> None:
    """Run every management command inside `recording("command", <its name>)`.

    Django sends no signal when a command starts, so BaseCommand.execute (which call_command
    and manage.py both go through) is wrapped once, here.
    """
    if getattr(BaseCommand.execute, "records_changes", False):
        return
    execute = BaseCommand.execute

    @functools.wraps(execute)
    def execute_recording(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        if name in NOT_CHANGES:
            with disable_auditlog():
                return execute(self, *args, **options)
        with recording(Channel.COMMAND, name):
            return execute(self, *args, **options)

    execute_recording.records_changes = True
    BaseCommand.execute = execute_recording


def record_bulk_creates(model: type[Model]) -> None:
    """Record the rows `model.objects.bulk_create` inserts, which send no signal for auditlog
    to see (evidence's figures and links are written so), with one more INSERT for all."""
    manager = model._default_manager
    bulk_create = manager.bulk_create

    @functools.wraps(bulk_create)
    def bulk_create_recording(objs, *args, **kwargs):
        created = bulk_create(objs, *args, **kwargs)
        if not auditlog_disabled.get():
            log_created(model, created)
        return created

    manager.bulk_create = bulk_create_recording


def log_created(model: type[Model], objs: list[Model]) -> None:
    content_type = ContentType.objects.get_for_model(model)
    entries = []
    for obj in objs:
        if obj.pk is None:  # a backend that returns no ids: nothing to name the row by
            continue
        entry = stamp(
            obj,
            {
                "content_type": content_type,
                "object_pk": str(obj.pk),
                "object_id": obj.pk if isinstance(obj.pk, int) else None,
                "object_repr": str(obj),
                "action": Change.Action.CREATE,
                "changes": model_instance_diff(
                    None, obj, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES
                ),
            },
        )
        entries.append(Change(**entry))
    Change.objects.bulk_create(entries)
