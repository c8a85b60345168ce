"""What each fix of this round bought, measured by switching it off again, in one process.

    .venv/bin/python -m bench.history --dataset M      # about a minute at M

The end-to-end figures before and after are the runs' (results/*-baseline.* and the latest
results); this measures the parts one at a time, on the dataset's template (SELECTs only):

- links: the measure list's scenarios, risks and institutions in one UNION written out
  (rows.links_sql, ids as one array: now), the same UNION composed through the ORM from three
  querysets on every request (before), or three queries, one per kind (as after the
  `.values()` rewrite) — app CPU of B1 and B2 in a loop through Django's full handler, same
  bytes checked;
- orjson: config.api.JSONRenderer (now) or DRF's JSONRenderer — the same, same bytes;
- the report's JSON: render_json (orjson, now) or the baseline's way, `dataclasses.asdict`
  and `json.dumps(indent=2)` (re-created here; the output differs only in number formatting
  the baseline did not have to match) — app CPU of one quarter;
- states on a day: the LATERAL query (now), the `in force` id subquery read by primary key
  (the rewrite before LATERAL; still gather.states_on's path on other databases) and
  selectors.with_state_on (the baseline report's way) — backend and app CPU;
- JIT: the report's ten statements replayed with `jit = on` and with `jit = off` (now) —
  backend CPU.

Writes bench/results/history-<dataset>.txt.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from . import dataset
from .measure import backend_seconds

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history")
    parser.add_argument("--dataset", choices=["S", "M"], default="M")
    parser.add_argument("--requests", type=int, default=300, help="per loop (B1, B2)")
    args = parser.parse_args(argv)

    from .run import AS_OF, QUARTER, app_env

    template = f"bench_{args.dataset.lower()}"
    os.environ.update(app_env(dataset.url("127.0.0.1", 5432, "postgres", template), uncapped=True))
    os.environ["PGAPPNAME"] = "bench-history"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import dataclasses
    import json
    from collections import defaultdict

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, OuterRef, Subquery
    from django.test.utils import CaptureQueriesContext
    from rest_framework import renderers
    from rest_framework.test import APIClient

    from config import api
    from recommendations.api import rows
    from recommendations.models import Measure, MeasureInstitution, MeasureRisk, StatusUpdate
    from recommendations.reports import render
    from recommendations.reports.status import build_status_report
    from recommendations.selectors import LATEST_FIRST, with_state_on

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    db_seconds = backend_seconds(connection)

    out: list[str] = [
        f"What each fix bought, dataset {args.dataset} (database {template}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; app = this process's CPU, "
        "db = its backend's CPU (/proc, 10 ms ticks). Best of 3 alternating passes.\n"
    ]

    def say(text: str) -> None:
        print(text, flush=True)
        out.append(text)

    # --- the measure list: links in one UNION or three queries; orjson or DRF's renderer ---

    def links_in_three_queries(ids):
        scenarios, risks, institutions = defaultdict(list), defaultdict(list), defaultdict(list)
        for measure, key in (
            Measure.scenarios.through.objects.filter(measure_id__in=ids)
            .order_by("scenario__order", "scenario__key")
            .values_list("measure_id", "scenario__key")
        ):
            scenarios[measure].append(key)
        for measure, key, zh, en in (
            MeasureRisk.objects.filter(measure_id__in=ids)
            .order_by("risk__order", "risk__key")
            .values_list("measure_id", "risk__key", "rationale_zh", "rationale_en")
        ):
            risks[measure].append({"key": key, "rationale_zh": zh, "rationale_en": en})
        for measure, key, role in (
            MeasureInstitution.objects.filter(measure_id__in=ids)
            .order_by("role", "institution__key")
            .values_list("measure_id", "institution__key", "role")
        ):
            institutions[measure].append({"key": key, "role": role})
        return scenarios, risks, institutions

    # Before: the same UNION composed through the ORM from three querysets on every request.
    def links_orm_union(ids):
        from django.db.models import CharField, IntegerField, Value

        def text(value):
            return Value(value, output_field=CharField())

        scenarios = (
            Measure.scenarios.through.objects.filter(measure_id__in=ids)
            .order_by()
            .values_list(
                "measure_id", text("s"), "scenario__key", text(""), text(""), "scenario__order"
            )
        )
        risks = (
            MeasureRisk.objects.filter(measure_id__in=ids)
            .order_by()
            .values_list(
                "measure_id", text("r"), "risk__key", "rationale_zh", "rationale_en", "risk__order"
            )
        )
        institutions = (
            MeasureInstitution.objects.filter(measure_id__in=ids)
            .order_by()
            .values_list(
                "measure_id",
                text("i"),
                "institution__key",
                "role",
                text(""),
                Value(0, output_field=IntegerField()),
            )
        )
        found = sorted(scenarios.union(risks, institutions, all=True), key=rows.link_order)
        scenario_keys, risk_links, institution_links = (
            defaultdict(list),
            defaultdict(list),
            defaultdict(list),
        )
        for measure, kind, key, first, second, _order in found:
            if kind == "s":
                scenario_keys[measure].append(key)
            elif kind == "r":
                risk_links[measure].append(
                    {"key": key, "rationale_zh": first, "rationale_en": second}
                )
            else:
                institution_links[measure].append({"key": key, "role": first})
        return scenario_keys, risk_links, institution_links

    pillar, status, _n = (
        Measure.objects.filter(pillar__number__gte=1001)
        .values_list("pillar__number", "status")
        .annotate(n=Count("id"))
        .order_by("-n", "pillar__number", "status")[0]
    )
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(get_user_model()(username="history", is_superuser=True))
    q = f"pillar={pillar}&status={status}&page_size=50"
    paths = {"B1": f"/api/v1/measures/?{q}", "B2": f"/api/v1/measures/?{q}&as_of={AS_OF}"}
    union_links, orjson_render = rows.measure_links, api.JSONRenderer.render
    variants = {
        "now (links SQL, orjson)": (union_links, orjson_render),
        "links: ORM UNION": (links_orm_union, orjson_render),
        "links in 3 queries": (links_in_three_queries, orjson_render),
        "DRF's JSONRenderer": (union_links, renderers.JSONRenderer.render),
    }

    def loop(path: str, n: int) -> tuple[float, float]:
        began = time.process_time(), db_seconds()
        for _ in range(n):
            client.get(path)
        return (
            (time.process_time() - began[0]) / n * 1000,
            (db_seconds() - began[1]) / n * 1000,
        )

    say("== The measure list (B1, B2): ms a request, in-process (no gunicorn, no token query)")
    for name, path in paths.items():
        expected = client.get(path).content
        best: dict[str, tuple[float, float]] = {}
        for _ in range(3):
            for variant, (links, renderer) in variants.items():
                rows.measure_links, api.JSONRenderer.render = links, renderer
                try:
                    assert client.get(path).content == expected, variant
                    loop(path, 20)
                    app, db = loop(path, args.requests)
                finally:
                    rows.measure_links, api.JSONRenderer.render = union_links, orjson_render
                if variant not in best or app < best[variant][0]:
                    best[variant] = (app, db)
        now = best["now (links SQL, orjson)"]
        for variant, (app, db) in best.items():
            say(
                f"  {name} {variant:<29} app {app:6.2f} ms  db {db:5.2f} ms  "
                f"(app {app - now[0]:+.2f}, db {db - now[1]:+.2f} vs now)"
            )

    # --- the report's JSON -------------------------------------------------------------------

    since, until = QUARTER
    report = build_status_report(since=since, until=until)

    def baseline_json(report) -> str:
        data = render.report_data(report)
        data = {
            key: (
                [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
                if isinstance(value, list)
                else dataclasses.asdict(value)
                if dataclasses.is_dataclass(value)
                else value
            )
            for key, value in data.items()
        }
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)

    say("\n== The report's JSON (one quarter): app CPU")
    timings: dict[str, list[float]] = {"render_json (orjson, now)": [], "asdict + json.dumps": []}
    sizes = {}
    for _ in range(2):
        for label, function in (
            ("render_json (orjson, now)", render.render_json),
            ("asdict + json.dumps", baseline_json),
        ):
            began = time.process_time()
            text = function(report)
            timings[label].append(time.process_time() - began)
            sizes[label] = len(text.encode())
            del text
    updates = sum(len(group.updates) for group in report.changes)
    for label, values in timings.items():
        say(
            f"  {label:<28} {min(values):6.2f} s  {min(values) * 1e6 / updates:5.2f} us/update  "
            f"{sizes[label] / 1e6:.0f} MB"
        )
    del report

    # --- states on a day: three ways -----------------------------------------------------------

    from recommendations.reports.gather import STATES_ON_POSTGRESQL

    in_force = (
        StatusUpdate.objects.filter(measure=OuterRef("pk"), effective_date__lte=until)
        .order_by(*LATEST_FIRST)
        .values("id")[:1]
    )
    entries = Measure.objects.order_by().annotate(entry=Subquery(in_force)).values("entry")
    by_id = (
        StatusUpdate.objects.filter(id__in=entries)
        .order_by()
        .values_list("measure_id", "status", "progress", "effective_date", "note")
    )
    baseline_states = with_state_on(
        Measure.objects.filter(archived=False).select_related("pillar"), until
    )

    def compose(queryset) -> str:
        sql, params = queryset.query.sql_with_params()
        return connection.ops.compose_sql(sql, params)

    statements = {
        "LATERAL (now)": connection.ops.compose_sql(STATES_ON_POSTGRESQL, [until]),
        "in-force id subquery, then by pk": compose(by_id),
        "with_state_on (baseline report)": compose(baseline_states),
    }

    def replay(sqls: list[str]) -> tuple[float, float, int]:
        began = time.process_time(), db_seconds()
        fetched = 0
        with connection.cursor() as cursor:
            for sql in sqls:
                cursor.execute(sql)
                fetched += len(cursor.fetchall())
        return time.process_time() - began[0], db_seconds() - began[1], fetched

    say(f"\n== States on {until} (every measure): one statement, fetched")
    best = {}
    for _ in range(3):
        for label, sql in statements.items():
            app, db, fetched = replay([sql])
            if label not in best or app + db < sum(best[label][:2]):
                best[label] = (app, db, fetched)
    for label, (app, db, fetched) in best.items():
        say(f"  {label:<34} db {db * 1000:5.0f} ms  app {app * 1000:4.0f} ms  {fetched} rows")

    # --- JIT --------------------------------------------------------------------------------

    with CaptureQueriesContext(connection) as queries:
        build_status_report(since=since, until=until)
    report_sql = [query["sql"] for query in queries.captured_queries]
    say(f"\n== JIT: the report's {len(report_sql)} statements replayed, fetching every row")
    best = {}
    for _ in range(3):
        for setting in ("on", "off"):
            with connection.cursor() as cursor:
                cursor.execute(f"SET jit = {setting}")
            app, db, fetched = replay(report_sql)
            if setting not in best or app + db < sum(best[setting][:2]):
                best[setting] = (app, db, fetched)
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    for setting, (app, db, fetched) in best.items():
        say(
            f"  jit = {setting:<4} db {db * 1000:5.0f} ms  app {app * 1000:5.0f} ms  {fetched} rows"
        )

    path = RESULTS / f"history-{args.dataset}.txt"
    path.write_text("\n".join(out) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
