"""Where the app's CPU goes: py-spy samples a process that serves one endpoint in a loop.

    .venv/bin/python -m bench.profile --dataset S                 # B1 B2 B3s B3d B4 B5
    .venv/bin/python -m bench.profile --dataset M --bench B1,B2 --seconds 15

It copies the dataset's template database (bench_s_profile, dropped afterwards), starts a
process that sends the request through Django's full handler (middleware, DRF, the view) in a
loop, records it with `py-spy record` once it is warm, and summarises the samples: the share
of the time under key functions (inclusive), the share spent in each library's own code
(exclusive), and the hottest functions. It also times the loop itself with
time.process_time(): the app's CPU per request with no gunicorn and no sampling in the way.
Summaries go to bench/results/profile-<dataset>.txt (a few KB; the raw samples are not kept).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import dataset
from .measure import backend_seconds

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VAR = ROOT / "bench" / "var"
PYSPY = str(Path(sys.executable).parent / "py-spy")

# (label, file pattern, function pattern): time under these frames, inclusive. py-spy names
# frames "Class.method (package/module.py:line)".
KEY_FRAMES = [
    # (label, file, function, which loops it applies to: get, report, write or *)
    (
        "DRF initial: auth, permissions, throttling",
        r"^rest_framework/views\.py",
        r"\.initial$",
        "*",
    ),
    (
        "filter_queryset (filters, search, ordering)",
        r"^rest_framework/generics\.py",
        r"\.filter_queryset$",
        "get",
    ),
    (
        "paginate_queryset (count, page, prefetch)",
        r"^rest_framework/(generics|pagination)\.py",
        r"\.paginate_queryset$",
        "get",
    ),
    ("  Paginator.count (the COUNT query)", r"^django/core/paginator\.py", r"\.count$", "get"),
    (
        "  prefetch_related_objects",
        r"^django/db/models/query\.py",
        r"(^|\.)prefetch_related_objects$",
        "*",
    ),
    (
        "rows.measure_rows (links query + dicts)",
        r"^recommendations/api/rows\.py",
        r"(^|\.)measure_rows$",
        "get",
    ),
    (
        "  rows.measure_links (the UNION query, sorting)",
        r"^recommendations/api/rows\.py",
        r"(^|\.)measure_links$",
        "get",
    ),
    (
        "rows.update_rows (evidence query + dicts)",
        r"^recommendations/api/rows\.py",
        r"(^|\.)update_rows$",
        "get",
    ),
    (
        "get_paginated_response (next/previous links)",
        r"^(rest_framework/pagination|config/api)\.py",
        r"\.get_paginated_response$",
        "get",
    ),
    ("serializer.data (to_representation)", r"^rest_framework/serializers\.py", r"\.data$", "*"),
    (
        "JSONRenderer.render (orjson)",
        r"^(rest_framework/renderers|config/api)\.py",
        r"JSONRenderer\.render$",
        "*",
    ),
    (
        "Django middleware + handler outside the view",
        r"^django/core/handlers/base\.py",
        r"(^|\.)_get_response$",
        "*",
    ),
    (
        "ORM: QuerySet filter/clone (building querysets)",
        r"^django/db/models/query\.py",
        r"QuerySet\.(_filter_or_exclude|_chain)$",
        "*",
    ),
    (
        "ORM: SQLCompiler.as_sql (compiling SQL)",
        r"^django/db/models/sql/compiler\.py",
        r"SQLCompiler\.as_sql$",
        "*",
    ),
    (
        "ORM: Model.from_db (instances from rows)",
        r"^django/db/models/base\.py",
        r"Model\.from_db$",
        "*",
    ),
    ("psycopg (send, fetch, type conversion)", r"^psycopg/", r".", "*"),
    (
        "report: build_status_report",
        r"^recommendations/reports/status\.py",
        r"(^|\.)build_status_report$",
        "report",
    ),
    (
        "report:   gather (the ten queries, rows to tuples)",
        r"^recommendations/reports/gather\.py",
        r".",
        "report",
    ),
    (
        "report:   changes_of (one Change per change)",
        r"^recommendations/reports/status\.py",
        r"(^|\.)changes_of$",
        "report",
    ),
    (
        "report: render_json (orjson)",
        r"^recommendations/reports/render\.py",
        r"(^|\.)render_json$",
        "report",
    ),
    (
        "write: run_idempotent (keys + the write)",
        r"^recommendations/api/idempotency\.py",
        r"(^|\.)run_idempotent$",
        "write",
    ),
    (
        "write:   record_status_update",
        r"^recommendations/services\.py",
        r"(^|\.)record_status_update$",
        "write",
    ),
]

# Exclusive time: the file of the innermost sampled frame, bucketed.
BUCKETS = [
    ("DRF serializers/fields/relations", r"^rest_framework/(serializers|fields|relations)\.py"),
    ("DRF other", r"^rest_framework/"),
    ("django-filter", r"^django_filters/"),
    (
        "Django ORM: SQL compiler/query/expressions",
        r"^django/db/models/(sql/|expressions|lookups|query_utils)",
    ),
    ("Django ORM: QuerySet/Model/fields/related", r"^django/db/models/"),
    ("Django DB backend wrappers", r"^django/db/"),
    ("Django dispatch (signals)", r"^django/dispatch/"),
    ("Django URLs/reverse", r"^django/urls/"),
    ("Django test client (not in gunicorn)", r"^django/test/"),
    ("Django other", r"^django/"),
    ("psycopg", r"^psycopg"),
    ("json", r"^json/"),
    ("copy (deepcopy)", r"^copy(reg)?\.py"),
    ("app code (recommendations, config, evidence)", r"^(recommendations|config|evidence)/"),
    ("bench code (limit, loop)", r"^bench/"),
]

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def parse_raw(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        body, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = []
        for text in body.split(";"):
            match = FRAME.match(text)
            if match:
                frames.append((match["func"], match["file"]))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def summarise(stacks, kind: str = "get", top: int = 18) -> str:
    total = sum(count for _, count in stacks)
    if not total:
        return "  (no samples)\n"
    lines = [f"  {total} samples"]
    lines.append("  inclusive (share of samples under the frame):")
    for label, file_re, func_re, kinds in KEY_FRAMES:
        if kinds not in ("*", kind):
            continue
        f, g = re.compile(file_re), re.compile(func_re)
        hits = sum(
            count for frames, count in stacks if any(f.search(a) and g.search(b) for b, a in frames)
        )
        if hits:
            lines.append(f"    {hits / total:6.1%}  {label}")
    lines.append("  exclusive (innermost frame's code):")
    buckets = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        name = next(
            (label for label, pattern in BUCKETS if re.search(pattern, file)),
            "other (C, site-packages)",
        )
        buckets[name] += count
    for name, count in buckets.most_common():
        lines.append(f"    {count / total:6.1%}  {name}")
    lines.append("  hottest functions (exclusive):")
    leaves = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        leaves[f"{func} ({file})"] += count
    for name, count in leaves.most_common(top):
        lines.append(f"    {count / total:6.1%}  {name}")
    return "\n".join(lines) + "\n"


# --- the inner process: serve one request in a loop -------------------------------------------


def inner(args) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from tokens.services import create_token

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    token = create_token(user=user, now=timezone.now())[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    spec = json.loads(args.inner)
    kind = spec["kind"]
    if kind == "stages":
        print(json.dumps(report_stages(spec)), flush=True)
        return
    if kind == "view stages":
        print(json.dumps(view_stages(spec, client)), flush=True)
        return
    if kind == "report":
        from recommendations.reports.render import render
        from recommendations.reports.status import build_status_report

        since, until = date.fromisoformat(spec["since"]), date.fromisoformat(spec["until"])

        def once():
            render(build_status_report(since=since, until=until), "json", "en")
    elif kind == "write":
        from recommendations.models import Measure

        ids = list(
            Measure.objects.filter(pillar__number=spec["pillar"])
            .order_by("code")
            .values_list("id", flat=True)
        )
        state = {"i": 0}
        versions = dict(Measure.objects.filter(id__in=ids).values_list("id", "version"))

        def once():
            pk = ids[state["i"] % len(ids)]
            state["i"] += 1
            body = {
                "status": "in_progress",
                "progress": 50,
                "confidence": "medium",
                "effective_date": spec["today"],
                "note": "bench profile",
                "evidence": [],
            }
            response = client.post(
                f"/api/v1/measures/{pk}/status-updates/",
                json.dumps(body),
                content_type="application/json",
                HTTP_IF_MATCH=f'"{versions[pk]}"',
                HTTP_IDEMPOTENCY_KEY=os.urandom(8).hex(),
            )
            assert response.status_code == 201, response.content[:300]
            versions[pk] = int(response["ETag"].strip('"'))
    else:
        path = spec["path"]

        def once():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

    for _ in range(spec.get("warm", 5)):
        once()
    connection.queries_log.clear()
    print("READY", flush=True)
    began, cpu, n = time.monotonic(), time.process_time(), 0
    while time.monotonic() - began < spec["seconds"] and n < spec.get("max_iterations", 10**9):
        once()
        n += 1
    cpu = time.process_time() - cpu
    timing = {"requests": n, "app_cpu_ms_per_request": round(cpu / n * 1000, 3)}
    print(json.dumps(timing), flush=True)
    if cpu / n < 0.5:
        # Unsampled, alternating: as served; with gc.freeze() (what gunicorn's post_fork could
        # do once the app is loaded); with the cyclic GC off (what GC costs at most).
        import gc

        count = max(20, min(400, int(2.0 / (cpu / n))))

        def per_request() -> float:
            began = time.process_time()
            for _ in range(count):
                once()
            return round((time.process_time() - began) / count * 1000, 3)

        phases = {"as_served": [], "gc_frozen": [], "gc_off": []}
        for _ in range(2):
            phases["as_served"].append(per_request())
            gc.freeze()
            phases["gc_frozen"].append(per_request())
            gc.unfreeze()
            gc.disable()
            phases["gc_off"].append(per_request())
            gc.enable()
        timing = {name: min(values) for name, values in phases.items()}
        timing["requests_per_phase"] = count
    else:
        timing = {}
    print(json.dumps(timing), flush=True)


def report_stages(spec: dict) -> dict:
    """B4 by stage: the app's CPU (process_time), its backend's CPU (/proc of the backend
    this process talks to, 10 ms ticks) and the wall time of each part of
    build_status_report and of render_json, the best of `repeat` reports. The parts are
    wrapped in place (module attributes), the report itself is unchanged."""
    from collections import defaultdict

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.reports import gather
    from recommendations.reports import status as report
    from recommendations.reports.render import render_json

    db_seconds = backend_seconds(connection)

    def clocks() -> tuple[float, float, float]:
        return time.process_time(), db_seconds(), time.perf_counter()

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])

    def book(name: str, began: tuple) -> None:
        for i, (a, b) in enumerate(zip(began, clocks(), strict=True)):
            spent[name][i] += b - a

    def timed(module, name: str, label: str) -> None:
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            began = clocks()
            result = original(*args, **kwargs)
            book(label, began)
            return result

        setattr(module, name, wrapper)

    parts = [
        (gather, "measures", "gather.measures (20k rows)"),
        (gather, "states_on", "gather.states_on x2 (LATERAL)"),
        (gather, "changes_in", "gather.changes_in (the period's changes, compared in SQL)"),
        (gather, "update_evidence", "gather.update_evidence"),
        (gather, "latest_recording", "gather.latest_recording"),
        (report, "changes_of", "changes_of (a Change per change)"),
        (report, "overviews", "overviews"),
        (report, "risk_coverage", "risk_coverage (+ risks, links queries)"),
        (report, "added_evidence", "added_evidence"),
        (report, "progress_series", "progress_series"),
    ]
    for module, name, label in parts:
        timed(module, name, label)
    since, until = date.fromisoformat(spec["since"]), date.fromisoformat(spec["until"])
    best = None
    for _ in range(spec.get("repeat", 2)):
        spent.clear()
        began = clocks()
        built = report.build_status_report(since=since, until=until)
        book("build_status_report (all)", began)
        began = clocks()
        text = render_json(built)
        book("render_json (orjson, indent 2)", began)
        total = sum(v[0] for v in spent.values())
        if best is None or total < best[0]:
            updates = sum(len(group.updates) for group in built.changes)  # changes listed
            best = (total, {k: list(v) for k, v in spent.items()}, updates, len(text))
        del built, text
    _, figures, updates, size = best
    # The period's changes once more: psycopg's fetch alone, then the NamedTuples.
    with CaptureQueriesContext(connection) as queries:
        gather.changes_in(since, until)
    sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        began = clocks()
        cursor.execute(sql)
        rows = cursor.fetchall()
        book("  changes_in: execute + fetchall (psycopg)", began)
        began = clocks()
        list(map(gather.Change._make, (row[:-3] for row in rows)))
        book("  changes_in: Change._make per row", began)
    for name in (
        "  changes_in: execute + fetchall (psycopg)",
        "  changes_in: Change._make per row",
    ):
        figures[name] = spent[name]
    return {
        "updates": updates,
        "json_bytes": size,
        "stages": {
            name: {
                "app_ms": round(v[0] * 1000),
                "db_ms": round(v[1] * 1000),
                "wall_ms": round(v[2] * 1000),
                "app_us_per_update": round(v[0] * 1e6 / updates, 2) if updates else None,
            }
            for name, v in figures.items()
        },
    }


def view_stages(spec: dict, client) -> dict:
    """A list endpoint by stage, in this process: the app's CPU (process_time) and its
    backend's CPU (/proc, 10 ms ticks, summed over all requests) of DRF's steps, wrapped in
    place, over `requests` requests after a warm-up; the rest is Django's handler,
    middleware and the test client."""
    from collections import defaultdict

    from django.db import connection
    from rest_framework import generics, views

    from config import api
    from recommendations.api import rows

    client.get(spec["path"])
    db_seconds = backend_seconds(connection)

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    depth = [0]

    def timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            depth[0] += 1
            began = time.process_time(), db_seconds()
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                spent[label][0] += time.process_time() - began[0]
                spent[label][1] += db_seconds() - began[1]

        setattr(owner, name, wrapper)

    parts = [
        (views.APIView, "initial", "DRF initial: token query, permissions, throttles"),
        (generics.GenericAPIView, "filter_queryset", "filter_queryset (django-filter, ordering)"),
        (generics.GenericAPIView, "paginate_queryset", "paginate_queryset (COUNT + page query)"),
        (rows, "measure_rows", "rows.measure_rows (links query + dicts)"),
        (rows, "measure_links", "  of which rows.measure_links (UNION query)"),
        (rows, "update_rows", "rows.update_rows (evidence query + dicts)"),
        (generics.GenericAPIView, "get_paginated_response", "get_paginated_response"),
        (api.JSONRenderer, "render", "JSONRenderer.render (orjson)"),
    ]
    for owner, name, label in parts:
        timed(owner, name, label)
    for _ in range(20):
        client.get(spec["path"])
    spent.clear()
    n = spec.get("requests", 300)
    began = time.process_time(), db_seconds()
    for _ in range(n):
        client.get(spec["path"])
    total = time.process_time() - began[0], db_seconds() - began[1]
    inside = sum(v[0] for k, v in spent.items() if not k.startswith("  "))
    inside_db = sum(v[1] for k, v in spent.items() if not k.startswith("  "))
    figures = {k: v for k, v in spent.items() if v[0] or v[1]}
    figures["the rest: Django handler, middleware, test client"] = [
        total[0] - inside,
        total[1] - inside_db,
    ]
    figures["the request (all)"] = list(total)
    return {
        "requests": n,
        "stages": {
            k: {"app_ms": round(v[0] / n * 1000, 3), "db_ms": round(v[1] / n * 1000, 3)}
            for k, v in figures.items()
        },
    }


# --- the outer process --------------------------------------------------------------------------


def profile_one(label: str, spec: dict, env: dict, rate: int) -> tuple[str, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.profile", "--inner", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline().strip()
        if ready != "READY":
            raise RuntimeError(f"{label}: the loop did not start ({ready!r})")
        raw = VAR / f"pyspy-{label.replace(' ', '-')}.txt"
        subprocess.run(
            [PYSPY, "record", "-p", str(proc.pid), "-d", str(spec["seconds"]), "-r", str(rate)]
            + ["-f", "raw", "-o", str(raw), "--nonblocking"],
            check=True,
            capture_output=True,
            timeout=spec["seconds"] + 120,
        )
        timing = json.loads(proc.stdout.readline())
        timing["gc_experiment_ms"] = json.loads(proc.stdout.readline())
        proc.wait(timeout=spec["seconds"] + 600)
    finally:
        if proc.poll() is None:
            proc.kill()
    stacks = parse_raw(raw)
    if not os.environ.get("BENCH_KEEP_RAW"):
        raw.unlink()
    return summarise(stacks, spec["kind"]), timing


def run_stages(spec: dict, env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile", "--inner", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def stage_table(result: dict) -> str:
    lines = [
        f"  {result['updates']} updates in the period, {result['json_bytes'] / 1e6:.0f} MB of JSON",
        f"  {'part':<46} {'app ms':>8} {'db ms':>7} {'wall ms':>8} {'app us/update':>14}",
    ]
    for name, v in result["stages"].items():
        lines.append(
            f"  {name:<46} {v['app_ms']:>8} {v['db_ms']:>7} {v['wall_ms']:>8} "
            f"{v['app_us_per_update'] if v['app_us_per_update'] is not None else '':>14}"
        )
    return "\n".join(lines) + "\n"


def view_stage_table(result: dict) -> str:
    lines = [
        f"  {result['requests']} requests; db = its backend's CPU (/proc, 10 ms ticks, summed)",
        f"  {'step':<52} {'app ms':>8} {'db ms':>7}",
    ]
    for name, v in result["stages"].items():
        lines.append(f"  {name:<52} {v['app_ms']:>8.3f} {v['db_ms']:>7.3f}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--dataset", choices=["S", "M"], default="S")
    parser.add_argument("--bench", default="B1,B2,B3s,B3d,B4,B5")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rate", type=int, default=250, help="samples a second")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        inner(args)
        return 0

    from .run import AS_OF, QUARTER, app_env

    info = dataset.conninfo("127.0.0.1", 5432, "postgres")
    template = f"bench_{args.dataset.lower()}"
    copy = f"{template}_profile"
    VAR.mkdir(exist_ok=True)
    with dataset._admin(info) as conn:
        if dataset._comment(conn, template) != dataset.fingerprint(args.dataset):
            print(
                f"no ready template {template}: run `python -m bench.run --dataset {args.dataset}`"
            )
            return 2
    dataset.drop(copy, info=info)
    with dataset._admin(info) as conn:
        conn.execute(f"CREATE DATABASE {copy} TEMPLATE {template} STRATEGY FILE_COPY")
    env = app_env(dataset.url("127.0.0.1", 5432, "postgres", copy), uncapped=True)
    import psycopg

    with psycopg.connect(info, dbname=copy) as conn:
        ((pillar, status),) = conn.execute(
            "SELECT p.number, m.status FROM recommendations_measure m JOIN "
            "recommendations_pillar p ON p.id = m.pillar_id WHERE p.number >= 1001 "
            "GROUP BY 1, 2 ORDER BY COUNT(*) DESC, 1, 2 LIMIT 1"
        ).fetchall()
        max_id = conn.execute("SELECT MAX(id) FROM recommendations_statusupdate").fetchone()[0]
        last_pillar = conn.execute("SELECT MAX(number) FROM recommendations_pillar").fetchone()[0]
    from base64 import b64encode

    def cursor(position):
        return b64encode(f"p={position}".encode()).decode()

    today = datetime.now(ZoneInfo(env.get("TIME_ZONE", "Asia/Shanghai"))).date()
    q = f"pillar={pillar}&status={status}&page_size=50"
    specs = {
        "B1": {"path": f"/api/v1/measures/?{q}"},
        "B1 limit": {"path": f"/bench/limit/measures/?{q}"},
        "B2": {"path": f"/api/v1/measures/?{q}&as_of={AS_OF}"},
        "B3s": {"path": f"/api/v1/status-updates/?cursor={cursor(100)}&page_size=50"},
        "B3d": {"path": f"/api/v1/status-updates/?cursor={cursor(max_id - 500)}&page_size=50"},
        "B4": {"kind": "report", "since": str(QUARTER[0]), "until": str(QUARTER[1]), "warm": 1},
        # One report at M takes minutes: no warm-up, one iteration, sampled to its end.
        "B4 once": {
            "kind": "report",
            "since": str(QUARTER[0]),
            "until": str(QUARTER[1]),
            "warm": 0,
            "max_iterations": 1,
        },
        "B5": {"kind": "write", "pillar": last_pillar, "today": str(today)},
        # Not sampled: each part of the report timed (app CPU, backend CPU, wall).
        "B4 stages": {"kind": "stages", "since": str(QUARTER[0]), "until": str(QUARTER[1])},
        # Not sampled: DRF's steps of a list request timed (app CPU, backend CPU).
        "B1 stages": {"kind": "view stages", "path": f"/api/v1/measures/?{q}"},
        "B2 stages": {"kind": "view stages", "path": f"/api/v1/measures/?{q}&as_of={AS_OF}"},
        "B3d stages": {
            "kind": "view stages",
            "path": f"/api/v1/status-updates/?cursor={cursor(max_id - 500)}&page_size=50",
        },
    }
    wanted = args.bench.split(",")
    out = [
        f"py-spy profiles, dataset {args.dataset} (template {template}), {args.rate} samples/s, "
        f"{args.seconds} s each; the request loop runs in one process through Django's test "
        "client (full middleware and DRF), app CPU only (the database is another process)\n"
    ]
    try:
        for label in wanted:
            spec = {"kind": "get", "seconds": args.seconds, **specs[label]}
            if spec["kind"] == "view stages":
                header = f"== {label}: {spec['path']}, DRF's steps (ms a request, in-process)\n"
                text = view_stage_table(run_stages(spec, env))
                print(header + text, flush=True)
                out.append(header + text)
                continue
            if spec["kind"] == "stages":
                header = f"== {label}: the report's parts, best of 2 (app CPU, backend CPU, wall)\n"
                text = stage_table(run_stages(spec, env))
                print(header + text, flush=True)
                out.append(header + text)
                continue
            text, timing = profile_one(label, spec, env, args.rate)
            header = f"== {label}: {spec.get('path', spec['kind'])}\n  loop: {timing}\n"
            print(header + text, flush=True)
            out.append(header + text)
    finally:
        dataset.drop(copy, info=info)
    path = RESULTS / f"profile-{args.dataset}.txt"
    # Keep the sections of benches not profiled this time.
    sections = {}
    if path.exists():
        for block in path.read_text().split("\n== ")[1:]:
            sections[block.split(":", 1)[0]] = "== " + block.rstrip("\n") + "\n"
    for block in out[1:]:
        sections[block[3:].split(":", 1)[0]] = block
    path.write_text("\n".join([out[0], *sections.values()]))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
