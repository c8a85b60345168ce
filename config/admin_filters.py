"""A changelist filter for a column of a table that grows: the value is typed in a box.

Django's filter of a plain column lists the values the column holds, which it finds with a
SELECT DISTINCT over every row of the table: the audit trail's usernames, a sign-in log's
paths. This one lists nothing and reads nothing until a value is given."""

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR


class ValueFilter(admin.SimpleListFilter):
    """Rows whose `field` is exactly the value typed (`?<field>__exact=<value>`, the query
    Django's own filter of the column makes). Subclasses set `field` and `title`."""

    template = "admin/value_filter.html"
    field: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.parameter_name = f"{cls.field}__exact"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset

    def choices(self, changelist):
        kept = [
            (name, value)
            for name, values in changelist.filter_params.items()
            if name not in (self.parameter_name, PAGE_VAR)
            for value in values
        ]
        yield {
            "parameter": self.parameter_name,
            "value": self.value() or "",
            "kept": kept,
            "all": changelist.get_query_string(remove=[self.parameter_name]),
        }


def value_filter(field: str, title) -> type[ValueFilter]:
    """A ValueFilter of `field`, with `title` (the column's name)."""
    return type(
        f"{field.title().replace('_', '')}Filter", (ValueFilter,), {"field": field, "title": title}
    )


class OlderThanFilter(admin.SimpleListFilter):
    """Keyset paging for a list newest first by (`moment`, id): `?before=<id>` lists the rows
    that come after that row, read from the index on `moment` at whatever depth, where a page
    number past MAX_PAGES would be an OFFSET over every row before it. The list links to it
    ("Older entries") from each page while it is in its default order; nothing is shown in
    the sidebar. A `before` that is not a row's id is a 400-free empty filter: it lists
    everything, as if not given. Subclasses set `moment`."""

    title = ""
    parameter_name = "before"
    template = "admin/hidden_filter.html"
    moment: str

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def choices(self, changelist):
        return ()

    def queryset(self, request, queryset):
        value = self.value() or ""
        if not (value.isascii() and value.isdigit() and len(value) < 19):
            return queryset
        row = queryset.model.objects.filter(pk=int(value)).values(self.moment).first()
        if row is None:
            return queryset
        moment = row[self.moment]
        # The first condition alone is what the index answers; the second trims the ties.
        return queryset.filter(**{f"{self.moment}__lte": moment}).exclude(
            **{self.moment: moment, "pk__gte": int(value)}
        )
