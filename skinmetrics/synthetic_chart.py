"""Paint a 24-patch ColorChecker Classic into a synthetic linear-RGB scene, with its truth.

The chart is drawn in *reflectance* (linear RGB before illumination, exposure, white balance,
noise and encoding, which the caller applies to the whole scene afterwards). Its layout is
that of the ColorChecker Classic [1]: 4 rows x 6 columns of square patches separated by black
gaps, on a black card. Patch colours are the linear sRGB (D65) reference values of
:func:`skinmetrics.chart.reference_linear_srgb` [2], clipped to [0, 1] (the cyan patch lies
slightly outside the sRGB gamut: R = -0.04). Edges are anti-aliased with the signed-distance
coverage ``clip(0.5 - d, 0, 1)`` (d in pixels, positive outside a shape).

Geometry: the unrotated card has its top-left outer corner at ``top_left_xy``; it is then
rotated by ``angle_deg`` (counter-clockwise on screen) about the card's centre. Pixel centres
sit at integer coordinates (the OpenCV convention). Every position in the truth is in the
chart's *canonical* orientation: patch 1 (dark skin) is the top-left patch of the chart, not
of the image, so a chart rotated by 180 degrees has its first corner at the bottom right.

References
----------
.. [1] McCamy C.S., Marcus H., Davidson J.G. A color-rendition chart. J Appl Photogr Eng
       1976;2:95-99.
.. [2] X-Rite. ColorChecker Classic reference data, editions after November 2014, as
       distributed by colour-science (``CCS_COLOURCHECKERS['ColorChecker24 - After
       November 2014']``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chart import reference_linear_srgb

__all__ = ["ChartTruth", "render_chart", "BORDER_LINEAR"]

#: Linear reflectance of the black card around the patches (about that of the "black 2"
#: patch, density 1.5 [1]; real cards are a little darker than the patch).
BORDER_LINEAR = 0.025


@dataclass
class ChartTruth:
    """Where a rendered chart is.

    Attributes
    ----------
    corners : (4, 2) float ndarray
        Outer corners of the card (x, y) in the order TL, TR, BR, BL of the chart's
        canonical orientation.
    patch_centres : (24, 2) float ndarray
        Patch centres (x, y), row-major from patch 1 (dark skin) to patch 24 (black).
    mask : (H, W) bool ndarray
        The card (at least half of the pixel covered).
    pitch_px : float
        Centre-to-centre distance of adjacent patches in pixels.
    patch_px : float
        Side of one patch in pixels.
    angle_deg : float
        Rotation of the chart (counter-clockwise on screen).
    """

    corners: np.ndarray
    patch_centres: np.ndarray
    mask: np.ndarray
    pitch_px: float
    patch_px: float
    angle_deg: float


def _coverage_rect(qx: np.ndarray, qy: np.ndarray, cx: float, cy: float, hw: float,
                   hh: float) -> np.ndarray:
    """Anti-aliased coverage of the axis-aligned rectangle (centre, half sizes) at (qx, qy)."""
    sd = np.maximum(np.abs(qx - cx) - hw, np.abs(qy - cy) - hh)
    return np.clip(0.5 - sd, 0.0, 1.0).astype(np.float32)


def render_chart(
    linear_image: np.ndarray,
    top_left_xy: tuple[float, float],
    patch_px: float,
    angle_deg: float = 0.0,
    gap_frac: float = 0.15,
    border_frac: float = 0.3,
    reference: np.ndarray | None = None,
    border_linear: float = BORDER_LINEAR,
) -> tuple[np.ndarray, ChartTruth]:
    """Paint a ColorChecker Classic into a linear-RGB image.

    Parameters
    ----------
    linear_image : (H, W, 3) float ndarray
        Linear RGB reflectance of the scene (not modified).
    top_left_xy : (float, float)
        Top-left outer corner (x, y) of the card before rotation, in pixels.
    patch_px : float
        Side of one patch in pixels.
    angle_deg : float
        Rotation about the card's centre, counter-clockwise on screen (180 turns the chart
        upside down, 90 makes it portrait).
    gap_frac : float
        Black gap between neighbouring patches as a fraction of ``patch_px``: the patch
        pitch is ``patch_px * (1 + gap_frac)``. The real card's is about 0.14 (6.5 / 46 in
        ArgyllCMS's ``ColorChecker.cht`` recognition template).
    border_frac : float
        Black card border outside the outermost patches, as a fraction of ``patch_px``.
    reference : (24, 3) ndarray, optional
        Linear RGB patch colours (default: :func:`skinmetrics.chart.reference_linear_srgb`).
    border_linear : float
        Linear reflectance of the card.

    Returns
    -------
    image : (H, W, 3) float32 ndarray
        A copy of ``linear_image`` with the chart painted in.
    truth : ChartTruth
    """
    if reference is None:
        reference = reference_linear_srgb()
    colours = np.clip(np.asarray(reference, dtype=np.float64), 0.0, 1.0).reshape(24, 3)
    out = np.array(linear_image, dtype=np.float32, copy=True)
    H, W = out.shape[:2]

    p = float(patch_px)
    pitch = p * (1.0 + gap_frac)
    b = p * border_frac
    card_w = 6 * p + 5 * gap_frac * p + 2 * b
    card_h = 4 * p + 3 * gap_frac * p + 2 * b
    x0, y0 = map(float, top_left_xy)
    centre = np.array([x0 + card_w / 2.0, y0 + card_h / 2.0])
    t = np.radians(angle_deg)
    c, s = np.cos(t), np.sin(t)
    # card frame q (origin at the card centre, axes of the unrotated card) -> image:
    # x = cx + c qx + s qy, y = cy - s qx + c qy  (counter-clockwise on screen, y down)
    rot = np.array([[c, s], [-s, c]])

    def to_image(q: np.ndarray) -> np.ndarray:
        return centre + np.asarray(q, float) @ rot.T

    half = np.array([card_w / 2.0, card_h / 2.0])
    corners_q = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    corners = to_image(corners_q)
    pc_q = np.array([[-card_w / 2 + b + p / 2 + col * pitch, -card_h / 2 + b + p / 2 + row * pitch]
                     for row in range(4) for col in range(6)])
    patch_centres = to_image(pc_q)

    # card window (pixels whose centre could be covered), clipped to the image
    xa, ya = np.floor(corners.min(axis=0) - 1).astype(int)
    xb, yb = np.ceil(corners.max(axis=0) + 2).astype(int)
    xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, W), min(yb, H)
    mask = np.zeros((H, W), bool)
    if xb <= xa or yb <= ya:  # entirely outside the image
        return out, ChartTruth(corners, patch_centres, mask, pitch, p, float(angle_deg))
    yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float64)
    dx, dy = xx - centre[0], yy - centre[1]
    qx = c * dx - s * dy  # inverse rotation (rot is orthonormal: rot^-1 = rot^T)
    qy = s * dx + c * dy
    win = out[ya:yb, xa:xb]
    a_card = _coverage_rect(qx, qy, 0.0, 0.0, half[0], half[1])
    win *= (1.0 - a_card)[..., None]
    win += a_card[..., None] * np.float32(border_linear)
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (p / 2.0)
    for k in range(24):
        pts = to_image(pc_q[k] + square)  # this patch's window only
        ja, ia = np.floor(pts.min(axis=0) - 1).astype(int) - (xa, ya)
        jb, ib = np.ceil(pts.max(axis=0) + 2).astype(int) - (xa, ya)
        sl = (slice(max(ia, 0), max(ib, 0)), slice(max(ja, 0), max(jb, 0)))
        a = _coverage_rect(qx[sl], qy[sl], pc_q[k, 0], pc_q[k, 1], p / 2.0, p / 2.0)
        if a.size == 0 or not a.any():
            continue
        w = win[sl]
        w *= (1.0 - a)[..., None]
        w += a[..., None] * colours[k].astype(np.float32)
    mask[ya:yb, xa:xb] = a_card >= 0.5
    return out, ChartTruth(corners, patch_centres, mask, pitch, p, float(angle_deg))
