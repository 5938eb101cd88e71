"""`skinmetrics measure` and measure_image: output layout, units, scale handling, bad input."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from skinmetrics.cli import app
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic import make_phantom

from .conftest import PX_PER_MM

runner = CliRunner()
LASER_MASKS = {"roi", "erythema", "microcrust", "pigment"}
ACNE_MASKS = {"roi", "pore", "pigment", "erythema", "acne_lesion"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A small phantom saved as JPEG, once plainly and once stored rotated with EXIF 6."""
    folder = tmp_path_factory.mktemp("photos")
    ph = make_phantom((240, 320), PX_PER_MM, 60.0, seed=5)
    (folder / "cheek.jpg").write_bytes(ph.jpeg)
    stored = np.rot90(ph.image, 1)  # EXIF 6 rotates it back by 90 degrees clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored)).save(buf, "JPEG", quality=92, exif=exif)
    (folder / "rotated.jpg").write_bytes(buf.getvalue())
    return folder, ph


def test_measure_writes_the_documented_layout(photos, tmp_path):
    folder, ph = photos
    res = runner.invoke(app, ["measure", str(folder / "cheek.jpg"), str(folder / "rotated.jpg"),
                              "--out", str(tmp_path), "--px-per-mm", str(PX_PER_MM)])
    assert res.exit_code == 0, res.output
    for stem in ("cheek", "rotated"):
        out = tmp_path / stem
        rec = json.loads((out / "metrics.json").read_text())
        assert rec["pipeline"]["name"] == "laser_recovery"
        assert rec["pipeline"]["params"]["microcrust"]["split_depth_mm"] == 0.03
        assert rec["px_per_mm"] == PX_PER_MM
        assert (rec["photo"]["width"], rec["photo"]["height"]) == (320, 240)
        assert rec["skinmetrics_version"]
        assert set(rec["metrics"]) == set(rec["units"])
        assert {"erythema_area_mm2", "microcrust_count", "ita_deg_mean",
                "pigmentation_index"} <= set(rec["metrics"])
        assert not any(k.startswith("pore_") for k in rec["metrics"])
        assert {p.stem for p in (out / "masks").iterdir()} == LASER_MASKS
        for name in LASER_MASKS:
            mask = cv2.imread(str(out / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
            assert mask.dtype == np.uint8 and mask.shape == (240, 320)
            assert set(np.unique(mask)) <= {0, 255}
        overlay = cv2.imread(str(out / "overlay.jpg"))
        assert overlay.shape == (240, 320, 3)
    a = json.loads((tmp_path / "cheek" / "metrics.json").read_text())["metrics"]
    b = json.loads((tmp_path / "rotated" / "metrics.json").read_text())["metrics"]
    assert b["microcrust_count"] == pytest.approx(a["microcrust_count"], rel=0.1)
    assert b["roi_area_px"] == pytest.approx(a["roi_area_px"], rel=0.02)


def test_acne_pipeline_writes_only_its_layers(photos, tmp_path):
    folder, _ = photos
    res = runner.invoke(app, ["measure", str(folder / "cheek.jpg"), "--out", str(tmp_path),
                              "--pipeline", "acne"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "cheek" / "metrics.json").read_text())
    assert {p.stem for p in (tmp_path / "cheek" / "masks").iterdir()} == ACNE_MASKS
    assert not any(k.startswith("microcrust") for k in rec["metrics"])
    # no scale: mm metrics are null, px and % metrics are still there
    assert rec["px_per_mm"] is None
    assert rec["metrics"]["pore_density_per_cm2"] is None
    assert rec["metrics"]["pore_mean_diameter_mm"] is None
    assert rec["metrics"]["erythema_area_mm2"] is None
    assert rec["metrics"]["acne_lesion_density_per_cm2"] is None
    assert rec["metrics"]["pore_count"] > 0 and rec["metrics"]["erythema_area_pct"] > 0


def test_bad_photo_does_not_stop_the_others(photos, tmp_path):
    folder, _ = photos
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    res = runner.invoke(app, ["measure", str(bad), str(folder / "cheek.jpg"),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "bad.jpg" in res.output
    assert (tmp_path / "out" / "cheek" / "metrics.json").exists()
    assert not (tmp_path / "out" / "bad").exists()


def test_bad_pipeline_is_a_usage_error(photos, tmp_path):
    folder, _ = photos
    res = runner.invoke(app, ["measure", str(folder / "cheek.jpg"), "--pipeline", "nope",
                              "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "unknown pipeline 'nope'" in res.output


def test_without_scale_px_metrics_equal_scaled_run(phantoms):
    """At the pipeline's assumed scale, giving the scale changes only the mm metrics."""
    ph, rgb = phantoms["medium"]
    pipe = load_pipeline("laser_recovery")
    assert pipe.params["scale"]["assumed_px_per_mm"] == PX_PER_MM
    with_scale = measure_image(rgb, pipe, PX_PER_MM).metrics
    without = measure_image(rgb, pipe, None).metrics
    for key, value in with_scale.items():
        if "_mm" in key or key.endswith("per_cm2"):
            assert without[key] is None, key
        else:
            assert without[key] == value, key


def test_exposure_change_moves_little(phantoms):
    """A 0.5 EV darker exposure: indices and counts stay close (colour is unchanged)."""
    ph, rgb = phantoms["medium"]
    from skinmetrics.colour import linear_to_srgb, srgb_to_linear

    darker = linear_to_srgb(srgb_to_linear(rgb) * 2 ** -0.5)
    pipe = load_pipeline("laser_recovery")
    a = measure_image(rgb, pipe, PX_PER_MM).metrics
    b = measure_image(darker, pipe, PX_PER_MM).metrics
    assert b["erythema_index_mean"] == pytest.approx(a["erythema_index_mean"], abs=0.5)
    assert b["microcrust_count"] == pytest.approx(a["microcrust_count"], rel=0.1)
    assert b["erythema_area_mm2"] == pytest.approx(a["erythema_area_mm2"], rel=0.1)
    assert b["pigment_spot_area_mm2"] == pytest.approx(a["pigment_spot_area_mm2"], rel=0.15)


def test_face_photo_is_measured_per_region(tmp_path):
    """A whole-face photo: metrics per anatomical region of the pipeline, region masks."""
    from skimage import data

    pytest.importorskip("dlib")
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    rec = measure_photo_cli(photo, tmp_path / "out", "acne")
    assert rec["face"]["view"] == "frontal"
    assert set(rec["regions"]) == {"whole", "forehead", "left_cheek", "right_cheek", "nose",
                                   "chin"}
    roi = cv2.imread(str(tmp_path / "out" / "astronaut" / "masks" / "roi.png"), 0) > 0
    for name in ("forehead", "left_cheek", "right_cheek", "nose", "chin"):
        mask = cv2.imread(str(tmp_path / "out" / "astronaut" / "masks" /
                              f"region_{name}.png"), 0) > 0
        assert mask.any()
        region_px = rec["regions"][name]["roi_area_px"]
        assert 0 < region_px <= (mask & roi).sum() + 1  # measured skin lies in the region
    assert rec["regions"]["whole"] == rec["metrics"]


def test_close_up_is_the_one_region_whole(photos, tmp_path):
    folder, _ = photos
    rec = measure_photo_cli(folder / "cheek.jpg", tmp_path, "laser_recovery")
    assert rec["face"] is None and rec["regions"] is None


def measure_photo_cli(photo, out, pipeline):
    res = runner.invoke(app, ["measure", str(photo), "--out", str(out), "--pipeline", pipeline,
                              "--chart", "none"])
    assert res.exit_code == 0, res.output
    return json.loads((out / photo.stem / "metrics.json").read_text())
