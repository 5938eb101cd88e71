"""Shared fixtures: phantoms (small, fixed seeds, made once per session) and real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import make_phantom

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

#: Skin tones of the accuracy phantoms: very light, medium, dark (CIELAB L*).
TONES = {"light": 72.0, "medium": 52.0, "dark": 33.0}
PX_PER_MM = 25.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A and B| / (|A| + |B|)."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


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
