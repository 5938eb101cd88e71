"""Whole-face photos end to end: a split-face phantom on a real face, regions mapped by the
registration, the face exclusions in ``whole``, and the warning when no face is found."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from typer.testing import CliRunner

from skinmetrics.batch import run_batch
from skinmetrics.cli import app
from skinmetrics.core import FACE_VIEWS, face_expected
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import make_phantom, paint_erythema

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

from skinmetrics.face import excluded_mask, find_face, region_masks  # noqa: E402

SIDE = 2048  # the astronaut (512 px) upscaled: about 2.8 px/mm over the face
FADE = {"left_cheek": 0.6, "right_cheek": 0.2}  # erythema area lost by day 28, per cheek
ARMS = {"left_cheek": "treatment", "right_cheek": "control"}
# follow-up capture drift: 2 degrees, shifted 2 % right and 1.5 % up
DRIFT = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), 2.0, 1.0) + [[0, 0, 41], [0, 0, -31]]


def _u8(srgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def face_study(tmp_path_factory):
    """Baseline and drifted day-28 photo of one face with erythema patches on both cheeks."""
    from skimage import data

    scene = cv2.resize(data.astronaut(), (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    scene = scene.astype(np.float32) / 255
    face = find_face(scene)
    ppm = face.interocular / 63.0
    regions = region_masks(face, scene.shape)
    pipe = load_pipeline("laser_recovery")
    # the photo's own redness, measured as a follow-up is: part of the truth at every visit
    natural = measure_image(scene, pipe, ppm, not_skin=excluded_mask(face, scene.shape))
    rng = np.random.default_rng(1)
    centres, radii, sides = [], [], []
    for name in FADE:
        inner = ndi.distance_transform_edt(regions[name]) > 6 * ppm
        ys, xs = np.nonzero(inner)
        while sides.count(name) < 3:  # three patches per cheek, 3-5 mm, not touching
            i = rng.integers(len(ys))
            if all(np.hypot(ys[i] - y, xs[i] - x) > 10 * ppm for y, x in centres):
                centres.append((ys[i], xs[i]))
                radii.append(rng.uniform(3, 5) * ppm)
                sides.append(name)
    folder = tmp_path_factory.mktemp("face_study")
    lines = ["path,patient,visit,day,view,px_per_mm,arm_left,arm_right"]
    truth = {}
    for day in (0, 28):
        keep = [1.0 if day == 0 else np.sqrt(1 - FADE[s]) for s in sides]
        srgb, painted = paint_erythema(scene, centres, [r * k for r, k in zip(radii, keep,
                                                                              strict=True)])
        red = (painted | natural.masks["erythema"]) & natural.masks["roi"]
        for name in FADE:
            truth[name, day] = np.count_nonzero(red & regions[name]) / ppm**2
        if day:
            srgb = cv2.warpAffine(srgb, DRIFT, (SIDE, SIDE), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(folder / f"A_day{day}_front.png"), _u8(srgb))
        lines.append(f"A_day{day}_front.png,A,day{day},{day},front,{ppm:.5f},"
                     f"{ARMS['left_cheek']},{ARMS['right_cheek']}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("face_results")
    result = run_batch(folder, out, pipe, jobs=2, chart="none", overwrite=True)
    return {"out": out, "result": result, "truth": truth, "regions": regions, "face": face}


def test_split_face_regions_match_the_truth(face_study):
    out, truth = face_study["out"], face_study["truth"]
    assert face_study["result"].exit_code == 0
    # the crusts of a whole face at 2.8 px/mm are below a pixel: no number, said per photo
    assert face_study["result"].warnings == [
        f"{photo}: microcrust not measured: it needs 10 px/mm, this photo has 2.8 px/mm"
        for photo in ("A_day0_front.png", "A_day28_front.png")]
    changes = pd.read_csv(out / "change_from_baseline.csv")
    rows = changes[changes.metric == "erythema_area_mm2"].set_index("region")
    assert set(rows.index) == {"whole", "left_cheek", "right_cheek"}
    for name, arm in ARMS.items():
        true_pct = 100 * (truth[name, 28] / truth[name, 0] - 1)
        assert rows.loc[name, "arm"] == arm
        assert rows.loc[name, "baseline_value"] == pytest.approx(truth[name, 0], rel=0.15)
        assert abs(rows.loc[name, "percent_change"] - true_pct) <= 5.0, (name, true_pct)
    cohort = pd.read_csv(out / "cohort_stats.csv", keep_default_na=False)
    paired = cohort[(cohort.kind == "paired") & (cohort.metric == "erythema_area_mm2")
                    & (cohort.quantity == "percent_change")]
    assert len(paired) == 1 and paired.iloc[0].region == "cheek"
    assert float(paired.iloc[0].mean_difference) < -20  # the treated cheek fades faster


def test_followup_regions_are_the_baselines_mapped(face_study):
    out, regions = face_study["out"], face_study["regions"]
    rec = json.loads((out / "photos" / "A_day28_front" / "metrics.json").read_text())
    assert rec["alignment"]["registered"]
    assert rec["regions_source"] == "baseline landmarks, registered"
    assert set(rec["baseline_regions"]) == {"whole", "left_cheek", "right_cheek"}
    roi = cv2.imread(str(out / "photos" / "A_day28_front" / "masks" / "roi.png"), 0) > 0
    for name in ("left_cheek", "right_cheek"):
        got = cv2.imread(str(out / "photos" / "A_day28_front" / "masks" /
                             f"region_{name}.png"), 0) > 0
        expected = cv2.warpAffine(regions[name].astype(np.uint8), DRIFT, (SIDE, SIDE),
                                  flags=cv2.INTER_NEAREST) > 0
        inter = np.count_nonzero(got & expected)
        assert inter / np.count_nonzero(got) > 0.97  # measured skin lies in the mapped region
        assert inter / np.count_nonzero(expected & roi) > 0.97


def test_whole_region_of_a_face_photo_leaves_out_eyes_and_lips(face_study):
    out, face = face_study["out"], face_study["face"]
    roi = cv2.imread(str(out / "photos" / "A_day0_front" / "masks" / "roi.png"), 0) > 0
    lips = excluded_mask(face, roi.shape, margin_px=0)
    assert lips.sum() > 1000
    assert not (roi & lips).any()
    rec = json.loads((out / "photos" / "A_day0_front" / "metrics.json").read_text())
    assert rec["regions_source"] == "landmarks"
    assert rec["warnings"] == ["microcrust not measured: it needs 10 px/mm, this photo has "
                               "2.8 px/mm"]


def test_face_expected():
    assert face_expected("front", (400, 600), None, 100.0)
    assert face_expected("left45", (400, 600), 25.0, 100.0)
    assert not face_expected("left", (400, 600), 25.0, 100.0)  # a 16 mm close-up of a side
    assert face_expected("", (3000, 4000), 10.0, 100.0)  # 300 mm: the whole face
    assert not face_expected("", (3000, 4000), None, 100.0)  # unknown scale: cannot tell
    assert FACE_VIEWS == {"front", "left45", "right45"}


def test_no_face_where_one_was_expected_is_a_warning(tmp_path):
    folder = tmp_path / "visits"
    folder.mkdir()
    for day in (0, 14):  # a cheek close-up wrongly labelled as a front view
        ph = make_phantom((240, 320), 25.0, 60.0, seed=5, capture_seed=day)
        (folder / f"P1_day{day}_front.jpg").write_bytes(ph.jpeg)
    result = run_batch(folder, tmp_path / "out", "laser_recovery", jobs=1, px_per_mm=25,
                       chart="none", register=False)
    assert result.exit_code == 0  # measured, not dropped
    expected = [f"P1_day{d}_front.jpg: no face found in a whole-face photo; measured over the "
                "whole skin region" for d in (0, 14)]
    assert result.warnings == expected
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["warnings"] == expected
    meas = pd.read_csv(tmp_path / "out" / "measurements.csv", keep_default_na=False)
    assert set(meas.region) == {"whole"} and (meas.status == "ok").all()
    res = CliRunner().invoke(app, ["measure", str(folder / "P1_day0_front.jpg"), "--out",
                                   str(tmp_path / "m"), "--px-per-mm", "400", "--chart", "none"])
    assert res.exit_code == 0  # 0.6 x 0.8 mm at 400 px/mm: a close-up, no warning
    assert "warning" not in res.output


def test_a_face_of_impossible_size_at_a_known_scale_is_ignored(face_study):
    """The HOG detector finds a 'face' with eyes 0.9 mm apart in one skin close-up phantom:
    at its known scale (25 px/mm) it is ignored (its eyes and lips would otherwise be cut out
    of the skin); the real face at its scale is kept."""
    from skinmetrics.core import find_plausible_face
    from skinmetrics.io import decode_image

    close_up = decode_image(make_phantom((800, 1200), 25.0, 62.0, seed=511, capture_seed=0,
                                         camera=(0, 0, 0, 1)).jpeg)[0]
    assert find_face(close_up) is not None  # the false detection this guards against
    assert find_plausible_face(close_up, 25.0) is None
    assert find_plausible_face(close_up, None) is not None  # no scale: nothing to judge by
    face = face_study["face"]
    from skimage import data

    scene = cv2.resize(data.astronaut(), (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    kept = find_plausible_face(scene.astype(np.float32) / 255, face.interocular / 63.0)
    assert kept is not None and kept.interocular == pytest.approx(face.interocular)
