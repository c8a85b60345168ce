"""Reads of imports: lists, and an import's rows as plain dicts in the reader's language."""

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.translation import get_language

from .models import Import, ImportRow

ROW_FIELDS = (
    "number",
    "outcome",
    "key",
    "values",
    "problems",
    "status_update_id",
    "proposal_id",
)
SEE_ALL_PERMISSION = "intake.view_import"
IMPORT_PERMISSION = "intake.add_import"


def imports() -> QuerySet:
    """Imports, newest first, with who uploaded and confirmed them."""
    return Import.objects.select_related("uploaded_by", "confirmed_by").order_by(
        "-uploaded_at", "-id"
    )


def sees_every_import(user) -> bool:
    """Analysts and superusers see every import (`intake.view_import`)."""
    return user.is_authenticated and user.has_perm(SEE_ALL_PERMISSION)


def sees_imports(user) -> bool:
    """Whether `user` sees imports at all: every one, or (a reporter, who may import) its
    own."""
    return sees_every_import(user) or (user.is_authenticated and user.has_perm(IMPORT_PERMISSION))


def visible_imports(user, rows: QuerySet | None = None) -> QuerySet:
    """The imports `user` may see, of `rows` (by default imports()): all of them, their own,
    or none."""
    rows = imports() if rows is None else rows
    if sees_every_import(user):
        return rows
    if not sees_imports(user):
        return rows.none()
    return rows.filter(uploaded_by=user)


def messages_in_language(problem: dict, language: str | None = None) -> list[str]:
    """A stored problem's messages in `language` (by default the active one), else in the
    first language it has."""
    messages = problem.get("messages") or {}
    language = language or get_language() or "en"
    return (
        messages.get(language)
        or messages.get(language.split("-")[0])
        or next(iter(messages.values()), [])
    )


def row_dicts(imported: Import) -> list[dict]:
    """Every row of the import, in the file's order, as the API shows it (one query)."""
    language = get_language()
    rows = ImportRow.objects.filter(of_import=imported).order_by("number")
    return [
        {
            "row": number,
            "outcome": outcome,
            "key": key,
            "values": values,
            "problems": [
                {
                    "field": problem.get("field"),
                    "column": problem.get("column", ""),
                    "heading": problem.get("heading", ""),
                    "messages": messages_in_language(problem, language),
                }
                for problem in problems
            ],
            "status_update": status_update,
            "proposal": proposal,
        }
        for number, outcome, key, values, problems, status_update, proposal in rows.values_list(
            *ROW_FIELDS
        )
    ]


def rows_shown(imported: Import, *, only_errors: bool = False, limit: int) -> list[ImportRow]:
    """At most `limit` rows for a page: errors first, then in the file's order."""
    rows = ImportRow.objects.filter(of_import=imported)
    if only_errors:
        rows = rows.filter(outcome=ImportRow.Outcome.ERROR)
    errors_first = Case(
        When(outcome=ImportRow.Outcome.ERROR, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return list(rows.order_by(errors_first, "number")[:limit])
