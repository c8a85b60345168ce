"""A measure's history in pages of constant cost at any depth: keyset pages in history order
(latest first: effective_date, recorded_at, id, all descending), read by the index on
(measure, effective_date, recorded_at, id). No COUNT and no OFFSET into history: the last page
of 30,000 entries costs what the first does."""

import base64
from datetime import date, datetime
from urllib import parse

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.api import positive_int

# `page` is still taken for the first pages (an OFFSET over at most this many pages' rows);
# deeper pages are reached by following `next`.
MAX_PAGE_NUMBER = 10


class HistoryPagination(pagination.BasePagination):
    """Latest first, `page_size` entries a page (default 50, at most API_MAX_PAGE_SIZE);
    `next` is a cursor just after the page's last entry, null on the last page."""

    cursor_query_param = "cursor"
    page_query_param = "page"
    page_size_query_param = "page_size"
    page_size = 50

    def paginate_queryset(self, history, request, view=None):
        """`history(after)`: the entries after the position `after` (None: from the latest),
        such as selectors.measure_history."""
        self.request = request
        size = self.get_page_size(request)
        number = self.page_number(request)
        after = self.decode_cursor(request)
        queryset = history(after)
        start = (number - 1) * size if after is None else 0
        rows = list(queryset[start : start + size + 1])
        self.has_next = len(rows) > size
        self.page = rows[:size]
        return self.page

    def get_page_size(self, request) -> int:
        if self.page_size_query_param in request.query_params:
            size = positive_int(request.query_params[self.page_size_query_param], "page_size")
            return min(size, settings.API_MAX_PAGE_SIZE)
        return self.page_size

    def page_number(self, request) -> int:
        value = request.query_params.get(self.page_query_param)
        if value is None:
            return 1
        number = positive_int(value, self.page_query_param)
        if number > MAX_PAGE_NUMBER:
            raise exceptions.ValidationError(
                {
                    self.page_query_param: [
                        _("Pages past %(max)s are reached by following `next`.")
                        % {"max": MAX_PAGE_NUMBER}
                    ]
                }
            )
        if self.cursor_query_param in request.query_params:
            raise exceptions.ValidationError(
                {self.page_query_param: [_("Give either page or cursor, not both.")]}
            )
        return number

    def decode_cursor(self, request) -> tuple[date, datetime, int] | None:
        """The position a `next` link gave out; a 400 for anything else."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = base64.urlsafe_b64decode(encoded.encode("ascii")).decode("ascii")
            parts = dict(parse.parse_qsl(text, strict_parsing=True))
            position = (
                date.fromisoformat(parts["d"]),
                datetime.fromisoformat(parts["t"]),
                int(parts["i"]),
            )
            if set(parts) != {"d", "t", "i"} or position[1].tzinfo is None:
                raise ValueError
        except (ValueError, UnicodeError, KeyError):
            raise exceptions.ValidationError(
                {"cursor": [_("This cursor was not given out by the API; start without one.")]}
            ) from None
        return position

    def encode_cursor(self, entry) -> str:
        position = {
            "d": entry.effective_date.isoformat(),
            "t": entry.recorded_at.isoformat(),
            "i": str(entry.pk),
        }
        token = base64.urlsafe_b64encode(parse.urlencode(position).encode("ascii")).decode()
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, token)

    def get_paginated_response(self, data):
        next_link = self.encode_cursor(self.page[-1]) if self.has_next else None
        return Response({"next": next_link, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next (older) entries; null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where to continue: take it from `next`, never build it.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": f"The first {MAX_PAGE_NUMBER} pages may also be asked for by "
                "number (1 is the latest entries); past them, follow `next`.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Entries per page.",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
