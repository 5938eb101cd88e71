"""Inflammatory acne lesions: papules, pustules and nodules (raised, red, round, 1-10 mm).

A papule or pustule is a small dome redder than the skin around it; post-acne brown marks
are darker but not redder, diffuse redness has no edge at a lesion's size, and lips,
nostrils, eyelids and hair are left out by the skin region and the face's exclusions.
Method (on a copy at ``work_px_per_mm`` when the photo is finer, see
:func:`skinmetrics.pipeline.detect_layers`: the lesions are wide, the finer detail of a
close-up only adds noise):

1. where: the skin region (eyes, brows, lips and nostrils are already left out of it in a
   face photo), within the face's outline when a face was found
   (:func:`skinmetrics.face.face_outline_mask`: skin-coloured neck, ears, hair or
   backdrop), without skin much darker than the photo's median skin (luminance density
   -log10 Y blurred by ``shade_sigma_mm`` more than ``max_shade_od`` above the median:
   the shaded side of a profile, hair);
2. red spots at each lesion radius r (diameters ``min_diameter_mm``..``max_diameter_mm``,
   ``scales_per_octave`` per doubling; sigma = r / sqrt 2): the Gaussian mean of CIELAB a*
   [1] over the skin at sigma minus that at ``surround_ratio`` x sigma (normalised
   convolution over the skin only, Knutsson & Westin [2]; a difference of Gaussians, the
   blob detector of scale-space theory, Lindeberg [3]), divided by its robust spread over
   the photo's skin at that scale (z: the spot's redness in units of the photo's own
   redness texture, so that one threshold serves different cameras, exposures and skin);
   scale-space maxima (the largest z within ``peak_radius_fraction`` x r);
3. a maximum is a lesion when its probability of being one is at least
   ``min_probability``: a logistic regression (Cox [6]) of its standardised features,
   p = 1 / (1 + exp(-(``score_intercept`` + sum_f ``<f>_weight`` (f - ``<f>_mean``) /
   ``<f>_sd``))), over the features f of :data:`SCORE_FEATURES`: z; z_local, the response
   over its local RMS within ``local_window_mm`` (busy texture: hairline, stubble); the
   a* contrast to the skin around; the erythema-index contrast (EI = 100 log10(R/G),
   Diffey et al. [4]; an a* peak not redder in R/G is a brown or yellowish mark); the
   darkening, CIELAB L* of the skin around minus the spot's (a papule's blood darkens it;
   a red spot no darker is pink texture or a sheen); the centre's darkness over the median
   skin (hair, shadow); the centre's EI above the median skin's; the roundness, the ratio
   of the smaller to the larger principal curvature of the blurred a* (1 for a round dome,
   near 0 for a fold, a vessel or a hair; the edge test of Lowe [5]); the share of skin
   around it; and whether it passes all nine rules: z >= ``min_z``, a* contrast >=
   ``min_contrast_a``, EI contrast >= ``min_contrast_ei``, darkening >=
   ``min_darkening_l``, z_local >= ``min_z_local``, darkness <= ``max_darkness_od``, centre
   EI above the skin's >= ``min_ei_above_skin``, curvature ratio <=
   ``max_curvature_ratio``, skin share >= ``min_skin_fraction``;
4. non-maximum suppression: of two lesions whose centres are closer than the larger
   radius (x ``nms_overlap``), the less probable goes;
5. each lesion is outlined at its half maximum: the skin connected to its centre whose a*
   exceeds the mean of the skin around (at the surround scale of step 2) by at least
   ``outline_fraction`` of the centre's excess, within ``max_outline_ratio`` x its radius
   (the scale of the strongest response is not the lesion's edge: a soft-edged 6 mm
   papule peaks at a 4 mm scale).

Judged on ACNE04 faces with expert lesion circles (Acne04-v2; docs/validation.md). The
rules, the score's weights and standardisation and ``min_probability`` were set on half of
those faces at about 4 px/mm.

Metrics: ``acne_lesion_count``, ``acne_lesion_density_per_cm2`` (per cm^2 of the skin
region; None without scale), ``acne_lesion_area_px``, ``_mm2``, ``_pct`` (% of roi),
``acne_lesion_mean_diameter_mm`` (mean equivalent-circle diameter of the outlines).

References
----------
.. [1] CIE 15:2004, Colorimetry, 3rd edition.
.. [2] Knutsson H., Westin C.-F. Normalized and differential convolution. Proc IEEE CVPR
       1993:515-523.
.. [3] Lindeberg T. Feature detection with automatic scale selection. Int J Comput Vision
       1998;30:79-116.
.. [4] Diffey B.L., Oliver R.J., Farr P.M. Br J Dermatol 1984;111:663-672.
.. [5] Lowe D.G. Distinctive image features from scale-invariant keypoints. Int J Comput
       Vision 2004;60:91-110.
.. [6] Cox D.R. The regression analysis of binary sequences. J R Stat Soc B
       1958;20:215-242.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ..colour import ColourPlanes
from ..filters import local_reference, median, renumbered, robust_spread
from ..methods import Layer, MetricDefinition, area_definitions
from .base import (
    WORK_SCALE_PARAM,
    Param,
    Scale,
    StageResult,
    object_metrics,
    summarise_objects,
)

__all__ = ["LAYER", "PARAMS", "SCORE_FEATURES", "lesion_radii_px", "lesion_candidates",
           "passes_rules", "score_features", "lesion_probability", "select_lesions",
           "find_lesions", "lesion_outlines", "acne_lesion_metrics", "detect", "summarise"]

#: What this stage measures (see :mod:`skinmetrics.methods`).
LAYER = Layer(
    "acne_lesion", "Acne lesions",
    "Inflammatory lesions (papules, pustules, nodules): red spots 1.5-10 mm across where "
    "the Gaussian mean of CIELAB a* over the skin at the lesion's scale exceeds that of the "
    "skin around it (normalised convolution; a multi-scale difference of Gaussians), in "
    "units of the photo's own spread of that response, within the face's outline; kept "
    "when probable by a logistic regression of its features: contrast in a* and in the "
    "erythema index (not a brown mark), darkening in L*, standing out from the texture "
    "around, not dark (hair, shadow), round (principal curvatures) and passing nine "
    "rules on these; "
    "each outlined where its a* excess falls to half of its centre's.",
    ("CIE 2004", "Knutsson 1993", "Lindeberg 1998", "Diffey 1984", "Lowe 2004", "Cox 1958"),
    (MetricDefinition("acne_lesion_count", "Acne lesions (count)", "count",
                      "Number of inflammatory acne lesions", "number of lesions found"),
     MetricDefinition("acne_lesion_density_per_cm2", "Acne lesions per cm\u00b2", "1/cm2",
                      "Acne lesions per cm^2 of the skin region",
                      "acne_lesion_count / (roi_area_mm2 / 100)"),
     *area_definitions("acne_lesion", "acne lesions"),
     MetricDefinition("acne_lesion_mean_diameter_mm", "Acne lesion diameter, mean (mm)", "mm",
                      "Mean equivalent-circle diameter of the lesions",
                      "mean of sqrt(4 * area_px / pi) / px_per_mm")),
    citations={
        "Knutsson 1993": "Knutsson H., Westin C.-F. Normalized and differential convolution. "
                         "Proc IEEE CVPR 1993:515-523.",
        "Lowe 2004": "Lowe D.G. Distinctive image features from scale-invariant keypoints. "
                     "Int J Comput Vision 2004;60:91-110.",
        "Cox 1958": "Cox D.R. The regression analysis of binary sequences. J R Stat Soc B "
                    "1958;20:215-242.",
    },
    mask="acne_lesion", colour=(213, 94, 0),  # vermillion
    headline=("acne_lesion_count",))

PARAMS = {
    "work_px_per_mm": WORK_SCALE_PARAM,
    "min_diameter_mm": Param(float, 0.1, 100, "smallest lesion diameter searched, mm"),
    "max_diameter_mm": Param(float, 0.1, 100, "largest lesion diameter searched, mm"),
    "scales_per_octave": Param(int, 1, 12, "lesion radii searched per doubling"),
    "surround_ratio": Param(float, 1.1, 10, "sigma of the skin around / sigma of the spot"),
    "max_shade_od": Param(float, 0.0, 5, "skin this much darker (OD) than the median is "
                          "not searched"),
    "shade_sigma_mm": Param(float, 0.0, 100, "Gaussian sigma of that darkness, mm"),
    "local_window_mm": Param(float, 0.1, 1000, "Gaussian sigma of the local response RMS, mm"),
    "candidate_min_z": Param(float, 0.0, 100, "smallest z of a scale-space maximum kept"),
    "peak_radius_fraction": Param(float, 0.1, 10, "a maximum is the largest z within this "
                                  "fraction of its radius"),
    "min_z": Param(float, 0.0, 100, "smallest a* response in robust SDs of the photo's"),
    "min_contrast_a": Param(float, 0.0, 100, "smallest a* contrast to the skin around"),
    "min_contrast_ei": Param(float, -100, 100, "smallest EI contrast to the skin around"),
    "min_darkening_l": Param(float, -100, 100, "smallest L* of the skin around minus the "
                             "spot's"),
    "min_z_local": Param(float, 0.0, 100, "smallest response over its local RMS"),
    "max_darkness_od": Param(float, 0.0, 5, "largest darkness (OD) of the centre over the "
                             "median skin"),
    "min_ei_above_skin": Param(float, -100, 100, "smallest EI of the centre above the "
                               "median skin's"),
    "max_curvature_ratio": Param(float, 1.0, 1e6, "largest ratio of the principal "
                                 "curvatures of a*"),
    "min_skin_fraction": Param(float, 0.0, 1.0, "smallest share of skin around a lesion"),
    "score_intercept": Param(float, -100, 100, "the lesion score (log-odds) of a candidate "
                             "whose standardised features are all 0"),
    "min_probability": Param(float, 0.0, 1.0, "smallest probability of a lesion kept"),
    "nms_overlap": Param(float, 0.0, 10, "less probable lesions closer than this x the "
                         "radius go"),
    "outline_fraction": Param(float, 0.0, 1.0, "a lesion's edge: where its a* excess over "
                              "the skin around falls to this fraction of its centre's"),
    "max_outline_ratio": Param(float, 1.0, 10, "a lesion's outline lies within this many "
                               "radii of its centre"),
}

#: Features of the lesion score (:func:`score_features`); each has its ``<f>_mean``,
#: ``<f>_sd`` and ``<f>_weight`` in the pipeline section.
SCORE_FEATURES = ("z", "z_local", "contrast_a", "contrast_ei", "darkening_l", "darkness_od",
                  "ei_above_skin", "roundness", "skin_fraction", "passes_rules")
PARAMS |= {key: param for f in SCORE_FEATURES for key, param in (
    (f"{f}_mean", Param(float, -1e6, 1e6, f"subtracted from {f} in the lesion score")),
    (f"{f}_sd", Param(float, 1e-9, 1e6, f"{f} minus its mean is divided by this")),
    (f"{f}_weight", Param(float, -100, 100, f"log-odds per standardised unit of {f}")))}

#: Per-candidate values of :func:`lesion_candidates`.
CANDIDATE_FIELDS = ("x", "y", "radius_px", "z", "z_local", "contrast_a", "contrast_ei",
                    "darkening_l", "darkness_od", "ei_above_skin", "curvature_ratio",
                    "skin_fraction")


def lesion_radii_px(min_diameter_mm: float, max_diameter_mm: float, scales_per_octave: int,
                    px_per_mm: float) -> np.ndarray:
    """Lesion radii searched, px: from ``min_diameter_mm`` / 2 up to at most
    ``max_diameter_mm`` / 2, ``scales_per_octave`` per doubling (geometric)."""
    n = int(np.floor(np.log2(max(max_diameter_mm / min_diameter_mm, 1.0)) * scales_per_octave
                     + 1e-6)) + 1
    return 0.5 * min_diameter_mm * px_per_mm * 2.0 ** (np.arange(n) / scales_per_octave)


def _curvature_ratio(smooth: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """|larger| / |smaller| principal curvature (Hessian eigenvalue) of ``smooth`` at the
    points, for a maximum (both negative; 1 = round); inf where it is no maximum."""
    dxx = cv2.Sobel(smooth, cv2.CV_32F, 2, 0, ksize=3)[ys, xs]
    dyy = cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=3)[ys, xs]
    dxy = cv2.Sobel(smooth, cv2.CV_32F, 1, 1, ksize=3)[ys, xs]
    disc = np.sqrt((dxx - dyy) ** 2 + 4 * dxy**2)
    steep, flat = (dxx + dyy - disc) / 2, (dxx + dyy + disc) / 2  # steep <= flat
    flat = np.abs(np.minimum(flat, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((steep < 0) & (flat > 0), np.abs(steep) / flat, np.inf)


def lesion_candidates(planes: ColourPlanes, where: np.ndarray, params: Mapping[str, float],
                      px_per_mm: float) -> dict[str, np.ndarray]:
    """Red spots: the scale-space maxima of the a* centre-minus-surround z (steps 1-2 of the
    module text) and what the rules of :func:`select_lesions` test.

    Parameters
    ----------
    planes : ColourPlanes
    where : (H, W) bool ndarray
        Skin that may hold lesions.
    params : mapping
        The ``[acne_lesion]`` pipeline section (see :data:`PARAMS`).
    px_per_mm : float
        Scale of ``planes``.

    Returns
    -------
    dict of (N,) float ndarray, keys :data:`CANDIDATE_FIELDS`
        x, y, radius_px (px); z; z_local (response over its local RMS); contrast_a,
        contrast_ei (centre minus surround, a* and EI units); darkening_l (surround minus
        centre, CIELAB L*); darkness_od (luminance density of the centre minus the median
        skin's, OD); ei_above_skin (EI of the centre minus the median skin's);
        curvature_ratio; skin_fraction.
    """
    empty = {f: np.zeros(0) for f in CANDIDATE_FIELDS}
    skin = np.asarray(where, bool)
    if np.count_nonzero(skin) < 100:
        return empty
    density = planes.luminance_density
    ei = planes.erythema_index
    a_star = planes.lab[..., 1]
    plane = {"a": a_star, "ei": ei, "l": planes.lab[..., 0]}
    density_median = float(median(density[skin]))
    ei_median = float(median(ei[skin]))
    shade = cv2.GaussianBlur(density, (0, 0), max(params["shade_sigma_mm"] * px_per_mm, 0.1))
    skin = skin & (shade - density_median <= params["max_shade_od"])
    inner = cv2.erode(skin.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if np.count_nonzero(inner) < 100:
        return empty
    sample = np.zeros_like(inner)
    sample[::2, ::2] = True  # the spread on every other pixel: the same, 4 x faster
    sample &= inner
    radii = lesion_radii_px(params["min_diameter_mm"], params["max_diameter_mm"],
                            int(params["scales_per_octave"]), px_per_mm)
    sigmas = np.maximum(radii / np.sqrt(2.0), 0.5)
    ratio = params["surround_ratio"]
    means: dict[tuple[str, float], np.ndarray] = {}

    def mean(name: str, sigma: float) -> np.ndarray:
        key = (name, round(float(sigma), 4))
        if key not in means:
            means[key] = local_reference(plane[name], skin, sigma, 0.0)
        return means[key]

    response = np.stack([mean("a", s) - mean("a", ratio * s) for s in sigmas])
    spread = np.array([robust_spread(r[sample]) or 1.0 for r in response], np.float32)
    z = response / spread[:, None, None]
    z[:, ~skin] = -np.inf
    best, best_k = z.max(axis=0), z.argmax(axis=0)
    peaks = np.zeros(skin.shape, bool)
    for k, r in enumerate(radii):
        reach = max(1, int(round(r * params["peak_radius_fraction"])))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)
        peaks |= ((best_k == k) & (best >= cv2.dilate(best, kernel))
                  & (best >= params["candidate_min_z"]))
    ys, xs = np.nonzero(peaks)
    if len(xs) == 0:
        return empty
    ks = best_k[ys, xs]
    out = {"x": xs.astype(float), "y": ys.astype(float), "radius_px": radii[ks],
           "z": best[ys, xs].astype(float), "contrast_a": response[ks, ys, xs].astype(float)}
    for f in ("z_local", "contrast_ei", "darkening_l", "curvature_ratio", "skin_fraction"):
        out[f] = np.zeros(len(xs))
    weight = skin.astype(np.float32)
    window = params["local_window_mm"] * px_per_mm
    for k in np.unique(ks):
        sel = ks == k
        yy, xx, s = ys[sel], xs[sel], sigmas[k]
        rms = np.sqrt(local_reference(response[k] ** 2, skin, window, 0.0)[yy, xx])
        out["z_local"][sel] = response[k][yy, xx] / np.maximum(rms, 1e-6)
        out["contrast_ei"][sel] = (mean("ei", s) - mean("ei", ratio * s))[yy, xx]
        out["darkening_l"][sel] = (mean("l", ratio * s) - mean("l", s))[yy, xx]
        box = 2 * max(1, int(round(radii[k]))) + 1
        out["skin_fraction"][sel] = cv2.blur(weight, (box, box))[yy, xx]
        out["curvature_ratio"][sel] = _curvature_ratio(mean("a", s), yy, xx)
    out["darkness_od"] = (density[ys, xs] - density_median).astype(float)
    out["ei_above_skin"] = (ei[ys, xs] - ei_median).astype(float)
    return out


def _suppress(xy: np.ndarray, radius: np.ndarray, score: np.ndarray,
              overlap: float) -> np.ndarray:
    """Non-maximum suppression: highest score first, a spot goes when its centre lies within
    ``overlap`` x the larger radius of a higher-scoring spot kept. Returns the kept (bool)."""
    keep = np.zeros(len(xy), bool)
    if len(xy) == 0:
        return keep
    tree, gone = cKDTree(xy), np.zeros(len(xy), bool)
    for i in np.argsort(-score):
        if gone[i]:
            continue
        keep[i] = True
        for j in tree.query_ball_point(xy[i], overlap * float(radius.max())):
            if not keep[j] and (np.hypot(*(xy[i] - xy[j]))
                                <= overlap * max(radius[i], radius[j])):
                gone[j] = True
    return keep


def passes_rules(candidates: Mapping[str, np.ndarray], params: Mapping[str, float]
                 ) -> np.ndarray:
    """Which :func:`lesion_candidates` pass all nine rules of step 3 of the module text
    (``min_z`` .. ``min_skin_fraction``); (N,) bool."""
    c = candidates
    return ((c["z"] >= params["min_z"]) & (c["contrast_a"] >= params["min_contrast_a"])
            & (c["contrast_ei"] >= params["min_contrast_ei"])
            & (c["darkening_l"] >= params["min_darkening_l"])
            & (c["z_local"] >= params["min_z_local"])
            & (c["darkness_od"] <= params["max_darkness_od"])
            & (c["ei_above_skin"] >= params["min_ei_above_skin"])
            & (c["curvature_ratio"] <= params["max_curvature_ratio"])
            & (c["skin_fraction"] >= params["min_skin_fraction"]))


def score_features(candidates: Mapping[str, np.ndarray], params: Mapping[str, float]
                   ) -> np.ndarray:
    """The features of :data:`SCORE_FEATURES` of each candidate: its fields of
    :func:`lesion_candidates`, the roundness 1 / curvature_ratio (0 where a* has no
    maximum) and :func:`passes_rules` (1 or 0).

    Returns
    -------
    (N, len(SCORE_FEATURES)) float ndarray
    """
    c = dict(candidates)
    c["roundness"] = 1.0 / c["curvature_ratio"]
    c["passes_rules"] = passes_rules(candidates, params).astype(float)
    return np.column_stack([np.asarray(c[f], float) for f in SCORE_FEATURES]
                           ).reshape(-1, len(SCORE_FEATURES))


def lesion_probability(candidates: Mapping[str, np.ndarray], params: Mapping[str, float]
                       ) -> np.ndarray:
    """Probability that each candidate is a lesion: logistic regression (Cox [1]) of its
    standardised :func:`score_features`,

        p = 1 / (1 + exp(-(b0 + sum_f w_f (x_f - m_f) / s_f)))

    with b0 = ``score_intercept`` and, per feature f, m_f = ``<f>_mean``, s_f = ``<f>_sd``
    and w_f = ``<f>_weight``.

    Parameters
    ----------
    candidates : mapping of (N,) ndarray
        Output of :func:`lesion_candidates`.
    params : mapping
        The ``[acne_lesion]`` pipeline section (see :data:`PARAMS`).

    Returns
    -------
    (N,) float ndarray
        Probabilities in [0, 1].

    References
    ----------
    .. [1] Cox D.R. The regression analysis of binary sequences. J R Stat Soc B
           1958;20:215-242.
    """
    x = score_features(candidates, params)
    mean, sd, weight = (np.array([params[f"{f}_{k}"] for f in SCORE_FEATURES])
                        for k in ("mean", "sd", "weight"))
    logit = params["score_intercept"] + ((x - mean) / sd) @ weight
    return 1.0 / (1.0 + np.exp(-logit))


def select_lesions(candidates: Mapping[str, np.ndarray], params: Mapping[str, float]
                   ) -> np.ndarray:
    """The lesions among :func:`lesion_candidates` (steps 3-4 of the module text).

    Returns
    -------
    (N, 4) float ndarray
        x, y, radius (px) and :func:`lesion_probability` of each lesion, most probable
        first.
    """
    c = candidates
    if len(c["x"]) == 0:
        return np.zeros((0, 4))
    probability = lesion_probability(c, params)
    found = np.column_stack([c["x"], c["y"], c["radius_px"], probability])
    found = found[probability >= params["min_probability"]]
    found = found[_suppress(found[:, :2], found[:, 2], found[:, 3], params["nms_overlap"])]
    return found[np.argsort(-found[:, 3])]


def find_lesions(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
                 scale: Scale, face_area: np.ndarray | None = None) -> np.ndarray:
    """Acne lesions in the skin region (within ``face_area`` when given).

    Returns
    -------
    (N, 4) float ndarray
        x, y, radius (px) and probability of each lesion, most probable first.
    """
    where = roi if face_area is None else roi & face_area
    return select_lesions(lesion_candidates(planes, where, params, scale.size_px_per_mm),
                          params)


def lesion_outlines(planes: ColourPlanes, where: np.ndarray, lesions: np.ndarray,
                    params: Mapping[str, float], px_per_mm: float) -> np.ndarray:
    """Label image of lesions (x, y, radius rows of :func:`find_lesions`, most probable
    first),
    each outlined at its half maximum (step 5 of the module text): the skin connected to
    its centre whose a* exceeds the mean of the skin around (Gaussian sigma
    ``surround_ratio`` x the lesion's) by at least ``outline_fraction`` of the centre's
    excess, within ``max_outline_ratio`` x its radius of the centre; label i + 1 for row i,
    a more probable lesion drawn over a less probable one where they overlap.

    Parameters
    ----------
    planes : ColourPlanes
    where : (H, W) bool ndarray
        Skin that may hold lesions.
    lesions : (N, >=3) float ndarray
        x, y, radius (px) of each lesion, most probable first.
    params : mapping
        The ``[acne_lesion]`` pipeline section (see :data:`PARAMS`).
    px_per_mm : float
        Scale of ``planes``.

    Returns
    -------
    (H, W) int32 ndarray
        0 off lesions, 1..N (relabelled without gaps).
    """
    skin = np.asarray(where, bool)
    labels = np.zeros(skin.shape, np.int32)
    if len(lesions) == 0:
        return labels
    a_star = np.ascontiguousarray(planes.lab[..., 1], dtype=np.float32)
    surrounds: dict[float, np.ndarray] = {}
    height, width = skin.shape
    for i in range(len(lesions) - 1, -1, -1):
        x, y, r = lesions[i, :3]
        sigma = params["surround_ratio"] * max(r / np.sqrt(2.0), 0.5)
        if sigma not in surrounds:
            surrounds[sigma] = local_reference(a_star, skin, sigma, 0.0)
        cx, cy = int(round(x)), int(round(y))
        reach = max(1, int(np.ceil(params["max_outline_ratio"] * r)))
        y0, y1 = max(cy - reach, 0), min(cy + reach + 1, height)
        x0, x1 = max(cx - reach, 0), min(cx + reach + 1, width)
        excess = a_star[y0:y1, x0:x1] - surrounds[sigma][y0:y1, x0:x1]
        yy, xx = np.ogrid[y0 - cy:y1 - cy, x0 - cx:x1 - cx]
        inside = skin[y0:y1, x0:x1] & (yy**2 + xx**2 <= reach**2)
        at_centre = excess[cy - y0, cx - x0]
        above = inside & (excess >= params["outline_fraction"] * at_centre)
        above[cy - y0, cx - x0] = True
        parts = cv2.connectedComponents(above.view(np.uint8), connectivity=8)[1]
        labels[y0:y1, x0:x1][parts == parts[cy - y0, cx - x0]] = i + 1
    labels[~skin] = 0
    present = np.bincount(labels.ravel(), minlength=len(lesions) + 1) > 0
    present[0] = False
    return renumbered(labels, present)


def acne_lesion_metrics(roi: np.ndarray, labels: np.ndarray, px_per_mm: float | None
                        ) -> tuple[dict, dict]:
    """Count, density, area and mean diameter of labelled acne lesions
    (:func:`skinmetrics.stages.base.object_metrics`)."""
    return object_metrics("acne_lesion", roi, labels, px_per_mm)


def detect(planes: ColourPlanes, roi: np.ndarray, params: Mapping[str, float],
           scale: Scale, fringe: np.ndarray | None = None,
           face_area: np.ndarray | None = None
           ) -> tuple[np.ndarray, dict[str, float | None]]:
    """The lesions on the whole skin region (a label image) and the values estimated from
    the photo (none); ``face_area``: the face's outline in a face photo (only skin inside
    it is searched); ``fringe`` is not used (the lesions are much wider than a hair's
    blurred edge)."""
    where = roi if face_area is None else roi & face_area
    lesions = find_lesions(planes, where, params, scale)
    return lesion_outlines(planes, where, lesions, params, scale.size_px_per_mm), {}


def summarise(planes: ColourPlanes, roi: np.ndarray, found: np.ndarray,
              params: Mapping[str, float], scale: Scale,
              region: np.ndarray | None = None) -> StageResult:
    """Mask and metrics of lesions found by :func:`detect`, within ``roi & region``
    (a lesion cut by the region's edge was found whole and is measured inside)."""
    return summarise_objects(found, roi, region, scale.px_per_mm, acne_lesion_metrics)
