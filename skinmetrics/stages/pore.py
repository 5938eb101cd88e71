"""Pores: small, dark, round openings of the skin surface.

A pore is a small depression that is seen as a shadow: darker than the skin around it but
not redder or browner. Method:

1. small dark blobs: the scale-normalised Laplacian of Gaussian (Lindeberg [1]) of the
   luminance density -log10 Y (an exposure change only adds a constant to it), at scales
   from ``blob_min_mm`` to ``blob_max_mm`` across (steps of sqrt 2), divided by the skin's
   own mean absolute response within about ``window_mm`` (its texture and sensor noise
   there, taken as at least ``level_floor``, the faint noise of smooth skin, and as at
   least ``level_spread`` robust standard deviations of the response over the skin of the
   same brightness, the photo's own noise there, so that a smooth patch or noise on dark
   skin, whose mean absolute response is below its spread, does not lower the threshold):
   a pore stands at least ``min_z`` times above that level, so the threshold adapts to the
   photo, its skin and each part of the face rather than being a fixed contrast;
   each blob is outlined where that ratio falls to ``edge_fraction`` of its peak
   (:func:`skinmetrics.filters.blob_objects`);
2. a pore is a shadow, which keeps the skin's colour and takes only part of its light:
   blobs whose mean erythema index EI = 100 log10(R/G) (Diffey et al. [2]) exceeds that
   of the skin around them by ``max_redness`` (red-brown: crusts, papules) or whose mean
   luminance density does by ``max_darkness`` (brown to black: crusts, comedones), or
   that lie on a laser's grid (crusts), are not pores
   (:func:`skinmetrics.stages.base.crust_like`); they are not the skin's
   texture either, so the blobs are found again with them left out of its level (a field
   of laser crusts would otherwise raise it and hide the pores between them); on a photo
   finer than ``crust_search_px_per_mm`` the first search, which only finds what to leave
   out, runs on a copy resampled to that scale;
3. a blob that touches the blurred fringe of a hair is a bead of the hair, not a pore;
4. blobs outside ``min_diameter_mm``..``max_diameter_mm`` (equivalent diameter) or less
   round than ``min_roundness`` (minor/major axis ratio) are dropped.

Judged on a real face with expert pore labels (PoreNet; docs/validation.md).

Size limits are in mm; without a known scale the pipeline's ``assumed_px_per_mm`` turns
them into pixels and mm metrics stay empty.

Metrics: ``pore_count``, ``pore_density_per_cm2`` (pores per cm^2 of the skin region; None
without scale), ``pore_area_px``, ``pore_area_pct`` (% of roi), ``pore_mean_diameter_mm``.
A pore touching a hair is not counted, so with hair each pore is counted over the skin
where one of its size would lie whole off the hair, the minus-sampling edge correction of
Miles [3]_ and Lantuejoul [4]_ (:func:`skinmetrics.stages.base.counting_windows_px`): the
density and area share then estimate those of the skin as if it had no hair.

References
----------
.. [1] Lindeberg T. Feature detection with automatic scale selection. Int J Comput Vision
       1998;30:79-116.
.. [2] Diffey B.L., Oliver R.J., Farr P.M. Br J Dermatol 1984;111:663-672.
.. [3] Miles R.E. The sampling, by quadrats, of planar aggregates. J Microsc
       1978;113:257-267.
.. [4] Lantuejoul C. On the estimation of mean values in individual analysis of particles.
       Microscopica Acta 1980;5:266-273.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import cv2
import numpy as np
from scipy import ndimage as ndi

from ..colour import ColourPlanes
from ..filters import blob_objects, disk, iter_blob_responses
from ..methods import Layer, MetricDefinition, area_definitions
from .base import (
    GRID_PARAMS,
    Param,
    Scale,
    StageResult,
    beside_hair,
    coarser_copy,
    crust_like,
    keep_by_size_and_shape,
    object_metrics,
    summarise_objects,
    untouched,
)

__all__ = [
    "LAYER", "PARAMS", "blob_sigmas_px", "pore_labels", "pore_metrics", "detect", "summarise"
]

#: What this stage measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "pore", "Pores",
    "Small dark blobs of the luminance density -log10 Y: the scale-normalised Laplacian "
    "of Gaussian over the pipeline's range of pore sizes, divided by the skin's own "
    "mean absolute response around it (its texture and noise); blobs that are crust "
    "material rather than a shadow (red-brown or brown-black against the skin around "
    "them, or on the laser's grid) or touch a hair are not pores; kept within the "
    "pipeline's diameter and roundness limits.",
    ("Lindeberg 1998", "Diffey 1984"),
    (MetricDefinition("pore_count", "Pores (count)",
                      "count", "Number of pores", "number of labelled pores"),
     MetricDefinition("pore_density_per_cm2", "Pores per cm\u00b2",
                      "1/cm2", "Pores per cm^2 of the skin region; with hair, each pore counted "
                      "over the skin where one of its size lies whole off the hair (not "
                      "counted where it touches one)",
                      "pore_count / (roi_area_mm2 / 100); with hair, sum over pores of "
                      "1 / (cm^2 of the roi farther than r + 0.5 px from hair fringe), "
                      "r = sqrt(area_px / pi)", ("Miles 1978", "Lantuejoul 1980")),
     *area_definitions("pore", "pores", ("px", "pct"), share=(
         "Share of the skin region covered by pores; with hair, each pore weighted as in "
         "pore_density_per_cm2",
         "100 * pore_area_px / roi_area_px; with hair, 100 * sum over pores of area_px / "
         "(px of the roi farther than r + 0.5 px from hair fringe)")),
     MetricDefinition("pore_mean_diameter_mm", "Pore diameter, mean (mm)", "mm",
                      "Mean equivalent-circle diameter of the pores",
                      "mean of sqrt(4 * area_px / pi) / px_per_mm")),
    citations={
        "Lindeberg 1998": "Lindeberg T. Feature detection with automatic scale selection. "
                          "Int J Comput Vision 1998;30:79-116.",
        "Miles 1978": "Miles R.E. The sampling, by quadrats, of planar aggregates. J Microsc "
                      "1978;113:257-267.",
        "Lantuejoul 1980": "Lantuejoul C. On the estimation of mean values in individual "
                           "analysis of particles. Microscopica Acta 1980;5:266-273.",
    },
    mask="pore", colour=(204, 121, 167),  # reddish purple
    headline=("pore_count",))

PARAMS = {
    "blob_min_mm": Param(float, 0.01, 10, "smallest blob scale searched (diameter), mm"),
    "blob_max_mm": Param(float, 0.01, 10, "largest blob scale searched (diameter), mm"),
    "window_mm": Param(float, 0.1, 1000, "scale of the skin's texture level around a pore, mm"),
    "min_z": Param(float, 0.0, 100, "a pore's blob response over the skin's texture level"),
    "level_floor": Param(float, 0.0, 5, "least texture level (OD): smooth skin's pores too "
                         "must be min_z times this dark"),
    "level_spread": Param(float, 0.0, 100, "least texture level, in robust SDs of the "
                          "blob response over skin of that brightness (the photo's noise)"),
    "edge_fraction": Param(float, 0.0, 1.0, "edge at this fraction of the pore's peak"),
    "max_redness": Param(float, 0.0, 200, "objects with this EI excess are not pores"),
    "max_darkness": Param(float, 0.0, 5, "objects with this luminance density excess (OD) "
                          "are not pores"),
    "min_diameter_mm": Param(float, 0.0, 100, "smallest pore (equivalent diameter), mm"),
    "max_diameter_mm": Param(float, 0.0, 100, "largest pore (equivalent diameter), mm"),
    "min_roundness": Param(float, 0.0, 1.0, "smallest minor/major axis ratio"),
    "min_px_per_mm": Param(float, 0.0, 1e5, "coarser photos give no number for this layer"),
    "crust_search_px_per_mm": Param(float, 0.0, 1e5, "on a finer photo the crust-like blobs "
                                    "left out of the texture level are sought on a copy "
                                    "resampled to this scale (0: on the photo), px/mm"),
    **GRID_PARAMS,
}


def blob_sigmas_px(min_mm: float, max_mm: float, scale: Scale) -> list[float]:
    """Laplacian-of-Gaussian scales (pixels) for blobs ``min_mm``..``max_mm`` across, in
    steps of sqrt 2: a disk of diameter d answers most at sigma = d / (2 sqrt 2)."""
    n = 1 + max(0, int(np.floor(2 * np.log2(max(max_mm, min_mm) / min_mm) + 1e-9)))
    return [scale.px(min_mm) * 2.0 ** (k / 2) / (2 * np.sqrt(2)) for k in range(n)]


def pore_labels(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                scale: Scale, fringe: np.ndarray | None = None) -> np.ndarray:
    """Label image of pores (0 background, 1..N one per pore).

    Parameters
    ----------
    planes : ColourPlanes
    roi : (H, W) bool ndarray
    params : mapping
        The ``[pore]`` pipeline section (see :data:`PARAMS`).
    scale : Scale
    fringe : (H, W) bool ndarray, optional
        Skin blurred by a hair (:func:`skinmetrics.roi.skin_and_fringe`): its colour is
        not used to detect lesions.

    Returns
    -------
    (H, W) int32 ndarray
    """
    where = roi if fringe is None else roi & ~fringe
    first = params["crust_search_px_per_mm"]
    if first and scale.size_px_per_mm > first:  # crust-like blobs first sought on a copy
        at_planes, at_roi, at_fringe, at_scale = coarser_copy(planes, roi, fringe, scale, first)
        at_where = at_roi if at_fringe is None else at_roi & ~at_fringe
        labels, red = _blobs(at_planes, at_where, at_fringe, params, at_scale, at_where)
        del at_planes, at_roi, at_fringe, at_where, labels
        crusts = cv2.resize(_crust_surround(red, params, at_scale), roi.shape[::-1],
                            interpolation=cv2.INTER_NEAREST)
    else:
        labels, red = _blobs(planes, where, fringe, params, scale, where)
        if not red.any():
            return _pores(labels, red, params, scale)
        crusts = _crust_surround(red, params, scale)
        labels = red = None  # not held while the blobs are found again,
        planes.forget("erythema_index")  # nor the redness plane (made again when needed)
    # the blobs found (again) with the crust-like ones left out of the skin's texture level
    texture = where & (crusts == 0)
    del crusts
    labels, red = _blobs(planes, where, fringe, params, scale, texture)
    return _pores(labels, red, params, scale)


def _blobs(planes: ColourPlanes, where: np.ndarray, fringe: np.ndarray | None,
           params: Mapping[str, float], scale: Scale, texture: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Blobs of the skin ``where`` whose level is that of ``texture``
    (:func:`skinmetrics.filters.blob_objects`), less those touching a hair's ``fringe``, and
    which of their pixels are of crust-like blobs: (labels, (H, W) bool)."""
    sigmas = blob_sigmas_px(params["blob_min_mm"], params["blob_max_mm"], scale)
    # each scale's response made when read: one held at a time, none after
    responses = iter_blob_responses(planes.luminance_density, where, sigmas)
    labels = blob_objects(responses, where, sigmas, scale.px(params["window_mm"]),
                          params["min_z"], params["level_floor"], params["edge_fraction"],
                          texture, params["level_spread"], planes.luminance_density)
    if fringe is not None and fringe.any():  # a blob touching a hair is one of its beads
        labels = untouched(labels, beside_hair(fringe), in_place=True)
    if labels.max() == 0:
        return labels, np.zeros(labels.shape, bool)
    return labels, crust_like(labels, planes, where, 2 * max(sigmas), params["max_redness"],
                              params["max_darkness"], params, scale)[labels]


def _crust_surround(red: np.ndarray, params: Mapping[str, float], scale: Scale) -> np.ndarray:
    """Crust-like blobs' pixels and the skin within twice the largest blob scale of them,
    (H, W) uint8 (nonzero there): what the second search leaves out of the texture level."""
    reach = 2 * max(blob_sigmas_px(params["blob_min_mm"], params["blob_max_mm"], scale))
    return cv2.dilate(red.view(np.uint8), disk(reach))


def _pores(labels: np.ndarray, red: np.ndarray, params: Mapping[str, float], scale: Scale
           ) -> np.ndarray:
    """The blobs that are not crust-like, within the size and shape limits, labelled."""
    pores = keep_by_size_and_shape(np.where(red, 0, labels), params, scale) > 0
    # pores lie apart: touching pieces are one pore
    return ndi.label(pores, structure=np.ones((3, 3)))[0]


def pore_metrics(roi: np.ndarray, labels: np.ndarray, px_per_mm: float | None,
                 hair: np.ndarray | None = None) -> tuple[dict, dict]:
    """Count, density, area (px, % of roi) and mean diameter of labelled pores
    (:func:`skinmetrics.stages.base.object_metrics`); ``hair``: distance to hair
    (:func:`skinmetrics.stages.base.hair_distance`), where a pore is not counted (the
    density and area share count each pore over the skin where it could lie off the hair).
    """
    return object_metrics("pore", roi, labels, px_per_mm, areas=("px", "pct"), hair=hair)


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None
           ) -> tuple[np.ndarray, dict[str, float | None]]:
    """The layer's lesions on the whole skin region (a mask or a label image) and the values
    estimated from the photo (none); ``fringe``: skin blurred by a hair, not used to detect
    them."""
    return pore_labels(planes, roi, params, scale, fringe), {}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None, hair: np.ndarray | None = None
              ) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside); ``hair``:
    distance to hair (:func:`skinmetrics.stages.base.hair_distance`, none: no hair), a
    pore touching it not counted (as :func:`detect` does not count one touching the
    photo's own: this one may be another photo's, see
    :func:`skinmetrics.pipeline.summarise_layers`)."""
    if hair is not None:
        found = untouched(found, hair == 0)
    return summarise_objects(found, roi, region, scale.px_per_mm,
                             partial(pore_metrics, hair=hair))

