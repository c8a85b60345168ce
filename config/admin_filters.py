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
