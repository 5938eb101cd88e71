"""Numbers, thumbnails and plots as the report shows them (:mod:`skinmetrics.report`)."""

from __future__ import annotations

import base64
import io
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
from matplotlib.ticker import MaxNLocator
from PIL import Image, UnidentifiedImageError

from .visits import format_day, natural_key

__all__ = ["PALETTE", "THUMBNAIL_SIZE", "THUMBNAIL_QUALITY", "MISSING", "format_value",
           "pretty_unit", "thumbnail_data_uri", "sparkline_svg", "course_figure"]

#: Largest side of an overlay thumbnail (px) and its JPEG quality.
THUMBNAIL_SIZE = 320
THUMBNAIL_QUALITY = 70
#: Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), yellow last (weak on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
           "#F0E442")
#: What a missing value is shown as (an en dash).
MISSING = "\u2013"
_GROUP = "\u202f"  # narrow no-break space between groups of three digits


def format_value(value: float, kind: str = "value") -> str:
    """A number as the report shows it.

    Parameters
    ----------
    value : float
        NaN (or None) when missing.
    kind : {"value", "percent", "count"}
        ``value``: integral values in full, others with 4 significant digits and whole from
        1000 on (``22.01``, ``0.1235``, ``1038``); ``percent`` (a % change, the unit is in
        the column header): one decimal; ``count``: whole.

    Returns
    -------
    str
        No exponent; digits grouped by three with a narrow no-break space from 10 000 on;
        an en dash when missing.
    """
    if value is None or not math.isfinite(value):
        return MISSING
    if kind == "percent":
        text = f"{value:.1f}"
        return "0.0" if text == "-0.0" else text
    if kind == "count" or float(value).is_integer() or abs(value) >= 1000:
        whole = round(value)
        return f"{whole:,}".replace(",", _GROUP) if abs(whole) >= 10000 else str(whole)
    return np.format_float_positional(value, precision=4, unique=False, fractional=False,
                                      trim="-")


def pretty_unit(unit: str) -> str:
    """A table unit for display (``mm2`` as mm², ``1/cm2`` as /cm²)."""
    return unit.replace("1/cm2", "/cm\u00b2").replace("mm2", "mm\u00b2")


def thumbnail_data_uri(path: str | os.PathLike, size: int = THUMBNAIL_SIZE,
                       quality: int = THUMBNAIL_QUALITY) -> str | None:
    """A downscaled JPEG copy of an image as a ``data:`` URI.

    Parameters
    ----------
    path : path-like
        An image file (the overlay.jpg of a photo).
    size : int
        Largest side of the thumbnail, px (the aspect ratio is kept).
    quality : int
        JPEG quality.

    Returns
    -------
    str or None
        ``data:image/jpeg;base64,...``; None when the file is missing or not an image.
    """
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, fast
            thumb = im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def sparkline_svg(days: Sequence[float], values: Sequence[float], width: int = 110,
                  height: int = 28, colour: str = PALETTE[0]) -> str:
    """A small trend plot of one metric over days, as inline SVG markup.

    Parameters
    ----------
    days, values : sequence of float
        One per visit, by day; NaN values are left out.
    width, height : int
        Size, px.
    colour : str

    Returns
    -------
    str
        An ``<svg>`` element: the course as a line with a dot per visit and a dashed line at
        the first (baseline) value, scaled to the values' own range; ``""`` when no value is
        known. Its ``<title>`` lists day and value.
    """
    pts = [(float(d), float(v)) for d, v in zip(days, values, strict=True) if math.isfinite(v)]
    if not pts:
        return ""
    pad = 4.0
    d0, d1 = min(float(d) for d in days), max(float(d) for d in days)
    v0, v1 = min(v for _, v in pts), max(v for _, v in pts)

    def xy(d: float, v: float) -> tuple[float, float]:
        x = width / 2 if d1 == d0 else pad + (d - d0) / (d1 - d0) * (width - 2 * pad)
        y = height / 2 if v1 == v0 else height - pad - (v - v0) / (v1 - v0) * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    coords = [xy(d, v) for d, v in pts]
    title = "; ".join(f"day {format_day(d)}: {format_value(v)}" for d, v in pts)
    base_y = coords[0][1]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="2.2"/>' for x, y in coords)
    return (f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f"<title>{title}</title>"
            f'<line x1="{pad}" y1="{base_y}" x2="{width - pad}" y2="{base_y}" stroke="#999" '
            f'stroke-width="0.8" stroke-dasharray="2,2"/>'
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            f'<g fill="{colour}">{dots}</g></svg>')


#: A course panel's size and margins (px; the left margin holds the tick labels).
_PANEL = {"width": 340, "height": 250, "left": 58, "right": 12, "top": 26, "bottom": 40,
          "legend_row": 13}


def course_figure(courses: Mapping[str, Mapping[str, Mapping[str, Sequence[tuple]]]],
                  unit: str) -> str:
    """Every patient's course of one metric and the mean +/- SD per arm, as an SVG plot.

    Parameters
    ----------
    courses : mapping
        region -> arm (``""`` without arms) -> patient -> [(visit, day, value), ...] by day.
    unit : str
        The metric's unit (y axis).

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``: a panel per region (three a row); per arm a thin
        line per patient and, thick, the mean +/- SD (n - 1) over the patients at each
        visit, drawn at the visit's median day; ticks at round values (matplotlib's
        ``MaxNLocator``).
    """
    regions = sorted(courses, key=natural_key)
    ncols = min(3, len(regions))
    nrows = -(-len(regions) // ncols)
    arms = sorted({a for by_arm in courses.values() for a in by_arm}, key=natural_key)
    colours = {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(arms)}
    width, height = _PANEL["width"] * ncols, _PANEL["height"] * nrows
    panels = [_course_panel(courses[region], region, unit, colours,
                            (k % ncols) * _PANEL["width"], (k // ncols) * _PANEL["height"])
              for k, region in enumerate(regions)]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">'
           f'<rect width="{width}" height="{height}" fill="#fff"/>{"".join(panels)}</svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _course_panel(by_arm: Mapping[str, Mapping[str, Sequence[tuple]]], region: str,
                  unit: str, colours: Mapping[str, str], x0: float, y0: float) -> str:
    """One region's panel of :func:`course_figure`, its top left corner at (x0, y0)."""
    arms = sorted(by_arm, key=natural_key)
    lines = {arm: [[(d, v) for _, d, v in course] for course in by_arm[arm].values()]
             for arm in arms}
    means = {arm: _mean_course(by_arm[arm].values()) for arm in arms}
    days = [d for arm in arms for line in lines[arm] for d, _ in line]
    span = max(days, default=0) or 1
    dodge = {arm: (k - (len(arms) - 1) / 2) * 0.015 * span  # arms' error bars side by side
             for k, arm in enumerate(arms)}
    values = [v for arm in arms for line in lines[arm] for _, v in line]
    values += [x for arm in arms for x in np.r_[means[arm][1] - means[arm][2],
                                                 means[arm][1] + means[arm][2]]]
    xs, x_ticks = _axis_range(min(days, default=0) - 0.03 * span, span * 1.03,
                              steps=(1, 2, 5, 7, 10))  # weeks where they fit
    ys, y_ticks = _axis_range(min(values, default=0), max(values, default=1))
    legend = _PANEL["legend_row"] * len(arms)  # a line per arm between title and plot
    left, top = x0 + _PANEL["left"], y0 + _PANEL["top"] + legend
    right = x0 + _PANEL["width"] - _PANEL["right"]
    bottom = y0 + _PANEL["height"] - _PANEL["bottom"]

    def x(day: float) -> float:
        return round(left + (day - xs[0]) / (xs[1] - xs[0]) * (right - left), 1)

    def y(value: float) -> float:
        return round(bottom - (value - ys[0]) / (ys[1] - ys[0]) * (bottom - top), 1)

    def text(tx: float, ty: float, label: str, size: int = 9, anchor: str = "middle",
             extra: str = "") -> str:
        return (f'<text x="{tx}" y="{ty}" font-size="{size}" text-anchor="{anchor}"{extra}>'
                f"{escape(label)}</text>")

    out = ['<g stroke="#ddd" stroke-width="0.5">'
           + "".join(f'<line x1="{x(t)}" y1="{top}" x2="{x(t)}" y2="{bottom}"/>' for t in x_ticks)
           + "".join(f'<line x1="{left}" y1="{y(t)}" x2="{right}" y2="{y(t)}"/>' for t in y_ticks)
           + "</g>",
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
           'fill="none" stroke="#000" stroke-width="0.8"/>']
    out += [text(x(t), bottom + 12, format_value(t)) for t in x_ticks]
    out += [text(left - 4, y(t) + 3, format_value(t), anchor="end") for t in y_ticks]
    out += [text((left + right) / 2, y0 + _PANEL["height"] - 8, "day", size=10),
            text(x0 + 12, (top + bottom) / 2, pretty_unit(unit), size=10,
                 extra=f' transform="rotate(-90 {x0 + 12} {(top + bottom) / 2})"'),
            text((left + right) / 2, y0 + 16, region, size=11)]
    for k, arm in enumerate(arms):
        colour = colours[arm]
        alpha = min(0.4, max(0.1, 8 / len(lines[arm])))
        out.append(f'<g fill="none" stroke="{colour}" stroke-width="0.8" '
                   f'stroke-opacity="{alpha:.2f}">'
                   + "".join(f'<polyline points="{_points(line, x, y)}"/>' for line in lines[arm])
                   + "</g>")
        mean_days, mean, sd = means[arm]
        at = mean_days + dodge[arm]
        bars = "".join(f'<line x1="{x(d)}" y1="{y(m - s)}" x2="{x(d)}" y2="{y(m + s)}"/>'
                       f'<line x1="{x(d) - 3}" y1="{y(m - s)}" x2="{x(d) + 3}" y2="{y(m - s)}"/>'
                       f'<line x1="{x(d) - 3}" y1="{y(m + s)}" x2="{x(d) + 3}" y2="{y(m + s)}"/>'
                       for d, m, s in zip(at, mean, sd, strict=True))
        dots = "".join(f'<circle cx="{x(d)}" cy="{y(m)}" r="2.8"/>'
                       for d, m in zip(at, mean, strict=True))
        out.append(f'<g stroke="{colour}" fill="{colour}" stroke-width="1.2">{bars}'
                   f'<polyline points="{_points(zip(at, mean, strict=True), x, y)}" '
                   f'fill="none" stroke-width="2.4"/>{dots}</g>')
        ly = top - legend + _PANEL["legend_row"] * k + 6
        out += [f'<line x1="{left}" y1="{ly - 3}" x2="{left + 14}" y2="{ly - 3}" '
                f'stroke="{colour}" stroke-width="2.4"/>',
                text(left + 18, ly, f"{arm or 'all patients'} (n = {len(lines[arm])})",
                     anchor="start")]
    return "".join(out)


def _points(points, x, y) -> str:
    """SVG polyline points of (day, value) pairs through the axis maps ``x`` and ``y``."""
    return " ".join(f"{x(d)},{y(v)}" for d, v in points)


def _axis_range(low: float, high: float, steps: Sequence[float] | None = None
                ) -> tuple[tuple[float, float], np.ndarray]:
    """An axis from ``low`` to ``high`` (5 % wider; a unit wide when they are equal) and its
    ticks at round values (at most 6; multiples of ``steps`` times a power of ten, see
    matplotlib's ``MaxNLocator``) within it."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    pad = 0.05 * (high - low)
    low, high = low - pad, high + pad
    ticks = MaxNLocator(nbins=5, steps=steps).tick_values(low, high)
    return (low, high), ticks[(ticks >= low) & (ticks <= high)]


def _mean_course(courses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median day, mean and SD (n - 1; 0 for one patient) of each visit over courses of
    (visit, day, value), by day."""
    days, values = defaultdict(list), defaultdict(list)
    for course in courses:
        for visit, day, value in course:
            days[visit].append(day)
            values[visit].append(value)
    stats = sorted((float(np.median(days[v])), float(np.mean(values[v])),
                    float(np.std(values[v], ddof=1)) if len(values[v]) > 1 else 0.0)
                   for v in days)
    return tuple(np.array(column) for column in zip(*stats, strict=True))
