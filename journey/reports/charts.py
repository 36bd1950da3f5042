"""Charts as inline SVG for report.html: no script, no network, the same picture in any browser
and in a file opened years later. Pure functions: data in, markup out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 34
SPARSE_POINTS = 30


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"


def line_chart(name: str, series: dict[str, list[tuple[datetime, float]]], unit: str = "",
               marks: Sequence[tuple[datetime, datetime, str]] = ()) -> str:  # fmt: skip
    """One line per series over time; `marks` shade time ranges (e.g. an incident)."""
    points = [p for values in series.values() for p in values]
    if not points:
        return empty(name)
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    if t0 == t1:  # one moment: give it an hour either side
        t0, t1 = t0 - timedelta(hours=1), t1 + timedelta(hours=1)
    span = (t1 - t0).total_seconds()
    top = _nice_max(max(v for _, v in points))
    bottom = -_nice_max(-min(v for _, v in points)) if min(v for _, v in points) < 0 else 0.0  # NPS goes below 0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + plot_w * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return TOP + plot_h * (top - v) / (top - bottom)

    parts = [_frame(name)]
    for start, end, label in marks:
        if end >= t0 and start <= t1:
            a, b = x(max(start, t0)), x(min(end, t1))
            parts.append(f'<rect class="mark" x="{a:.1f}" y="{TOP}" width="{max(b - a, 2):.1f}" height="{plot_h}" '
                         f'fill="#e15759" opacity="0.12"><title>{escape(label)}</title></rect>')  # fmt: skip
    parts.extend(_y_axis(top, y, unit, bottom))
    for k in range(5):
        t = t0 + (t1 - t0) * (k / 4)
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - 12}" text-anchor="middle" class="tick">{t:%d %b %H:%M}</text>')
    for index, (label, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        ordered = sorted(values)
        if len(ordered) > 1:
            path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(ordered))
            parts.append(f'<path class="series" d="{path}" fill="none" stroke="{color}" stroke-width="1.8">'
                         f"<title>{escape(label)}</title></path>")  # fmt: skip
        if len(ordered) <= SPARSE_POINTS:  # few points: show each (a single one draws no line)
            parts.extend(f'<circle class="point" cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                         f"<title>{escape(label)} {t:%d %b %H:%M}: {_number(v)}{unit}</title></circle>"
                         for t, v in ordered)  # fmt: skip
        parts.append(_legend(index, label, color))
    return _svg(name, parts)


def bar_chart(name: str, bars: list[tuple[str, float]], unit: str = "", horizontal: bool = False) -> str:
    """Bars with their values written on them; horizontal for long labels (funnels, places)."""
    if not bars:
        return empty(name)
    top = _nice_max(max(v for _, v in bars))
    parts = [_frame(name)]
    if horizontal:
        row = min(28.0, (HEIGHT - TOP - 10) / len(bars))
        label_w = 190
        for index, (label, value) in enumerate(bars):
            y, w = TOP + index * row, (WIDTH - label_w - 80) * value / top
            parts.append(
                f'<text x="{label_w - 6}" y="{y + row * 0.65:.1f}" text-anchor="end" class="label">{escape(label)}</text>'
            )
            parts.append(f'<rect class="bar" x="{label_w}" y="{y + 3:.1f}" width="{max(w, 1):.1f}" height="{row - 6:.1f}" '
                         f'fill="{PALETTE[0]}"><title>{escape(label)}: {_number(value)}{unit}</title></rect>')  # fmt: skip
            parts.append(
                f'<text x="{label_w + w + 6:.1f}" y="{y + row * 0.65:.1f}" class="value">{_number(value)}{unit}</text>'
            )
        return _svg(name, parts)
    plot_w, plot_h = WIDTH - LEFT - 20, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(bars)

    def to_y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts.extend(_y_axis(top, to_y, unit))
    for index, (label, value) in enumerate(bars):
        x = LEFT + index * slot
        parts.append(f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{to_y(value):.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{TOP + plot_h - to_y(value):.1f}" fill="{PALETTE[0]}"><title>{escape(label)}: '
                     f"{_number(value)}{unit}</title></rect>")  # fmt: skip
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" class="tick">{escape(label)}</text>'
        )
    return _svg(name, parts)


def stage_curve(name: str, stages: Sequence[str], series: dict[str, list[float | None]], unit: str = "",
                bounds: tuple[float, float] | None = None) -> str:  # fmt: skip
    """One line per series across the stages (a journey map's emotion curve): a stage without a
    value breaks the line. `bounds`: the scale's fixed range (NPS: -100..100)."""
    values = [v for line in series.values() for v in line if v is not None]
    if not values or not stages:
        return empty(name)
    bottom, top = bounds or (min(0.0, min(values)), _nice_max(max(values)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(stages)

    def x(index: int) -> float:
        return LEFT + slot * (index + 0.5)

    def y(v: float) -> float:
        return TOP + plot_h * (top - v) / (top - bottom)

    parts = [_frame(name), *_y_axis(top, y, unit, bottom)]
    parts.extend(f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" text-anchor="middle" class="tick">{escape(stage)}</text>'
                 for i, stage in enumerate(stages))  # fmt: skip
    for index, (label, line) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        path, pen_down = [], False
        for i, v in enumerate(line):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(v):.1f}")
            pen_down = True
            parts.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                         f"<title>{escape(label)} · {escape(stages[i])}: {_number(v)}{unit}</title></circle>")  # fmt: skip
        if len(path) > 1:
            parts.append(f'<path class="series" d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="1.8">'
                         f"<title>{escape(label)}</title></path>")  # fmt: skip
        parts.append(_legend(index, label, color))
    return _svg(name, parts)


def sankey(name: str, flows: list[tuple[str, str, float]], order: Sequence[str]) -> str:
    """Flows between stages (from, to, customers) as bands whose width is their volume: a column per
    stage in `order`, each node as tall as the larger of what enters and what leaves it."""
    flows = [(a, b, v) for a, b, v in flows if v > 0 and a in order and b in order]
    if not flows:
        return empty(name)
    rank = {stage: i for i, stage in enumerate(order)}
    size = {stage: max(sum(v for a, _, v in flows if a == stage), sum(v for _, b, v in flows if b == stage))
            for stage in order}  # fmt: skip
    size = {stage: v for stage, v in size.items() if v > 0}
    columns = sorted({rank[s] for s in size})
    x_of = {c: 20 + (WIDTH - 140) * i / max(len(columns) - 1, 1) for i, c in enumerate(columns)}
    gap, node_w, usable = 14, 10, HEIGHT - TOP - BOTTOM
    per_column = {c: [s for s in size if rank[s] == c] for c in columns}
    scale = min((usable - gap * (len(stages) - 1)) / sum(size[s] for s in stages) for stages in per_column.values())
    top_of: dict[str, float] = {}
    for stages in per_column.values():
        y: float = TOP
        for stage in stages:
            top_of[stage] = y
            y += size[stage] * scale + gap
    out_used = dict.fromkeys(size, 0.0)
    in_used = dict.fromkeys(size, 0.0)
    parts = [_frame(name)]
    for a, b, v in sorted(flows, key=lambda f: (rank[f[0]], rank[f[1]])):
        width = v * scale
        y0 = top_of[a] + out_used[a] + width / 2
        y1 = top_of[b] + in_used[b] + width / 2
        out_used[a] += width
        in_used[b] += width
        x0, x1 = x_of[rank[a]] + node_w, x_of[rank[b]]
        middle = (x0 + x1) / 2
        color = PALETTE[rank[b] % len(PALETTE)]
        parts.append(f'<path class="flow" d="M{x0:.1f},{y0:.1f} C{middle:.1f},{y0:.1f} {middle:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
                     f'fill="none" stroke="{color}" stroke-opacity="0.35" stroke-width="{max(width, 1):.1f}">'
                     f"<title>{escape(a)} → {escape(b)}: {_number(v)}</title></path>")  # fmt: skip
    for stage, value in size.items():
        x, y, h = x_of[rank[stage]], top_of[stage], max(value * scale, 1)
        parts.append(f'<rect class="node" x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" '
                     f'fill="{PALETTE[rank[stage] % len(PALETTE)]}"><title>{escape(stage)}: {_number(value)}</title></rect>')  # fmt: skip
        parts.append(f'<text x="{x + node_w + 4:.1f}" y="{y + h / 2 + 4:.1f}" class="label">{escape(stage)} '
                     f"({_number(value)})</text>")  # fmt: skip
    return _svg(name, parts)


def empty(name: str) -> str:
    return _svg(
        name,
        [
            _frame(name),
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="label">no data in this window</text>',
        ],
    )


def _frame(name: str) -> str:
    return f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/><desc>{escape(name)}</desc>'


def _y_axis(top: float, y, unit: str, bottom: float = 0.0) -> list[str]:
    parts = []
    for k in range(5):
        v = bottom + (top - bottom) * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{_number(v)}{unit}</text>'
        )
    return parts


def _legend(index: int, label: str, color: str) -> str:
    y = TOP + 6 + index * 16
    return (f'<rect x="{WIDTH - RIGHT + 12}" y="{y - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{WIDTH - RIGHT + 27}" y="{y + 1}" class="legend">{escape(label)}</text>')  # fmt: skip


def _svg(name: str, parts: list[str]) -> str:
    return (f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')  # fmt: skip
