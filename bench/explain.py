"""EXPLAIN (ANALYZE, BUFFERS) of the queries of B1, B2, B3 and B4, on a dataset's template.

    .venv/bin/python -m bench.explain --dataset M                  # the code as it is now
    .venv/bin/python -m bench.explain --dataset M --b4 baseline    # the report as it was

Default (`--b4 current`): every statement the B1, B2 and B3 (shallow and deep cursor) endpoints
run (Django's test client under CaptureQueriesContext; the token query is left out: the client
is force-authenticated) and every statement build_status_report runs now, each explained;
plans go to bench/results/explain-<dataset>.txt.

`--b4 baseline`: the report's main queries as they were before its rewrite (compiled from the
same querysets: states as of since and until, changes in the period, one point of the progress
series, and the evidence prefetch of the changes), and the two fixes measured for the slowest
one (`changes_fixed`, CHANGES_WINDOW); plans go to explain-<dataset>-baseline.txt. At M its
changes query alone runs about a minute.

Only SELECTs run; the template is not changed.
"""

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from . import dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def changes_in_original(since: date, until: date):
    """reports.status.changes_in as it was at the baseline (commits ffb61aa and fdec1d9,
    before the report was rewritten on plain rows), kept so that its diagnosis can be rerun."""
    from django.db.models import OuterRef, Prefetch, Q, Subquery

    from evidence.models import Evidence
    from recommendations.models import StatusUpdate
    from recommendations.selectors import LATEST_FIRST

    earlier = (
        StatusUpdate.objects.filter(measure=OuterRef("measure"))
        .filter(
            Q(effective_date__lt=OuterRef("effective_date"))
            | Q(effective_date=OuterRef("effective_date"), recorded_at__lt=OuterRef("recorded_at"))
            | Q(
                effective_date=OuterRef("effective_date"),
                recorded_at=OuterRef("recorded_at"),
                id__lt=OuterRef("id"),
            )
        )
        .order_by(*LATEST_FIRST)
    )
    return (
        StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
        .select_related("measure__pillar", "recorded_by")
        .prefetch_related(Prefetch("evidence", Evidence.objects.select_related("source")))
        .annotate(
            from_status=Subquery(earlier.values("status")[:1]),
            from_progress=Subquery(earlier.values("progress")[:1]),
        )
        .order_by("measure__pillar__number", "measure__code", "effective_date", "recorded_at", "id")
    )


def changes_fixed(since: date, until: date):
    """reports.status.changes_in with the predecessor subquery bounded by the row's own
    effective date, so that the backward index scan starts there instead of at the measure's
    latest entry (the OR of the three tie-breaks stays as a filter)."""
    from django.db.models import OuterRef, Q, Subquery

    from recommendations.models import StatusUpdate
    from recommendations.selectors import LATEST_FIRST

    earlier = (
        StatusUpdate.objects.filter(
            measure=OuterRef("measure"), effective_date__lte=OuterRef("effective_date")
        )
        .filter(
            Q(effective_date__lt=OuterRef("effective_date"))
            | Q(effective_date=OuterRef("effective_date"), recorded_at__lt=OuterRef("recorded_at"))
            | Q(
                effective_date=OuterRef("effective_date"),
                recorded_at=OuterRef("recorded_at"),
                id__lt=OuterRef("id"),
            )
        )
        .order_by(*LATEST_FIRST)
    )
    # The rest as in changes_in.
    return (
        StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
        .select_related("measure__pillar", "recorded_by")
        .annotate(
            from_status=Subquery(earlier.values("status")[:1]),
            from_progress=Subquery(earlier.values("progress")[:1]),
        )
        .order_by("measure__pillar__number", "measure__code", "effective_date", "recorded_at", "id")
    )


# The predecessor of each change from a window over the period's own rows, and one index
# probe per measure for the first change of each (its predecessor is the state as of since).
CHANGES_WINDOW = """
WITH period AS (
  SELECT u.*, LAG(u.status) OVER w AS prev_status, LAG(u.progress) OVER w AS prev_progress,
         ROW_NUMBER() OVER w AS rn
  FROM recommendations_statusupdate u
  WHERE u.effective_date > %(since)s AND u.effective_date <= %(until)s
  WINDOW w AS (PARTITION BY u.measure_id ORDER BY u.effective_date, u.recorded_at, u.id)
)
SELECT p.id, p.measure_id, p.status, p.progress, p.confidence, p.effective_date, p.recorded_at,
       p.note, m.code, m.title_zh, m.title_en, pl.number, au.username,
       CASE WHEN p.rn = 1 THEN b.status ELSE p.prev_status END AS from_status,
       CASE WHEN p.rn = 1 THEN b.progress ELSE p.prev_progress END AS from_progress
FROM period p
JOIN recommendations_measure m ON m.id = p.measure_id
JOIN recommendations_pillar pl ON pl.id = m.pillar_id
LEFT JOIN auth_user au ON au.id = p.recorded_by_id
LEFT JOIN LATERAL (
  SELECT e.status, e.progress FROM recommendations_statusupdate e
  WHERE p.rn = 1 AND e.measure_id = p.measure_id AND e.effective_date <= %(since)s
  ORDER BY e.effective_date DESC, e.recorded_at DESC, e.id DESC LIMIT 1) b ON true
ORDER BY pl.number, m.code, p.effective_date, p.recorded_at, p.id
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain")
    parser.add_argument("--dataset", choices=["S", "M"], default="S")
    parser.add_argument("--skip-slow", action="store_true", help="no EXPLAIN ANALYZE of B4 changes")
    parser.add_argument(
        "--b4",
        choices=["current", "baseline"],
        default="current",
        help="current: every statement the report runs now (B1, B2 too); baseline: the report's "
        "queries as they were at the baseline and the fixes measured for them (B4 only)",
    )
    args = parser.parse_args(argv)

    from .run import AS_OF, QUARTER, app_env

    template = f"bench_{args.dataset.lower()}"
    os.environ.update(app_env(dataset.url("127.0.0.1", 5432, "postgres", template), uncapped=True))
    os.environ["PGAPPNAME"] = "bench-explain"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, Sum
    from django.db.models.query import prefetch_related_objects
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from evidence.models import Evidence
    from recommendations.models import Measure, StatusUpdate
    from recommendations.selectors import with_state_on

    def compose(queryset) -> str:
        sql, params = queryset.query.sql_with_params()
        return connection.ops.compose_sql(sql, params)

    out: list[str] = []

    def explain(title: str, sql: str) -> None:
        with connection.cursor() as cursor:
            for _attempt in range(2):
                began = time.monotonic()
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                # Long IN lists appear whole in Filter lines: cut every line.
                plan = "\n".join(
                    row[0] if len(row[0]) < 400 else row[0][:300] + f" … ({len(row[0])} chars)"
                    for row in cursor.fetchall()
                )
                if time.monotonic() - began > 2:
                    break  # slow: one run is enough (and the cache is warm enough)
        shown = sql if len(sql) < 700 else sql[:600] + f" … ({len(sql)} characters)"
        block = f"== {title} ({time.monotonic() - began:.2f} s)\n-- {shown}\n{plan}\n"
        print(block, flush=True)
        out.append(block)

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        if args.b4 == "baseline":
            # As at the baseline: JIT on (config/settings.py now turns it off).
            cursor.execute("SET jit = on")
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
        parallel = cursor.fetchone()[0]
    pillar, status, _count = (
        Measure.objects.filter(pillar__number__gte=1001)
        .values_list("pillar__number", "status")
        .annotate(n=Count("id"))
        .order_by("-n", "pillar__number", "status")[0]
    )
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(get_user_model()(username="explain", is_superuser=True))
    q = f"pillar={pillar}&status={status}&page_size=50"
    out.append(
        f"EXPLAIN (ANALYZE, BUFFERS), dataset {args.dataset} (database {template}), "
        f"max_parallel_workers_per_gather={parallel} as in the benchmark. Each query ran once "
        "before unless it takes seconds.\n"
    )
    from base64 import b64encode

    def cursor(position: int) -> str:
        return b64encode(f"p={position}".encode()).decode()

    last = StatusUpdate.objects.order_by("-id").values_list("id", flat=True)[0]
    for name, path in (
        ("B1", f"/api/v1/measures/?{q}"),
        ("B2", f"/api/v1/measures/?{q}&as_of={AS_OF}"),
        ("B3 shallow", f"/api/v1/status-updates/?cursor={cursor(100)}&page_size=50"),
        ("B3 deep", f"/api/v1/status-updates/?cursor={cursor(last - 500)}&page_size=50"),
    ):
        if args.b4 != "current":
            break
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        for number, query in enumerate(queries.captured_queries, 1):
            explain(f"{name} {path} — statement {number} of {len(queries)}", query["sql"])

    since, until = QUARTER
    if args.b4 == "current":
        from recommendations.reports.status import build_status_report

        with CaptureQueriesContext(connection) as queries:
            began = time.monotonic()
            build_status_report(since=since, until=until)
        out.append(
            f"B4: build_status_report ran {len(queries)} statements in "
            f"{time.monotonic() - began:.2f} s (app and database); each explained below.\n"
        )
        for number, query in enumerate(queries.captured_queries, 1):
            explain(
                f"B4 statement {number} of {len(queries)} (took {query['time']} s)", query["sql"]
            )
        path = RESULTS / f"explain-{args.dataset}.txt"
        path.write_text("\n".join(out))
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
        return 0
    live = Measure.objects.filter(archived=False).select_related("pillar")
    explain("B4 states as of since", compose(with_state_on(live, since)))
    explain("B4 states as of until", compose(with_state_on(live, until).order_by("code")))
    series = (
        with_state_on(Measure.objects.filter(archived=False), until)
        .values("pillar__number")
        .annotate(total=Sum("progress_then"), assessed=Count("progress_then"))
        .order_by("pillar__number")
    )
    explain("B4 one point of the progress series", compose(series))
    explain(
        "B4 history_recorded_through",
        'SELECT MAX("recommendations_statusupdate"."recorded_at") AS "last" FROM '
        '"recommendations_statusupdate"',
    )
    out.append(
        "B4 as the report was at the baseline (before its rewrite on plain rows): its main "
        "queries, compiled from the same querysets, and two fixes of its slowest one.\n"
    )
    explain(
        "B4 changes in the period, as the report ran it (changes_in_original)",
        compose(changes_in_original(since, until)),
    )
    if not args.skip_slow:
        explain(
            "B4 changes in the period, with the predecessor bounded (bench.explain.changes_fixed)",
            compose(changes_fixed(since, until)),
        )
    window = CHANGES_WINDOW % {"since": f"'{since}'", "until": f"'{until}'"}
    explain("B4 changes in the period, predecessor by window function (CHANGES_WINDOW)", window)
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    explain("B4 the same, with jit = off", window)
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")
    ids = list(
        StatusUpdate.objects.filter(effective_date__gt=since, effective_date__lte=until)
        .order_by("id")
        .values_list("id", flat=True)
    )
    updates = [StatusUpdate(id=pk) for pk in ids]
    with CaptureQueriesContext(connection) as queries:
        from django.db.models import Prefetch

        prefetch_related_objects(
            updates, Prefetch("evidence", Evidence.objects.select_related("source"))
        )
    explain(f"B4 evidence prefetch of the {len(ids)} changes (IN list)", queries[0]["sql"])

    path = RESULTS / f"explain-{args.dataset}-baseline.txt"
    path.write_text("\n".join(out))
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
