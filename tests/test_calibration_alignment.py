"""Same skin, same numbers: chart calibration, scale from the chart, visit alignment."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from skinmetrics.photo import measure_photo
from skinmetrics.pipeline import load_pipeline
from skinmetrics.register import corner_error
from skinmetrics.synthetic import (
    CHART_PITCH_FACTOR,
    VISIT_COURSE,
    common_truth,
    followup_to_baseline,
    make_phantom,
)

PPM = 25.0
PATCH_MM = 2.5
SHAPE = (800, 1200)
ESTIMATES = ("melanin_crosstalk", "reference_levels")  # the erythema layer's, per photo


@pytest.fixture(scope="module")
def chart_pipeline():
    pipe = load_pipeline("laser_recovery")
    pipe.params["scale"]["chart_patch_pitch_mm"] = PATCH_MM * CHART_PITCH_FACTOR
    return pipe


@pytest.fixture(scope="module")
def chart_photos(tmp_path_factory):
    """One scene with a chart, captured plainly and with an exposure and colour cast."""
    folder = tmp_path_factory.mktemp("chart")
    common = dict(seed=3, capture_seed=1, camera=(0, 0, 0, 1), chart=(0.55, 0.1, PATCH_MM, 5.0))
    plain = make_phantom(SHAPE, PPM, 55.0, **common)
    cast = make_phantom(SHAPE, PPM, 55.0, exposure_ev=-0.45, white_balance=(1.1, 1.0, 0.9),
                        **common)
    (folder / "plain.jpg").write_bytes(plain.jpeg)
    (folder / "cast.jpg").write_bytes(cast.jpeg)
    return folder, plain, cast


def test_chart_calibrates_and_gives_the_scale(chart_photos, chart_pipeline, tmp_path):
    folder, plain, _ = chart_photos
    rec, _ = measure_photo(folder / "plain.jpg", tmp_path, chart_pipeline, None)
    cal = rec["calibration"]
    assert cal["source"] == "chart"
    assert cal["delta_e_mean"] < 2.0 and cal["n_patches_used"] >= 20
    assert rec["scale_source"] == "chart"
    assert rec["px_per_mm"] == pytest.approx(PPM, rel=0.02)
    roi = cv2.imread(str(tmp_path / "plain" / "masks" / "roi.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert not (roi & plain.masks["chart"]).any()  # the chart is not skin
    # a scale given by hand loses to the chart's
    rec2, _ = measure_photo(folder / "plain.jpg", tmp_path, chart_pipeline, 10.0, stem="p2")
    assert rec2["scale_source"] == "chart"


def test_calibration_removes_a_colour_cast(chart_photos, chart_pipeline, tmp_path):
    """Same skin photographed with -0.45 EV and a (1.1, 1, 0.9) cast: after calibration mean
    ITA and a* agree within 1 unit; without it they do not."""
    folder, _, _ = chart_photos
    got = {}
    for chart in ("auto", "none"):
        for name in ("plain", "cast"):
            rec, _ = measure_photo(folder / f"{name}.jpg", tmp_path / chart, chart_pipeline, PPM,
                                chart=chart)
            got[chart, name] = rec["metrics"]
    for key in ("ita_deg_mean", "a_star_mean"):
        assert got["auto", "plain"][key] == pytest.approx(got["auto", "cast"][key], abs=1.0)
        assert abs(got["none", "plain"][key] - got["none", "cast"][key]) > 1.0


def test_pixels_clipped_in_the_photo_stay_out_of_the_skin_after_calibration(chart_pipeline,
                                                                             tmp_path):
    """Light skin over-exposed by +0.4 EV under a warm cast: a third of the skin has a
    channel clipped. The colour correction brings those channels below the clip level, but
    their colour is still unknown: none of them is skin (before the clip was taken from the
    photo as taken, 264 000 of them were)."""
    from skinmetrics.io import decode_image

    ph = make_phantom(SHAPE, PPM, 75.0, seed=3, capture_seed=1, camera=(0, 0, 0, 1),
                      exposure_ev=0.4, white_balance=(1.08, 1.05, 1.1),
                      chart=(0.55, 0.1, PATCH_MM, 5.0))
    (tmp_path / "over.jpg").write_bytes(ph.jpeg)
    rec, _ = measure_photo(tmp_path / "over.jpg", tmp_path, chart_pipeline, PPM)
    assert rec["calibration"]["source"] == "chart"
    raw = decode_image(ph.jpeg)[0]
    clipped = (raw >= chart_pipeline.params["roi"]["clip_level"]).any(axis=2)
    roi = cv2.imread(str(tmp_path / "over" / "masks" / "roi.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert (clipped & ~ph.masks["chart"]).sum() > 0.3 * ph.masks["roi"].sum()
    assert not (roi & clipped).any()


def test_card_and_its_rim_are_not_skin(chart_pipeline, tmp_path):
    """A card clipped by the top of a posed photo of dark skin (its border as dark as the
    skin around): all its pixels and a rim of a tenth of a pitch around it are left out of
    the skin, and no pigmented strip is drawn along its edge: the pigment area holds
    against the true spots in the skin region measured (the rim cuts the spot that touches
    the card; in mm² the chart's own scale estimate would add its error)."""
    from scipy import ndimage as ndi

    from skinmetrics.chart import CARD_MARGIN_PITCH
    from skinmetrics.correction import calibrate
    from skinmetrics.io import decode_image

    ph = make_phantom(SHAPE, PPM, 32.0, seed=504, capture_seed=28,
                      camera=(0.018, 0.006, -0.93, 1.027), chart=(0.55, 0.08, PATCH_MM, 4.0),
                      microcrust=0.08)
    cal = calibrate(decode_image(ph.jpeg)[0], "auto",
                    patch_pitch_mm=chart_pipeline.params["scale"]["chart_patch_pitch_mm"])
    assert cal.source == "chart"
    rim_px = CARD_MARGIN_PITCH * cal.detection.pitch_px
    near = ndi.distance_transform_edt(~ph.masks["chart"]) <= rim_px - 1.5
    assert not (near & ~cal.chart_mask).any()
    (tmp_path / "card.jpg").write_bytes(ph.jpeg)
    measure_photo(tmp_path / "card.jpg", tmp_path, chart_pipeline, PPM)
    roi, found = (cv2.imread(str(tmp_path / "card" / "masks" / f"{name}.png"),
                             cv2.IMREAD_GRAYSCALE) > 0 for name in ("roi", "pigment"))
    truth = ph.masks["pigment"] & roi
    assert found.sum() == pytest.approx(truth.sum(), rel=0.05)
    assert (found & ~ph.masks["pigment"]).sum() < 0.05 * truth.sum()  # no strip (measured 1.8 %)


def test_small_clipped_or_absent_chart_is_no_crash(chart_pipeline, tmp_path):
    cases = {"small": (0.7, 0.1, 0.6, 0.0), "clipped": (0.85, 0.1, PATCH_MM, 0.0), "absent": None}
    for name, chart in cases.items():
        ph = make_phantom((480, 640), PPM, 60.0, seed=4, camera=(0, 0, 0, 1), chart=chart)
        (tmp_path / f"{name}.jpg").write_bytes(ph.jpeg)
        rec, _ = measure_photo(tmp_path / f"{name}.jpg", tmp_path, chart_pipeline, PPM)
        assert rec["calibration"]["source"] == "none", name
        assert rec["calibration"]["message"]
        assert rec["scale_source"] == "flag" and rec["px_per_mm"] == PPM


def test_follow_up_is_registered_and_colour_normalised(tmp_path):
    pipe = load_pipeline("laser_recovery")
    camera, ev, wb = (0.02, -0.015, 2.0, 1.02), 0.4, (0.92, 1.0, 1.08)
    base = make_phantom((480, 640), PPM, 62.0, seed=21, capture_seed=0, camera=(0, 0, 0, 1))
    follow = make_phantom((480, 640), PPM, 62.0, seed=21, capture_seed=28, camera=camera,
                          exposure_ev=ev, white_balance=wb, **VISIT_COURSE[28])
    (tmp_path / "b.jpg").write_bytes(base.jpeg)
    (tmp_path / "f.jpg").write_bytes(follow.jpeg)
    b, ref = measure_photo(tmp_path / "b.jpg", tmp_path, pipe, PPM)
    rec, _ = measure_photo(tmp_path / "f.jpg", tmp_path, pipe, PPM, baseline=ref)
    align = rec["alignment"]
    assert align["registered"], align["registration"]["message"]
    assert rec["warnings"] == []  # 0.4 EV brighter, but not over-exposed
    truth = followup_to_baseline(base, follow)
    matrix = np.array(align["registration"]["matrix"])
    assert corner_error(matrix, truth, (480, 640)) < 2.0
    # the white balance is undone (the overall level also holds the per-capture illumination)
    gains = np.array(align["colour_gains"])
    expected = 1 / np.array(wb)
    np.testing.assert_allclose(gains / gains[1], expected / expected[1], rtol=0.03)
    assert 0.6 < gains[1] < 0.95  # the follow-up was exposed 0.4 EV brighter
    # the baseline re-measured over the part the follow-up shows: less skin, same kind
    assert rec["baseline_metrics"]["roi_area_px"] < b["metrics"]["roi_area_px"]
    assert rec["baseline_metrics"]["microcrust_count"] <= b["metrics"]["microcrust_count"]
    # both are measured over the same skin: a hair (or glare) at one visit only is left out
    # of the other visit too (the two visits' hairs lie elsewhere on the skin)
    to_follow = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    hair_b = cv2.imread(str(tmp_path / "b" / "masks" / "roi.png"), cv2.IMREAD_GRAYSCALE) == 0
    hair_b_in_f = cv2.warpAffine(hair_b.view(np.uint8), to_follow, (640, 480),
                                 flags=cv2.INTER_NEAREST) > 0
    roi_f = cv2.imread(str(tmp_path / "f" / "masks" / "roi.png"), cv2.IMREAD_GRAYSCALE) > 0
    inner = cv2.erode(hair_b_in_f.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert inner.any() and not (roi_f & inner).any()
    # ... and the same skin area (the follow-up, 2 % closer, shows it on 4 % more pixels)
    area_ratio = abs(np.linalg.det(matrix[:2, :2]))  # baseline px per follow-up px
    assert (rec["baseline_metrics"]["roi_area_px"]
            == pytest.approx(area_ratio * rec["metrics"]["roi_area_px"], rel=0.01))
    # the colour normalised to the baseline's, its melanin crosstalk is the baseline's too
    # (measured on the baseline's spots: 0.11; on the follow-up's own: 0.14)
    crosstalk = b["estimates"]["erythema"]["melanin_crosstalk"]
    assert b["estimates_source"] == {"erythema": dict.fromkeys(ESTIMATES, "photo")}
    assert rec["estimates"] == b["estimates"]
    assert rec["estimates_source"] == {"erythema": dict.fromkeys(ESTIMATES, "baseline")}
    # unregistered on request: no colour normalisation either, so the photo's own crosstalk
    plain, _ = measure_photo(tmp_path / "f.jpg", tmp_path, pipe, PPM, stem="u", baseline=ref,
                             register=False)
    assert plain["alignment"]["registration"] is None and plain["baseline_metrics"] is None
    assert json.loads((tmp_path / "u" / "metrics.json").read_text())["alignment"] is not None
    assert plain["estimates_source"] == {"erythema": dict.fromkeys(ESTIMATES, "photo")}
    own = plain["estimates"]["erythema"]["melanin_crosstalk"]
    assert abs(own - crosstalk) > 0.02
    # a crosstalk the baseline could not measure is the follow-up's own, for both visits
    unknown = replace(ref, result=replace(ref.result,
                                          estimates={"erythema": {"melanin_crosstalk": None}}))
    alone, _ = measure_photo(tmp_path / "f.jpg", tmp_path, pipe, PPM, stem="n", baseline=unknown)
    assert alone["estimates_source"] == {"erythema": dict.fromkeys(ESTIMATES, "photo")}
    assert alone["estimates"]["erythema"]["melanin_crosstalk"] != crosstalk
    assert alone["baseline_metrics"]["erythema_area_mm2"] != rec["baseline_metrics"][
        "erythema_area_mm2"]


@pytest.fixture(scope="module")
def over_exposed_pair(tmp_path_factory):
    """Light skin, day 28 of a laser course (92 % of the crusts gone) photographed +0.39 EV
    under a warm cast: a channel clips on a third of the frame."""
    folder = tmp_path_factory.mktemp("over_exposed")
    base = make_phantom(SHAPE, PPM, 75.0, seed=535, capture_seed=0, camera=(0, 0, 0, 1))
    follow = make_phantom(SHAPE, PPM, 75.0, seed=535, capture_seed=28,
                          camera=(0.0154, -0.0198, -2.3034, 1.0118), exposure_ev=0.388,
                          white_balance=(1.076, 1.048, 1.097), **VISIT_COURSE[28])
    (folder / "b.jpg").write_bytes(base.jpeg)
    (folder / "f.jpg").write_bytes(follow.jpeg)
    return folder, base, follow


def test_an_over_exposed_follow_up_without_its_crusts_registers(over_exposed_pair):
    """The baseline's strongest features are its crusts; keeping only the 2500 strongest
    per photo left 11 matches and no registration. The known drift is recovered."""
    from skinmetrics.io import decode_image
    from skinmetrics.register import register

    _, base, follow = over_exposed_pair
    reg = register(decode_image(base.jpeg)[0], decode_image(follow.jpeg)[0])
    assert reg.ok, reg.message
    truth = followup_to_baseline(base, follow)
    assert corner_error(reg.matrix, truth, SHAPE) < 2.0


@pytest.mark.parametrize("pipeline,metric,layer,kind,tolerance", [
    ("acne", "pore_count", "pore", "count", 12.0),
    ("laser_recovery", "erythema_area_mm2", "erythema", "area", 2.0),
])
def test_an_over_exposed_follow_up_is_compared_over_the_same_skin(over_exposed_pair, pipeline,
                                                                  metric, layer, kind,
                                                                  tolerance):
    """Near the clip level noise takes a channel over it only here and there: that skin is
    left out with the clipped pixels, before and after the colour gains alike, and the
    baseline is measured over exactly the skin the follow-up was. When the follow-up's skin
    region was found again after the gains (which bring clipped pixels below the clip
    level), it held a fifth more skin than the baseline was compared over: specks of skin
    between clipped pixels, dark beside them, counted as pores (+111 % where the truth is
    +23 %). With the clip level at 252 of 255 instead of 254 the erythema left out with
    it changed differently from the rest (+7 pp).

    Over the skin compared the change is within ``tolerance`` of the truth (measured
    2026-12-05: pores +10.1 points: the baseline's dense crust field hides some pores
    beside the crusts; erythema +1.5 points), and leaving out what clips moves the
    true change by less than 5 points (pores +1.3, erythema +4.2: the erythema in the
    clipped skin fell more than the rest)."""
    folder, base, follow = over_exposed_pair
    pipe = load_pipeline(pipeline)
    out = folder / pipeline
    _, ref = measure_photo(folder / "b.jpg", out, pipe, PPM)
    rec, _ = measure_photo(folder / "f.jpg", out, pipe, PPM, baseline=ref)
    matrix = np.array(rec["alignment"]["registration"]["matrix"])
    m0, m1 = rec["baseline_metrics"], rec["metrics"]
    # what clips is out, and not much more (the phantom's truth: what clips before the noise)
    assert 0.75 < m1["roi_area_px"] / follow.truth["roi_area_px"] < 1.0
    [warning] = rec["warnings"]  # and the reader is told
    assert warning.startswith("over-exposed: ") and 25 <= int(warning.split()[1]) <= 45
    assert m0["roi_area_px"] == pytest.approx(abs(np.linalg.det(matrix[:2, :2]))
                                              * m1["roi_area_px"], rel=0.01)
    compared = cv2.imread(str(out / "f" / "masks" / "roi.png"), cv2.IMREAD_GRAYSCALE) > 0
    t0, t1 = common_truth(base, follow, layer, kind, compared=compared)
    truth = 100 * (t1 - t0) / t0
    a0, a1 = common_truth(base, follow, layer, kind)  # over all the skin both phantoms show
    assert 100 * (m1[metric] - m0[metric]) / m0[metric] == pytest.approx(truth, abs=tolerance)
    assert truth == pytest.approx(100 * (a1 - a0) / a0, abs=5.0)


def test_run_records_calibration_scale_and_alignment(tmp_path):
    from typer.testing import CliRunner

    from skinmetrics.cli import app
    from skinmetrics.synthetic import write_visit_set

    write_visit_set(tmp_path / "visits", patients=1, shape=(360, 480), px_per_mm=PPM,
                    manifest=True)
    runner = CliRunner()
    for flags, registered in (([], True), (["--no-register"], False)):
        out = tmp_path / ("reg" if registered else "noreg")
        res = runner.invoke(app, ["run", str(tmp_path / "visits"), "--out", str(out), "-q",
                                  "--jobs", "1", "--chart", "none", *flags])
        assert res.exit_code == 0, res.output
        photos = json.loads((out / "run.json").read_text())["photos"]
        [base_estimates] = [p["estimates"] for p in photos if p["day"] == 0]
        assert base_estimates["erythema"]["melanin_crosstalk"] is not None
        for p in photos:
            assert p["scale_source"] == "manifest" and p["calibration"]["source"] == "none"
            if p["day"] == 0:
                assert p["alignment"] is None
            else:
                assert p["alignment"]["registered"] is registered
                # normalised to the baseline's colour, measured with its crosstalk
                source = "baseline" if registered else "photo"
                assert p["estimates_source"] == {"erythema": dict.fromkeys(ESTIMATES, source)}
                assert (p["estimates"] == base_estimates) is registered


def test_bad_chart_file_is_a_usage_error(tmp_path):
    from typer.testing import CliRunner

    from skinmetrics.cli import app

    bad = tmp_path / "corners.json"
    bad.write_text('{"corners": [[0, 0], [1, 0]]}')
    photo = tmp_path / "p.jpg"
    photo.write_bytes(make_phantom((120, 160), PPM, 60.0, seed=1).jpeg)
    res = CliRunner().invoke(app, ["measure", str(photo), "--chart", str(bad), "--out",
                                   str(tmp_path / "o")])
    assert res.exit_code == 2 and "corners.json" in res.output
    assert res.output.strip().count("\n") == 0


def test_failed_registration_is_a_warning_not_an_error(tmp_path):
    from typer.testing import CliRunner

    from skinmetrics.cli import app

    visits = tmp_path / "visits"
    visits.mkdir()
    (visits / "P01_day0.jpg").write_bytes(make_phantom((360, 480), PPM, 60.0, seed=1).jpeg)
    (visits / "P01_day28.jpg").write_bytes(make_phantom((360, 480), PPM, 45.0, seed=99).jpeg)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(visits), "--out", str(out), "-q", "--jobs", "1",
                                   "--px-per-mm", str(PPM)])
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    follow = [p for p in run["photos"] if p["day"] == 28][0]
    assert follow["status"] == "ok" and follow["alignment"]["registered"] is False
    assert any("P01_day28.jpg: not registered" in w for w in run["warnings"])
    assert "not registered" in res.output


def test_an_over_exposed_photo_measured_alone_is_flagged(over_exposed_pair, tmp_path):
    """A photo measured over its own skin (a baseline, or a follow-up that is not
    registered) is told how much of its skin clipping hides: the pixels clipped in a channel
    that keep skin's hue, joined to the skin region. The truth: the share of the phantom's
    skin (its roi when the same scene and pose are taken without the over-exposure and the
    cast) clipped in the photo. A properly exposed photo, and the same with a white backdrop
    clipped in every channel over 30 % of the frame, get no warning."""
    from skinmetrics.io import decode_image

    folder, base, follow = over_exposed_pair
    pipe = load_pipeline("acne")
    rec, _ = measure_photo(folder / "f.jpg", tmp_path, pipe, PPM)
    clipped = (decode_image(follow.jpeg)[0] >= pipe.params["roi"]["clip_level"]).any(axis=2)
    skin = make_phantom(SHAPE, PPM, 75.0, seed=535, capture_seed=28,
                        camera=follow.params["camera"], **VISIT_COURSE[28]).masks["roi"]
    truth = 100 * np.count_nonzero(clipped & skin) / skin.sum()
    assert truth > 20
    [warning] = rec["warnings"]
    assert warning.startswith("over-exposed: ") and warning.endswith(
        "% of the skin is clipped in this photo; measured over the rest")
    assert int(warning.split()[1]) == pytest.approx(truth, abs=3)

    assert measure_photo(folder / "b.jpg", tmp_path, pipe, PPM)[0]["warnings"] == []
    backdrop = decode_image(base.jpeg)[0].copy()
    backdrop[:, : int(0.3 * SHAPE[1])] = 1.0
    bgr = cv2.cvtColor((255 * backdrop).round().astype(np.uint8), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "backdrop.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert measure_photo(tmp_path / "backdrop.jpg", tmp_path, pipe, PPM)[0]["warnings"] == []
