"""Server-rendered SVG bar charts for the admin pages (no JavaScript, no chart library, no CDN).

Usage::

    from llmrec_django.admin.charts import bar_chart

    svg = bar_chart(
        ["precision@10", "ndcg@10"],
        {"hybrid": [0.12, 0.31], "most_popular": [0.05, 0.12]},
        title="Ranking quality",
    )
    # {{ svg }} in a template: a SafeString; every label and title is HTML-escaped.

Groups (categories) run along the x axis with one bar per series in each group; every bar has
a ``<title>`` (its exact value as a tooltip), the y axis has "nice" ticks, and a legend names
the series. Missing values (None) leave a gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

CHAR_WIDTH = 6.5  # an 11px sans-serif character, roughly, for laying out labels
PALETTE = ("#2f6fdf", "#e07b39", "#3f9a6b", "#9b59b6", "#c4505a", "#7f8c8d", "#d4a017", "#17a2b8")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is >= value (1 for nothing positive)."""
    if not value or value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def _number(value: float, value_format: str) -> str:
    return value_format.format(value)


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    value_format: str = "{:.4f}",
    tick_format: str = "{:g}",
    max_value: float | None = None,
    height: int = 240,
    intervals: Mapping[str, Sequence[tuple[float, float] | None]] | None = None,
) -> SafeString:
    """A grouped bar chart as an inline ``<svg>`` (see the module docstring). ``intervals``: per
    series, a ``(low, high)`` per category (or None), drawn as an error bar on the bar."""
    names = list(series)
    intervals = intervals or {}
    for name in names:
        if len(series[name]) != len(categories):
            raise ValueError(f"Series {name!r} has {len(series[name])} values for {len(categories)} categories.")
        if name in intervals and len(intervals[name]) != len(categories):
            raise ValueError(f"Series {name!r} has {len(intervals[name])} intervals for {len(categories)} categories.")
    values = [v for name in names for v in series[name] if v is not None and math.isfinite(v)]
    values += [bounds[1] for name in names for bounds in intervals.get(name, ()) if bounds and math.isfinite(bounds[1])]
    top = max_value if max_value is not None else nice_ceiling(max(values, default=0.0))
    left, right, top_pad, label_h, legend_h = 56, 12, 30 if title else 12, 40, 24
    bar_w = 14 if len(names) > 1 else 28
    longest_label = max((len(str(c)) for c in categories), default=0)
    group_w = max(72, len(names) * bar_w + 24, int(CHAR_WIDTH * longest_label) + 12)
    plot_h = height
    legend_w = sum(24 + int(CHAR_WIDTH * len(name)) for name in names)
    width = max(left + right + max(1, len(categories)) * group_w, left + legend_w + right)
    total_h = top_pad + plot_h + label_h + legend_h
    parts = [
        f'<svg class="llmrec-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" role="img" aria-label="{escape(title or "bar chart")}" '
        'font-family="system-ui, sans-serif" font-size="11">'
    ]
    if title:
        parts.append(f'<text x="{left}" y="18" font-size="13" font-weight="600">{escape(title)}</text>')
    baseline = top_pad + plot_h
    for j in range(5):
        tick = top * j / 4
        y = baseline - plot_h * j / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e6ec"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5c6475">'
            f"{escape(tick_format.format(tick))}</text>"
        )
    for g, category in enumerate(categories):
        x0 = left + g * group_w + (group_w - len(names) * bar_w) / 2
        for s, name in enumerate(names):
            value = series[name][g]
            if value is None or not math.isfinite(value):
                continue
            shown = min(max(value, 0.0), top)
            h = plot_h * shown / top if top else 0
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{baseline - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(name)} · {escape(category)}: '
                f"{escape(_number(value, value_format))}</title></rect>"
            )
            bounds = intervals.get(name, [None] * len(categories))[g]
            if bounds is not None and all(math.isfinite(b) for b in bounds):
                low, high = (baseline - plot_h * min(max(b, 0.0), top) / top for b in bounds)
                cx = x + (bar_w - 2) / 2
                parts.append(
                    f'<path d="M{cx:.1f} {low:.1f}V{high:.1f}M{cx - 3:.1f} {low:.1f}h6M{cx - 3:.1f} {high:.1f}h6" '
                    f'stroke="#1d2330" stroke-width="1"><title>{escape(name)} · {escape(category)}: '
                    f"{escape(_number(bounds[0], value_format))} to {escape(_number(bounds[1], value_format))}"
                    "</title></path>"
                )
        cx = left + g * group_w + group_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{baseline + 16}" text-anchor="middle" fill="#1d2330">{escape(category)}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{baseline}" x2="{width - right}" y2="{baseline}" stroke="#5c6475"/>')
    x = left
    legend_y = baseline + label_h + 6
    for s, name in enumerate(names):
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y}">{escape(name)}</text>')
        x += 24 + int(CHAR_WIDTH * len(name))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
