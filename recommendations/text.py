"""Picking the Chinese or English half of a bilingual field for the active language."""

from django.utils.translation import get_language


def prefers_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


def localized(obj: object, field: str) -> str:
    """`obj.<field>_zh` when the active language is Chinese, else `obj.<field>_en`; falls back
    to the other language when the preferred one is blank."""
    zh, en = getattr(obj, f"{field}_zh", ""), getattr(obj, f"{field}_en", "")
    return (zh or en) if prefers_chinese() else (en or zh)
