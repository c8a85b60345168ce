"""Markdown tables of the latest results, the growth from S to M to L, and whether the
admin's and the 304s' query counts stay the same at every size.

.venv/bin/python -m bench.summarize        # reads bench/results/{S,M,L}.json, writes summary.md
"""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SUFFIX = f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""
FLAT = 1.2  # per-request cost at the larger set at most 20% above the smaller's counts as flat
GROWING = (
    "B1",
    "B2",
    "B3 shallow",
    "B3 deep",
    "B6",
    "B7 measures",
    "B7 updates",
    "B7 evidence",
    "B7 measure page",
)


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}{SUFFIX}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt(value, spec=".2f") -> str:
    return "–" if value is None else format(value, spec)


def bench_table(out: dict) -> list[str]:
    lines = [
        "| bench | variant | CPU ms/req | app | db | × limit | req/s | p50 ms | p99 ms "
        "| statuses |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]

    def rows(name, variants):
        limit = variants.get("limit", {}).get("cpu_ms")
        for variant, s in variants.items():
            if not s:
                continue
            ratio = f"{s['cpu_ms'] / limit:.2f}×" if limit else "–"
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items()))
            lines.append(
                f"| {name} | {variant} | {fmt(s['cpu_ms'])} | {fmt(s['app_cpu_ms'])} | "
                f"{fmt(s['db_cpu_ms'])} | {ratio} | {fmt(s['rps'], '.1f')} | "
                f"{fmt(s['p50_ms'], '.1f')} | {fmt(s['p99_ms'], '.1f')} | {statuses} |"
            )

    for name, bench in out.get("reads", {}).items():
        rows(name, bench["variants"])
    if out.get("b4"):
        rows("B4", out["b4"]["variants"])
    if out.get("b5"):
        for kind in ("distinct", "hot"):
            rows(f"B5 {kind}", {v: s[kind] for v, s in out["b5"]["variants"].items()})
    return lines


def growth(small: dict, medium: dict, names=("S", "M")) -> list[str]:
    a, b = names
    lines = [
        f"| bench | variant | {a} CPU ms/req (app + db) | {b} CPU ms/req (app + db) | {b} / {a} "
        f"| db {b} / {a} |",
        "|---|---|--:|--:|--:|--:|",
    ]
    verdicts = []
    for name in GROWING:
        for variant in ("real", "limit", "B1 304", "B2 304", "feed 304"):
            s = small.get("reads", {}).get(name, {}).get("variants", {}).get(variant)
            m = medium.get("reads", {}).get(name, {}).get("variants", {}).get(variant)
            if not s or not m:
                continue
            ratio = m["cpu_ms"] / s["cpu_ms"]
            db = m["db_cpu_ms"] / s["db_cpu_ms"] if s["db_cpu_ms"] else None
            lines.append(
                f"| {name} | {variant} | {s['cpu_ms']:.2f} ({s['app_cpu_ms']:.2f} + "
                f"{s['db_cpu_ms']:.2f}) | {m['cpu_ms']:.2f} ({m['app_cpu_ms']:.2f} + "
                f"{m['db_cpu_ms']:.2f}) | {ratio:.2f} | {fmt(db)} |"
            )
            if variant != "limit":
                verdicts.append((f"{name} {variant}" if name == "B6" else name, ratio))
    # B4 grows with the updates in the quarter, not the history: shown, no verdict.
    for variant in ("real", "limit"):
        s = small.get("b4", {}).get("variants", {}).get(variant)
        m = medium.get("b4", {}).get("variants", {}).get(variant)
        if s and m:
            lines.append(
                f"| B4 | {variant} | {s['cpu_ms']:.0f} ({s['app_cpu_ms']:.0f} + "
                f"{s['db_cpu_ms']:.0f}) | {m['cpu_ms']:.0f} ({m['app_cpu_ms']:.0f} + "
                f"{m['db_cpu_ms']:.0f}) | {m['cpu_ms'] / s['cpu_ms']:.0f} | "
                f"{fmt(m['db_cpu_ms'] / s['db_cpu_ms'] if s['db_cpu_ms'] else None, '.0f')} |"
            )
    updates = [x.get("b4", {}).get("changes_in_period") for x in (small, medium)]
    flat = all(ratio <= FLAT for _, ratio in verdicts)
    lines.append("")
    lines.append(
        f"{'MET' if flat else 'MISSED'}: flat from {a} to {b} (history ×"
        f"{medium['database']['status_updates'] / small['database']['status_updates']:.0f}): "
        + ", ".join(f"{name} ×{ratio:.2f}" for name, ratio in verdicts)
        + f" (flat = at most ×{FLAT})"
    )
    if all(updates):
        lines.append(
            f"B4 (no target): the quarter holds {updates[0]:,} updates at {a}, "
            f"{updates[1]:,} at {b} (×{updates[1] / updates[0]:.0f})."
        )
    return lines


def same_queries(runs: dict) -> list[str]:
    """B6 and B7's statements per request at each size: the same at every size, or not."""
    counted = {name: out.get("queries", {}) for name, out in runs.items() if out}
    pages = sorted({page for counts in counted.values() for page in counts})
    if not pages:
        return []
    lines = ["| request | " + " | ".join(counted) + " |", "|---|" + "--:|" * len(counted)]
    constant = True
    for page in pages:
        values = [counts.get(page) for counts in counted.values()]
        known = [v for v in values if v is not None]
        constant &= len(known) >= 2 and len(set(known)) == 1  # measured at two sizes at least
        lines.append(f"| {page} | " + " | ".join(fmt(v, "d") for v in values) + " |")
    lines += ["", f"{'MET' if constant else 'MISSED'}: the same queries per request at every size"]
    return lines


def main() -> int:
    small, medium, large = load("S"), load("M"), load("L")
    parts = []
    for name, out in (("L", large), ("M", medium), ("S", small)):
        if not out:
            continue
        db, machine = out["database"], out["machine"]
        parts.append(
            f"### Dataset {name}: {db['measures']} measures, {db['status_updates']} status "
            f"updates ({db['size']})\n\n{machine['cpu']} ×{machine['cores']}, kernel "
            f"{machine['kernel']}, Python {machine['python']}, PostgreSQL "
            f"{machine['postgresql'].split()[0]}, commit {machine['git_commit'][:10]}, "
            f"run {out['finished_at']} in {out['seconds']:.0f} s\n"
        )
        parts.append("\n".join(bench_table(out)) + "\n")
        parts.append(
            "\n".join(
                f"- {'MET' if v['met'] else '**MISSED**'} {v['target']}: {v['value']}"
                for v in out.get("verdicts", [])
            )
            + "\n"
        )
        if out.get("b5"):
            parts.append(
                "\n".join(
                    f"- B5 {variant}: {v['2xx']} 2xx, {v['rows_written']} rows, lost {v['lost']}, "
                    f"duplicated {v['duplicated']}, version ≠ history rows on "
                    f"{v['measures_version_not_history_count']} of {v['measures_touched']} "
                    f"measures; responses {v['responses']}"
                    for variant, v in out["b5"]["verification"].items()
                )
                + "\n"
            )
    if small and medium:
        parts.append("### Growth: S to M\n\n" + "\n".join(growth(small, medium)) + "\n")
    if medium and large:
        parts.append("### Growth: M to L\n\n" + "\n".join(growth(medium, large, ("M", "L"))) + "\n")
    queries = same_queries({"S": small, "M": medium, "L": large})
    if queries:
        parts.append("### Queries per request (B6, B7)\n\n" + "\n".join(queries) + "\n")
    text = "\n".join(parts)
    (RESULTS / f"summary{SUFFIX}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
