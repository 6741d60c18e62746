"""Server-rendered SVG charts: no script, no library, no CDN (the UI works offline under a strict
CSP). Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>``; the page shows the
same numbers in a table beside it (the text alternative). Every label is escaped here; colours are
presentation attributes (CSP forbids inline style, not SVG attributes)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# One colour per environment (by position in the chart's legend), then per series.
PALETTE = ("#3b82f6", "#f59e0b", "#e0464f", "#10b981", "#8b5cf6", "#06b6d4", "#64748b", "#d946ef")
BAR = "#3b5bdb"
AXIS = "#cfd4dc"
TEXT = "#5d6877"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]


def _nice_max(value: int) -> int:
    """A round axis maximum at or above *value* (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _open(chart_id: str, title: str, desc: str, width: int, height: int, *, linked: bool = False) -> list[str]:
    # A chart whose bars are links is a group: an "img" hides its links from keyboard and screen reader.
    role = "group" if linked else "img"
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'role="{role}" aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11, fill: str = TEXT) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}">{escape(text)}</text>'
    )


def bar_chart(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[int], *, links: Sequence[str] | None = None
) -> SafeString:
    """Vertical bars, one per label, each with its value above it (a link each, with *links*)."""
    width, height, left, bottom, top = 520, 220, 36, 34, 18
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = _nice_max(max(values, default=0))
    desc = "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    parts = _open(chart_id, title, desc, width, height, linked=bool(links))
    parts += _grid(left, top, plot_w, plot_h, peak)
    slot = plot_w / max(len(values), 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_h = plot_h * value / peak
        x = left + i * slot + slot * 0.15
        y = top + plot_h - bar_h
        if links:
            parts.append(f'<a href="{escape(links[i])}" aria-label="{escape(label)}: {value}">')
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar_h:.1f}" rx="3" fill="{BAR}"/>'
        )
        parts.append(_text(x + slot * 0.35, y - 4, str(value), fill="#18202b"))
        if links:
            parts.append("</a>")
        parts.append(_text(x + slot * 0.35, height - bottom + 16, label))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every label and number is escaped above)


def _grid(left: float, top: float, plot_w: float, plot_h: float, peak: int) -> list[str]:
    parts = []
    for fraction in (0, 0.5, 1):
        y = top + plot_h - plot_h * fraction
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{AXIS}" stroke-width="1"/>'
        )
        tick = peak * fraction
        if tick == int(tick):  # no "0.5 reads" label on a small axis
            parts.append(_text(left - 6, y + 4, f"{int(tick)}", anchor="end", size=10))
    return parts


def stacked_bars(
    chart_id: str, title: str, days: Sequence[datetime.date], series: Sequence[Series], *, width: int = 900
) -> SafeString:
    """One stacked bar per day, one colour per series (environment), with a legend."""
    height, left, bottom, top = 200, 36, 48, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    peak = _nice_max(max(totals, default=0))
    desc = "; ".join(f"{s.name}: {sum(s.values)} in {len(days)} days" for s in series) or "No reads in this period"
    parts = _open(chart_id, title, desc, width, height)
    parts += _grid(left, top, plot_w, plot_h, peak)
    slot = plot_w / max(len(days), 1)
    for i, day in enumerate(days):
        base: float = top + plot_h
        for n, one in enumerate(series):
            value = one.values[i]
            if value <= 0:
                continue
            bar_h = plot_h * value / peak
            base -= bar_h
            parts.append(
                f'<rect x="{left + i * slot + 1:.1f}" y="{base:.1f}" width="{max(slot - 2, 1):.1f}" '
                f'height="{bar_h:.1f}" fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(one.name)} '
                f"{day.isoformat()}: {value}</title></rect>"
            )
        if (len(days) - 1 - i) % 7 == 0:  # weekly ticks ending on the last day
            parts.append(_text(left + i * slot + slot / 2, top + plot_h + 14, day.strftime("%b %d"), size=10))
    parts += _legend([s.name for s in series], left, height - 12)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308


def _legend(names: Sequence[str], left: float, y: float) -> list[str]:
    parts, x = [], left
    for n, name in enumerate(names):
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" rx="2" fill="{PALETTE[n % len(PALETTE)]}"/>'
        )
        parts.append(_text(x + 14, y, name, anchor="start"))
        x += 24 + 7 * len(name)
    return parts


def horizontal_bars(chart_id: str, title: str, labels: Sequence[str], values: Sequence[int], unit: str) -> SafeString:
    """One horizontal bar per label (longest first, as given), the value at its end."""
    row, left, width = 26, 170, 560
    height = max(row * len(values), row) + 10
    peak = max(values, default=0) or 1
    desc = "; ".join(f"{label}: {value} {unit}" for label, value in zip(labels, values, strict=True)) or "None"
    parts = _open(chart_id, title, desc, width, height)
    span = width - left - 60
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 6 + i * row
        shown = label if len(label) <= 26 else label[:25] + "…"
        parts.append(_text(left - 8, y + 14, shown, anchor="end", size=12, fill="#18202b"))
        bar_w = span * value / peak
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{bar_w:.1f}" height="16" rx="3" fill="{BAR}"/>')
        parts.append(_text(left + bar_w + 6, y + 15, str(value), anchor="start"))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308


def line_chart(chart_id: str, title: str, days: Sequence[datetime.date], series: Sequence[Series]) -> SafeString:
    """One line per series over the days, a dot at each point."""
    width, height, left, bottom, top = 620, 220, 36, 44, 14
    plot_w, plot_h = width - left - 16, height - bottom - top
    peak = _nice_max(max((v for s in series for v in s.values), default=0))
    last = {s.name: (s.values[-1] if s.values else 0) for s in series}
    desc = (
        "; ".join(f"{name}: {value} on the last day" for name, value in last.items())
        if days
        else "No daily figures recorded yet"
    )
    parts = _open(chart_id, title, desc, width, height)
    parts += _grid(left, top, plot_w, plot_h, peak)
    step = plot_w / max(len(days) - 1, 1)
    for n, one in enumerate(series):
        colour = PALETTE[(n + 2) % len(PALETTE)]
        points = [(left + i * step, top + plot_h - plot_h * value / peak) for i, value in enumerate(one.values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), day, value in zip(points, days, one.values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(one.name)} '
                f"{day.isoformat()}: {value}</title></circle>"
            )
    for i, day in enumerate(days):
        if (len(days) - 1 - i) % max(len(days) // 4, 1) == 0:
            parts.append(_text(left + i * step, top + plot_h + 14, day.strftime("%b %d"), size=10))
    names = [s.name for s in series]
    legend = _legend(names, left, height - 10)
    # the legend's swatches take the lines' colours
    parts += [
        part.replace(f'fill="{PALETTE[n % len(PALETTE)]}"', f'fill="{PALETTE[(n + 2) % len(PALETTE)]}"')
        for n, part in ((i // 2, p) for i, p in enumerate(legend))
    ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308
