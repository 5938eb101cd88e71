"""Pigmentation: skin colour indices and pigmented spots (brown macules).

Whole-region indices (over the skin region):

* ``melanin_index_mean``: MI = 100 log10(1/R) on linear RGB (Diffey et al. [1]; camera form,
  Yamamoto et al. [2]), mean over the roi;
* ``ita_deg_mean``: individual typology angle ITA = atan2(L* - 50, b*) 180/pi (Chardon
  et al. [3]) of the roi's mean L* and b*, as a colorimeter would read the region.

Pigmented spots are regions whose pigment density (:func:`pigment_density`: the optical
density left when haemoglobin is separated out after Tsumura et al. [4], i.e. melanin
plus the grey term, the photo's illumination taken out first,
:func:`skinmetrics.stages.base.skin_densities`; smoothed over the skin that is neither a
small dark dot, see :func:`skinmetrics.filters.small_dots`, nor a hair's blurred fringe)
exceeds that of the surrounding unaffected skin, i.e. darker and yellower than their
surroundings (that skin leaving out also the skin ``reference_below`` or more less dense
than it, which a specular highlight's skirt lightens with white light: it would pull the
reference down beside the highlight and make the even skin there a spot)
(hysteresis between ``threshold_low`` and ``threshold``, outlined at ``edge_fraction`` of
the local peak excess, that peak taken on the excess smoothed by ``peak_smooth_mm`` so that
a noisier photo of the same spot is not outlined tighter,
:func:`skinmetrics.filters.local_half_maximum`). A region is kept
when it is at least ``min_diameter_mm`` across (smaller dark dots are pores or crusts)
and at least ``min_roundness`` round (thin strips along the edge of the skin region are
not spots; the pieces of a spot cut by a hair are tested as one spot); a region that is
not round enough is split at its waists (``split_depth_mm``,
:func:`skinmetrics.filters.split_touching`: touching round spots) and its parts that pass
both tests are kept. A spot must also stand out from the skin just around it: its mean
excess over that skin (Gaussian-weighted at ``surround_mm``,
:func:`skinmetrics.filters.object_contrast`), less ``haemoglobin_share`` of its haemoglobin
density excess over the same skin where that is positive, is at least ``min_contrast`` (OD):
an unmixing whose absorption spectra are not exactly the skin's reads part of a red papule's
haemoglobin as pigment, which would make the papule a spot that fades with it. And a spot
is bounded by an edge: its mean excess within ``edge_band_mm`` inside its outline is at
least ``min_contrast`` above that within ``edge_band_mm`` outside it
(:func:`skinmetrics.filters.edge_step`), where skin darkened by light falling off over a
corner of the photo only slopes into the skin around it. A region that is no spot may hold
one joined to a wide, soft-edged mottle of the skin: its core above rising fractions of its
own peak is tested again (:func:`spots_kept`). The excess is
taken over a reference 3 mm wide, which cannot follow skin that is evenly a little darker
over a millimetre or two (at the edge of the skin region, on dark skin, under
the skin's own mottling); a speck of texture on such skin reaches the seed threshold
without being darker than the skin beside it.

A photo finer than ``work_px_per_mm`` is searched on a copy resampled to that scale, and
the spots are found again on the photo's own pixels within ``refine_margin_mm`` of where
the copy shows an excess (:func:`refined_spot_mask`): the work of the whole photo is done
only around its spots, and their outlines, the smallest spots and the skin inside a dark
spot are those the photo's own pixels give. On the copy a dark dot must be one of its
pixels narrower than ``dot_radius_mm`` to be filled in: its averaging blurs a spot just
wider than a dot, which would otherwise be taken for one and not looked for. The metrics:

* ``pigment_reference_L_star``: mean L* of the unaffected roi (outside the spots), the
  skin that spots are measured against;
* ``pigment_spot_count`` (the pieces of a spot cut by a hair count once),
  ``pigment_spot_area_px``, ``_mm2``, ``_pct`` (% of roi);
* ``pigment_spot_delta_L``: mean over spot pixels of (local unaffected-skin L* - L*), in L*
  units; how much darker the spots are;
* ``pigmentation_index`` (PI), defined here as the spot area (% of roi) weighted by the
  spots' darkness: PI = pigment_spot_area_pct x pigment_spot_delta_L / 10. A spot covering
  1 % of the skin 10 L* units darker than its surroundings gives PI = 1. PI falls when
  spots shrink or fade, in proportion to both.

References
----------
.. [1] Diffey B.L., Oliver R.J., Farr P.M. Br J Dermatol 1984;111:663-672.
.. [2] Yamamoto T., Takiwaki H., Arase S., Ohshima H. Skin Res Technol 2008;14:26-34.
.. [3] Chardon A., Cretois I., Hourseau C. Skin colour typology and suntanning pathways.
       Int J Cosmet Sci 1991;13:191-208.
.. [4] Tsumura N., Haneishi H., Miyake Y. J Opt Soc Am A 1999;16:2169-2176.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
from scipy import ndimage as ndi

from ..colour import ColourPlanes, ita_degrees
from ..filters import (
    area_metrics,
    below_spread,
    bridge_gaps,
    clean_mask,
    connected_parts,
    edge_step,
    keep_seeded,
    label_peaks,
    local_reference,
    object_contrast,
    object_table,
    split_touching,
    square,
    thin_parts,
)
from ..methods import Layer, MetricDefinition, area_definitions
from .base import (
    EXCESS_PARAMS,
    Param,
    Scale,
    StageResult,
    excess_over_reference,
    outlined_regions,
    seed_levels,
    skin_densities,
    trusted_skin,
)

__all__ = [
    "LAYER", "PARAMS", "pigment_density", "pigment_spot_mask", "pigmentation_metrics", "detect",
    "summarise"
]

#: What this stage measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "pigmentation", "Pigmentation",
    "Skin colour indices of the whole skin region, and pigmented spots: pigment-density "
    "(melanin plus the unmixing's grey term) excess over the surrounding skin "
    "(hysteresis, outlined at a fraction of the local peak) at least the pipeline's "
    "min_diameter_mm across (smaller dots are pores or crusts).",
    ("Tsumura 1999",),
    (MetricDefinition("melanin_index_mean", "Melanin index, mean", "MI (100 log10 1/R)",
                      "Mean melanin index of the skin region",
                      "MI = 100 * log10(1 / R) on linear RGB, mean over the roi",
                      ("Diffey 1984", "Yamamoto 2008")),
     MetricDefinition("ita_deg_mean", "ITA\u00b0 of the skin",
                      "degrees", "Individual typology angle of the skin region",
                      "ITA = atan2(L* - 50, b*) * 180 / pi of the roi's mean L*, b*",
                      ("Chardon 1991",)),
     MetricDefinition("pigment_reference_L_star", "Lightness L* of unaffected skin",
                      "CIELAB L*", "Lightness of the reference: "
                      "the unaffected skin spots are measured against (the photo's own skin "
                      "outside spots, first within about 25 mm, then 3 mm)",
                      "mean of L* over the roi outside the spot mask", ("CIE 2004",)),
     MetricDefinition("pigment_spot_count", "Pigmented spots (count)",
                      "count", "Number of pigmented spots",
                      "number of labelled spots"),
     *area_definitions("pigment_spot", "pigmented spots"),
     MetricDefinition("pigment_spot_delta_L", "Spot darkness \u0394L*", "CIELAB L*",
                      "How much darker the spots are than the skin around them",
                      "mean over spot pixels of (local unaffected-skin L* - L*)"),
     MetricDefinition("pigmentation_index", "Pigmentation index",
                      "% of skin x dL*/10", "Pigmentation index "
                      "(defined by skinmetrics): spot area weighted by the spots' darkness; a "
                      "spot covering 1 % of the skin 10 L* darker than its surroundings gives 1",
                      "PI = pigment_spot_area_pct * pigment_spot_delta_L / 10")),
    citations={
        "Chardon 1991": "Chardon A., Cretois I., Hourseau C. Skin colour typology and "
                        "suntanning pathways. Int J Cosmet Sci 1991;13:191-208.",
    },
    mask="pigment", colour=(230, 159, 0),  # orange
    headline=("pigment_spot_count",))

PARAMS = {
    **EXCESS_PARAMS,
    "min_diameter_mm": Param(float, 0.0, 1000, "smallest spot (equivalent diameter), mm"),
    "min_roundness": Param(float, 0.0, 1.0, "smallest minor/major axis ratio of a spot"),
    "split_depth_mm": Param(float, 0.0, 100, "waist depth at which touching spots split, mm"),
    "min_contrast": Param(float, 0.0, 5, "smallest mean pigment density excess (OD) of a "
                          "spot over the skin just around it"),
    "edge_band_mm": Param(float, 0.0, 100, "a spot's excess within this of its outline, "
                          "inside less outside, is at least min_contrast (0: no test), mm"),
    "haemoglobin_share": Param(float, 0.0, 10, "share of a spot's haemoglobin contrast "
                               "(where positive) taken from its pigment contrast before that "
                               "test: the pigment the unmixing may read in a red lesion"),
    "surround_mm": Param(float, 0.01, 100,
                         "Gaussian sigma of the skin just around a spot, mm"),
    "refine_margin_mm": Param(float, 0.0, 100, "found on a coarser copy, the spots are "
                              "measured again on the photo's pixels within this of them, mm"),
    "candidate_share": Param(float, 0.0, 1.0, "smallest share of the smallest spot's area "
                             "of a region of a coarser copy where spots are looked for"),
}


#: Levels at which the cores of a region that is no spot are tested again (:func:`spots_kept`).
CORE_LEVELS = 4


def _joined_across_hair(mask: np.ndarray, roi: np.ndarray, bridge_px: float) -> np.ndarray:
    """``mask`` with the gaps up to about ``2 bridge_px`` wide closed where they are thin
    parts of what is not skin (hair strands; the background is wide): the pieces of a spot
    cut by a hair become one region."""
    return bridge_gaps(mask, bridge_px, through=thin_parts(~roi, bridge_px))


class _PartOfPhoto(ColourPlanes):
    """The colour planes of a part (``box``, a pair of slices) of a photo's ``planes``,
    unmixed with the whole photo's channel weights: its densities are those of the whole
    photo's planes there."""

    def __init__(self, planes: ColourPlanes, box: tuple[slice, slice]):
        super().__init__(planes.srgb[box])
        self._get("channel_weights", lambda: planes.channel_weights)


def pigment_density(densities: np.ndarray) -> np.ndarray:
    """Optical density of pigment: melanin plus the grey term of the unmixing (OD units of
    the G channel), i.e. the density that haemoglobin does not explain.

    The unmixing's melanin direction (:data:`skinmetrics.colour.OD_MELANIN`) is that of
    epidermal melanin in light to dark skin. Dense or deep pigment is not: a dark nevus, a
    keratosis or a melanoma absorbs nearly evenly across the camera's bands (its optical
    density saturates and dermal melanin reads blue-grey, the Tyndall effect), so the
    unmixing puts most of its density in the grey term. A smooth change of illumination
    is grey too: the reference of unaffected skin (coarse and fine) takes it out.

    Parameters
    ----------
    densities : (H, W, 3) ndarray
        Melanin, haemoglobin and shading densities
        (:func:`skinmetrics.stages.base.skin_densities`).

    Returns
    -------
    (H, W) float32 ndarray
    """
    return densities[..., 0] + densities[..., 2]


def pigment_spot_mask(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                      scale: Scale, fringe: np.ndarray | None = None,
                      finer: tuple | None = None) -> np.ndarray:
    """Pigmented-spot segmentation (see the module text for the method) on the skin
    region ``roi``; the colour of the ``fringe`` of a hair is not used
    (:func:`skinmetrics.roi.skin_and_fringe`).

    Parameters
    ----------
    planes, roi, params, scale, fringe
        The photo (or a coarser copy of it: see ``finer``) and the layer's parameters.
    finer : tuple, optional
        The photo at its own, finer scale when ``planes`` is a coarser copy of it: its
        (planes, roi, fringe, scale). The copy shows where spots may be; they are found
        on the photo's own pixels there (:func:`refined_spot_mask`).

    Returns
    -------
    (H, W) bool ndarray
        True on pigmented spots, within ``roi`` (the photo's, with ``finer``).
    """
    if finer is None:
        excess, spread, _, haemoglobin = pigment_excess(planes, roi, params, scale, fringe)
        spots = outlined_regions(excess, roi, seed_levels(spread, params), params, scale)
        return spots_kept(spots, excess, haemoglobin, roi, params, scale, fringe)
    # on the copy a dot is one of its pixels narrower (see the module text)
    narrower = {**params, "dot_radius_mm": max(0.0, params["dot_radius_mm"]
                                               - 1 / scale.size_px_per_mm)}
    excess, spread, _, _ = pigment_excess(planes, roi, narrower, scale, fringe)
    return refined_spot_mask(finer, roi & (excess > seed_levels(spread, params)[1]), params)


def pigment_excess(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                   scale: Scale, fringe: np.ndarray | None = None
                   ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Pigment-density excess over the unaffected skin (the first steps of
    :func:`pigment_spot_mask`): the skin whose colour is trusted
    (:func:`skinmetrics.stages.base.trusted_skin`), its pigment density
    (:func:`pigment_density`) and that density's excess
    (:func:`skinmetrics.stages.base.excess_over_reference`).

    Returns
    -------
    excess : (H, W) float32 ndarray
        OD over the unaffected skin.
    spread : float
        The trusted skin's robust spread of that excess (OD), which raises the seed levels.
    trusted : (H, W) bool ndarray
    haemoglobin : (H, W) float32 ndarray
        The haemoglobin density (OD) of the same unmixing.
    """
    trusted = trusted_skin(planes, roi, params, scale, fringe)
    densities = skin_densities(planes, trusted, params, scale)
    density, haemoglobin = pigment_density(densities), densities[..., 1].copy()
    del densities  # not held while the excess is made
    excess, _, spread = excess_over_reference(density, roi, trusted, params, scale)
    return excess, spread, trusted, haemoglobin


def refined_spot_mask(finer: tuple, candidates: np.ndarray, params: Mapping[str, float]
                      ) -> np.ndarray:
    """Pigmented spots found on a photo's own pixels where a coarser copy shows they may
    be.

    Of the ``candidates``, the groups that could hold a spot (at least ``candidate_share``
    of the smallest spot's area) are taken with the skin within ``refine_margin_mm`` of
    them (the reach of the unaffected-skin reference); there the excess is taken again
    on the photo's pixels (:func:`pigment_excess`), the seed levels set on all those
    pixels' trusted skin (:func:`skinmetrics.stages.base.seed_levels`), and the spots
    outlined (:func:`skinmetrics.stages.base.outlined_regions`) and tested
    (:func:`spots_kept`) as on a photo measured whole. The edge of a spot, a small spot
    and the skin inside a dark spot (a dark nevus's texture is largely untrusted skin, and
    a copy's pixel holds more of it) are then as the photo shows them.

    Parameters
    ----------
    finer : tuple
        The photo at its own scale: its (planes, roi, fringe, scale), as
        :func:`pigment_spot_mask` takes them.
    candidates : (h, w) bool ndarray
        On the copy: where spots may be (excess above the lower seed level).
    params : mapping
        The layer's parameters.

    Returns
    -------
    (H, W) bool ndarray
        True on pigmented spots, within the photo's roi.
    """
    photo, skin, hair_fringe, scale = finer
    height, width = skin.shape
    ratio = width / candidates.shape[1]
    labels, n = connected_parts(candidates)
    least = params["candidate_share"] * np.pi * (scale.px(params["min_diameter_mm"]) / ratio
                                                 / 2) ** 2
    candidates = np.r_[False, np.bincount(labels.ravel(), minlength=n + 1)[1:] >= least][labels]
    margin = max(1, round(scale.px(params["refine_margin_mm"]) / ratio))
    groups, _ = connected_parts(cv2.dilate(candidates.view(np.uint8), square(margin)) > 0)
    parts = []
    for k, box in enumerate(ndi.find_objects(groups), start=1):
        if box is None:
            continue
        part = tuple(slice(round(b.start * ratio), min(size, round(b.stop * ratio)))
                     for b, size in zip(box, (height, width), strict=True))
        # the group's own pixels (the boxes of two groups may overlap)
        rows, cols = ((np.arange(b.start, b.stop) / ratio).astype(int) for b in part)
        own = groups[np.ix_(np.minimum(rows, groups.shape[0] - 1),
                            np.minimum(cols, groups.shape[1] - 1))] == k
        roi = skin[part]
        fringe = None if hair_fringe is None else hair_fringe[part]
        excess, _, trusted, haemoglobin = pigment_excess(_PartOfPhoto(photo, part), roi,
                                                         params, scale, fringe)
        parts.append((part, own, roi, fringe, trusted, excess, haemoglobin))
    out = np.zeros((height, width), bool)
    if not parts:
        return out
    levels = seed_levels(below_spread(np.concatenate(
        [e[o & r & t] for _, o, r, _, t, e, _ in parts]), np.True_), params)
    for part, own, roi, fringe, _, excess, haemoglobin in parts:
        spots = outlined_regions(excess, roi, levels, params, scale)
        out[part] |= own & spots_kept(spots, excess, haemoglobin, roi, params, scale, fringe)
    return out


def spots_kept(spots: np.ndarray, excess: np.ndarray, haemoglobin: np.ndarray,
               roi: np.ndarray, params: Mapping[str, float], scale: Scale,
               fringe: np.ndarray | None = None) -> np.ndarray:
    """The regions of ``spots`` (excess regions,
    :func:`skinmetrics.stages.base.outlined_regions`) that are spots:
    their small holes filled, at least ``min_diameter_mm`` across and ``min_roundness``
    round (the pieces cut by a hair tested as one; a region not round enough split at its
    waists and its parts tested), standing ``min_contrast`` above the skin just around
    them less ``haemoglobin_share`` of their haemoglobin contrast where that is positive,
    and bounded by an edge (``edge_band_mm``; see the module text).

    A region none of which is kept may hold a spot joined to skin that is evenly a little
    darker (a naevus on the flank of a wide, soft-edged mottle, whose excess reaches the
    lower seed level, so that the two together have no edge): its cores, where the excess
    (smoothed over ``peak_smooth_mm``) is at least a fraction of the region's own peak,
    are tested again in the same way, at fractions rising from ``edge_fraction`` towards
    1 in ``CORE_LEVELS`` steps: the core that holds the region's peak, unless it is within
    a spot kept at a lower level or touches the image's edge (where the light falling off
    over a corner of the photo is steepest, a core there would have an edge).

    Parameters
    ----------
    spots : (H, W) bool ndarray
    excess : (H, W) float32 ndarray
        Pigment density minus the unaffected skin's (OD).
    haemoglobin : (H, W) float32 ndarray
        Haemoglobin density (OD).
    roi : (H, W) bool ndarray
    params : mapping
    scale : Scale
    fringe : (H, W) bool ndarray, optional
        A hair's blurred fringe: not skin around a spot.

    Returns
    -------
    (H, W) bool ndarray
    """
    kept = _spots_tested(spots, excess, haemoglobin, roi, params, scale, fringe)
    labels, n = connected_parts(spots)
    # the regions none of which is kept, large enough to hold the smallest spot
    rejected = np.bincount(labels.ravel(), minlength=n + 1) >= np.pi / 4 * scale.px(
        params["min_diameter_mm"]) ** 2
    rejected[0] = False
    rejected[labels[kept]] = False
    if not rejected.any():
        return kept
    level = excess
    if params["peak_smooth_mm"] > 0:
        level = cv2.GaussianBlur(excess, (0, 0), scale.px(params["peak_smooth_mm"]))
    fraction = level / np.maximum(label_peaks(level, labels, n)[0], 1e-6)[labels]
    fraction[~rejected[labels]] = -1.0
    frame = np.zeros_like(kept)
    frame[[0, -1], :] = frame[:, [0, -1]] = True
    for least in np.linspace(params["edge_fraction"], 1.0, CORE_LEVELS + 1)[:-1]:
        cores = keep_seeded((fraction >= least) & ~kept, fraction >= 1.0)
        cores &= ~keep_seeded(cores, frame)
        if cores.any():
            kept |= _spots_tested(cores, excess, haemoglobin, roi, params, scale, fringe)
    return kept


def _spots_tested(spots: np.ndarray, excess: np.ndarray, haemoglobin: np.ndarray,
                  roi: np.ndarray, params: Mapping[str, float], scale: Scale,
                  fringe: np.ndarray | None) -> np.ndarray:
    """The regions of ``spots`` that pass the tests of :func:`spots_kept`."""
    min_diameter = scale.px(params["min_diameter_mm"])
    spots = clean_mask(spots, max_hole_px=np.pi * min_diameter**2, within=roi)
    # a spot cut by a hair is tested whole, the strand then left out again
    whole = _joined_across_hair(spots, roi, scale.px(params["dot_radius_mm"]))

    def spot_shaped(labels: np.ndarray) -> np.ndarray:
        shape = object_table(labels)
        keep = np.zeros(len(shape["area_px"]) + 1, bool)
        keep[1:] = (shape["diameter_px"] >= min_diameter) & (
            shape["roundness"] >= params["min_roundness"])
        return keep

    labels, _ = connected_parts(whole)
    keep = spot_shaped(labels)
    out = keep[labels]
    # a region that is not round may be touching round spots: split it at its waists and
    # keep the parts that are spots
    depth = scale.px(params["split_depth_mm"])
    for k, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None or keep[k] or np.count_nonzero(labels[box] == k) < min_diameter**2:
            continue
        region = np.pad(labels[box] == k, 1)  # background all round: true distances
        parts = split_touching(region, depth)[1:-1, 1:-1]
        out[box] |= spot_shaped(parts)[parts]
    out &= spots
    # and darker than the skin just around it
    labels, n = connected_parts(out)
    if n == 0:
        return out
    surround = roi if fringe is None else roi & ~fringe
    pigment, blood = object_contrast(labels, [excess, haemoglobin], surround,
                                     scale.px(params["surround_mm"]))
    contrast = pigment - params["haemoglobin_share"] * np.maximum(blood, 0.0)
    keep = contrast >= params["min_contrast"]
    # and bounded by an edge: light falling off over a corner only slopes into the skin
    if params["edge_band_mm"] > 0:
        step = edge_step(labels, excess, surround, scale.px(params["edge_band_mm"]))
        keep &= ~(step < params["min_contrast"])  # an object with no skin around: kept
    return np.r_[False, keep][labels]


def pigmentation_metrics(planes: ColourPlanes, roi: np.ndarray, mask: np.ndarray,
                         px_per_mm: float | None, reference_sigma_px: float,
                         bridge_px: float = 0.0) -> tuple[dict, dict]:
    """Whole-region indices and spot metrics (see the module text); the pieces of a spot
    cut by a hair (gaps up to about ``2 bridge_px`` across what is not skin) count once."""
    roi_px = int(np.count_nonzero(roi))
    metrics: dict = {}
    units: dict = {}
    unaffected = roi & ~mask
    # L* kept from the same conversion: the spots' darkness below needs it
    on_unaffected, on_roi = planes.lab_means(unaffected, roi, keep_lightness=True)
    metrics["pigment_reference_L_star"] = float(on_unaffected[0]) if unaffected.any() else None
    units["pigment_reference_L_star"] = "CIELAB L*"
    if roi_px:
        metrics["melanin_index_mean"] = float(planes.melanin_index[roi].mean())
        metrics["ita_deg_mean"] = float(ita_degrees(on_roi[0], on_roi[2]))
    else:
        metrics["melanin_index_mean"] = metrics["ita_deg_mean"] = None
    units.update(melanin_index_mean="MI (100 log10 1/R)", ita_deg_mean="degrees")
    n = connected_parts(_joined_across_hair(mask, roi, bridge_px))[1]
    metrics["pigment_spot_count"] = n
    units["pigment_spot_count"] = "count"
    area, area_units = area_metrics("pigment_spot", mask, roi_px, px_per_mm)
    metrics.update(area)
    units.update(area_units)
    if n:
        L = planes.lightness
        L_ref = local_reference(L, unaffected, reference_sigma_px)
        delta_L = float((L_ref[mask] - L[mask]).mean())  # the spots' pixels only
        metrics["pigment_spot_delta_L"] = delta_L
        metrics["pigmentation_index"] = metrics["pigment_spot_area_pct"] * delta_L / 10.0
    else:
        metrics["pigment_spot_delta_L"] = None
        metrics["pigmentation_index"] = 0.0 if roi_px else None
    units.update(pigment_spot_delta_L="CIELAB L*", pigmentation_index="% of skin x dL*/10")
    return metrics, units


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None, finer: tuple | None = None
           ) -> tuple[np.ndarray, dict[str, float | None]]:
    """The layer's lesions on the whole skin region (a mask or a label image) and the values
    estimated from the photo (none); ``fringe``: skin blurred by a hair, not used to detect
    them; ``finer``: the photo at its own scale when ``planes`` is a coarser copy, the
    lesions then refined and returned on its pixels (:func:`pigment_spot_mask`)."""
    return pigment_spot_mask(planes, roi, params, scale, fringe, finer), {}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside)."""
    here = roi if region is None else roi & region
    mask = found & here
    metrics, units = pigmentation_metrics(planes, here, mask, scale.px_per_mm,
                                          scale.px(params["reference_sigma_mm"]),
                                          scale.px(params["dot_radius_mm"]))
    return StageResult(mask, metrics, units)

