"""Renderings of a StatusReport: JSON (the published record), Markdown, CSV and HTML."""

import csv
import io
import re
from dataclasses import fields

import orjson
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evidence.choices import SourceKind

from ..choices import ACTIVE, Status
from . import charts
from .status import SCHEMA_VERSION, StatusReport

FORMATS = ("json", "markdown", "csv", "html")
LANGUAGES = ("en", "zh")
MEDIA_TYPES = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
EXTENSIONS = {"json": "json", "markdown": "md", "csv": "csv", "html": "html"}


def report_data(report: StatusReport) -> dict:
    """The report's top level, in the JSON schema documented in the README (the sections are
    the report's own dataclasses: orjson writes them as objects)."""
    sections = {f.name: getattr(report, f.name) for f in fields(report)}
    return {
        "schema_version": SCHEMA_VERSION,
        "report": "status",
        "period": {"since": sections.pop("since"), "until": sections.pop("until")},
        **sections,
    }


def json_bytes(report: StatusReport) -> bytes:
    """Canonical JSON: the same report always gives the same bytes (and SHA-256). Moments
    are ISO 8601 in UTC, to the second. No trailing newline, so that no copy or backup can
    lose one and change the digest."""
    return orjson.dumps(
        report_data(report), option=orjson.OPT_INDENT_2 | orjson.OPT_OMIT_MICROSECONDS
    )


def render_json(report: StatusReport) -> str:
    return json_bytes(report).decode()


def render_csv(report: StatusReport) -> str:
    """One row per measure: its status and progress as of `since` and `until`, and how many
    updates in the period re-confirmed its state (and the latest of them)."""
    reconfirmed = {r.measure: r for r in report.reconfirmations.measures}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "code",
            "pillar",
            "title_zh",
            "title_en",
            "status_since",
            "progress_since",
            "status_until",
            "progress_until",
            "progress_change",
            "status_changed",
            "reconfirmations",
            "last_reconfirmed",
        ]
    )
    for m in report.measures:
        writer.writerow(
            [
                csv_text(m.measure),
                m.pillar,
                csv_text(m.title_zh),
                csv_text(m.title_en),
                m.status_since or "",
                blank(m.progress_since),
                m.status_until,
                blank(m.progress_until),
                blank(m.progress_change),
                str(m.status_since != m.status_until).lower(),
                reconfirmed[m.measure].count if m.measure in reconfirmed else 0,
                reconfirmed[m.measure].latest.isoformat() if m.measure in reconfirmed else "",
            ]
        )
    return out.getvalue()


def blank(value) -> str:
    return "" if value is None else str(value)


# OWASP's CSV injection rule: a cell a spreadsheet would read as a formula gets a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A stored text as a CSV cell that no spreadsheet runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


# Characters that can start Markdown or HTML structure anywhere in a line.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!~&])")
# What can open a block at the start of a line: a list, quote, heading underline or rule.
MARKDOWN_LINE_START = re.compile(r"^([-+=]|\d{1,9}[.)])")


def md(value: str, *, indent: int | None = None) -> str:
    """A stored text (a note, a title, a claim) as Markdown that shows it literally: it can
    add no heading, list, link, table cell or HTML. With `indent`, its lines stay inside the
    list item whose text starts at that column; without, it is one line."""
    lines = [MARKDOWN_SPECIAL.sub(r"\\\1", line.strip()) for line in value.splitlines()]
    lines = [line for line in lines if line]
    if indent is None:
        return " ".join(lines)
    # Every line but the first starts a line of the document: it must open no block.
    lines[1:] = [
        MARKDOWN_LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], line)
        for line in lines[1:]
    ]
    # A backslash at a line's end is a hard line break: the note keeps its lines.
    return ("\\\n" + " " * indent).join(lines)


def title(item, lang: str) -> str:
    """The item's title in `lang`, escaped for Markdown (the HTML template escapes its own)."""
    return md(item.title_zh if lang == "zh" else item.title_en)


def label(status: str | None) -> str:
    return str(Status(status).label) if status else "–"


def kind_label(kind: str) -> str:
    """A source kind's name in the active language (its key if the kind is unknown)."""
    return str(SourceKind(kind).label) if kind in SourceKind.values else kind


def percent(value) -> str:
    return "–" if value is None else f"{value:g}%"


def signed(value) -> str:
    return "–" if value is None else f"{value:+g}"


def mean_over(summary) -> str:
    """A summary's mean progress and what it is over: "30% over 1 of 15 assessed"."""
    if not summary.assessed:
        return _("– (none of %(measures)s assessed)") % {"measures": summary.measures}
    return _("%(mean)s over %(assessed)s of %(measures)s assessed") % {
        "mean": percent(summary.mean_progress),
        "assessed": summary.assessed,
        "measures": summary.measures,
    }


# How the report decides coverage, stated where coverage is shown.
def coverage_rule() -> str:
    return _(
        "A mitigating measure covers its risk once it is partially implemented or implemented. "
        "Coverage is the share of a risk's mitigating measures that cover it; a risk that none "
        "covers is flagged uncovered."
    )


def uncovered_flag() -> str:
    return _("uncovered: no mitigating measure is partially implemented or implemented yet")


def changes_rule() -> str:
    return _(
        "A change is an update whose status or progress differs from the entry before it. "
        "Updates that repeat the status and progress in force are re-confirmations: counted "
        "per measure below, not listed."
    )


def reconfirmations_line(report: StatusReport) -> str:
    count = report.reconfirmations.total
    return ngettext(
        "%(count)s update in the period re-confirmed the status and progress in force.",
        "%(count)s updates in the period re-confirmed the status and progress in force.",
        count,
    ) % {"count": count}


def render_markdown(report: StatusReport, lang: str = "en") -> str:
    with translation.override("zh-hans" if lang == "zh" else "en"):
        return "\n".join(_markdown(report, lang)) + "\n"


def _markdown(report: StatusReport, lang: str):
    o = report.overview
    # Words used inside f-strings below, looked up here so that makemessages finds them.
    change, measures, mean = _("change"), _("measures"), _("mean progress")
    pillar, implemented, active = _("pillar"), _("implemented"), _("in progress or beyond")
    note_word, evidence_word, coverage_word = _("Note"), _("Evidence"), _("coverage")
    yield "# " + _("Status report: %(since)s to %(until)s") % {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
    }
    yield ""
    yield _("Period: after %(since)s, up to and including %(until)s.") % {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
    }
    yield ""
    yield "## " + _("Overview")
    yield ""
    yield f"| | {report.since.isoformat()} | {report.until.isoformat()} | {change} |"
    yield "| --- | ---: | ---: | ---: |"
    yield f"| {measures} | {o.since.measures} | {o.until.measures} | {o.change.measures:+d} |"
    for status in Status.values:
        yield (
            f"| {label(status)} | {o.since.by_status[status]} | {o.until.by_status[status]} | "
            f"{o.change.by_status[status]:+d} |"
        )
    yield (
        f"| {mean} | {mean_over(o.since)} | "
        f"{mean_over(o.until)} | {signed(o.change.mean_progress)} |"
    )
    yield ""
    yield "## " + _("Pillars")
    yield ""
    yield f"| {pillar} | {measures} | {implemented} | {active} | {mean} | {change} |"
    yield "| --- | ---: | ---: | ---: | ---: | ---: |"
    for p in report.pillars:
        going = sum(p.until.by_status[s] for s in ACTIVE)
        yield (
            f"| {p.number}. {title(p, lang)} | {p.until.measures} | "
            f"{p.until.by_status['implemented']} | {going} | {mean_over(p.until)}"
            f" | {signed(p.change.mean_progress)} |"
        )
    yield ""
    yield "## " + _("Changes")
    yield ""
    yield changes_rule()
    yield ""
    if not report.changes:
        yield _("No status or progress changed in the period.")
        yield ""
    for group in report.changes:
        yield f"### {group.pillar}. {title(group, lang)}"
        yield ""
        for c in group.updates:
            late = (
                " "
                + _("(recorded %(day)s, after the period)")
                % {"day": timezone.localtime(c.recorded_at).date().isoformat()}
                if c.recorded_after_period
                else ""
            )
            yield (
                f"- **{md(c.measure)}** {title(c, lang)} — {c.effective_date.isoformat()}: "
                f"{label(c.from_status)} → {label(c.to_status)}, "
                f"{percent(c.from_progress)} → {percent(c.to_progress)}{late}"
            )
            if c.note:
                yield f"  - {note_word}: {md(c.note, indent=4)}"
            for e in c.evidence:
                claim = e["claim_zh"] if lang == "zh" else e["claim_en"]
                yield f"  - {evidence_word}: {md(claim, indent=4)}"
        yield ""
    yield "## " + _("Re-confirmations")
    yield ""
    yield reconfirmations_line(report)
    yield ""
    if report.reconfirmations.measures:
        yield f"| {_('measure')} | {_('re-confirmations')} | {_('last re-confirmed')} |"
        yield "| --- | ---: | ---: |"
        for r in report.reconfirmations.measures:
            yield f"| **{md(r.measure)}** {title(r, lang)} | {r.count} | {r.latest.isoformat()} |"
        yield ""
    sections = [
        (
            _("Newly implemented"),
            report.newly_implemented,
            lambda m: (
                f"**{md(m.measure)}** {title(m, lang)} ({label(m.status_since)} → "
                f"{label(m.status_until)})"
            ),
        ),
        (
            _("Regressions"),
            report.regressions,
            lambda c: (
                f"**{md(c.measure)}** {title(c, lang)} — {c.effective_date.isoformat()}: "
                f"{label(c.from_status)} → {label(c.to_status)}. {md(c.note, indent=2)}"
            ),
        ),
        (
            _("Stalled or abandoned"),
            report.stalled,
            lambda s: (
                f"**{md(s.measure)}** {title(s, lang)} — {label(s.status)} "
                + _("since %(day)s") % {"day": s.since_date.isoformat()}
                + (f". {md(s.note, indent=2)}" if s.note else "")
            ),
        ),
        (
            _("Reassessment due"),
            report.reassessment_due,
            lambda r: (
                f"**{md(r.measure)}** {title(r, lang)} — "
                + (
                    _("never assessed since %(day)s: %(days)s days as of %(until)s")
                    if r.never_assessed
                    else _("%(status)s since the update of %(day)s: %(days)s days as of %(until)s")
                )
                % {
                    "status": label(r.status),
                    "day": r.last_update.isoformat(),
                    "days": r.days_since_update,
                    "until": report.until.isoformat(),
                }
                + " "
                + _("(review every %(every)s days)") % {"every": r.review_every_days}
            ),
        ),
        (
            _("Overdue"),
            report.overdue,
            lambda d: (
                f"**{md(d.measure)}** {title(d, lang)} — "
                + _(
                    "target %(day)s, %(days)s days overdue as of %(until)s, %(status)s at "
                    "%(progress)s"
                )
                % {
                    "day": d.target_date.isoformat(),
                    "days": d.days_overdue,
                    "until": report.until.isoformat(),
                    "status": label(d.status),
                    "progress": percent(d.progress),
                }
            ),
        ),
    ]
    for heading, rows, line in sections:
        yield "## " + heading
        yield ""
        yield from ([f"- {line(row)}" for row in rows] or [_("None.")])
        yield ""
    yield "## " + _("Risk coverage")
    yield ""
    yield coverage_rule()
    yield ""
    for r in report.risks:
        flag = " ⚠ " + uncovered_flag() if r.uncovered else ""
        coverage = "–" if r.coverage is None else f"{r.coverage:.0%}"
        yield f"### {title(r, lang)} — {coverage_word} {coverage}{flag}"
        yield ""
        yield from (
            [
                f"- **{md(m.measure)}** {title(m, lang)}: {label(m.status)}, {percent(m.progress)}"
                for m in r.measures
            ]
            or [_("No measure mitigates this risk.")]
        )
        yield ""
    yield "## " + _("Evidence added")
    yield ""
    added = report.evidence_added
    yield ngettext(
        "%(count)s piece of evidence was added in the period.",
        "%(count)s pieces of evidence were added in the period.",
        added.total,
    ) % {"count": added.total}
    if added.by_source_kind:
        yield ""
        for kind, count in added.by_source_kind.items():
            yield f"- {kind_label(kind)}: {count}"


def render_html(report: StatusReport, lang: str = "en") -> str:
    """A self-contained page (inline CSS and SVG charts), readable on screen and in print."""
    with translation.override("zh-hans" if lang == "zh" else "en"):
        return render_to_string(
            "reports/status.html",
            {
                "report": report,
                "lang": lang,
                "html_lang": "zh-Hans" if lang == "zh" else "en",
                "statuses": [(s, label(s), charts.COLOURS[s]) for s in Status.values],
                "status_chart": charts.status_bars(report, lang),
                "progress_chart": charts.progress_lines(report, lang),
                "mean_since": mean_over(report.overview.since),
                "mean_until": mean_over(report.overview.until),
                "coverage_rule": coverage_rule(),
                "changes_rule": changes_rule(),
                "reconfirmations_line": reconfirmations_line(report),
                "uncovered_flag": uncovered_flag(),
                "evidence_by_kind": [
                    (kind_label(kind), count)
                    for kind, count in report.evidence_added.by_source_kind.items()
                ],
                "pillar_rows": [
                    {
                        "pillar": p,
                        "title": p.title_zh if lang == "zh" else p.title_en,
                        "active": sum(p.until.by_status[s] for s in ACTIVE),
                        "mean": mean_over(p.until),
                    }
                    for p in report.pillars
                ],
            },
        )


def render_bytes(report: StatusReport, fmt: str, lang: str = "en") -> bytes:
    """`render` as UTF-8 bytes; JSON without a text copy between (a year's report at national
    scale is 80 MB of it)."""
    if fmt == "json":
        return json_bytes(report)
    return render(report, fmt, lang).encode()


def render(report: StatusReport, fmt: str, lang: str = "en") -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "markdown":
        return render_markdown(report, lang)
    if fmt == "html":
        return render_html(report, lang)
    raise ValueError(f"unknown format {fmt!r}")
