"""Error pages outside the API (which answers in JSON, config/api.py), in the admin's look and
the visitor's language: what happened and what to do next. They show nothing of the request's
internals (no exception text, no traceback), whatever DEBUG says."""

from django.contrib import admin
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from recommendations.roles import ANALYST, VIEWER

TEMPLATE = "errors/page.html"


def came_from(request) -> str | None:
    """The page that linked here, if it is one of this site's own (never sends anyone away)."""
    referer = request.META.get("HTTP_REFERER", "")
    allowed = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if referer and allowed else None


def error_page(
    request, status: int, title: str, message: str, advice: str, *, with_user: bool = True
) -> HttpResponse:
    """The page for `status`. With `with_user`, it has the admin's header (who is signed in,
    the language switch); without, it reads nothing from the database or the session, for a
    server error or a busy database."""
    context = {
        "site_header": admin.site.site_header,
        "site_title": admin.site.site_title,
        "title": title,
        "status": status,
        "message": message,
        "advice": advice,
        "home": reverse("admin:index"),
    }
    if with_user:
        context["has_permission"] = admin.site.has_permission(request)
        context["back"] = came_from(request)
        html = render_to_string(TEMPLATE, context, request)
    else:
        html = render_to_string(TEMPLATE, context)
    return HttpResponse(html, status=status)


def bad_request(request, exception=None, *args, **kwargs):
    return error_page(
        request,
        400,
        _("This request cannot be answered"),
        _(
            "The address or the form sent holds something the site does not accept, such as "
            "a filter the list does not offer."
        ),
        _(
            "Go back and use the page's own links and forms. If it happens again, tell an "
            "administrator what you clicked."
        ),
    )


def permission_advice(user) -> str:
    if not user.is_authenticated:
        return _("Sign in with an account that may open it.")
    names = set(user.groups.values_list("name", flat=True)) if not user.is_superuser else set()
    if not user.is_superuser and not names & {VIEWER, ANALYST}:
        return _(
            "Your account has no role yet: ask an administrator to make it a viewer or an analyst."
        )
    if VIEWER in names and ANALYST not in names:
        return _(
            "Your account can read but not change: if your work needs this page, ask an "
            "administrator for the analyst role."
        )
    return _(
        "If your work needs this page, ask an administrator to give your account access to "
        "it, and tell them its address."
    )


def permission_denied(request, exception=None, *args, **kwargs):
    return error_page(
        request,
        403,
        _("You may not open this page"),
        _("Your account does not have the permission this page needs."),
        permission_advice(request.user),
    )


def page_not_found(request, exception=None, *args, **kwargs):
    return error_page(
        request,
        404,
        _("Page not found"),
        _(
            "Nothing is at this address: it may be mistyped, or the record it points to "
            "does not exist."
        ),
        _("Find what you are looking for from the home page or one of the lists."),
    )


def server_error(request, *args, **kwargs):
    return error_page(
        request,
        500,
        _("Something went wrong on the server"),
        _("The server could not answer this request. The error has been logged."),
        _(
            "Try again in a moment. If you were saving a form, open the record first to see "
            "whether your change is there. If it happens again, tell an administrator when."
        ),
        with_user=False,
    )


def service_unavailable(request) -> HttpResponse:
    response = error_page(
        request,
        503,
        _("The database is busy"),
        _("The database is busy; try again shortly."),
        _("Nothing was changed by this request: reload the page or send the form again."),
        with_user=False,
    )
    response["Retry-After"] = "1"
    return response


def csrf_failure(request, reason: str = "", *args, **kwargs):
    """CSRF_FAILURE_VIEW: a form that cannot be shown to come from this site's own page."""
    return error_page(
        request,
        403,
        _("This form could not be checked"),
        _(
            "For your security a form is accepted only from a page this site gave your "
            "browser, and this one could not be checked: the page may be old, you may have "
            "signed in again since, or your browser may refuse this site's cookies."
        ),
        _("Go back, reload the page and send the form again. This site needs its cookies."),
    )
