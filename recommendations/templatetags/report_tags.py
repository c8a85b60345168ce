"""Small filters for the status report's HTML page."""

from django import template

from ..choices import Status

register = template.Library()


@register.filter
def status_label(status: str | None) -> str:
    return str(Status(status).label) if status else "–"


@register.filter
def in_lang(item, lang: str) -> str:
    """The item's title (or claim) in the report's language."""
    for field in ("title", "claim"):
        zh = (
            getattr(item, f"{field}_zh", None)
            if not isinstance(item, dict)
            else item.get(f"{field}_zh")
        )
        en = (
            getattr(item, f"{field}_en", None)
            if not isinstance(item, dict)
            else item.get(f"{field}_en")
        )
        if zh is not None or en is not None:
            return (zh or en) if lang == "zh" else (en or zh)
    return ""


@register.filter
def percent(value) -> str:
    return "–" if value is None else f"{value:g}%"


@register.filter
def signed(value) -> str:
    return "–" if value is None else f"{value:+g}"


@register.filter
def share(value) -> str:
    return "–" if value is None else f"{value:.0%}"


@register.filter
def by_status(summary, status: str) -> int:
    return summary.by_status[status]
