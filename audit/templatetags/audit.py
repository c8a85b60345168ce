from django import template

from ..admin import changes_html, trail_url
from ..registry import tracked
from ..selectors import trail, visible_changes

register = template.Library()

# The History page lists this many; the link shows them all.
LATEST = 20


@register.simple_tag(takes_context=True)
def audit_trail(context, obj) -> dict:
    """The latest entries of `obj`'s trail that the user may see, and the link to all."""
    item = tracked(type(obj))
    object_id = item.identity(obj)[0] if item and item.identity else obj.pk
    model = obj._meta.concrete_model  # a proxy's entries are its concrete model's
    label = model._meta.label_lower
    changes = trail(visible_changes(context["request"].user), label, object_id)[:LATEST]
    return {
        "url": trail_url(model, object_id),
        "entries": [{"change": change, "html": changes_html(change)} for change in changes],
    }
