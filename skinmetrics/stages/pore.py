"""Pores: small, dark, round openings of the skin surface.

A pore is a small depression that is seen as a shadow: darker than the skin around it but
not redder or browner. Method:

1. small dark objects: hysteresis on the black top-hat (Soille [1]) of the luminance
   density -log10 Y (an exposure change only adds a constant to it and does not move the
   top-hat), disk radius ``tophat_radius_mm`` (> the largest pore); a peak must also stand
   ``min_snr`` noise standard deviations above the top-hat of skin as bright as its own
   (on dark skin and in dark spots sensor noise alone reaches the threshold); each object
   is outlined at half its peak, as the connected part around that peak
   (:func:`skinmetrics.filters.dark_objects`);
2. objects whose mean erythema index EI = 100 log10(R/G) (Diffey et al. [2]) exceeds that
   of the skin around them by more than ``max_redness`` are red-brown (crusts, papules),
   not pores (:func:`skinmetrics.filters.object_contrast`);
3. objects outside ``min_diameter_mm``..``max_diameter_mm`` (equivalent diameter) or less
   round than ``min_roundness`` (minor/major axis ratio) are dropped.

Size limits are in mm; without a known scale the pipeline's ``assumed_px_per_mm`` turns
them into pixels and mm metrics stay empty.

Metrics: ``pore_count``, ``pore_density_per_cm2`` (pores per cm^2 of the skin region; None
without scale), ``pore_area_px``, ``pore_area_pct`` (% of roi), ``pore_mean_diameter_mm``.

References
----------
.. [1] Soille P. Morphological Image Analysis, 2nd ed. Springer 2003.
.. [2] Diffey B.L., Oliver R.J., Farr P.M. Br J Dermatol 1984;111:663-672.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage as ndi

from ..colour import ColourPlanes
from ..filters import area_metrics
from .base import (
    DARK_OBJECT_PARAMS,
    Param,
    Scale,
    StageResult,
    dark_objects_with_redness,
    keep_by_size_and_shape,
    restrict_labels,
)

__all__ = [
    "PARAMS", "MASK", "pore_labels", "pore_metrics", "detect", "summarise"
]

MASK = "pore"
PARAMS = {
    **DARK_OBJECT_PARAMS,
    "max_redness": Param(float, 0.0, 200, "objects with more EI excess than this are not pores"),
}


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
    labels, redness = dark_objects_with_redness(planes, roi, params, scale, fringe)
    grey = np.concatenate([[False], redness <= params["max_redness"]])[labels]
    pores = keep_by_size_and_shape(np.where(grey, labels, 0), params, scale) > 0
    # pores lie apart: touching pieces are one pore
    return ndi.label(pores, structure=np.ones((3, 3)))[0]


def pore_metrics(roi: np.ndarray, labels: np.ndarray, px_per_mm: float | None
                 ) -> tuple[dict, dict]:
    """Count, density, area and mean diameter of labelled pores."""
    roi_px = int(np.count_nonzero(roi))
    n = int(labels.max())
    area, area_units = area_metrics("pore", labels > 0, roi_px, px_per_mm)
    sizes = np.bincount(labels.ravel())[1:] if n else np.zeros(0)
    d = np.sqrt(4 * sizes / np.pi)
    roi_cm2 = roi_px / (10.0 * px_per_mm) ** 2 if px_per_mm else 0.0
    metrics = {
        "pore_count": n,
        "pore_density_per_cm2": n / roi_cm2 if roi_cm2 else None,
        "pore_area_px": area["pore_area_px"],
        "pore_area_pct": area["pore_area_pct"],
        "pore_mean_diameter_mm": float(d.mean() / px_per_mm) if px_per_mm and n else None,
    }
    units = {"pore_count": "count", "pore_density_per_cm2": "1/cm2",
             "pore_area_px": area_units["pore_area_px"],
             "pore_area_pct": area_units["pore_area_pct"], "pore_mean_diameter_mm": "mm"}
    return metrics, units


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None
           ) -> tuple[np.ndarray, dict[str, float | None]]:
    """The layer's lesions on the whole skin region (a mask or a label image) and the values
    estimated from the photo (none); ``fringe``: skin blurred by a hair, not used to detect
    them."""
    return pore_labels(planes, roi, params, scale, fringe), {}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside)."""
    labels = restrict_labels(found, region)
    metrics, units = pore_metrics(roi if region is None else roi & region, labels,
                                  scale.px_per_mm)
    return StageResult(labels > 0, metrics, units)

