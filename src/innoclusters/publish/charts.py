"""Plain SVG charts for the report, made in Python: bar charts and a slope chart of ranks.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that lists every
value in words (its text alternative), axis labels that carry the unit, and one ``<g>`` per
cluster with ``data-index`` (its row in the ranking) so the page's script can open that
cluster's card on a click. Every string is XML-escaped here; no script runs in a chart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from html import escape

__all__ = ["Bar", "Slope", "bar_chart", "nice_ticks", "slope_chart"]

_WIDTH = 640
_ROW_PX = 22
_LABEL_PX = 230
_RIGHT_PX = 70
_TOP_PX = 34
_BOTTOM_PX = 46
_MAX_LABEL_CHARS = 34
_BAR = "#1f5f99"


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar: its label, value, the value as shown, and the cluster's row (or ``None``)."""

    label: str
    value: float
    text: str
    index: int | None = None


@dataclasses.dataclass(frozen=True)
class Slope:
    """One line of a slope chart: a cluster's rank before (or ``None``) and now (or ``None``)."""

    label: str
    before: int | None
    after: int | None
    index: int | None = None


def _x(value: object) -> str:
    return escape(str(value), quote=True)


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL_CHARS else label[: _MAX_LABEL_CHARS - 1] + "…"


def nice_ticks(high: float, *, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high`` (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(high) or high <= 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2g}"


def _mark(mark: str) -> str:
    """A mark in the chart's top right corner (the synthetic-data notice travels with it)."""
    if not mark:
        return ""
    return (
        f'<text class="chart-mark-svg" x="{_WIDTH - 2}" y="14" text-anchor="end">{_x(mark)}</text>'
    )


def bar_chart(
    *,
    chart_id: str,
    title: str,
    axis_label: str,
    bars: Sequence[Bar],
    summary: str = "",
    mark: str = "",
) -> str:
    """A horizontal bar chart, largest first as given, as an SVG string.

    Parameters
    ----------
    chart_id
        Prefix of the element ids (unique in the page).
    title
        The chart's title, shown above it and read as its name.
    axis_label
        The value axis label, with its unit (``"PCT applications (fractional count)"``).
    bars
        The bars, in the order shown (top to bottom).
    summary
        A sentence put before the list of values in the text alternative.
    mark
        Text drawn in the top right corner inside the chart (``"SYNTHETIC DATA"``), so a
        copy of the image carries it.

    Returns
    -------
    str
        ``<svg>`` markup.
    """
    height = _TOP_PX + _ROW_PX * max(len(bars), 1) + _BOTTOM_PX
    plot_w = _WIDTH - _LABEL_PX - _RIGHT_PX
    values = [b.value for b in bars if math.isfinite(b.value)]
    ticks = nice_ticks(max(values, default=0.0))
    top_value = ticks[-1] or 1.0
    words = "; ".join(f"{b.label}: {b.text}" for b in bars) or "no data"
    desc = f"{summary} {words}." if summary else f"{words}."
    parts = [
        f'<svg class="chart-svg" id="{_x(chart_id)}" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-labelledby="{_x(chart_id)}-title {_x(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_x(chart_id)}-title">{_x(title)}</title>',
        f'<desc id="{_x(chart_id)}-desc">{_x(desc)}</desc>',
        f'<text class="chart-title" x="0" y="18" aria-hidden="true">{_x(title)}</text>',
        _mark(mark),
    ]
    axis_y = _TOP_PX + _ROW_PX * max(len(bars), 1)
    for t in ticks:
        x = _LABEL_PX + plot_w * t / top_value
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP_PX - 4}" y2="{axis_y}"/>'
            f'<text class="tick" x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" '
            f'aria-hidden="true">{_x(_tick_text(t))}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{_LABEL_PX + plot_w / 2:.1f}" y="{axis_y + 34}" '
        f'text-anchor="middle" aria-hidden="true">{_x(axis_label)}</text>'
    )
    for i, bar in enumerate(bars):
        y = _TOP_PX + _ROW_PX * i
        w = plot_w * max(bar.value, 0.0) / top_value if math.isfinite(bar.value) else 0.0
        index = "" if bar.index is None else f' data-index="{bar.index}"'
        parts.append(
            f'<g class="bar"{index} aria-hidden="true">'
            f"<title>{_x(bar.label)}: {_x(bar.text)}</title>"
            f'<text class="label" x="{_LABEL_PX - 6}" y="{y + 15}" text-anchor="end">'
            f"{_x(_short(bar.label))}</text>"
            f'<rect x="{_LABEL_PX}" y="{y + 4}" width="{w:.1f}" height="{_ROW_PX - 7}" '
            f'fill="{_BAR}"/>'
            f'<text class="value" x="{_LABEL_PX + w + 4:.1f}" y="{y + 15}">{_x(bar.text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def slope_chart(
    *,
    chart_id: str,
    title: str,
    before_label: str,
    after_label: str,
    lines: Sequence[Slope],
    top: int,
    mark: str = "",
) -> str:
    """A slope chart of ranks: each cluster's rank before (left) and now (right).

    Ranks beyond ``top`` (or missing) are drawn at an "out of the top" row below the axis
    end, so entrants come in from the bottom and exits leave to it.

    Parameters
    ----------
    chart_id
        Prefix of the element ids.
    title
        The chart's title.
    before_label, after_label
        Names of the two columns (``"2023 edition"``, ``"this run"``).
    lines
        One line per cluster.
    top
        The last rank drawn on the axis.
    mark
        Text drawn in the top right corner inside the chart.

    Returns
    -------
    str
        ``<svg>`` markup.
    """
    row = 16
    out_row = top + 1.6
    height = _TOP_PX + 24 + int(row * out_row) + 28
    left, right = 200, _WIDTH - 200

    def y_of(rank: int | None) -> float:
        r = out_row if rank is None or rank > top else rank
        return _TOP_PX + 24 + row * (r - 1)

    words = []
    for s in lines:
        b = f"rank {s.before}" if s.before is not None and s.before <= top else "not in the top"
        a = f"rank {s.after}" if s.after is not None and s.after <= top else "not in the top"
        words.append(f"{s.label}: {b} then {a}")
    desc = (
        f"Slope chart of ranks, {before_label} on the left, {after_label} on the right. "
        + "; ".join(words)
        + "."
    )
    parts = [
        f'<svg class="chart-svg" id="{_x(chart_id)}" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-labelledby="{_x(chart_id)}-title {_x(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{_x(chart_id)}-title">{_x(title)}</title>',
        f'<desc id="{_x(chart_id)}-desc">{_x(desc)}</desc>',
        f'<text class="chart-title" x="0" y="18" aria-hidden="true">{_x(title)}</text>',
        _mark(mark),
        f'<text class="axis-label" x="{left}" y="{_TOP_PX + 8}" text-anchor="middle" '
        f'aria-hidden="true">{_x(before_label)} (rank)</text>',
        f'<text class="axis-label" x="{right}" y="{_TOP_PX + 8}" text-anchor="middle" '
        f'aria-hidden="true">{_x(after_label)} (rank)</text>',
        f'<line class="grid" x1="{left}" x2="{left}" y1="{y_of(1) - 6}" y2="{y_of(None) + 6}"/>',
        f'<line class="grid" x1="{right}" x2="{right}" y1="{y_of(1) - 6}" y2="{y_of(None) + 6}"/>',
        f'<text class="tick" x="{_WIDTH / 2}" y="{y_of(None) + 4}" text-anchor="middle" '
        f'aria-hidden="true">not in the top {top}</text>',
    ]
    for s in lines:
        y0, y1 = y_of(s.before), y_of(s.after)
        up = s.after is not None and (s.before is None or s.after < s.before)
        down = s.before is not None and (s.after is None or s.after > s.before)
        cls = "up" if up else "down" if down else "same"
        index = "" if s.index is None else f' data-index="{s.index}"'
        name = _x(_short(s.label))
        left_text = (
            f'<text class="label" x="{left - 6}" y="{y0 + 4}" text-anchor="end">'
            f"{s.before} {name}</text>"
            if s.before is not None and s.before <= top
            else ""
        )
        right_text = (
            f'<text class="label" x="{right + 6}" y="{y1 + 4}">{s.after} {name}</text>'
            if s.after is not None and s.after <= top
            else ""
        )
        parts.append(
            f'<g class="bar slope {cls}"{index} aria-hidden="true"><title>{_x(s.label)}</title>'
            f'<line x1="{left}" y1="{y0:.1f}" x2="{right}" y2="{y1:.1f}"/>'
            f'<circle cx="{left}" cy="{y0:.1f}" r="3"/><circle cx="{right}" cy="{y1:.1f}" r="3"/>'
            f"{left_text}{right_text}</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
