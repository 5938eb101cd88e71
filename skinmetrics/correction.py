"""Colour correction from the ColorChecker found in a photo (:mod:`skinmetrics.chart`).

Calibration (:func:`calibrate`) samples the central half of every patch with a trimmed mean
in linear RGB, leaves out clipped or non-uniform patches, fits a root-polynomial colour
correction [1] (default; exposure invariant) or a polynomial one [2], and reports the
CIEDE2000 [3] residual on the patches. :meth:`Calibration.apply` takes sRGB code values to
corrected sRGB code values, which the measurement pipeline expects.

References
----------
.. [1] Finlayson G.D., Mackiewicz M., Hurlbert A. Color correction using root-polynomial
       regression. IEEE Trans Image Process 2015;24:1460-1470.
.. [2] Cheung V., Westland S., Connah D., Ripamonti C. A comparative study of the
       characterisation of colour cameras by means of neural networks and polynomial
       transforms. Color Technol 2004;120:19-25.
.. [3] Sharma G., Wu W., Dalal E.N. The CIEDE2000 color-difference formula: implementation
       notes, supplementary test data, and mathematical observations. Color Res Appl
       2005;30:21-30.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import colour
import cv2
import numpy as np

from .chart import (
    CARD_MARGIN_PITCH,
    CLASSIC_PATCH_PITCH_MM,
    ChartDetection,
    chart_from_corners,
    detect_chart,
    load_corners_json,
    reference_linear_srgb,
    sample_patches,
)
from .colour import (
    SRGBCodes,
    as_photo,
    linear_to_lab_reference,
    linear_to_srgb,
    srgb_to_linear,
)

__all__ = [
    "ColourCorrection",
    "fit_colour_correction",
    "apply_colour_correction",
    "calibration_quality",
    "Calibration",
    "calibrate",
]

_FINLAYSON_TERMS = {1: 3, 2: 6, 3: 13, 4: 22}

#: Pixels corrected at a time (:meth:`ColourCorrection.apply`, :meth:`Calibration.apply`):
#: a run's terms (about 200 kB each) stay in the processor's second-level cache.
CORRECTION_CHUNK = 1 << 14


@dataclass(frozen=True)
class ColourCorrection:
    """A fitted colour correction of linear RGB (colour-science's methods [6, 7]).

    Attributes
    ----------
    method : str
        'Cheung 2004', 'Finlayson 2015' (root-polynomial) or 'Vandermonde'.
    matrix : (3, n_terms) float64 ndarray
        Maps the expanded RGB terms to corrected RGB.
    degree : int
        Polynomial degree ('Finlayson 2015', 'Vandermonde').
    terms : int
        Number of expansion terms.
    n_patches : int
        Patches the fit used.
    fallback : bool
        True when too few patches forced a 3x3 matrix instead of the method asked for.
    """

    method: str
    matrix: np.ndarray
    degree: int = 1
    terms: int = 3
    n_patches: int = 0
    fallback: bool = False

    def _kwargs(self) -> dict:
        if self.method == "Cheung 2004":
            return {"terms": self.terms}
        if self.method == "Finlayson 2015":
            return {"degree": self.degree, "root_polynomial_expansion": True}
        return {"degree": self.degree}

    def expand(self, rgb: np.ndarray) -> np.ndarray:
        """Expansion terms of (N, 3) RGB (colour-science ``polynomial_expansion``)."""
        return colour.characterisation.polynomial_expansion(
            np.asarray(rgb, dtype=np.float64).reshape(-1, 3), self.method, **self._kwargs())

    def _apply_fast(self, rgb: np.ndarray) -> np.ndarray | None:
        """float32 correction of (N, 3) RGB for the 3x3 and root-polynomial (degree 1-3)
        cases, with the terms of colour-science's ``polynomial_expansion_Finlayson2015`` in
        the same order (tested); None for the other methods.

        A root-polynomial term is a product of the channels' own roots (the square root of
        r g is that of r times that of g, sign kept; the cube root of r g g that of r times
        that of g squared), so each channel's root is taken once and the terms are summed
        three at a time (OpenCV's ``transform``).
        """
        m = self.matrix.astype(np.float32)
        pixels = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 1, 3)
        if (self.method == "Cheung 2004" and self.terms == 3) or (
                self.method == "Finlayson 2015" and self.degree == 1):
            return cv2.transform(pixels, m).reshape(-1, 3)
        if self.method != "Finlayson 2015" or self.degree not in (2, 3):
            return None
        out = cv2.transform(pixels, m[:, :3])
        if pixels.min() >= 0:  # as linear RGB from a photo is: no sign to keep
            root = np.sqrt(pixels)
        else:  # colour.algebra.spow(v, 1/2): sign kept
            root = np.sqrt(np.abs(pixels))
            np.copysign(root, pixels, out=root)
        pairs = np.empty_like(root)  # rg, gb, br
        for k in range(3):
            np.multiply(root[..., k], root[..., (k + 1) % 3], out=pairs[..., k])
        out += cv2.transform(pairs, m[:, [3, 4, 5]])
        if self.degree == 3:
            cube = np.cbrt(pixels)
            a, b = cube[..., [0, 1, 0]], cube[..., [1, 2, 2]]
            out += cv2.transform(a * b * b, m[:, 6:9])  # r g g, g b b, r b b
            out += cv2.transform(b * a * a, m[:, 9:12])  # g r r, b g g, b r r
            out += cube.prod(axis=-1, keepdims=True) * m[:, 12]  # r g b
        return out.reshape(-1, 3)

    def apply(self, linear: np.ndarray, chunk: int = CORRECTION_CHUNK,
              out: np.ndarray | None = None) -> np.ndarray:
        """Correct linear RGB of any shape (..., 3); float32 out, not clipped.

        Runs in float32 chunks of ``chunk`` pixels (each chunk's terms stay in the
        processor's cache; a 12 MP photograph in about 0.1 s for the 3x3 and
        root-polynomial corrections), into ``out`` when given (a C-contiguous float32
        array of ``linear``'s shape, which may be ``linear`` itself: corrected in place).
        """
        lin = np.asarray(linear)
        flat = lin.reshape(-1, 3)
        if out is None:
            out = np.empty(lin.shape, np.float32)
        corrected = out.reshape(-1, 3)
        for i in range(0, len(flat), chunk):
            part = flat[i:i + chunk].astype(np.float32, copy=False)
            fast = self._apply_fast(part)
            corrected[i:i + chunk] = (fast if fast is not None
                                      else self.expand(part) @ self.matrix.T)
        return out


def _n_terms(method: str, degree: int, terms: int | None) -> int:
    if method == "Cheung 2004":
        return int(terms or 3)
    if method == "Finlayson 2015":
        if degree not in _FINLAYSON_TERMS:
            raise ValueError(f"Finlayson 2015 degree must be 1-4, got {degree}")
        return _FINLAYSON_TERMS[degree]
    if method == "Vandermonde":
        return 3 * int(degree) + 1
    raise ValueError(f"unknown colour correction method {method!r} "
                     "(use 'Cheung 2004', 'Finlayson 2015' or 'Vandermonde')")


def fit_colour_correction(
    measured: np.ndarray,
    reference: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    method: str = "Finlayson 2015",
    degree: int = 2,
    terms: int | None = None,
) -> ColourCorrection:
    """Fit a colour correction of linear RGB from measured to reference patch colours.

    Least squares (Moore-Penrose) as in colour-science's ``matrix_colour_correction``.
    'Finlayson 2015' is the root-polynomial correction [1]: with degree 2 the terms are R, G,
    B, sqrt(RG), sqrt(GB), sqrt(RB), all of degree one in the exposure, so the correction is
    exposure invariant (scaling the input scales the output). 'Cheung 2004' with ``terms``
    and 'Vandermonde' are the polynomial corrections [2] (not exposure invariant beyond
    3 terms). When fewer than ``n_terms + 6`` patches are valid, a 3x3 matrix ('Cheung
    2004', 3 terms) is fitted instead (``fallback`` is set).

    Parameters
    ----------
    measured : (N, 3) ndarray
        Linear RGB of the patches in the photograph.
    reference : (N, 3) ndarray, optional
        Their true linear RGB (default: :func:`reference_linear_srgb`).
    valid : (N,) bool ndarray, optional
        Patches to use (default: all with finite values).
    method : str
        'Finlayson 2015', 'Cheung 2004' or 'Vandermonde'.
    degree : int
        Root-polynomial (1-4) or Vandermonde degree.
    terms : int, optional
        Number of terms for 'Cheung 2004' (3, 4, 5, 7, 8, 10, 11, 14, 16, 17, 19, 20, 22,
        35; default 3).

    Returns
    -------
    ColourCorrection

    Raises
    ------
    ValueError
        For an unknown method or fewer than 6 valid patches.
    """
    m = np.asarray(measured, dtype=np.float64).reshape(-1, 3)
    r = reference_linear_srgb() if reference is None else np.asarray(reference, np.float64)
    r = r.reshape(-1, 3)
    use = np.isfinite(m).all(axis=1) & np.isfinite(r).all(axis=1)
    if valid is not None:
        use &= np.asarray(valid, bool)
    n = int(use.sum())
    n_terms = _n_terms(method, degree, terms)
    if n < 6:
        raise ValueError(f"colour correction needs at least 6 valid patches, got {n}")
    fallback = n < n_terms + 6
    if fallback:
        method, degree, n_terms = "Cheung 2004", 1, 3
    cc = ColourCorrection(method, np.zeros((3, n_terms)), int(degree), n_terms, n, fallback)
    kwargs = cc._kwargs()
    matrix = colour.characterisation.matrix_colour_correction(m[use], r[use], method,
                                                              **kwargs)
    return ColourCorrection(method, np.asarray(matrix, np.float64), int(degree), n_terms, n,
                            fallback)


def apply_colour_correction(linear: np.ndarray, ccm: ColourCorrection | np.ndarray
                            ) -> np.ndarray:
    """Apply a :class:`ColourCorrection` (or a plain 3x3 matrix) to linear RGB (..., 3).

    Returns
    -------
    float32 ndarray
        Corrected linear RGB, same shape, not clipped.
    """
    if not isinstance(ccm, ColourCorrection):
        mat = np.asarray(ccm, np.float64)
        if mat.shape != (3, 3):
            raise ValueError(f"a plain colour correction matrix must be 3x3, got {mat.shape}")
        ccm = ColourCorrection("Cheung 2004", mat)
    return ccm.apply(linear)


def calibration_quality(corrected: np.ndarray, reference: np.ndarray | None = None,
                        valid: np.ndarray | None = None) -> tuple[float, float]:
    """Mean and maximum CIEDE2000 [3] between corrected and reference patches.

    Both are converted from linear sRGB to CIELAB (D65) with
    :func:`skinmetrics.colour.linear_to_lab_reference`; colour differences with
    ``colour.delta_E(..., method='CIE 2000')``.

    Returns
    -------
    (float, float)
        Mean and maximum over the valid patches (NaN when none).
    """
    c = np.asarray(corrected, np.float64).reshape(-1, 3)
    r = reference_linear_srgb() if reference is None else np.asarray(reference, np.float64)
    r = r.reshape(-1, 3)
    use = np.isfinite(c).all(axis=1)
    if valid is not None:
        use &= np.asarray(valid, bool)
    if not use.any():
        return float("nan"), float("nan")
    de = colour.delta_E(linear_to_lab_reference(c[use]), linear_to_lab_reference(r[use]),
                        method="CIE 2000")
    return float(np.mean(de)), float(np.max(de))


# --- high level ---------------------------------------------------------------------------


@dataclass
class Calibration:
    """Outcome of :func:`calibrate`.

    Attributes
    ----------
    source : str
        'chart' (found automatically), 'manual' (corners given) or 'none'.
    ccm : ColourCorrection or None
    delta_e_mean, delta_e_max : float or None
        CIEDE2000 between corrected and reference patches (over the patches used).
    n_patches_used : int
    px_per_mm : float or None
        Image scale from the chart's patch pitch (valid in the chart's plane).
    chart_mask : (H, W) bool ndarray or None
        The card's pixels and a margin of :data:`CARD_MARGIN_PITCH` patch pitches around
        it, to leave out of the skin region; set whenever a card was found or given, also
        when it could not be used for calibration.
    message : str
        One line for the report.
    detection : ChartDetection or None
    """

    source: str
    ccm: ColourCorrection | None = None
    delta_e_mean: float | None = None
    delta_e_max: float | None = None
    n_patches_used: int = 0
    px_per_mm: float | None = None
    chart_mask: np.ndarray | None = None
    message: str = ""
    detection: ChartDetection | None = field(default=None, repr=False)

    def apply(self, srgb: np.ndarray) -> np.ndarray:
        """Colour-correct sRGB code values.

        sRGB -> linear (:func:`skinmetrics.colour.srgb_to_linear`), the fitted correction,
        clipping to [0, 1], and back to sRGB code values
        (:func:`skinmetrics.colour.linear_to_srgb`), all three on one run of
        :data:`CORRECTION_CHUNK` pixels at a time, which stays in the processor's cache
        (the values of the three steps on the whole photo, bit for bit). Without a
        correction the image is returned unchanged (an array as float32,
        :class:`skinmetrics.colour.SRGBCodes` as they are).
        """
        img = as_photo(srgb, np.float32)
        if self.ccm is None:
            return img
        out = np.empty(img.shape, np.float32)
        corrected = out.reshape(-1, 1, 3)
        # the photo as a column of pixels, whose runs are rows (codes stay codes)
        column = (SRGBCodes(img.codes.reshape(-1, 1, 3), img.table)
                  if isinstance(img, SRGBCodes) else img.reshape(-1, 1, 3))
        for start in range(0, len(corrected), CORRECTION_CHUNK):
            run = np.s_[start:start + CORRECTION_CHUNK]
            lin = (column.linear(run) if isinstance(column, SRGBCodes)
                   else srgb_to_linear(column[run]))
            linear_to_srgb(self.ccm.apply(lin, out=lin), out=corrected[run])
        return out

    def as_dict(self) -> dict:
        """JSON-ready record of the calibration (for metrics.json; no image arrays)."""
        det = self.detection
        return {
            "source": self.source,
            "method": None if self.ccm is None else self.ccm.method,
            "degree": None if self.ccm is None else self.ccm.degree,
            "fallback_3x3": None if self.ccm is None else self.ccm.fallback,
            "delta_e_mean": self.delta_e_mean,
            "delta_e_max": self.delta_e_max,
            "n_patches_used": self.n_patches_used,
            "px_per_mm": self.px_per_mm,
            "corners": None if det is None else np.round(det.corners, 2).tolist(),
            "message": self.message,
        }


def calibrate(
    srgb: np.ndarray,
    chart: str | os.PathLike | np.ndarray | ChartDetection | None = "auto",
    *,
    method: str = "Finlayson 2015",
    degree: int = 2,
    patch_pitch_mm: float = CLASSIC_PATCH_PITCH_MM,
    max_delta_e: float = 6.0,
    min_valid_patches: int = 12,
) -> Calibration:
    """Colour calibration (and scale) of a photograph from a ColorChecker in it.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        sRGB code values in [0, 1].
    chart : 'auto', 'none', path, (4, 2) corners or ChartDetection
        'auto' searches the photo (:func:`detect_chart`); 'none' (or None) skips
        calibration; a path is a corners JSON file (:func:`load_corners_json`); an array
        gives the corners directly (:func:`chart_from_corners`).
    method, degree :
        Colour correction (see :func:`fit_colour_correction`).
    patch_pitch_mm : float
        Physical patch pitch of the card (see :data:`CLASSIC_PATCH_PITCH_MM`).
    max_delta_e : float
        Largest mean CIEDE2000 on the patches for the calibration to be used; a worse fit
        means a wrong or damaged chart, or strong glare, and is reported, not applied.
    min_valid_patches : int
        Fewest usable (unclipped, uniform) patches for a calibration.

    Returns
    -------
    Calibration
        ``source`` 'none' (with the reason in ``message``) when no usable chart is found.

    Raises
    ------
    ValueError
        For a corners file or corners array that cannot be used (manual path only).
    """
    if chart is None or (isinstance(chart, str) and chart == "none"):
        return Calibration("none", message="colour calibration off")
    img = as_photo(srgb, np.float32)  # codes stay codes (looked up where used)
    if isinstance(chart, str) and chart == "auto":
        det = detect_chart(img, patch_pitch_mm=patch_pitch_mm)
        source = "chart"
        if det is None:
            return Calibration("none", message="no ColorChecker found (it must be at least "
                               "~15 % of the image width with 18 or more of its patches in "
                               "the frame); not calibrated")
    elif isinstance(chart, ChartDetection):
        det, source = chart, "chart"
    else:
        corners = (load_corners_json(chart) if isinstance(chart, (str, os.PathLike))
                   else chart)
        det = chart_from_corners(img, corners, patch_pitch_mm=patch_pitch_mm)
        source = "manual"
    card = det.mask(img.shape[:2], dilate_px=CARD_MARGIN_PITCH * det.pitch_px)
    linear = srgb_to_linear(img)
    values, valid = sample_patches(linear, det)
    n = int(valid.sum())
    where = "found" if source == "chart" else "given"
    if n < min_valid_patches:
        return Calibration("none", message=f"ColorChecker {where} but only {n} of 24 patches "
                           "usable (clipped, shaded or outside the frame); not calibrated",
                           chart_mask=card, detection=det)
    ref = reference_linear_srgb()
    ccm = fit_colour_correction(values, ref, valid, method=method, degree=degree)
    de_mean, de_max = calibration_quality(ccm.apply(values), ref, valid)
    if not de_mean <= max_delta_e:
        hint = "; check the corner order TL, TR, BR, BL" if source == "manual" else ""
        return Calibration("none", message=f"ColorChecker {where} but the colour fit is poor "
                           f"(mean dE00 {de_mean:.1f} > {max_delta_e:g}){hint}; not calibrated",
                           chart_mask=card, detection=det)
    fb = " (3x3 fallback)" if ccm.fallback else ""
    msg = (f"ColorChecker {where}: {n} of 24 patches, {ccm.method}{fb}, mean dE00 "
           f"{de_mean:.2f}, max {de_max:.2f}; {det.px_per_mm:.3f} px/mm at "
           f"{det.patch_pitch_mm:g} mm pitch")
    return Calibration(source, ccm, de_mean, de_max, n, det.px_per_mm, card, msg, det)
