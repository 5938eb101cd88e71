"""Registration of a follow-up photo to the baseline: known warps, failures, real frames, warps.

Follow-ups are made from phantoms by a known similarity (shift up to 3 % of the frame,
rotation up to 3 degrees, scale 0.95-1.05) with an exposure change (0.7-1.4), per-channel
gains (0.9-1.1) and sensor noise; the recovered follow-up -> baseline map is compared with
the truth by the mean displacement of the frame corners.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from skinmetrics.align import align_to_baseline
from skinmetrics.io import read_image
from skinmetrics.register import (
    Registration,
    RegistrationFrame,
    corner_error,
    overlap_mask,
    register,
    registration_quality,
    similarity_params,
    warp_to_baseline,
    warp_to_followup,
)
from skinmetrics.synthetic import make_phantom

PORTRAITS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "same_person_portraits"
SHAPE = (600, 800)


def baseline_to_followup(shape, scale, rot_deg, shift_frac):
    """Similarity about the frame centre: rotation (degrees, OpenCV sense), scale, shift."""
    h, w = shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rot_deg, scale)
    m[:, 2] += (shift_frac[0] * w, shift_frac[1] * h)
    return m


def make_followup(srgb, m_bf, exposure, gains, noise, seed):
    """Warp (baseline -> follow-up map ``m_bf``), then exposure, white balance and noise."""
    h, w = srgb.shape[:2]
    img = cv2.warpAffine(srgb.astype(np.float32), m_bf, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    lin = lin * exposure * np.asarray(gains, np.float32)
    lin = lin + np.random.default_rng(seed).normal(0.0, noise, lin.shape)
    lin = np.clip(lin, 0.0, 1.0)
    out = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def baseline():
    ph = make_phantom(SHAPE, 25.0, 60.0, seed=3)
    return ph.image / np.float32(255.0), ph.masks["roi"]


@pytest.fixture(scope="module")
def other_visit():
    ph = make_phantom(SHAPE, 25.0, 60.0, seed=3, capture_seed=14, erythema=0.7, microcrust=0.3)
    return ph.image / np.float32(255.0), ph.masks["roi"]


# (scale, rotation deg, shift as fraction of the frame, exposure, channel gains)
WARPS = [
    (1.05, 3.0, (0.03, -0.03), 1.4, (1.1, 0.9, 1.0)),
    (0.95, -3.0, (-0.03, 0.03), 0.7, (0.9, 1.1, 1.05)),
    (1.02, 1.3, (0.012, 0.021), 1.0, (1.0, 1.0, 1.0)),
]


def check_recovered(reg: Registration, m_bf, shape, max_err_px):
    truth = cv2.invertAffineTransform(m_bf)  # follow-up -> baseline, as Registration.matrix
    s_true, r_true, _ = similarity_params(truth)
    err = corner_error(reg.matrix, truth, shape)
    assert reg.ok, reg.message
    assert err < max_err_px, f"corner error {err:.2f} px"
    assert abs(reg.scale / s_true - 1) < 0.005
    assert abs(reg.rotation_deg - r_true) < 0.2
    return err


# --- known warps --------------------------------------------------------------------------

@pytest.mark.parametrize("scale, rot, shift, exposure, gains", WARPS)
def test_recovers_known_similarity(baseline, scale, rot, shift, exposure, gains):
    base, _ = baseline
    m_bf = baseline_to_followup(SHAPE, scale, rot, shift)
    follow = make_followup(base, m_bf, exposure, gains, 0.01, seed=1)
    reg = register(base, follow)
    err = check_recovered(reg, m_bf, SHAPE, 2.0)
    assert err < 0.5  # in practice ~0.05 px
    assert reg.n_inliers >= 100 and reg.inlier_ratio > 0.5
    assert reg.quality > 0.8 and reg.ecc is not None
    assert abs(reg.relative_scale - reg.scale) < 1e-12  # same-size photos
    assert reg.overlap > 0.85


@pytest.mark.parametrize("scale, rot, shift, exposure, gains", WARPS)
def test_recovers_transform_between_visits(baseline, other_visit, scale, rot, shift, exposure,
                                           gains):
    """Another capture of the same skin: hair, glare, illumination, erythema and crusts differ."""
    base, _ = baseline
    visit, _ = other_visit
    m_bf = baseline_to_followup(SHAPE, scale, rot, shift)
    follow = make_followup(visit, m_bf, exposure, gains, 0.01, seed=2)
    reg = register(base, follow)
    err = check_recovered(reg, m_bf, SHAPE, 3.0)
    assert err < 1.0  # in practice ~0.1-0.3 px
    assert 0.4 < reg.quality < 0.95


def test_deterministic(baseline, other_visit):
    base, _ = baseline
    visit, _ = other_visit
    follow = make_followup(visit, baseline_to_followup(SHAPE, 1.03, 2.0, (0.02, 0.01)), 1.2,
                           (1, 1, 1), 0.01, seed=7)
    cv2.setRNGSeed(12345)
    first = register(base, follow)
    cv2.randu(np.zeros(100, np.float32), 0, 1)  # move OpenCV's RNG on
    second = register(base, follow)
    assert np.array_equal(first.matrix, second.matrix)
    assert first.n_inliers == second.n_inliers


def test_masks_and_affine_model(baseline, other_visit):
    base, roi_b = baseline
    visit, roi_v = other_visit
    m_bf = baseline_to_followup(SHAPE, 0.97, -2.0, (0.02, 0.01))
    follow = make_followup(visit, m_bf, 1.2, (1.05, 0.95, 1.0), 0.01, seed=3)
    roi_f = cv2.warpAffine(roi_v.astype(np.uint8), m_bf, SHAPE[::-1],
                           flags=cv2.INTER_NEAREST) > 0
    reg = register(base, follow, mask_baseline=roi_b, mask_followup=roi_f)
    check_recovered(reg, m_bf, SHAPE, 2.0)
    aff = register(base, follow, model="affine")
    assert aff.model == "affine"
    check_recovered(aff, m_bf, SHAPE, 2.0)
    plain = register(base, follow, refine=False)
    assert plain.ecc is None
    check_recovered(plain, m_bf, SHAPE, 2.0)


def test_a_baseline_frame_is_made_once_for_all_its_follow_ups(baseline, other_visit):
    """A baseline's side of the registration (working images, keypoints) is made by its
    first follow-up and used again by the next: the same transforms as registering each
    pair from scratch; a smaller follow-up (another working size) adds its own."""
    base, roi_b = baseline
    visit, _ = other_visit
    follow_ups = [make_followup(visit, baseline_to_followup(SHAPE, *warp[:3]), *warp[3:], 0.01,
                                seed=20 + i) for i, warp in enumerate(WARPS[:2])]
    frame = RegistrationFrame(base, roi_b)
    made = []
    for follow in follow_ups:
        kept = register(frame, follow)
        fresh = register(base, follow, mask_baseline=roi_b)
        assert kept.ok and np.array_equal(kept.matrix, fresh.matrix)
        assert (kept.n_inliers, kept.quality) == (fresh.n_inliers, fresh.quality)
        made.append(len(frame._made))
    assert made == [3, 3]  # working image, keypoints, smoothed image: made once
    small = cv2.resize(follow_ups[0], (400, 300), interpolation=cv2.INTER_AREA)
    assert register(frame, small).ok and len(frame._made) == 6
    with pytest.raises(ValueError, match="own mask"):
        register(frame, follow_ups[0], mask_baseline=roi_b)
    copy = pickle.loads(pickle.dumps(frame))  # e.g. sent to another process: made again there
    assert not copy._made and np.array_equal(register(copy, follow_ups[0]).matrix,
                                             register(frame, follow_ups[0]).matrix)


def test_registration_quality_scores_any_transform_as_register_does(baseline, other_visit):
    """The quality of a registration's own transform is the one it reports; a transform
    3 px off scores lower, over the same pixels."""
    base, roi_b = baseline
    visit, roi_v = other_visit
    m_bf = baseline_to_followup(SHAPE, 0.98, 1.5, (0.02, -0.01))
    follow = make_followup(visit, m_bf, 1.1, (1.0, 1.0, 1.0), 0.01, seed=5)
    roi_f = cv2.warpAffine(roi_v.astype(np.uint8), m_bf, SHAPE[::-1],
                           flags=cv2.INTER_NEAREST) > 0
    frame = RegistrationFrame(base, roi_b)
    reg = register(frame, follow, mask_followup=roi_f)
    assert reg.ok
    own = registration_quality(frame, follow, reg.matrix, mask_followup=roi_f)
    assert own == pytest.approx(reg.quality, abs=1e-4)
    off = reg.matrix + np.array([[0, 0, 3.0], [0, 0, 0]])
    assert registration_quality(frame, follow, off, mask_followup=roi_f) < own - 0.05


@pytest.mark.parametrize("features", ["akaze", "orb"])
def test_other_detectors(baseline, features):
    base, _ = baseline
    m_bf = baseline_to_followup(SHAPE, 1.03, 2.0, (-0.02, 0.015))
    follow = make_followup(base, m_bf, 0.8, (1.0, 1.0, 1.0), 0.005, seed=4)
    reg = register(base, follow, features=features)
    assert reg.features == features
    check_recovered(reg, m_bf, SHAPE, 2.0)


def test_different_sizes_and_uint8(baseline):
    """A follow-up at half the resolution (another camera): scale 2, relative scale 1."""
    base, _ = baseline
    small = cv2.resize(base, (400, 300), interpolation=cv2.INTER_AREA)
    reg = register(np.round(base * 255).astype(np.uint8), small)
    assert reg.ok, reg.message
    assert abs(reg.scale - 2.0) < 0.01 and abs(reg.relative_scale - 1.0) < 0.005
    # resize maps x_small = (x + 0.5) / 2 - 0.5, so baseline x = 2 x_small + 0.5
    expected = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]])
    assert corner_error(reg.matrix, expected, small.shape) < 1.0


# --- failures -----------------------------------------------------------------------------

def unrelated_images():
    rng = np.random.default_rng(0)
    other = make_phantom(SHAPE, 25.0, 60.0, seed=4).image / np.float32(255.0)
    return {
        "noise": rng.uniform(0, 1, SHAPE + (3,)).astype(np.float32),
        "flat grey": np.full(SHAPE + (3,), 0.5, np.float32),
        "black": np.zeros(SHAPE + (3,), np.float32),
        "nan": np.full(SHAPE + (3,), np.nan, np.float32),
        "other patient": other,
        "tiny": np.full((8, 8, 3), 0.5, np.float32),
    }


def test_unrelated_images_fail_without_raising(baseline):
    base, _ = baseline
    for name, img in unrelated_images().items():
        for a, b in ((base, img), (img, base)):
            reg = register(a, b)
            assert reg.ok is False, name
            assert reg.message and "\n" not in reg.message, name
            assert reg.matrix.shape == (2, 3) and np.all(np.isfinite(reg.matrix)), name
            json.dumps(reg.as_dict(), allow_nan=False)


def test_low_quality_threshold_fails(baseline):
    base, _ = baseline
    m_bf = baseline_to_followup(SHAPE, 1.0, 1.0, (0.01, 0.0))
    follow = make_followup(base, m_bf, 1.0, (1, 1, 1), 0.01, seed=5)
    reg = register(base, follow, min_quality=1.01)
    assert not reg.ok and reg.message.startswith("quality")


def test_empty_mask_fails_and_bad_arguments_raise(baseline):
    base, _ = baseline
    reg = register(base, base, mask_baseline=np.zeros(SHAPE, bool))
    assert not reg.ok and "mask" in reg.message
    with pytest.raises(ValueError):
        register(base, base, model="projective")
    with pytest.raises(ValueError):
        register(base, base, features="surf")
    with pytest.raises(ValueError):
        register(base, base, mask_followup=np.ones((10, 10), bool))
    with pytest.raises(ValueError):
        register(base[..., 0].ravel(), base)


# --- real photographs: one frame at four resolutions ---------------------------------------

@pytest.fixture(scope="module")
def portrait_dir() -> Path:
    if not PORTRAITS.is_dir():
        pytest.skip("../shared/data/same_person_portraits is not present")
    return PORTRAITS


@pytest.fixture(scope="module")
def portraits(portrait_dir):
    return {r: read_image(portrait_dir / f"obama-{r}p.jpg") for r in (1080, 720, 480, 240)}


@pytest.mark.parametrize("res", [240, 480, 720])
def test_real_frame_at_lower_resolution(portraits, res):
    base, follow = portraits[1080], portraits[res]
    reg = register(base, follow)
    assert reg.ok, reg.message
    assert abs(reg.scale / (1080 / res) - 1) < 0.01
    assert abs(reg.rotation_deg) < 0.1
    # expected map: the frame resized, x_b = sx (x_f + 0.5) - 0.5 per axis
    sx, sy = base.shape[1] / follow.shape[1], base.shape[0] / follow.shape[0]
    expected = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
    assert corner_error(reg.matrix, expected, follow.shape) < 4.0  # 1080p pixels
    assert reg.quality > 0.9
    back = register(follow, base)  # the other way round
    assert back.ok and abs(back.scale * (1080 / res) - 1) < 0.01


@pytest.mark.parametrize(("base", "follow"), [("obama.jpg", "obama1.jpg"),
                                            ("obama3.jpg", "obama2.jpg"),
                                            ("biden.jpg", "biden2.jpg")])
def test_other_sessions_of_a_face_are_not_registered_at_any_working_size(portrait_dir, base,
                                                                         follow):
    """Portraits of one person from separate sessions (other pose, light, framing) show no
    common field: no transform is accepted, at 800 px nor tried again at 1200 and 1600 px
    (:data:`skinmetrics.align.REGISTRATION_SIDES_PX`; of 18 such ordered pairs none
    registered either way, 2026-12-08)."""
    b, f = (read_image(portrait_dir / name, as_codes=True) for name in (base, follow))
    reg = align_to_baseline(b, np.ones(b.shape[:2], bool), f, np.ones(f.shape[:2], bool),
                            normalise_colour=False).registration
    assert not reg.ok, reg.message


# --- warping ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def known(baseline, other_visit):
    base, _ = baseline
    visit, _ = other_visit
    m_bf = baseline_to_followup(SHAPE, 1.04, 2.5, (0.025, -0.02))
    follow = make_followup(visit, m_bf, 1.1, (1.0, 0.95, 1.05), 0.01, seed=6)
    reg = register(base, follow)
    assert reg.ok, reg.message
    return base, follow, m_bf, reg


def test_direction_convention(known):
    base, follow, m_bf, reg = known
    # a baseline point maps to the follow-up by baseline_to_followup, and back by matrix
    p_b = np.array([250.0, 180.0, 1.0])
    p_f = m_bf @ p_b
    assert np.allclose(reg.baseline_to_followup @ p_b, p_f, atol=1.0)
    assert np.allclose(reg.followup_to_baseline @ np.append(p_f, 1.0), p_b[:2], atol=1.0)
    assert reg.followup_to_baseline is reg.matrix
    # the baseline photo warped into the follow-up frame lines up with the follow-up photo
    def grey(im):  # band-passed grey: texture, not shading
        g = im.mean(axis=2)
        return cv2.GaussianBlur(g, (0, 0), 1.5) - cv2.GaussianBlur(g, (0, 0), 8.0)

    warped = warp_to_followup(base, reg, follow.shape)
    assert warped.shape == follow.shape and warped.dtype == np.float32
    inside = overlap_mask(reg, base.shape, follow.shape)
    inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    aligned = np.corrcoef(grey(warped)[inside], grey(follow)[inside])[0, 1]
    unaligned = np.corrcoef(grey(base)[inside], grey(follow)[inside])[0, 1]
    wrong_way = warp_to_baseline(base, reg, follow.shape)  # the inverse map used by mistake
    wrong = np.corrcoef(grey(wrong_way)[inside], grey(follow)[inside])[0, 1]
    assert aligned > 0.45  # another capture: hair, glare and lesions differ (measured 0.55)
    assert unaligned < 0.1 and wrong < 0.1  # measured ~0


def test_overlap_mask(known):
    base, follow, m_bf, reg = known
    got = overlap_mask(reg, base.shape, follow.shape)
    ones = np.ones(SHAPE, np.uint8)
    want = cv2.warpAffine(ones, m_bf, SHAPE[::-1], flags=cv2.INTER_NEAREST) > 0
    assert got.dtype == bool and got.shape == SHAPE
    assert (got ^ want).mean() < 0.005
    assert 0.8 < got.mean() < 1.0


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_mask_round_trip(known, baseline):
    base, follow, _, reg = known
    _, roi = baseline
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w]
    disk = (yy - 300) ** 2 + (xx - 380) ** 2 < 150**2
    for mask in (disk, roi):
        there = warp_to_followup(mask, reg, follow.shape)
        assert there.dtype == bool and there.shape == SHAPE
        back = warp_to_baseline(there, reg, base.shape)
        away = np.zeros(SHAPE, bool)
        away[40:-40, 40:-40] = True  # away from the borders
        assert iou(back & away, mask & away) > 0.97
    # the disk lands where the true map puts it
    centre_f = reg.baseline_to_followup @ np.array([380.0, 300.0, 1.0])
    ys, xs = np.nonzero(warp_to_followup(disk, reg, follow.shape))
    assert np.hypot(xs.mean() - centre_f[0], ys.mean() - centre_f[1]) < 1.0


def test_warp_dtypes_and_border(known):
    base, follow, _, reg = known
    labels = np.zeros(SHAPE, np.int32)
    labels[100:200, 100:300] = 7
    labels[300:400, 400:600] = 70000  # beyond uint16
    out = warp_to_followup(labels, reg, follow.shape)
    assert out.dtype == np.int32 and set(np.unique(out)) <= {0, 7, 70000}
    lab64 = warp_to_followup(labels.astype(np.int64) * 2**33, reg, follow.shape, border=-1)
    assert lab64.dtype == np.int64 and np.array_equal(lab64 == 7 * 2**33, out == 7)
    assert np.array_equal(lab64 == -1, ~overlap_mask(reg, base.shape, follow.shape))
    lab8 = warp_to_followup(labels.clip(0, 9).astype(np.uint8), reg, follow.shape)
    assert lab8.dtype == np.uint8 and set(np.unique(lab8)) <= {0, 7, 9}
    assert np.array_equal(lab8 == 7, out == 7)
    # float image with NaN outside the frame; >4 channels; single-channel 3-D
    f = warp_to_followup(base[..., 1], reg, follow.shape, border=np.nan)
    inside = overlap_mask(reg, base.shape, follow.shape)
    assert (~inside).any() and np.isnan(f[~inside]).all()
    well_inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8),
                            borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    assert not np.isnan(f[well_inside]).any()  # NaN reaches at most 1 px in (bilinear)
    stack = np.dstack([base, base])
    out6 = warp_to_followup(stack, reg, follow.shape)
    assert out6.shape == SHAPE + (6,)
    assert np.allclose(out6[..., 3:], warp_to_followup(base, reg, follow.shape))
    assert warp_to_baseline(follow[..., :1], reg, base.shape).shape == SHAPE + (1,)
    f16 = warp_to_followup(base.astype(np.float16), reg, follow.shape)
    assert f16.dtype == np.float16


def test_as_dict_is_json(known):
    *_, reg = known
    d = json.loads(json.dumps(reg.as_dict(), allow_nan=False))
    assert d["ok"] is True and d["direction"] == "followup_to_baseline"
    assert np.allclose(d["matrix"], reg.matrix, atol=1e-6)
    assert set(d) >= {"scale", "rotation_deg", "shift_px", "n_inliers", "inlier_ratio", "ecc",
                      "quality", "message", "relative_scale", "overlap"}


def test_similarity_params_convention():
    t = np.radians(10.0)
    m = np.array([[2 * np.cos(t), -2 * np.sin(t), 5.0], [2 * np.sin(t), 2 * np.cos(t), -3.0]])
    scale, rot, shift = similarity_params(m)
    assert scale == pytest.approx(2.0) and rot == pytest.approx(10.0)
    assert shift == (5.0, -3.0)
    # positive angle turns the x axis towards +y (down the image): clockwise on screen
    assert (m[:, :2] @ [1.0, 0.0])[1] > 0


@pytest.mark.parametrize("shape", [(300, 400), (252, 336), (301, 400)])
def test_a_photo_as_codes_gives_the_float_photos_working_image(shape):
    """Codes averaged as codes and then looked up: within half a code of the float photo's
    working image (the luma of the values averaged) for a photo as decoded; the same at full
    size."""
    from skinmetrics.colour import SRGBCodes
    from skinmetrics.register import _work_image

    codes = np.random.default_rng(5).integers(0, 256, (*shape, 3)).astype(np.uint8)
    photo = SRGBCodes(codes)
    for f in (80 / 400, 80 / 336):
        from_codes, from_floats = _work_image(photo, f), _work_image(np.asarray(photo), f)
        assert from_codes.shape == from_floats.shape
        assert np.abs(from_codes - from_floats).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(_work_image(photo, 1.0), _work_image(np.asarray(photo), 1.0))
