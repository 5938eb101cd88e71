"""The second phantom family (skinmetrics.synthetic_b): its truth, and the detectors on it.

Family b is rendered with other choices than the detectors were tuned on (spectral skin,
whole-cheek erythema, brown crusts, faint pores, big textured nevi, dense hair, 15-30 px/mm).
The score bounds are the proof targets of issue #25. Where the detectors do not reach a
target yet the test is a strict expected failure whose reason gives the values measured
(2026-12-05): it turns into a failure as soon as the target is met, so the bound is then
made an ordinary assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from skinmetrics.align import align_to_baseline
from skinmetrics.colour import linear_to_lab_reference, srgb_to_linear
from skinmetrics.core import measure
from skinmetrics.io import decode_image
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.register import corner_error, register
from skinmetrics.scoring import dice, match_objects
from skinmetrics.synthetic import common_truth, followup_to_baseline
from skinmetrics.synthetic_b import (
    VISIBLE_PORE_CONTRAST,
    make_phantom_b,
    skin_rgb,
    visit_series_b,
)

SHAPE = (450, 600)
#: (skin L*, px/mm, hair, seed) of the scored phantoms.
CASES = ((72.0, 15.0, False, 11), (55.0, 22.0, True, 12), (35.0, 30.0, False, 13))

ERYTHEMA_DICE_MIN = 0.85
PIGMENT_DICE_MIN = 0.85
CRUST_COUNT_ERR_MAX_PCT = 15.0
PORE_COUNT_ERR_MAX_PCT = 15.0
#: % change from baseline, per visit day (points).
CHANGE_ERR_MAX_PP = {14: 8.0, 28: 5.0}


@pytest.fixture(scope="module")
def phantoms():
    return [make_phantom_b(SHAPE, ppm, L, seed, hair=hair) for L, ppm, hair, seed in CASES]


@pytest.fixture(scope="module")
def pipes():
    return {n: load_pipeline(n) for n in ("laser_recovery", "acne")}


@pytest.fixture(scope="module")
def measured(phantoms, pipes):
    return [{n: measure_image(decode_image(ph.jpeg)[0], p, ph.px_per_mm) for n, p in pipes.items()}
            for ph in phantoms]


@pytest.fixture(scope="module")
def series():
    return visit_series_b(SHAPE, 20.0, 60.0, seed=21)


def test_colour_model_melanin_darkens_and_blood_reddens():
    base, darker, redder = skin_rgb(0.1, 0.02), skin_rgb(0.3, 0.02), skin_rgb(0.1, 0.06)
    assert np.all(darker < base)  # melanin absorbs at every wavelength
    lab0, lab_red = (linear_to_lab_reference(x[None, None])[0, 0] for x in (base, redder))
    assert lab_red[1] > lab0[1] + 4  # blood raises a*
    assert (base[1] - redder[1]) / base[1] > (base[0] - redder[0]) / base[0]  # green absorbed most


def test_truth_bookkeeping(phantoms):
    for ph, (L, ppm, hair, _) in zip(phantoms, CASES, strict=True):
        roi, t = ph.masks["roi"], ph.truth
        assert t["roi_area_mm2"] == pytest.approx(roi.sum() / ppm**2)
        for layer in ("erythema", "pigment", "microcrust", "pore"):
            assert not (ph.masks[layer] & ~roi).any()
            assert t[f"{layer}_area_mm2"] == pytest.approx(ph.masks[layer].sum() / ppm**2)
        for layer in ("microcrust", "pore"):
            labels = ph.object_labels[layer]
            drawn = len(np.unique(labels)) - 1
            assert 0 < t[f"{layer}_count"] <= drawn
            if not hair:  # all skin is roi but for clipped pixels: every object counts
                assert t[f"{layer}_count"] >= 0.97 * drawn
        # faint pores of 40-120 /cm2, only some visible; large diffuse erythema
        density = t["pore_count"] / (t["roi_area_mm2"] / 100)
        assert 5 < density < 120
        assert 2.0 < t["erythema_area_pct"] < 60.0
        assert t["pigment_area_mm2"] > np.pi * (2.5 * 0.85) ** 2 * 0.5  # a nevus >= 5 mm
        assert 1.0 - roi.mean() > (0.04 if hair else -1)  # dense hair is not skin
        # unaffected skin has the requested tone (lighting, texture and pores spread it)
        clear = roi & ~ph.masks["erythema"] & ~ph.masks["pigment"] & ~ph.masks["microcrust"]
        lab = linear_to_lab_reference(srgb_to_linear(ph.image[clear][None] / 255.0))[0]
        assert abs(np.median(lab[:, 0]) - L) < 6


def test_deterministic_per_seed():
    a, b = (make_phantom_b((200, 260), 20.0, 50.0, seed=5, hair=True) for _ in range(2))
    assert np.array_equal(a.image, b.image) and a.truth == b.truth
    c = make_phantom_b((200, 260), 20.0, 50.0, seed=5, hair=True, capture_seed=9)
    assert not np.array_equal(a.image, c.image)  # another capture of the same skin
    both = a.masks["roi"] & c.masks["roi"]  # the lesions belong to the skin, not the capture
    assert np.array_equal(a.masks["pigment"] & both, c.masks["pigment"] & both)


def test_wide_scenes_hold_diffuse_erythema():
    """A frame as wide as a cheek field (160 x 120 mm, here at 2.5 px/mm) holds the diffuse
    patches too: each is placed to cover at least half of what it can, where 3 % of such a
    scene is more than one patch covers (then 1 of these 3 scenes held a patch). Rendered
    without crusts and pores, which are drawn after the erythema."""
    for seed in range(3):
        scene = make_phantom_b((300, 400), 2.5, 50.0, seed, microcrust=0.0, pores=0.0)
        assert scene.truth["erythema_area_pct"] >= 1.0


def test_visible_pore_rule_drops_faint_pores():
    ph = make_phantom_b((300, 400), 25.0, 60.0, seed=3, jpeg_quality=None)
    grey = ph.image.astype(float).mean(axis=2)
    inside = grey[ph.masks["pore"]].mean()
    ring = grey[~ph.masks["pore"] & ph.masks["roi"]].mean()
    assert 1 - inside / ring > VISIBLE_PORE_CONTRAST / 3  # counted pores are darker on average


def test_visit_series_true_course(series):
    t = {day: ph.truth for day, ph in series.items()}
    assert t[0]["erythema_area_mm2"] > t[14]["erythema_area_mm2"] > t[28]["erythema_area_mm2"]
    assert t[0]["microcrust_count"] > 2 * t[14]["microcrust_count"] > 4 * t[28]["microcrust_count"]
    for day in (14, 28):
        p0, p1 = common_truth(series[0], series[day], "pore", "count")
        assert abs(p1 - p0) <= 0.02 * p0  # pores unchanged
        g0, g1 = common_truth(series[0], series[day], "pigment", "pct")
        assert 0.75 * g0 < g1 < g0  # pigment slightly fading
        assert not np.array_equal(series[0].scene_to_image, series[day].scene_to_image)


def _mean_dice(phantoms, measured, layer):
    return np.mean([dice(m["laser_recovery"].masks[layer], ph.masks[layer])
                    for ph, m in zip(phantoms, measured, strict=True)])


def test_pigment_dice(phantoms, measured):
    """Big textured nevi and keratoses stay skin and are outlined (measured 2026-12-05:
    0.91, 0.79, 0.98)."""
    assert _mean_dice(phantoms, measured, "pigment") >= PIGMENT_DICE_MIN


def test_erythema_dice(phantoms, measured):
    """Whole-cheek diffuse erythema is outlined, measured against the skin around it rather
    than against itself (2026-12-06: 0.98, 0.94, 0.83; with one 4 mm reference scale 0.06,
    0.03, 0.42)."""
    assert _mean_dice(phantoms, measured, "erythema") >= ERYTHEMA_DICE_MIN


def _count_errors(phantoms, measured, pipeline, metric, truth):
    return [100 * (m[pipeline].metrics[metric] / ph.truth[truth] - 1)
            for ph, m in zip(phantoms, measured, strict=True)]


@pytest.mark.xfail(strict=True, reason="issue #25 open: brown crusts on dark skin are as faint "
                   "as pore shadows on light skin and 38 % of this 1.3 mm grid is lost among "
                   "noise dots (count -9, -13, -38 % on 2026-12-06)")
def test_crust_count(phantoms, measured):
    errors = _count_errors(phantoms, measured, "laser_recovery", "microcrust_count",
                           "microcrust_count")
    assert max(map(abs, errors)) <= CRUST_COUNT_ERR_MAX_PCT, errors


def test_a_grid_of_crusts_among_noise_specks_on_very_dark_skin(pipes):
    """Very dark skin (L* 32) at 30 px/mm: the photo's noise leaves about 1 600 specks of
    crust size, on average as dark as its 226 brown crusts, which take little more light
    than the skin. Searched among the most significant dots (mean darkness x sqrt(area)),
    the grid shows; a naevus's globules at its sites are not crusts. Matched one-to-one
    within 0.25 mm (2026-12-06): 130 of 183 found are crusts, 130 of 226 crusts found (112
    of 211 and 112 of 226 while the globules counted; none found among the darkest)."""
    ph = make_phantom_b((600, 800), 30.0, 32.0, seed=1032)
    found = measure_image(decode_image(ph.jpeg)[0], pipes["laser_recovery"], 30.0)
    match = match_objects(found.masks["microcrust"] > 0, ph.masks["microcrust"], 0.25 * 30.0)
    assert match.matched >= 0.7 * match.found, match  # precision
    assert match.matched >= 0.55 * match.truth, match  # recall


def test_crusts_at_the_sites_of_a_grid_found_on_dark_skin(pipes):
    """Dark skin (L* 40) at 30 px/mm: a crust whose grid neighbours are lost in the noise
    lies at a site of the grid that the crusts found around it mark (372 of 408 found,
    2026-12-06; 319 with the neighbour test alone)."""
    ph = make_phantom_b((600, 800), 30.0, 40.0, seed=3040)
    found = measure_image(decode_image(ph.jpeg)[0], pipes["laser_recovery"], 30.0)
    assert found.metrics["microcrust_count"] == pytest.approx(ph.truth["microcrust_count"],
                                                              rel=CRUST_COUNT_ERR_MAX_PCT / 100)


@pytest.fixture(scope="module")
def shedding_grid(pipes):
    """Dark hairy skin (L* 40, 20 px/mm) whose grid has shed 60 % by day 14, each follow-up
    measured with its baseline: per day the error (points) of the crust count's % change
    from baseline and the registration's corner error (px) against the true transform."""
    series = visit_series_b((600, 800), 20.0, 40.0, seed=703, hair=True)
    pipe = pipes["laser_recovery"]
    base = measure(decode_image(series[0].jpeg)[0], pipe, px_per_mm=20.0, chart="none")
    errors, corners = {}, {}
    for day in (14, 28):
        follow = measure(decode_image(series[day].jpeg)[0], pipe, px_per_mm=20.0,
                         chart="none", baseline=base)
        t0, t1 = common_truth(series[0], series[day], "microcrust", "count")
        m0 = (follow.baseline_metrics or base.metrics)["microcrust_count"]
        m1 = follow.metrics["microcrust_count"]
        errors[day] = 100 * (m1 - m0) / m0 - 100 * (t1 - t0) / t0
        corners[day] = corner_error(follow.alignment.registration.matrix,
                                    followup_to_baseline(series[0], series[day]), (600, 800))
    return errors, corners


def test_a_hairy_pair_is_registered_on_the_skin_off_its_hair(shedding_grid):
    """Dense hair lies differently at each visit and its features match wrongly: on the
    skin with the hair the two follow-ups were registered 10-28 px (0.5-1.4 mm) off the
    true transform; judged against a registration on the skin off the hair of both photos
    (:func:`skinmetrics.align.align_to_baseline`), within 2 px."""
    assert max(shedding_grid[1].values()) < 2.0, shedding_grid[1]


def test_a_wide_hairy_field_is_registered_at_a_finer_working_size():
    """A cheek field (1800 x 2400 px, 96 x 128 mm at 18.75 px/mm) of hairy L* 62 skin: at
    the default working size (800 px, keypoints on 400 px) its skin shows too few stable
    features (4 RANSAC inliers) and the day-14 follow-up was measured unregistered (its
    erythema change +77.7 points off the truth's, 2026-12-08); tried again at 1200 px
    (:data:`skinmetrics.align.REGISTRATION_SIDES_PX`) it is registered within 2 px."""
    series = visit_series_b((1800, 2400), 18.75, 62.0, seed=701, hair=True)
    base, follow = (decode_image(series[day].jpeg, as_codes=True)[0] for day in (0, 14))
    skin_b, skin_f = series[0].masks["roi"], series[14].masks["roi"]
    truth = followup_to_baseline(series[0], series[14])
    assert not register(base, follow, mask_baseline=skin_b, mask_followup=skin_f).ok
    aligned = align_to_baseline(base, skin_b, follow, skin_f).registration
    assert aligned.ok and corner_error(aligned.matrix, truth, (1800, 2400)) < 2.0


@pytest.mark.parametrize("day", [14, 28])
def test_crusts_of_a_shedding_grid_on_dark_hairy_skin_change_as_the_truth(shedding_grid, day):
    """Dark hairy skin (L* 40, 20 px/mm) from baseline to day 14, when 60 % of the grid has
    shed, and day 28: the crusts left are found at the grid's sites as at baseline, so the
    count's change follows the truth's (2026-12-07: -5.6 / -2.5 points at day 14 / 28;
    -14.4 / -2.7 with the neighbour test alone). The follow-ups are registered within 2 px
    of the true transform on the skin off the hair (with it, 15 and 28 px off: their hairs
    matched)."""
    errors = shedding_grid[0]
    assert abs(errors[day]) <= CHANGE_ERR_MAX_PP[day], errors


@pytest.mark.parametrize(("skin_L", "ppm", "seed"), [(40.0, 28.3, 708), (62.0, 25.0, 706)])
def test_red_papules_are_not_pigmented_spots(pipes, skin_L, ppm, seed):
    """The baseline of a visit series: this renderer's red papules take light across the
    camera's bands otherwise than the unmixing's haemoglobin, which reads as much pigment
    in them as haemoglobin (0.09-0.11 OD of each over the skin around). Two or three of them
    were pigmented spots (3 600 and 2 500 px off every true spot) that faded by the
    follow-ups (pigment change -15.7 and -11.8 points off at day 28, 2026-12-06). Less half
    their haemoglobin contrast they are below ``min_contrast``: every spot found lies on a
    true spot."""
    ph = visit_series_b((600, 800), ppm, skin_L, seed=seed)[0]
    found = measure_image(decode_image(ph.jpeg)[0], pipes["laser_recovery"], ppm)
    labels, n = ndi.label(found.masks["pigment"], structure=np.ones((3, 3)))
    on_truth = np.bincount(labels.ravel(), weights=ph.masks["pigment"].ravel(),
                           minlength=n + 1)[1:]
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    assert n > 0 and (on_truth >= 0.5 * sizes).all(), (sizes, on_truth)


@pytest.mark.xfail(strict=True, reason="issue #25 open: count -85, -98 (hair), -26 % on "
                   "2026-12-07: this renderer's counted pores lie under the photo's noise (a "
                   "matched filter at each known pore and size: median SNR 0.9-1.7 by tone, "
                   "3-15 % of them above 3; docs/validation.md)")
def test_pore_count(phantoms, measured):
    errors = _count_errors(phantoms, measured, "acne", "pore_count", "pore_count")
    assert max(map(abs, errors)) <= PORE_COUNT_ERR_MAX_PCT, errors


@pytest.fixture(scope="module")
def change_errors(series, pipes):
    """Error (points) of the % change from baseline of each metric at day 14 and 28."""
    metrics = (("laser_recovery", "erythema_area_mm2", "erythema", "area"),
               ("laser_recovery", "microcrust_count", "microcrust", "count"),
               ("acne", "pore_count", "pore", "count"),
               ("laser_recovery", "pigment_spot_area_pct", "pigment", "pct"))
    # as ``skinmetrics run`` measures: each follow-up registered to its baseline, the change
    # taken from the baseline over the skin the follow-up compared
    got: dict[tuple[int, str], tuple[dict, dict]] = {}
    for name, pipe in pipes.items():
        ppm = series[0].px_per_mm
        base = measure(decode_image(series[0].jpeg)[0], pipe, px_per_mm=ppm, chart="none")
        for day in (14, 28):
            follow = measure(decode_image(series[day].jpeg)[0], pipe, px_per_mm=ppm,
                             chart="none", baseline=base)
            got[day, name] = (follow.baseline_metrics or base.metrics, follow.metrics)
    errors = {}
    for day in (14, 28):
        for pipe, metric, layer, kind in metrics:
            t0, t1 = common_truth(series[0], series[day], layer, kind)
            m0, m1 = (m[metric] for m in got[day, pipe])
            errors[(day, layer)] = 100 * (m1 - m0) / m0 - 100 * (t1 - t0) / t0
    return errors


@pytest.mark.parametrize("layer", [
    "microcrust", "pigment",
    pytest.param("erythema", marks=pytest.mark.xfail(
        strict=True, reason="issue #25 open: +14 / +47 points at day 14 / 28 on 2026-12-06; "
        "this series' erythema is a 21 mm2 sliver in a corner (2 mm2 at day 28) beside the "
        "patch's soft skirt, which the layer draws")),
    pytest.param("pore", marks=pytest.mark.xfail(
        strict=True, reason="issue #25 open: -19 / -12 points at day 14 / 28 on 2026-12-07 "
        "(44-46 pores found of 203-215 at baseline: few stand out of the photo's noise)")),
])
def test_percent_change_from_baseline(change_errors, layer):
    """Crusts and pigment hold (2026-12-07: crusts +0.6 / -1.2, pigment +0.2 / +0.2)."""
    for day in (14, 28):
        assert abs(change_errors[(day, layer)]) <= CHANGE_ERR_MAX_PP[day], change_errors
