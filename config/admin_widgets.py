"""Admin autocomplete widgets that survive a value their field cannot parse.

Django's autocomplete widgets look the submitted value up again to re-render an invalid
form, so a hand-made POST such as `measure=abc` raised a 500 instead of showing the form's
"Select a valid choice" error. These drop such values before the lookup."""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class ParsableValuesOnly:
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

        return super().optgroups(name, [item for item in value if parses(item)], attr)


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
