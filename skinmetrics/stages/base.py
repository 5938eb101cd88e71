"""What the stages share: parameter specifications, the image scale, the stage result, and
the small-dark-object detector of the microcrust and pore stages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import Delaunay, QhullError, cKDTree
from scipy.stats import binom

from ..colour import ColourPlanes, resized_photo
from ..filters import (
    area_metrics,
    below_spread,
    connected_parts,
    contrast_to_reference,
    dark_objects,
    disk,
    hysteresis,
    keep_seeded,
    label_type,
    local_half_maximum,
    local_reference,
    median,
    object_contrast,
    object_table,
    renumbered,
    robust_spread,
    small_dots,
)
from ..lattice import NEIGHBOURS, TOLERANCE, lattice_neighbours, lattice_vectors

__all__ = ["Param", "Scale", "StageResult", "coarser_copy", "EXCESS_PARAMS", "trusted_skin",
           "density_excess", "seed_levels", "outlined_regions", "crosstalk",
           "DARK_OBJECT_PARAMS", "GRID_PARAMS", "crust_like", "on_grid", "dark_objects_in_skin",
           "keep_by_size_and_shape", "restrict_labels", "object_metrics", "summarise_objects",
           "beside_hair", "untouched", "hair_distance", "counting_windows_px",
           "WORK_SCALE_PARAM"]


@dataclass(frozen=True)
class Param:
    """Specification of one pipeline parameter: its type, allowed range and meaning.

    The *values* live in the pipeline TOML files; the code holds only what is valid.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def check(self, value) -> str | None:
        """Return an error text when ``value`` is not valid, else None."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) != (self.kind is bool):
            return f"must be {self.kind.__name__} (got {value!r})"
        if self.low is not None and value < self.low:
            return f"must be >= {self.low} (got {value!r})"
        if self.high is not None and value > self.high:
            return f"must be <= {self.high} (got {value!r})"
        return None


@dataclass(frozen=True)
class Scale:
    """Image scale.

    Attributes
    ----------
    px_per_mm : float or None
        The photo's real scale; None when unknown (then every mm-based metric is None).
    size_px_per_mm : float
        Scale used to turn the pipeline's mm size limits into pixels: the real one when
        known, else the pipeline's ``assumed_px_per_mm``.
    """

    px_per_mm: float | None
    size_px_per_mm: float

    def px(self, length_mm: float) -> float:
        """A length in mm as pixels at :attr:`size_px_per_mm`."""
        return float(length_mm) * self.size_px_per_mm

    def px2(self, area_mm2: float) -> float:
        """An area in mm^2 as pixels at :attr:`size_px_per_mm`."""
        return float(area_mm2) * self.size_px_per_mm**2


@dataclass
class StageResult:
    """A stage's mask, metrics and the unit of every metric (None = not measurable)."""

    mask: np.ndarray
    metrics: dict[str, float | int | None]
    units: dict[str, str] = field(default_factory=dict)


def coarser_copy(planes: ColourPlanes, roi: np.ndarray, fringe: np.ndarray | None,
                 scale: Scale, limit: float
                 ) -> tuple[ColourPlanes, np.ndarray, np.ndarray | None, Scale]:
    """The photo at ``limit`` px/mm (by its sizing scale) for a search whose lesions need no
    finer one (a stage's ``work_px_per_mm``): colour planes of an area-resampled copy, the
    skin region where at least half of a pixel is skin, the hair fringe where any is, and
    the copy's scale."""
    height, width = roi.shape
    size = (max(1, round(width * limit / scale.size_px_per_mm)),
            max(1, round(height * limit / scale.size_px_per_mm)))
    ratio = size[0] / width

    def share(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)

    return (ColourPlanes(resized_photo(planes.srgb, size)),
            share(roi) >= 0.5, None if fringe is None else share(fringe) > 0,
            Scale(scale.px_per_mm and scale.px_per_mm * ratio, scale.size_px_per_mm * ratio))


#: Parameters of the small-dark-object detector (microcrust and pore stages).
DARK_OBJECT_PARAMS = {
    "tophat_radius_mm": Param(float, 0.01, 100, "top-hat disk radius (> largest object), mm"),
    "threshold": Param(float, 0.0, 5, "top-hat optical density that seeds an object"),
    "threshold_low": Param(float, 0.0, 5, "top-hat density to which an object grows"),
    "edge_fraction": Param(float, 0.0, 1.0, "edge at this fraction of the object's peak"),
    "min_prominence": Param(float, 0.0, 5, "peak height above the saddle to a neighbour"),
    "min_snr": Param(float, 0.0, 100, "peak height above the skin's top-hat, in noise SDs"),
    "min_diameter_mm": Param(float, 0.0, 100, "smallest object (equivalent diameter), mm"),
    "max_diameter_mm": Param(float, 0.0, 100, "largest object (equivalent diameter), mm"),
    "min_roundness": Param(float, 0.0, 1.0, "smallest minor/major axis ratio"),
}


def dark_objects_in_skin(planes: ColourPlanes, roi: np.ndarray,
                         params: Mapping[str, float], scale: Scale,
                         fringe: np.ndarray | None = None) -> np.ndarray:
    """Small dark objects (:func:`skinmetrics.filters.dark_objects` on the luminance density
    -log10 Y, with the noise test ``min_snr``); the ``fringe`` of a hair (darkened by its
    blur) is not searched.

    Returns
    -------
    (H, W) int32 ndarray
        Labels 1..N, 0 elsewhere.
    """
    if fringe is not None:
        roi = roi & ~fringe
    return dark_objects(planes.luminance_density, roi, scale.px(params["tophat_radius_mm"]),
                        params["threshold_low"], params["threshold"], params["edge_fraction"],
                        params["min_prominence"], params["min_snr"])


#: Parameters of the laser-grid test (microcrust and pore stages).
GRID_PARAMS = {
    "grid_pitch_min_mm": Param(float, 0.01, 100, "smallest spacing of a laser grid, mm"),
    "grid_pitch_max_mm": Param(float, 0.01, 100, "largest spacing of a laser grid, mm"),
    "grid_contrast": Param(float, 0.0, 1e3, "a grid step's pair count over the chance "
                           "level, Poisson SDs"),
    "grid_neighbours": Param(int, 1, NEIGHBOURS,
                             "least lattice neighbours (of 8) of a dot on the grid"),
    "grid_chance": Param(float, 0.0, 1.0, "a dot is on the grid only with a neighbour "
                         "count that scattered dots reach with at most this probability"),
    "grid_darkness_fraction": Param(float, 0.0, 1.0, "a dot on the grid is at least this "
                                    "fraction of the grid's median darkness"),
    "grid_site_pitches": Param(float, 0.0, 100, "a dot as dark as the grid's at a site of the "
                               "grid marked by the dots on it within this many pitches is on "
                               "it too (0: none)"),
    "grid_min_objects": Param(int, 0, 1_000_000, "too dense for a grid: searched again among "
                              "the more significant half, quarter, ... while this many remain "
                              "(0: never)"),
}


def crust_like(labels: np.ndarray, planes: ColourPlanes, roi: np.ndarray, sigma_px: float,
               min_redness: float, min_darkness: float,
               grid: Mapping[str, float] | None = None, scale: Scale | None = None,
               host: np.ndarray | None = None, host_surround_px: float = 0.0,
               host_texture_ratio: float = 0.0) -> np.ndarray:
    """Which small dark objects are crust material rather than the shadow of a pore.

    A pore is a shadow: it takes a fraction of the light from the skin it opens in and
    keeps its colour, and pores lie where they happen to be. A crust is a layer of dried
    blood and exudate over the skin, left where a fractional laser's beam struck:

    * red-brown: its mean erythema index EI = 100 log10(R/G) (Diffey, Oliver & Farr, Br J
      Dermatol 1984;111:663) exceeds the skin's around it by at least ``min_redness``;
    * or brown to black: its mean luminance density -log10 Y exceeds the skin's by at
      least ``min_darkness`` (0.3 OD: half the light), more than a pore's shadow takes;
    * or, with ``grid`` (:data:`GRID_PARAMS`), it lies on the laser's grid: the objects'
      centres form a regular lattice (:func:`skinmetrics.lattice.lattice_vectors`), at
      least ``grid_neighbours`` of its eight lattice neighbours (±a, ±b, ±(a + b),
      ±(a - b)) are objects (:func:`skinmetrics.lattice.lattice_neighbours`), and more
      than a scattered object has by chance with probability ``grid_chance`` (each site
      holds an object within the tolerance with probability p = 1 - exp(-density x area),
      so the count is binomial, 8 sites; where even eight is that likely, the objects are
      too dense for their place to tell crusts, and the grid is searched among the more
      significant ones, :func:`on_grid`),
      the darkest object within the tolerance of its site (a crust's fragments and faint
      rim are not crusts of their own), and at least ``grid_darkness_fraction`` as dark
      as the median of the objects on the grid (a pore near a grid site is fainter than
      the crusts around it). On dark skin a brown crust
      takes no more light than a pore's shadow on light skin; its place tells it.

    Inside a spot of ``host`` (pigmented spots: a naevus's globules are as dark as crust
    material and, by their melanin, as red) where no object lies on the grid (untreated
    skin, or a grid not found), an object with most of its pixels there is the spot's own,
    not a crust. In a spot the grid crosses (a lasered lentigo or naevus), the objects off
    the grid are the spot's own texture too where, with ``host_texture_ratio``, crust-like
    objects lie in it more than that many times as densely as on the skin within
    ``host_surround_px`` around it, which the same laser struck (:func:`_textured_spots`).

    An object of a single pixel (on a photo so coarse that the smallest object kept is a
    pixel across) is not judged by its colour, which is that pixel's noise and, along a
    hair too faint to be found, the hair's; only its place on the grid tells it.

    The skin around an object is the Gaussian-weighted mean (``sigma_px``) of ``roi``
    pixels of no object (:func:`skinmetrics.filters.object_contrast`). EI uses only the R
    and G channels, which stay reliable on dark skin where the blue channel is near the
    noise floor.

    Returns
    -------
    (N + 1,) bool ndarray
        Indexed by label (index 0, the background, is False).
    """
    n = int(labels.max())
    if n == 0:
        return np.zeros(1, bool)
    at = np.flatnonzero(labels)  # the objects' pixels only
    redness, darkness = object_contrast(
        labels, [planes.erythema_index, planes.luminance_density], roi, sigma_px, at)
    crust = (redness >= min_redness) | (darkness >= min_darkness)
    rows, cols = np.divmod(at, labels.shape[1])
    which = labels.ravel()[at]
    area = np.bincount(which, minlength=n + 1)[1:]
    crust &= area > 1  # one pixel's colour is its noise (and a faint hair's beads)
    centres = np.column_stack([np.bincount(which, c, n + 1)[1:] for c in (rows, cols)]
                              ) / np.maximum(area, 1)[:, None]
    on = site = np.zeros(n, bool)
    if grid is not None and scale is not None:
        present = area > 0  # a label may be missing (its object removed)
        on, site = on_grid(centres, darkness, area, present, np.count_nonzero(roi), grid,
                           scale)
    if host is not None:  # spots no dot of the grid lies in: their dots are their own
        spot_labels = connected_parts(host)[0]
        spots = spot_labels[rows, cols]
        inside = np.bincount(which, spots > 0, n + 1)[1:] * 2 > area
        spot = np.zeros(n + 1, spots.dtype)
        np.maximum.at(spot, which, spots)
        spot = np.where(inside, spot[1:], 0)
        crossed = np.isin(spot, spot[on & inside])
        own = inside & ~crossed
        if host_texture_ratio > 0:  # dots, then grid dots, far denser than around
            tested = np.unique(spot[on & inside])
            dots, grid_dots = (_textured_spots(spot_labels, tested, roi, centres, spot,
                                               counted, host_surround_px, host_texture_ratio)
                               for counted in (crust | on, on))
            own |= inside & crossed & ((dots[spot] & ~on) | grid_dots[spot])
        crust &= ~own
        on &= ~own
        site &= ~own
    return np.concatenate([[False], crust | on | site])


def _textured_spots(spot_labels: np.ndarray, tested: np.ndarray, roi: np.ndarray,
                    centres: np.ndarray, spot: np.ndarray, counted: np.ndarray,
                    surround_px: float, ratio: float) -> np.ndarray:
    """Which of the spots ``tested`` (labels of ``spot_labels``) hold the ``counted``
    objects (``spot``: each object's spot, 0 outside) more than ``ratio`` times as densely
    (per px of the spot) as the skin of ``roi`` within ``surround_px`` around the spot holds
    them (per px of that skin, the objects counted by their ``centres``): a textured lesion
    (a naevus's globules) rather than skin a laser's grid struck as evenly as the skin
    beside it.

    Returns
    -------
    (n_spots + 1,) bool ndarray
        Indexed by spot label (index 0, no spot, is False).
    """
    textured = np.zeros(int(spot_labels.max()) + 1, bool)
    inside = np.bincount(spot[counted], minlength=len(textured))
    pad = int(np.ceil(surround_px))
    rows, cols = np.round(centres[counted & (spot == 0)]).astype(int).T  # on the skin
    boxes = ndi.find_objects(spot_labels)
    for k in tested:
        if not inside[k]:
            continue
        near = tuple(slice(max(0, b.start - pad), b.stop + pad) for b in boxes[k - 1])
        part = spot_labels[near] == k
        area = np.count_nonzero(part)
        ring = (cv2.dilate(part.view(np.uint8), disk(surround_px)) > 0)
        ring &= (spot_labels[near] == 0) & roi[near]
        y, x = rows - near[0].start, cols - near[1].start
        fits = (y >= 0) & (y < ring.shape[0]) & (x >= 0) & (x < ring.shape[1])
        beside = np.count_nonzero(ring[y[fits], x[fits]])
        # inside / area > ratio * beside / ring area, without dividing by zero
        textured[k] = inside[k] * np.count_nonzero(ring) > ratio * beside * area
    return textured


def on_grid(centres: np.ndarray, darkness: np.ndarray, area: np.ndarray, present: np.ndarray,
            roi_px: int, grid: Mapping[str, float], scale: Scale
            ) -> tuple[np.ndarray, np.ndarray]:
    """Which objects lie on a laser's grid (the grid test of :func:`crust_like`).

    Where the objects are so dense that a scattered one has lattice neighbours by chance
    (dark skin's texture at a fine scale gives thousands of dark dots), the grid is
    searched again among the more significant half of them, then the most significant
    quarter, and so on while at least ``grid_min_objects`` remain (0: among all only). An
    object's significance is its mean darkness times the square root of its ``area``:
    how far its mean stands out in units of the noise of that mean, which falls as the
    square root of the pixels averaged. The specks that sensor noise leaves on dark skin,
    a pixel or two each, can be as dark on average as a crust of ten or more, but not that
    significant. A photo has one grid:
    a search whose dots show none (too many scattered or shed among them for the
    periodogram) is tested against the grid the first other search found, its dots at
    least ``grid_darkness_fraction`` as dark as that grid's median dot. Each search tests
    its objects against the chance at its own density; an object is on the grid when any
    search puts it there.

    Parameters
    ----------
    centres : (N, 2) float ndarray
        Object centres (row, col), px.
    darkness : (N,) float ndarray
        Each object's luminance density excess over the skin around it (OD).
    area : (N,) int ndarray
        Each object's pixels.
    present : (N,) bool ndarray
        Objects that exist (a label may have been removed).
    roi_px : int
        Skin area (px) over which the objects were searched.
    grid : mapping
        :data:`GRID_PARAMS`.
    scale : Scale

    Returns
    -------
    (N,) bool ndarray
    """
    significance = darkness * np.sqrt(area)
    searches, bases = [], []  # the sets searched, the more significant half of each the next
    candidates = present.copy()
    while np.count_nonzero(candidates):
        searches.append(candidates)
        bases.append(lattice_vectors(centres[candidates], scale.px(grid["grid_pitch_min_mm"]),
                                     scale.px(grid["grid_pitch_max_mm"]),
                                     grid["grid_contrast"]))
        candidates = candidates & (significance >= np.median(significance[candidates]))
        if not grid["grid_min_objects"] or (np.count_nonzero(candidates)
                                            < grid["grid_min_objects"]):
            break
    found = np.zeros(len(centres), bool)
    floor = None  # the darkness of a dot of the grid, where the grid first shows
    for candidates, basis in zip(searches, bases, strict=True):  # each with its own grid
        if basis is not None:
            on, level = _on_lattice(centres, darkness, candidates, basis, roi_px, grid)
            floor = level if floor is None else floor
            found |= on
    known = next((b for b in bases if b is not None), None)  # the photo has one grid
    for candidates, basis in zip(searches, bases, strict=True):  # the others, with it
        if basis is None and known is not None:
            on, _ = _on_lattice(centres, darkness, candidates, known, roi_px, grid)
            found |= on & (darkness >= (floor or 0.0))
    site = np.zeros_like(found)
    if known is not None and found.any() and grid["grid_site_pitches"] > 0:
        pitch = float(np.hypot(*known.T).min())
        site = _at_sites(centres, present & ~found & (darkness >= (floor or 0.0)), found,
                         known, grid["grid_site_pitches"] * pitch)
        either = found | site  # a site's darkest dot, not a fragment beside a crust found
        either[either] = _darkest_near(centres[either], darkness[either], TOLERANCE * pitch)
        site &= either
    return found, site


def _at_sites(centres: np.ndarray, candidates: np.ndarray, anchors: np.ndarray,
              basis: np.ndarray, near: float) -> np.ndarray:
    """Which ``candidates`` lie at a site of the grid that the ``anchors`` (objects on it)
    within ``near`` of them mark: within the tolerance of a lattice step (``basis``) from at
    least half of those anchors, and from two at least, and within their convex hull (not
    past the grid's edge)."""
    radius = TOLERANCE * float(np.hypot(*basis.T).min())
    cand, anch = np.flatnonzero(candidates), np.flatnonzero(anchors)
    at = np.zeros(len(centres), bool)
    if not len(cand):
        return at
    pairs = cKDTree(centres[cand]).sparse_distance_matrix(
        cKDTree(centres[anch]), near, output_type="ndarray")
    if not len(pairs):
        return at
    which = pairs["i"]
    steps = centres[anch[pairs["j"]]] - centres[cand[which]]
    coords = np.linalg.solve(basis.T, steps.T).T
    fits = np.hypot(*(steps - np.round(coords) @ basis).T) <= radius
    fitting = np.bincount(which, fits, len(cand))
    at[cand] = ((fitting >= 2) & (2 * fitting >= np.bincount(which, minlength=len(cand)))
                & _within_hull(centres[anch], centres[cand]))
    return at


def _on_lattice(centres: np.ndarray, darkness: np.ndarray, candidates: np.ndarray,
                basis: np.ndarray, roi_px: int, grid: Mapping[str, float]
                ) -> tuple[np.ndarray, float | None]:
    """Which of the ``candidates`` lie on the lattice of ``basis`` (one search of
    :func:`on_grid`: lattice neighbours beyond chance at the candidates' density, the
    darkest at their site, at least ``grid_darkness_fraction`` as dark as the median of
    those), and that darkness level (OD; None when none lies on it)."""
    pts = centres[candidates]
    radius = TOLERANCE * np.hypot(*basis.T).min()
    least = _least_neighbours(len(pts) / max(roi_px, 1), np.pi * radius**2,
                              int(grid["grid_neighbours"]), grid["grid_chance"])
    on = np.zeros(len(centres), bool)
    on[candidates] = ((lattice_neighbours(pts, basis) >= least)
                      & _darkest_near(pts, darkness[candidates], radius))
    if not on.any():
        return on, None
    level = grid["grid_darkness_fraction"] * float(np.median(darkness[on]))
    return on & (darkness >= level), level


def _within_hull(anchors: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which ``points`` lie within the convex hull of the ``anchors`` (in a triangle of
    their Delaunay triangulation)."""
    try:
        return Delaunay(anchors).find_simplex(points) >= 0
    except QhullError:  # fewer than three anchors, or all on a line
        return np.zeros(len(points), bool)


def _darkest_near(centres: np.ndarray, darkness: np.ndarray, radius: float) -> np.ndarray:
    """Which objects are the darkest of those whose centres lie within ``radius`` of theirs:
    one object per lattice site (the fragments and the faint rim of a crust are not crusts
    of their own)."""
    pairs = cKDTree(centres).query_pairs(radius, output_type="ndarray")
    darkest_near = np.array(darkness, dtype=float)  # each object's own, then its neighbours'
    np.maximum.at(darkest_near, pairs[:, 0], darkness[pairs[:, 1]])
    np.maximum.at(darkest_near, pairs[:, 1], darkness[pairs[:, 0]])
    return darkness >= darkest_near


def _least_neighbours(density: float, site_area: float, least: int, chance: float) -> int:
    """The fewest of its :data:`~skinmetrics.lattice.NEIGHBOURS` lattice neighbours an
    object must have, at least ``least``, that objects scattered at ``density`` (per px^2)
    reach with probability at most ``chance``, each site (``site_area`` px^2) holding one
    with p = 1 - exp(-density x site_area) (one more than there are: none is enough)."""
    p = -np.expm1(-density * site_area)
    for k in range(least, NEIGHBOURS + 1):
        if binom.sf(k - 1, NEIGHBOURS, p) <= chance:
            return k
    return NEIGHBOURS + 1


def keep_by_size_and_shape(labels: np.ndarray, params: Mapping[str, float],
                           scale: Scale) -> np.ndarray:
    """Keep the objects within ``min_diameter_mm``..``max_diameter_mm`` (equivalent
    diameter) and at least ``min_roundness`` round; relabel them 1..N."""
    if labels.max() == 0:
        return labels
    shape = object_table(labels)
    d = shape["diameter_px"]
    keep = np.zeros(int(labels.max()) + 1, bool)
    keep[1:] = ((d >= scale.px(params["min_diameter_mm"]))
                & (d <= scale.px(params["max_diameter_mm"]))
                & (shape["roundness"] >= params["min_roundness"]) & (shape["area_px"] > 0))
    return renumbered(labels, keep)


#: A stage's working scale: a finer photo's lesions are found on a copy resampled to it
#: and drawn back on the photo by :func:`skinmetrics.pipeline.detect_layers` (or refined
#: on the photo's pixels by the stage itself, when its ``detect`` takes ``finer``).
WORK_SCALE_PARAM = Param(float, 0.0, 1000, "a finer photo's lesions are found on a copy "
                         "resampled to this scale, then drawn back on (or refined on) the "
                         "photo (0: none), px/mm")

#: Parameters of the density-excess segmentation (erythema and pigmentation stages).
EXCESS_PARAMS = {
    "work_px_per_mm": WORK_SCALE_PARAM,
    "smooth_mm": Param(float, 0.0, 10, "Gaussian sigma smoothing the density map, mm"),
    "dot_radius_mm": Param(float, 0.01, 100, "dark dots narrower than this radius are ignored, mm"),
    "dot_tophat": Param(float, 0.0, 5, "black top-hat (luminance OD) that marks a dark dot"),
    "dot_fraction": Param(float, 0.0, 1.0, "fraction of a dot's contrast its top-hat keeps"),
    "reference_sigma_mm": Param(float, 0.1, 1000, "scale of the unaffected-skin reference, mm"),
    "coarse_sigma_mm": Param(float, 0.0, 1000, "scale of the coarse first reference that keeps "
                             "lesions wider than reference_sigma_mm out of it, mm (0: none)"),
    "wide_lesion_mm": Param(float, 0.0, 1000, "a part standing threshold_low above the skin's "
                            "local median at least this wide is kept out of the first coarse "
                            "reference, mm (0: none)"),
    "reference_spread": Param(float, 0.0, 100, "skin this many robust SDs of the skin's spread "
                              "above the reference is not reference, when below threshold_low "
                              "(0: threshold_low)"),
    "reference_margin_mm": Param(float, 0.0, 100,
                                 "skin this close to a region is not reference (its skirt), mm"),
    "reference_below": Param(float, 0.0, 5,
                             "density this far below the reference is not reference (5: none)"),
    "threshold": Param(float, 0.0, 5, "density excess that seeds a region"),
    "threshold_low": Param(float, 0.0, 5, "excess to which a seeded region grows"),
    "threshold_spread": Param(float, 0.0, 100, "both thresholds are raised (in proportion) to "
                              "at least this many robust SDs of the skin's excess (0: fixed)"),
    "shading_sigma_mm": Param(float, 0.0, 100, "Gaussian sigma of the illumination taken out "
                              "before the weighted unmixing, mm (0: none)"),
    "edge_fraction": Param(float, 0.0, 1.0, "edge at this fraction of the local peak excess"),
    "edge_radius_mm": Param(float, 0.0, 1000, "radius within which the local peak is taken, mm"),
    "edge_ceiling": Param(float, 0.0, 1000, "excess that is always inside, whatever the peak"),
    "peak_smooth_mm": Param(float, 0.0, 10,
                            "Gaussian sigma smoothing the excess whose local peak is taken, mm"),
}


def skin_densities(planes: ColourPlanes, skin: np.ndarray, params: Mapping[str, float],
                   scale: Scale) -> np.ndarray:
    """Chromophore densities (melanin, haemoglobin, shading; (H, W, 3) OD) with the
    photo's illumination taken out exactly.

    :attr:`skinmetrics.colour.ColourPlanes.densities` is a weighted unmixing whose ridge on
    the shading term keeps a weak channel's noise (blue on dark skin) out of the pigments;
    it also lets part of a change of illumination, which is grey, into melanin and
    haemoglobin (with dark skin's channel weights about 1 : 0.1 : 0.007, a grey OD of 1
    reads as melanin +1.3 and haemoglobin -0.4), so the light falling off across a cheek
    reads as a change of redness. Here the exact unmixing's shading (Tsumura et al. 1999),
    smoothed over ``skin`` with a Gaussian of ``shading_sigma_mm`` (normalised
    convolution, :func:`skinmetrics.filters.local_reference`: noise averages out, the
    backdrop does not enter) and then again without the skin whose shading departs from
    that by more than 3 robust SDs (of a regular sample of at most about a million skin
    pixels; a dark naevus, which reads grey, a highlight, a shadow's edge), is taken out
    first as grey and the weighted unmixing applied to the rest
    (:meth:`~skinmetrics.colour.ColourPlanes.densities_with_shading`). With
    ``shading_sigma_mm`` 0 the photo's weighted unmixing is returned.
    """
    sigma = scale.px(params["shading_sigma_mm"])
    if sigma <= 0 or not skin.any():
        return planes.densities
    exact = planes.exact_shading
    departure = local_reference(exact, skin, sigma)
    np.subtract(exact, departure, out=departure)  # in place: exact minus its local level
    # the spread from a regular sample of the skin (at most about a million pixels)
    step = max(1, int(np.sqrt(np.count_nonzero(skin) / 1e6)))
    spread = robust_spread(departure[::step, ::step][skin[::step, ::step]])
    keep = skin & (np.abs(departure) <= 3 * spread)
    del departure
    shading = local_reference(exact, keep, sigma)
    del exact  # not held while the densities are made
    return planes.densities_with_shading(shading)


def trusted_skin(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                 scale: Scale, fringe: np.ndarray | None = None) -> np.ndarray:
    """The skin of ``roi`` whose colour the density maps may use: not a small dark dot
    (crusts, pores narrower than ``dot_radius_mm``: :func:`skinmetrics.filters.small_dots`
    on the luminance density, whose ``dot_fraction`` rule keeps a spot a little wider
    than a dot whole) and not the ``fringe`` of a hair (a hair strand's own colour would
    spread into the skin beside it)."""
    dots = small_dots(planes.luminance_density, scale.px(params["dot_radius_mm"]),
                      params["dot_tophat"], params["dot_fraction"])
    return roi & ~(dots if fringe is None else dots | fringe)


def density_excess(density: np.ndarray, roi: np.ndarray, trusted: np.ndarray,
                   params: Mapping[str, float], scale: Scale,
                   reference_levels: Sequence[float] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Regions where a chromophore density exceeds that of the surrounding unaffected skin.

    1. the skin that is not ``trusted`` (:func:`trusted_skin`) and everything outside
       ``roi`` are left out and filled in from the skin around while ``density`` is
       smoothed, and the excess over the local unaffected-skin level is taken, that level
       leaving out the candidates and the skin within ``reference_margin_mm`` of them
       (their soft skirt), and the skin ``reference_below`` or more below it (lightened by
       a highlight's skirt) (:func:`skinmetrics.filters.contrast_to_reference`), first at
       ``coarse_sigma_mm`` then at ``reference_sigma_mm`` (coarse to fine: a lesion wider
       than the fine scale found at the coarse one is not its own reference);
       candidates are skin above ``threshold_low``, or, where the skin is smooth, above
       ``reference_spread`` robust SDs of its spread (an outlier test, so that a faint
       lesion wide enough to fill much of the reference's reach does not raise it and
       vanish): the spread is measured on the first estimate's fine excess (its side
       below the reference, mirrored) for the first coarse pass, then on each pass's own
       contrast, so that mottling wider than the fine reference is not an outlier of the
       coarse one; ``reference_levels`` given (a follow-up's: those its baseline used),
       each pass leaves out the skin above its given level instead: the same skin is
       judged by the same rule at every visit, not by a spread that the lesions at each
       visit widen or narrow;
    2. hysteresis between ``threshold_low`` and ``threshold``;
    3. each region is outlined where its excess falls to ``edge_fraction`` of the local peak
       within ``edge_radius_mm`` (taken on the excess smoothed by ``peak_smooth_mm``, so
       that noise does not raise it), an excess of ``edge_ceiling`` or more always being
       inside (:func:`skinmetrics.filters.local_half_maximum`);
    4. a part of a region that this outline cuts off and that holds no seed of its own
       (excess above ``threshold``) is dropped: hysteresis grew the region into it along a
       faint ridge (the skin's mottling beside a lesion).

    Returns
    -------
    mask : (H, W) bool ndarray
    excess : (H, W) float32 ndarray
        Density minus the unaffected-skin level (OD units).
    reference_levels : tuple of float
        The excess (OD) above which each pass of the reference left skin out.
    """
    excess, reference_levels, spread = excess_over_reference(density, roi, trusted, params,
                                                             scale, reference_levels)
    mask = outlined_regions(excess, roi, seed_levels(spread, params), params, scale)
    return mask, excess, reference_levels


def excess_over_reference(density: np.ndarray, roi: np.ndarray, trusted: np.ndarray,
                          params: Mapping[str, float], scale: Scale,
                          reference_levels: Sequence[float] | None = None
                          ) -> tuple[np.ndarray, tuple[float, ...], float]:
    """Step 1 of :func:`density_excess`: the excess of ``density`` over the unaffected
    skin, the levels its reference passes left skin out above, and the skin's robust
    spread of that excess (:func:`skinmetrics.filters.below_spread` over ``roi &
    trusted``; it raises the seed levels, :func:`seed_levels`).

    Returns
    -------
    excess : (H, W) float32 ndarray
        OD units.
    reference_levels : tuple of float
    spread : float
        OD units.
    """
    def excess_over(levels, exclude_spread=0.0, spread=0.0):
        return contrast_to_reference(density, roi, scale.px(params["smooth_mm"]),
                                     scale.px(params["reference_sigma_mm"]), levels,
                                     valid=trusted,
                                     margin_px=scale.px(params["reference_margin_mm"]),
                                     exclude_below=params["reference_below"],
                                     coarse_sigma_px=scale.px(params["coarse_sigma_mm"]),
                                     wide_px=scale.px(params["wide_lesion_mm"]),
                                     exclude_spread=exclude_spread, spread=spread,
                                     return_levels=True)

    given = reference_levels is not None
    excess, reference_levels = excess_over(reference_levels if given
                                           else params["threshold_low"])
    spread = below_spread(excess, roi & trusted)
    if not given and 0 < params["reference_spread"] * spread < params["threshold_low"]:
        # faint wide lesions are not their own reference: start from the fine spread
        excess, reference_levels = excess_over(params["threshold_low"],
                                               params["reference_spread"], spread)
        spread = below_spread(excess, roi & trusted)
    return excess, reference_levels, spread


def seed_levels(spread: float, params: Mapping[str, float]) -> tuple[float, float]:
    """The excess that seeds a region and the excess it grows to (step 2 of
    :func:`density_excess`): ``threshold`` and ``threshold_low``, both raised in
    proportion to at least ``threshold_spread`` times the skin's robust ``spread`` of
    excess (:func:`skinmetrics.filters.below_spread`).

    Returns
    -------
    high, low : float
    """
    raise_by = max(1.0, params["threshold_spread"] * spread / max(params["threshold"], 1e-6))
    return raise_by * params["threshold"], raise_by * params["threshold_low"]


def outlined_regions(excess: np.ndarray, roi: np.ndarray, levels: tuple[float, float],
                     params: Mapping[str, float], scale: Scale) -> np.ndarray:
    """Steps 2-4 of :func:`density_excess` at the seed ``levels`` (high, low,
    :func:`seed_levels`): hysteresis between them within ``roi``, each region outlined at
    ``edge_fraction`` of its local peak (:func:`skinmetrics.filters.local_half_maximum`),
    the parts that outline cuts off without a seed of their own dropped.

    Returns
    -------
    (H, W) bool ndarray
    """
    high, low = levels
    found = hysteresis(np.where(roi, excess, 0), low, high)
    outlined = local_half_maximum(excess, found, scale.px(params["edge_radius_mm"]),
                                  params["edge_fraction"], params["edge_ceiling"],
                                  scale.px(params["peak_smooth_mm"]))
    return keep_seeded(outlined, excess > high)


def crosstalk(density: np.ndarray, source: np.ndarray, roi: np.ndarray,
              trusted: np.ndarray, params: Mapping[str, float], scale: Scale
              ) -> float | None:
    """How much excess ``density`` this photo reads per unit excess of another chromophore
    ``source``: the median ratio of the two excesses over the skin where ``source`` stands
    out by ``crosstalk_from`` or more and ``density``'s excess is at most ``crosstalk_max``
    times as large (the most crosstalk measured: where it is larger, a lesion of
    ``density`` overlaps); None (not measurable) on less than ``crosstalk_min_mm2`` of
    such skin.

    The unmixing of :func:`skinmetrics.colour.chromophore_densities` is exact only for
    its nominal melanin and haemoglobin spectra; a person's (and a camera's) differ, and
    the difference reads as a fraction of one chromophore in the other: a brown spot on
    dark skin as erythema. Tsumura et al. (J Opt Soc Am A 1999;16:2169-2176) estimate the
    chromophore vectors per image (independent-component analysis); this estimates the
    one term that matters for a lesion layer, the leak of ``source`` into ``density``,
    from the photo's own lesions of ``source``. The median keeps the estimate where a
    real lesion of ``density`` overlaps a minority of them.

    Returns
    -------
    float or None
        Excess of ``density`` per unit excess of ``source`` (subtract it times ``source``).
    """
    smooth, sigma = scale.px(params["smooth_mm"]), scale.px(params["reference_sigma_mm"])
    lead = contrast_to_reference(source, roi, smooth, sigma, params["crosstalk_from"],
                                 valid=trusted)
    least = max(scale.px2(params["crosstalk_min_mm2"]), 1)
    where = trusted & (lead >= params["crosstalk_from"])
    if np.count_nonzero(where) < least:  # too few spots: the density's map is not needed
        return None
    read = contrast_to_reference(density, roi, smooth, sigma, params["threshold_low"],
                                 valid=trusted,
                                 margin_px=scale.px(params["reference_margin_mm"]))
    where &= np.abs(read) <= params["crosstalk_max"] * lead
    if np.count_nonzero(where) < least:
        return None
    return float(median(read[where] / lead[where]))


def restrict_labels(labels: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    """Objects of a label image cut to ``region`` (an object partly inside keeps its inside
    part and still counts once), relabelled 1..N in the smallest type that holds N
    (:func:`skinmetrics.filters.label_type`); unchanged without a region."""
    if region is None:
        return labels
    keep = np.zeros(int(labels.max()) + 1, bool)
    keep[labels[region]] = True
    keep[0] = False
    inside = renumbered(labels, keep, label_type(int(np.count_nonzero(keep))))
    inside *= region  # in place: 0 outside the region
    return inside


def beside_hair(fringe: np.ndarray) -> np.ndarray:
    """A hair's ``fringe`` (:func:`skinmetrics.roi.skin_and_fringe`) and the pixels touching
    it (8-connected): an object with a pixel there touches the hair."""
    return cv2.dilate(fringe.view(np.uint8), np.ones((3, 3), np.uint8)) > 0


def untouched(labels: np.ndarray, where: np.ndarray, in_place: bool = False) -> np.ndarray:
    """``labels`` without the objects that have a pixel in ``where`` (set to 0: in a copy
    when any is, or ``in_place``)."""
    touching = np.zeros(int(labels.max()) + 1, bool)
    touching[labels[where]] = True
    touching[0] = False
    if not touching.any():
        return labels
    if in_place:
        labels[touching[labels]] = 0
        return labels
    return np.where(touching[labels], 0, labels).astype(labels.dtype, copy=False)


def hair_distance(fringe: np.ndarray | None) -> np.ndarray | None:
    """Euclidean distance from each pixel to the nearest pixel :func:`beside_hair`, in
    quarter pixels ((H, W) uint8, so at most 63.75 px; OpenCV's 5 x 5 chamfer estimate [1]_,
    within 2 % of it); None without fringe pixels.

    References
    ----------
    .. [1] Borgefors G. Distance transformations in digital images. Comput Vision Graph
           Image Process 1986;34:344-371.
    """
    if fringe is None or not fringe.any():
        return None
    distance = cv2.distanceTransform((~beside_hair(fringe)).view(np.uint8), cv2.DIST_L2, 5)
    return cv2.convertScaleAbs(distance, alpha=4.0)


def counting_windows_px(radii_px: np.ndarray, roi: np.ndarray, distance: np.ndarray
                        ) -> np.ndarray:
    """Per object not counted where it touches a hair, the skin it was sought in: the
    pixels of ``roi`` at which an object of its size could lie whole off the hair, i.e.
    farther than its equivalent radius ``r`` + 0.5 px (a pixel's half width) from the hair
    (``distance``, :func:`hair_distance`). Counting each object over its own window is
    the minus-sampling edge correction of Miles [1]_ and Lantuejoul [2]_: the count per
    area it gives has the expectation of the count per area of skin without hair.

    Returns
    -------
    (N,) int64 ndarray
        Window of each object, px (at least 1).

    References
    ----------
    .. [1] Miles R.E. The sampling, by quadrats, of planar aggregates. J Microsc
           1978;113:257-267.
    .. [2] Lantuejoul C. On the estimation of mean values in individual analysis of
           particles. Microscopica Acta 1980;5:266-273.
    """
    histogram = cv2.calcHist([distance], [0], roi.view(np.uint8), [256], [0, 256]).ravel()
    within = np.cumsum(histogram.astype(np.int64))  # pixels at most k quarter px away
    steps = np.minimum(np.floor(4.0 * (np.asarray(radii_px) + 0.5)).astype(np.int64), 255)
    return np.maximum(within[-1] - within[steps], 1)


def summarise_objects(found: np.ndarray, roi: np.ndarray, region: np.ndarray | None,
                      px_per_mm: float | None,
                      metrics_of: Callable[[np.ndarray, np.ndarray, float | None],
                                           tuple[dict, dict]]) -> StageResult:
    """Mask and metrics of the objects of a label image ``found`` (found on the whole skin
    region) within ``roi & region``: an object cut by the region's edge is measured inside
    and counts once (:func:`restrict_labels`); ``metrics_of(roi, labels, px_per_mm)`` gives
    the layer's metrics and units (e.g. through :func:`object_metrics`)."""
    labels = restrict_labels(found, region)
    metrics, units = metrics_of(roi if region is None else roi & region, labels, px_per_mm)
    return StageResult(labels > 0, metrics, units)


def object_metrics(prefix: str, roi: np.ndarray, labels: np.ndarray, px_per_mm: float | None,
                   areas: tuple[str, ...] = ("px", "mm2", "pct"), density: bool = True,
                   hair: np.ndarray | None = None, skin: str = "skin region"
                   ) -> tuple[dict, dict]:
    """Count, density, area and mean diameter of the objects of a label image: the metrics
    of the layers of discrete lesions (pores, microcrusts, acne lesions).

    Parameters
    ----------
    prefix : str
        The metrics are ``<prefix>_count``, ``<prefix>_density_per_cm2``,
        ``<prefix>_area_<s>`` for each ``s`` of ``areas`` and ``<prefix>_mean_diameter_mm``.
    roi : (H, W) bool ndarray
        The skin region the objects are counted in (the density's and area share's
        denominator).
    labels : (H, W) int ndarray
        Objects 1..N (every label present), 0 elsewhere.
    px_per_mm : float or None
        Image scale; without it the mm-based metrics are None.
    areas : tuple of str
        Which of :func:`skinmetrics.filters.area_metrics`' ``px``, ``mm2``, ``pct`` to give.
    density : bool
        Whether to give ``<prefix>_density_per_cm2``: count / (roi area in cm^2).
    hair : (H, W) uint8 ndarray, optional
        Distance to hair (:func:`hair_distance`) when an object touching a hair is not
        counted: the density and area share then count each object over its own window
        of skin (:func:`counting_windows_px`): sum of 1 / window and of area / window.
    skin : str
        What ``roi`` is, for the area share's unit (% of ``skin``).

    Returns
    -------
    metrics, units : dict
        The mean diameter is the mean equivalent-circle diameter sqrt(4 area / pi) / px_per_mm.
    """
    roi_px = int(np.count_nonzero(roi))
    n = int(labels.max())
    inside = labels > 0
    # counted over the objects' pixels only: no int64 copy of the whole label image
    sizes = np.bincount(labels[inside], minlength=n + 1)[1:] if n else np.zeros(0)
    area, area_units = area_metrics(prefix, inside, roi_px, px_per_mm, skin)
    px_per_cm2 = (10.0 * px_per_mm) ** 2 if px_per_mm else 0.0
    per_cm2 = n / (roi_px / px_per_cm2) if roi_px and px_per_cm2 else None
    if hair is not None and n:
        windows = counting_windows_px(np.sqrt(sizes / np.pi), roi, hair)
        per_cm2 = float(np.sum(1.0 / windows)) * px_per_cm2 if px_per_cm2 else None
        area[f"{prefix}_area_pct"] = 100.0 * float(np.sum(sizes / windows))
    metrics: dict = {f"{prefix}_count": n}
    units = {f"{prefix}_count": "count"}
    if density:
        metrics[f"{prefix}_density_per_cm2"] = per_cm2
        units[f"{prefix}_density_per_cm2"] = "1/cm2"
    for suffix in areas:
        key = f"{prefix}_area_{suffix}"
        metrics[key], units[key] = area[key], area_units[key]
    diameter = np.sqrt(4 * sizes / np.pi)
    metrics[f"{prefix}_mean_diameter_mm"] = (float(diameter.mean() / px_per_mm)
                                            if px_per_mm and n else None)
    units[f"{prefix}_mean_diameter_mm"] = "mm"
    return metrics, units
