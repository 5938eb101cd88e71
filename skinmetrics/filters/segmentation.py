"""Objects from a contrast or density image: outlines at a local half maximum, touching
objects split at their waist, small dark objects grown by watershed from their peaks.

References
----------
.. [1] Beucher S., Meyer F. The morphological approach to segmentation: the watershed
       transformation. In: Mathematical Morphology in Image Processing, 1993:433-481.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed

from .footprints import square
from .morphology import (
    _on_frame,
    black_tophat_od,
    connected_parts,
    distance_to_background,
    h_maxima,
    keep_seeded,
)
from .reference import local_reference, noise_level


def local_half_maximum(contrast: np.ndarray, mask: np.ndarray, radius_px: float,
                       fraction: float = 0.5, ceiling: float = np.inf,
                       peak_sigma_px: float = 0) -> np.ndarray:
    """Keep the pixels of ``mask`` whose contrast is at least ``fraction`` of the largest
    contrast of the mask within ``radius_px`` (a local full width at half maximum; the
    window is a square of half-side ``radius_px``).

    A lesion with a soft edge is then outlined where its own contrast has fallen to half,
    whatever its strength: a fixed threshold would draw a strong lesion too large and a
    faint one too small. Neighbouring lesions farther apart than ``radius_px`` do not
    affect each other's edge. A pixel whose contrast is at least ``ceiling`` is always
    kept: a faint lesion overlapping a strong one is not cut at the strong one's half
    maximum. With ``peak_sigma_px`` the peak is taken on the contrast smoothed by a
    Gaussian of that sigma: the largest value of a noisy map rises with its noise, so a
    noisier (e.g. under-exposed) photo of the same lesion would be outlined tighter.
    """
    level = contrast.astype(np.float32)
    if peak_sigma_px > 0:
        level = cv2.GaussianBlur(level, (0, 0), peak_sigma_px)
    peak = cv2.dilate(np.where(mask, level, 0), square(max(1, round(radius_px))))
    return mask & (contrast >= np.minimum(fraction * peak, ceiling))


def split_touching(mask: np.ndarray, depth_px: float) -> np.ndarray:
    """Split touching round objects at their waist (Beucher & Meyer [1]).

    Markers are the regional maxima of the Euclidean distance transform that stand at
    least ``depth_px`` above the saddle joining them: two discs of radius r whose centres
    are 0.9 x 2r apart have a waist 0.56 r shallower than their centres and are split; one
    disc has a single maximum and is left whole. An object narrower than ``2 depth_px``
    everywhere has no such maximum and is left out (label 0).

    Each object (8-connected part of ``mask``) is split on its own (:func:`_part_by_part`;
    the nearest background pixel of any of its pixels is one next to it), those cut by the
    image's frame each in its own bounding box (the frame is not background: the object
    goes on beyond it).

    Returns
    -------
    (H, W) int32 ndarray
        Labels 1..N.
    """
    def split(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist = distance_to_background(part)
        markers = ndi.label(h_maxima(dist, depth_px, part), structure=np.ones((3, 3)))[0]
        return markers, flood_from_markers(-dist, markers, part)

    return _part_by_part(mask, (), split, frame_cut=True)[1]


def flood_from_markers(image: np.ndarray, markers: np.ndarray, mask: np.ndarray
                       ) -> np.ndarray:
    """``skimage.segmentation.watershed(image, markers, mask=mask)`` (4-connected flooding
    from labelled ``markers`` within ``mask``), with the flooding done only where it can
    matter.

    A 4-connected part of ``mask`` that holds one marker's pixels is all that marker's (the
    flood reaches every pixel of it and no other marker can), one that holds none stays 0;
    only the parts that hold two or more markers are flooded, as by the watershed on the
    whole mask, packed side by side into a small image (the watershed's own arrays for a
    whole image are about 30 bytes a pixel). The labels are the watershed's but for
    pixels whose values tie between two markers' floods: the watershed takes its markers'
    pixels at one age, so which of two equal values it takes first depends on the rest of
    its queue.

    Parameters
    ----------
    image : (H, W) ndarray
        Flooded from its low values up (e.g. minus a contrast).
    markers : (H, W) int ndarray
        Labels 1..M of the markers, 0 elsewhere; only those in ``mask`` are used.
    mask : (H, W) bool ndarray

    Returns
    -------
    (H, W) int32 ndarray
        Each pixel of ``mask`` that a marker's flood reaches holds its label; 0 elsewhere.
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    n_parts, parts = cv2.connectedComponents(mask.view(np.uint8), connectivity=4,
                                             ltype=cv2.CV_32S)
    at = np.flatnonzero(markers)
    at = at[mask.ravel()[at]]
    part, label = parts.ravel()[at], markers.ravel()[at].astype(np.int64)
    lowest = np.full(n_parts, np.iinfo(np.int64).max, np.int64)
    highest = np.zeros(n_parts, np.int64)
    np.minimum.at(lowest, part, label)
    np.maximum.at(highest, part, label)
    single = lowest == highest
    single[0] = False
    out = np.where(single, lowest, 0).astype(np.int32)[parts]
    several = highest > lowest
    several[0] = False
    if several.any():  # these parts are flooded, packed side by side (:func:`_packed`)
        ys, xs = np.nonzero(several[parts])
        at = _packed(ys, xs, parts[ys, xs], n_parts - 1)
        shape = (at[0].max() + 2, at[1].max() + 2)
        packed = [np.zeros(shape, a.dtype) for a in (image, markers, mask)]
        for a, b in zip(packed, (image, markers, mask), strict=True):
            a[at] = b[ys, xs]
        out[ys, xs] = watershed(*packed[:2], mask=packed[2])[at]
    return out


def _part_by_part(mask: np.ndarray, images: tuple[np.ndarray, ...], split, frame_cut: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Markers and watershed labels of ``split(mask, *images)`` computed for each
    8-connected part of ``mask`` on its own, with only its pixels' worth of work.

    The parts are packed side by side, a pixel of background apart, into a small image
    (:func:`_packed`; each of ``images`` outside them at its own minimum); with
    ``frame_cut`` (a split of the mask alone, no ``images``) those the image's frame cuts
    are each split in their own bounding box, the frame kept where it cuts them. ``split``
    must give each part what it gives it in the whole image (its values depend only on the
    part's own pixels, as grey reconstructions and watersheds confined to ``mask`` do): so
    they are, but for pixels as near to two markers (which of the two takes them depends
    on the order of the watershed's queue), and the markers are numbered as the whole
    image's labelling numbers them (by their first pixel).

    Parameters
    ----------
    mask : (H, W) bool ndarray
    images : tuple of (H, W) ndarray
        Handed to ``split`` with the parts, packed as they are (none with ``frame_cut``).
    split : callable
        ``split(mask, *images)`` -> (markers, labels), (h, w) int ndarrays: labelled
        markers 1..M and the labels of the watershed from them (0 where none reaches).
    frame_cut : bool
        Whether the frame is to be kept where it cuts a part (e.g. for distances to the
        background).

    Returns
    -------
    markers, labels : (H, W) int32 ndarray
    """
    if frame_cut and images:
        raise ValueError("the frame is kept only for a split of the mask alone")
    objects, n = connected_parts(mask)
    if n == 0:
        return np.zeros(mask.shape, np.int32), np.zeros(mask.shape, np.int32)
    cut = np.zeros(n + 1, bool)
    if frame_cut:
        cut[_on_frame(objects)] = True
    cut[0] = False
    ys, xs = np.nonzero(objects)
    which = objects[ys, xs]
    inner = ~cut[which]
    done = []  # (rows, cols, marker of each pixel, label of each pixel) in the image
    if inner.any():
        ys_in, xs_in = ys[inner], xs[inner]
        at = _packed(ys_in, xs_in, which[inner], n)
        shape = (at[0].max() + 2, at[1].max() + 2)
        packed = np.zeros(shape, bool)
        packed[at] = True
        values = []
        for image in images:
            values.append(np.full(shape, image.min(), image.dtype))
            values[-1][at] = image[ys_in, xs_in]
        markers, labels = split(packed, *values)
        done.append((ys_in, xs_in, markers[at], labels[at]))
    for k in np.flatnonzero(cut):
        its_rows = ys[which == k]
        rows = slice(max(its_rows.min() - 1, 0), its_rows.max() + 2)
        part = objects[rows] == k
        cols = np.flatnonzero(part.any(axis=0))
        cols = slice(max(cols[0] - 1, 0), cols[-1] + 2)
        markers, labels = split(np.ascontiguousarray(part[:, cols]))
        py, px = np.nonzero(labels)  # the markers' pixels among them
        done.append((py + rows.start, px + cols.start, markers[py, px], labels[py, px]))
    del objects  # not held with the two label images made below
    # one numbering for all the markers: by their first pixel in the image
    first, offsets = [], [0]
    for rows, cols, markers, _ in done:
        m = int(markers.max(initial=0))
        start = np.full(m + 1, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(start, markers, rows.astype(np.int64) * mask.shape[1] + cols)
        first.append(start[1:])
        offsets.append(offsets[-1] + m)
    number = np.zeros(offsets[-1] + 1, np.int32)
    markers_out = np.zeros(mask.shape, np.int32)  # made after the splits: less memory at once
    labels_out = np.zeros(mask.shape, np.int32)
    number[1 + np.argsort(np.concatenate(first), kind="stable")] = np.arange(
        1, offsets[-1] + 1, dtype=np.int32)
    for (rows, cols, markers, labels), offset in zip(done, offsets, strict=False):
        shift = np.int32(offset)
        markers_out[rows, cols] = number[np.where(markers > 0, markers + shift, 0)]
        labels_out[rows, cols] = number[np.where(labels > 0, labels + shift, 0)]
    return markers_out, labels_out


def _packed(ys: np.ndarray, xs: np.ndarray, labels: np.ndarray, n: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Where the pixels (``ys``, ``xs``) of objects ``labels`` (of 1..n) go when the
    objects' bounding boxes are packed in rows (shelves) into an image about as wide as it
    is tall, each a pixel of background from the next and from the image's edge.

    Returns
    -------
    rows, cols : int64 ndarray
        The pixels' places in the packed image.
    """
    top = np.full(n + 1, np.iinfo(np.int64).max, np.int64)
    left = top.copy()
    bottom = np.full(n + 1, -1, np.int64)
    right = bottom.copy()
    np.minimum.at(top, labels, ys)
    np.minimum.at(left, labels, xs)
    np.maximum.at(bottom, labels, ys)
    np.maximum.at(right, labels, xs)
    present = np.flatnonzero(bottom >= 0)
    heights, widths = bottom[present] - top[present] + 2, right[present] - left[present] + 2
    side = max(int(np.sqrt(float(np.sum(heights * widths)))), int(widths.max()))
    row0, col0 = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    y = x = shelf = 0
    for k, height, width in zip(present, heights.tolist(), widths.tolist(), strict=True):
        if x + width > side:
            y, x, shelf = y + shelf, 0, 0
        row0[k], col0[k] = y + 1, x + 1
        x += width
        shelf = max(shelf, height)
    return ys - top[labels] + row0[labels], xs - left[labels] + col0[labels]


def label_peaks(values: np.ndarray, labels: np.ndarray, n: int,
                at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Largest value of each label 1..n and the flat index of a pixel holding it.

    Works on the labelled pixels only (unbuffered maxima per label, no sort), which for
    small objects is far faster than ``scipy.ndimage.maximum_position`` over the whole
    image. Of several pixels holding a label's peak, the last in the image's order is
    given. ``values`` are finite. ``at``: the labelled pixels' flat indices
    (``np.flatnonzero(labels)``) when the caller has them, not searched for again.

    Returns
    -------
    peak : (n + 1,) float32 ndarray
        ``peak[k]`` for label k (0 for label 0 and for labels without pixels).
    where : (n + 1,) int64 ndarray
        Flat index into the image of each label's peak (-1 where it has no pixels).
    """
    flat = np.flatnonzero(labels) if at is None else at
    lab = labels.ravel()[flat]
    val = np.asarray(values, dtype=np.float32).ravel()[flat]
    peak = np.full(n + 1, -np.inf, np.float32)
    np.maximum.at(peak, lab, val)
    top = val == peak[lab]  # the pixels holding their label's peak
    where = np.full(n + 1, -1, np.int64)
    np.maximum.at(where, lab[top], flat[top])
    peak[where < 0] = 0
    return peak, where


def _cut_at_fraction(values: np.ndarray, regions: np.ndarray, peak: np.ndarray,
                     fraction: float, at: np.ndarray | None = None) -> np.ndarray:
    """``regions`` where ``values`` are at least ``fraction`` of their region's ``peak``
    (0 elsewhere), computed on the labelled pixels only (``at``, their flat indices, as
    for :func:`label_peaks`)."""
    flat = np.flatnonzero(regions) if at is None else at
    lab = regions.ravel()[flat]
    inside = values.ravel()[flat] >= fraction * peak[lab]
    cut = np.zeros_like(regions)
    cut.ravel()[flat[inside]] = lab[inside]
    return cut


def dark_objects(density: np.ndarray, roi: np.ndarray, radius_px: float, low: float,
                 high: float, fraction: float = 0.5, prominence: float | None = None,
                 min_snr: float = 0.0) -> np.ndarray:
    """Small dark objects in an optical density image, outlined at their half maximum.

    1. contrast: the black top-hat of the image (:func:`black_tophat_od`) with a disk of
       ``radius_px``, highlights outside ``roi`` taken at the skin's level: lesions wider
       than the disk (pigmented spots) and shading vanish;
    2. objects: every peak above ``high`` that stands at least ``prominence`` (default
       ``high - low``) above the saddle to its neighbours grows by watershed (Beucher &
       Meyer [1]) over the contrast down to ``low`` (hysteresis that keeps neighbours
       apart, so a pore beside a crust stays a pore);
    3. noise: a peak must also stand ``min_snr`` noise standard deviations above the
       typical top-hat of skin of its brightness (:func:`noise_level` over the skin outside
       the objects, by the local density): on dark skin, in a dark spot or in an
       under-exposed photo the top-hat of sensor noise alone reaches ``high``, and such
       peaks are not objects;
    4. each object is then cut at ``fraction`` of its own peak contrast (0.5: the full width
       at half maximum), which outlines a blurred object where its true edge is, whatever
       its contrast, instead of where a fixed threshold happens to cross its blur; of the
       cut, the connected part (8-connectivity) that holds the peak is the object: pixels
       of its watershed region that the cut leaves apart from it are noise around it, not
       more objects.

    Parameters
    ----------
    density : (H, W) ndarray
        Optical density (darker = higher), e.g. ``ColourPlanes.luminance_density``.
    roi : (H, W) bool ndarray
    radius_px : float
        Top-hat disk radius: objects wider than its diameter are not found.
    low, high : float
        Hysteresis thresholds on the contrast (OD units).
    fraction : float
        Edge level as a fraction of each object's peak.
    prominence : float, optional
        Height of a peak above the saddle to its neighbour for it to be an object.
    min_snr : float
        Height of a peak above the typical top-hat of the skin, in noise standard
        deviations (0: no noise test).

    Returns
    -------
    (H, W) int32 ndarray
        Labels 1..N, 0 elsewhere (a label may be missing where its object was cut away).
    """
    th = black_tophat_od(density, radius_px, roi)
    h = high - low if prominence is None else prominence

    def grow(support: np.ndarray, contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        peaks = h_maxima(contrast, h, support) & (contrast > high)
        markers = ndi.label(peaks, structure=np.ones((3, 3)))[0]
        return markers, flood_from_markers(-contrast, markers, support)

    # each part above low on its own (:func:`_part_by_part`): only those pixels' work
    markers, regions = _part_by_part(roi & (th > low), (th,), grow, frame_cut=False)
    n = int(markers.max())
    if n == 0:
        return markers
    peaks = markers > 0
    del markers  # each plane is freed once used
    labelled = np.flatnonzero(regions)  # the regions' pixels, found once
    peak, at = label_peaks(th, regions, n, labelled)
    keep = at >= 0
    if min_snr > 0:
        skin = roi & (cv2.dilate((regions > 0).view(np.uint8), np.ones((3, 3), np.uint8)) == 0)
        level = local_reference(density, skin, radius_px)
        typical, noise = noise_level(th, level, skin, level.ravel()[at[keep]])
        del skin, level
        keep[keep] = peak[keep] >= typical + min_snr * noise
    keep[0] = False
    cut = keep[_cut_at_fraction(th, regions, peak, fraction, labelled)]
    del th, labelled
    regions *= keep_seeded(cut, peaks)  # in place: only the regions whose part holds the peak
    return regions
