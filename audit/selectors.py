"""Reading the trail: what a user may see of it, and one record's trail."""

from django.db.models import Q, QuerySet

from .models import Change
from .registry import private_labels


def by_label(label: str) -> Q:
    app_label, _, model = label.partition(".")
    return Q(content_type__app_label=app_label, content_type__model=model)


def visible_changes(user) -> QuerySet[Change]:
    """The entries `user` may read, newest first: all for a superuser; for anyone else, all
    but those of users, groups and tokens (registry: `private`), which say who holds which
    access."""
    changes = Change.objects.select_related("content_type").order_by("-id")
    if getattr(user, "is_superuser", False):
        return changes
    for label in private_labels():
        changes = changes.exclude(by_label(label))
    return changes


def trail(changes: QuerySet[Change], label: str | None, object_id: int | None) -> QuerySet:
    """The entries of one record: of `label` (app_label.model) and `object_id`, and of the
    records that belong to it (a measure's links, an evidence's figures and links)."""
    if object_id is None:
        return changes.filter(by_label(label)) if label else changes
    if label is None:
        return changes.filter(object_id=object_id)
    return changes.filter(
        (by_label(label) & Q(object_id=object_id)) | Q(parent_model=label, parent_id=object_id)
    )
