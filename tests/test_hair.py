"""Hair strands are not skin, and no part of one is taken for a lesion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from skinmetrics.pipeline import load_pipeline, measure_image

from .conftest import PX_PER_MM
from .test_pigmentation import SHAPE, _skin_with_spots


@pytest.mark.parametrize("darkness", [0.45, 0.6])
def test_a_faint_thin_hair_leaves_no_pores(darkness):
    """A one-pixel hair that darkens the skin by 45 % or 60 % where it covers a whole pixel,
    leaning 27 degrees: across pixel boundaries it is fainter, in a row of beads. The strand
    is followed through its fainter parts, so no pore is found on it in three captures
    (found only where it was darkest, its beads were counted as pores: 16 and 4)."""
    hair = np.zeros(SHAPE, np.float32)
    cv2.line(hair, (100 * 4, 0), (250 * 4, (SHAPE[0] - 1) * 4), darkness, thickness=1,
             lineType=cv2.LINE_AA, shift=2)
    acne = load_pipeline("acne")
    counts = [measure_image(_skin_with_spots([], seed=seed, hair=hair)[0], acne,
                            PX_PER_MM).metrics["pore_count"] for seed in range(3)]
    assert counts == [0, 0, 0]
