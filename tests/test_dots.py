"""Crusts and pores are told apart by what they are: crust material (red-brown or brown to
black) against the shadow of a pore (a fraction of the skin's own light, its colour kept)."""

from __future__ import annotations

import numpy as np
import pytest

from skinmetrics.colour import linear_to_srgb
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic_b import skin_rgb

PX_PER_MM = 25.0
PITCH_PX = 25  # one dot per mm, in a grid
#: linear RGB of crust material and the factor of a pore's shadow
DARK_BROWN = np.array([0.05, 0.025, 0.015])
RED_BROWN = np.array([0.30, 0.10, 0.06])
SHADOW = 0.8


def _dots(skin: np.ndarray, kinds: list[str], seed: int = 0) -> np.ndarray:
    """A skin of one colour with one dot 0.24 mm across per grid cell, of the given kinds
    in turn (``brown``, ``red-brown``, ``pore``), some sensor noise, as sRGB."""
    rows = cols = int(np.ceil(np.sqrt(len(kinds)))) + 1
    h, w = rows * PITCH_PX, cols * PITCH_PX
    lin = np.broadcast_to(skin, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    for k, kind in enumerate(kinds):
        cy, cx = (1 + k // (cols - 1)) * PITCH_PX - 0.5, (1 + k % (cols - 1)) * PITCH_PX - 0.5
        alpha = np.clip(3.0 + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)[..., None]
        if kind == "pore":
            lin *= 1 - (1 - SHADOW) * alpha
        else:
            lin = lin * (1 - alpha) + alpha * (DARK_BROWN if kind == "brown" else RED_BROWN)
    rng = np.random.default_rng(seed)
    lin = lin * (1 + rng.normal(0, 0.01, lin.shape))
    return linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def pipes():
    return load_pipeline("laser_recovery"), load_pipeline("acne")


@pytest.mark.parametrize("melanin", [0.02, 0.12])  # light and medium-dark skin
def test_crusts_and_pores_are_told_apart(pipes, melanin):
    laser, acne = pipes
    skin = skin_rgb(np.array(melanin), np.array(0.02))
    kinds = ["brown"] * 12 + ["red-brown"] * 8 + ["pore"] * 16
    photo = _dots(skin, kinds)
    crusts = measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"]
    pores = measure_image(photo, acne, PX_PER_MM).metrics["pore_count"]
    assert crusts == 20  # dark-brown and red-brown crusts, not the pores' shadows
    assert pores == 16  # the shadows, not the crusts


def test_a_field_of_pores_has_no_crusts(pipes):
    laser, _ = pipes
    photo = _dots(skin_rgb(np.array(0.05), np.array(0.02)), ["pore"] * 24)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == 0
