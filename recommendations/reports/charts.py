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
            parts.append(bar_rects(summary.by_status, date_width, y, bar_width, row - 2))
            parts.append(
                f'<text x="{date_width + bar_width + 6}" y="{y + 11}" {FONT} '
                f'fill="#555">{summary.measures}</text>'
            )
            y += row
        y += gap
    parts.append(f'<g transform="translate(0 {y})">{legend}</g>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def text_width(text: str) -> float:
    """About how wide `text` is at the charts' 11px font: CJK characters are square."""
    return sum(11 if ord(char) > 0x2E80 else 6.5 for char in text)


def bar_rects(by_status: dict[str, int], x: float, y: float, width: float, height: float) -> str:
    """One stacked bar of measures by status, in ladder order, each part titled with its
    status and count (shown on hover)."""
    total = sum(by_status.values())
    parts = []
    for status in Status.values:
        count = by_status.get(status, 0)
        if not count:
            continue
        share = width * count / total
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{share:.1f}" height="{height}" '
            f'fill="{COLOURS[status]}"><title>{escape(Status(status).label)}: {count}'
            "</title></rect>"
        )
        x += share
    return "".join(parts)


def status_bar(by_status: dict[str, int], label: str) -> SafeString:
    """A standalone stacked bar that stretches to its container's width."""
    return mark_safe(  # noqa: S308 - every text is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 14" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}" class="status-bar">'
        f"{bar_rects(by_status, 0, 0, 400, 14)}</svg>"
    )


def _legend(width: int) -> tuple[str, int]:
    """The status colours, wrapped to `width`; returns the SVG and its height."""
    parts, x, y = [], 0, 12
    for status in Status.values:
        text = str(Status(status).label)
        item_width = 24 + text_width(text)
        if x + item_width > width:
            x, y = 0, y + 16
        parts.append(
            f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" '
            f'fill="{COLOURS[status]}"/><text x="{x + 14:.0f}" y="{y}" {FONT}>'
            f"{escape(text)}</text>"
        )
        x += item_width
    return "".join(parts), y + 6


def _line_legend(series: list, width: int, top: int) -> tuple[str, int]:
    """One entry per line, wrapped into rows no wider than `width` (nothing clipped);
    returns the SVG and the height it takes below `top`."""
    parts, x, y = [], 0, top + 12
    for name, colour, stroke, _values in series:
        item_width = 30 + text_width(name)
        if x and x + item_width > width:
            x, y = 0, y + 18
        parts.append(
            f'<line x1="{x:.0f}" x2="{x + 18:.0f}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="{stroke + 1}"/><text x="{x + 22:.0f}" y="{y}" {FONT}>'
            f"{escape(name)}</text>"
        )
        x += item_width + 12
    return "".join(parts), y + 8 - top


# The least room between two date labels on the time axis, in SVG units.
LABEL_GAP = 72


def thinned_labels(xs: list[float]) -> list[int]:
    """Indexes of the points whose date is written: the first and the last always, and between
    them each point at least LABEL_GAP from the previous label and from the last, so no two
    labels overlap however many points there are."""
    if not xs:
        return []
    chosen = [0]
    for index in range(1, len(xs) - 1):
        if xs[index] - xs[chosen[-1]] >= LABEL_GAP and xs[-1] - xs[index] >= LABEL_GAP:
            chosen.append(index)
    if len(xs) > 1:
        chosen.append(len(xs) - 1)
    return chosen


def progress_lines(report: StatusReport, lang: str) -> SafeString:
    """Mean progress over the period, overall (thick) and per pillar, on a time axis: points
    stand where their dates fall (every month end and the period's ends), the dates written
    as often as they fit; the legend below, wrapped."""
    points = report.progress_over_time
    width, left, top, plot_w, plot_h = 700, 40, 10, 640, 220
    label = escape(_("Mean progress over the period"))
    series = [(_("All measures"), "#222", 3, [p.overall for p in points])]
    for index, pillar in enumerate(report.pillars):
        series.append(
            (
                f"{pillar.number}. {_clip(_title(pillar, lang), 90)}",
                LINE_COLOURS[index % len(LINE_COLOURS)],
                1.5,
                [p.pillars.get(str(pillar.number)) for p in points],
            )
        )
    legend, legend_height = _line_legend(series, width, top + plot_h + 30)
    height = top + plot_h + 30 + legend_height
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
    first = points[0].date if points else report.since
    span = max((points[-1].date - first).days, 1) if points else 1
    # Labels are centred on their point, so the outermost stay inside the plot.
    inner_left, inner_w = left + 32, plot_w - 64
    xs = [
        inner_left + (inner_w * (p.date - first).days / span if len(points) > 1 else inner_w / 2)
        for p in points
    ]
    for index in thinned_labels(xs):
        parts.append(
            f'<line x1="{xs[index]:.1f}" x2="{xs[index]:.1f}" y1="{top + plot_h}" '
            f'y2="{top + plot_h + 4}" stroke="#999"/>'
            f'<text x="{xs[index]:.1f}" y="{top + plot_h + 16}" {FONT} '
            f'text-anchor="middle" fill="#555">{points[index].date.isoformat()}</text>'
        )
    for name, colour, stroke, values in series:
        coords = [
            (xs[i], top + plot_h * (1 - v / 100)) for i, v in enumerate(values) if v is not None
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
    parts.append(legend)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
