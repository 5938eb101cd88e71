"""Face detection, landmarks and anatomical regions (skinmetrics.face)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # end-to-end runs or real-photo sets

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")
skdata = pytest.importorskip("skimage.data")

from skinmetrics.face import (  # noqa: E402
    REGIONS,
    exclusion_masks,
    find_face,
    region_masks,
    region_polygons,
)
from skinmetrics.io import read_image  # noqa: E402
from skinmetrics.synthetic import make_phantom  # noqa: E402

ACNE04 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "acne04_valid"
# Near-frontal ACNE04 validation photos (hand labels shared with benchmarks/face_regions.py).
FRONTAL = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" /
                      "acne04_views.json").read_text())["frontal"]


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def centroid_y(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[0].mean())


def assert_clean(face, shape) -> None:
    """No region pixel inside the (undilated) eye, lip or nostril polygons."""
    ex = exclusion_masks(face, shape)
    bad = ex["eyes"] | ex["lips"] | ex["nostrils"]
    assert bad.any()
    for name, m in region_masks(face, shape).items():
        assert not (m & bad).any(), name


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut().astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def astro_face(astronaut):
    return find_face(astronaut)


def test_a_turned_faces_eye_distance_is_recovered_from_its_nose(astro_face):
    """Turning the head shortens the eye distance seen, not the nose's height: the frontal
    face squeezed across as a 45 degree turn shows it (cos 45 degrees = 0.71)."""
    f = astro_face
    nose = f.landmarks[30, 0]
    squeezed = f.landmarks.copy()
    squeezed[:, 0] = nose + (squeezed[:, 0] - nose) * np.cos(np.radians(45))
    turned = dataclasses.replace(f, landmarks=squeezed, asymmetry=0.6, view="left")
    assert turned.interocular == pytest.approx(np.cos(np.radians(45)) * f.interocular, rel=0.01)
    assert abs(turned.frontal_interocular / f.interocular - 1) < 0.1  # not -29 %
    # a face counted as frontal is sized by its eyes, and so is the frontal one itself
    assert dataclasses.replace(turned, asymmetry=0.2).frontal_interocular == turned.interocular
    assert f.frontal_interocular == f.interocular


def test_astronaut_face_and_regions(astronaut, astro_face):
    f = astro_face
    assert f is not None
    assert f.landmarks.shape == (68, 2)
    assert f.view == "frontal"
    assert f.detector == "hog"
    x0, y0, x1, y1 = f.box
    assert 0 <= x0 < x1 <= astronaut.shape[1] and 0 <= y0 < y1 <= astronaut.shape[0]
    assert set(region_polygons(f)) == set(REGIONS)
    masks = region_masks(f, astronaut.shape)
    assert set(masks) == set(REGIONS)
    for name, m in masks.items():
        assert m.shape == astronaut.shape[:2] and m.dtype == bool
        assert m.sum() > 200, name
    assert_clean(f, astronaut.shape)
    # the regions are disjoint
    total = sum(m.astype(int) for m in masks.values())
    assert total.max() == 1
    # patient's left cheek is on the image's right in an un-mirrored photo
    assert centroid_x(masks["left_cheek"]) > f.landmarks[30, 0] > centroid_x(masks["right_cheek"])
    p = f.landmarks
    assert centroid_y(masks["forehead"]) < p[36:48, 1].min()
    assert centroid_y(masks["chin"]) > p[48:60, 1].max()


def test_skin_mask_and_margin(astronaut, astro_face):
    shape = astronaut.shape
    skin = np.zeros(shape[:2], bool)
    skin[:, : shape[1] // 2] = True
    masks = region_masks(astro_face, shape, skin=skin)
    assert all(not m[:, shape[1] // 2 :].any() for m in masks.values())
    wide = region_masks(astro_face, shape, margin_px=12)
    narrow = region_masks(astro_face, shape, margin_px=0)
    assert wide["nose"].sum() < narrow["nose"].sum()


def test_a_known_scale_spares_the_upsampled_search(astronaut, monkeypatch):
    """Where the smallest face the photo's scale allows is well above the HOG window in the
    detector's copy, the copy is not upsampled (a quarter of the work): the same face, its
    landmarks within 5 % of its interocular distance; a smaller allowed face keeps it."""
    from skinmetrics import face as face_module

    crop = skdata.astronaut()[20:280, 100:340].repeat(3, axis=0).repeat(3, axis=1)
    upsampled = []
    model = face_module._model

    class Recorded:  # the HOG detector, recording how far each search upsampled
        def __init__(self, detector):
            self.detector = detector

        def run(self, image, upsample, threshold):
            upsampled.append(upsample)
            return self.detector.run(image, upsample, threshold)

    monkeypatch.setattr(face_module, "_model",
                        lambda name: Recorded(model(name)) if name == "hog" else model(name))
    unknown = find_face(crop, cnn_fallback=False)
    known = find_face(crop, cnn_fallback=False, min_interocular_px=80.0)
    small = find_face(crop, cnn_fallback=False, min_interocular_px=30.0)
    assert upsampled == [1, 0, 1]
    assert unknown.interocular > 100 and known.detector == "hog"
    assert np.abs(known.landmarks - unknown.landmarks).max() < 0.05 * unknown.interocular
    np.testing.assert_array_equal(small.landmarks, unknown.landmarks)


def test_a_known_scale_shrinks_the_cnn_fallbacks_copy(astronaut, monkeypatch):
    """When the HOG detector finds nothing, the CNN looks at a copy that puts the shortest
    face the scale allows CNN_MIN_FACE_HEIGHT_PX tall (at most CNN_SIDE): given a scale 1.5
    times too fine, it still finds the face, about where it finds it on the usual copy."""
    from skinmetrics import face as face_module

    crop = skdata.astronaut()[20:280, 100:340].repeat(3, axis=0).repeat(3, axis=1)
    seen = []
    model = face_module._model

    class NoHog:  # HOG finds no face: the CNN fallback runs
        def run(self, image, upsample, threshold):
            return [], [], []

    def recorded(name):
        if name == "hog":
            return NoHog()
        if name == "cnn":
            return lambda image, upsample: (seen.append(image.shape[:2]),
                                            model(name)(image, upsample))[1]
        return model(name)

    monkeypatch.setattr(face_module, "_model", recorded)
    whole = find_face(crop)
    nasion_to_chin = float(np.linalg.norm(whole.landmarks[8] - whole.landmarks[27]))
    shrunk = find_face(crop, min_face_height_px=1.5 * nasion_to_chin)
    side = max(crop.shape[:2]) * face_module.CNN_MIN_FACE_HEIGHT_PX / (1.5 * nasion_to_chin)
    assert side < face_module.CNN_SIDE
    assert seen == [tuple(round(n * face_module.CNN_SIDE / max(crop.shape[:2]))
                          for n in crop.shape[:2]),
                    tuple(round(n * side / max(crop.shape[:2])) for n in crop.shape[:2])]
    assert whole.detector == shrunk.detector == "cnn"
    assert np.abs(np.subtract(shrunk.box, whole.box)).max() < 0.25 * nasion_to_chin


def test_mirrored_astronaut_swaps_sides(astronaut):
    img = np.ascontiguousarray(astronaut[:, ::-1])
    f = find_face(img, mirrored=True)
    assert f is not None and f.view == "frontal"
    masks = region_masks(f, img.shape)
    assert centroid_x(masks["left_cheek"]) < f.landmarks[30, 0] < centroid_x(masks["right_cheek"])
    assert_clean(f, img.shape)
    # without the flag a mirrored photo cannot be told from an un-mirrored one
    g = find_face(img)
    masks = region_masks(g, img.shape)
    assert centroid_x(masks["left_cheek"]) > g.landmarks[30, 0] > centroid_x(masks["right_cheek"])


def test_mirror_permutation_is_an_involution():
    from skinmetrics.face import MIRROR_68

    assert sorted(MIRROR_68) == list(range(68))
    assert (MIRROR_68[MIRROR_68] == np.arange(68)).all()


def test_turned_face_view_and_hidden_cheek(astro_face):
    # shift the nose tip towards the patient's right outline: the left side faces the camera
    p = astro_face.landmarks.copy()
    p[27:36, 0] -= 0.8 * (p[30, 0] - p[0:3, 0].mean())
    from skinmetrics.face import Face, face_asymmetry

    a = face_asymmetry(p)
    f = Face(astro_face.box, p, "left", a, 1.0, "hog")
    assert a > 0.6
    assert "right_cheek" not in region_polygons(f) and "left_cheek" in region_polygons(f)


@pytest.mark.parametrize(
    "img",
    [
        make_phantom((240, 320), 25.0, 60.0, seed=1).image / 255.0,
        np.random.default_rng(0).random((240, 320, 3), dtype=np.float32),
        np.full((50, 60, 3), 0.5, np.float32),
    ],
    ids=["phantom", "noise", "flat"],
)
def test_no_face(img):
    assert find_face(img) is None


@pytest.mark.skipif(not ACNE04.is_dir(), reason="ACNE04 photos not available")
def test_acne04_frontal_photos():
    files = [
        f for f in sorted((ACNE04 / "images").glob("*.jpg")) if f.name.split("_jpg")[0] in FRONTAL
    ]
    assert len(files) == len(FRONTAL)
    found = 0
    for path in files:
        img = read_image(path)
        img = img[0] if isinstance(img, tuple) else img
        f = find_face(img)
        if f is None:
            continue
        found += 1
        assert f.landmarks.shape == (68, 2)
        assert_clean(f, img.shape)
        masks = region_masks(f, img.shape)
        nose_x = f.landmarks[30, 0]
        if masks.get("left_cheek") is not None and masks["left_cheek"].any():
            assert centroid_x(masks["left_cheek"]) > nose_x, path.name
        if masks.get("right_cheek") is not None and masks["right_cheek"].any():
            assert centroid_x(masks["right_cheek"]) < nose_x, path.name
    assert found >= 0.95 * len(files)


def test_the_landmark_model_loads_without_pkg_resources():
    # its import leaves reference cycles holding the caller's frames, the photo among them,
    # until the next garbage collection (and setuptools is dropping it)
    code = ("import sys; from skinmetrics.face import _model; _model('predictor'); "
            "print('pkg_resources' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
