"""Small dark blobs by the scale-normalised Laplacian of Gaussian, found by how far they
stand out of the photo's own texture and noise.

References
----------
.. [1] Rousseeuw P.J., Croux C. Alternatives to the median absolute deviation. J Am Stat
       Assoc 1993;88:1273-1283 (MAD x 1.4826 estimates a normal standard deviation).
.. [2] Liu C., Szeliski R., Kang S.B., Zitnick C.L., Freeman W.T. Automatic estimation and
       removal of noise from a single image. IEEE Trans Pattern Anal Mach Intell
       2008;30:299-314 (noise level function).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import cv2
import numpy as np
from scipy import ndimage as ndi

from .morphology import keep_seeded
from .reference import LocalReference, NoiseLevel, local_reference, robust_spread
from .segmentation import _cut_at_fraction, flood_from_markers, label_peaks


def gaussian_laplace(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Laplacian of Gaussian of ``image`` (float32), mirrored at the borders.

    The same kernels as ``scipy.ndimage.gaussian_laplace(image, sigma_px, mode="mirror")``
    (second derivative of a Gaussian truncated at 4 sigma along one axis, the Gaussian
    along the other, summed), applied by OpenCV's separable filter: equal to float32
    rounding and about four times faster.
    """
    radius = int(4.0 * sigma_px + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    gauss = np.exp(-0.5 * (x / sigma_px) ** 2)
    gauss /= gauss.sum()
    second = (gauss * (x * x / sigma_px ** 4 - 1.0 / sigma_px ** 2)).astype(np.float32)
    gauss = gauss.astype(np.float32)
    img = np.asarray(image, dtype=np.float32)
    along_x = cv2.sepFilter2D(img, cv2.CV_32F, second, gauss, borderType=cv2.BORDER_REFLECT_101)
    along_x += cv2.sepFilter2D(img, cv2.CV_32F, gauss, second,
                               borderType=cv2.BORDER_REFLECT_101)
    return along_x


def blob_responses(density: np.ndarray, roi: np.ndarray, sigmas_px: list[float]
                   ) -> list[np.ndarray]:
    """The scale-normalised Laplacian of Gaussian, -sigma^2 LoG (Lindeberg [3]), of
    ``density`` at each of ``sigmas_px``: positive on dark blobs (a disk of radius r answers
    most at sigma = r / sqrt 2). Outside ``roi`` the density is replaced by the local level
    of the ``roi`` around it, so the edge of the region makes no blobs. All at once;
    :func:`iter_blob_responses` makes them one at a time."""
    return list(iter_blob_responses(density, roi, sigmas_px))


def iter_blob_responses(density: np.ndarray, roi: np.ndarray, sigmas_px: list[float]
                        ) -> Iterator[np.ndarray]:
    """:func:`blob_responses`, each scale's made when it is read: one held at a time
    (:func:`blob_objects` reads them once, in order)."""
    d = np.asarray(density, dtype=np.float32)
    d = np.where(roi, d, local_reference(d, roi, max(sigmas_px)))
    for s in sigmas_px:
        response = gaussian_laplace(d, s)
        response *= -(s * s)
        yield response
        del response  # not held while the next scale's is made


def blob_objects(responses: Iterable[np.ndarray], roi: np.ndarray, sigmas_px: list[float],
                 window_px: float, min_z: float, level_floor: float = 0.0,
                 fraction: float = 0.5, texture: np.ndarray | None = None,
                 level_spread: float = 0.0, brightness: np.ndarray | None = None
                 ) -> np.ndarray:
    """Small dark blobs of an optical density image, found by how far they stand out of
    the photo's own texture and noise, and outlined at a fraction of their peak.

    1. response: :func:`blob_responses` at each of ``sigmas_px``, the largest over the
       scales kept per pixel;
    2. standing out: each scale's response is divided by the skin's mean absolute response
       around it (:func:`local_reference` over ``roi``, Gaussian of ``window_px``): the
       level of the skin's texture and sensor noise there, so that a threshold ``min_z``
       adapts to the photo (its noise, its skin, the forehead and the cheek each to their
       own) instead of a fixed optical density; the level is taken as at least
       ``level_floor``, so that on smooth skin, whose level is its faint sensor noise, a
       blob must still be ``min_z x level_floor`` dark, and as at least ``level_spread``
       times the robust standard deviation of that scale's response over the skin (the
       photo's own noise and texture, which the few blobs do not move; 1.4826 x the
       median absolute deviation, Rousseeuw & Croux [1]), so that a patch smoother than
       the rest of the photo does not lower the threshold below the photo's noise (the
       local mean absolute response of pure normal noise is 0.8 of its standard
       deviation); with ``brightness`` that spread is taken per brightness of the skin
       around (:func:`noise_level`, a noise level function [2]: the noise of an optical
       density grows where the skin is darker or in shade);
       ``texture`` may leave out of the level objects that are not the skin's texture (a
       field of crusts);
    3. blobs: every local maximum of that ratio inside ``roi`` above ``min_z`` (at least
       2 sigma from a higher one) grows by watershed over the ratio while it stays above
       ``fraction`` of its peak; the part that holds the peak is the blob.

    Parameters
    ----------
    responses : iterable of (H, W) float32 ndarray
        :func:`blob_responses` of an optical density (darker = higher), e.g.
        ``ColourPlanes.luminance_density``, at ``sigmas_px`` (read once, in order:
        :func:`iter_blob_responses` holds one at a time).
    roi : (H, W) bool ndarray
    sigmas_px : list of float
        Scales of the Laplacian of Gaussian, pixels.
    window_px : float
        Scale (Gaussian sigma) of the skin's texture level, pixels.
    min_z : float
        Least peak response, in units of that level.
    level_floor : float
        Least texture level (OD).
    fraction : float
        Edge level as a fraction of each blob's peak ratio.
    texture : (H, W) bool ndarray, optional
        The skin whose response gives the level (default ``roi``).
    level_spread : float
        Least texture level, in robust standard deviations of each scale's response over
        ``texture`` (0: none).
    brightness : (H, W) ndarray, optional
        What that spread depends on, e.g. the luminance density: its local mean over
        ``texture`` (Gaussian of ``window_px``) bins the spread; without it the spread is
        one for the whole ``texture``.

    Returns
    -------
    (H, W) int32 ndarray
        Labels 1..N, 0 elsewhere.

    References
    ----------
    .. [3] Lindeberg T. Feature detection with automatic scale selection. Int J Comput
           Vision 1998;30:79-116.
    """
    ratio = np.full(roi.shape, -np.inf, np.float32)
    skin = roi if texture is None else texture
    level_of = LocalReference(skin, window_px)
    # the spread from a regular sample of the skin (at most about a million pixels)
    step = max(1, int(math.sqrt(np.count_nonzero(skin) / 1e6)))
    sample = skin[::step, ::step]
    around = (None if brightness is None or not level_spread or not sample.any()
              else level_of(brightness))
    if around is not None:  # brightnesses at which the spread is taken, then interpolated
        grid = np.linspace(*np.percentile(around[::step, ::step][sample], [0, 100]), 33)
        spread_of = NoiseLevel(around[::step, ::step], sample)  # its bins made once
        # the brightness around is smooth over window_px: read on a coarser grid, the
        # whole plane not held through the scales
        k = max(1, int(window_px / 4))
        around = around[::k, ::k].copy()
    floor = max(level_floor, 1e-6)
    for response in responses:
        level = level_of(np.abs(response), overwrite=True)  # no second plane
        if around is None:
            least = max(level_spread * robust_spread(response[::step, ::step][sample]), floor)
        else:  # interpolated on the coarser grid of the brightness around
            spread = spread_of(response[::step, ::step], grid)[1]
            least = cv2.resize(np.interp(around, grid, spread).astype(np.float32),
                               roi.shape[::-1], interpolation=cv2.INTER_LINEAR)
            least *= np.float32(level_spread)  # in place: no plane-sized temporaries
            np.maximum(least, floor, out=least)
        np.maximum(level, least, out=level)
        np.maximum(ratio, np.divide(response, level, out=level), out=ratio)
        del response, level, least  # not held while the next scale's response is made
    del around
    apart = max(1, int(round(2 * min(sigmas_px))))
    # the largest ratio within the square of side 2 apart + 1: a dilation, equal to scipy's
    # maximum_filter (whose mirrored border adds no value the square does not hold) on
    # every finite ratio
    nearby = cv2.dilate(ratio, np.ones((2 * apart + 1, 2 * apart + 1), np.uint8))
    peaks = (ratio >= min_z) & roi & (ratio == nearby)
    del nearby
    if not peaks.any():
        return np.zeros(roi.shape, np.int32)
    # each part above the edge level that holds a peak, flooded from its peaks where two
    # meet (:func:`flood_from_markers`, over the ratio negated in its place and back)
    support = keep_seeded(roi & (ratio > fraction * min_z), peaks)
    markers = ndi.label(peaks, structure=np.ones((3, 3)))[0]
    regions = flood_from_markers(np.negative(ratio, out=ratio), markers, support)
    np.negative(ratio, out=ratio)
    n = int(markers.max())
    del support, markers  # each plane is freed once used
    labelled = np.flatnonzero(regions)  # the regions' pixels, found once
    peak, _ = label_peaks(ratio, regions, n, labelled)
    cut = _cut_at_fraction(ratio, regions, peak, fraction, labelled)
    del ratio, regions, labelled
    cut *= keep_seeded(cut > 0, peaks)  # in place: only the parts holding a peak keep a label
    return cut
