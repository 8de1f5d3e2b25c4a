"""Small SVG charts drawn on the server: bars against capacity, plain bars, a sparkline.

Each picture has a `<title>` and a `<desc>` and is drawn with attributes only (no `style`, so
the page's Content-Security-Policy needs nothing more); the page shows the same numbers as a
table too, for screen readers and for anyone who would rather read them. Colours come from the
style sheet's classes (`bar`, `cap`, `over`, `line`...).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 180
PAD_BOTTOM, PAD_TOP = 22, 8


def _svg(title: str, desc: str, body: str, *, width: int = WIDTH, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{body}</svg>"
    )


def _scale(top: int) -> float:
    return (HEIGHT - PAD_BOTTOM - PAD_TOP) / max(top, 1)


def capacity_bars(
    days: Sequence[tuple[str, int, int]],
    *,
    title: str,
    desc: str,
    href: Sequence[str] = (),
    values: bool = False,
) -> Markup:
    """One column per day: the places offered in light, the places booked over them.

    `days` is (label, booked, capacity); a full day's bar is drawn in the `full` class. With
    `href`, each column links to its day's list; with `values`, its number is written on top.
    """
    top = max((max(b, c) for _, b, c in days), default=0)
    scale, step = _scale(top) * (0.88 if values else 1), WIDTH / max(len(days), 1)
    base = HEIGHT - PAD_BOTTOM
    parts = []
    for i, (label, booked, capacity) in enumerate(days):
        x, w = i * step + step * 0.15, step * 0.7
        full = capacity and booked >= capacity
        column = (
            f'<rect class="cap" x="{x:.1f}" y="{base - capacity * scale:.1f}" '
            f'width="{w:.1f}" height="{capacity * scale:.1f}"/>'
            f'<rect class="{"full" if full else "bar"}" x="{x:.1f}" '
            f'y="{base - booked * scale:.1f}" width="{w:.1f}" height="{booked * scale:.1f}"/>'
            f'<text class="tick" x="{x + w / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
        if values:
            column += (
                f'<text class="value" x="{x + w / 2:.1f}" y="{base - booked * scale - 4:.1f}" '
                f'text-anchor="middle">{booked}</text>'
            )
        if i < len(href):
            column = f'<a href="{escape(href[i])}">{column}</a>'
        parts.append(column)
    return _svg(title, desc, "".join(parts))


def bars(items: Sequence[tuple[str, int]], *, title: str, desc: str) -> Markup:
    """Horizontal bars, one per item (label, value), longest for the largest value."""
    row, label_w = 26, 150
    height = max(len(items), 1) * row + 4
    top = max((v for _, v in items), default=0)
    scale = (WIDTH - label_w - 60) / max(top, 1)
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y}" width="{max(value * scale, 1):.1f}" '
            f'height="{row - 8}"/>'
            f'<text class="value" x="{label_w + value * scale + 6:.1f}" y="{y + 16}">'
            f"{value}</text>"
        )
    return _svg(title, desc, "".join(parts), height=height)


def sparkline(values: Sequence[int], *, title: str, desc: str) -> Markup:
    """A small line of the values, left to right, with a dot on the last one."""
    width, height, pad = 160, 40, 4
    top = max(values, default=0) or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [
        (pad + i * step, height - pad - v * (height - 2 * pad) / top) for i, v in enumerate(values)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    body = f'<polyline class="line" fill="none" points="{line}"/>'
    if points:
        body += f'<circle class="dot" cx="{points[-1][0]:.1f}" cy="{points[-1][1]:.1f}" r="3"/>'
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>{body}</svg>"
    )
