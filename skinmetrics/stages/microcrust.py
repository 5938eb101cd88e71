"""Microcrusts: the small dark-brown crusts left in a grid by ablative fractional CO2 laser.

Each microscopic treatment zone heals through a crust 0.1-0.4 mm across that is shed within
about two to four weeks; their total area is the primary outcome of laser-recovery studies.
No published automatic method exists (see ../shared/docs/methods.md); this one is:

1. small dark objects: hysteresis on the black top-hat (Soille [1]) of the luminance
   density -log10 Y, with a disk wider than the largest crust (pores and crusts both
   appear), peaks that sensor noise could make left out (``min_snr``), each outlined at
   half its peak (:func:`skinmetrics.filters.dark_objects`);
2. crusts are the objects made of crust material (dried blood and exudate), not the
   shadow of a pore (:func:`skinmetrics.stages.base.crust_like`): red-brown, their mean
   erythema index EI = 100 log10(R/G) (Diffey et al. [2]) exceeding that of the skin
   around them by at least ``min_redness``, or brown to black, their mean luminance
   density exceeding the skin's by at least ``min_darkness`` (more light taken than by a
   pore's shadow, which keeps the skin's colour), or sitting on the laser's grid (a
   regular lattice among the objects, Manstein et al. [4]; :mod:`skinmetrics.lattice`),
   with lattice neighbours among them or at a site that the crusts on the grid around it
   mark (a crust left among shed ones);
   in a pigmented spot of the pipeline's pigmentation layer at least
   ``host_min_diameter_mm`` across that no dot of the grid lies in (an untreated naevus
   or keratosis), the dark dots are the spot's own (a naevus's globules are as dark, and
   by their melanin as red, as crust material), and so are those off the grid in a spot
   the grid crosses where crust-like dots lie more than ``host_texture_ratio`` times as
   densely as on the skin within ``host_surround_mm`` around it (a lasered naevus's
   globules; a lasered lentigo holds the grid's crusts as densely as the skin beside it),
   and all those in a spot where the dots on the grid lie that much more densely than
   around it (its globules fill the grid's sites by chance);
3. touching crusts are split by a marker-controlled watershed (Beucher & Meyer [3]) on
   the distance transform, one marker per maximum at least ``split_depth_mm`` deep
   (:func:`skinmetrics.filters.split_touching`);
4. objects outside ``min_diameter_mm``..``max_diameter_mm`` (equivalent diameter) or less
   round than ``min_roundness`` (fragments of hair) are dropped.

Metrics: ``microcrust_count``, ``microcrust_area_px``, ``_mm2``, ``_pct`` (% of the skin
searched: the roi less hair fringe, where crusts are not sought) and
``microcrust_mean_diameter_mm`` (mean equivalent-circle diameter; None without scale).

References
----------
.. [1] Soille P. Morphological Image Analysis, 2nd ed. Springer 2003.
.. [2] Diffey B.L., Oliver R.J., Farr P.M. Br J Dermatol 1984;111:663-672.
.. [3] Beucher S., Meyer F. The morphological approach to segmentation: the watershed
       transformation. In: Mathematical Morphology in Image Processing, 1993:433-481.
.. [4] Manstein D., Herron G.S., Sink R.K., Tanner H., Anderson R.R. Fractional
       photothermolysis. Lasers Surg Med 2004;34:426-438.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..colour import ColourPlanes
from ..filters import clean_mask, split_touching
from ..methods import Layer, MetricDefinition, area_definitions
from .base import (
    DARK_OBJECT_PARAMS,
    GRID_PARAMS,
    Param,
    Scale,
    StageResult,
    crust_like,
    dark_objects_in_skin,
    keep_by_size_and_shape,
    object_metrics,
    summarise_objects,
)

__all__ = [
    "LAYER", "PARAMS", "microcrust_labels", "microcrust_metrics", "detect", "summarise"
]

#: What this stage measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "microcrust", "Microcrusts",
    "Black top-hat of the luminance density -log10 Y; objects from peaks grown by "
    "watershed and outlined at a fraction of their own peak; kept when crust material "
    "rather than a pore's shadow: red-brown (erythema index above that of the skin "
    "around them) or brown-black (luminance density well above it), or on the laser's "
    "grid (a regular lattice among the dots: with lattice neighbours, or at a site the dots "
    "on it around mark); none by colour in a pigmented spot that no grid dot lies in, nor "
    "off the grid in one whose dots lie far denser than on the skin around it, nor any in "
    "one whose grid dots do (a naevus's globules); touching crusts split at their waist "
    "(distance-transform watershed); kept within the pipeline's diameter and roundness "
    "limits. No published automatic method exists.",
    ("Soille 2003", "Diffey 1984", "Beucher 1993"),
    (MetricDefinition("microcrust_count", "Microcrusts (count)", "count", "Number of microcrusts",
                      "number of labelled crusts in the roi"),
     *area_definitions("microcrust", "microcrusts", share=(
         "Share of the skin searched (the skin region less hair fringe, where crusts are "
         "not sought) covered by microcrusts",
         "100 * microcrust_area_px / (roi_area_px * (1 - roi_hair_fringe_pct / 100))"),
         skin="skin searched"),
     MetricDefinition("microcrust_mean_diameter_mm", "Microcrust diameter, mean (mm)", "mm",
                      "Mean equivalent-circle diameter of the crusts",
                      "mean of sqrt(4 * area_px / pi) / px_per_mm")),
    citations={
        "Beucher 1993": "Beucher S., Meyer F. The morphological approach to segmentation: the "
                        "watershed transformation. In: Mathematical Morphology in Image "
                        "Processing, 1993:433-481.",
    },
    mask="microcrust", colour=(0, 158, 115),  # bluish green
    headline=("microcrust_count",), uses=("pigmentation",))

PARAMS = {
    **DARK_OBJECT_PARAMS,
    **GRID_PARAMS,
    "min_redness": Param(float, 0.0, 200, "red-brown crusts: EI excess over their surround"),
    "min_darkness": Param(float, 0.0, 5, "brown-black crusts: luminance density excess (OD)"),
    "split_depth_mm": Param(float, 0.0, 10, "waist depth at which touching crusts split, mm"),
    "min_px_per_mm": Param(float, 0.0, 1e5, "coarser photos give no number for this layer"),
    "host_min_diameter_mm": Param(float, 0.0, 1e3, "in a pigmented spot at least this wide "
                                  "that no grid dot lies in, the dots are its own (0: none)"),
    "host_texture_ratio": Param(float, 0.0, 1e3, "in such a spot the grid crosses, the dots off "
                                "the grid are its own where crust-like dots lie this many "
                                "times as densely as on the skin around it (0: never)"),
    "host_surround_mm": Param(float, 0.0, 1e3, "the skin around a spot that its density of "
                              "dots is compared with, mm"),
}


def microcrust_labels(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                      scale: Scale, fringe: np.ndarray | None = None,
                      pigment: np.ndarray | None = None) -> np.ndarray:
    """Label image of microcrusts (0 background, 1..N one per crust).

    Parameters
    ----------
    planes : ColourPlanes
    roi : (H, W) bool ndarray
    params : mapping
        The ``[microcrust]`` pipeline section (see :data:`PARAMS`).
    scale : Scale
    fringe : (H, W) bool ndarray, optional
        Skin blurred by a hair (:func:`skinmetrics.roi.skin_and_fringe`): its colour is
        not used to detect lesions.
    pigment : (H, W) bool ndarray, optional
        Pigmented spots (the pigmentation layer's lesions): in those at least
        ``host_min_diameter_mm`` wide that no dot of the laser's grid lies in, the dark
        dots are the spot's own, and in those it crosses the dots off the grid where
        they lie denser than on the skin around (``host_texture_ratio``).

    Returns
    -------
    (H, W) int32 ndarray
    """
    labels = keep_by_size_and_shape(dark_objects_in_skin(planes, roi, params, scale, fringe),
                                    params, scale)
    where = roi if fringe is None else roi & ~fringe
    host = None
    if pigment is not None and params["host_min_diameter_mm"] > 0:  # naevi, keratoses
        host = clean_mask(pigment, np.pi / 4 * scale.px(params["host_min_diameter_mm"]) ** 2)
    crusts = crust_like(labels, planes, where, scale.px(params["tophat_radius_mm"]),
                        params["min_redness"], params["min_darkness"], params, scale,
                        host, scale.px(params["host_surround_mm"]),
                        params["host_texture_ratio"])[labels]
    labels = split_touching(crusts, scale.px(params["split_depth_mm"]))
    return keep_by_size_and_shape(labels, params, scale)


def microcrust_metrics(roi: np.ndarray, labels: np.ndarray,
                       px_per_mm: float | None) -> tuple[dict, dict]:
    """Count, area and mean diameter of labelled microcrusts
    (:func:`skinmetrics.stages.base.object_metrics`, no density) in the skin searched
    ``roi``, areas first as the tables have always listed them."""
    metrics, units = object_metrics("microcrust", roi, labels, px_per_mm, density=False,
                                    skin="skin searched")
    order = sorted(metrics, key=lambda k: "_area_" not in k)
    return {k: metrics[k] for k in order}, units


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None,
           found: Mapping[str, np.ndarray] | None = None
           ) -> tuple[np.ndarray, dict[str, float | None]]:
    """The layer's lesions on the whole skin region (a mask or a label image) and the values
    estimated from the photo (none); ``fringe``: skin blurred by a hair, not used to detect
    them; ``found``: the pigmentation layer's spots, when the pipeline has that layer."""
    pigment = None if found is None else found.get("pigmentation")
    return microcrust_labels(planes, roi, params, scale, fringe, pigment), {}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None, fringe: np.ndarray | None = None
              ) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside) less the
    ``fringe`` of hair, where none are sought (it may be another photo's too, see
    :func:`skinmetrics.pipeline.summarise_layers`); the area share is of that skin."""
    if fringe is not None:
        roi = roi & ~fringe
        if region is not None:
            region = region & roi
        elif found[fringe].any():  # another photo's hair over crusts found here
            region = roi
    return summarise_objects(found, roi, region, scale.px_per_mm, microcrust_metrics)

