"""Every layer against the phantoms' exact ground truth, on light, medium and dark skin."""

from __future__ import annotations

import numpy as np
import pytest

from skinmetrics.scoring import dice

from .conftest import TONES

TONE_NAMES = list(TONES)


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_roi_dice(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    for pipe in ("laser_recovery", "acne"):
        assert dice(measured[tone, pipe].masks["roi"], ph.masks["roi"]) >= 0.95


@pytest.mark.parametrize("tone", TONE_NAMES)
@pytest.mark.parametrize("layer", ["erythema", "pigment"])
def test_region_dice(tone, layer, phantoms, measured):
    ph, _ = phantoms[tone]
    assert dice(measured[tone, "laser_recovery"].masks[layer], ph.masks[layer]) >= 0.80


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_microcrust_count_and_area(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    m = measured[tone, "laser_recovery"].metrics
    truth = ph.truth
    assert truth["microcrust_count"] > 50
    assert m["microcrust_count"] == pytest.approx(truth["microcrust_count"], rel=0.15)
    assert m["microcrust_area_mm2"] == pytest.approx(truth["microcrust_area_mm2"], rel=0.10)


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_pore_count(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    m = measured[tone, "acne"].metrics
    assert ph.truth["pore_count"] > 50
    assert m["pore_count"] == pytest.approx(ph.truth["pore_count"], rel=0.15)
    roi_cm2 = ph.truth["roi_area_mm2"] / 100.0
    assert m["pore_density_per_cm2"] == pytest.approx(ph.truth["pore_count"] / roi_cm2, rel=0.2)


@pytest.mark.parametrize("tone", TONE_NAMES)
@pytest.mark.parametrize(("metric", "truth_key"), [
    ("erythema_area_mm2", "erythema_area_mm2"),
    ("pigment_spot_area_mm2", "pigment_area_mm2"),
    ("roi_area_mm2", "roi_area_mm2"),
])
def test_areas_mm2(tone, metric, truth_key, phantoms, measured):
    ph, _ = phantoms[tone]
    assert measured[tone, "laser_recovery"].metrics[metric] == pytest.approx(
        ph.truth[truth_key], rel=0.10)


def test_ita_orders_skin_tones(measured):
    """ITA falls from light to dark skin and lies in the published bands [Chardon 1991]."""
    ita = {t: measured[t, "laser_recovery"].metrics["ita_deg_mean"] for t in TONES}
    mi = {t: measured[t, "laser_recovery"].metrics["melanin_index_mean"] for t in TONES}
    assert ita["light"] > 41 > ita["medium"] > -30 > ita["dark"]
    assert mi["light"] < mi["medium"] < mi["dark"]


def test_delta_a_star_positive(measured):
    for tone in TONES:
        assert measured[tone, "laser_recovery"].metrics["delta_a_star"] > 2.0


def test_fine_scale_photo_is_measured_resampled():
    """A 60 px/mm photo is measured at the pipeline's max_px_per_mm (30): same accuracy,
    masks at the photo's size, px areas in the photo's own pixels."""
    from skinmetrics.io import decode_image
    from skinmetrics.pipeline import load_pipeline, measure_image
    from skinmetrics.synthetic import make_phantom

    ph = make_phantom((800, 1000), 60.0, 70.0, seed=75)
    rgb = decode_image(ph.jpeg)[0]
    pipe = load_pipeline("laser_recovery")
    assert pipe.params["scale"]["max_px_per_mm"] == 30.0
    timings: dict[str, float] = {}
    res = measure_image(rgb, pipe, 60.0, timings=timings)
    assert "resample" in timings and "microcrust" in timings
    assert all(m.shape == (800, 1000) for m in res.masks.values())
    assert res.metrics["roi_area_px"] == pytest.approx(res.masks["roi"].sum(), rel=0.01)
    assert res.metrics["roi_area_mm2"] == pytest.approx(ph.truth["roi_area_mm2"], rel=0.03)
    assert dice(res.masks["roi"], ph.masks["roi"]) >= 0.95
    assert dice(res.masks["erythema"], ph.masks["erythema"]) >= 0.80
    assert dice(res.masks["pigment"], ph.masks["pigment"]) >= 0.80
    assert res.metrics["microcrust_count"] == pytest.approx(ph.truth["microcrust_count"], rel=0.15)
    # the outline at 40 % of each crust's peak is about 10 % wider than this phantom's discs
    # once resampled (2026-12-05: 58 of 61 crusts, +9.6 %; with the grid rule 60, +11 %)
    assert res.metrics["microcrust_area_mm2"] == pytest.approx(ph.truth["microcrust_area_mm2"],
                                                               rel=0.13)


@pytest.mark.parametrize("exposure_ev", [0.0, -0.5])
def test_dark_skin_dense_crusts_pore_count(exposure_ev):
    """Dark skin (L* 32) with a dense crust field, also under-exposed by 0.5 EV: sensor noise
    in the dark spots does not make pores, the faint pores between the crusts are not lost
    (measured 2026-12-07: -4.2 % and -6.2 %; pores beside a crust lie in the skin left out
    of the texture level with it), and the pigmented-spot area holds."""
    from skinmetrics.io import decode_image
    from skinmetrics.pipeline import load_pipeline, measure_image
    from skinmetrics.synthetic import make_phantom

    ph = make_phantom((480, 640), 25.0, 32.0, seed=504, capture_seed=0, exposure_ev=exposure_ev)
    rgb = decode_image(ph.jpeg)[0]
    assert ph.truth["microcrust_count"] > 100
    pores = measure_image(rgb, load_pipeline("acne"), 25.0).metrics["pore_count"]
    assert pores == pytest.approx(ph.truth["pore_count"], rel=0.08)
    spots = measure_image(rgb, load_pipeline("laser_recovery"), 25.0).metrics
    assert spots["pigment_spot_area_mm2"] == pytest.approx(ph.truth["pigment_area_mm2"], rel=0.10)


def test_crusts_sought_on_a_copy_leave_the_pores_of_the_search_on_the_photo():
    """The same dense crust field at 25 px/mm: the crust-like blobs left out of the skin's
    texture level, sought on a copy at 12.5 px/mm, leave the pores that the search on the
    photo's own pixels leaves (2026-12-07: 272 of 276 matched within 1 px; nothing left
    out: 240 pores; the copy's crusts drawn upside down: 247)."""
    from skinmetrics.io import decode_image
    from skinmetrics.pipeline import load_pipeline, measure_image
    from skinmetrics.scoring import match_objects
    from skinmetrics.synthetic import make_phantom

    rgb = decode_image(make_phantom((480, 640), 25.0, 32.0, seed=504, capture_seed=0).jpeg)[0]
    pipe = load_pipeline("acne")
    assert pipe.params["pore"]["crust_search_px_per_mm"] == 12.5
    on_copy = measure_image(rgb, pipe, 25.0).masks["pore"]
    pipe.params["pore"]["crust_search_px_per_mm"] = 0.0
    on_photo = measure_image(rgb, pipe, 25.0).masks["pore"]
    match = match_objects(on_copy > 0, on_photo > 0, 1.0)
    assert match.found == pytest.approx(match.truth, rel=0.03), match
    assert match.matched >= 0.97 * match.truth, match


@pytest.mark.parametrize("seed", [603, 604])
def test_pores_are_not_crusts_when_few_crusts_are_left(seed):
    """Dark skin (L* 32) at day 28, 8 % of the crusts left among all the pores: a pore whose
    redness contrast is in the tail of the pores' (they read 2-4 EI redder than the skin
    around in the JPEG) is not counted as a crust (7 of 20 crusts were pores with
    ``min_redness`` 9), so the fall of the count from day 0 holds."""
    from skimage.measure import label

    from skinmetrics.io import decode_image
    from skinmetrics.pipeline import load_pipeline, measure_image
    from skinmetrics.synthetic import VISIT_COURSE, make_phantom

    pipe = load_pipeline("laser_recovery")
    counts, truths = [], []
    for day in (0, 28):
        ph = make_phantom((480, 640), 25.0, 32.0, seed=seed, **VISIT_COURSE[day])
        res = measure_image(decode_image(ph.jpeg)[0], pipe, 25.0)
        counts.append(res.metrics["microcrust_count"])
        truths.append(ph.truth["microcrust_count"])
    crusts = label(res.masks["microcrust"])
    on_truth = np.bincount(crusts[ph.masks["microcrust"]], minlength=crusts.max() + 1)[1:]
    assert truths[0] > 100 and 5 <= truths[1] <= 20
    assert np.count_nonzero(on_truth == 0) <= 1
    change, true_change = (100 * (c[1] - c[0]) / c[0] for c in (counts, truths))
    assert change == pytest.approx(true_change, abs=2.0)
