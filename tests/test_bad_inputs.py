"""A folder of bad inputs beside good photos: every bad file gets one clear line, the good
photos are all measured, and nothing hangs or crashes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from skinmetrics.io import ImageReadError, decode_image, read_file_bytes
from skinmetrics.synthetic import make_phantom

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

def _encode(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def good_jpeg() -> bytes:
    return make_phantom((160, 200), 25.0, 60.0, seed=3).jpeg


#: bad file -> the reason the run must give
REASONS = {
    "P10_day00.jpg": "empty file",
    "P11_day00.jpg": "truncated JPEG",
    "P12_day00.jpg": "not a readable",
    "P13_day00.jpg": "too small",
    "P14_day00.jpg": "grayscale",
    "P15_day00.png": "grayscale",
    "P16_day00.png": "transparent pixels",
    "P17_day00.png": "no skin found",
    "P18_day00.jpg": "not a regular file (a FIFO)",
    "P19_day00.jpg": "symbolic links",
    "P20_day00.jpg": "not a regular file (a folder)",
    "P21_day00.jpg": "uniform",
    "P22_day00.jpg": "uniform",
}
#: bad files that decode: the run finds no skin in them
DECODABLE = {"P17_day00.png", "P21_day00.jpg", "P22_day00.jpg"}


def _contents(good: bytes) -> dict[str, object]:
    """Each bad file's bytes, or the kind of file it is (``fifo``, ``loop``, ``folder``)."""
    bgr = cv2.imdecode(np.frombuffer(good, np.uint8), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    alpha[:20, :, 3] = 0
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    light = np.linspace(0.85, 1.1, 200)[None, :, None]  # a fall-off of light across the frame

    def wall(bgr: tuple[int, int, int]) -> np.ndarray:
        return np.clip(np.array(bgr) * light + rng.normal(0, 2, (160, 200, 3)), 0, 255)
    return {
        "P10_day00.jpg": b"",
        "P11_day00.jpg": good[: len(good) // 2],
        "P12_day00.jpg": b"this is not a photo",
        "P13_day00.jpg": _encode(".jpg", np.full((8, 7, 3), 128, np.uint8)),
        "P14_day00.jpg": _encode(".jpg", grey),
        "P15_day00.png": _encode(".png", np.dstack([grey] * 3)),
        "P16_day00.png": _encode(".png", alpha),
        "P17_day00.png": _encode(".png", noise),
        "P18_day00.jpg": "fifo",
        "P19_day00.jpg": "loop",
        "P20_day00.jpg": "folder",
        "P21_day00.jpg": _encode(".jpg", wall((70, 140, 60)).astype(np.uint8)),  # green
        "P22_day00.jpg": _encode(".jpg", wall((130, 160, 210)).astype(np.uint8)),  # beige
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, good_jpeg) -> os.PathLike:
    folder = tmp_path_factory.mktemp("visits")
    # P10's baseline is a bad file; P30 has no day-0 photo
    for name in ("P01_day00.jpg", "P01_day14.jpg", "P10_day14.jpg", "P30_day14.jpg",
                 "P30_day28.jpg"):
        (folder / name).write_bytes(good_jpeg)
    for name, content in _contents(good_jpeg).items():
        path = folder / name
        if content == "fifo":
            os.mkfifo(path)
        elif content == "loop":
            os.symlink(folder / "P19_day00b.jpg", path)
            os.symlink(path, folder / "P19_day00b.jpg")
        elif content == "folder":
            path.mkdir()
        else:
            path.write_bytes(content)
    return folder


@pytest.mark.parametrize("name", sorted(set(REASONS) - DECODABLE))
def test_each_bad_file_gets_its_reason(corpus, name):
    """(Noise and uniform walls decode; the run finds no skin in them.)"""
    with pytest.raises(ImageReadError) as err:
        decode_image(read_file_bytes(corpus / name), name, as_photo=True)
    message = str(err.value)
    assert message.startswith(name) and REASONS[name] in message and "\n" not in message


def test_a_photo_over_the_pixel_limit_is_refused_before_decoding(good_jpeg):
    with pytest.raises(ImageReadError, match=r"200 x 160 px .* over the pipeline's limit"):
        decode_image(good_jpeg, "big.jpg", max_megapixels=0.01)
    assert decode_image(good_jpeg, "big.jpg", max_megapixels=60)[0].shape == (160, 200, 3)


def test_an_opaque_alpha_channel_is_dropped(good_jpeg):
    bgr = cv2.imdecode(np.frombuffer(good_jpeg, np.uint8), cv2.IMREAD_COLOR)
    opaque = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    rgb, _ = decode_image(_encode(".png", opaque), "opaque.png", as_photo=True)
    assert np.array_equal((rgb * 255).round().astype(np.uint8), bgr[..., ::-1])


def test_the_bad_folder_runs_to_the_end(corpus, tmp_path):
    """The whole corpus as a visit folder: exit 1, every bad file named with its reason in
    run.json, the CSV and on the console, both good photos measured, within a time limit (a
    FIFO read would hang)."""
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-c", "from skinmetrics.cli import app; app()",
                           "run", str(corpus), "--out", str(out), "--px-per-mm", "25",
                           "--jobs", "1"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 1, done.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    status = {p["file"]: (p["status"], p["message"]) for p in run["photos"]}
    assert status["P01_day00.jpg"] == ("ok", "") and status["P01_day14.jpg"] == ("ok", "")
    assert status["P10_day14.jpg"] == ("ok", "") and status["P30_day28.jpg"] == ("ok", "")
    # the baseline choice is stated where it is not day 0 or could not be used
    assert ("P10_day14.jpg: not compared with its baseline P10_day00.jpg, which failed"
            in run["warnings"])
    assert any(w.startswith("patient P30: baseline is day14 (day 14)") for w in run["warnings"])
    # not a terminal: one progress line per photo, as it is done
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == len(status) and progress[-1].startswith(f"[{len(status)}/")
    assert any("P01_day14.jpg measured" in line for line in progress)
    walked = {"P20_day00.jpg"}  # a folder is looked into, not taken for a photo
    for name, reason in REASONS.items():
        if name in walked:
            assert name not in status
            continue
        assert status[name][0] == "error" and reason in status[name][1], name
        assert f"failed: {name}: " in done.stdout and reason in done.stdout
    with open(out / "measurements.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["photo"] for r in rows if r["status"] == "error"} == set(REASONS) - walked
    assert any(r["photo"] == "P01_day14.jpg" and r["metric"] == "erythema_area_pct"
               and r["status"] == "ok" for r in rows)


def test_measure_goes_on_past_a_bad_photo(corpus, tmp_path):
    from typer.testing import CliRunner

    from skinmetrics.cli import app

    res = CliRunner().invoke(app, ["measure", str(corpus / "P13_day00.jpg"),
                                   str(corpus / "P01_day00.jpg"), "--out", str(tmp_path),
                                   "--px-per-mm", "25"])
    assert res.exit_code == 1
    assert "P13_day00.jpg: 7 x 8 px is too small" in res.output
    assert (tmp_path / "P01_day00" / "metrics.json").is_file()
