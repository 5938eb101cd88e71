"""Real clinical photographs (ACNE04, research licence) in ../shared/data; skipped without it.

The acne photos are 640x640 face images (about 4 px/mm after the exporter's stretch) with
expert lesion circles (Acne04-v2). Acne lesions are skin, and inflamed ones are red, so:
the skin region must contain the lesion centres, and the erythema mask must cover lesion
pixels far more often than the rest of the skin.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline, measure_image

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

N_IMAGES = 20
PX_PER_MM = 4.0


@pytest.fixture(scope="module")
def acne_results(shared_data):
    folder = shared_data / "acne04_valid"
    annotations = json.loads((folder / "acne04v2_circles_640.json").read_text())["images"]
    annotated = [a for a in annotations if len(a["lesions"]) >= 3][:N_IMAGES]
    pipe = load_pipeline("acne")
    out = []
    for ann in annotated:
        rgb = read_image(folder / "images" / ann["file_name"])
        out.append((ann, rgb.shape[:2], measure_image(rgb, pipe, PX_PER_MM)))
    return out


def _lesion_mask(shape, lesions):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    mask = np.zeros(shape, bool)
    for les in lesions:
        mask |= (((yy - les["cy"]) / max(les["ry"], 1.0)) ** 2
                 + ((xx - les["cx"]) / max(les["rx"], 1.0)) ** 2) <= 1.0
    return mask


def test_lesion_centres_lie_in_the_skin_region(acne_results):
    inside = [res.masks["roi"][int(les["cy"]), int(les["cx"])]
              for ann, _, res in acne_results for les in ann["lesions"]]
    assert len(inside) > 100
    assert np.mean(inside) >= 0.85


def test_skin_region_excludes_the_dark_backdrop(acne_results, shared_data):
    """The standardized capture has a near-black backdrop: it must not count as skin."""
    from skinmetrics.colour import ColourPlanes

    folder = shared_data / "acne04_valid" / "images"
    for ann, _, res in acne_results:
        L = ColourPlanes(read_image(folder / ann["file_name"])).lab[..., 0]
        roi = res.masks["roi"]
        assert 0.15 < roi.mean() < 0.9
        backdrop = L < 12
        if backdrop.sum() > 1000:
            assert roi[backdrop].mean() < 0.05


def test_erythema_is_enriched_on_lesions(acne_results):
    ratios = []
    for ann, shape, res in acne_results:
        roi, ery = res.masks["roi"], res.masks["erythema"]
        lesions = _lesion_mask(shape, ann["lesions"]) & roi
        if lesions.sum() < 20 or not (roi & ~lesions).any():
            continue
        rest = ery[roi & ~lesions].mean()
        ratios.append(ery[lesions].mean() / max(rest, 1e-3))
    assert len(ratios) >= 10
    assert np.median(ratios) >= 3.0
    assert np.mean(np.array(ratios) > 1.0) >= 0.85
