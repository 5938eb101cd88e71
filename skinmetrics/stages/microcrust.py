"""Microcrusts: the small dark-brown crusts left in a grid by ablative fractional CO2 laser.

Each microscopic treatment zone heals through a crust 0.1-0.4 mm across that is shed within
about two to four weeks; their total area is the primary outcome of laser-recovery studies.
No published automatic method exists (see ../shared/docs/methods.md); this one is:

1. small dark objects: hysteresis on the black top-hat (Soille [1]) of the mean optical
   density, with a disk wider than the largest crust (pores and crusts both appear);
2. crusts are the objects with a haemoglobin-density excess (dried blood and exudate,
   separated from melanin and shading after Tsumura et al. [2]); grey shadows (pores) and
   melanin-only spots are not;
3. touching crusts are split by a marker-controlled watershed (Beucher & Meyer [3]) on
   the smoothed top-hat, one marker per regional maximum of height ``split_h``;
4. objects outside ``min_diameter_mm``..``max_diameter_mm`` (equivalent diameter) are dropped.

Metrics: ``microcrust_count``, ``microcrust_area_px``, ``_mm2``, ``_pct`` (% of roi) and
``microcrust_mean_diameter_mm`` (mean equivalent-circle diameter; None without scale).

References
----------
.. [1] Soille P. Morphological Image Analysis, 2nd ed. Springer 2003.
.. [2] Tsumura N., Haneishi H., Miyake Y. J Opt Soc Am A 1999;16:2169-2176.
.. [3] Beucher S., Meyer F. The morphological approach to segmentation: the watershed
       transformation. In: Mathematical Morphology in Image Processing, 1993:433-481.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import relabel_sequential, watershed

from ..colour import ColourPlanes
from ..filters import area_metrics, black_tophat_od, dark_objects, object_means, object_table
from .base import Param, Scale, StageResult

__all__ = ["PARAMS", "MASK", "microcrust_labels", "microcrust_metrics", "measure"]

MASK = "microcrust"
PARAMS = {
    "tophat_radius_mm": Param(float, 0.01, 100, "top-hat disk radius (> largest crust), mm"),
    "threshold": Param(float, 0.0, 5, "top-hat optical density that seeds a dark object"),
    "threshold_low": Param(float, 0.0, 5, "top-hat density to which an object grows"),
    "min_haemoglobin_excess": Param(float, 0.0, 5, "objects need this haemoglobin top-hat"),
    "split_h": Param(float, 0.0, 5, "watershed marker height on the smoothed top-hat (OD)"),
    "min_diameter_mm": Param(float, 0.0, 100, "smallest crust (equivalent diameter), mm"),
    "max_diameter_mm": Param(float, 0.0, 100, "largest crust (equivalent diameter), mm"),
}


def microcrust_labels(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                      scale: Scale) -> np.ndarray:
    """Label image of microcrusts (0 background, 1..N one per crust).

    Parameters
    ----------
    planes : ColourPlanes
    roi : (H, W) bool ndarray
    params : mapping
        The ``[microcrust]`` pipeline section (see :data:`PARAMS`).
    scale : Scale

    Returns
    -------
    (H, W) int32 ndarray
    """
    p = params
    radius = scale.px(p["tophat_radius_mm"])
    density = planes.od.mean(axis=2)
    dark = dark_objects(density, roi, radius, p["threshold_low"], p["threshold"])
    labels, n = ndi.label(dark, structure=np.ones((3, 3)))
    if n == 0:
        return labels
    hb_th = black_tophat_od(planes.densities[..., 1], radius)
    keep = np.zeros(n + 1, bool)
    keep[1:] = object_means(labels, hb_th) >= p["min_haemoglobin_excess"]
    crusts = keep[labels]
    smooth = cv2.GaussianBlur(black_tophat_od(density, radius), (0, 0),
                              max(0.5, scale.px(p["min_diameter_mm"]) / 4))
    markers = ndi.label(h_maxima(np.where(crusts, smooth, 0), p["split_h"]) & crusts)[0]
    labels = watershed(-smooth, markers, mask=crusts)
    d = object_table(labels)["diameter_px"]
    ok = np.zeros(labels.max() + 1, bool)
    ok[1:] = (d >= scale.px(p["min_diameter_mm"])) & (d <= scale.px(p["max_diameter_mm"]))
    labels = np.where(ok[labels], labels, 0)
    return relabel_sequential(labels)[0]


def microcrust_metrics(roi: np.ndarray, labels: np.ndarray,
                       px_per_mm: float | None) -> tuple[dict, dict]:
    """Count, area and mean diameter of labelled microcrusts."""
    roi_px = int(np.count_nonzero(roi))
    table = object_table(labels)
    metrics, units = area_metrics("microcrust", labels > 0, roi_px, px_per_mm)
    metrics["microcrust_count"] = int(len(table["area_px"]))
    units["microcrust_count"] = "count"
    d = table["diameter_px"]
    metrics["microcrust_mean_diameter_mm"] = (float(d.mean() / px_per_mm)
                                              if px_per_mm and len(d) else None)
    units["microcrust_mean_diameter_mm"] = "mm"
    return metrics, units


def measure(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
            scale: Scale) -> StageResult:
    """Microcrust mask and metrics of one photograph."""
    labels = microcrust_labels(planes, roi, params, scale)
    metrics, units = microcrust_metrics(roi, labels, scale.px_per_mm)
    return StageResult(labels > 0, metrics, units)
