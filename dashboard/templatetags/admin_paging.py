"""The "Older entries" link of a list paged by keyset (config.admin_filters.OlderThanFilter)."""

from django import template
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR

from config.admin_filters import OlderThanFilter

register = template.Library()


@register.simple_tag
def older_entries_link(cl) -> str:
    """The list after the page's last row, or "" when the list is not paged by keyset, is
    sorted by a column (the keyset follows the default order only) or ends on this page."""
    spec = next((s for s in cl.filter_specs if isinstance(s, OlderThanFilter)), None)
    if spec is None or ORDER_VAR in cl.params or len(cl.result_list) < cl.list_per_page:
        return ""
    last = list(cl.result_list)[-1]  # evaluated already, by the list itself
    return cl.get_query_string({spec.parameter_name: last.pk}, [PAGE_VAR])
