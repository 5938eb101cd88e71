"""The skin region on real lesion close-ups (PAD-UFES-20, expert lesion masks) and on a
synthetic dark keratosis: lesions stay skin, hair does not shred the region, a dark backdrop
is still left out.

The PAD-UFES-20 photos (../shared/data/pad_ufes20_body, CC BY 4.0; Pacheco et al., Data in
Brief 2020;32:106221) carry no scale: each is taken as a close-up 30 mm across (the region
measured the same, within 0.015 of the mean lesion share, at 20 mm and 45 mm).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.color import lab2rgb

from skinmetrics.pipeline import load_pipeline, skin_region
from skinmetrics.roi import skin_texture

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

FIELD_MM = 30.0
PIGMENTED = ("NEV", "SEK", "MEL")
#: forearm, arm and chest close-ups with dense hair (chosen by eye)
HAIRY = ("PAT_1014_86_861.png", "PAT_1070_305_907.png", "PAT_1074_322_662.png",
         "PAT_1549_1882_230.png", "PAT_1902_3790_168.png", "PAT_236_361_180.png",
         "PAT_289_1399_481.png", "PAT_411_815_692.png", "PAT_868_1657_698.png")


@pytest.fixture(scope="module")
def pad_regions(shared_data):
    """Per PAD image (single and pair subsets): its subset, name, diagnosis, the share of
    its expert lesion mask inside the skin region, the share of the photo that is skin, the
    largest connected piece's share of the skin region and the region's lightness texture."""
    import csv

    root = shared_data / "pad_ufes20_body"
    if not (root / "index.csv").is_file():
        pytest.skip("pad_ufes20_body is not in ../shared/data")
    pipeline = load_pipeline("laser_recovery")
    rows = []
    with open(root / "index.csv", newline="") as f:
        for r in csv.DictReader(f):
            srgb = cv2.imread(str(root / r["img_file"]))[..., ::-1].astype(np.float32) / 255
            lesion = cv2.imread(str(root / r["mask_file"]), cv2.IMREAD_GRAYSCALE) > 127
            roi = skin_region(srgb, pipeline, srgb.shape[1] / FIELD_MM)
            labels, n = ndi.label(roi)
            largest = np.bincount(labels.ravel())[1:].max() / roi.sum() if n else 0.0
            rows.append({"subset": r["subset"], "name": r["img_id"], "dx": r["diagnostic"],
                         "inside": float(roi[lesion].mean()), "kept": float(roi.mean()),
                         "largest": float(largest), "texture": skin_texture(srgb, roi)})
    return rows


def test_real_skin_is_never_taken_for_a_uniform_surface(pad_regions):
    """Every close-up's skin shows well above the lightness texture below which a photo is
    refused as a uniform surface (the smoothest PAD photo: 0.30 L*; a uniform frame with
    sensor noise of 4 levels: 0.16)."""
    floor = load_pipeline("laser_recovery").params["roi"]["min_texture_l_star"]
    assert min(r["texture"] for r in pad_regions) >= 1.8 * floor


def test_pigmented_lesions_stay_skin(pad_regions):
    """Nevi, keratoses and melanomas (56 photos): 53 are >= 0.95 inside the skin region
    (median 1.00; the rest 0.54 under dense white hair, 0.86, 0.94). The code before cut
    dark lesions out as shadow and missed skin of a grey or purple rendering: 16 of 56,
    median 0.76, 9 below 0.2."""
    inside = np.array([r["inside"] for r in pad_regions if r["dx"] in PIGMENTED])
    assert len(inside) == 56
    assert np.count_nonzero(inside >= 0.95) >= 51
    assert np.median(inside) >= 0.99
    assert np.count_nonzero(inside < 0.8) <= 2


def test_every_lesion_is_mostly_skin(pad_regions):
    """All 92 photos (red actinic keratoses and carcinomas too, whose white scale and shine
    are still glare): mean share inside 0.95 (singles 0.91, pairs 0.97), none below 0.45;
    before 0.59, with 19 below 0.2."""
    inside = np.array([r["inside"] for r in pad_regions])
    assert inside.mean() >= 0.92
    assert inside.min() >= 0.4
    for subset in ("single", "pair"):
        assert np.mean([r["inside"] for r in pad_regions if r["subset"] == subset]) >= 0.88


def test_hair_does_not_shred_the_skin(pad_regions):
    """On the 9 hairy close-ups the strands, dark and white, stay in the region (as
    untrusted fringe): each is one piece (its largest piece >= 0.98 of the region; before
    2 of 9, down to 0.06), the share of the photo that is skin 0.91 on average, at least
    0.79 (before 0.61, down to 0.05)."""
    hairy = [r for r in pad_regions if r["subset"] == "single" and r["name"] in HAIRY]
    assert len(hairy) == len(HAIRY)
    assert all(r["largest"] >= 0.9 for r in hairy)
    assert np.mean([r["kept"] for r in hairy]) >= 0.85
    assert min(r["kept"] for r in hairy) >= 0.7


def _lab_photo(lab: np.ndarray, seed: int) -> np.ndarray:
    """sRGB photo of a CIELAB image with slight blur and noise."""
    srgb = lab2rgb(lab).astype(np.float32)
    srgb = cv2.GaussianBlur(srgb, (0, 0), 0.8)
    srgb += np.random.default_rng(seed).normal(0, 0.01, srgb.shape).astype(np.float32)
    return np.clip(srgb, 0, 1)


@pytest.mark.parametrize("lesion_ab", [(8.0, 10.0), (0.0, -4.0)])
def test_a_dark_keratosis_stays_skin_a_dark_backdrop_does_not(lesion_ab):
    """L* 60 skin at 10 px/mm with an 8 mm disc of L* 25 (brown, or blue-grey as a deep
    nevus shows) in it, and a dark L* 12 backdrop over its left quarter: the disc is skin
    (>= 0.98 of it), the backdrop is not (<= 0.02). Before, the disc, larger than a hole
    that was filled (30 mm2) and darker than the shadow limit, was cut out."""
    ppm = 10.0
    h, w = 200, 320
    lab = np.empty((h, w, 3))
    lab[:] = (60.0, 14.0, 18.0)
    yy, xx = np.mgrid[0:h, 0:w]
    disc = np.hypot(yy - 100, xx - 200) <= 4.0 * ppm
    lab[disc] = (25.0, *lesion_ab)
    backdrop = xx < w // 4
    lab[backdrop] = (12.0, 1.0, 1.0)
    roi = skin_region(_lab_photo(lab, seed=3), load_pipeline("laser_recovery"), ppm)
    assert roi[disc].mean() >= 0.98
    assert roi[backdrop].mean() <= 0.02
    assert roi[~disc & ~backdrop & (xx > w // 4 + 10)].mean() >= 0.98


def test_a_purple_rendering_of_skin_is_still_skin():
    """A close-up rendered purple (skin at a* 16, b* -13: hue -39 degrees, outside the skin
    band) with a dark nevus: the cast is found and taken out, the photo is skin (>= 0.98) and
    so is the nevus; the same photo in skin's own colour has no cast. Before, none of it
    was skin."""
    from skinmetrics.colour import ColourPlanes
    from skinmetrics.roi import colour_cast

    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    nevus = np.hypot(yy - 80, xx - 100) <= 30
    pipeline = load_pipeline("laser_recovery")
    for skin_ab, cast_expected in (((16.0, -13.0), True), ((14.0, 18.0), False)):
        lab = np.empty((h, w, 3))
        lab[:] = (62.0, *skin_ab)
        lab[nevus] = (22.0, 8.0, -10.0)
        srgb = _lab_photo(lab, seed=4)
        planes = ColourPlanes(srgb)
        cast = colour_cast(planes.lab, planes.lab[..., 0] > 30, pipeline.params["roi"])
        assert (np.hypot(*cast) > 5) == cast_expected
        # from the photo's planes (CIELAB made only where a cast is possible): the same
        assert colour_cast(ColourPlanes(srgb), planes.lab[..., 0] > 30,
                           pipeline.params["roi"]) == cast
        roi = skin_region(srgb, pipeline, 10.0)
        assert roi.mean() >= 0.98 and roi[nevus].mean() >= 0.98


@pytest.mark.parametrize("backdrop", [(0.25, 0.40, 0.65), (0.30, 0.55, 0.35), (0.55, 0.55, 0.56)])
def test_a_coloured_backdrop_is_no_colour_cast(backdrop):
    """Skin on a third of the frame, the rest a uniform blue, green or grey backdrop (a
    clinic drape or wall): the backdrop is not taken for skin under a colour cast (before:
    all of it was skin)."""
    from skinmetrics.synthetic import make_phantom

    skin = make_phantom((240, 320), 25.0, 60.0, seed=1).image.astype(np.float32) / 255
    photo = np.empty((360, 480, 3), np.float32)
    photo[:] = backdrop
    photo[60:300, 80:400] = skin
    roi = skin_region(photo, load_pipeline("laser_recovery"), 25.0)
    inside = np.zeros(roi.shape, bool)
    inside[60:300, 80:400] = True
    assert roi[inside].mean() >= 0.8
    assert roi[~inside].mean() <= 0.01
