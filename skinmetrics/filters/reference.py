"""The skin's own local reference level, the contrast to it and robust spreads.

Every stage compares a pixel with *this person's own* surrounding unaffected skin rather than
with a fixed cut. :func:`local_reference` estimates that surrounding level by normalised
convolution (Knutsson & Westin 1993): a Gaussian-weighted mean over the pixels that are
known to be unaffected skin, computed at reduced resolution for speed.

References
----------
.. [1] Knutsson H., Westin C.-F. Normalized and differential convolution. Proc. IEEE CVPR
       1993:515-523.
.. [2] Rousseeuw P.J., Croux C. Alternatives to the median absolute deviation. J Am Stat
       Assoc 1993;88:1273-1283 (MAD x 1.4826 estimates a normal standard deviation).
.. [3] Liu C., Szeliski R., Kang S.B., Zitnick C.L., Freeman W.T. Automatic estimation and
       removal of noise from a single image. IEEE Trans Pattern Anal Mach Intell
       2008;30:299-314 (noise level function).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import cv2
import numpy as np

from .footprints import square


def local_reference(
    values: np.ndarray,
    weights: np.ndarray,
    sigma_px: float,
    fallback: float | None = None,
) -> np.ndarray:
    """Smooth local mean of ``values`` over the pixels where ``weights`` is true.

    Normalised convolution [1]: ``G*(v w) / G*w`` with a Gaussian of ``sigma_px``, evaluated
    on a grid subsampled to about sigma/4 and interpolated back, so a 12 MP image costs a
    few milliseconds. Where no weighted pixel lies within reach the median of the grid
    cells at least half covered by weighted pixels (their means, at most about 100 000 of
    them evenly sampled; or ``fallback``) is used. :class:`LocalReference` gives the same
    for several images over the same weights, their part computed once.

    Parameters
    ----------
    values : (H, W) float ndarray
    weights : (H, W) bool ndarray
        Pixels that represent the reference (e.g. unaffected skin).
    sigma_px : float
        Gaussian standard deviation in pixels.
    fallback : float, optional
        Value where the reference is undefined.

    Returns
    -------
    (H, W) float32 ndarray
    """
    return LocalReference(weights, sigma_px)(values, fallback)


class LocalReference:
    """:func:`local_reference` over fixed ``weights`` and ``sigma_px``, for any number of
    images: the weights' subsampled grid, their blur and where they reach are computed
    once.

    Parameters
    ----------
    weights : (H, W) bool ndarray
        Pixels that represent the reference (e.g. unaffected skin).
    sigma_px : float
        Gaussian standard deviation in pixels.

    Examples
    --------
    >>> surround = LocalReference(skin, 7.0)                         # doctest: +SKIP
    >>> redness, darkness = surround(ei), surround(density)          # doctest: +SKIP
    """

    def __init__(self, weights: np.ndarray, sigma_px: float):
        self.weights = weights
        self.sigma_px = sigma_px
        self.empty = not weights.any()
        if self.empty:
            return
        h, w = weights.shape
        self.factor = max(1, int(sigma_px / 4))
        self.grid = (max(1, w // self.factor), max(1, h // self.factor))
        wt = self._subsampled(weights.astype(np.float32))
        if self.factor == 1:  # the weights themselves: blurred in their own place
            den = self._blurred(wt, out=wt)
            wt = None
        else:
            den = self._blurred(wt)
        self.unreached = den <= 1e-3
        self.reaches_all = not self.unreached.any()
        if self.reaches_all:
            self.unreached = None  # not kept: nowhere to fill in
        self.den = np.maximum(den, 1e-6, out=den)  # in place: no second plane
        if not self.reaches_all:  # (a sample of) the grid cells at least half covered
            every = max(1, int(den.size // 100_000))
            if wt is None:  # the pixels themselves: covered are the weights, each weight 1
                self.covered = _every_nth(weights.ravel(), every)
                self.covered_weights = np.ones(self.covered.size, np.float32)
            else:
                self.covered = _every_nth(wt.ravel() >= 0.5, every)
                self.covered_weights = wt.flat[self.covered]

    def _subsampled(self, image: np.ndarray) -> np.ndarray:
        if self.factor == 1:
            return image
        return cv2.resize(image, self.grid, interpolation=cv2.INTER_AREA)

    def _blurred(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return cv2.GaussianBlur(image, (0, 0), self.sigma_px / self.factor, dst=out,
                                borderType=cv2.BORDER_REFLECT)

    def __call__(self, values: np.ndarray, fallback: float | None = None,
                 overwrite: bool = False) -> np.ndarray:
        """The local reference of ``values`` ((H, W) float ndarray; ``fallback`` as for
        :func:`local_reference`), (H, W) float32. With ``overwrite``, a C-contiguous
        float32 ``values`` is zeroed outside the weights in its place (a scratch array the
        caller does not read again) instead of in a copy."""
        h, w = values.shape
        if self.empty:
            return np.full((h, w), median(values) if fallback is None else fallback,
                           np.float32)
        if (overwrite and values.dtype == np.float32 and values.flags.c_contiguous
                and values.flags.writeable):
            np.copyto(values, np.float32(0), where=~self.weights)
            vw = self._subsampled(values)
        else:
            vw = self._subsampled(np.where(self.weights, values, np.float32(0)
                                           ).astype(np.float32, copy=False))
        if not self.reaches_all and fallback is None:  # the median of the covered cells' means
            fallback = float(median(vw.flat[self.covered] / self.covered_weights)
                             if self.covered.size else median(values[self.weights]))
        ref = self._blurred(vw, out=vw)  # in place: vw is not read again
        ref /= self.den  # in place: no second plane
        if not self.reaches_all:  # only then is the fallback (a median) needed
            ref[self.unreached] = fallback
        return ref if self.factor == 1 else cv2.resize(ref, (w, h),
                                                       interpolation=cv2.INTER_LINEAR)


def local_median(values: np.ndarray, weights: np.ndarray, sigma_px: float) -> np.ndarray:
    """Median of ``values`` over the ``weights`` pixels within about 2 ``sigma_px``.

    A robust local level for wide references: unlike the local mean, it stays at the level
    of the skin around a lesion that fills up to half of its reach. Each cell int(sigma/4)
    px wide at least half covered by ``weights`` takes the median of up to 8 x 8 of its
    pixels evenly spaced; each cell then the median of those cells' medians within a
    square 4 ``sigma_px`` wide around it (where there are none, of all of them),
    interpolated back to the pixels (:func:`from_cells`).

    Parameters
    ----------
    values : (H, W) float ndarray
    weights : (H, W) bool ndarray
    sigma_px : float

    Returns
    -------
    (H, W) float32 ndarray
    """
    factor = max(1, int(sigma_px / 4))
    step = max(1, factor // 8)
    each = factor // step  # samples per cell side
    rows, cols = max(1, values.shape[0] // factor), max(1, values.shape[1] // factor)
    sample = np.where(weights, values, np.nan)[:rows * factor:step, :cols * factor:step]
    cells = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells and windows
        if sample.shape == (rows * each, cols * each):  # else an image narrower than a cell
            by_cell = sample.reshape(rows, each, cols, each).transpose(0, 2, 1, 3).reshape(
                rows, cols, -1)
            cells = np.nanmedian(by_cell, axis=-1)
            cells[np.isnan(by_cell).mean(axis=-1) > 0.5] = np.nan
        if cells is None or np.isnan(cells).all():
            return np.full(values.shape, median(values[weights]) if weights.any() else 0.0,
                           np.float32)
        reach = max(1, round(2 * sigma_px / factor))
        windows = np.lib.stride_tricks.sliding_window_view(
            np.pad(cells, reach, constant_values=np.nan), (2 * reach + 1,) * 2)
        level = np.nanmedian(windows.reshape(rows, cols, -1), axis=-1)
    level[np.isnan(level)] = np.nanmedian(cells)
    return from_cells(level.astype(np.float32), values.shape, factor)


def from_cells(cells: np.ndarray, shape: tuple[int, int], factor: int) -> np.ndarray:
    """Values on the pixels of an (H, W) ``shape`` from those of its cells of ``factor`` x
    ``factor`` pixels (the last rows and columns, fewer than a cell, in none): bilinear
    between the cells' centres (OpenCV's ``INTER_LINEAR``), the nearest cell's value
    beyond the outer centres and on the rows and columns that no cell covers.

    Returns
    -------
    (H, W[, C]) ndarray of ``cells``' dtype
    """
    h, w = shape
    rows, cols = min(h, cells.shape[0] * factor), min(w, cells.shape[1] * factor)
    out = np.empty((h, w) + cells.shape[2:], cells.dtype)
    cv2.resize(cells, (cols, rows), dst=out[:rows, :cols], interpolation=cv2.INTER_LINEAR)
    out[:rows, cols:] = out[:rows, cols - 1:cols]
    out[rows:] = out[rows - 1:rows]
    return out


def _every_nth(flags: np.ndarray, n: int, chunk: int = 1 << 22) -> np.ndarray:
    """``np.flatnonzero(flags)[::n]`` found a chunk at a time: without the index of every
    true element (88 MB for a 12 MP plane)."""
    out, seen = [], 0
    for start in range(0, flags.size, chunk):
        found = np.flatnonzero(flags[start:start + chunk])
        out.append(found[(-seen) % n::n] + start)
        seen += found.size
    return np.concatenate(out) if out else np.zeros(0, np.intp)


def contrast_to_reference(
    values: np.ndarray,
    roi: np.ndarray,
    smooth_px: float,
    sigma_px: float,
    exclude_above: float | Sequence[float],
    valid: np.ndarray | None = None,
    iterations: int = 3,
    margin_px: float = 0.0,
    exclude_below: float | None = None,
    coarse_sigma_px: float = 0.0,
    exclude_spread: float = 0.0,
    spread: float = 0.0,
    return_levels: bool = False,
    wide_px: float = 0.0,
) -> np.ndarray | tuple[np.ndarray, tuple[float, ...]]:
    """``values`` minus the local level of the unaffected pixels of ``roi``.

    1. ``values`` are smoothed with a Gaussian of ``smooth_px`` over the ``valid`` pixels
       only (normalised convolution [1]): details left out of ``valid`` (crusts, pores)
       are filled in from the skin around them instead of being smeared into it;
    2. the reference (:func:`local_reference`) is estimated ``iterations`` times, each time
       leaving out the pixels whose contrast exceeds ``exclude_above`` and those within
       ``margin_px`` of them, so that a large lesion does not raise its own reference,
       nor does its soft skirt (the rim below ``exclude_above``); with ``exclude_below``
       also the pixels whose contrast is ``-exclude_below`` or less (skin lightened by a
       specular highlight's skirt would pull the reference down beside it);
    3. coarse to fine: with ``coarse_sigma_px``, step 2 is first run at that wider scale and
       the pixels it finds affected are left out of the first fine reference, so a lesion
       wider than ``sigma_px`` (a whole red cheek, a large nevus) is measured against the
       skin around it rather than against itself (drawn whole, not as a ring); the fine
       re-estimations then keep it out only while it still stands above that reference
       (a multi-scale background estimate, cf. Sternberg's rolling ball [4] at two radii).
       With ``wide_px``, the first coarse pass also leaves out the parts at least that
       wide (a disc's area) that stand the first level above the skin's local median
       (:func:`local_median`): a lesion that fills much of that pass's reach raises its
       mean by a part of its own excess, and might stand less than the level above it;
    4. with ``exclude_spread``, each pass also leaves out the pixels more than that many
       robust SDs of the skin's spread above its reference (an outlier test, where that is
       below ``exclude_above``): ``spread`` in the first pass, then the spread of the pass's
       own contrast (:func:`below_spread`), so that each scale is judged by the skin's
       variation at that scale (mottling wider than the fine reference is not an outlier
       of the coarse one) and a faint lesion wide enough to fill much of a reference's
       reach is still kept out of it. The levels each pass used can be returned and given
       to another photo of the same skin (a follow-up: the same rule at every visit).

    Parameters
    ----------
    values : (H, W) ndarray
        E.g. a haemoglobin or melanin density map.
    roi : (H, W) bool ndarray
    smooth_px : float
        Gaussian sigma of the smoothing (0: none).
    sigma_px : float
        Scale of the reference.
    exclude_above : float or sequence of float
        Contrast above which a pixel is not unaffected skin; a sequence gives each pass's
        level (as returned with ``return_levels``; ``exclude_spread`` then unused).
    valid : (H, W) bool ndarray, optional
        Pixels whose values are trusted (default: all).
    iterations : int
        Re-estimations of the reference.
    margin_px : float
        Half-side of the square window by which the excluded pixels are grown (0: none).
    exclude_below : float, optional
        Contrast deficit at or beyond which a pixel is not unaffected skin (None: none).
    coarse_sigma_px : float
        Scale of the coarse first pass (0: none; only when wider than ``sigma_px``).
    exclude_spread : float
        Robust SDs of the skin's spread above which a pixel is not unaffected (0: none).
    spread : float
        The skin's robust SD for the first pass (0: measured on that pass's contrast).
    return_levels : bool
        Also return the level each pass left out pixels above.
    wide_px : float
        Width (a disc's) from which a part standing out of the local median is left out of
        the first coarse pass (0: none).

    Returns
    -------
    contrast : (H, W) float32 ndarray
    levels : tuple of float
        Only with ``return_levels``.

    References
    ----------
    .. [4] Sternberg S.R. Biomedical image processing. Computer 1983;16(1):22-34.
    """
    v = np.ascontiguousarray(values, dtype=np.float32)
    if valid is not None:
        v = local_reference(v, valid, max(smooth_px, 1.0))
    elif smooth_px > 0:
        v = cv2.GaussianBlur(v, (0, 0), smooth_px)
    unaffected = trusted = roi if valid is None else roi & valid
    sigmas = [sigma_px] * iterations
    if coarse_sigma_px > sigma_px:
        sigmas = [coarse_sigma_px] * iterations + sigmas
    given = None if np.isscalar(exclude_above) else tuple(exclude_above)
    if given is not None and len(given) != len(sigmas) - 1:
        raise ValueError(f"{len(given)} reference levels given for {len(sigmas) - 1} passes")
    if coarse_sigma_px > sigma_px and wide_px > 0:
        # a wide lesion would raise its own first coarse reference (a mean) by a part of
        # its excess: that pass leaves out the wide parts standing above the local median
        # (which stays at the skin's level up to half the reach filled)
        first = exclude_above if given is None else given[0]
        above = unaffected & (v - local_median(v, unaffected, coarse_sigma_px) >= first)
        _, parts, stats, _ = cv2.connectedComponentsWithStats(above.view(np.uint8))
        wide = stats[:, cv2.CC_STAT_AREA] >= np.pi / 4 * wide_px**2
        wide[0] = False
        if wide.any():
            unaffected = unaffected & ~wide[parts]
    levels = []
    for i, sigma in enumerate(sigmas):
        contrast = local_reference(v, unaffected, sigma)
        np.subtract(v, contrast, out=contrast)  # in place: v minus its reference
        if i == len(sigmas) - 1:  # the last reference: no more pixels to leave out
            break
        if given is not None:
            level = given[i]
        else:
            level = float(exclude_above)
            if exclude_spread > 0:
                skin_spread = spread if i == 0 and spread > 0 else below_spread(contrast,
                                                                                 trusted)
                if skin_spread > 0:
                    level = min(level, exclude_spread * skin_spread)
        levels.append(level)
        affected = contrast >= level
        if exclude_below is not None:
            affected |= contrast <= -exclude_below
        affected = affected.view(np.uint8)
        if round(margin_px) >= 1:
            affected = cv2.dilate(affected, square(margin_px))
        unaffected = roi & (affected == 0) & (True if valid is None else valid)
        contrast = affected = None  # not held while the next reference is made
    return (contrast, tuple(levels)) if return_levels else contrast


def median(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``np.median(values, axis)``, the same value and type, by one partition of each row.

    NumPy partitions a float array at both middle elements and at its last (to find a
    NaN, which sorts last), three selections; here the array is partitioned at the upper
    middle element only: the lower one (an even count) is then the largest before it, and
    a NaN lies after it. About five times faster on ten million float32 values.

    Parameters
    ----------
    values : ndarray
    axis : int, optional
        As for ``np.median``; None: of all the values.

    Returns
    -------
    NumPy scalar or ndarray
        What ``np.median(values, axis)`` returns: the middle value, or the mean of the two
        middle values of an even count; NaN where a value is NaN.
    """
    if axis is not None:
        moved = np.moveaxis(np.asarray(values), axis, -1)
        return np.array([median(row) for row in moved.reshape(-1, moved.shape[-1])]
                        ).reshape(moved.shape[:-1])
    v = np.asarray(values).ravel()
    n = v.size
    if n < 3:
        return np.median(v)
    upper = n // 2
    part = np.partition(v, upper)
    if part.dtype.kind in "fc" and np.isnan(part[upper:].max()):
        return np.median(part[-1:])  # a NaN: NumPy's median is NaN too
    middle = part[upper:upper + 1] if n % 2 else np.array([part[:upper].max(), part[upper]])
    return np.median(middle)  # the mean of the two middle values, as NumPy takes it


def robust_spread(values: np.ndarray) -> float:
    """Robust standard deviation of ``values``: 1.4826 x their median absolute deviation
    from their median (Rousseeuw & Croux [2]); 0 for no values."""
    if values.size == 0:
        return 0.0
    return 1.4826 * float(median(np.abs(values - median(values))))


def below_spread(contrast: np.ndarray, where: np.ndarray) -> float:
    """Robust standard deviation of a contrast to a reference over ``where``, from its side
    below the reference, mirrored: lesions (above it), however many, do not widen it. The
    mirrored values' median is 0, so this is 1.4826 x the median depth below the reference
    (:func:`robust_spread` of the mirrored values); 0 where nothing lies below."""
    depth = -contrast[where & (contrast <= 0)]
    return 1.4826 * float(median(depth)) if depth.size else 0.0


def noise_level(values: np.ndarray, level: np.ndarray, weights: np.ndarray,
                at_level: np.ndarray, n_bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Typical value and noise of ``values`` as a function of a brightness ``level``.

    A noise level function [3]: the pixels of ``weights`` are put into ``n_bins`` bins of
    equal count by their ``level``; in each bin the median of ``values`` and its spread,
    1.4826 x the median absolute deviation (a standard deviation for normal noise,
    robust to the few lesion pixels left among them [2]), are taken, and both are
    interpolated linearly between the bins' median levels at ``at_level``. The noise of an
    optical density grows as the skin gets darker (sensor noise relative to a smaller
    signal), so it is estimated per brightness, from pixels of that brightness all over
    the photo (at most about 200 000, taken at a regular stride), rather than from a
    small neighbourhood. :class:`NoiseLevel` gives the same for several images over the
    same ``level`` and ``weights``, their bins made once.

    Parameters
    ----------
    values : (H, W) ndarray
        E.g. a top-hat.
    level : (H, W) ndarray
        Brightness that the noise depends on, e.g. the local luminance density.
    weights : (H, W) bool ndarray
        Pixels that show only noise (skin without objects).
    at_level : ndarray
        Levels at which the function is wanted (e.g. ``level`` at a few peaks, or all of it).
    n_bins : int

    Returns
    -------
    typical, noise : float32 ndarray, the shape of ``at_level``
        Zero everywhere when ``weights`` holds fewer than two pixels per bin.
    """
    return NoiseLevel(level, weights, n_bins)(values, at_level)


class NoiseLevel:
    """:func:`noise_level` over a fixed ``level`` and ``weights``, for any number of
    ``values`` (e.g. a blob response at each scale): the pixels sampled, their order by
    brightness and the bins' median levels are found once.

    Parameters
    ----------
    level : (H, W) ndarray
        Brightness that the noise depends on.
    weights : (H, W) bool ndarray
        Pixels that show only noise.
    n_bins : int
    """

    def __init__(self, level: np.ndarray, weights: np.ndarray, n_bins: int = 12):
        self.weights = weights
        self.stride = max(1, int(np.count_nonzero(weights)) // 200_000)
        x = np.asarray(level, dtype=np.float32)[weights][::self.stride]
        self.enough = x.size >= 2 * n_bins
        if self.enough:
            self.bins = np.array_split(np.argsort(x, kind="stable"), n_bins)
            self.centre = np.array([median(x[b]) for b in self.bins])

    def __call__(self, values: np.ndarray, at_level: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Typical value and noise of ``values`` ((H, W) ndarray) at ``at_level``, as
        :func:`noise_level` returns them."""
        at = np.asarray(at_level, dtype=np.float32)
        if not self.enough:
            return np.zeros(at.shape, np.float32), np.zeros(at.shape, np.float32)
        v = np.asarray(values, dtype=np.float32)[self.weights][::self.stride]
        typical = np.array([median(v[b]) for b in self.bins])
        noise = 1.4826 * np.array([median(np.abs(v[b] - t))
                                   for b, t in zip(self.bins, typical, strict=True)])
        return (np.interp(at, self.centre, typical).astype(np.float32),
                np.interp(at, self.centre, noise).astype(np.float32))
