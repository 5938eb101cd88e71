"""Numbers, thumbnails and plots as the report shows them (:mod:`skinmetrics.report`)."""

from __future__ import annotations

import base64
import io
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
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


def _svg_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "skinmetrics"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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
        ``data:image/svg+xml;base64,...``: a panel per region; per arm a thin line per
        patient and, thick, the mean +/- SD (n - 1) over the patients at each visit, drawn
        at the visit's median day.
    """
    regions = sorted(courses, key=natural_key)
    ncols = min(3, len(regions))
    nrows = -(-len(regions) // ncols)
    width, height = 3.4 * ncols + 0.4, 2.5 * nrows
    fig = Figure(figsize=(width, height), dpi=100)
    # fixed margins in inches: a layout engine would triple the time of a plot
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, bottom=0.45 / height,
                        top=1 - 0.3 / height, wspace=0.45, hspace=0.55)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    arms = sorted({a for by_arm in courses.values() for a in by_arm}, key=natural_key)
    colours = {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(arms)}
    for ax, region in zip(axes, regions, strict=False):
        by_arm = courses[region]
        span = max((d for patients in by_arm.values() for course in patients.values()
                    for _, d, _ in course), default=0) or 1
        for k, arm in enumerate(sorted(by_arm, key=natural_key)):
            patients = by_arm[arm]
            lines = [np.array([(d, v) for _, d, v in c], dtype=float) for c in patients.values()]
            ax.add_collection(LineCollection(lines, colors=colours[arm], linewidths=0.6,
                                             alpha=min(0.4, max(0.1, 8 / len(lines)))))
            days, mean, sd = _mean_course(patients.values())
            dodge = (k - (len(by_arm) - 1) / 2) * 0.015 * span  # arms' error bars side by side
            ax.errorbar(days + dodge, mean, yerr=sd, color=colours[arm], linewidth=2.4,
                        marker="o", markersize=4, capsize=3,
                        label=f"{arm or 'all patients'} (n = {len(patients)})")
        ax.autoscale_view()
        ax.set_title(region, fontsize=9)
        ax.set_xlabel("day", fontsize=8)
        ax.set_ylabel(pretty_unit(unit), fontsize=8)
        ax.locator_params(nbins=5)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#dddddd", linewidth=0.5)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes[len(regions):]:
        ax.set_axis_off()
    return _svg_data_uri(fig)


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
