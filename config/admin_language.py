"""What Django's admin writes in English whatever the language, written in the active one.

The catalogues in locale/ fill the gaps in Django's own (a missing msgid); this module fixes
what no catalogue can reach, because Django builds the text in English or stores it:

- the admin's change log stores each changed field's label, capitalised ("Priority"), and
  translates it when shown; no catalogue has "Priority", only the verbose name "priority".
  Entries now store the verbose name, which every catalogue has.
- permission names are stored in English ("Can add log entry"); the user and group pages
  now show the default ones in the active language.
- a delete page lists many-to-many link rows by their class ("Group_permissions object (3)").
- yes/no icons carry "True"/"False" as their text.
"""

from django.contrib.admin import utils as admin_utils
from django.db import router
from django.db.models import Model
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy, override

# The default permissions' names (Django's "Can %(action)s %(verbose_name)s"), translatable.
PERMISSION_NAMES = {
    "add": gettext_lazy("Can add %(verbose_name)s"),
    "change": gettext_lazy("Can change %(verbose_name)s"),
    "delete": gettext_lazy("Can delete %(verbose_name)s"),
    "view": gettext_lazy("Can view %(verbose_name)s"),
}

# Fields a change form carries hidden (the version it was loaded at): a read-only page has
# no form to carry them, and nothing of them to show.
HIDDEN_FORM_FIELDS = {"expected_version"}


def permission_label(permission) -> str:
    """ "app | model | what it allows", in the active language. A custom permission's name is
    looked up in the catalogues as it is stored."""
    model = permission.content_type.model_class()
    action = permission.codename.split("_", 1)[0]
    if (
        model is not None
        and action in PERMISSION_NAMES
        and permission.codename == f"{action}_{model._meta.model_name}"
    ):
        name = PERMISSION_NAMES[action] % {"verbose_name": model._meta.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{permission.content_type} | {name}"


def field_msgid(form, name: str) -> str:
    """The name the change log stores for a changed field: the model field's verbose name,
    untranslated (a catalogue has it), unless the form gives the field a label of its own."""
    field = form.fields.get(name)
    model_field = None
    if hasattr(form, "_meta") and getattr(form._meta, "model", None) is not None:
        model_field = next((f for f in form._meta.model._meta.get_fields() if f.name == name), None)
    with override(None):
        verbose = getattr(model_field, "verbose_name", None)
        label = str(field.label) if field is not None and field.label else name
        if verbose is not None and label == capfirst(str(verbose)):
            return str(verbose)
        return label


def construct_change_message(form, formsets, add: bool) -> list[dict]:
    """Django's change message (admin.utils.construct_change_message), with fields named by
    field_msgid, so that the log reads in whichever language it is shown in."""
    message = admin_utils.construct_change_message(form, formsets, add)
    # The "changed" entries, in Django's order: the form's own, then each inline's rows.
    sources = [(form, form.changed_data)] if form.changed_data and not add else []
    for formset in formsets or []:
        sources += [(formset.forms[0], fields) for _row, fields in formset.changed_objects]
    changed = [entry["changed"] for entry in message if "changed" in entry]
    for entry, (source, fields) in zip(changed, sources, strict=True):
        entry["fields"] = [field_msgid(source, name) for name in fields]
    return message


def deleted_object_label(obj: Model) -> str | None:
    """A many-to-many link row on a delete page, as its two ends; None for other rows."""
    opts = obj._meta
    if not opts.auto_created:
        return None
    ends = [f for f in opts.fields if f.is_relation and f.many_to_one]
    left, right = (getattr(obj, f.name) for f in ends)
    return gettext("Link between %(left)s and %(right)s: %(left_object)s — %(right_object)s") % {
        "left": ends[0].related_model._meta.verbose_name,
        "right": ends[1].related_model._meta.verbose_name,
        "left_object": as_text(left),
        "right_object": as_text(right),
    }


def as_text(obj: Model) -> str:
    return permission_label(obj) if obj._meta.label == "auth.Permission" else str(obj)


def link_rows_label(model) -> str:
    ends = [f for f in model._meta.fields if f.is_relation and f.many_to_one]
    return gettext("links between %(left)s and %(right)s") % {
        "left": ends[0].related_model._meta.verbose_name,
        "right": ends[1].related_model._meta.verbose_name,
    }


def get_deleted_objects(objs, request, admin_site):
    """Django's admin.utils.get_deleted_objects, with link rows named by their two ends."""
    try:
        obj = objs[0]
    except IndexError:
        return [], {}, set(), []
    collector = admin_utils.NestedObjects(using=router.db_for_write(obj._meta.model), origin=objs)
    collector.collect(objs)
    perms_needed = set()

    def format_callback(item):
        opts = item._meta
        link_row = deleted_object_label(item)
        if link_row is not None:
            return link_row
        text = capfirst(opts.verbose_name)
        if not admin_site.is_registered(item.__class__):
            return f"{text}: {item}"
        if not admin_site.get_model_admin(item.__class__).has_delete_permission(request, item):
            perms_needed.add(opts.verbose_name)
        try:
            url = reverse(
                f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[admin_utils.quote(item.pk)],
            )
        except NoReverseMatch:
            return f"{text}: {item}"
        return format_html('{}: <a href="{}">{}</a>', text, url, item)

    to_delete = collector.nested(format_callback)
    protected = [format_callback(item) for item in collector.protected]
    model_count = {
        link_rows_label(model) if model._meta.auto_created else model._meta.verbose_name_plural: (
            len(items)
        )
        for model, items in collector.model_objs.items()
    }
    return to_delete, model_count, perms_needed, protected


class TranslatedAdmin:
    """Mixed into every ModelAdmin of the site (config.admin_site)."""

    def construct_change_message(self, request, form, formsets, add=False):
        return construct_change_message(form, formsets, add)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.related_model._meta.label == "auth.Permission":
            field.label_from_instance = permission_label
        return field

    def get_deleted_objects(self, objs, request):
        return get_deleted_objects(objs, request, self.admin_site)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": without_hidden(options["fields"])})
            for name, options in fieldsets
        ]


def without_hidden(fields) -> list:
    kept = []
    for field in fields:
        if isinstance(field, (list, tuple)):
            field = [name for name in field if name not in HIDDEN_FORM_FIELDS]
            if field:
                kept.append(field)
        elif field not in HIDDEN_FORM_FIELDS:
            kept.append(field)
    return kept


def boolean_icon(value) -> str:
    """Django's yes/no/unknown icon, with its text in the active language."""
    name, text = {True: ("yes", "Yes"), False: ("no", "No"), None: ("unknown", "Unknown")}[value]
    return format_html(
        '<img src="{}" alt="{}">', static(f"admin/img/icon-{name}.svg"), gettext(text)
    )


def install() -> None:
    """Replace Django's yes/no icon (looked up at each call, so this reaches every use)."""
    from django.contrib.admin.templatetags import admin_list

    admin_list._boolean_icon = boolean_icon
