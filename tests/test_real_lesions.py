"""Lesions wider than the unaffected-skin reference scale, on synthetic skin and on real
smartphone close-ups with expert masks (PAD-UFES-20 singles, ../shared/data)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from skinmetrics.colour import ColourPlanes
from skinmetrics.io import read_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.scoring import dice
from skinmetrics.stages import erythema, pigmentation
from skinmetrics.stages.base import Scale

from .conftest import plain_skin_photo, soft_disc

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

PPM = 20.0  # px/mm of the synthetic photos
SHAPE = (800, 800)  # 40 mm square


@pytest.fixture(scope="module")
def laser():
    return load_pipeline("laser_recovery")


@pytest.mark.parametrize("side_px", [780, 800, 880])
def test_diffuse_erythema_30_mm_across_is_found_whole(laser, side_px):
    """A faint (0.08 OD more blood) patch 30 mm across with a 2 mm soft edge on light
    skin, in a square 39, 40 or 44 mm across (the patch 46, 44 or 37 % of it): far wider
    than the 4 mm reference, it used to be drawn as a ring or missed. The first pass of
    the 25 mm reference (a mean, which such a patch raises) also leaves out the parts
    that wide standing above the skin's local median: before, the patch was missed whole
    in the 39 mm square."""
    shape = (side_px, side_px)
    patch = soft_disc(shape, (side_px // 2, side_px // 2), 15.0 * PPM, 2.0 * PPM)
    found = measure_image(plain_skin_photo(shape, extra_blood=0.08 * patch, seed=3),
                          laser, PPM).masks["erythema"]
    assert dice(found, patch > 0.5) >= 0.85


def test_nevus_8_mm_across_is_found_whole(laser):
    """A dark (0.5 OD more melanin) nevus 8 mm across: wider than the 3 mm reference."""
    nevus = soft_disc(SHAPE, (400, 400), 4.0 * PPM, 0.3 * PPM)
    found = measure_image(plain_skin_photo(SHAPE, extra_melanin=0.5 * nevus, seed=4),
                          laser, PPM).masks["pigment"]
    assert dice(found, nevus > 0.5) >= 0.85


@pytest.fixture(scope="module")
def pad_dice(shared_data, laser):
    """Per class (red: ACK -> erythema; pigmented: NEV/SEK/MEL -> pigment), the Dice of
    each PAD single against its expert mask, the skin region taken as the whole photo
    (the lesion close-ups are all skin) at the pipeline's assumed scale."""
    root = shared_data / "pad_ufes20_body"
    scale = Scale(None, laser.params["scale"]["assumed_px_per_mm"])
    out: dict[str, list[float]] = {"red": [], "pigmented": []}
    with open(root / "index.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["subset"] == "single"]
    for row in rows:
        photo = read_image(root / row["img_file"])
        truth = cv2.imread(str(root / row["mask_file"]), cv2.IMREAD_GRAYSCALE) > 127
        red = row["diagnostic"] == "ACK"
        stage, name = (erythema, "erythema") if red else (pigmentation, "pigmentation")
        found, _ = stage.detect(ColourPlanes(photo), np.ones(truth.shape, bool),
                                laser.params[name], scale)
        out["red" if red else "pigmented"].append(dice(found, truth))
    return out


def test_pad_pigmented_lesions_are_outlined(pad_dice):
    """12 pigmented lesions, dark nevi, keratoses and melanomas among them (2026-12-05:
    mean 0.54 on melanin density alone, which misses the blue-grey nevus and the
    melanomas; 0.71 on melanin plus the grey term)."""
    assert len(pad_dice["pigmented"]) == 12
    assert np.mean(pad_dice["pigmented"]) >= 0.65


@pytest.mark.parametrize(("name", "least"),
                         [("PAT_2088_4524_465", 0.6), ("PAT_1516_1765_530", 0.95)])
def test_pad_skin_darkened_without_an_edge_is_no_spot(shared_data, laser, name, least):
    """A photo corner darkened by the light's fall-off (a naevus's photo: Dice 0.08, the
    corner drawn as a spot 13 times the naevus's area) and a darker stretch of skin beside
    a naevus (0.89) only slope into the skin around them: their excess within 0.5 mm of
    their outline stands less than ``min_contrast`` above that just outside, and they are
    no spots (2026-12-06: 0.71 and 0.97)."""
    root = shared_data / "pad_ufes20_body"
    photo = read_image(root / "img" / f"{name}.png")
    truth = cv2.imread(str(root / "mask" / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    scale = Scale(None, laser.params["scale"]["assumed_px_per_mm"])
    found, _ = pigmentation.detect(ColourPlanes(photo), np.ones(truth.shape, bool),
                                   laser.params["pigmentation"], scale)
    assert dice(found, truth) >= least


def test_pad_red_keratoses_are_outlined(pad_dice):
    """20 actinic keratoses (main: 0.31; now 0.31): little gained yet, the bound guards
    against a loss."""
    assert len(pad_dice["red"]) == 20
    assert np.mean(pad_dice["red"]) >= 0.29
