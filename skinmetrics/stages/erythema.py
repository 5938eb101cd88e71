"""Erythema (redness): segmented area and intensity.

Segmentation is relative to the person's own unaffected skin, so it holds across skin tones
where a fixed a* cut does not:

1. the haemoglobin density of every pixel is separated from melanin and shading
   (:func:`skinmetrics.colour.chromophore_densities`, after Tsumura et al. [4]), the
   photo's illumination taken out first (:func:`skinmetrics.stages.base.skin_densities`:
   a shadow or light falling off across dark skin is not read as redness), and
   smoothed over the skin that is not a small dark dot (crusts, pores: black top-hat of the
   luminance density above ``dot_tophat`` with a disk of ``dot_radius_mm``, holding at
   least ``dot_fraction`` of the dot's contrast, :func:`skinmetrics.filters.small_dots`),
   which is filled in from around it, so that a field of crusts does not read as erythema
   (so is the blurred fringe of a hair, :func:`skinmetrics.roi.skin_and_fringe`);
2. the photo's melanin crosstalk is taken out: the unmixing is exact only for its nominal
   spectra, and a person's and a camera's differ, so a brown spot reads a fraction of its
   melanin as haemoglobin (on dark skin, erythema). That fraction is measured on the
   photo's own pigmented spots (melanin excess of ``crosstalk_from`` or more, where the
   haemoglobin excess is at most ``crosstalk_max`` times it: no patch there), the median
   ratio of the two excesses, and that times the melanin density subtracted
   (:func:`skinmetrics.stages.base.crosstalk`; Tsumura et al. [4] estimate the chromophore
   vectors per image); nothing is taken out on less than ``crosstalk_min_mm2`` of spots.
   It is a property of the person's skin (and of the camera, which calibration or the
   colour normalisation to the baseline takes out), so a follow-up aligned to its baseline
   is given the baseline's (:func:`skinmetrics.pipeline.measure_image`'s ``estimates``):
   the same skin unmixed the same way at every visit, without the few-hundredths scatter
   of an estimate from each photo's own spots;
3. the unaffected-skin level is the local mean haemoglobin density of skin that is not a
   candidate (:func:`skinmetrics.filters.local_reference`), re-estimated twice with the
   candidates and the skin within ``reference_margin_mm`` of them left out, so large red
   patches and their soft skirts do not raise their own reference;
4. erythema is a haemoglobin-density excess above ``threshold`` grown by hysteresis down to
   ``threshold_low``, then outlined where the excess falls to ``edge_fraction`` of the
   local peak within ``edge_radius_mm`` (:func:`skinmetrics.filters.local_half_maximum`),
   so that strong and faint patches are both drawn at their own half-maximum edge; an
   excess of ``edge_ceiling`` or more is always erythema (a faint patch overlapping a
   strong one keeps its part beside the strong one); a part this outline cuts off with no
   excess above ``threshold`` of its own is dropped (hysteresis grew the patch into it
   along a faint ridge of mottling); regions smaller than
   ``min_area_mm2`` are dropped (the pieces of a patch cut by a hair, a gap up to about
   twice ``dot_radius_mm``, count as one region; a region the frame cuts is kept, as its
   size beyond the frame is not known) and holes up to ``max_hole_mm2`` filled.

Intensity metrics (over the skin region unless stated):

* ``erythema_index_mean``: EI = 100 log10(R/G) on linear RGB (Diffey et al. [1]; camera
  form, Yamamoto et al. [2]), mean over the roi;
* ``a_star_mean``: mean CIELAB a* of the roi;
* ``erythema_reference_a_star``: mean a* of the unaffected roi (outside the erythema
  mask), the skin that erythema is measured against;
* ``delta_a_star``: mean a* inside the erythema mask minus mean a* of the unaffected roi
  (lesion redness contrast, Logger et al. [3]); None when either set is empty.

References
----------
.. [1] Diffey B.L., Oliver R.J., Farr P.M. A portable instrument for quantifying erythema
       induced by ultraviolet radiation. Br J Dermatol 1984;111:663-672.
.. [2] Yamamoto T., Takiwaki H., Arase S., Ohshima H. Derivation and clinical application of
       special imaging by means of digital cameras and Image J freeware for quantification of
       erythema and pigmentation. Skin Res Technol 2008;14:26-34.
.. [3] Logger J.G.M., de Jong E.M.G.J., Driessen R.J.B., van Erp P.E.J. Evaluation of a
       simple image-based tool to quantify facial erythema in rosacea during treatment.
       Skin Res Technol 2020;26:804-812.
.. [4] Tsumura N., Haneishi H., Miyake Y. Independent-component analysis of skin color image.
       J Opt Soc Am A 1999;16:2169-2176.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..colour import ColourPlanes
from ..filters import area_metrics, clean_mask, masked_mean
from ..methods import Layer, MetricDefinition, area_definitions
from .base import (
    EXCESS_PARAMS,
    Param,
    Scale,
    StageResult,
    crosstalk,
    density_excess,
    skin_densities,
    trusted_skin,
)

__all__ = [
    "LAYER", "PARAMS", "erythema_mask", "erythema_metrics", "detect", "summarise"
]

#: What this stage measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "erythema", "Erythema",
    "Haemoglobin-density excess over the surrounding unaffected skin (crusts and pores "
    "filled in from around them), grown by hysteresis and outlined at a fraction of "
    "each patch's local peak excess; small regions dropped.",
    ("Tsumura 1999",),
    (*area_definitions("erythema", "erythema"),
     MetricDefinition("erythema_index_mean", "Erythema index, mean", "EI (100 log10 R/G)",
                      "Mean erythema index of the skin region",
                      "EI = 100 * log10(R / G) on linear RGB, mean over the roi",
                      ("Diffey 1984", "Yamamoto 2008")),
     MetricDefinition("a_star_mean", "Redness a*, mean",
                      "CIELAB a*", "Mean CIELAB a* (redness) of the skin region",
                      "mean of a* over the roi", ("CIE 2004",)),
     MetricDefinition("erythema_reference_a_star", "Redness a* of unaffected skin",
                      "CIELAB a*", "Redness of the reference: "
                      "the unaffected skin erythema is measured against (the photo's own skin "
                      "outside erythema, first within about 25 mm, then 4 mm)",
                      "mean of a* over the roi outside the erythema mask", ("CIE 2004",)),
     MetricDefinition("delta_a_star", "Redness a*, erythema minus unaffected skin", "CIELAB a*",
                      "Redness of the erythema against unaffected skin",
                      "mean a* in the erythema mask - mean a* of the unaffected roi",
                      ("Logger 2020",))),
    citations={
        "Diffey 1984": "Diffey B.L., Oliver R.J., Farr P.M. A portable instrument for "
                       "quantifying erythema induced by ultraviolet radiation. Br J Dermatol "
                       "1984;111:663-672.",
        "Yamamoto 2008": "Yamamoto T., Takiwaki H., Arase S., Ohshima H. Derivation and "
                         "clinical application of special imaging by means of digital cameras "
                         "and Image J freeware for quantification of erythema and "
                         "pigmentation. Skin Res Technol 2008;14:26-34.",
        "Logger 2020": "Logger J.G.M., de Jong E.M.G.J., Driessen R.J.B., van Erp P.E.J. "
                       "Evaluation of a simple image-based tool to quantify facial erythema "
                       "in rosacea during treatment. Skin Res Technol 2020;26:804-812.",
    },
    mask="erythema", colour=(86, 180, 233),  # sky blue
    headline=("erythema_area_pct",))

PARAMS = {
    **EXCESS_PARAMS,
    "crosstalk_from": Param(float, 0.0, 5, "melanin excess (OD) from which skin is a pigmented "
                            "spot whose haemoglobin reading measures the melanin crosstalk"),
    "crosstalk_max": Param(float, 0.0, 1.0, "largest crosstalk measured (haemoglobin per unit "
                           "melanin excess); skin reading more holds erythema"),
    "crosstalk_min_mm2": Param(float, 0.0, 1e6, "least area of such spots to measure it, mm2"),
    "min_area_mm2": Param(float, 0.0, 1e6, "smallest erythema region kept, mm2"),
    "max_hole_mm2": Param(float, 0.0, 1e6, "holes in erythema up to this area are filled, mm2"),
}


def erythema_mask(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                  scale: Scale, fringe: np.ndarray | None = None,
                  melanin_crosstalk: float | None = None,
                  reference_levels: Sequence[float] | None = None
                  ) -> tuple[np.ndarray, float | None, tuple[float, ...]]:
    """Erythema segmentation (see the module text for the method).

    Parameters
    ----------
    planes : ColourPlanes
    roi : (H, W) bool ndarray
        Skin region.
    params : mapping
        The ``[erythema]`` pipeline section (see :data:`PARAMS`).
    scale : Scale
    fringe : (H, W) bool ndarray, optional
        Skin blurred by a hair (:func:`skinmetrics.roi.skin_and_fringe`): its colour is
        not used to detect lesions.
    melanin_crosstalk : float, optional
        Haemoglobin excess (OD) read per OD of melanin excess, to take out (e.g. the one
        measured on the patient's baseline); without it, measured on this photo's spots.
    reference_levels : sequence of float, optional
        The haemoglobin excess (OD) above which each pass of the unaffected-skin reference
        left skin out (e.g. the baseline's); without them, set from this photo
        (:func:`skinmetrics.stages.base.density_excess`).

    Returns
    -------
    mask : (H, W) bool ndarray
        True on erythema, always within ``roi``.
    melanin_crosstalk : float or None
        The crosstalk taken out: the one given, else the photo's
        (:func:`skinmetrics.stages.base.crosstalk`); None when neither was measurable
        (none taken out).
    reference_levels : tuple of float
        The levels used: those given, else the photo's (OD).
    """
    trusted = trusted_skin(planes, roi, params, scale, fringe)
    densities = skin_densities(planes, trusted, params, scale)
    melanin, blood = densities[..., 0], densities[..., 1]
    if melanin_crosstalk is None:
        melanin_crosstalk = crosstalk(blood, melanin, roi, trusted, params, scale)
    if melanin_crosstalk:
        blood = blood - np.float32(melanin_crosstalk) * melanin
    found, _, reference_levels = density_excess(blood, roi, trusted, params, scale,
                                                reference_levels)
    mask = clean_mask(found, min_area_px=scale.px2(params["min_area_mm2"]),
                      max_hole_px=scale.px2(params["max_hole_mm2"]), within=roi,
                      bridge_px=scale.px(params["dot_radius_mm"]), keep_frame_cut=True)
    return mask, melanin_crosstalk, reference_levels


def erythema_metrics(planes: ColourPlanes, roi: np.ndarray, mask: np.ndarray,
                     px_per_mm: float | None) -> tuple[dict, dict]:
    """Area and intensity metrics of an erythema mask (see the module text)."""
    roi_px = int(np.count_nonzero(roi))
    metrics, units = area_metrics("erythema", mask, roi_px, px_per_mm)
    unaffected = roi & ~mask
    # means over the masks without gathering their pixels (nor making a whole CIELAB)
    on_unaffected, on_roi, on_mask = planes.lab_means(unaffected, roi, mask)
    reference = float(on_unaffected[1]) if unaffected.any() else None
    metrics.update(
        erythema_index_mean=(float(masked_mean(planes.erythema_index, roi)[0])
                             if roi_px else None),
        a_star_mean=float(on_roi[1]) if roi_px else None,
        erythema_reference_a_star=reference,
        delta_a_star=(float(on_mask[1]) - reference
                      if mask.any() and reference is not None else None),
    )
    units.update(erythema_index_mean="EI (100 log10 R/G)", a_star_mean="CIELAB a*",
                 erythema_reference_a_star="CIELAB a*", delta_a_star="CIELAB a*")
    return metrics, units


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None,
           melanin_crosstalk: float | None = None,
           reference_levels: Sequence[float] | None = None
           ) -> tuple[np.ndarray, dict[str, float | list[float] | None]]:
    """The layer's lesions on the whole skin region and the values estimated from the photo
    (``melanin_crosstalk``, ``reference_levels``; given, they are used instead);
    ``fringe``: skin blurred by a hair, not used to detect them."""
    mask, crosstalk_used, levels_used = erythema_mask(planes, roi, params, scale, fringe,
                                                      melanin_crosstalk, reference_levels)
    return mask, {"melanin_crosstalk": crosstalk_used, "reference_levels": list(levels_used)}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside)."""
    here = roi if region is None else roi & region
    mask = found & here
    metrics, units = erythema_metrics(planes, here, mask, scale.px_per_mm)
    return StageResult(mask, metrics, units)

