"""Acne lesions (papules, pustules, nodules): a rendered skin patch with known lesions, brown
spots and diffuse redness, and real ACNE04 faces with expert lesion circles."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.stats import spearmanr
from skimage.filters import threshold_otsu

from skinmetrics.colour import ColourPlanes
from skinmetrics.core import measure
from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.scoring import ObjectMatch, match_in_ellipses

from .conftest import plain_skin_photo, soft_disc

#: Raised red lesions of the phantom: centre (mm from the top left) and diameter, mm.
LESIONS_MM = [(10, 10, 1.5), (10, 30, 2.5), (10, 50, 4.0), (25, 25, 3.0), (25, 45, 6.0),
              (40, 35, 2.0), (52, 30, 3.5), (52, 52, 5.0), (33, 8, 2.0), (48, 6, 3.0)]
#: Flat brown spots (post-acne marks, naevi): centre and diameter, mm.
BROWN_MM = [(20, 8, 4.0), (35, 52, 3.0), (55, 18, 5.0), (18, 38, 2.5)]
SIDE_MM = 60.0


def _mottle(shape: tuple[int, int], sigma_px: float, sd: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma_px)
    return sd * noise / noise.std()


def lesion_patch(px_per_mm: float) -> np.ndarray:
    """A 60 x 60 mm skin patch: mottled skin (blood and melanin texture at 0.5-2 mm), a
    diffuse red patch (16 mm wide, 0.12 OD of haemoglobin), the :data:`LESIONS_MM` (0.3 OD
    of haemoglobin, soft edges) and the :data:`BROWN_MM` (0.5 OD of melanin)."""
    side = round(SIDE_MM * px_per_mm)
    shape = (side, side)
    blood = (_mottle(shape, 1.5 * px_per_mm, 0.02, 1)
             + _mottle(shape, 0.4 * px_per_mm, 0.01, 2))
    yy, xx = np.mgrid[0:side, 0:side] / px_per_mm
    blood += 0.12 * np.exp(-((yy - 45) ** 2 + (xx - 15) ** 2) / (2 * 8.0**2))
    melanin = _mottle(shape, 2.0 * px_per_mm, 0.02, 3)
    for y, x, d in LESIONS_MM:
        r = d / 2 * px_per_mm
        blood += soft_disc(shape, (y * px_per_mm, x * px_per_mm), r, 0.3 * r, 0.3)
    for y, x, d in BROWN_MM:
        melanin += soft_disc(shape, (y * px_per_mm, x * px_per_mm), d / 2 * px_per_mm,
                             0.1 * px_per_mm, 0.5)
    return plain_skin_photo(shape, extra_melanin=melanin, extra_blood=blood, seed=4)


@pytest.mark.parametrize("px_per_mm", [10.0, pytest.param(25.0, marks=pytest.mark.slow)])
def test_phantom_lesions_counted_not_brown_spots_or_diffuse_redness(px_per_mm):
    photo = lesion_patch(px_per_mm)
    pipe = load_pipeline("acne")
    result = measure_image(photo, dataclasses.replace(pipe, stages=("acne_lesion",)), px_per_mm)
    n = len(LESIONS_MM)
    assert abs(result.metrics["acne_lesion_count"] - n) <= 0.1 * n
    assert result.metrics["acne_lesion_density_per_cm2"] == pytest.approx(
        result.metrics["acne_lesion_count"] / (result.metrics["roi_area_mm2"] / 100))
    # outlined at their half maximum: each lesion's equivalent diameter within 15 % of its
    # own (drawn as the disc of the strongest response's scale, the 6 mm one measured 3.9)
    labels = ndi.label(result.masks["acne_lesion"])[0]
    for y, x, d in LESIONS_MM:
        lesion = labels == labels[round(y * px_per_mm), round(x * px_per_mm)]
        assert np.sqrt(4 * lesion.sum() / np.pi) / px_per_mm == pytest.approx(d, rel=0.15)
    truth_mean = np.mean([d for _, _, d in LESIONS_MM])
    assert result.metrics["acne_lesion_mean_diameter_mm"] == pytest.approx(truth_mean, rel=0.1)
    # where they are: each lesion drawn on a red lesion, none on a brown spot or the patch
    centres_mm = np.array(ndi.center_of_mass(labels > 0, labels,
                                             range(1, labels.max() + 1))) / px_per_mm

    def on(marks: list) -> np.ndarray:
        """Which found lesions lie on one of ``marks`` (within its radius + 1 mm)."""
        marks = np.array(marks)
        dist = np.linalg.norm(centres_mm[:, None, :] - marks[None, :, :2], axis=-1)
        return (dist <= marks[None, :, 2] / 2 + 1.0).any(axis=1)

    assert on(LESIONS_MM).all()  # every lesion found is a real one
    assert not on(BROWN_MM).any()  # none on a brown spot
    # no scale: counted the same, mm metrics empty
    plain = measure_image(photo, dataclasses.replace(pipe, stages=("acne_lesion",)))
    if px_per_mm == 25.0:  # the pipeline's assumed scale is this photo's
        assert plain.metrics["acne_lesion_count"] == result.metrics["acne_lesion_count"]
    assert plain.metrics["acne_lesion_density_per_cm2"] is None
    assert plain.metrics["acne_lesion_mean_diameter_mm"] is None


def test_only_the_face_area_is_searched():
    """A face photo's outline (``face_area``, from :func:`skinmetrics.core.measure`) reaches
    the layer through the pipeline: lesions outside it are not counted, the other layers
    and the skin region do not change."""
    photo = lesion_patch(10.0)
    pipe = load_pipeline("acne")
    pipe = dataclasses.replace(pipe, stages=("pigmentation", "acne_lesion"))
    left = np.zeros(photo.shape[:2], bool)
    left[:, :400] = True  # x < 40 mm
    whole = measure_image(photo, pipe, 10.0)
    half = measure_image(photo, pipe, 10.0, face_area=left)
    inside = sum(1 for _, x, _ in LESIONS_MM if x < 40)
    assert half.metrics["acne_lesion_count"] == inside < whole.metrics["acne_lesion_count"]
    assert not (half.masks["acne_lesion"] & ~left).any()
    assert np.array_equal(half.masks["roi"], whole.masks["roi"])
    assert half.metrics["pigment_spot_count"] == whole.metrics["pigment_spot_count"]


def test_no_lesion_on_even_skin():
    photo = plain_skin_photo((300, 300), seed=7)
    pipe = load_pipeline("acne")
    result = measure_image(photo, dataclasses.replace(pipe, stages=("acne_lesion",)), 10.0)
    assert result.metrics["acne_lesion_count"] == 0
    assert result.metrics["acne_lesion_mean_diameter_mm"] is None


# --------------------------------------------------------------------------- real faces
#: Every 6th of the 243 labelled faces sorted by file name, 40 faces (all from the TUNE
#: half on which the rules and the lesion score were set; docs/validation.md gives both
#: halves).
REAL_STEP, REAL_FACES = 6, 40
#: Bounds a little below what the layer measures on those faces (F1 0.35, rho 0.51 on
#: 2026-12-06). The trivial detector (Otsu's threshold of a* over the same search region,
#: each blob one lesion) scores F1 0.02 and rho 0.08 there, far below both.
MIN_F1, MIN_RHO = 0.30, 0.40


def _otsu_blobs(srgb: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The trivial detector: centroids (row, column) of the 4-2000 px blobs of a* above
    Otsu's threshold over ``where``."""
    a = ColourPlanes(srgb).lab[..., 1]
    labels, n = ndi.label((a > threshold_otsu(a[where])) & where, structure=np.ones((3, 3)))
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero((size >= 4) & (size <= 2000)) + 1
    return np.asarray(ndi.center_of_mass(labels > 0, labels, keep)).reshape(-1, 2)


def _scores(matches: list[ObjectMatch]) -> tuple[float, float]:
    found = np.array([m.found for m in matches])
    truth = np.array([m.truth for m in matches])
    matched = sum(m.matched for m in matches)
    return 2 * matched / (found.sum() + truth.sum()), float(spearmanr(found, truth)[0])


@pytest.mark.slow
def test_acne04_lesions_beat_bounds_a_trivial_detector_fails(shared_data):
    """Pooled F1 and Spearman's rho of the found against the expert lesion count on 40
    ACNE04 faces (a found lesion matches when its centre lies inside the expert ellipse
    + 3 px, one-to-one) are above :data:`MIN_F1` and :data:`MIN_RHO`; the trivial
    detector, measured here on the same faces and search region, is below both."""
    folder = shared_data / "acne04_valid"
    with open(folder / "acne04v2_circles_640.json") as f:
        faces = sorted((e for e in json.load(f)["images"] if e["lesions"]),
                       key=lambda e: e["file_name"])[::REAL_STEP][:REAL_FACES]
    pipe = load_pipeline("acne")
    pipe = dataclasses.replace(pipe, stages=("acne_lesion",))
    ours, trivial = [], []
    for e in faces:
        srgb = read_image(folder / "images" / e["file_name"])
        photo = measure(srgb, pipe, px_per_mm=4.0, chart="none", view="front")
        labels = photo.detection.found["acne_lesion"]
        assert photo.metrics["acne_lesion_count"] == labels.max()
        centres = ndi.center_of_mass(labels > 0, labels, np.arange(1, labels.max() + 1))
        truth = np.array([(les["cy"], les["cx"]) for les in e["lesions"]])
        axes = np.array([(les["ry"], les["rx"]) for les in e["lesions"]])
        ours.append(match_in_ellipses(np.asarray(centres), truth, axes, 3.0))
        where = photo.detection.roi & (True if photo.face_area is None else photo.face_area)
        trivial.append(match_in_ellipses(_otsu_blobs(srgb, where), truth, axes, 3.0))
    f1, rho = _scores(ours)
    base_f1, base_rho = _scores(trivial)
    assert f1 >= MIN_F1 and rho >= MIN_RHO, (f1, rho)
    assert base_f1 < MIN_F1 and base_rho < MIN_RHO, (base_f1, base_rho)
