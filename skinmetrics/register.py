"""Register a follow-up photograph to the patient's baseline photograph.

A follow-up photo is never taken exactly like the baseline: the patient sits a little
differently (shift, rotation, distance), exposure and white balance drift, and the skin
itself changes (redness fades, crusts fall off, hair moves). :func:`register` finds the
similarity (or affine) transform between the two frames so that the baseline's skin region
can be mapped into the follow-up (:func:`warp_to_followup`) and the same skin measured at
every visit.

Method
------
1. **Working images.** Both photos are reduced to grey luma (sRGB code values, Rec. 709
   weights) at a common working size: the longer side of each becomes ``min(max_side_px,
   longer side of the smaller photo)``, so two photos of the same field have about the
   same pixel size whatever their resolutions. Slow shading (illumination gradient,
   fall-off) is removed by subtracting a wide Gaussian blur (sigma = 1/40 of the working
   side) and the rest is divided by its robust standard deviation: this band-pass z-score
   makes both images independent of exposure and white balance. Keypoints are detected on
   these images reduced further to ``FEATURE_SIDE_PX`` (400 px; in proportion for another
   ``max_side_px``) for speed.
2. **Features.** SIFT keypoints and descriptors [1] (AKAZE [5] or ORB [4] on request or
   when SIFT is unavailable), restricted to the masks when given, matched with Lowe's
   nearest/second-nearest ratio test [1].
3. **Robust fit.** RANSAC [2] of a similarity (``cv2.estimateAffinePartial2D``: rotation,
   uniform scale, translation) or an affine transform (``cv2.estimateAffine2D``), followed
   by Levenberg-Marquardt refinement on the inliers.
4. **Intensity refinement.** Enhanced correlation coefficient maximisation (ECC [3],
   ``cv2.findTransformECC``) on the band-passed images (at most ``ECC_SIDE_PX``, brought to
   the same pixel size when the scales differ by more than 25 %), started from the RANSAC
   estimate. OpenCV's ECC has no similarity model, so for ``model='similarity'`` the affine ECC
   result (``MOTION_AFFINE``) is projected back onto the nearest similarity (least-squares
   fit to the affine's mapping of a grid of points over the overlap). The refinement is kept
   only when it does not lower the correlation, does not move the frame by more than
   2 % of its diagonal (a refinement that jumps is a wrong local optimum) and keeps the
   RANSAC inliers where they were matched: their median residual under the refined map
   at most ``ECC_MAX_INLIER_RESIDUAL_PX`` at the feature scale (a keypoint is located to a
   fraction of a pixel; on weakly textured skin the correlation is flat enough for ECC to
   drift several pixels while gaining nothing).
5. **Checks.** The registration fails (``ok`` False, one-line ``message``) when there are
   too few inlier matches, the transform is degenerate (not finite, reflected, sheared),
   the scale relative to the photos' size ratio lies outside 0.5-2, the overlap is below a
   quarter of the follow-up frame, or the quality (normalised cross-correlation of the two
   band-passed images over the overlap, after warping) is below ``min_quality``.
   Ordinary images never raise: the caller measures unregistered and flags the visit.

Direction convention
--------------------
``Registration.matrix`` (alias ``followup_to_baseline``) is a 2x3 float64 affine matrix
mapping **follow-up pixel coordinates to baseline pixel coordinates** at full resolution,
``[x_b, y_b] = M @ [x_f, y_f, 1]``, with OpenCV's pixel convention (x = column, y = row,
pixel centres at integers). ``scale``, ``rotation_deg`` and ``shift_px`` describe this
matrix: ``scale`` is baseline pixels per follow-up pixel (so the follow-up's pixel scale is
``px_per_mm_followup = px_per_mm_baseline / scale``), ``rotation_deg`` is the angle of
``M`` in image coordinates (y down: positive is clockwise on screen), ``shift_px`` its
translation (baseline pixels). ``baseline_to_followup`` is the inverse.

References
----------
.. [1] Lowe D.G. Distinctive image features from scale-invariant keypoints. Int J Comput
       Vis 2004;60:91-110.
.. [2] Fischler M.A., Bolles R.C. Random sample consensus: a paradigm for model fitting with
       applications to image analysis and automated cartography. Commun ACM
       1981;24:381-395.
.. [3] Evangelidis G.D., Psarakis E.Z. Parametric image alignment using enhanced
       correlation coefficient maximization. IEEE Trans Pattern Anal Mach Intell
       2008;30:1858-1865.
.. [4] Rublee E., Rabaud V., Konolige K., Bradski G. ORB: an efficient alternative to SIFT
       or SURF. Proc. IEEE ICCV 2011:2564-2571.
.. [5] Alcantarilla P.F., Nuevo J., Bartoli A. Fast explicit diffusion for accelerated
       features in nonlinear scale spaces. Proc. BMVC 2013.
.. [6] Umeyama S. Least-squares estimation of transformation parameters between two point
       patterns. IEEE Trans Pattern Anal Mach Intell 1991;13:376-380.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from .colour import SRGBCodes, as_photo

__all__ = [
    "Registration",
    "RegistrationFrame",
    "register",
    "registration_quality",
    "warp_to_followup",
    "warp_to_baseline",
    "overlap_mask",
    "similarity_params",
    "corner_error",
]

#: Smallest number of RANSAC inliers accepted. Few are enough when they agree on a
#: similarity and the photos then correlate (``MIN_QUALITY``): dark skin whose crusts have
#: shed between the visits keeps few stable features.
MIN_INLIERS = 6
#: Default quality (normalised cross-correlation of the band-passed images) below which the
#: registration is declared failed.
MIN_QUALITY = 0.15
#: Accepted range of the scale relative to the photos' size ratio.
SCALE_RANGE = (0.5, 2.0)
#: Smallest accepted fraction of the follow-up frame that falls inside the baseline frame.
MIN_OVERLAP = 0.25
#: Longest side of the images keypoints are detected on at the default working size
#: (:data:`ECC_SIDE_PX`; work images are reduced to it, in proportion for another size).
FEATURE_SIDE_PX = 400
#: Largest median residual (px at the feature scale) of the RANSAC inliers under an ECC
#: refinement for it to be kept (module text, step 4).
ECC_MAX_INLIER_RESIDUAL_PX = 1.0
#: Longest side of the images the ECC refinement runs on (work images are reduced to it).
ECC_SIDE_PX = 800
#: ECC stops after this many iterations or when the correlation changes by less than ECC_EPS.
ECC_ITERATIONS = 50
ECC_EPS = 1e-4
#: Lowe's ratio test threshold [1].
RATIO = 0.8
#: Largest number of keypoints kept per image (strongest first). Generous: the strongest
#: features of a baseline can be lesions that are gone by the follow-up (the crusts of a
#: laser course), and with 2500 an over-exposed follow-up of light skin kept too few of
#: the stable ones (pores, spots) to register (11 matches; with 10000, 835).
MAX_FEATURES = 10000

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


@dataclass
class Registration:
    """Result of :func:`register`.

    Attributes
    ----------
    ok : bool
        True when the registration passed every check.
    message : str
        One line: why it failed, or a short summary when it succeeded.
    model : str
        ``'similarity'`` or ``'affine'``.
    matrix : (2, 3) float64 ndarray
        Follow-up pixel coordinates -> baseline pixel coordinates (full resolution). When
        ``ok`` is False it is the fallback that assumes both photos show the same field
        (a pure scaling by the size ratio), so the warp functions still run.
    scale : float
        Baseline pixels per follow-up pixel (``sqrt(|det|)`` of the linear part).
    rotation_deg : float
        Rotation of ``matrix`` in degrees (image coordinates, y down).
    shift_px : (float, float)
        Translation (tx, ty) of ``matrix`` in baseline pixels.
    relative_scale : float
        ``scale`` divided by the size ratio of the photos (baseline longer side / follow-up
        longer side): the change of camera distance, 1 when unchanged.
    n_matches : int
        Matches that passed the ratio test.
    n_inliers : int
        RANSAC inliers.
    inlier_ratio : float
        ``n_inliers / n_matches`` (0 when there are no matches).
    ecc : float or None
        Final ECC correlation of the refinement; None when it was not run, did not converge
        or was rejected (the RANSAC estimate is then kept).
    quality : float
        Normalised cross-correlation in [0, 1] of the band-passed luma of the two photos
        (working resolution, smoothed by 1 px) over their overlap and masks, after warping
        (negative values are reported as 0). About 0.99 for the same capture, 0.7-0.8 for
        another visit of the same skin, < 0.05 for unrelated skin.
    overlap : float
        Fraction of the follow-up frame that falls inside the baseline frame.
    features : str
        Detector used (``'sift'``, ``'akaze'`` or ``'orb'``).
    baseline_shape, followup_shape : (int, int)
        Height and width of the two photos.
    seconds : float
        Wall time of :func:`register` (of every registration tried, when
        :func:`skinmetrics.align.align_to_baseline` made it).
    """

    ok: bool
    message: str
    model: str
    matrix: np.ndarray
    scale: float
    rotation_deg: float
    shift_px: tuple[float, float]
    relative_scale: float
    n_matches: int = 0
    n_inliers: int = 0
    inlier_ratio: float = 0.0
    ecc: float | None = None
    quality: float = 0.0
    overlap: float = 0.0
    features: str = "sift"
    baseline_shape: tuple[int, int] = (0, 0)
    followup_shape: tuple[int, int] = (0, 0)
    seconds: float = 0.0

    @property
    def followup_to_baseline(self) -> np.ndarray:
        """2x3 matrix mapping follow-up pixel coordinates to baseline pixel coordinates."""
        return self.matrix

    @property
    def baseline_to_followup(self) -> np.ndarray:
        """2x3 matrix mapping baseline pixel coordinates to follow-up pixel coordinates."""
        return cv2.invertAffineTransform(self.matrix)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (plain floats, lists; NaN as None)."""

        def num(v: float | None, nd: int = 6) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), nd)

        return {
            "ok": bool(self.ok),
            "message": self.message,
            "model": self.model,
            "direction": "followup_to_baseline",
            "matrix": [[num(v, 9) for v in row] for row in np.asarray(self.matrix)],
            "scale": num(self.scale),
            "relative_scale": num(self.relative_scale),
            "rotation_deg": num(self.rotation_deg, 4),
            "shift_px": [num(self.shift_px[0], 3), num(self.shift_px[1], 3)],
            "n_matches": int(self.n_matches),
            "n_inliers": int(self.n_inliers),
            "inlier_ratio": num(self.inlier_ratio, 4),
            "ecc": num(self.ecc, 4),
            "quality": num(self.quality, 4),
            "overlap": num(self.overlap, 4),
            "features": self.features,
            "baseline_shape": [int(v) for v in self.baseline_shape],
            "followup_shape": [int(v) for v in self.followup_shape],
            "seconds": num(self.seconds, 3),
        }


# --------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------


def _h(m: np.ndarray) -> np.ndarray:
    """2x3 -> 3x3 homogeneous."""
    return np.vstack([np.asarray(m, np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])


def _resize_matrix(f: float) -> np.ndarray:
    """3x3 map from original pixel coordinates to those of an image resized by ``f``.

    With pixel centres at integers, ``x' = f (x + 0.5) - 0.5`` (as ``cv2.resize`` samples).
    """
    return np.array([[f, 0.0, 0.5 * f - 0.5], [0.0, f, 0.5 * f - 0.5], [0.0, 0.0, 1.0]])


def similarity_params(matrix: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """Scale, rotation (degrees) and shift of a 2x3 similarity or affine matrix.

    For an affine matrix the scale is ``sqrt(|det A|)`` and the rotation that of the
    nearest similarity, ``atan2(a10 - a01, a00 + a11)``.

    Returns
    -------
    scale : float
    rotation_deg : float
        In image coordinates (y down): positive turns clockwise on screen.
    shift_px : (float, float)
    """
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    a = m[:, :2]
    scale = math.sqrt(abs(float(np.linalg.det(a))))
    rot = math.degrees(math.atan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))
    return scale, rot, (float(m[0, 2]), float(m[1, 2]))


def corner_error(
    estimated: np.ndarray, truth: np.ndarray, shape: tuple[int, ...]
) -> float:
    """Mean distance (pixels) between the images of the four frame corners under two maps.

    Parameters
    ----------
    estimated, truth : (2, 3) ndarray
        Affine matrices of the same direction.
    shape : tuple
        (H, W, ...) of the frame whose corners are mapped (the matrices' source frame).

    Returns
    -------
    float
    """
    h, w = shape[:2]
    c = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], np.float64)
    d = c @ np.asarray(estimated, np.float64).reshape(2, 3).T - c @ np.asarray(
        truth, np.float64).reshape(2, 3).T
    return float(np.hypot(d[:, 0], d[:, 1]).mean())


def _fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (no reflection) taking ``src`` points to ``dst`` [6]."""
    ms, md = src.mean(0), dst.mean(0)
    p, q = src - ms, dst - md
    den = float((p**2).sum())
    a = float((p[:, 0] * q[:, 0] + p[:, 1] * q[:, 1]).sum()) / den
    b = float((p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum()) / den
    lin = np.array([[a, -b], [b, a]])
    return np.hstack([lin, (md - lin @ ms)[:, None]])


def _median_residual(matrix: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    """Median distance (px) between ``matrix`` applied to ``src`` points and ``dst``."""
    m = np.asarray(matrix, np.float64)
    return float(np.median(np.hypot(*(src @ m[:, :2].T + m[:, 2] - dst).T)))


def _degenerate(matrix: np.ndarray, model: str) -> str | None:
    """Why a 2x3 matrix is unusable, or None."""
    m = np.asarray(matrix, np.float64)
    if not np.all(np.isfinite(m)):
        return "transform is not finite"
    a = m[:, :2]
    if np.linalg.det(a) <= 0:
        return "transform is reflected or singular"
    sv = np.linalg.svd(a, compute_uv=False)
    if model == "affine" and sv[0] > 1.5 * sv[1]:
        return f"transform is strongly sheared (axis ratio {sv[0] / sv[1]:.2f})"
    return None


# --------------------------------------------------------------------------------------
# working images
# --------------------------------------------------------------------------------------


def _grey(img: np.ndarray) -> np.ndarray:
    """Float32 luma of sRGB code values (Rec. 709 weights), any channel count."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    else:
        a = a.astype(np.float32, copy=False)
    if a.ndim == 2:
        return a
    if a.shape[2] >= 3:
        return cv2.transform(np.ascontiguousarray(a[..., :3]), _LUMA[None, :]).reshape(a.shape[:2])
    return np.ascontiguousarray(a[..., 0])


def _work_image(img: np.ndarray | SRGBCodes, f: float) -> np.ndarray:
    """Luma of ``img`` (:func:`_grey`) resized by ``f`` (area averaging). Codes are averaged
    as codes (each channel's mean rounded to a code) and then looked up: where the table is
    straight, as it is for a photo as decoded, within half a code of the luma of the values
    averaged, far below the skin texture that registration matches; no float photo is
    made."""
    if isinstance(img, SRGBCodes) and f < 1.0:
        small = cv2.resize(img.codes, (0, 0), fx=f, fy=f, interpolation=cv2.INTER_AREA)
        grey = _grey(np.asarray(SRGBCodes(small, img.table)))
    else:
        grey = _grey(img)
        if f < 1.0:
            grey = cv2.resize(grey, (0, 0), fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return np.nan_to_num(grey, nan=0.0, posinf=1.0, neginf=0.0)


def _work_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask).astype(np.uint8)
    if m.ndim != 2:
        raise ValueError("masks must be 2-D (H, W) arrays")
    return cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def _bandpass(grey: np.ndarray, mask: np.ndarray | None, sigma_bg: float) -> np.ndarray:
    """Band-passed z-score of luma: exposure, white balance and slow shading removed.

    ``Y`` (sRGB code values, roughly perceptual) minus its Gaussian blur of ``sigma_bg``,
    minus its median and divided by its robust standard deviation (1.4826 MAD) over
    ``mask`` (all pixels when None), clipped to +-6. An exposure change acts on code values
    nearly as a gain, which the z-score removes. (The log of luminance would remove it
    exactly but amplifies the noise of dark areas, which biased the ECC refinement by up to
    0.3 px on noisy phantoms; code values did not.)
    """
    g = np.ascontiguousarray(grey, dtype=np.float32)
    k = max(1, int(sigma_bg / 4))  # the blur is computed on a grid subsampled by sigma/4
    h, w = g.shape
    small = cv2.resize(g, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_bg / k, borderType=cv2.BORDER_REFLECT)
    hp = g - cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    vals = hp[mask] if mask is not None and mask.sum() > 100 else hp.ravel()
    if vals.size > 200_000:
        vals = vals[:: vals.size // 200_000 + 1]
    med = float(np.median(vals))
    mad = 1.4826 * float(np.median(np.abs(vals - med)))
    if not math.isfinite(mad) or mad < 1e-6:
        mad = float(np.std(vals))
    if not math.isfinite(mad) or mad < 1e-6:  # flat image: no structure to register
        return np.zeros_like(hp)
    return np.clip((hp - med) / mad, -6.0, 6.0).astype(np.float32)


def _shrink(z: np.ndarray, mask: np.ndarray | None, g: float):
    """Band-passed image as uint8 (+-4 SD) and its mask, resized by ``g`` for detection."""
    if g < 1.0:
        z = cv2.resize(z, (0, 0), fx=g, fy=g, interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), (z.shape[1], z.shape[0]),
                              interpolation=cv2.INTER_NEAREST) > 0
    return np.clip(128.0 + 32.0 * z, 0, 255).astype(np.uint8), mask


# --------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------


def _detector(name: str):
    if name == "sift" and hasattr(cv2, "SIFT_create"):
        return "sift", cv2.SIFT_create(nfeatures=MAX_FEATURES, contrastThreshold=0.02)
    if name in ("sift", "akaze") and hasattr(cv2, "AKAZE_create"):
        return "akaze", cv2.AKAZE_create(threshold=0.0005)
    return "orb", cv2.ORB_create(nfeatures=MAX_FEATURES, fastThreshold=5)


def _keypoints(det, img, mask) -> tuple[Any, Any]:
    """Keypoints and descriptors of a feature image (inside ``mask`` when given)."""
    return det.detectAndCompute(img, None if mask is None else mask.astype(np.uint8))


def _match(name: str, kb, db, kf, df):
    """Ratio-test matches of baseline (``kb``, ``db``) and follow-up (``kf``, ``df``)
    keypoints and descriptors: (follow-up points, baseline points), each (N, 2) float32,
    and the two numbers of keypoints."""
    empty = np.zeros((0, 2), np.float32)
    if db is None or df is None or len(kb) < 2 or len(kf) < 2:
        return empty, empty, len(kb or ()), len(kf or ())
    if len(kb) > MAX_FEATURES:  # AKAZE has no cap
        order = np.argsort([-k.response for k in kb])[:MAX_FEATURES]
        kb, db = [kb[i] for i in order], db[order]
    if len(kf) > MAX_FEATURES:
        order = np.argsort([-k.response for k in kf])[:MAX_FEATURES]
        kf, df = [kf[i] for i in order], df[order]
    if name == "sift":
        matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
        df, db = df.astype(np.float32), db.astype(np.float32)
    else:
        matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(df, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    pf = np.array([kf[m.queryIdx].pt for m in good], np.float32).reshape(-1, 2)
    pb = np.array([kb[m.trainIdx].pt for m in good], np.float32).reshape(-1, 2)
    return pf, pb, len(kb), len(kf)


# --------------------------------------------------------------------------------------
# ECC refinement and quality
# --------------------------------------------------------------------------------------


def _quality(zs_b: np.ndarray, zs_f: np.ndarray, m_fb: np.ndarray, mask_b: np.ndarray | None,
             mask_f: np.ndarray | None) -> float:
    """Normalised cross-correlation of the (smoothed) band-passed images after warping.

    The follow-up is resampled into the baseline frame with ``m_fb`` (work coordinates);
    the correlation runs over the baseline pixels that map inside the follow-up frame
    (3 px in from its edge) and inside both masks.
    """
    size = (zs_b.shape[1], zs_b.shape[0])
    m = np.asarray(m_fb, np.float64)
    warped = cv2.warpAffine(zs_f, m, size, flags=cv2.INTER_LINEAR)
    valid = np.ones(zs_f.shape, np.uint8) if mask_f is None else mask_f.astype(np.uint8)
    valid = cv2.erode(valid, np.ones((7, 7), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=0)
    inside = cv2.warpAffine(valid, m, size, flags=cv2.INTER_NEAREST) > 0
    if mask_b is not None:
        inside &= mask_b
    return _ncc(zs_b, warped, inside)


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of two float32 images over ``mask`` (OpenCV's masked means and
    standard deviations, accumulated in double precision)."""
    m = mask.view(np.uint8)
    if cv2.countNonZero(m) < 100:
        return 0.0
    mean_a, sd_a = (v[0, 0] for v in cv2.meanStdDev(a, mask=m))
    mean_b, sd_b = (v[0, 0] for v in cv2.meanStdDev(b, mask=m))
    cov = cv2.mean(cv2.multiply(a, b), mask=m)[0] - mean_a * mean_b
    return float(cov / (sd_a * sd_b)) if sd_a > 0 and sd_b > 0 else 0.0


def _smooth(z: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(z, (0, 0), sigma) if sigma > 0 else z


def _ecc_refine(z_b, z_f, m_fb, mask_b, mask_f, model):
    """ECC [3] refinement of the follow-up -> baseline map (work coordinates).

    Returns (refined 2x3 map or None, ECC value or None, note).
    """
    # bring both images to the same pixel size (the RANSAC scale) and at most ECC_SIDE_PX
    s = similarity_params(m_fb)[0]  # baseline work px per follow-up work px
    gb, gf = (min(1.0, 1.0 / s), min(1.0, s)) if abs(math.log(s)) > math.log(1.25) else (1.0, 1.0)
    cap = min(1.0, ECC_SIDE_PX / max(max(z_b.shape) * gb, max(z_f.shape) * gf))
    gb, gf = gb * cap, gf * cap
    sb, sf = _resize_matrix(gb), _resize_matrix(gf)
    eb = cv2.resize(z_b, (0, 0), fx=gb, fy=gb, interpolation=cv2.INTER_AREA) if gb < 1 else z_b
    ef = cv2.resize(z_f, (0, 0), fx=gf, fy=gf, interpolation=cv2.INTER_AREA) if gf < 1 else z_f
    # OpenCV's ECC masks the *input* image and its warp maps template -> input coordinates,
    # so the follow-up is the template, the baseline the input and the warp is m_fb itself
    warp = (sb @ _h(m_fb) @ np.linalg.inv(sf))[:2].astype(np.float32)
    imask = np.ones(eb.shape, np.uint8)
    if mask_b is not None:
        imask &= cv2.resize(mask_b.astype(np.uint8), (eb.shape[1], eb.shape[0]),
                            interpolation=cv2.INTER_NEAREST)
    if mask_f is not None:
        mf = cv2.resize(mask_f.astype(np.uint8), (ef.shape[1], ef.shape[0]),
                        interpolation=cv2.INTER_NEAREST)
        imask &= cv2.warpAffine(mf, warp, (eb.shape[1], eb.shape[0]), flags=cv2.INTER_NEAREST)
    if imask.sum() < 400:
        return None, None, "ECC skipped: overlap too small"
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, ECC_ITERATIONS, ECC_EPS)
    try:
        rho, warp = cv2.findTransformECC(ef, eb, warp, cv2.MOTION_AFFINE, criteria, imask, 5)
    except cv2.error:
        return None, None, "ECC did not converge"
    warp = np.asarray(warp, np.float64)
    if not np.all(np.isfinite(warp)):
        return None, None, "ECC did not converge"
    if model == "similarity":  # nearest similarity over the template points that overlap
        hf, wf = ef.shape
        ys, xs = np.mgrid[0:hf:max(1, hf // 40), 0:wf:max(1, wf // 40)]
        pts = np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64)
        mapped = pts @ warp[:, :2].T + warp[:, 2]
        ix, iy = np.rint(mapped[:, 0]).astype(int), np.rint(mapped[:, 1]).astype(int)
        inside = (ix >= 0) & (ix < eb.shape[1]) & (iy >= 0) & (iy < eb.shape[0])
        inside[inside] = imask[iy[inside], ix[inside]] > 0
        if inside.sum() < 3:
            return None, None, "ECC skipped: overlap too small"
        warp = _fit_similarity(pts[inside], mapped[inside])
    m_fb_new = (np.linalg.inv(sb) @ _h(warp) @ sf)[:2]
    return m_fb_new, float(rho), ""


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


class RegistrationFrame:
    """One photo's side of :func:`register`, made once and kept for the next registration
    with the same photo (a baseline registered with each of its follow-ups): its working
    images (band-passed z-scores, step 1) and keypoints (step 2) at each working size.

    Parameters
    ----------
    srgb : (H, W, 3) or (H, W) ndarray, or SRGBCodes
        The photo, as :func:`register` takes it (SRGBCodes kept as they are: the float
        photo is made only while its working images are).
    mask : (H, W) bool ndarray, optional
        Its pixels to use (as ``register``'s ``mask_baseline``).
    """

    def __init__(self, srgb: np.ndarray, mask: np.ndarray | None = None):
        self.srgb = as_photo(srgb)
        self.mask = mask
        self._made: dict[tuple, Any] = {}

    def __getstate__(self) -> dict:  # pickled without what it made (OpenCV keypoints)
        return {**self.__dict__, "_made": {}}

    def _kept(self, key: tuple, make):
        """``make()``, made once per ``key``."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def working(self, factor: float, sigma_bg: float) -> tuple[np.ndarray | None,
                                                                np.ndarray | None]:
        """Its working image and mask at ``factor`` (:func:`_working`), made once."""
        return self._kept(("work", factor, sigma_bg),
                          lambda: _working(self.srgb, self.mask, factor, sigma_bg))

    def smoothed(self, factor: float, sigma_bg: float) -> np.ndarray:
        """Its working image smoothed for the quality (:func:`_quality`), made once."""
        return self._kept(("smooth", factor, sigma_bg),
                          lambda: _smooth(self.working(factor, sigma_bg)[0], 1.0))


def _working_size(shape_b: tuple[int, int], shape_f: tuple[int, int], max_side_px: int
                  ) -> tuple[int, float, float, float]:
    """The working images' longer side (px), the factors that resize the baseline and the
    follow-up to it, and the band-pass's background sigma there (px)."""
    long_b, long_f = max(shape_b), max(shape_f)
    side = min(max_side_px, long_b, long_f)
    return side, min(1.0, side / long_b), min(1.0, side / long_f), max(4.0, side / 40.0)


def _working(img: np.ndarray | SRGBCodes, mask: np.ndarray | None, factor: float,
             sigma_bg: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Step 1 of :func:`register`: the band-passed z-score of a photo's luma resized by
    ``factor`` and its mask there; None for the image when the mask is (nearly) empty."""
    grey = _work_image(img, factor)
    wmask = _work_mask(mask, grey.shape)
    if wmask is not None and wmask.sum() < 400:
        return None, wmask
    return _bandpass(grey, wmask, sigma_bg), wmask


def registration_quality(baseline: RegistrationFrame, followup_srgb: np.ndarray,
                         matrix: np.ndarray, *, mask_followup: np.ndarray | None = None,
                         max_side_px: int = ECC_SIDE_PX) -> float:
    """The quality :func:`register` reports (normalised cross-correlation of the two
    band-passed photos after warping, at its working size) of any follow-up -> baseline
    ``matrix`` (2x3, full resolution), over the baseline frame's mask and
    ``mask_followup``: two registrations judged on the same pixels. 0 when a mask is
    (nearly) empty."""
    f = as_photo(followup_srgb)
    _, fb, ff, sigma_bg = _working_size(baseline.srgb.shape[:2], f.shape[:2], max_side_px)
    z_b, wmask_b = baseline.working(fb, sigma_bg)
    z_f, wmask_f = _working(f, mask_followup, ff, sigma_bg)
    if z_b is None or z_f is None:
        return 0.0
    m_fb = (_resize_matrix(fb) @ _h(matrix) @ np.linalg.inv(_resize_matrix(ff)))[:2]
    return max(0.0, _quality(baseline.smoothed(fb, sigma_bg), _smooth(z_f, 1.0), m_fb,
                             wmask_b, wmask_f))


def register(
    baseline_srgb: np.ndarray | RegistrationFrame,
    followup_srgb: np.ndarray,
    *,
    mask_baseline: np.ndarray | None = None,
    mask_followup: np.ndarray | None = None,
    model: Literal["similarity", "affine"] = "similarity",
    max_side_px: int = ECC_SIDE_PX,
    features: Literal["sift", "akaze", "orb"] = "sift",
    min_quality: float = MIN_QUALITY,
    refine: bool = True,
) -> Registration:
    """Find the transform taking follow-up pixel coordinates to baseline pixel coordinates.

    Features (SIFT [1]) with the ratio test, RANSAC [2] similarity or affine fit, ECC [3]
    refinement and quality checks; see the module docstring for the method.

    Parameters
    ----------
    baseline_srgb, followup_srgb : (H, W, 3) or (H, W) ndarray
        The two photographs, sRGB code values in [0, 1] (float, or
        :class:`skinmetrics.colour.SRGBCodes`) or uint8 / uint16; they may differ in size.
        The baseline may be a :class:`RegistrationFrame` (with its own mask): what it made
        for an earlier registration is used again (same result).
    mask_baseline, mask_followup : (H, W) bool ndarray, optional
        Pixels to use (e.g. the skin region) in each photo; features are detected only
        there and the correlation is computed only there.
    model : {'similarity', 'affine'}
        Rotation + uniform scale + translation (4 degrees of freedom), or full affine (6).
    max_side_px : int
        Longer side of the working images (downscaled for speed; the transform is returned
        at full resolution); by default the ECC refinement's (:data:`ECC_SIDE_PX`), on
        which the quality is then measured too. The keypoints' images scale with it
        (:data:`FEATURE_SIDE_PX` at the default).
    features : {'sift', 'akaze', 'orb'}
        Keypoint detector; falls back to AKAZE, then ORB, when SIFT is unavailable.
    min_quality : float
        Smallest accepted quality (normalised cross-correlation after warping).
    refine : bool
        Run the ECC refinement.

    Returns
    -------
    Registration
        ``ok`` False with a one-line ``message`` when registration failed; never raises
        for ordinary images.

    Notes
    -----
    RANSAC and the FLANN matcher draw from OpenCV's random number generator, which is
    re-seeded here (``cv2.setRNGSeed(0)``, a side effect on the calling thread's OpenCV
    RNG) so that the same photos always give the same transform.

    Raises
    ------
    ValueError
        When an input is not a 2-D or 3-D array, a mask's shape does not match its photo,
        or ``model`` or ``features`` is unknown (programming errors, not image content).
    """
    t0 = time.perf_counter()
    cv2.setRNGSeed(0)  # RANSAC and FLANN sample at random: same photos, same result
    if model not in ("similarity", "affine"):
        raise ValueError(f"unknown model {model!r}: use 'similarity' or 'affine'")
    if features not in ("sift", "akaze", "orb"):
        raise ValueError(f"unknown features {features!r}: use 'sift', 'akaze' or 'orb'")
    if isinstance(baseline_srgb, RegistrationFrame):
        if mask_baseline is not None:
            raise ValueError("a RegistrationFrame holds its own mask: mask_baseline must be None")
        frame = baseline_srgb
    else:
        frame = RegistrationFrame(baseline_srgb, mask_baseline)
    b, mask_baseline = frame.srgb, frame.mask
    f = as_photo(followup_srgb)
    for name, a in (("baseline", b), ("follow-up", f)):
        if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"{name} image must be (H, W) or (H, W, C), got {a.shape}")
    for name, m, a in (("mask_baseline", mask_baseline, b), ("mask_followup", mask_followup, f)):
        if m is not None and np.shape(m) != a.shape[:2]:
            raise ValueError(f"{name} shape {np.shape(m)} does not match image {a.shape[:2]}")

    shape_b, shape_f = b.shape[:2], f.shape[:2]
    size_ratio = max(shape_b) / max(shape_f)
    side, fb, ff, sigma_bg = _working_size(shape_b, shape_f, max_side_px)
    sb, sf = _resize_matrix(fb), _resize_matrix(ff)
    # fallback: the two frames show the same field (pure scaling by the size ratio)
    fallback = _resize_matrix(size_ratio)[:2]

    def result(ok: bool, message: str, m_full: np.ndarray | None = None, **kw) -> Registration:
        mat = fallback if m_full is None else m_full
        scale, rot, shift = similarity_params(mat)
        return Registration(ok=ok, message=message, model=model, matrix=np.asarray(mat, float),
                            scale=scale, rotation_deg=rot, shift_px=shift,
                            relative_scale=scale / size_ratio, baseline_shape=tuple(shape_b),
                            followup_shape=tuple(shape_f),
                            seconds=time.perf_counter() - t0, **kw)

    if min(shape_b) < 16 or min(shape_f) < 16:
        return result(False, "image too small to register (< 16 px)")

    def steps() -> Registration:
        # 1. working images
        z_b, wmask_b = frame.working(fb, sigma_bg)
        z_f, wmask_f = _working(f, mask_followup, ff, sigma_bg)
        for name, z in (("baseline", z_b), ("follow-up", z_f)):
            if z is None:
                return result(False, f"{name} mask is (nearly) empty")

        # 2. features and matches
        feat_name, det = _detector(features)
        g = min(1.0, FEATURE_SIDE_PX * max_side_px / ECC_SIDE_PX / side)
        try:
            kb, db = frame._kept(("keypoints", fb, sigma_bg, feat_name, g),
                                 lambda: _keypoints(det, *_shrink(z_b, wmask_b, g)))
            pf, pb, nkb, nkf = _match(feat_name, kb, db,
                                      *_keypoints(det, *_shrink(z_f, wmask_f, g)))
        except cv2.error as exc:
            return result(False, f"feature matching failed ({str(exc).strip().splitlines()[-1]})",
                          features=feat_name)
        pf, pb = (pf + 0.5) / g - 0.5, (pb + 0.5) / g - 0.5  # feature -> work coordinates
        n_matches = len(pf)
        common = dict(features=feat_name, n_matches=n_matches)
        if n_matches < MIN_INLIERS:
            return result(False, f"too few feature matches ({n_matches}; keypoints {nkb} baseline, "
                          f"{nkf} follow-up)", **common)

        # 3. RANSAC [2]
        thr = 2.5 / g  # 2.5 px at the feature scale
        estimate = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
        m_fb, inl = estimate(pf, pb, method=cv2.RANSAC, ransacReprojThreshold=thr,
                             maxIters=5000, confidence=0.999, refineIters=10)
        n_inl = int(inl.sum()) if inl is not None else 0
        common.update(n_inliers=n_inl, inlier_ratio=n_inl / max(n_matches, 1))
        if m_fb is None or n_inl < MIN_INLIERS:
            return result(False, f"too few RANSAC inliers ({n_inl} of {n_matches} matches)",
                          **common)
        why = _degenerate(m_fb, model)
        if why:
            return result(False, why, **common)

        # 4. ECC refinement [3], kept when it does not lower the correlation nor jump
        ecc_value = None
        notes = []
        zs_b = frame.smoothed(fb, sigma_bg)
        zs_f = _smooth(z_f, 1.0)
        quality = _quality(zs_b, zs_f, m_fb, wmask_b, wmask_f)
        if refine:
            m_ecc, rho, note = _ecc_refine(z_b, z_f, m_fb, wmask_b, wmask_f, model)
            if note:
                notes.append(note)
            if m_ecc is not None and _degenerate(m_ecc, model) is None:
                jump = corner_error(m_ecc, m_fb, z_f.shape)
                q_ecc = _quality(zs_b, zs_f, m_ecc, wmask_b, wmask_f)
                keep = inl.ravel() > 0
                residual = _median_residual(m_ecc, pf[keep], pb[keep]) * g
                if (jump <= 0.02 * math.hypot(*z_f.shape) and q_ecc >= quality - 0.005
                        and residual <= ECC_MAX_INLIER_RESIDUAL_PX):
                    m_fb, quality, ecc_value = m_ecc, q_ecc, rho
                else:
                    notes.append(f"ECC refinement rejected (moved {jump:.1f} px, "
                                 f"quality {quality:.3f} -> {q_ecc:.3f}, inliers off by "
                                 f"{residual:.1f} px)")

        # back to full resolution: follow-up full -> follow-up work -> baseline work -> full
        m_full = (np.linalg.inv(sb) @ _h(m_fb) @ sf)[:2]
        overlap = _overlap_fraction(m_full, shape_b, shape_f)
        quality = max(0.0, float(quality))
        common.update(ecc=ecc_value, quality=quality, overlap=overlap)
        scale, rot, _ = similarity_params(m_full)
        rel = scale / size_ratio
        desc = (f"scale {scale:.4f} (relative {rel:.3f}), rotation {rot:.2f} deg, "
                f"{n_inl}/{n_matches} inliers, quality {quality:.3f}")
        if not (SCALE_RANGE[0] <= rel <= SCALE_RANGE[1]):
            return result(False, f"relative scale {rel:.3f} outside {SCALE_RANGE[0]}-"
                          f"{SCALE_RANGE[1]} ({desc})", **common)
        if overlap < MIN_OVERLAP:
            return result(False, f"overlap {overlap:.2f} of the follow-up frame below "
                          f"{MIN_OVERLAP} ({desc})", **common)
        if quality < min_quality:
            return result(False, f"quality {quality:.3f} below {min_quality} ({desc})", **common)
        msg = "registered: " + desc + ("; " + "; ".join(notes) if notes else "")
        return result(True, msg, m_full, **common)

    try:
        return steps()
    except (cv2.error, np.linalg.LinAlgError) as exc:  # never raise on image content
        last = (str(exc).strip().splitlines() or ["unknown error"])[-1]
        return result(False, f"registration failed ({last})")


def _overlap_fraction(m_fb: np.ndarray, shape_b, shape_f) -> float:
    """Fraction of the follow-up frame that maps inside the baseline frame (on a grid)."""
    hf, wf = shape_f
    ny, nx = min(hf, 64), min(wf, 64)
    ys, xs = np.meshgrid(np.linspace(0, hf - 1, ny), np.linspace(0, wf - 1, nx), indexing="ij")
    x = m_fb[0, 0] * xs + m_fb[0, 1] * ys + m_fb[0, 2]
    y = m_fb[1, 0] * xs + m_fb[1, 1] * ys + m_fb[1, 2]
    hb, wb = shape_b
    return float(((x >= -0.5) & (x <= wb - 0.5) & (y >= -0.5) & (y <= hb - 0.5)).mean())


# --------------------------------------------------------------------------------------
# warping
# --------------------------------------------------------------------------------------

_CV_LINEAR = (np.float32, np.float64)
_CV_NEAREST = (np.uint8, np.int8, np.uint16, np.int16, np.int32)


def _warp(arr: np.ndarray, inverse_map: np.ndarray, shape: tuple[int, ...],
          border: float) -> np.ndarray:
    """Resample ``arr`` into a frame of ``shape`` given the map destination -> source."""
    a = np.asarray(arr)
    h, w = int(shape[0]), int(shape[1])
    m = np.asarray(inverse_map, np.float64).reshape(2, 3)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got shape {a.shape}")
    if a.dtype == bool:
        return _warp(a.view(np.uint8), m, shape, 1 if border else 0).astype(bool)
    if np.issubdtype(a.dtype, np.floating) and a.dtype.type not in _CV_LINEAR:
        return _warp(a.astype(np.float32), m, shape, border).astype(a.dtype)  # float16
    if a.dtype.type not in _CV_LINEAR + _CV_NEAREST:
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"cannot warp arrays of dtype {a.dtype}")
        # other integers (int64, uint32 labels): warp the flat pixel index, then gather
        index = np.arange(a.shape[0] * a.shape[1], dtype=np.int32).reshape(a.shape[:2])
        src_index = _warp(index, m, shape, -1)
        inside = src_index >= 0
        flat = a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])
        out = np.full((h, w) + a.shape[2:], border, dtype=a.dtype)
        out[inside] = flat[src_index[inside]]
        return out
    if a.ndim == 3 and a.shape[2] > 4:
        return np.stack([_warp(a[..., c], m, shape, border) for c in range(a.shape[2])], axis=2)
    interp = cv2.INTER_LINEAR if a.dtype.type in _CV_LINEAR else cv2.INTER_NEAREST
    out = cv2.warpAffine(np.ascontiguousarray(a), m, (w, h), flags=interp | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(border,) * 4)
    if a.ndim == 3 and out.ndim == 2:  # single-channel 3-D input
        out = out[..., None]
    return out


def warp_to_followup(
    image_or_mask: np.ndarray,
    registration: Registration,
    followup_shape: tuple[int, ...],
    *,
    border: float = 0,
) -> np.ndarray:
    """Resample a baseline-frame array into the follow-up frame.

    Parameters
    ----------
    image_or_mask : (Hb, Wb) or (Hb, Wb, C) ndarray
        Image or mask in baseline pixel coordinates. Float arrays are interpolated
        bilinearly; bool and integer arrays (masks, labels) by nearest neighbour.
    registration : Registration
    followup_shape : tuple
        (H, W, ...) of the follow-up photo (only the first two are used).
    border : float
        Value outside the baseline frame (0: False for masks).

    Returns
    -------
    ndarray
        Same dtype, shape (Hf, Wf[, C]).
    """
    return _warp(image_or_mask, registration.followup_to_baseline, followup_shape, border)


def warp_to_baseline(
    image_or_mask: np.ndarray,
    registration: Registration,
    baseline_shape: tuple[int, ...],
    *,
    border: float = 0,
) -> np.ndarray:
    """Resample a follow-up-frame array into the baseline frame (see :func:`warp_to_followup`).

    Parameters
    ----------
    image_or_mask : (Hf, Wf) or (Hf, Wf, C) ndarray
    registration : Registration
    baseline_shape : tuple
        (H, W, ...) of the baseline photo.
    border : float
        Value outside the follow-up frame.

    Returns
    -------
    ndarray
        Same dtype, shape (Hb, Wb[, C]).
    """
    return _warp(image_or_mask, registration.baseline_to_followup, baseline_shape, border)


def overlap_mask(
    registration: Registration,
    baseline_shape: tuple[int, ...],
    followup_shape: tuple[int, ...],
) -> np.ndarray:
    """Follow-up pixels whose baseline position lies inside the baseline frame.

    Returns
    -------
    (Hf, Wf) bool ndarray
    """
    ones = np.ones(tuple(int(v) for v in baseline_shape[:2]), bool)
    return warp_to_followup(ones, registration, followup_shape)
