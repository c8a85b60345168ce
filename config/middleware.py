"""What every page outside the API shares (the API answers these itself, in JSON): a null
character in a query string is a 400, and a database that is busy or restarting is a 503
page asking to retry, not a server error."""

from django.db import DatabaseError
from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

from config import errors
from config.api import ServiceUnavailable, database_error


def is_api(request) -> bool:
    return request.path.startswith("/api/")


class PageGuards:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api(request) and any(
            "\x00" in name or any("\x00" in value for value in values)
            for name, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(_("Null characters are not allowed."))
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_api(request) or not isinstance(exception, DatabaseError):
            return None
        if not isinstance(database_error(exception), ServiceUnavailable):
            return None
        return errors.service_unavailable(request)
