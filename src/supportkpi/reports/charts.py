"""Small charts as inline SVG: no script, no font or file to fetch, so a review opens offline,
in a mail client and in a PDF exactly as in a browser.

Every label passes through :func:`html.escape`; numbers are formatted here, never taken as
markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

INK = "#1f2937"
MUTED = "#6b7280"
BAR = "#2563eb"
GRID = "#e5e7eb"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="10">{body}</svg>'
    )


def bars(points: Sequence[tuple[str, float]], label: str, width: int = 720) -> str:
    """A bar chart of (label, value), labels under every seventh bar."""
    height, left, bottom, top = 180, 36, 22, 10
    peak = max((v for _, v in points), default=0) or 1
    step = (width - left - 4) / max(len(points), 1)
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'stroke="{GRID}"/>'
    ]
    parts.append(
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" fill="{MUTED}">{peak:,.0f}</text>'
    )
    for i, (name, value) in enumerate(points):
        h = (height - bottom - top) * value / peak
        x = left + i * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{escape(name)}: {value:,.0f}</title></rect>'
        )
        if i % 7 == 0:
            parts.append(
                f'<text x="{x + 1:.1f}" y="{height - 6}" fill="{MUTED}">{escape(name)}</text>'
            )
    return _svg(width, height, "".join(parts), label)


def heatmap(cells: Sequence[tuple[int, int, int]], label: str) -> str:
    """Weekday (0 = Monday) × hour counts as shaded squares, darker for more."""
    size, left, top = 24, 34, 16
    counts = {(d, h): n for d, h, n in cells}
    peak = max(counts.values(), default=0) or 1
    parts = []
    for hour in range(0, 24, 3):
        parts.append(
            f'<text x="{left + hour * size + 2}" y="{top - 4}" fill="{MUTED}">{hour:02d}h</text>'
        )
    for day in range(7):
        y = top + day * size
        parts.append(f'<text x="0" y="{y + 16}" fill="{INK}">{DAYS[day]}</text>')
        for hour in range(24):
            n = counts.get((day, hour), 0)
            shade = 0.06 + 0.94 * n / peak if n else 0.0
            parts.append(
                f'<rect x="{left + hour * size}" y="{y}" width="{size - 2}" height="{size - 2}" '
                f'fill="{BAR}" fill-opacity="{shade:.2f}" stroke="{GRID}">'
                f"<title>{DAYS[day]} {hour:02d}:00: {n:,}</title></rect>"
            )
    return _svg(left + 24 * size, top + 7 * size, "".join(parts), label)


def sparkline(values: Sequence[float | None], label: str) -> str:
    """A line through the known values (gaps where a month had none), the last one marked."""
    width, height, pad = 96, 24, 3
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return pad + i * step, height - pad - (height - 2 * pad) * (v - low) / span

    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(point(i, v))
    parts = [
        '<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>'.format(
            BAR, " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        )
        for run in runs
        if run
    ]
    last = next((i, v) for i, v in reversed(list(enumerate(values))) if v is not None)
    x, y = point(*last)
    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{INK}"/>')
    return _svg(width, height, "".join(parts), label)
