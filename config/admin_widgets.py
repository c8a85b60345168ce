"""Admin autocomplete widgets that survive a value their field cannot parse, and inline rows
that cost no query each.

Django's autocomplete widgets look the submitted value up again to re-render an invalid
form, so a hand-made POST such as `measure=abc` raised a 500 instead of showing the form's
"Select a valid choice" error. These drop such values before the lookup.

Each row of an inline also looked up the record its autocomplete shows, and its name read
the page's record again: a measure with 30 institutions cost 90 queries. PreloadedRowsFormSet
gives each row what it shows, loaded with the rows."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class ParsableValuesOnly:
    # The records some of the widget's values name, already loaded (PreloadedRowsFormSet):
    # str(pk) -> record. When every value is one of them, rendering reads nothing.
    known: dict = {}

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        opts = remote.model._meta
        target = opts.get_field(getattr(remote, "field_name", None) or opts.pk.name)

        def parses(item) -> bool:
            try:
                target.to_python(item)
            except ValidationError:
                return False
            return True

        value = [item for item in value if parses(item)]
        if value and all(str(item) in self.known for item in value):
            return self.known_optgroups(name, value, target.attname)
        return super().optgroups(name, value, attr)

    def known_optgroups(self, name, value, to_field: str):
        """Django's AutocompleteMixin.optgroups, from the known records."""
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        selected = {str(item) for item in value}
        for item in value:
            record = self.known[str(item)]
            label = self.choices.field.label_from_instance(record)
            options.append(
                self.create_option(name, getattr(record, to_field), label, selected, len(options))
            )
        return [(None, options, 0)]


class SafeAutocompleteSelect(ParsableValuesOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(ParsableValuesOnly, AutocompleteSelectMultiple):
    pass


class SafeAutocomplete:
    """A ModelAdmin or inline mixin: its autocomplete_fields use the widgets above."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class PreloadedRowsFormSet(forms.BaseInlineFormSet):
    """An inline formset whose rows read nothing to show themselves: each row's record is
    given the page's record (its name shows it: "3.2 – …"), and each autocomplete widget of a
    row the record it links to, which the inline loads with the rows (LinkRowsInline)."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        row = form.instance
        if row.pk is None or self.instance.pk is None:
            return form
        setattr(row, self.fk.name, self.instance)
        for name, field in form.fields.items():
            widget = getattr(field.widget, "widget", field.widget)  # inside the admin's wrapper
            if not isinstance(widget, ParsableValuesOnly):
                continue
            model_field = row._meta.get_field(name)
            if model_field.many_to_one and model_field.is_cached(row):
                linked = getattr(row, name)
                if linked is not None:
                    widget.known = {str(getattr(linked, model_field.target_field.attname)): linked}
        return form


class LinkRowsInline(SafeAutocomplete):
    """An inline mixin for link rows edited with autocomplete widgets: the rows come with the
    records they link to, and render without a query each. Its formset, if it sets one, is
    a PreloadedRowsFormSet."""

    formset = PreloadedRowsFormSet

    def get_queryset(self, request):
        linked = [
            name
            for name in self.get_autocomplete_fields(request)
            if self.model._meta.get_field(name).many_to_one
        ]
        return super().get_queryset(request).select_related(*linked)


def is_autocomplete(request) -> bool:
    """Whether `request` is an autocomplete widget's lookup (the admin's autocomplete view)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


class IndexedAutocomplete:
    """A ModelAdmin mixin for a large table that autocomplete widgets search: a lookup reads
    `autocomplete_search_fields`, each of which an index serves (a prefix `^code` on an index
    of UPPER(code) text_pattern_ops, a word on a trigram index of UPPER(title) on PostgreSQL),
    rather than the list's own search_fields, and reads the bare rows, without the columns
    the list adds (get_list_queryset)."""

    autocomplete_search_fields: tuple[str, ...] = ()

    def get_search_fields(self, request):
        if is_autocomplete(request):
            return self.autocomplete_search_fields
        return super().get_search_fields(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if is_autocomplete(request) else self.get_list_queryset(queryset)

    def get_list_queryset(self, queryset):
        return queryset
