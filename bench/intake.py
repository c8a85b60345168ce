"""Spreadsheet intake at the size the import allows: a 10,000-row dry run and its commit, on
PostgreSQL, with the statements each sends.

    .venv/bin/python -m bench.intake              # about a minute (+ a minute the first time)

It imports into a copy of dataset S (the seed and 1,000 synthetic measures with 50,000
updates), in this process, as an analyst would through the service the admin, the API and
the command call (intake.services): a CSV of 10,000 rows, ten for each synthetic measure (an
update in progress each, a tenth citing a piece of evidence), first checked (parse, the dry
run of every row, the import and its rows stored), then confirmed (every row checked again and
recorded in one transaction). Target: under 10 s each.

It then counts the statements of dry runs of 500 to 10,000 rows, which must grow by batches of
BATCH rows, not by rows: at most PER_BATCH statements a batch, plus a fixed few.

Writes bench/results/intake.txt. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, CREATEDB);
the template database is bench_intake_s, made once (remade when the migrations, the seed or the
generator change), and each run works on a fresh copy, dropped at the end.
"""

import argparse
import csv
import io
import math
import os
import platform
import sys
import time
from datetime import timedelta
from pathlib import Path

from . import dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROWS = 10_000
PER_MEASURE = 10
TARGET_SECONDS = 10.0
# Statements a batch of rows may send (look-ups of measures, evidence and history, the
# locks, the rows, citations and states written, the import's rows stored), and the fixed
# ones of an import (the user's permissions, the import itself, a transaction's savepoints).
PER_BATCH = 16
FIXED = 12
SIZES = (500, 1_000, 2_000, 5_000, 10_000)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def spreadsheet(rows: int) -> bytes:
    """`rows` updates, PER_MEASURE for each synthetic measure in code order, each moving the
    measure along (never back-dated: dates from ten days ago up to today, none before the
    measure's current state), with a note (so none is an unexplained move back)."""
    from django.utils import timezone

    from evidence.models import Evidence
    from recommendations.models import Measure

    today = timezone.localdate()
    keys = list(
        Evidence.objects.filter(key__startswith="syn-")
        .order_by("key")
        .values_list("key", flat=True)[:100]
    )
    measures = Measure.objects.filter(code__startswith="SYN-", archived=False).order_by("code")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "measure code",
            "status",
            "progress (%)",
            "effective date",
            "confidence",
            "note",
            "evidence keys",
        ]
    )
    written = 0
    for measure in measures.values("code", "status_effective_date"):
        for k in range(PER_MEASURE):
            day = max(measure["status_effective_date"], today - timedelta(days=PER_MEASURE - 1 - k))
            evidence = keys[written % len(keys)] if keys and written % 10 == 0 else ""
            writer.writerow(
                [
                    measure["code"],
                    "in_progress",
                    10 + (written % 80),
                    day.isoformat(),
                    "medium",
                    f"Bench import, row {written + 2}",
                    evidence,
                ]
            )
            written += 1
            if written == rows:
                return out.getvalue().encode()
    raise SystemExit(f"dataset S has too few synthetic measures for {rows} rows")


def as_xlsx(data: bytes) -> bytes:
    """The CSV's rows as an XLSX workbook (openpyxl's write-only mode), numbers and dates
    typed as a spreadsheet types them."""
    from datetime import date

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for number, row in enumerate(csv.reader(io.StringIO(data.decode()))):
        if number:
            row[2], row[3] = int(row[2]), date.fromisoformat(row[3])
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--pg-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "postgres"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)

    from .run import app_env

    info = dataset.conninfo(args.pg_host, args.pg_port, args.pg_user)

    def db_url(name: str) -> str:
        return dataset.url(args.pg_host, args.pg_port, args.pg_user, name)

    env = app_env(db_url("postgres"), uncapped=True)
    template = dataset.ensure_template(
        "S", info=info, db_url=db_url, env=env, log=log, name="bench_intake_s"
    )
    name = dataset.fresh_copy(template, info=info)
    try:
        os.environ.update(app_env(db_url(name), uncapped=True))
        os.environ["PGAPPNAME"] = "bench-intake"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        lines = measure(name)
    finally:
        if not args.keep_db:
            dataset.drop(name, info=info)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def measure(database: str) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from intake import services
    from recommendations.models import StatusUpdate
    from recommendations.roles import ANALYST

    user = get_user_model().objects.create_user("bench-intake", is_staff=True)
    user.groups.add(Group.objects.get(name=ANALYST))
    data = spreadsheet(ROWS)
    history = StatusUpdate.objects.count()

    log(f"dry run of {ROWS:,} rows ({len(data):,} bytes)")
    with CaptureQueriesContext(connection) as dry_queries:
        began = time.perf_counter()
        imported = services.check_file(data=data, filename="bench.csv", by=user, channel="command")
        dry_seconds = time.perf_counter() - began
    if imported.errors or imported.to_record != ROWS:
        problems = list(
            imported.row_results.exclude(problems=[]).values_list("number", "problems")[:5]
        )
        raise SystemExit(f"the bench file should import cleanly: {problems}")
    assert StatusUpdate.objects.count() == history, "a dry run recorded something"

    workbook = as_xlsx(data)
    log(f"the same rows as XLSX ({len(workbook):,} bytes): a dry run")
    began = time.perf_counter()
    from_xlsx = services.check_file(
        data=workbook, filename="bench.xlsx", by=user, channel="command"
    )
    xlsx_seconds = time.perf_counter() - began
    assert from_xlsx.to_record == ROWS, "the XLSX should read as the CSV does"

    log("commit")
    with CaptureQueriesContext(connection) as commit_queries:
        began = time.perf_counter()
        services.confirm(imported, by=user)
        commit_seconds = time.perf_counter() - began
    assert StatusUpdate.objects.count() == history + ROWS

    log("again: the same file, every row already recorded")
    began = time.perf_counter()
    again = services.check_file(data=data, filename="bench.csv", by=user, channel="command")
    again_seconds = time.perf_counter() - began
    assert again.already == ROWS and again.to_record == 0

    log("statements by size")
    counts = {}
    for size in SIZES:
        sample = spreadsheet(size)
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            services.check_file(data=sample, filename="bench.csv", by=user, channel="command")
            transaction.set_rollback(True)
        counts[size] = len(queries)
    batches = {size: math.ceil(size / services.BATCH) for size in SIZES}
    per_batch = (counts[SIZES[-1]] - counts[SIZES[0]]) / (batches[SIZES[-1]] - batches[SIZES[0]])
    bounded = all(counts[size] <= FIXED + PER_BATCH * batches[size] for size in SIZES)

    lines = [
        f"Spreadsheet intake, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.node()} ({os.cpu_count()} cores), PostgreSQL database {database} "
        f"(dataset S: {history:,} status updates before the import).",
        "",
        "| step | rows | wall time | statements | target |",
        "| --- | --: | --: | --: | --- |",
        f"| dry run (read, check every row, store the import) | {ROWS:,} | {dry_seconds:.2f} s | "
        f"{len(dry_queries):,} | under {TARGET_SECONDS:.0f} s: "
        f"{'met' if dry_seconds < TARGET_SECONDS else 'MISSED'} |",
        f"| dry run of the same rows as XLSX | {ROWS:,} | {xlsx_seconds:.2f} s | | |",
        f"| commit (check again, record in one transaction) | {ROWS:,} | {commit_seconds:.2f} s | "
        f"{len(commit_queries):,} | under {TARGET_SECONDS:.0f} s: "
        f"{'met' if commit_seconds < TARGET_SECONDS else 'MISSED'} |",
        f"| the same file again (every row already recorded) | {ROWS:,} | {again_seconds:.2f} s | "
        "| |",
        "",
        "Statements of a dry run, by rows (batches of "
        f"{services.BATCH}): "
        + ", ".join(f"{size:,} rows: {counts[size]}" for size in SIZES)
        + f". Growth: {per_batch:.1f} statements per batch of {services.BATCH} rows "
        f"({per_batch / services.BATCH:.3f} per row); bound {FIXED} + {PER_BATCH} per batch: "
        + ("held." if bounded else "EXCEEDED."),
    ]
    if not bounded:
        print("\n".join(lines))
        raise SystemExit("statements grew faster than batches")
    return lines


if __name__ == "__main__":
    sys.exit(main())
