"""Shared fixtures: phantoms (small, fixed seeds, made once per session) and real data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from skinmetrics.colour import OD_HAEMOGLOBIN, OD_MELANIN, linear_to_srgb
from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import make_phantom

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

#: Skin tones of the accuracy phantoms: very light, medium, dark (CIELAB L*).
TONES = {"light": 72.0, "medium": 52.0, "dark": 33.0}
PX_PER_MM = 25.0


def soft_disc(shape: tuple[int, int], centre: tuple[float, float], radius_px: float,
              edge_px: float, amplitude: float = 1.0) -> np.ndarray:
    """A disc whose profile falls smoothly across its edge (logistic over about
    ``edge_px``, half of ``amplitude`` on the edge)."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    sd = np.hypot(yy - centre[0], xx - centre[1]) - radius_px
    return amplitude / (1.0 + np.exp(np.clip(sd / edge_px * 4.0, -30, 30)))


def plain_skin_photo(shape: tuple[int, int], extra_melanin: np.ndarray | float = 0.0,
                     extra_blood: np.ndarray | float = 0.0, seed: int = 0,
                     hair: np.ndarray | None = None,
                     light: np.ndarray | float = 1.0) -> np.ndarray:
    """sRGB photo of even skin (melanin 0.45, blood 0.12 OD) with these extra densities
    (OD, maps of ``shape`` or constants) and, optionally, a dark hair of that coverage
    (0-1), lit by ``light`` (relative illumination, a map or a constant); slight optical
    blur and camera noise (shot noise and a read-noise floor)."""
    od = (np.array([0.10, 0.17, 0.24])
          + (0.45 + np.broadcast_to(extra_melanin, shape)[..., None]) * OD_MELANIN
          + (0.12 + np.broadcast_to(extra_blood, shape)[..., None]) * OD_HAEMOGLOBIN)
    reflectance = (0.8 * 10.0 ** -od).astype(np.float32)
    if hair is not None:
        reflectance = reflectance * (1 - hair[..., None]) + 0.02 * hair[..., None]
    reflectance = reflectance * np.broadcast_to(light, shape)[..., None].astype(np.float32)
    linear = cv2.GaussianBlur(reflectance, (0, 0), 0.6)
    rng = np.random.default_rng(seed)
    linear += rng.standard_normal(linear.shape).astype(np.float32) * np.sqrt(
        0.00015 * linear + 0.002**2)
    return np.round(linear_to_srgb(np.clip(linear, 0, 1)) * 255) / 255


@pytest.fixture(scope="session")
def phantoms():
    """One phantom per skin tone, decoded from its JPEG as a user's photo would be."""
    out = {}
    for i, (name, L) in enumerate(TONES.items()):
        ph = make_phantom((480, 640), PX_PER_MM, L, seed=11 + i)
        out[name] = (ph, decode_image(ph.jpeg)[0])
    return out


@pytest.fixture(scope="session")
def measured(phantoms):
    """Both pipelines run on every phantom, with the scale given."""
    pipes = {name: load_pipeline(name) for name in ("laser_recovery", "acne")}
    return {
        (tone, name): measure_image(rgb, pipe, PX_PER_MM)
        for tone, (_, rgb) in phantoms.items()
        for name, pipe in pipes.items()
    }


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data from the project root; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (real third-party images)")
    return SHARED_DATA
