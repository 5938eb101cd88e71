"""The skin region's colour tests against their plain formulas."""

from __future__ import annotations

import numpy as np
import pytest

from skinmetrics.roi import _skin_hued


@pytest.mark.parametrize("low, high, chroma", [
    (5, 95, 5),  # the built-in pipelines'
    (-100, 100, 5), (-180, 180, 0), (-180, 0, 5), (170, 180, 1), (5, 95, 0), (60, 20, 5),
])
def test_skin_hue_and_chroma_are_those_of_the_arctangent_and_root(low, high, chroma):
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 30, (2, 400, 500)).astype(np.float32)
    a[0, :3], b[0, :3] = 0.0, 0.0  # greys: hue 0
    hue = np.degrees(np.arctan2(b, a))
    plain = (hue >= low) & (hue <= high) & (np.hypot(a, b) >= chroma)
    got = _skin_hued(a, b, {"hue_min_deg": low, "hue_max_deg": high, "chroma_min": chroma})
    assert np.array_equal(got, plain)
