"""Finding a 24-patch ColorChecker Classic in the photo: its patches and the physical scale.

A follow-up photograph's exposure and white balance drift. When a ColorChecker Classic [1]
(4 rows x 6 columns; the Passport and Mini carry the same 24 patches, smaller) is visible,
its patches are located, sampled in linear RGB, and a colour-correction transform is fitted
that maps them onto their published values [2]. The same fitted grid gives the image scale
from the known patch pitch.

Detection (:func:`detect_chart`), on a copy reduced to about 1000 px:

1. *candidate patches*: the image is smoothed (Gaussian, sigma 1 px) and its colour gradient
   (largest Sobel magnitude of the three sRGB channels) thresholded (at 0.012 code values
   per pixel, or 3 times the image's median gradient when noisier); the connected regions
   left between edges [3] that are square (minimum-area rectangle [4] with aspect <= 1.4,
   filled >= 80 %, convex) and of plausible size are candidates;
2. *grid*: candidates of similar size whose centres are about one patch pitch apart along
   their own sides are linked; each linked group gets integer grid coordinates from its
   dominant direction and pitch, refined by an affine then a projective fit [5] (RANSAC);
3. *orientation*: every placement of the 6 x 4 chart on those grid coordinates (the four
   rotations, landscape or portrait, and the offsets covering nearly all the candidates)
   predicts 24 patch centres; the colours sampled there are matched to the reference up to
   a least-squares per-channel gain (exposure and white balance), and the placement with
   the smallest mean CIE 1976 colour difference wins. At least ``min_patches`` (18)
   patches must lie inside the frame and each match within ``patch_tolerance``, and the
   mean must be within ``max_match_error``: a chart too clipped, or a grid of other
   colours, is no chart;
4. *refinement*: patches are segmented again at full resolution around the chart (enlarged
   when small) and the chart-to-image homography refitted on them;
5. *card outline*: the black card's edge is found on profiles outwards from the outer
   patches; where the surround is as dark as the card, a nominal border is used.

The colour correction fitted on the patches is :mod:`skinmetrics.correction`.

Physical scale: ``px_per_mm = pitch_px / patch_pitch_mm`` with the pitch measured as the mean
distance between row- and column-adjacent patch centres of the fitted grid (perspective
averages out to first order). Valid for skin in the plane of the chart only.

References
----------
.. [1] McCamy C.S., Marcus H., Davidson J.G. A color-rendition chart. J Appl Photogr Eng
       1976;2:95-99.
.. [2] X-Rite. ColorChecker Classic reference data (CIE xyY, D50), editions after
       November 2014, as distributed by colour-science (``CCS_COLOURCHECKERS``).
.. [3] Wu K., Otoo E., Suzuki K. Optimizing two-pass connected-component labeling
       algorithms. Pattern Anal Appl 2009;12:117-135 (``cv2.connectedComponentsWithStats``).
.. [4] Freeman H., Shapira R. Determining the minimum-area encasing rectangle for an
       arbitrary closed curve. Commun ACM 1975;18:409-413 (``cv2.minAreaRect``).
.. [5] Hartley R., Zisserman A. Multiple View Geometry in Computer Vision, 2nd ed.
       Cambridge University Press 2004, ch. 4 (homography estimation, RANSAC).
.. [6] Lam K.M. Metamerism and colour constancy. PhD thesis, University of Bradford, 1985
       (Bradford chromatic adaptation transform).
.. [7] Graeme Gill. ArgyllCMS ``ref/ColorChecker.cht`` recognition template (patch 46,
        pitch 52.5 template units).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import colour
import cv2
import numpy as np
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .colour import SRGBCodes, as_photo, linear_to_lab_reference, resized_photo, srgb_to_linear

__all__ = [
    "CLASSIC_PATCH_PITCH_MM",
    "PATCH_FRACTION",
    "CARD_MARGIN_PITCH",
    "NOMINAL_BORDER",
    "PATCH_NAMES",
    "reference_linear_srgb",
    "ChartDetection",
    "detect_chart",
    "chart_from_corners",
    "load_corners_json",
    "sample_patches",
]

#: Centre-to-centre distance of adjacent patches of the ColorChecker Classic, in mm.
#: UNCERTAIN (about +-3 %): no manufacturer drawing was available. Derived from the card's
#: width, 279.4 mm (11 in [1]), less a black border of about 8 mm each side, spread over
#: 6 patches and 5 gaps with the patch:pitch ratio of ArgyllCMS's template [7]
#: (263 mm / 5.876 = 44.8 mm). Measure your own card (e.g. 5 pitches from the centre of
#: patch 1 to the centre of patch 6, divided by 5) and pass ``patch_pitch_mm``; the
#: ColorChecker Passport and Mini are smaller and need their own value.
CLASSIC_PATCH_PITCH_MM = 44.8
#: Patch side / patch pitch of the Classic layout: 46 / 52.5 in ArgyllCMS's template [7].
PATCH_FRACTION = 46.0 / 52.5
#: Margin around a found card that is not skin either, as a fraction of its patch pitch: the
#: card's dark edge blurs into the skin beside it (optics, JPEG), and a real card casts a
#: shadow and shows its thickness; left in, that rim reads as a pigmented strip.
CARD_MARGIN_PITCH = 0.1
#: Card edge beyond the outer patch edges, in pitches, used when the card's edge cannot be
#: seen (surround as dark as the card), and the least border a side is given. Nominal; the
#: edge is measured when visible.
NOMINAL_BORDER = 0.25

_REFERENCE_NAME = "ColorChecker24 - After November 2014"
_SRGB = colour.RGB_COLOURSPACES["sRGB"]
_D65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
#: Linear value of sRGB code 0.98 (IEC 61966-2-1): at or above it a channel counts as clipped.
_CLIP_LINEAR = float(((0.98 + 0.055) / 1.055) ** 2.4)

# canonical chart coordinates: patch (col, row) is centred on (col, row), unit = one pitch
_GRID = np.array([(c, r) for r in range(4) for c in range(6)], dtype=np.float64)
_CENTRE = np.array([2.5, 1.5])
#: Nominal card width in pitches (6 patches, 5 gaps, 2 borders).
_CARD_PITCHES = 5.0 + PATCH_FRACTION + 2.0 * NOMINAL_BORDER


@lru_cache(maxsize=1)
def _reference_cached() -> np.ndarray:
    cc = colour.CCS_COLOURCHECKERS[_REFERENCE_NAME]
    xyY = np.array(list(cc.data.values()), dtype=np.float64)
    xyz = colour.xyY_to_XYZ(xyY)
    w_d50 = colour.xy_to_XYZ(cc.illuminant)
    w_d65 = colour.xy_to_XYZ(_D65)
    xyz65 = colour.chromatic_adaptation(xyz, w_d50, w_d65, method="Von Kries",
                                        transform="Bradford")
    rgb = colour.XYZ_to_RGB(xyz65, _SRGB, apply_cctf_encoding=False)
    rgb.setflags(write=False)
    return rgb


def reference_linear_srgb() -> np.ndarray:
    """Linear sRGB (D65) reference colours of the 24 ColorChecker Classic patches.

    The X-Rite values for charts made after November 2014 [2] (CIE xyY under D50) are
    converted to XYZ, adapted from D50 to D65 with the Bradford transform [6] (von Kries
    scaling in the Bradford cone space) and converted to linear sRGB (IEC 61966-2-1).

    Returns
    -------
    (24, 3) float64 ndarray
        Row-major from the top-left patch: 1 dark skin, 2 light skin, 3 blue sky, 4 foliage,
        5 blue flower, 6 bluish green; 7 orange ... 12 orange yellow; 13 blue ... 18 cyan;
        19 white 9.5 ... 24 black 2. Patch 18 (cyan) lies just outside the sRGB gamut
        (R = -0.04).
    """
    return _reference_cached().copy()


#: Patch names in order (from the colour-science data set [2]).
PATCH_NAMES = tuple(colour.CCS_COLOURCHECKERS[_REFERENCE_NAME].data.keys())


@lru_cache(maxsize=1)
def _reference_lab() -> np.ndarray:
    return linear_to_lab_reference(_reference_cached())


# --- geometry ---------------------------------------------------------------------------


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to (N, 2) points."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    p = np.column_stack([pts, np.ones(len(pts))]) @ np.asarray(h, np.float64).T
    return p[:, :2] / p[:, 2:3]


def _card_rectangle(edges: np.ndarray) -> np.ndarray:
    """Card corners (TL, TR, BR, BL) in chart coordinates from the 4 edge distances.

    ``edges`` are the distances (pitches) from the outer patch centres to the card edge on
    the left, top, right and bottom.
    """
    left, top, right, bottom = edges
    return np.array([[-left, -top], [5 + right, -top], [5 + right, 3 + bottom],
                     [-left, 3 + bottom]], dtype=np.float64)


def _grid_pitch(centres: np.ndarray) -> float:
    """Mean of the mean row pitch and the mean column pitch of a (24, 2) centre grid."""
    g = centres.reshape(4, 6, 2)
    row = np.hypot(*np.moveaxis(np.diff(g, axis=1), -1, 0)).mean()
    col = np.hypot(*np.moveaxis(np.diff(g, axis=0), -1, 0)).mean()
    return float(0.5 * (row + col))


@dataclass
class ChartDetection:
    """A ColorChecker located in a photograph.

    Attributes
    ----------
    corners : (4, 2) float ndarray
        Outer corners of the card (x, y) in image pixels, in the order TL, TR, BR, BL of
        the chart in its canonical orientation (dark skin patch at top left, white at
        bottom left), whatever its orientation in the image.
    patch_centres : (24, 2) float ndarray
        Patch centres (x, y) in pixels, row-major from patch 1 (dark skin).
    patch_size_px : float
        Side of one patch in pixels (pitch times :data:`PATCH_FRACTION`).
    pitch_px : float
        Mean centre-to-centre distance of row- and column-adjacent patches in pixels.
    px_per_mm : float
        ``pitch_px / patch_pitch_mm``.
    homography : (3, 3) float ndarray
        Chart coordinates (column, row; patch centres at integers) -> image pixels.
    image_shape : (int, int)
        Height and width of the photograph.
    angle_deg : float
        Direction of the chart's rows in the image, counter-clockwise on screen
        (0 upright, 180 upside down, +-90 portrait).
    match_error : float
        Mean CIE 1976 colour difference between the sampled patches (after a per-channel
        gain) and the reference, from the orientation search (NaN for manual corners).
    n_found : int
        Patches found by segmentation that support the fitted grid.
    patch_pitch_mm : float
        Physical pitch used for ``px_per_mm``.
    """

    corners: np.ndarray
    patch_centres: np.ndarray
    patch_size_px: float
    pitch_px: float
    px_per_mm: float
    homography: np.ndarray
    image_shape: tuple[int, int]
    angle_deg: float
    match_error: float = float("nan")
    n_found: int = 0
    patch_pitch_mm: float = CLASSIC_PATCH_PITCH_MM

    def mask(self, shape: tuple[int, int] | None = None, dilate_px: float = 0.0) -> np.ndarray:
        """The card's pixels (to exclude from the skin region).

        Parameters
        ----------
        shape : (int, int), optional
            Image height and width (default: the detected image's).
        dilate_px : float
            Grow the card outline by this many pixels.

        Returns
        -------
        (H, W) bool ndarray
        """
        h, w = (shape or self.image_shape)[:2]
        out = np.zeros((h, w), np.uint8)
        pts = np.asarray(self.corners, np.float64)
        if dilate_px > 0:
            c = pts.mean(axis=0)
            # move every corner outwards along its diagonal so each side moves ~dilate_px
            d = pts - c
            pts = pts + d / np.linalg.norm(d, axis=1, keepdims=True) * dilate_px * math.sqrt(2)
        cv2.fillConvexPoly(out, np.round(pts * 16).astype(np.int32), 1, lineType=cv2.LINE_8,
                           shift=4)
        return out.astype(bool)

    def patch_polygon(self, k: int, fraction: float = 0.5) -> np.ndarray:
        """Corners (4, 2) of the central ``fraction`` (of the side) of patch ``k`` (0-23)."""
        half = 0.5 * PATCH_FRACTION * fraction
        sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * half
        return _project(self.homography, _GRID[k] + sq)


def _detection_from_homography(h: np.ndarray, edges: np.ndarray, shape: tuple[int, int],
                               patch_pitch_mm: float, match_error: float = float("nan"),
                               n_found: int = 0) -> ChartDetection:
    centres = _project(h, _GRID)
    pitch = _grid_pitch(centres)
    corners = _project(h, _card_rectangle(edges))
    row_dir = _project(h, _CENTRE + [[0, 0], [1, 0]])
    dx, dy = row_dir[1] - row_dir[0]
    return ChartDetection(
        corners=corners, patch_centres=centres, patch_size_px=pitch * PATCH_FRACTION,
        pitch_px=pitch, px_per_mm=pitch / float(patch_pitch_mm), homography=h,
        image_shape=(int(shape[0]), int(shape[1])),
        angle_deg=float(np.degrees(np.arctan2(-dy, dx))), match_error=float(match_error),
        n_found=int(n_found), patch_pitch_mm=float(patch_pitch_mm))


# --- detection ----------------------------------------------------------------------------


def _working_copy(srgb: np.ndarray | SRGBCodes, working_size: int
                  ) -> tuple[np.ndarray, float]:
    """sRGB reduced (area average, :func:`skinmetrics.colour.resized_photo`) so that its
    longer side is at most ``working_size``; float32."""
    h, w = srgb.shape[:2]
    f = max(h, w) / float(working_size)
    if f <= 1.0:
        return np.ascontiguousarray(srgb, dtype=np.float32), 1.0
    size = (max(1, round(w / f)), max(1, round(h / f)))
    return resized_photo(srgb, size), 0.5 * (w / size[0] + h / size[1])


def _candidate_patches(img: np.ndarray, min_side: float, max_side: float,
                       edge_threshold: float) -> np.ndarray:
    """Square uniform regions between colour edges: rows (x, y, side, angle_deg, area)."""
    smooth = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.sqrt((gx * gx + gy * gy).max(axis=2)) * np.float32(1.0 / 8.0)  # code values / px
    # noisy photographs: stay well above the typical (median) gradient of the image
    threshold = max(edge_threshold, 3.0 * float(np.median(grad)))
    flat = (grad < threshold).astype(np.uint8)
    n, labels, st, cen = cv2.connectedComponentsWithStats(flat, connectivity=4)
    area = st[:, cv2.CC_STAT_AREA]
    bw, bh = st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT]
    keep = ((area >= min_side ** 2) & (area <= max_side ** 2) & (bw >= min_side)
            & (bh >= min_side) & (area >= 0.45 * bw * bh))
    keep[0] = False  # label 0: the edge pixels
    out = []
    for k in np.flatnonzero(keep):
        x, y, w, h = st[k, :4]
        crop = (labels[y:y + h, x:x + w] == k).astype(np.uint8)
        contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            continue
        cnt = max(contours, key=cv2.contourArea)
        (_, _), (rw, rh), ang = cv2.minAreaRect(cnt)
        if min(rw, rh) < 1 or max(rw, rh) / min(rw, rh) > 1.4:
            continue
        a = float(area[k])
        if a < 0.8 * rw * rh:  # not filled: a corner bitten off or a curved outline
            continue
        hull = cv2.contourArea(cv2.convexHull(cnt))
        if hull <= 0 or cv2.contourArea(cnt) < 0.9 * hull:
            continue
        out.append((cen[k, 0], cen[k, 1], math.sqrt(a), ang % 90.0, a))
    return np.array(out, dtype=np.float64).reshape(-1, 5)


def _angle_mod90_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest difference of two directions modulo 90 degrees (in [0, 45])."""
    return np.abs((a - b + 45.0) % 90.0 - 45.0)


def _clusters(cands: np.ndarray, min_members: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of candidates linked as grid neighbours (similar size, one pitch apart along
    their sides): (member indices, their link matrix) per group."""
    n = len(cands)
    if n < min_members:
        return []
    xy, side, ang = cands[:, :2], cands[:, 2], cands[:, 3]
    d = xy[None, :, :] - xy[:, None, :]
    dist = np.hypot(d[..., 0], d[..., 1])
    ratio = side[:, None] / side[None, :]
    mean_side = 0.5 * (side[:, None] + side[None, :])
    direction = np.degrees(np.arctan2(d[..., 1], d[..., 0])) % 90.0
    link = ((ratio > 0.7) & (ratio < 1.0 / 0.7)
            & (_angle_mod90_diff(ang[:, None], ang[None, :]) < 12.0)
            & (dist > 0.95 * mean_side) & (dist < 1.9 * mean_side)
            & (_angle_mod90_diff(direction, ang[:, None]) < 12.0))
    link &= link.T
    i, j = np.nonzero(link)
    m = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    ncomp, lab = connected_components(m, directed=False)
    groups = [np.flatnonzero(lab == c) for c in range(ncomp)]
    return [(g, link[np.ix_(g, g)]) for g in groups if len(g) >= min_members]


def _fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine map (3x3 matrix) from src to dst points."""
    a = np.column_stack([src, np.ones(len(src))])
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return np.vstack([sol.T, [0.0, 0.0, 1.0]])


def _grid_coordinates(xy: np.ndarray, link: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer grid coordinates of linked candidates and the homography grid -> image.

    The grid direction is the mean of the link directions modulo 90 degrees (as angles
    times 4 on the unit circle), the pitch their median length.
    """
    n = len(xy)
    d = xy[None, :, :] - xy[:, None, :]
    dist = np.hypot(d[..., 0], d[..., 1])
    nb = link
    if not nb.any():
        return None
    ang = np.degrees(np.arctan2(d[..., 1][nb], d[..., 0][nb])) % 90.0
    theta = np.degrees(np.angle(np.exp(1j * np.radians(ang * 4.0)).mean())) / 4.0
    pitch = float(np.median(dist[nb]))
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    ref = int(np.argmax(nb.sum(axis=1)))
    rel = xy - xy[ref]
    uv = np.column_stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]]) / pitch
    grid = np.round(uv)
    for _ in range(3):  # affine refinement absorbs mild shear and different row/col pitch
        if len(np.unique(grid[:, 0])) < 2 or len(np.unique(grid[:, 1])) < 2:
            return None
        a = _fit_affine(grid, xy)
        grid = np.round(_project(np.linalg.inv(a), xy))
    h = a
    if n >= 6 and len(np.unique(grid[:, 0])) >= 3 and len(np.unique(grid[:, 1])) >= 3:
        hh, inl = cv2.findHomography(grid.astype(np.float32), xy.astype(np.float32),
                                     cv2.RANSAC, 0.2 * pitch)
        if hh is not None and inl is not None and inl.sum() >= 0.7 * n:
            h = hh
    res = np.hypot(*(_project(h, grid) - xy).T)
    keep = res < 0.25 * pitch
    grid = grid[keep]
    # one candidate per grid cell: the best fitting
    order = np.argsort(res[keep])
    _, first = np.unique(grid[order], axis=0, return_index=True)
    sel = np.zeros(len(grid), bool)
    sel[order[first]] = True
    grid_out = np.full((n, 2), np.nan)
    idx = np.flatnonzero(keep)[sel]
    grid_out[idx] = grid[sel]
    return grid_out, h


#: (u, v) of canonical patch (col, row) for the four chart rotations; width, height of
#: the chart on the (u, v) grid.
_ROTATIONS = {
    0: (lambda c, r: (c, r), (6, 4)),
    90: (lambda c, r: (r, 5 - c), (4, 6)),     # counter-clockwise on screen
    180: (lambda c, r: (5 - c, 3 - r), (6, 4)),
    270: (lambda c, r: (3 - r, c), (4, 6)),
}


def _sample_centres(lin: np.ndarray, centres: np.ndarray, half: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean linear RGB in a square window at every centre; (values, inside-the-image)."""
    h, w = lin.shape[:2]
    r = max(1, int(half))
    vals = np.full((len(centres), 3), np.nan)
    inside = np.zeros(len(centres), bool)
    for k, (x, y) in enumerate(centres):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        xi, yi = int(round(x)), int(round(y))
        if xi - r < 0 or yi - r < 0 or xi + r >= w or yi + r >= h:
            continue
        vals[k] = lin[yi - r:yi + r + 1, xi - r:xi + r + 1].reshape(-1, 3).mean(axis=0)
        inside[k] = True
    return vals, inside


def _gain_match_error(measured: np.ndarray, use: np.ndarray, patch_tolerance: float
                      ) -> tuple[float, int]:
    """Match of sampled patches to the reference up to a per-channel gain.

    The gain is the least-squares diagonal map (linear RGB, unclipped patches) onto the
    reference; returns the mean CIE 1976 colour difference after it and the number of
    patches within ``patch_tolerance``.
    """
    ref = _reference_cached()
    m, r = measured[use], ref[use]
    ok = (m < _CLIP_LINEAR).all(axis=1)
    if ok.sum() < 6:
        return float("inf"), 0
    gain = (m[ok] * r[ok]).sum(axis=0) / np.maximum((m[ok] ** 2).sum(axis=0), 1e-12)
    lab = linear_to_lab_reference(np.clip(m * gain, 0.0, None))
    de = np.linalg.norm(lab - _reference_lab()[use], axis=1)
    return float(de.mean()), int((de < patch_tolerance).sum())


def _measure_edges(lum: np.ndarray, h: np.ndarray, pitch_px: float) -> np.ndarray:
    """Distance (pitches) from the outer patch centres to the card edge, per side.

    Luminance profiles are taken outwards from each side of the patch grid; the edge is
    where a profile first gets half way from the card's level (sampled in the gaps
    between patches) to the surround's. :data:`NOMINAL_BORDER` is used on a side whose
    surround is as dark as the card or lies outside the image, and is the least border a
    side is given: a card edge found closer to the patches is taken for the blur of a
    patch (the card's pixels are left out of the skin, and a card pixel counted as skin
    costs more than a skin pixel left out).
    """
    nominal = 0.5 * PATCH_FRACTION + NOMINAL_BORDER
    edges = np.full(4, nominal)
    H, W = lum.shape
    # card level: the black gaps between neighbouring patches
    gaps = [(c + 0.5, r) for r in range(4) for c in range(5)]
    gaps += [(c, r + 0.5) for r in range(3) for c in range(6)]
    gxy = _project(h, np.array(gaps))

    def sample(pts: np.ndarray) -> np.ndarray:
        x, y = pts[:, 0], pts[:, 1]
        ok = (x >= 0) & (y >= 0) & (x <= W - 1) & (y <= H - 1)
        out = np.full(len(pts), np.nan, np.float32)
        if ok.any():
            out[ok] = cv2.remap(lum, x[ok].astype(np.float32).reshape(-1, 1),
                                y[ok].astype(np.float32).reshape(-1, 1),
                                cv2.INTER_LINEAR).ravel()
        return out

    card = sample(gxy)
    if np.isfinite(card).sum() < 10:
        return edges
    level = float(np.nanmedian(card))
    noise = 1.4826 * float(np.nanmedian(np.abs(card - level)))
    threshold = max(0.06, 5.0 * noise)
    step = min(0.02, 0.5 / max(pitch_px, 1.0))
    ts = np.arange(0.5 * PATCH_FRACTION, 1.6, step)
    along = np.linspace(-0.3, 0.3, 13)
    sides = [
        (lambda t, a: np.column_stack([np.full_like(a, -t), 1.5 + a * 3.0])),   # left
        (lambda t, a: np.column_stack([2.5 + a * 5.0, np.full_like(a, -t)])),   # top
        (lambda t, a: np.column_stack([np.full_like(a, 5 + t), 1.5 + a * 3.0])),  # right
        (lambda t, a: np.column_stack([2.5 + a * 5.0, np.full_like(a, 3 + t)])),  # bottom
    ]
    for i, line in enumerate(sides):
        prof = np.array([np.nanmedian(v) if np.isfinite(v).sum() >= 7 else np.nan
                         for v in (sample(_project(h, line(t, along))) for t in ts)])
        dev = np.abs(prof - level)
        card_at = np.flatnonzero(dev <= threshold)  # first step out on the card itself
        if len(card_at) == 0:
            continue
        dev[: card_at[0]] = 0.0
        out = np.flatnonzero(np.isfinite(dev) & (dev > threshold))
        if len(out) == 0 or not np.isfinite(dev[: out[0] + 1]).all():
            continue
        j = out[0]
        far = np.nanmedian(dev[j: j + max(2, int(0.1 / step))])
        k = int(np.flatnonzero(dev >= 0.5 * far)[0])  # exists: far is a median of dev
        if k > 0:  # interpolate the half-way crossing between samples k-1 and k
            d0, d1 = dev[k - 1], dev[k]
            frac = (0.5 * far - d0) / (d1 - d0) if d1 > d0 else 1.0
            t_edge = ts[k - 1] + np.clip(frac, 0, 1) * step
        else:
            t_edge = ts[0]
        edges[i] = float(np.clip(t_edge, nominal, 1.5))
    return edges


def detect_chart(
    srgb: np.ndarray,
    *,
    patch_pitch_mm: float = CLASSIC_PATCH_PITCH_MM,
    min_chart_fraction: float = 0.12,
    min_patches: int = 18,
    max_match_error: float = 20.0,
    patch_tolerance: float = 25.0,
    working_size: int = 1000,
    edge_threshold: float = 0.012,
) -> ChartDetection | None:
    """Find a ColorChecker Classic (or Passport / Mini: same layout) in a photograph.

    See the module docstring for the method.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        sRGB code values in [0, 1].
    patch_pitch_mm : float
        Physical patch pitch of the card (see :data:`CLASSIC_PATCH_PITCH_MM`).
    min_chart_fraction : float
        Smallest chart width accepted, as a fraction of the image's longer side.
    min_patches : int
        Patches that must lie inside the frame (of 24).
    max_match_error : float
        Largest mean CIE 1976 colour difference between the sampled patches (after a
        per-channel gain) and the reference for the chart to be accepted. Typical values:
        1-3 for a linear camera response, about 12 for a camera JPEG engine's tone curve
        and saturation boost; about 50 for grids of other colours.
    patch_tolerance : float
        At least ``min_patches`` patches must individually match within this CIE 1976
        difference (so a chart half outside the frame cannot be completed with
        background).
    working_size : int
        Longer side of the reduced copy the search runs on.
    edge_threshold : float
        Colour gradient (sRGB code values per working pixel) above which a pixel is edge.

    Returns
    -------
    ChartDetection or None
        None when no chart is found: absent, too small, fewer than ``min_patches``
        patches visible, or colours unlike the chart's.
    """
    photo = as_photo(srgb, np.float32)  # codes stay codes until a chart is found
    if photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < 16:
        return None
    small, scale = _working_copy(photo, working_size)
    hs, ws = small.shape[:2]
    long_side = max(hs, ws)
    min_pitch = min_chart_fraction * long_side / _CARD_PITCHES
    min_side = max(5.0, 0.55 * PATCH_FRACTION * min_pitch)
    max_side = long_side / 6.0
    cands = _candidate_patches(small, min_side, max_side, edge_threshold)
    min_members = 6
    groups = _clusters(cands, min_members)
    if not groups:
        return None
    lin = srgb_to_linear(small)
    best = None
    for g, link in groups:
        got = _grid_coordinates(cands[g, :2], link)
        if got is None:
            continue
        uv, h_uv = got
        ok = np.isfinite(uv[:, 0])
        if ok.sum() < min_members:
            continue
        uv_i = uv[ok].astype(int)
        xy = cands[g][ok, :2]
        pitch = _grid_pitch(_project(h_uv, _GRID))
        half = max(1.0, 0.2 * pitch)
        # placements: rotation, offset of the 6 x 4 chart on the grid, and the candidates
        # it covers; those covering nearly as many as the best one are tried
        umin, vmin = uv_i.min(axis=0)
        umax, vmax = uv_i.max(axis=0)
        placements = []
        for f, (cw, rh) in _ROTATIONS.values():
            cell = np.column_stack(f(_GRID[:, 0], _GRID[:, 1]))
            for ou in range(umin - cw + 1, umax + 1):
                for ov in range(vmin - rh + 1, vmax + 1):
                    covered = ((uv_i[:, 0] >= ou) & (uv_i[:, 0] < ou + cw)
                               & (uv_i[:, 1] >= ov) & (uv_i[:, 1] < ov + rh))
                    placements.append((int(covered.sum()), cell + (ou, ov), covered))
        most = max(p[0] for p in placements)
        for support, cells, covered in placements:
            if support < max(min_members, most - 3):
                continue
            vals, inside = _sample_centres(lin, _project(h_uv, cells), half)
            if inside.sum() < min_patches:
                continue
            err, n_good = _gain_match_error(vals, inside, patch_tolerance)
            if n_good >= min_patches and (best is None or err < best[0]):
                best = (err, cells, uv_i[covered], xy[covered])
    if best is None or not best[0] <= max_match_error:
        return None
    err, cells, uv_sel, xy_sel = best
    # canonical (col, row) of every supporting candidate, then chart -> image homography
    lookup = {(int(u), int(v)): k for k, (u, v) in enumerate(cells)}
    idx = np.array([lookup[(int(u), int(v))] for u, v in uv_sel])
    h = _fit_chart_homography(_GRID[idx], xy_sel)
    if _grid_pitch(_project(h, _GRID)) * _CARD_PITCHES < min_chart_fraction * long_side:
        return None
    lum = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = _measure_edges(lum, h, _grid_pitch(_project(h, _GRID)))
    # working -> full-resolution pixels (pixel centres at integers; cv2.resize mapping)
    s = np.array([[scale, 0, (scale - 1) / 2], [0, scale, (scale - 1) / 2], [0, 0, 1]])
    h_full, n_snap = _snap_grid(np.asarray(photo, np.float32), s @ h, edge_threshold)
    return _detection_from_homography(h_full, edges, photo.shape[:2], patch_pitch_mm, err,
                                      max(len(idx), n_snap))


def chart_from_corners(
    srgb: np.ndarray,
    corners: np.ndarray,
    *,
    patch_pitch_mm: float = CLASSIC_PATCH_PITCH_MM,
    border: float = NOMINAL_BORDER,
    snap: bool = True,
) -> ChartDetection:
    """A chart located by hand: its four outer card corners.

    The patch grid is placed inside the card with the nominal layout (patch side
    :data:`PATCH_FRACTION` of the pitch, ``border`` pitches of card outside the outer
    patches). With ``snap``, patches segmented within the card (as in
    :func:`detect_chart`) that lie near their predicted centres refine the grid, which
    absorbs a card whose border differs from the nominal one.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        sRGB code values in [0, 1].
    corners : (4, 2) array-like
        Outer card corners (x, y) TL, TR, BR, BL of the chart in its canonical orientation
        (dark skin patch at top left).
    patch_pitch_mm : float
        Physical patch pitch (for ``px_per_mm``).
    border : float
        Card border outside the outer patch edges, in pitches.
    snap : bool
        Refine the patch grid on segmented patches.

    Returns
    -------
    ChartDetection

    Raises
    ------
    ValueError
        When the corners are not 4 finite points forming a convex quadrilateral.
    """
    pts = _check_corners(corners)
    img = np.asarray(srgb, dtype=np.float32)
    e = 0.5 * PATCH_FRACTION + border
    rect = _card_rectangle(np.full(4, e))
    h = cv2.getPerspectiveTransform(rect.astype(np.float32), pts.astype(np.float32))
    n_found = 0
    if snap:
        h, n_found = _snap_grid(img, h)
    det = _detection_from_homography(h, np.full(4, e), img.shape[:2], patch_pitch_mm)
    det.corners = pts  # the card is where the user put it
    det.n_found = n_found
    return det


def _fit_chart_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Chart -> image map from matched patch centres.

    Projective [5] when the points span at least 4 columns and 3 rows (12 or more points),
    affine otherwise: with fewer, well-spread points the perspective terms are poorly
    determined and would bias the pitch.
    """
    ncol, nrow = len(np.unique(src[:, 0])), len(np.unique(src[:, 1]))
    if len(src) >= 12 and ncol >= 4 and nrow >= 3:
        h, _ = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), 0)
        if h is not None:
            return h
    return _fit_affine(src, dst)


def _snap_grid(img: np.ndarray, h: np.ndarray, edge_threshold: float = 0.012
               ) -> tuple[np.ndarray, int]:
    """Refit the chart homography on patches segmented near their predicted centres.

    Runs at full resolution around the chart (reduced to at most 1000 px, enlarged 2x when
    the pitch is under 32 px), so that it refines a search made on a reduced copy.
    """
    centres = _project(h, _GRID)
    pitch = _grid_pitch(centres)
    H, W = img.shape[:2]
    x0, y0 = np.floor(centres.min(axis=0) - pitch).astype(int)
    x1, y1 = np.ceil(centres.max(axis=0) + pitch).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return h, 0
    crop = img[y0:y1, x0:x1]
    small, scale = _working_copy(crop, 1000)
    if pitch / scale < 32:
        small = cv2.resize(small, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        scale = scale / 2.0
    p_small = pitch / scale
    cands = _candidate_patches(small, max(4.0, 0.45 * PATCH_FRACTION * p_small),
                               1.2 * p_small, edge_threshold)
    if len(cands) == 0:
        return h, 0
    xy = cands[:, :2] * scale + (scale - 1) / 2 + (x0, y0)
    d = np.hypot(*(xy[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    k = d.argmin(axis=1)
    near = d[np.arange(len(xy)), k] < 0.3 * pitch
    side_ok = np.abs(cands[:, 2] * scale / pitch - PATCH_FRACTION) < 0.35
    sel = near & side_ok
    idx, xy_sel = [], []
    for j in np.unique(k[sel]):  # one candidate per patch: the nearest
        m = np.flatnonzero(sel & (k == j))
        idx.append(j)
        xy_sel.append(xy[m[np.argmin(d[m, j])]])
    if len(idx) < 8:
        return h, len(idx)
    hh = _fit_chart_homography(_GRID[np.array(idx)], np.array(xy_sel))
    if np.hypot(*(_project(hh, _GRID) - centres).T).max() > 0.3 * pitch:
        return h, len(idx)  # the refit disagrees with the grid it should refine
    return hh, len(idx)


def _check_corners(corners) -> np.ndarray:
    try:
        pts = np.asarray(corners, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"corners must be 4 numeric (x, y) pairs: {exc}") from None
    if pts.shape != (4, 2):
        raise ValueError(f"corners must be 4 (x, y) pairs TL, TR, BR, BL, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("corners must be finite numbers")
    # convex, turning clockwise on screen (y down) as TL, TR, BR, BL of a chart seen from
    # the front do; the other turn would be a mirrored chart: corners in the wrong order
    e = np.roll(pts, -1, axis=0) - pts
    cross = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
    if not (cross > 0).all():
        raise ValueError("corners must form a convex quadrilateral in the order TL, TR, BR, BL "
                         "(clockwise on screen)")
    return pts


def load_corners_json(path: str | os.PathLike) -> np.ndarray:
    """Read chart corners from a JSON file ``{"corners": [[x, y], [x, y], [x, y], [x, y]]}``.

    The corners are the card's outer corners TL, TR, BR, BL in the chart's canonical
    orientation (dark skin patch at top left), in pixels of the photograph.

    Returns
    -------
    (4, 2) float64 ndarray

    Raises
    ------
    ValueError
        With a one-line message when the file cannot be read or is not of that form.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{p.name}: cannot read chart corners file "
                         f"({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p.name}: chart corners file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or "corners" not in data:
        raise ValueError(f'{p.name}: expected an object {{"corners": [[x, y] x 4]}}')
    try:
        return _check_corners(data["corners"])
    except ValueError as exc:
        raise ValueError(f"{p.name}: {exc}") from None


# --- sampling and colour correction -------------------------------------------------------


def sample_patches(
    linear: np.ndarray,
    detection: ChartDetection,
    fraction: float = 0.5,
    trim: float = 0.1,
    clip_level: float = _CLIP_LINEAR,
    max_nonuniformity: tuple[float, float] = (0.005, 0.06),
) -> tuple[np.ndarray, np.ndarray]:
    """Robust linear RGB of every patch.

    Each patch's central ``fraction`` (of its side; 0.5 keeps a quarter of its area, well
    away from its edges and from the grid's uncertainty) is averaged per channel with a
    ``trim`` trimmed mean (scipy's ``trim_mean``: that share of each tail is dropped).

    Parameters
    ----------
    linear : (H, W, 3) ndarray
        Linear RGB of the photograph.
    detection : ChartDetection
    fraction : float
        Side of the sampled square relative to the patch.
    trim : float
        Fraction cut from each end per channel.
    clip_level : float
        Linear value at and above which a channel is clipped (default: sRGB code 0.98).
    max_nonuniformity : (float, float)
        (a, b): the patch is not uniform (a finger, glare, a shadow edge, a misplaced grid)
        when the medians of the four quadrants of the sampled square differ, in some
        channel, by more than ``a + b * mean`` plus four standard errors of a quadrant
        median. Random noise averages out and does not count.

    Returns
    -------
    values : (24, 3) float64 ndarray
        Trimmed means (NaN where no pixel could be sampled).
    valid : (24,) bool ndarray
        False for patches less than 90 % inside the image, with more than 1 % of their
        pixels clipped in any channel, or not uniform.
    """
    lin = np.asarray(linear)
    H, W = lin.shape[:2]
    values = np.full((24, 3), np.nan)
    valid = np.zeros(24, bool)
    for k in range(24):
        poly = detection.patch_polygon(k, fraction)
        full_area = abs(cv2.contourArea(poly.astype(np.float32)))
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 1
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        m = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
        cv2.fillConvexPoly(m, np.round((poly - (cx0, cy0)) * 16).astype(np.int32), 1,
                           shift=4)
        yy, xx = np.nonzero(m)
        px = lin[cy0 + yy, cx0 + xx].astype(np.float64)
        if len(px) < 16:
            continue
        values[k] = stats.trim_mean(px, trim, axis=0)
        inside = len(px) >= 0.9 * full_area
        clipped = (px >= clip_level).any(axis=1).mean() > 0.01
        # uniformity: medians of the four quadrants around the sampled square's centre
        cx, cy = poly.mean(axis=0) - (cx0, cy0)
        quad = (xx >= cx).astype(int) + 2 * (yy >= cy)
        groups = [px[quad == q] for q in range(4)]
        if min(len(g) for g in groups) < 4:
            valid[k] = False
            continue
        med = np.array([np.median(g, axis=0) for g in groups])
        p16, p84 = np.percentile(px, [16, 84], axis=0)
        se = 1.2533 * 0.5 * (p84 - p16) / math.sqrt(len(px) / 4.0)  # s.e. of a median
        a, b = max_nonuniformity
        uneven = bool((np.ptp(med, axis=0) > a + b * np.abs(values[k]) + 4.0 * se).any())
        valid[k] = bool(inside and not clipped and not uneven)
    return values, valid
