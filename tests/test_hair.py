"""Hair strands are untrusted skin: the region keeps them, no part of one is taken for a lesion."""

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


def test_dense_hair_does_not_shred_the_skin():
    """40 dark hairs (2 px, 0.1 mm wide) criss-crossing plain skin, as on a forearm: the
    skin region stays one piece covering 98 % of the photo (the rest: crossings at its edge,
    dark enough to be shadow), every strand pixel is in the
    hair's fringe (untrusted skin), and no crust or pore is found on them. Before, the
    strands were cut out: the skin between them fell into dozens of pieces and those under
    1 mm2 were dropped."""
    from scipy import ndimage as ndi

    from skinmetrics.colour import ColourPlanes
    from skinmetrics.roi import skin_and_fringe
    from skinmetrics.stages.base import Scale

    from .conftest import plain_skin_photo

    rng = np.random.default_rng(7)
    hair = np.zeros(SHAPE, np.float32)
    for _ in range(40):
        x0, x1 = rng.uniform(0, SHAPE[1], 2) * 4
        cv2.line(hair, (int(x0), 0), (int(x1), (SHAPE[0] - 1) * 4), 1.0, thickness=2,
                 lineType=cv2.LINE_AA, shift=2)
    srgb = plain_skin_photo(SHAPE, hair=np.clip(hair, 0, 1), seed=5)
    laser = load_pipeline("laser_recovery")
    roi, fringe = skin_and_fringe(ColourPlanes(srgb), laser.params["roi"],
                                  Scale(PX_PER_MM, PX_PER_MM))
    strand = hair >= 0.5
    assert ndi.label(roi)[1] == 1
    assert roi.mean() >= 0.97
    assert fringe[strand].mean() >= 0.95
    assert fringe.mean() <= 2.0 * strand.mean()
    crusts = measure_image(srgb, laser, PX_PER_MM).metrics["microcrust_count"]
    pores = measure_image(srgb, load_pipeline("acne"), PX_PER_MM).metrics["pore_count"]
    assert crusts == 0 and pores == 0
