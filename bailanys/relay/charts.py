"""Charts drawn on the server as inline SVG: no script, no library, nothing from another host.

Every chart scales to the width of its box (viewBox) and keeps its text at a
size a phone can read. Colours come from CSS classes in site.css, so the
page's Content-Security-Policy (no inline styles) holds. Labels are escaped.
"""

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 360
BAR = 22
GAP = 6
FONT = 13


@dataclass(frozen=True)
class Series:
    key: str
    label: str


def _svg(name: str, title: str, height: int, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308  every label in `body` went through escape()
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}" font-size="{FONT}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bars(name: str, title: str, rows: list[tuple[str, int]], *, css: str = "") -> SafeString:
    """Horizontal bars, one per (label, value): the label above, the value at the bar's end.

    Labels get the full width (a phone has no room beside the bars for "Waiting
    for a volunteer" in Russian).
    """
    top = max((value for _label, value in rows), default=0) or 1
    room = WIDTH - 48
    row = FONT + 4 + BAR + GAP
    body = []
    for i, (label, value) in enumerate(rows):
        y = i * row
        width = round(room * value / top) if value else 0
        body.append(
            f'<text x="0" y="{y + FONT}">{escape(label)}</text>'
            f'<rect class="bar {escape(css)}" x="0" y="{y + FONT + 4}" width="{max(width, 1)}" '
            f'height="{BAR}"/>'
            f'<text x="{width + 4}" y="{y + FONT + BAR - 2}">{value}</text>'
        )
    if not rows:
        body.append(f'<text x="0" y="{FONT}">—</text>')
    return _svg(name, title, max(len(rows), 1) * row, body)


def columns(
    name: str,
    title: str,
    buckets: list[tuple[str, dict[str, int]]],
    series: list[Series],
) -> SafeString:
    """Stacked columns over time (one per bucket), every fourth bucket labelled; then the
    legend, a list in HTML below the drawing."""
    plot_top, plot_height, left = 8, 120, 28
    axis = plot_top + plot_height
    top = max((sum(values.values()) for _label, values in buckets), default=0) or 1
    step = (WIDTH - left) / max(len(buckets), 1)
    body = [
        f'<line class="axis" x1="{left}" y1="{axis}" x2="{WIDTH}" y2="{axis}"/>',
        f'<text x="{left - 4}" y="{plot_top + FONT - 2}" text-anchor="end">{top}</text>',
        f'<text x="{left - 4}" y="{axis}" text-anchor="end">0</text>',
    ]
    for i, (label, values) in enumerate(buckets):
        x = left + i * step
        y = axis
        for index, s in enumerate(series):
            value = values.get(s.key, 0)
            if not value:
                continue
            height = plot_height * value / top
            y -= height
            body.append(
                f'<rect class="s{index}" x="{x + 1:.1f}" y="{y:.1f}" '
                f'width="{max(step - 2, 1):.1f}" height="{height:.1f}">'
                f"<title>{escape(label)} · {escape(s.label)}: {value}</title></rect>"
            )
        if i % 4 == 0:
            body.append(
                f'<text x="{x:.1f}" y="{axis + FONT + 2}" font-size="{FONT - 2}">'
                f"{escape(label)}</text>"
            )
    # The legend is HTML below the drawing, not SVG text: it wraps to the box's width, so
    # a long Russian or Kazakh label is never cut or overlapped.
    legend = "".join(
        f'<li><i class="s{index}" aria-hidden="true"></i>{escape(s.label)}</li>'
        for index, s in enumerate(series)
    )
    return mark_safe(  # noqa: S308  the labels went through escape()
        _svg(name, title, axis + FONT + 6, body)
        + f'<ul class="chart-legend" data-legend="{escape(name)}">{legend}</ul>'
    )
