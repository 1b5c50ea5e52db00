"""A hand-written SVG of how the sweep and the indicators grow with the number of
advisors: time on the left panel, peak memory on the right, both on log-log axes (a
straight line of slope 1 is linear growth; a dotted grey line shows that slope)."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

WIDTH, HEIGHT = 960, 520
PANEL_W, PANEL_H = 360, 280
COLOURS = ["#1f77b4", "#d62728"]  # one per quantity; the backend is the dash
DASHES = {"sqlite": "", "postgresql": "6 4"}


def _ticks(low: float, high: float) -> list[float]:
    """Powers of ten (and 2x, 5x when the range is narrow) between low and high."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5) if high / low < 1000 else (1,):
            value = mantissa * 10**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _panel(x0, y0, title, y_label, series, sizes) -> list[str]:
    """One log-log panel; series: list of (name, backend, [(size, value)])."""
    values = [v for _, _, points in series for _, v in points if v > 0]
    low, high = min(values) / 1.5, max(values) * 1.5
    xlow, xhigh = min(sizes) / 1.3, max(sizes) * 1.3

    def px(size):
        return x0 + PANEL_W * (math.log10(size) - math.log10(xlow)) / math.log10(xhigh / xlow)

    def py(value):
        return y0 + PANEL_H * (1 - (math.log10(value) - math.log10(low)) / math.log10(high / low))

    out = [
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 - 14}" text-anchor="middle" '
        f'font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#333"/>',
    ]
    for tick in _ticks(low, high):
        y = py(tick)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{_label(tick)}</text>"
        )
    for size in sizes:
        x = px(size)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + PANEL_H}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x:.1f}" y="{y0 + PANEL_H + 16}" text-anchor="middle" font-size="11">'
            f"{_label(size)}</text>"
        )
    out.append(
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 + PANEL_H + 36}" text-anchor="middle" '
        'font-size="12">advisors (log scale)</text>'
    )
    out.append(
        f'<text x="{x0 - 48}" y="{y0 + PANEL_H / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 {x0 - 48} {y0 + PANEL_H / 2})">{escape(y_label)}</text>'
    )
    # the slope of linear growth, from the first point of the first series, inside the panel
    first_size, first_value = series[0][2][0]
    last_size = min(xhigh, first_size * high / first_value)
    out.append(
        f'<line x1="{px(first_size):.1f}" y1="{py(first_value):.1f}" '
        f'x2="{px(last_size):.1f}" y2="{py(first_value * last_size / first_size):.1f}" '
        'stroke="#999" stroke-dasharray="2 3"/>'
    )
    for n, (name, backend, points) in enumerate(series):
        quantities = list(dict.fromkeys(name.rsplit(",", 1)[0] for name, _, _ in series))
        colour = COLOURS[quantities.index(name.rsplit(",", 1)[0]) % len(COLOURS)]
        path = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in points if v > 0)
        dash = DASHES.get(backend, "")
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{dash}"><title>{escape(name)}</title></polyline>'
        )
        for s, v in points:
            if v > 0:
                out.append(
                    f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}">'
                    f"<title>{escape(name)}: {_label(s)} advisors, {v:.3g}</title></circle>"
                )
        ly = y0 + PANEL_H + 62 + 16 * n
        out.append(
            f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 34}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
        )
        out.append(f'<text x="{x0 + 40}" y="{ly}" font-size="11">{escape(name)}</text>')
    return out


def growth_svg(rows: list[dict], title: str) -> str:
    """rows: the sweep benchmark's rows (backend, advisors, sweep_s, indicators_s,
    peak_rss_mb)."""
    sizes = sorted({r["advisors"] for r in rows})
    time_series, memory_series = [], []
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["advisors"])
        time_series.append(
            (f"reminder sweep, {backend}", backend, [(r["advisors"], r["sweep_s"]) for r in mine])
        )
        time_series.append(
            (f"indicators, {backend}", backend, [(r["advisors"], r["indicators_s"]) for r in mine])
        )
        memory_series.append(
            (
                f"peak RSS of the process, {backend}",
                backend,
                [(r["advisors"], r["peak_rss_mb"]) for r in mine],
            )
        )
        memory_series.append(
            (
                f"Python heap peak of the sweep, {backend}",
                backend,
                [(r["advisors"], r["sweep_heap_mb"]) for r in mine],
            )
        )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="26" text-anchor="middle" font-size="17" '
        f'font-weight="bold">{escape(title)}</text>',
        *_panel(90, 80, "Time against pool size", "seconds (log scale)", time_series, sizes),
        *_panel(570, 80, "Memory against pool size", "megabytes (log scale)", memory_series, sizes),
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
        'fill="#555">dotted grey: linear growth; dashed lines: PostgreSQL</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def write_growth(rows: list[dict], path: Path, title: str) -> Path:
    path.write_text(growth_svg(rows, title), encoding="utf-8")
    return path
