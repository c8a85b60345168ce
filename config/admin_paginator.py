"""Changelists of tables that grow to millions of rows: counted without a COUNT(*) over every
row, in one query whatever the size, and without filter facets."""

from functools import cached_property
from math import ceil

from django.contrib.admin import ShowFacets
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

# Below this many rows (by the planner's estimate) the exact count is cheap enough.
EXACT_COUNT_BELOW = 10_000

# A list pages this deep at most: a page is read by OFFSET, so page 100 of the status updates
# reads the 9,900 before it (page 5,000 took 2 s at 2 million). Older rows are a filter, a
# date or the other sort order away, which the indexes serve.
MAX_PAGES = 100

# On PostgreSQL a list is counted by tracker_row_count(query, exact_below) (the migration
# recommendations 0007 installs it): the planner's estimate of the rows `query` returns (an
# EXPLAIN, no scan of the rows) when it is `exact_below` or more, else their exact count. One
# round trip either way, so that a list costs the same number of queries at every size.


class EstimatedCountPaginator(Paginator):
    """Django's paginator, except that on PostgreSQL a list the planner expects to hold
    EXACT_COUNT_BELOW rows or more is counted by that estimate (an EXPLAIN, no scan of the
    rows): "about 2,000,000" rather than a COUNT(*) over every one. Smaller lists, and every
    list on SQLite, are counted exactly. Either way the count is one query. With an estimate
    the last page may come out short or empty, and page numbers past the real end show an
    empty page. Pages past MAX_PAGES are not offered, and asking for one shows the first."""

    @cached_property
    def num_pages(self) -> int:
        return min(self.pages_counted, MAX_PAGES)

    @cached_property
    def pages_counted(self) -> int:
        """The pages the count makes (Django's num_pages)."""
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return ceil(max(1, self.count - self.orphans) / self.per_page)

    @property
    def capped(self) -> bool:
        return self.pages_counted > MAX_PAGES

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        try:
            sql, params = queryset.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:
            return 0  # a filter that matches nothing (pk__in=[]): no query
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tracker_row_count(%s, %s)",
                [connection.ops.compose_sql(sql, params), EXACT_COUNT_BELOW],
            )
            return cursor.fetchone()[0]


class GrowingTableAdmin:
    """A ModelAdmin mixin for a table that grows without bound (status updates, measures,
    evidence, revisions, the audit trail, remembered requests, sign-in records): its list is
    counted by EstimatedCountPaginator, never in full ("Show all" gives no total), and shows
    no filter facets, each of which would be a count over the whole filtered table."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER


def related_count(model, field: str) -> Coalesce:
    """How many `model` rows point at the row by `field`: a subquery per listed row (an
    index probe each), not a join of the whole related table grouped by every row."""
    rows = (
        model.objects.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(rows), 0)
