"""django-axes' sign-in records in the admin's language and at scale.

Its own admin builds a column title and a count of attempts in English words that no
catalogue reaches (the rest of its words are in locale/). And every sign-in adds a row to its
logs: their lists are counted by estimate, a path is typed rather than chosen from every path
the log holds, and the date filter stands in for the date hierarchy (the logs have no index
on the time to find the first and the last)."""

from axes import admin as axes_admin
from axes.conf import settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin_filters import value_filter
from config.admin_paginator import GrowingTableAdmin

PathFilter = value_filter("path_info", AccessLog._meta.get_field("path_info").verbose_name)


class SignInLogAdmin(GrowingTableAdmin):
    """Mixed into each of axes' admins: newest first by the primary key's index."""

    date_hierarchy = None
    ordering = ("-id",)

    def get_list_filter(self, request):
        return [
            PathFilter if item == "path_info" else item for item in super().get_list_filter(request)
        ]


class AccessAttemptAdmin(SignInLogAdmin, axes_admin.AccessAttemptAdmin):
    @admin.display(description=_("status"))
    def status(self, obj):
        left = settings.AXES_FAILURE_LIMIT - obj.failures_since_start
        if left <= 0:
            return _("Locked Out")
        return ngettext("%(count)d attempt left", "%(count)d attempts left", left) % {"count": left}

    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        count = self.handler.clean_expired_user_attempts(request=request)
        self.message_user(
            request,
            ngettext(
                "Cleaned up %(count)d expired access attempt.",
                "Cleaned up %(count)d expired access attempts.",
                count,
            )
            % {"count": count},
        )


class AccessLogAdmin(SignInLogAdmin, axes_admin.AccessLogAdmin):
    pass


class AccessFailureLogAdmin(SignInLogAdmin, axes_admin.AccessFailureLogAdmin):
    pass


# This module is imported before axes' own admin (dashboard comes first): import it, then
# replace what it registered.
for model, model_admin in (
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)
