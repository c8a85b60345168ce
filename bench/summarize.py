"""Markdown tables of the latest results, and the growth from S to M.

.venv/bin/python -m bench.summarize        # reads bench/results/{S,M}.json, writes summary.md
"""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SUFFIX = f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""
FLAT = 1.2  # per-request cost at M at most 20% above S's counts as flat


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


def growth(small: dict, medium: dict) -> list[str]:
    lines = [
        "| bench | variant | S CPU ms/req (app + db) | M CPU ms/req (app + db) | M / S "
        "| db M / S |",
        "|---|---|--:|--:|--:|--:|",
    ]
    verdicts = []
    for name in ("B1", "B2", "B3 shallow", "B3 deep"):
        for variant in ("real", "limit"):
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
            if variant == "real":
                verdicts.append((name, ratio))
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
        f"{'MET' if flat else 'MISSED'}: B1-B3 flat from S to M (history ×"
        f"{medium['database']['status_updates'] / small['database']['status_updates']:.0f}): "
        + ", ".join(f"{name} ×{ratio:.2f}" for name, ratio in verdicts)
        + f" (flat = at most ×{FLAT})"
    )
    if all(updates):
        lines.append(
            f"B4 (no target): the quarter holds {updates[0]:,} updates at S, {updates[1]:,} at M "
            f"(×{updates[1] / updates[0]:.0f})."
        )
    return lines


def main() -> int:
    small, medium = load("S"), load("M")
    parts = []
    for name, out in (("M", medium), ("S", small)):
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
    text = "\n".join(parts)
    (RESULTS / f"summary{SUFFIX}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
