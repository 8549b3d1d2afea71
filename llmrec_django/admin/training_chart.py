"""A per-epoch loss / metric chart as inline SVG, drawn on the server (the admin works offline,
so no JavaScript charting library is loaded).

``epoch_chart_svg(run.epochs)`` draws one line per series (train loss, validation loss, and any
validation metric such as accuracy or AUC on a second, 0..1 axis) with a legend; it returns
markup built only from numbers and fixed labels, safe to mark as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 52, 16, 40
LOSS_SERIES = {"train_loss": ("train loss", "#1f77b4"), "valid_loss": ("validation loss", "#d62728")}
METRIC_SERIES = {
    "valid_accuracy": ("validation accuracy", "#2ca02c"),
    "valid_auc": ("validation AUC", "#9467bd"),
    "valid_ndcg@10": ("validation NDCG@10 over the catalogue", "#ff7f0e"),
}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def epoch_chart_svg(epochs: Sequence[Mapping[str, Any]]) -> str:
    """SVG markup of the run's epochs ('' when there is nothing to draw)."""
    if not epochs:
        return ""
    xs = [int(e.get("epoch", i + 1)) for i, e in enumerate(epochs)]
    losses = [e[key] for e in epochs for key in LOSS_SERIES if _finite(e.get(key))]
    if not losses:
        return ""
    low, high = min(losses), max(losses)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    x_min, x_max = min(xs), max(xs)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(epoch: int) -> float:
        return LEFT + (plot_w * (epoch - x_min) / (x_max - x_min) if x_max > x_min else plot_w / 2)

    def y_of(value: float, lo: float, hi: float) -> float:
        return TOP + plot_h * (1 - (value - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="Loss and validation metrics per epoch" style="font: 11px sans-serif; background: #fff">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for fraction in (0, 0.5, 1):
        value = low + (high - low) * fraction
        y = y_of(value, low, high)
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value:.3g}</text>')
        parts.append(f'<text x="{WIDTH - RIGHT + 4}" y="{y + 4:.1f}">{fraction:.1f}</text>')
    for epoch in xs:
        parts.append(f'<text x="{x_of(epoch):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{epoch}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">epoch</text>')
    legend_x = LEFT + 6
    series = [(key, label, colour, low, high) for key, (label, colour) in LOSS_SERIES.items()]
    series += [(key, label, colour, 0.0, 1.0) for key, (label, colour) in METRIC_SERIES.items()]
    for key, label, colour, lo, hi in series:
        points = [
            (x_of(x), y_of(float(e[key]), lo, hi)) for x, e in zip(xs, epochs, strict=True) if _finite(e.get(key))
        ]
        if not points:
            continue
        dash = ' stroke-dasharray="4 3"' if lo == 0.0 and hi == 1.0 else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
        parts.append(f'<rect x="{legend_x}" y="{TOP + 6}" width="10" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{TOP + 11}">{label}</text>')
        legend_x += 14 + 6 * len(label) + 12
    parts.append("</svg>")
    return "".join(parts)
