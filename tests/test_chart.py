"""ColorChecker detection, colour calibration and scale against rendered charts of known truth.

Scenes are rendered in linear reflectance (a textured skin-coloured surround plus
:func:`skinmetrics.synthetic_chart.render_chart`), then "photographed": exposure, white-balance
gains, optical blur, signal-dependent noise, 8-bit sRGB and JPEG, decoded like a user's file.
"""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from skinmetrics import chart as ch
from skinmetrics import correction as cc
from skinmetrics.colour import (
    SRGBCodes,
    ita_degrees,
    lab_to_linear,
    linear_to_lab,
    linear_to_srgb,
    srgb_to_linear,
)
from skinmetrics.io import decode_image
from skinmetrics.synthetic import capture, make_phantom
from skinmetrics.synthetic_chart import render_chart

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

SHAPE = (600, 800)


def skin_surround(shape=SHAPE, seed=0, lab=(60.0, 14.0, 17.0)) -> np.ndarray:
    """Linear reflectance of a mottled skin-coloured surface."""
    rng = np.random.default_rng(seed)
    base = lab_to_linear(np.array(lab, float)).clip(1e-4, 1)
    f = ndi.gaussian_filter(rng.standard_normal((shape[0] // 8 + 1, shape[1] // 8 + 1)), 3)
    f = cv2.resize(f.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    f = 1 + 0.06 * f / (f.std() + 1e-9)
    fine = 1 + 0.02 * rng.standard_normal(shape).astype(np.float32)
    return (base[None, None, :] * (f * fine)[..., None]).astype(np.float32)


def photograph(linear, exposure=1.0, gains=(1.0, 1.0, 1.0), seed=1, quality=90) -> np.ndarray:
    """Exposure, white balance, then the phantom camera (blur, noise, 8-bit sRGB, JPEG)."""
    x = (linear * np.float32(exposure) * np.asarray(gains, np.float32)).astype(np.float32)
    _, jpeg = capture(x, np.random.default_rng(seed), quality)
    return decode_image(jpeg)[0]


def chart_width(truth) -> float:
    return float(np.hypot(*(truth.corners[1] - truth.corners[0])))


# --- reference ------------------------------------------------------------------------------


def test_reference_values():
    ref = ch.reference_linear_srgb()
    assert ref.shape == (24, 3)
    assert len(ch.PATCH_NAMES) == 24
    assert ch.PATCH_NAMES[0] == "dark skin" and ch.PATCH_NAMES[18].startswith("white")
    # white 9.5: reflectance ~0.88 in R and G; it is slightly yellowish (b* ~ +3), so B is lower
    assert 0.85 < ref[18, 0] < 0.91 and 0.85 < ref[18, 1] < 0.91 and 0.80 < ref[18, 2] < 0.87
    # the grey row is neutral (CIELAB chroma below 1.5) and descending
    lab = colour.XYZ_to_Lab(colour.RGB_to_XYZ(ref, colour.RGB_COLOURSPACES["sRGB"],
                                              apply_cctf_decoding=False))
    assert (np.hypot(lab[19:24, 1], lab[19:24, 2]) < 1.5).all()
    assert np.hypot(*lab[18, 1:]) < 3.5
    assert (np.diff(ref[18:24, 1]) < 0).all()
    # published 8-bit sRGB of the chart (X-Rite / McCamy et al.), within a few code values
    srgb8 = np.round(colour.cctf_encoding(np.clip(ref, 0, 1), function="sRGB") * 255)
    published = {0: (115, 82, 68), 1: (194, 150, 130), 2: (98, 122, 157), 3: (87, 108, 67),
                 14: (175, 54, 60), 21: (122, 122, 121)}
    for k, rgb in published.items():
        assert np.abs(srgb8[k] - rgb).max() <= 8, (ch.PATCH_NAMES[k], srgb8[k], rgb)
    np.testing.assert_allclose(srgb8[0], (115, 82, 68), atol=4)


def test_reference_is_bradford_adapted_from_d50():
    cc = colour.CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]
    xyz = colour.xyY_to_XYZ(np.array(list(cc.data.values())))
    other = colour.XYZ_to_RGB(xyz, colour.RGB_COLOURSPACES["sRGB"], illuminant=cc.illuminant,
                              chromatic_adaptation_transform="Bradford",
                              apply_cctf_encoding=False)
    np.testing.assert_allclose(ch.reference_linear_srgb(), other, atol=1e-9)


# --- rendering ------------------------------------------------------------------------------


def test_render_chart_truth():
    bg = skin_surround()
    img, truth = render_chart(bg, (100.0, 80.0), 40, angle_deg=0, gap_frac=0.15, border_frac=0.3)
    w, h = 40 * (6 + 5 * 0.15 + 0.6), 40 * (4 + 3 * 0.15 + 0.6)
    np.testing.assert_allclose(truth.corners, [[100, 80], [100 + w, 80], [100 + w, 80 + h],
                                               [100, 80 + h]], atol=1e-9)
    assert truth.pitch_px == pytest.approx(46.0)
    assert truth.mask.sum() == pytest.approx(w * h, rel=0.01)
    np.testing.assert_array_equal(img[~truth.mask & ~ndi.binary_dilation(truth.mask)],
                                  bg[~truth.mask & ~ndi.binary_dilation(truth.mask)])
    # the centre pixel of every patch is its reference colour
    ref = np.clip(ch.reference_linear_srgb(), 0, 1)
    for k, (x, y) in enumerate(truth.patch_centres):
        np.testing.assert_allclose(img[int(round(y)), int(round(x))], ref[k], atol=1e-6)
    # upside down: the canonical first corner is now at the bottom right
    _, t180 = render_chart(bg, (100.0, 80.0), 40, angle_deg=180)
    np.testing.assert_allclose(t180.corners, truth.corners[[2, 3, 0, 1]], atol=1e-6)


# --- detection and calibration ------------------------------------------------------------


CASES = {
    "upright": dict(angle=0.0, tl=(150, 120), patch=40, exposure=1.0, gains=(1, 1, 1)),
    "rot+15_dark_warm": dict(angle=15.0, tl=(200, 160), patch=36, exposure=0.7,
                             gains=(1.1, 1.0, 0.9)),
    "rot-15_bright_cool": dict(angle=-15.0, tl=(160, 200), patch=30, exposure=1.4,
                               gains=(0.9, 1.05, 1.1)),
    "upside_down": dict(angle=180.0, tl=(250, 200), patch=38, exposure=0.85,
                        gains=(1.0, 0.95, 1.08)),
    "portrait": dict(angle=90.0, tl=(250, 130), patch=35, exposure=1.1, gains=(1.05, 1, 0.95)),
}


@pytest.fixture(scope="module")
def scenes():
    out = {}
    for i, (name, c) in enumerate(CASES.items()):
        lin, truth = render_chart(skin_surround(seed=i), c["tl"], c["patch"], angle_deg=c["angle"])
        out[name] = (photograph(lin, c["exposure"], c["gains"], seed=10 + i), truth)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_detect_chart_geometry(scenes, name):
    srgb, truth = scenes[name]
    det = ch.detect_chart(srgb)
    assert det is not None
    size = chart_width(truth)
    corner_err = np.hypot(*(det.corners - truth.corners).T)
    assert corner_err.max() < 0.02 * size, corner_err
    # patch order (and so the orientation) is right: every centre within 0.1 pitch
    centre_err = np.hypot(*(det.patch_centres - truth.patch_centres).T)
    assert centre_err.max() < 0.1 * truth.pitch_px, centre_err
    assert det.pitch_px == pytest.approx(truth.pitch_px, rel=0.02)
    assert det.px_per_mm == pytest.approx(truth.pitch_px / ch.CLASSIC_PATCH_PITCH_MM, rel=0.02)
    assert abs((det.angle_deg - CASES[name]["angle"] + 180) % 360 - 180) < 2.0
    m = det.mask(srgb.shape[:2])
    iou = (m & truth.mask).sum() / (m | truth.mask).sum()
    assert iou > 0.96


@pytest.mark.parametrize("name", list(CASES))
def test_calibration_delta_e(scenes, name):
    srgb, truth = scenes[name]
    cal = cc.calibrate(srgb)
    assert cal.source == "chart", cal.message
    assert cal.n_patches_used >= 18
    assert cal.delta_e_mean < 2.0 and cal.delta_e_max < 5.0, cal.message
    assert cal.px_per_mm == pytest.approx(truth.pitch_px / ch.CLASSIC_PATCH_PITCH_MM, rel=0.02)
    assert cal.chart_mask is not None and cal.chart_mask.shape == srgb.shape[:2]
    record = json.loads(json.dumps(cal.as_dict()))
    assert record["source"] == "chart" and record["n_patches_used"] == cal.n_patches_used
    assert record["delta_e_mean"] == pytest.approx(cal.delta_e_mean)
    assert len(record["corners"]) == 4
    out = cal.apply(srgb)
    assert out.dtype == np.float32 and out.shape == srgb.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    # an independent check: the corrected photo's patches against the reference (patches
    # clipped in the photograph stay wrong after correction and are left out)
    _, usable = ch.sample_patches(srgb_to_linear(srgb), cal.detection)
    values, valid = ch.sample_patches(srgb_to_linear(out), cal.detection)
    mean_de, max_de = cc.calibration_quality(values, None, valid & usable)
    assert mean_de < 2.0 and max_de < 5.0


def test_skin_colour_agrees_after_calibration():
    """Same scene, two captures (exposure and white balance drift): same skin colour after."""
    lin, truth = render_chart(skin_surround(seed=5, lab=(58.0, 15.0, 18.0)), (420, 60), 45,
                              angle_deg=7)
    region = np.zeros(SHAPE, bool)
    region[300:560, 40:380] = True
    assert not (region & truth.mask).any()
    results = []
    for exposure, gains, seed in [(1.0, (1.0, 1.0, 1.0), 1), (0.72, (1.1, 1.0, 0.9), 2)]:
        srgb = photograph(lin, exposure, gains, seed=seed)
        cal = cc.calibrate(srgb)
        assert cal.source == "chart", cal.message
        lab = linear_to_lab(srgb_to_linear(cal.apply(srgb)))[region].mean(axis=0)
        results.append((lab, float(ita_degrees(lab[0], lab[2]))))
    (lab0, ita0), (lab1, ita1) = results
    raw = [linear_to_lab(srgb_to_linear(photograph(lin, e, g, seed=s)))[region].mean(axis=0)
           for e, g, s in [(1.0, (1, 1, 1), 1), (0.72, (1.1, 1.0, 0.9), 2)]]
    assert np.abs(raw[0] - raw[1]).max() > 5  # the drift is real ...
    np.testing.assert_allclose(lab0, lab1, atol=1.0)  # ... and calibrated away
    assert abs(ita0 - ita1) < 1.0
    assert abs(lab0[1] - lab1[1]) < 1.0


# --- no chart, too small, clipped -----------------------------------------------------------


def test_absent_chart():
    srgb = photograph(skin_surround(seed=3))
    assert ch.detect_chart(srgb) is None
    cal = cc.calibrate(srgb)
    assert cal.source == "none" and cal.ccm is None and cal.chart_mask is None
    assert "no ColorChecker" in cal.message and "\n" not in cal.message
    np.testing.assert_array_equal(cal.apply(srgb), srgb)
    assert json.loads(json.dumps(cal.as_dict()))["source"] == "none"
    off = cc.calibrate(srgb, "none")
    assert off.source == "none" and off.message


@pytest.mark.parametrize("seed", [0, 1])
def test_no_false_chart_on_phantoms(seed):
    ph = make_phantom((360, 480), 20.0, 45.0 + 15 * seed, seed=seed)
    assert ch.detect_chart(decode_image(ph.jpeg)[0]) is None


def test_chart_too_small():
    lin, truth = render_chart(skin_surround(), (400, 300), 8.0)  # ~60 px wide on 800
    assert 50 < chart_width(truth) < 70
    srgb = photograph(lin)
    assert ch.detect_chart(srgb) is None
    cal = cc.calibrate(srgb)
    assert cal.source == "none" and cal.message


@pytest.mark.parametrize("x0", [-220.0, -60.0, 560.0])
def test_chart_clipped_by_frame(x0):
    lin, truth = render_chart(skin_surround(seed=4), (x0, 200.0), 50.0)
    srgb = photograph(lin)
    det = ch.detect_chart(srgb)
    cal = cc.calibrate(srgb)
    if det is None:
        assert cal.source == "none"
        return
    # a partial detection must be a right one
    err = np.hypot(*(det.patch_centres - truth.patch_centres).T)
    assert err.max() < 0.1 * truth.pitch_px
    assert cal.source == "chart" and cal.delta_e_mean < 2.0


def test_chart_half_outside_is_rejected():
    lin, _ = render_chart(skin_surround(seed=6), (-180.0, 150.0), 50.0)  # 3 of 6 columns visible
    srgb = photograph(lin)
    assert ch.detect_chart(srgb) is None
    assert cc.calibrate(srgb).source == "none"


# --- manual corners -----------------------------------------------------------------------


def test_manual_corners_json(scenes, tmp_path):
    srgb, truth = scenes["upside_down"]
    path = tmp_path / "corners.json"
    rng = np.random.default_rng(0)
    rough = truth.corners + rng.uniform(-4, 4, (4, 2))  # clicked by hand
    path.write_text(json.dumps({"corners": rough.tolist()}))
    np.testing.assert_allclose(ch.load_corners_json(path), rough)
    det = ch.chart_from_corners(srgb, ch.load_corners_json(path))
    assert np.hypot(*(det.patch_centres - truth.patch_centres).T).max() < 0.1 * truth.pitch_px
    cal = cc.calibrate(srgb, path)
    assert cal.source == "manual", cal.message
    assert cal.delta_e_mean < 2.0 and cal.delta_e_max < 5.0
    assert cal.px_per_mm == pytest.approx(truth.pitch_px / ch.CLASSIC_PATCH_PITCH_MM, rel=0.02)
    # corners given as an array work the same way
    assert cc.calibrate(srgb, rough).source == "manual"


@pytest.mark.parametrize("text", [
    "not json at all",
    '{"corners": [[1, 2], [3, 4]]}',
    '{"points": [[0, 0], [10, 0], [10, 10], [0, 10]]}',
    '[[0, 0], [10, 0], [10, 10], [0, 10]]',
    '{"corners": [[0, 0], [10, 0], [10, "a"], [0, 10]]}',
    '{"corners": [[0, 0], [0, 10], [10, 10], [10, 0]]}',  # anticlockwise: a mirrored chart
    '{"corners": [[0, 0], [10, 10], [10, 0], [0, 10]]}',  # crossing
])
def test_bad_corners_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        ch.load_corners_json(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("bad.json")
    with pytest.raises(ValueError):
        cc.calibrate(np.zeros((50, 50, 3), np.float32), path)


def test_missing_corners_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        ch.load_corners_json(tmp_path / "nope.json")


# --- sampling and colour correction ---------------------------------------------------------


def test_sample_patches_flags_clipped_and_occluded():
    lin, truth = render_chart(skin_surround(seed=2), (150, 120), 40)
    # a finger over half of patch 9 (moderate red)
    x, y = truth.patch_centres[8]
    lin[int(y) - 25:int(y) + 25, int(x):int(x) + 25] = lab_to_linear(np.array([50.0, 20, 20]))
    exposure = 1.15  # white 0.88 * 1.15 > 1: clipped
    srgb = photograph(lin, exposure)
    det = ch.detect_chart(srgb)
    assert det is not None
    values, valid = ch.sample_patches(srgb_to_linear(srgb), det)
    assert not valid[18]  # white clipped
    assert not valid[8]  # occluded
    assert valid.sum() >= 20
    ref = np.clip(ch.reference_linear_srgb(), 0, 1) * exposure
    ok = valid & (ref > 0.02).all(axis=1)
    np.testing.assert_allclose(values[ok], ref[ok], rtol=0.06, atol=0.004)


def test_root_polynomial_is_exposure_invariant():
    ref = ch.reference_linear_srgb()
    rng = np.random.default_rng(0)
    mix = np.array([[0.8, 0.15, 0.05], [0.1, 0.85, 0.05], [0.02, 0.1, 0.9]])
    measured = np.clip(ref, 0, 1) @ mix.T * [1.1, 1.0, 0.8] + rng.normal(0, 0.002, ref.shape)
    measured = np.clip(measured, 1e-4, None)
    ccm = cc.fit_colour_correction(measured, ref)
    assert ccm.method == "Finlayson 2015" and ccm.terms == 6 and not ccm.fallback
    np.testing.assert_allclose(ccm.apply(2 * measured), 2 * ccm.apply(measured), rtol=1e-5,
                               atol=1e-6)
    mean_de, max_de = cc.calibration_quality(ccm.apply(measured), ref)
    assert mean_de < 1.5 and max_de < 5


@pytest.mark.parametrize(("method", "degree", "terms"), [
    ("Finlayson 2015", 1, 3), ("Finlayson 2015", 2, 6), ("Finlayson 2015", 3, 13),
    ("Cheung 2004", 1, 3), ("Vandermonde", 2, 7),
])
def test_fast_application_matches_colour_science(method, degree, terms):
    ref = ch.reference_linear_srgb()
    rng = np.random.default_rng(1)
    measured = np.clip(ref * [0.9, 1.0, 1.1] + rng.normal(0, 0.01, ref.shape), 1e-3, None)
    ccm = cc.fit_colour_correction(measured, ref, method=method, degree=degree)
    assert ccm.terms == terms
    pixels = rng.uniform(0, 1, (500, 3))
    pixels[:50] -= 0.2  # some below zero (out of gamut after a correction): sign kept
    by_colour = colour.characterisation.polynomial_expansion(
        pixels, method, **ccm._kwargs()) @ ccm.matrix.T
    np.testing.assert_allclose(cc.apply_colour_correction(pixels, ccm), by_colour, atol=2e-5)
    # and colour-science's own fit gives the same matrix
    np.testing.assert_allclose(
        ccm.matrix, colour.matrix_colour_correction(measured, ref, method, **ccm._kwargs()))


@pytest.mark.parametrize("degree", [1, 2])
def test_calibration_applied_a_run_at_a_time_as_step_by_step(degree):
    """Calibration.apply (linearise, correct, encode one run of pixels at a time) gives the
    three steps' values on the whole photo, bit for bit, from codes as from floats."""
    ref = ch.reference_linear_srgb()
    measured = np.clip(ref * [1.1, 0.95, 0.8] + 0.01, 1e-3, None)
    cal = cc.Calibration("chart", cc.fit_colour_correction(measured, ref, degree=degree))
    codes = np.random.default_rng(4).integers(0, 256, (260, 300, 3), dtype=np.uint8)
    photo = SRGBCodes(codes)  # 78 000 pixels: more than one run
    steps = linear_to_srgb(cal.ccm.apply(srgb_to_linear(np.asarray(photo))))
    np.testing.assert_array_equal(cal.apply(photo), steps)
    np.testing.assert_array_equal(cal.apply(np.asarray(photo)), steps)


def test_fallback_to_3x3_with_few_patches():
    ref = ch.reference_linear_srgb()
    measured = np.clip(ref, 1e-3, None) * [1.2, 1.0, 0.7]
    valid = np.zeros(24, bool)
    valid[[0, 2, 5, 7, 11, 13, 14, 19, 21, 22]] = True  # 10 < 6 + 13 terms
    ccm = cc.fit_colour_correction(measured, ref, valid, degree=3)
    assert ccm.fallback and ccm.method == "Cheung 2004" and ccm.matrix.shape == (3, 3)
    assert ccm.n_patches == 10
    with pytest.raises(ValueError, match="at least 6"):
        cc.fit_colour_correction(measured, ref, np.arange(24) < 4)
    # a plain 3x3 matrix applies as such
    m = np.diag([2.0, 1.0, 0.5])
    np.testing.assert_allclose(cc.apply_colour_correction(np.ones((2, 2, 3)), m)[0, 0],
                               [2.0, 1.0, 0.5], rtol=1e-6)


def test_calibration_quality_by_hand():
    ref = ch.reference_linear_srgb()
    assert cc.calibration_quality(ref, ref) == (0.0, 0.0)
    # shift every patch by 2 L* units: CIEDE2000 of that shift, computed by colour-science
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    lab = colour.XYZ_to_Lab(colour.RGB_to_XYZ(ref, srgb, apply_cctf_decoding=False), d65)
    shifted = colour.XYZ_to_RGB(colour.Lab_to_XYZ(lab + [2.0, 0, 0], d65), srgb,
                                apply_cctf_encoding=False)
    de = colour.delta_E(lab + [2.0, 0, 0], lab, method="CIE 2000")
    mean_de, max_de = cc.calibration_quality(shifted, ref)
    # (colour-science's published sRGB matrices are inverses to ~1e-4: Lab round trip 0.004)
    assert mean_de == pytest.approx(de.mean(), rel=2e-3)
    assert max_de == pytest.approx(de.max(), rel=2e-3)
    valid = np.arange(24) < 6
    assert cc.calibration_quality(shifted, ref, valid)[0] == pytest.approx(de[:6].mean(), rel=2e-3)
