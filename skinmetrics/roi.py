"""Skin region of interest: the pixels every metric is computed over.

Skin is found in CIELAB by its hue angle and chroma (skin of every tone lies in a narrow
band of hue angles, h_ab ~ 20-70 degrees, with chroma above that of grey or black
backgrounds; Xiao et al. 2017) and a lightness of at least ``lightness_min`` and
``lightness_min_fraction`` of the photo's median skin L* (dark backdrops and deep shadow
can have a skin-like hue). A photo whose typical colour lies outside that band (or near its
grey edge) while few of its lit pixels are in it (a purple or grey rendering of a
smartphone close-up) has a colour cast: its typical colour is moved into the band and
every colour with it (:func:`colour_cast`). Then it is cleaned up:

1. clipped highlights (any sRGB channel at the clip level) and ``not_skin`` (pixels clipped
   in the photo as taken, before a colour correction; a chart; face features) are removed
   before the rest: their colour is lost or not skin's. Where noise takes a channel over
   the clip level only here and there, the skin between the clipped pixels is no more
   trustworthy (it is what the noise left below) and goes with them (``open_radius_mm``);
2. whatever the skin encloses is skin: a lesion of any size, hue or darkness (a black
   nevus, a seborrhoeic keratosis, a blue-grey melanoma) is surrounded by skin, a backdrop
   reaches the frame. Gaps in the skin as narrow as a hair (``hair_max_width_mm``), such as
   a hair from a nevus to the frame, do not open an enclosure;
3. hair: thin dark lines, i.e. pixels whose black top-hat of the luminance density
   (disk ``hair_max_width_mm``) stays above ``hair_tophat`` under a line opening of
   ``hair_min_length_mm`` in one of 24 directions (:func:`skinmetrics.filters.line_opening`;
   7.5 degrees apart). A sharp hair one or two pixels wide, bent or between two of those
   directions, holds no straight digital segment that long: it is found as a path of
   ``hair_min_length_mm`` (:func:`skinmetrics.filters.path_opening`) through pixels
   whose top-hat exceeds ``hair_tophat`` and the skin's median top-hat by
   ``hair_thin_noise`` robust standard deviations (a level above the photo's own noise
   and texture, which then do not join into paths); where such a path crosses a dark
   object at least three pixels wide (a crust), the object is left whole to the layers.
   Round dark objects (pores, crusts) and rows of them are shorter than the line and stay,
   faint thin hairs are found as well as dark ones. The strand itself, where that line
   top-hat is at least ``hair_edge_fraction`` of its local peak (the strand's half
   maximum, to about 1.5 %: the line openings run on 8-bit levels above
   ``hair_tophat_low``, :func:`skinmetrics.filters.levels_above`); where a thin hair runs
   across pixel boundaries it is fainter, a row of dark beads that would be taken for
   pores: there the strand is followed along the line
   top-hat down to ``hair_tophat_low`` (hysteresis from the parts above ``hair_tophat``).
   The strand and its blurred fringe (the rest of the line above ``hair_tophat``) stay
   skin, so that dense hair does not cut the region into pieces, but are returned as the
   *fringe*: skin whose colour is not trusted, which the stages leave out of detection and
   fill in from the skin around (a lesion under a hair is measured whole). White hair,
   thin bright lines found in the same way (top-hat of the negative density) that are
   also lighter than the skin's local level by ``hair_tophat`` (the skin between two dark
   hairs is a bright line only beside them), is part of the fringe too, and not glare;
   so is grey hair, which on dark skin is as light as the skin and only less red: thin
   lines under the same line opening whose black top-hat of -log10(R/G) (the erythema
   index, Diffey et al. [3], over -100) exceeds ``hair_tophat`` and the skin's median
   top-hat by ``hair_thin_noise`` robust standard deviations (a pore's shadow or a crust
   is no less red than the skin around it);
4. deep shadow: regions much darker than the surrounding skin (``L* < (1 - dark_fraction)
   * L*_ref``, ``L*_ref`` the local skin lightness), wider than a hair, larger than
   ``shadow_min_area_mm2`` and at the skin's edge (reaching the frame or what is not
   skin). A dark region that the skin surrounds is a lesion and stays; nostrils and eyes
   come in ``not_skin`` from the face's landmarks;
5. glare: skin brighter than its surroundings by more than ``glare_od`` in luminance
   density (-log10 Y; 0.1 = 26 % brighter), where surface reflection hides the skin's
   colour even before a channel clips. Shadow and glare are removed together with a
   margin of ``exclusion_margin_mm`` (their blurred fringe), which is also added to the
   hair's fringe;
6. skin fragments smaller than ``min_region_mm2`` (skin-coloured specks of background)
   are dropped.

References
----------
.. [1] Xiao K., Yates J.M., Zardawi F., et al. Characterising the variations in ethnic skin
       colours: a new calibrated data base for human skin. Skin Res Technol 2017;23:21-29.
.. [2] Kakumanu P., Makrogiannis S., Bourbakis N. A survey of skin-color modeling and
       detection methods. Pattern Recognit 2007;40:1106-1122.
.. [3] Diffey B.L., Oliver R.J., Farr P.M. A portable instrument for quantifying erythema
       induced by ultraviolet radiation. Br J Dermatol 1984;111:663-672.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from .colour import ColourPlanes, SRGBCodes, linear_to_lab, srgb_to_linear
from .filters import (
    black_tophat_od,
    connected_parts,
    disk,
    hysteresis,
    keep_seeded,
    levels_above,
    line_opening,
    local_reference,
    median,
    object_table,
    path_opening,
    robust_spread,
)
from .methods import Layer, MetricDefinition
from .stages.base import Param, Scale

__all__ = ["LAYER", "PARAMS", "skin_mask", "skin_and_fringe", "colour_cast", "clipped_mask",
           "skin_texture",
           "clipped_skin_fraction"]

#: What this module measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "roi", "Skin region (roi)",
    "Pixels with the CIELAB hue angle and chroma of skin (after taking out a colour "
    "cast the photo's typical colour shows), not clipped and not far darker than the "
    "photo's median skin, and everything this skin encloses (lesions of any size and "
    "darkness); large dark regions at the skin's edge (shadow) and glare are removed; "
    "hair (thin lines darker, lighter or less red than the skin along which a short "
    "segment fits, grey line opening) stays "
    "in the region but is not used to detect lesions. Every *_pct metric is a "
    "percentage of this region, but the crusts': of the region less the hair's fringe, "
    "where they are not sought (pores count over their own windows of it, see "
    "pore_density_per_cm2).",
    ("Xiao 2017", "Soille 2003", "Diffey 1984"),
    (MetricDefinition("roi_area_px", "Skin area (px)",
                      "px", "Area of the skin region in the photo's pixels",
                      "number of pixels of the roi mask", ("Xiao 2017",)),
     MetricDefinition("roi_area_mm2", "Skin area (mm\u00b2)", "mm2", "Area of the skin region",
                      "roi_area_px / px_per_mm^2 (empty without a scale)"),
     MetricDefinition("roi_hair_fringe_pct", "Hair fringe (% of skin)", "% of skin region",
                      "Share of the skin region in the blurred fringe of a hair, whose colour "
                      "is not trusted: pores and crusts are not sought there",
                      "100 * (number of pixels of the roi in hair fringe) / roi_area_px")),
    citations={
        "Xiao 2017": "Xiao K., Yates J.M., Zardawi F., et al. Characterising the variations "
                     "in ethnic skin colours: a new calibrated data base for human skin. Skin "
                     "Res Technol 2017;23:21-29.",
        "Soille 2003": "Soille P. Morphological Image Analysis, 2nd ed. Springer 2003.",
    },
    mask="roi", colour=(240, 228, 66))  # yellow

PARAMS = {
    "hue_min_deg": Param(float, -180, 180, "lowest CIELAB hue angle h_ab of skin"),
    "hue_max_deg": Param(float, -180, 180, "highest CIELAB hue angle h_ab of skin"),
    "chroma_min": Param(float, 0, 100, "lowest CIELAB chroma C*ab of skin"),
    "lightness_min": Param(float, 0, 100, "darkest L* that can be skin"),
    "lightness_min_fraction": Param(float, 0, 1, "darkest L* as a fraction of median skin L*"),
    "clip_level": Param(float, 0.5, 1.0, "sRGB value at which a channel counts as clipped"),
    "dark_fraction": Param(float, 0.0, 1.0, "dark object: L* below (1 - this) x local skin L*"),
    "reference_sigma_mm": Param(float, 0.1, 1000, "scale of the local skin lightness, mm"),
    "hair_min_length_mm": Param(float, 0.0, 1000, "dark objects longer than this are not skin, mm"),
    "hair_max_width_mm": Param(float, 0.0, 10, "widest hair strand, mm"),
    "hair_tophat": Param(float, 0.001, 5,
                         "luminance density by which hair is darker than skin (white "
                         "hair: lighter; grey hair: -log10(R/G) by which it is less red)"),
    "hair_tophat_low": Param(float, 0.001, 5, "line top-hat to which a hair strand is "
                             "followed (at most hair_tophat: a higher value is taken as it)"),
    "hair_thin_noise": Param(float, 0.0, 100,
                             "thin or grey hair: top-hat this many noise SDs above the "
                             "skin's median"),
    "hair_edge_fraction": Param(float, 0.0, 1.0,
                                "strand edge at this fraction of its peak top-hat"),
    "cast_max_skin_fraction": Param(float, 0.0, 1.0,
                                    "a photo with less skin-coloured lit pixels than this "
                                    "has a colour cast"),
    "shadow_min_area_mm2": Param(float, 0.0, 1e6, "dark regions larger than this are shadow"),
    "glare_od": Param(float, 0.0, 5, "glare: luminance density this far below local skin"),
    "exclusion_margin_mm": Param(float, 0.0, 10,
                                 "margin removed around shadow and glare, added to a hair's "
                                 "fringe, mm"),
    "clipped_warning_fraction": Param(float, 0.0, 1.0,
                                      "warn when this fraction of the skin (of a "
                                      "follow-up: of the compared skin) is clipped"),
    "open_radius_mm": Param(float, 0.0, 10, "opening radius removing skin-coloured specks, mm"),
    "min_region_mm2": Param(float, 0.0, 1e6, "skin parts smaller than this are dropped, mm2"),
    "min_skin_fraction": Param(float, 0.0, 1.0, "a photo with less skin than this share of "
                               "its frame is not measured"),
    "cast_hue_margin_deg": Param(float, 0.0, 180, "a cast's colour is at most this far outside "
                                 "the skin hue band, degrees"),
    "cast_chroma_min": Param(float, 0.0, 100, "...and has at least this chroma"),
    "cast_skin_region_fraction": Param(float, 0.0, 1.0, "a skin-coloured piece this share of "
                                       "the lit pixels is the skin"),
    "min_texture_l_star": Param(float, 0.0, 100, "a photo whose skin region has less lightness "
                                "texture than this (L*, see skin_texture) is not skin"),
}


def clipped_mask(srgb: np.ndarray | SRGBCodes, clip_level: float) -> np.ndarray:
    """Pixels with any sRGB channel at or above ``clip_level`` (their colour is unknown)."""
    if isinstance(srgb, SRGBCodes):
        return srgb.any_at_least(clip_level)
    clipped = srgb[..., 0] >= clip_level
    for channel in range(1, srgb.shape[2]):
        clipped |= srgb[..., channel] >= clip_level
    return clipped


def _skin_hued(a: np.ndarray, b: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Pixels whose CIELAB hue angle h_ab = atan2(b*, a*) (-180-180 degrees) lies within
    ``hue_min_deg``..``hue_max_deg`` and whose chroma C*ab = hypot(a*, b*) is at least
    ``chroma_min``. The angle is tested by which side of the range's two edges (a*, b*)
    lies on, the sign of a cross product, and the chroma by its square: no arctangent nor
    root per pixel, the same pixels but within float rounding of an edge."""
    low, high = np.radians(params["hue_min_deg"]), np.radians(params["hue_max_deg"])
    chroma = params["chroma_min"]
    skin = a * a + b * b >= np.float32(chroma * chroma)  # chroma_min >= 0 (PARAMS)
    if high < low:
        return np.zeros(np.shape(a), bool)

    def left_of(angle: float) -> np.ndarray:  # (a, b) x (cos, sin) of the edge direction
        cos, sin = np.round([np.cos(angle), np.sin(angle)], 12).astype(np.float32)  # sin pi: 0
        return cos * b - sin * a

    if high - low <= np.pi:  # a range of at most a half turn: inside both edges
        skin &= left_of(low) >= 0
        skin &= left_of(high) <= 0
    else:  # wider: not strictly inside the rest of the turn
        skin &= ~((left_of(high) > 0) & (left_of(low) < 0))
    if not low <= 0 <= high:  # a grey's hue is 0
        skin &= (a != 0) | (b != 0)
    return skin


def _skin_coloured(lab: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Pixels whose CIELAB hue angle, chroma and lightness are skin's (see the module text;
    the lightness relative to the photo's typical skin is not tested here)."""
    return (_skin_hued(lab[..., 1], lab[..., 2], params)
            & (lab[..., 0] >= params["lightness_min"]))


def colour_cast(lab: np.ndarray | ColourPlanes, usable: np.ndarray,
                params: Mapping[str, float], hued: np.ndarray | None = None
                ) -> tuple[float, float]:
    """The (a*, b*) offset of a photo whose skin is not skin-coloured (a colour cast).

    A close-up of skin shows mostly skin: when less than ``cast_max_skin_fraction`` of the
    photo's lit pixels have a skin hue and chroma and the photo's dominant colour (the
    median a*, b* of its lit pixels) is outside the skin hue band or has less chroma than
    ``2 * chroma_min``, that colour is taken to be its skin, shifted by a cast of the white
    balance (a purple or grey rendering of a smartphone photo). Not so when that colour is
    far from skin's (hue more than ``cast_hue_margin_deg`` outside the band, or chroma
    below ``cast_chroma_min``: a blue, green or grey backdrop) while the photo holds a
    skin-coloured region of its own (one connected piece of at least
    ``cast_skin_region_fraction`` of the lit pixels): that region is the skin. The cast is
    the shift that brings that colour to the middle of the skin hue band, at its own chroma
    or at least ``2 * chroma_min``; the photo's colours are tested for skin after subtracting it, a
    correction of the von Kries kind made in CIELAB with skin as the known reference [3]_.

    Parameters
    ----------
    lab : (H, W, 3) ndarray or ColourPlanes
        CIELAB of the photo, or its planes (whose CIELAB is then made only when the photo
        may have a cast: fewer skin-hued pixels than ``cast_max_skin_fraction``; give
        ``hued``).
    usable : (H, W) bool ndarray
        Lit pixels that are not clipped nor known not to be skin.
    params : mapping
        The ``[roi]`` section of a pipeline.
    hued : (H, W) bool ndarray, optional
        The photo's pixels with a skin hue and chroma, as they are (no offset subtracted),
        when already made.

    Returns
    -------
    (float, float)
        Offset (da*, db*) to subtract; (0, 0) when the photo's skin has its colour.

    References
    ----------
    .. [3] Bianco S., Schettini R. Adaptive color constancy using faces. IEEE Trans
           Pattern Anal Mach Intell 2014;36:1505-1518.
    """
    cielab = lab.lab if isinstance(lab, ColourPlanes) and hued is None else lab
    if hued is None:
        hued = _skin_hued(cielab[..., 1], cielab[..., 2], params)
    hued = hued[usable]
    if hued.size == 0 or hued.mean() >= params["cast_max_skin_fraction"]:
        return 0.0, 0.0
    if isinstance(cielab, ColourPlanes):  # made only now that a cast is possible
        cielab = cielab.lab
    a, b = cielab[..., 1][usable], cielab[..., 2][usable]
    a_med, b_med = float(median(a)), float(median(b))
    chroma = max(float(np.hypot(a_med, b_med)), 2.0 * params["chroma_min"])
    firm = {**params, "chroma_min": 2.0 * params["chroma_min"]}
    if _skin_hued(np.array([a_med]), np.array([b_med]), firm)[0]:
        return 0.0, 0.0  # the typical colour is well inside the band: no cast
    margin = params["cast_hue_margin_deg"]
    near = {**params, "hue_min_deg": params["hue_min_deg"] - margin,
            "hue_max_deg": params["hue_max_deg"] + margin, "chroma_min": params["cast_chroma_min"]}
    if not _skin_hued(np.array([a_med]), np.array([b_med]), near)[0]:
        # blue, green or grey: a backdrop, unless the photo has no skin-coloured region
        region = np.zeros(usable.shape, np.uint8)
        region[usable] = hued
        n, _, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        if n > 1 and stats[1:, cv2.CC_STAT_AREA].max() >= (params["cast_skin_region_fraction"]
                                                            * a.size):
            return 0.0, 0.0
    hue = np.radians(0.5 * (params["hue_min_deg"] + params["hue_max_deg"]))
    return a_med - chroma * float(np.cos(hue)), b_med - chroma * float(np.sin(hue))


#: long side (px) of the frame :func:`skin_texture` is measured on, and its band (sigmas, px)
TEXTURE_FRAME_PX = 600
TEXTURE_SIGMAS_PX = (2.0, 8.0)


def skin_texture(srgb: np.ndarray, roi: np.ndarray) -> float:
    """Lightness texture of a skin region: what tells skin from a uniform surface.

    Skin photographed at any scale shows structure in its lightness (pores, furrows, hairs,
    lesions, the relief of a face); a wall, a sheet of paper or a backdrop of one colour
    shows only sensor noise and a smooth fall-off of light. The photo is reduced to
    ``TEXTURE_FRAME_PX`` on its long side, and L* is band-passed by a difference of
    Gaussians (sigmas ``TEXTURE_SIGMAS_PX``: noise is averaged out by the first, the fall-off
    of light removed by the second); the texture is the robust standard deviation
    (1.4826 x the median absolute deviation) of the band over the skin region.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        The photo (sRGB in [0, 1]).
    roi : (H, W) bool ndarray
        Its skin region.

    Returns
    -------
    float
        Texture in L* units; nan when the region is empty.

    References
    ----------
    .. [4] Marr D., Hildreth E. Theory of edge detection. Proc R Soc Lond B 1980;207:187-217
           (the difference of Gaussians as a band-pass filter).
    """
    factor = min(1.0, TEXTURE_FRAME_PX / max(srgb.shape[:2]))
    small = (srgb.resized(factor) if isinstance(srgb, SRGBCodes) and factor < 1.0 else
             cv2.resize(np.asarray(srgb, np.float32), (0, 0), fx=factor, fy=factor,
                        interpolation=cv2.INTER_AREA))
    size = small.shape[1::-1]
    lightness = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)[..., 0]
    fine, coarse = (cv2.GaussianBlur(lightness, (0, 0), s) for s in TEXTURE_SIGMAS_PX)
    inside = cv2.resize(roi.view(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    band = (fine - coarse)[inside]
    if band.size == 0:
        return float("nan")
    return 1.4826 * float(median(np.abs(band - median(band))))


def clipped_skin_fraction(srgb: np.ndarray, roi: np.ndarray, clipped: np.ndarray,
                          params: Mapping[str, float], scale: Scale) -> float:
    """Share of a photo's skin that is lost to clipping (over-exposure).

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        The photo (sRGB in [0, 1], after any colour correction).
    roi : (H, W) bool ndarray
        Its skin region (:func:`skin_mask`), which leaves clipped pixels out.
    clipped : (H, W) bool ndarray
        Pixels clipped in the photo as taken (:func:`clipped_mask`).
    params : mapping
        The ``[roi]`` section of a pipeline.
    scale : Scale
        Turns the mm sizes into pixels.

    Returns
    -------
    float
        Clipped skin / all skin. Clipped skin: the clipped pixels whose colour is still
        skin's (with one or two channels at the clip level skin keeps its hue; a white
        backdrop or a highlight clipped in every channel has no chroma), joined to the skin
        region (within ``open_radius_mm`` and ``exclusion_margin_mm`` of it: the skin
        between clipped pixels and the glare margin around them are left out of it too).
        All skin: ``roi`` and the clipped skin, the gaps between them (that skin left out)
        closed. 0 when no pixel is clipped.
    """
    roi_px = int(np.count_nonzero(roi))
    if not clipped.any() or roi_px == 0:
        return 0.0
    coloured = np.zeros_like(clipped)
    rgb = np.ascontiguousarray(srgb[clipped], dtype=np.float32)[:, None, :]
    coloured[clipped] = _skin_coloured(linear_to_lab(srgb_to_linear(rgb))[:, 0], params)
    reach = scale.px(params["open_radius_mm"] + params["exclusion_margin_mm"]) + 1.0
    near = cv2.dilate(roi.view(np.uint8), disk(reach))
    lost = coloured & keep_seeded(coloured | near.view(bool), roi) & ~roi
    # the skin left out between and around clipped pixels was skin too
    whole = cv2.morphologyEx((roi | lost).view(np.uint8), cv2.MORPH_CLOSE, disk(reach))
    return int(np.count_nonzero(lost)) / max(int(np.count_nonzero(whole)), roi_px)


def _objects_where(mask: np.ndarray, prop: str, minimum: float) -> np.ndarray:
    """Connected objects of ``mask`` whose :func:`object_table` column ``prop`` exceeds
    ``minimum``."""
    labels, n = connected_parts(mask)
    if n == 0:
        return mask
    big = np.zeros(n + 1, bool)
    big[1:] = object_table(labels)[prop] > minimum
    return big[labels]


def _frame(shape: tuple[int, int]) -> np.ndarray:
    """The one-pixel edge of an image of ``shape``."""
    edge = np.ones(shape, bool)
    edge[1:-1, 1:-1] = False
    return edge


def _touching(mask: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Connected objects of ``mask`` (8-connectivity) that touch ``other`` (a pixel of
    theirs is in ``other`` or next to it)."""
    return keep_seeded(mask, cv2.dilate(other.view(np.uint8), np.ones((3, 3), np.uint8)) > 0)


def _thin_lines(tophat: np.ndarray, skin: np.ndarray, length_px: float, floor: float,
                n_sd: float) -> np.ndarray:
    """Thin dark lines, however curved or oriented, at least ``length_px`` long.

    Pixels of ``tophat`` above the skin's median by ``n_sd`` times its robust spread
    (:func:`skinmetrics.filters.robust_spread`, over ``skin`` at a regular stride, at most
    about 200 000 pixels), and by at least ``floor``, that lie on a path of ``length_px``
    through such pixels (:func:`skinmetrics.filters.path_opening`). The level rises with
    the photo's own noise and texture, so that the skin's speckle does not join into paths;
    a hair one pixel wide, which a straight segment of that length between its sampled
    directions does not fit in, is followed whole. A path may step into a dark object it
    touches or crosses: the parts of the top-hat above ``floor`` at least three pixels wide
    (an opening by a 3 x 3 square: wider than such a line), grown by a pixel, are left out,
    so that a crust on a hair stays whole.

    Parameters
    ----------
    tophat : (H, W) float32 ndarray
        Black top-hat of the luminance density.
    skin : (H, W) bool ndarray
        Skin-coloured pixels (the noise is measured over them).
    length_px : float
        Shortest line, px.
    floor : float
        Least top-hat of a line.
    n_sd : float
        Least top-hat above the skin's median, in robust standard deviations.

    Returns
    -------
    (H, W) bool ndarray
    """
    square = np.ones((3, 3), np.uint8)
    wide = cv2.morphologyEx((tophat > floor).view(np.uint8), cv2.MORPH_OPEN, square)
    return (path_opening(tophat > _above_noise(tophat, skin, floor, n_sd), length_px)
            & (cv2.dilate(wide, square) == 0))


def _above_noise(tophat: np.ndarray, skin: np.ndarray, floor: float, n_sd: float) -> float:
    """The level ``n_sd`` robust standard deviations (:func:`skinmetrics.filters.robust_spread`)
    above the median of ``tophat`` over ``skin`` (at a regular stride, at most about
    200 000 pixels), and at least ``floor``: what the photo's own noise and texture
    reach."""
    step = max(1, math.isqrt(int(np.count_nonzero(skin)) // 200_000))
    sample = tophat[::step, ::step][skin[::step, ::step]]
    if not sample.size:
        return floor
    return max(floor, float(median(sample)) + n_sd * robust_spread(sample))


def _enclosed_by(skin: np.ndarray, bridge_px: float) -> np.ndarray:
    """``skin`` with everything it encloses: the pixels not connected to the image's edge
    through what is not skin, once gaps up to ``bridge_px`` wide in the skin (a hair
    crossing from a lesion to the frame) are closed.

    Parameters
    ----------
    skin : (H, W) bool ndarray
        Skin-coloured pixels.
    bridge_px : float
        Radius of the disk closing the gaps, px.

    Returns
    -------
    (H, W) bool ndarray
        ``skin`` and its holes (lesions), not the background around it, which keeps its
        own outline (the closing is undone there by a dilation of the same disk).
    """
    k = disk(bridge_px)
    closed = cv2.morphologyEx(skin.view(np.uint8), cv2.MORPH_CLOSE, k).view(bool)
    outside = _touching(~closed, _frame(skin.shape))
    outside = cv2.dilate(outside.view(np.uint8), k).view(bool)
    return skin | ~outside


def skin_mask(planes: ColourPlanes, params: Mapping[str, float], scale: Scale,
              not_skin: np.ndarray | None = None) -> np.ndarray:
    """Skin region of a photograph: the first result of :func:`skin_and_fringe`."""
    return skin_and_fringe(planes, params, scale, not_skin)[0]


def skin_and_fringe(planes: ColourPlanes, params: Mapping[str, float], scale: Scale,
                    not_skin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Skin region of a photograph, and the part of it blurred by hair.

    Parameters
    ----------
    planes : ColourPlanes
        The photograph (its CIELAB is forgotten once used, :meth:`ColourPlanes.forget`).
    params : mapping
        The ``[roi]`` section of a pipeline (see :data:`PARAMS`).
    scale : Scale
        Turns the mm sizes into pixels.
    not_skin : (H, W) bool ndarray, optional
        Pixels known not to be skin (clipped in the photo as taken, before a colour
        correction brought them below the clip level; a colour chart; face features such as
        eyes and lips): left out as clipped
        pixels are, before the clean-up, so that a photo gives the same skin region before
        and after its colour correction.

    Returns
    -------
    roi : (H, W) bool ndarray
        True on skin.
    fringe : (H, W) bool ndarray
        True on the skin of ``roi`` within the blurred fringe of a hair strand (see the
        module text): measured over, but its colour is not trusted.
    """
    p = params
    # L* and the skin hue test a band at a time: no whole CIELAB unless the photo may
    # have a colour cast
    L, hued = planes.of_lab(lambda lab: lab[..., 0],
                            lambda lab: _skin_hued(lab[..., 1], lab[..., 2], p))
    clipped = clipped_mask(planes.srgb, p["clip_level"])
    if not_skin is not None:
        clipped |= not_skin
    lit = (L >= p["lightness_min"]) & ~clipped
    if lit.any():
        lit &= L >= p["lightness_min_fraction"] * float(median(L[lit]))
    da, db = colour_cast(planes, lit, p, hued)
    if da or db:
        hued = _skin_hued(planes.lab[..., 1] - da, planes.lab[..., 2] - db, p)
    hued &= ~clipped
    colour_ok = hued & (L >= p["lightness_min"])
    if colour_ok.any():  # far darker than the typical skin of this photo: shadow, backdrop
        colour_ok &= L >= p["lightness_min_fraction"] * float(median(L[colour_ok]))
    if p["open_radius_mm"] > 0:
        k = disk(scale.px(p["open_radius_mm"]))
        colour_ok = cv2.morphologyEx(colour_ok.view(np.uint8), cv2.MORPH_OPEN, k).astype(bool)
    hair_width = scale.px(p["hair_max_width_mm"])
    # everything the skin encloses is skin (a lesion of any colour, size, darkness)
    skin = _enclosed_by(colour_ok, hair_width) & ~clipped

    L_ref = local_reference(L, colour_ok, scale.px(p["reference_sigma_mm"]))
    lum = planes.luminance_density
    dark = (L < (1.0 - p["dark_fraction"]) * L_ref).view(np.uint8)
    # each full-size plane is freed once used (the region's peak memory); CIELAB too
    del L, L_ref
    planes.forget("lab")
    # deep shadow: dark regions wider than a hair and large...
    blobs = cv2.morphologyEx(dark, cv2.MORPH_OPEN, disk(scale.px(p["hair_max_width_mm"]) / 2))
    not_skin = _objects_where(blobs.astype(bool), "area_px", scale.px2(p["shadow_min_area_mm2"]))
    # ...at the skin's edge (reaching the frame or what is not skin): inside, a dark lesion
    not_skin = _touching(not_skin, ~skin | _frame(skin.shape))
    # hair: thin dark lines along which a segment of hair_min_length_mm fits, or which
    # hold a path that long well above the skin's noise (a hair one pixel wide)
    tophat = black_tophat_od(lum, hair_width)
    hair_length = scale.px(p["hair_min_length_mm"])
    # the top-hat's levels above hair_tophat_low, hair_tophat on a level's edge (k)
    levels, value, k = levels_above(tophat, min(p["hair_tophat_low"], p["hair_tophat"]),
                                    p["hair_tophat"])
    line = line_opening(levels, hair_length, n_angles=24)
    del levels
    hair = (line > k) | _thin_lines(tophat, colour_ok, hair_length, p["hair_tophat"],
                                    p["hair_thin_noise"])
    del tophat
    followed = hysteresis(line, 0, k)
    peak = cv2.dilate(np.where(followed, line, np.uint8(0)), disk(hair_width))
    strand = followed & (value[line] >= p["hair_edge_fraction"] * value[peak])
    del line, peak
    # white and grey hair: thin lines, found as dark hair is, either lighter than the
    # skin's level (the skin between two dark hairs is not) or less red than the skin
    # around, above its noise (a lower erythema index: grey hair on dark skin, as light
    # as the skin); no glare, part of the fringe
    redness = np.multiply(planes.erythema_index, np.float32(-0.01))  # -log10(R/G), OD
    planes.forget("erythema_index")  # made again where a stage needs it: not held here
    less_red = black_tophat_od(redness, hair_width)
    del redness
    pale = less_red > _above_noise(less_red, colour_ok, p["hair_tophat"],
                                   p["hair_thin_noise"])
    del less_red
    lum_ref = local_reference(lum, colour_ok & ~dark.astype(bool),
                              scale.px(p["reference_sigma_mm"]))
    pale |= (black_tophat_od(-lum, hair_width) > p["hair_tophat"]) & (lum < lum_ref
                                                                       - p["hair_tophat"])
    pale = line_opening(pale, hair_length, n_angles=24)
    not_skin |= (lum < lum_ref - p["glare_od"]) & ~pale
    del lum_ref
    hair |= pale
    if p["exclusion_margin_mm"] > 0:
        margin = disk(scale.px(p["exclusion_margin_mm"]))
        not_skin = cv2.dilate(not_skin.view(np.uint8), margin).view(bool)
        hair = cv2.dilate(hair.view(np.uint8), margin).view(bool)
    skin &= ~not_skin
    lab_skin, n = connected_parts(skin, connectivity=4)
    if n > 1:
        sizes = np.bincount(lab_skin.ravel())
        sizes[0] = 0
        keep = sizes >= scale.px2(p["min_region_mm2"])
        keep[0] = False
        skin = keep[lab_skin]
    return skin, (hair | strand) & skin
