"""The in-memory API: ``skinmetrics.measure`` (:func:`skinmetrics.core.measure`) on numpy
arrays gives what the file route writes, and a batch reads, calibrates and measures each
photo once."""

from __future__ import annotations

import json

import numpy as np
import pytest

import skinmetrics as sm
from skinmetrics.colour import SRGBCodes
from skinmetrics.correction import Calibration, ColourCorrection
from skinmetrics.io import decode_image
from skinmetrics.register import warp_to_baseline
from skinmetrics.synthetic import VISIT_COURSE, make_phantom, write_visit_set

SHAPE, PPM = (360, 480), 25.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    base = make_phantom(SHAPE, PPM, 55.0, seed=4, capture_seed=0, camera=(0, 0, 0, 1))
    follow = make_phantom(SHAPE, PPM, 55.0, seed=4, capture_seed=28,
                          camera=(0.02, -0.015, 1.5, 1.02), exposure_ev=0.2, **VISIT_COURSE[28])
    (folder / "b.jpg").write_bytes(base.jpeg)
    (folder / "f.jpg").write_bytes(follow.jpeg)
    return folder


def test_measure_an_array_with_its_baseline_as_the_files_do(pair, tmp_path):
    pipe = sm.load_pipeline("laser_recovery")
    day0 = sm.measure(decode_image((pair / "b.jpg").read_bytes())[0], pipe, px_per_mm=PPM,
                      chart="none")
    day28 = sm.measure(sm.read_image(pair / "f.jpg"), pipe, px_per_mm=PPM, chart="none",
                       baseline=day0)
    assert isinstance(day28, sm.PhotoMeasurement)
    assert day28.alignment is not None and day28.alignment.registration.ok
    # the baseline measured over the skin the follow-up shows: less than all of it
    assert 0 < day28.baseline_metrics["roi_area_px"] < day0.metrics["roi_area_px"]
    # crusts shed by day 28 (the phantom's course keeps a tenth of them)
    assert day28.metrics["microcrust_count"] < 0.5 * day28.baseline_metrics["microcrust_count"]
    # ... taken from the lesions found on the whole baseline: as measuring it there again,
    # pores and crusts where neither visit's hair is
    reg = day28.alignment.registration
    compared = warp_to_baseline(day28.result.masks["roi"], reg, SHAPE)
    hair = warp_to_baseline(day28.detection.photo_fringe, reg, SHAPE)
    again = sm.measure_image(day0.srgb, pipe, PPM, region=compared, estimates=day28.estimates,
                             other_fringe=hair)
    assert day28.baseline_metrics == again.metrics
    assert set(day28.masks) >= {"roi", "erythema", "microcrust", "pigment"}
    assert all(m.shape == SHAPE and m.dtype == bool for m in day28.masks.values())
    # a further follow-up uses the baseline's side of the registration the first made
    made = set(day0.registration_frames["skin"]._made)
    further = sm.measure(sm.read_image(pair / "f.jpg"), pipe, px_per_mm=PPM, chart="none",
                         baseline=day0)
    assert len(made) == 3 and set(day0.registration_frames["skin"]._made) == made
    assert np.array_equal(further.alignment.registration.matrix,
                          day28.alignment.registration.matrix)
    assert further.metrics == day28.metrics
    # as a batch holds it for its follow-ups: without the layers' masks, the same follow-up
    held = day0.as_baseline()
    assert set(held.result.masks) == {"roi"} and set(day0.result.masks) > {"roi"}
    assert held.registration_frames is day0.registration_frames
    lean = sm.measure(sm.read_image(pair / "f.jpg"), pipe, px_per_mm=PPM, chart="none",
                      baseline=held)
    assert lean.metrics == day28.metrics
    assert lean.baseline_metrics == day28.baseline_metrics

    # the file route measures the same and writes it
    b, ref = sm.measure_photo(pair / "b.jpg", tmp_path, pipe, PPM, chart="none")
    f, _ = sm.measure_photo(pair / "f.jpg", tmp_path, pipe, PPM, chart="none", baseline=ref)
    assert b["metrics"] == day0.metrics
    assert f["metrics"] == day28.metrics
    assert f["baseline_metrics"] == day28.baseline_metrics
    written = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert written["photo"]["file"] == "f.jpg" and written["photo"]["width"] == SHAPE[1]
    assert written["metrics"] == json.loads(json.dumps(day28.metrics))


def test_a_photo_as_codes_measures_as_its_float_values():
    """The command line decodes photos as their 8-bit codes (:class:`SRGBCodes`, a quarter
    of the memory): a baseline and its follow-up, resampled to the pipeline's
    ``max_px_per_mm``, registered and colour-normalised through the codes' table, give the
    float photo's masks and metrics."""
    pipe, ppm = sm.load_pipeline("laser_recovery"), 40.0
    base = make_phantom(SHAPE, ppm, 50.0, seed=9, capture_seed=0, camera=(0, 0, 0, 1))
    follow = make_phantom(SHAPE, ppm, 50.0, seed=9, capture_seed=28,
                          camera=(0.01, -0.01, 1.0, 1.01), exposure_ev=0.15, **VISIT_COURSE[28])
    runs = {}
    for as_codes in (False, True):
        day0 = sm.measure(decode_image(base.jpeg, as_codes=as_codes)[0], pipe, px_per_mm=ppm,
                          chart="none")
        runs[as_codes] = (day0, sm.measure(decode_image(follow.jpeg, as_codes=as_codes)[0],
                                           pipe, px_per_mm=ppm, chart="none", baseline=day0))
    for as_float, as_codes in zip(runs[False], runs[True], strict=True):
        assert as_codes.metrics == as_float.metrics
        assert as_codes.baseline_metrics == as_float.baseline_metrics
        assert all(np.array_equal(as_codes.masks[k], m) for k, m in as_float.masks.items())
        assert isinstance(as_codes.srgb, SRGBCodes)  # the follow-up's: a new table
        assert np.array_equal(np.asarray(as_codes.srgb, np.float32), as_float.srgb)
    day28 = runs[True][1]
    assert day28.alignment.registration.ok and day28.alignment.gains is not None
    assert day28.metrics["microcrust_count"] > 0


def test_a_chart_corrects_codes_as_their_float_values():
    """A chart's colour correction of a photo as codes: the float photo's, corrected."""
    rng = np.random.default_rng(2)
    codes = SRGBCodes(rng.integers(0, 256, (40, 60, 3)).astype(np.uint8))
    cal = Calibration("chart", ColourCorrection("Finlayson 2015",
                                                np.eye(3, 6) + 0.02 * rng.random((3, 6)), 2, 6))
    assert np.array_equal(cal.apply(codes), cal.apply(np.asarray(codes)))
    assert Calibration("none").apply(codes) is codes  # nothing to correct: kept as codes


def test_an_array_without_skin_is_refused():
    pipe = sm.load_pipeline("laser_recovery")
    white = np.ones((*SHAPE, 3), np.float32)  # all clipped: nothing to measure
    with pytest.raises(sm.NoSkinError, match="no skin found"):
        sm.measure(white, pipe, px_per_mm=PPM, chart="none")


@pytest.mark.parametrize("rgb", [(60, 140, 70), (60, 90, 170), (150, 110, 160),
                                 (220, 200, 120), (210, 160, 130)])
def test_a_uniform_surface_is_refused(rgb):
    """A wall, paper or backdrop of one colour (green, blue, purple, yellow, skin-beige),
    with sensor noise and a fall-off of light, is no skin, whether or not its colour is
    skin's (a colour far from skin's would otherwise be taken for skin under a cast)."""
    # (the yellow wall clips where the light is brightest: what is left is too little skin)
    rng = np.random.default_rng(1)
    light = np.linspace(0.85, 1.1, SHAPE[1])[None, :, None]
    frame = np.clip(np.array(rgb) * light + rng.normal(0, 3, (*SHAPE, 3)), 0, 255) / 255
    with pytest.raises(sm.NoSkinError, match="no skin found"):
        sm.measure(frame.astype(np.float32), sm.load_pipeline("laser_recovery"),
                   px_per_mm=PPM, chart="none")


def test_a_batch_reads_and_measures_each_photo_once(tmp_path, monkeypatch):
    """A follow-up is aligned to its baseline's measurement in memory: no photo is decoded,
    calibrated or measured twice (before, each follow-up decoded, calibrated and searched
    its baseline again and measured it again over the skin it showed)."""
    import skinmetrics.core
    import skinmetrics.photo

    write_visit_set(tmp_path / "visits", patients=2, shape=SHAPE, px_per_mm=PPM)
    calls = {"decode": 0, "calibrate": 0, "detect_layers": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(skinmetrics.photo, "decode_image",
                        counted("decode", skinmetrics.photo.decode_image))
    monkeypatch.setattr(skinmetrics.core, "calibrate",
                        counted("calibrate", skinmetrics.core.calibrate))
    monkeypatch.setattr(skinmetrics.core, "detect_layers",
                        counted("detect_layers", skinmetrics.core.detect_layers))
    result = sm.run_batch(tmp_path / "visits", tmp_path / "out", "laser_recovery", jobs=1,
                          px_per_mm=PPM, chart="none")
    assert result.exit_code == 0 and len(result.results) == 6
    # lesions are found once per photo: a follow-up (measured with its baseline's estimates)
    # summarises its baseline's lesions within the skin it shows
    assert calls["decode"] == calls["calibrate"] == calls["detect_layers"] == 6
