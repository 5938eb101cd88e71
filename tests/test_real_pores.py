"""Pores on a real face with expert pore labels (PoreNet, ../shared/data; skipped without it).

The left half of the one labelled PoreNet face: 1 323 labelled pores inside the expert's
region of interest, pores 3.5-7 px across, about 12.5 px/mm (its eye distance). Found pores
are matched one-to-one to labelled ones by centroid within 6 px inside that region
(:func:`skinmetrics.scoring.match_objects`). Scored on the top and the bottom half of the
rows separately: the settings must hold on both parts of the face, not on one.
"""

from __future__ import annotations

import numpy as np
import pytest

from skinmetrics.colour import linear_to_srgb, srgb_to_linear
from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.scoring import match_objects

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

PX_PER_MM = 12.5


@pytest.fixture(scope="module")
def pore_face(shared_data):
    folder = shared_data / "porenet_left_half"
    rgb = read_image(folder / "face_left_half.png")
    label, roi = (read_image(folder / name)[..., 0] > 0.5
                  for name in ("pore_label_left_half.png", "roi_left_half.png"))
    found = measure_image(rgb, load_pipeline("acne"), PX_PER_MM).masks["pore"]
    return found, label, roi, rgb


@pytest.mark.parametrize("part", ["top", "bottom"])
def test_real_pores_are_found(pore_face, part):
    """Measured 2026-12-05: F1 0.672 (top) and 0.745 (bottom), precision 0.60-0.70, recall
    0.76-0.80 (the threshold chosen on the top half); without the level's least spread (the
    photo's noise), 0.675 and 0.740; with the texture level's floor at half, 0.66 and 0.67;
    the detector before (a fixed top-hat contrast) reached F1 0.22 and 0.26, finding only the
    darkest pores; a plain black top-hat with Otsu's threshold 0.54 / 0.50."""
    found, label, roi, _ = pore_face
    rows = np.arange(roi.shape[0])[:, None]
    half = roi.shape[0] // 2
    where = roi & ((rows < half) if part == "top" else (rows >= half))
    match = match_objects(found, label, 6.0, where)
    assert match.truth > 150
    assert match.f1 >= {"top": 0.67, "bottom": 0.72}[part]
    assert match.recall >= 0.75 and match.precision >= 0.58


def test_real_pores_counted_in_a_noisier_capture(pore_face):
    """The same face taken as if in dimmer light: 3 % luminance noise (normal, one value per
    pixel for all three channels, in linear light), 8-bit sRGB. Noise must not be counted as
    pores: the pore count stays within 10 % of the labelled one and F1 >= 0.68 (measured
    2026-12-05, three noise seeds: +4.7 to +5.6 %, F1 0.696-0.712 on the whole half, +16 %
    and F1 0.733 without the noise; without the texture level's least spread, the photo's
    noise, +50 to +51 % and F1 0.65-0.66)."""
    _, label, roi, rgb = pore_face
    noise = 1 + 0.03 * np.random.default_rng(0).standard_normal(rgb.shape[:2])
    noisy = np.round(linear_to_srgb(srgb_to_linear(rgb) * noise[..., None]).clip(0, 1) * 255)
    found = measure_image(noisy / 255, load_pipeline("acne"), PX_PER_MM).masks["pore"]
    match = match_objects(found, label, 6.0, roi)
    assert abs(match.found / match.truth - 1) <= 0.10, (match.found, match.truth)
    assert match.f1 >= 0.68
