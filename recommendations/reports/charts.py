"""Inline SVG charts of a status report: no script, no external file, printable."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from ..choices import Status
from .status import StatusReport

# Colour-blind-safe, print-friendly: greys before assessment, blues for the ladder, green for
# done, orange and red for stopped.
COLOURS = {
    Status.NOT_ASSESSED: "#d9d9d9",
    Status.NOT_STARTED: "#a6a6a6",
    Status.PLANNED: "#c6dbef",
    Status.IN_PROGRESS: "#6baed6",
    Status.PARTIALLY_IMPLEMENTED: "#2171b5",
    Status.IMPLEMENTED: "#238b45",
    Status.STALLED: "#fd8d3c",
    Status.ABANDONED: "#cb181d",
}
LINE_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _title(item, lang: str) -> str:
    return item.title_zh if lang == "zh" else item.title_en


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def status_bars(report: StatusReport, lang: str) -> SafeString:
    """Per pillar (and overall), two stacked bars of measures by status: as of `since` and
    as of `until`."""
    width, date_width, bar_width, row, gap = 700, 80, 580, 16, 12
    groups = [(_("All measures"), report.overview)] + [
        (f"{p.number}. {_clip(_title(p, lang), 90)}", p) for p in report.pillars
    ]
    legend, legend_height = _legend(width)
    height = len(groups) * (14 + 2 * row + gap) + legend_height + 10
    label = escape(_("Measures by status, per pillar"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}" class="chart">'
    ]
    y = 0
    for name, block in groups:
        parts.append(f'<text x="0" y="{y + 11}" {FONT} font-weight="600">{escape(name)}</text>')
        y += 14
        for day, summary in ((report.since, block.since), (report.until, block.until)):
            parts.append(
                f'<text x="{date_width - 8}" y="{y + 11}" {FONT} text-anchor="end" '
                f'fill="#555">{day.isoformat()}</text>'
            )
            x = date_width
            for status in Status.values:
                count = summary.by_status[status]
                if not count:
                    continue
                share = bar_width * count / summary.measures
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{share:.1f}" height="{row - 2}" '
                    f'fill="{COLOURS[status]}"><title>{escape(Status(status).label)}: {count}'
                    "</title></rect>"
                )
                x += share
            parts.append(
                f'<text x="{date_width + bar_width + 6}" y="{y + 11}" {FONT} '
                f'fill="#555">{summary.measures}</text>'
            )
            y += row
        y += gap
    parts.append(f'<g transform="translate(0 {y})">{legend}</g>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _legend(width: int) -> tuple[str, int]:
    """The status colours, wrapped to `width`; returns the SVG and its height."""
    parts, x, y = [], 0, 12
    for status in Status.values:
        text = str(Status(status).label)
        item_width = 24 + 7 * len(text) + (7 * len(text) if not text.isascii() else 0)
        if x + item_width > width:
            x, y = 0, y + 16
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
            f'fill="{COLOURS[status]}"/><text x="{x + 14}" y="{y}" {FONT}>'
            f"{escape(text)}</text>"
        )
        x += item_width
    return "".join(parts), y + 6


def progress_lines(report: StatusReport, lang: str) -> SafeString:
    """Mean progress over the period: overall (thick) and per pillar."""
    points = report.progress_over_time
    width, height, left, top, plot_w, plot_h = 700, 300, 40, 10, 460, 240
    label = escape(_("Mean progress over the period"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}" class="chart">'
    ]
    for value in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - value / 100)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e0e0e0"/><text x="{left - 6}" y="{y + 4:.1f}" {FONT} '
            f'text-anchor="end" fill="#555">{value}%</text>'
        )

    def x_of(index: int) -> float:
        return left + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    for index, point in enumerate(points):
        parts.append(
            f'<text x="{x_of(index):.1f}" y="{top + plot_h + 16}" {FONT} '
            f'text-anchor="middle" fill="#555">{point.date.strftime("%Y-%m-%d")}</text>'
        )
    series = [(_("All measures"), "#222", 3, [p.overall for p in points])]
    for index, pillar in enumerate(report.pillars):
        values = [p.pillars.get(str(pillar.number)) for p in points]
        series.append(
            (
                f"{pillar.number}. {_clip(_title(pillar, lang), 22)}",
                LINE_COLOURS[index % len(LINE_COLOURS)],
                1.5,
                values,
            )
        )
    for rank, (name, colour, stroke, values) in enumerate(series):
        coords = [
            (x_of(i), top + plot_h * (1 - v / 100)) for i, v in enumerate(values) if v is not None
        ]
        if coords:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="{stroke}"><title>{escape(name)}</title></polyline>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords
            )
        legend_y = top + 14 + rank * 16
        parts.append(
            f'<line x1="{left + plot_w + 20}" x2="{left + plot_w + 38}" y1="{legend_y - 4}"'
            f' y2="{legend_y - 4}" stroke="{colour}" stroke-width="{stroke + 1}"/>'
            f'<text x="{left + plot_w + 42}" y="{legend_y}" {FONT}>{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
