"""The shared image filters on synthetic arrays with known answers."""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import measure, morphology
from skimage.segmentation import relabel_sequential, watershed

from skinmetrics.filters import (
    LocalReference,
    NoiseLevel,
    black_tophat_od,
    blob_objects,
    blob_responses,
    bridge_gaps,
    clean_mask,
    compact_labels,
    connected_parts,
    contrast_to_reference,
    dark_objects,
    disk,
    distance_to_background,
    edge_step,
    flood_from_markers,
    from_cells,
    gaussian_laplace,
    h_maxima,
    hysteresis,
    iter_blob_responses,
    label_peaks,
    levels_above,
    line_opening,
    local_half_maximum,
    local_median,
    local_reference,
    median,
    noise_level,
    object_table,
    reconstruct_by_dilation,
    renumbered,
    small_dots,
    split_touching,
    thin_parts,
)
from skinmetrics.filters.morphology import _line_kernel
from skinmetrics.filters.reference import _every_nth

from .conftest import soft_disc

PPM = 25.0  # px per mm of the drawn objects


@pytest.mark.parametrize("fraction, spot_is_dot", [(0.8, False), (0.0, True)])
def test_small_dots_keeps_a_spot_a_little_wider_than_a_dot(fraction, spot_is_dot):
    """A 0.4 mm crust is a dot; a soft 0.6 mm pigmented spot is not, though the top-hat of
    a 0.25 mm disk keeps its cap (the old rule, fraction 0, took its core for a dot)."""
    shape = (80, 160)
    density = (0.5 + soft_disc(shape, (40, 40), 0.2 * PPM, 0.06 * PPM, 0.4)
               + soft_disc(shape, (40, 120), 0.3 * PPM, 0.15 * PPM, 0.3))
    density = cv2.GaussianBlur(density, (0, 0), 0.6)
    dots = small_dots(density, 0.25 * PPM, 0.1, fraction)
    assert dots[40, 40] and dots[40, 45]
    assert dots[40, 120] == spot_is_dot
    assert not dots[5, 80]  # plain skin


def test_noise_level_follows_the_brightness():
    """Gaussian noise whose SD grows linearly with a level, plus 2 % outliers (lesion pixels):
    the typical value and the noise SD are recovered per level within 6 %."""
    rng = np.random.default_rng(1)
    level = np.tile(np.linspace(0.2, 1.2, 400, dtype=np.float32), (400, 1))
    sd = 0.01 + 0.03 * level
    values = 0.05 + sd * rng.standard_normal(level.shape).astype(np.float32)
    outliers = rng.uniform(size=level.shape) < 0.02
    values[outliers] += 0.5
    typical, noise = noise_level(values, level, np.ones(level.shape, bool), level)
    inner = slice(40, 360)  # away from the first and last bin's centres
    assert np.allclose(typical[:, inner], 0.05, atol=0.004)
    assert np.allclose(noise[:, inner], sd[:, inner], rtol=0.06)


def test_noise_level_bins_made_once_give_the_same_values():
    """NoiseLevel over one level and weights gives each of several images what noise_level
    gives it."""
    rng = np.random.default_rng(2)
    level = rng.uniform(0.2, 1.2, (300, 300)).astype(np.float32)
    weights = rng.uniform(size=level.shape) < 0.7
    at = np.linspace(0.1, 1.3, 50, dtype=np.float32)
    of_level = NoiseLevel(level, weights)
    for k in range(3):
        values = (0.02 * (k + 1) * level * rng.standard_normal(level.shape)).astype(np.float32)
        for once, each in zip(of_level(values, at), noise_level(values, level, weights, at),
                              strict=True):
            assert np.array_equal(once, each) and once.any()


def test_noise_level_with_too_few_pixels_is_zero():
    values = np.ones((10, 10), np.float32)
    typical, noise = noise_level(values, values, np.zeros((10, 10), bool), values[:2])
    assert typical.shape == (2, 10) and not typical.any() and not noise.any()


@pytest.mark.parametrize("min_snr", [6.0, 0.0])
def test_dark_objects_noise_test(min_snr):
    """Ten 0.3 mm dots of contrast 0.25 OD in camera-like noise (blurred, SD 0.018 OD) whose
    top-hat alone reaches the seed threshold: with the noise test the ten dots are found and
    at most one more object; without it dozens of noise peaks are objects too."""
    rng = np.random.default_rng(3)
    shape = (200, 300)
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 0.6)
    density = 0.6 + 0.018 * noise / noise.std()
    centres = [(40 + 60 * (i // 5), 30 + 60 * (i % 5)) for i in range(10)]
    for c in centres:
        density += soft_disc(shape, c, 0.15 * PPM, 0.05 * PPM, 0.25)
    labels = dark_objects(density, np.ones(shape, bool), 0.4 * PPM, 0.06, 0.1, 0.5, 0.03,
                          min_snr)
    found = {int(labels[c]) for c in centres}
    assert 0 not in found and len(found) == 10
    n_objects = len(np.unique(labels)) - 1
    assert n_objects <= 11 if min_snr else n_objects >= 30


def test_h_maxima_joins_bumps_of_a_flat_ridge():
    """A ridge 9 high with dips to 8 is one maximum for h = 3; two domes 9 high joined by a
    saddle at 4 are two."""
    ridge = np.zeros((20, 60), np.float32)
    ridge[8:12, 5:55] = 9.0
    ridge[8:12, 20] = ridge[8:12, 35] = 8.0
    assert ndi.label(h_maxima(ridge, 3.0), structure=np.ones((3, 3)))[1] == 1
    domes = ridge.copy()
    domes[8:12, 28:30] = 4.0
    assert ndi.label(h_maxima(domes, 3.0), structure=np.ones((3, 3)))[1] == 2


def test_split_touching_splits_discs_not_a_band():
    yy, xx = np.mgrid[0:60, 0:120]
    discs = (np.hypot(yy - 30, xx - 40) < 15) | (np.hypot(yy - 30, xx - 67) < 15)
    assert split_touching(discs, 4.0).max() == 2
    band = (abs(yy - 30) < 7) & (xx > 10) & (xx < 110)
    assert split_touching(band, 4.0).max() == 1


def test_label_peaks_matches_scipy():
    rng = np.random.default_rng(5)
    values = rng.standard_normal((50, 60)).astype(np.float32)
    labels = ndi.label(rng.uniform(size=(50, 60)) < 0.3)[0]
    labels[labels == 3] = 0  # a label without pixels
    n = int(labels.max())
    peak, where = label_peaks(values, labels, n)
    index = np.arange(1, n + 1)
    present = np.isin(index, labels)
    expected = np.asarray(ndi.maximum(values, labels, index))
    np.testing.assert_array_equal(peak[1:][present], expected[present].astype(np.float32))
    assert peak[3] == 0 and where[3] == -1 and where[0] == -1
    np.testing.assert_array_equal(values.ravel()[where[1:][present]], peak[1:][present])


@pytest.mark.parametrize("margin_mm", [0.0, 0.5])
def test_reference_leaves_out_a_lesions_skirt(margin_mm):
    """A patch (radius 2 mm, soft 0.5 mm edge as erythema) with little skin around it (a
    3.5 mm disc): the skirt below the exclusion level is a large part of that skin and
    lowers the patch's contrast, unless the margin leaves it out of the reference."""
    shape = (200, 300)
    inside = soft_disc(shape, (100, 150), 2.0 * PPM, 0.5 * PPM, 0.2)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    roi = np.hypot(yy - 100, xx - 150) < 3.5 * PPM
    contrast = contrast_to_reference(1.0 + inside, roi, 0.0, 4.0 * PPM, 0.05,
                                     margin_px=margin_mm * PPM)
    error = np.abs(contrast - inside)[100, 100:200].max()  # across the patch and its edge
    if margin_mm:
        assert error < 0.0005
    else:
        assert error > 0.004


@pytest.mark.parametrize("exclude_below", [None, 0.15])
def test_reference_leaves_out_skin_lightened_beside_it(exclude_below):
    """Skin lightened by a highlight's skirt (a 1.5 mm disc, 0.3 OD less dense) pulls the
    3 mm reference down beside it, so the even skin there reads 0.03 OD in excess (with
    the skin's own texture on top, a false spot); left out of the reference, it reads none."""
    shape = (200, 300)
    lighter = soft_disc(shape, (100, 150), 1.5 * PPM, 0.15 * PPM, 0.3)
    roi = np.ones(shape, bool)
    contrast = contrast_to_reference(1.0 - lighter, roi, 0.0, 3.0 * PPM, 0.08,
                                     exclude_below=exclude_below)
    beside = contrast[100, 150 + round(1.8 * PPM):150 + round(3 * PPM)]
    if exclude_below is None:
        assert beside.max() > 0.025
    else:
        assert np.abs(beside).max() < 0.005


@pytest.mark.parametrize("factor", [1, 3, 4, 7])
def test_from_cells_is_bilinear_between_the_cells_centres(factor):
    """Back on the pixels from cells of a whole number of pixels (the last rows and
    columns, fewer than a cell, in none), a linear ramp is itself between the outer
    cells' centres and the nearest cell's value beyond them."""
    cols = 70 // factor
    centres = (np.arange(cols) + 0.5) * factor - 0.5
    back = from_cells(np.tile(centres.astype(np.float32), (53 // factor, 1)), (53, 70),
                      factor)
    ramp = np.tile(np.arange(70, dtype=np.float32), (53, 1))
    inner = np.s_[:, math.ceil(centres[0]):math.floor(centres[-1]) + 1]
    assert np.allclose(back[inner], ramp[inner], atol=1e-4)
    assert np.allclose(back[:, cols * factor:], centres[-1], atol=1e-4)
    assert np.allclose(back[:, :math.ceil(centres[0])], centres[0], atol=1e-4)


def test_local_median_keeps_the_skin_level_beside_a_wide_lesion():
    """A plateau 0.08 above the skin over 45 % of a square: the local mean within reach
    rises by a third of it, the local median by less than a sixth (0.009 on 2026-12-08),
    and a coarse reference whose first pass leaves out the wide parts standing above the
    median measures the plateau whole (0.074), where one without reads 0.017 in it."""
    side = 400
    plateau = soft_disc((side, side), (200, 200), 151, 10, 0.08)
    noise = 0.005 * np.random.default_rng(1).standard_normal((side, side))
    values = (1.0 + plateau + noise).astype(np.float32)
    skin = np.ones(values.shape, bool)
    outside = plateau < 0.001
    mean = local_reference(values, skin, 250.0)
    assert np.median(mean[outside]) - 1.0 > 0.025
    assert abs(np.median(local_median(values, skin, 250.0)[outside]) - 1.0) < 0.012
    inside = plateau > 0.079
    for wide_px, least, most in ((250.0, 0.07, 0.09), (0.0, 0.0, 0.03)):
        contrast = contrast_to_reference(values, skin, 0.0, 50.0, 0.05, coarse_sigma_px=250.0,
                                         wide_px=wide_px)
        assert least < np.median(contrast[inside]) < most


def test_local_half_maximum_ceiling_keeps_a_faint_overlapping_patch():
    """A faint patch (0.12) overlapping a strong one (0.3): within the window of the strong
    one's peak the faint part is below half of 0.3; a ceiling of 0.1 keeps it."""
    contrast = np.zeros((60, 120), np.float32)
    contrast[10:50, 10:110] = 0.12
    contrast[10:50, 10:50] = 0.3
    mask = contrast > 0
    faint_near = np.s_[10:50, 50:60]
    assert not local_half_maximum(contrast, mask, 15, 0.45)[faint_near].any()
    kept = local_half_maximum(contrast, mask, 15, 0.45, ceiling=0.1)
    np.testing.assert_array_equal(kept, mask)


def test_local_half_maximum_of_a_noisy_spot_is_not_drawn_tighter():
    """A soft 2 mm spot (excess 0.2) under correlated noise (SD 0.03): the largest value
    within the window rises with the noise, so the half-maximum outline tightens (about
    -5 % of the area over 16 noise draws); a peak taken on the contrast smoothed by
    0.1 mm brings the mean within 2 % of the noiseless outline."""
    clean = soft_disc((120, 120), (60, 60), 1.0 * PPM, 0.3 * PPM, 0.2)
    sigma = 0.1 * PPM

    def area(contrast, peak_sigma_px):
        mask = local_half_maximum(contrast, contrast > 0.02, 0.5 * PPM, 0.45,
                                  peak_sigma_px=peak_sigma_px)
        labels, _ = ndi.label(mask)
        return np.count_nonzero(labels == labels[60, 60])

    errors = {0.0: [], sigma: []}
    for seed in range(16):
        noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 1, clean.shape)
                                 .astype(np.float32), (0, 0), sigma)
        noisy = clean + noise * (0.03 / noise.std())
        for s in errors:
            errors[s].append(area(noisy, s) / area(clean, s) - 1)
    assert np.mean(errors[0.0]) < -0.035
    assert abs(np.mean(errors[sigma])) < 0.02


def test_clean_mask_bridge_keeps_pieces_of_a_lesion_cut_by_hair():
    """A 20x30 px region cut in two by a 2 px line (hair): each piece (~280 px) is under the
    size limit (400) alone, the bridged region is not."""
    mask = np.zeros((50, 50), bool)
    mask[10:30, 10:40] = True
    mask[:, 24:26] = False
    assert not clean_mask(mask, min_area_px=400).any()
    np.testing.assert_array_equal(clean_mask(mask, min_area_px=400, bridge_px=2), mask)
    lone = mask.copy()
    lone[40:45, 40:45] = True  # a speck 15 px away is not bridged
    assert not clean_mask(lone, min_area_px=400, bridge_px=2)[40:45, 40:45].any()


def test_thin_parts_and_bridge_through_them():
    """What is left out of the skin: a 2 px strand is a thin part, an 8 px block is not; a
    region cut by the strand is closed through it, and not through the block, which a
    closing alone would also close."""
    excluded = np.zeros((40, 80), bool)
    excluded[:, 20:22] = True  # hair
    excluded[:, 50:58] = True  # background
    thin = thin_parts(excluded, 3)
    np.testing.assert_array_equal(thin, excluded & (np.arange(80) < 30))
    lesion = np.zeros_like(excluded)
    lesion[10:30, 12:30] = True
    lesion[10:30, 44:66] = True
    lesion &= ~excluded
    joined = bridge_gaps(lesion, 5, through=thin)
    np.testing.assert_array_equal(joined[10:30, 20:22], True)
    assert not joined[:, 50:58].any()
    assert bridge_gaps(lesion, 5)[10:30, 50:58].all()


def test_tophat_gives_skin_between_highlights_no_dark_contrast():
    """Skin at 0.5 OD in a 4 px gap between two highlights at 0.1 OD (outside the skin
    region: glare, or a channel clipped here and there) and a dark dot 0.2 OD above the
    skin beside them: no disk of the opening fits in the gap, so without the skin region
    the gap looks as dark as a pore."""
    yy, xx = np.mgrid[:80, :80]
    density = np.full((80, 80), 0.5, np.float32)
    glare = (np.hypot(yy - 40, xx - 24) < 12) | (np.hypot(yy - 40, xx - 52) < 12)
    density[glare] = 0.1
    dot = np.hypot(yy - 20, xx - 38) < 2.5
    density[dot] = 0.7
    skin = ~glare
    gap = skin & (np.abs(xx - 38) <= 2) & (np.abs(yy - 40) <= 3)
    assert gap.sum() >= 20
    plain = black_tophat_od(density, 6.0)
    assert plain[gap].max() > 0.35
    th = black_tophat_od(density, 6.0, skin)
    assert th[gap].max() < 0.02
    assert th[dot].max() == pytest.approx(0.2, abs=0.02)  # the dot keeps its own contrast


@pytest.mark.parametrize("sigma", [0.8, 1.77, 3.54])
def test_gaussian_laplace_equals_scipy(sigma):
    """OpenCV's separable filter with scipy's kernels: the same Laplacian of Gaussian."""
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.random((61, 83)).astype(np.float32), (0, 0), 1.5)
    expected = ndi.gaussian_laplace(image, sigma, mode="mirror")
    got = gaussian_laplace(image, sigma)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())


def _blobs(seed: int, shape: tuple[int, int] = (70, 90)) -> np.ndarray:
    """A smooth random field: bumps, ridges and saddles of many heights."""
    noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.5) * 10


@pytest.mark.parametrize("seed", [0, 1])
def test_hysteresis_equals_skimage_reconstruction(seed):
    """The pixels above ``low`` connected to one above ``high``: scikit-image's
    reconstruction by dilation (8-connectivity) of the high seeds under the low mask."""
    score = _blobs(seed)
    low, high = 0.3, 1.2
    expected = morphology.reconstruction((score > high).astype(np.uint8),
                                         (score > low).astype(np.uint8),
                                         footprint=np.ones((3, 3))) > 0
    got = hysteresis(score, low, high)
    assert 0 < got.sum() < (score > low).sum()  # some low regions hold no seed
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_h_maxima_caps_hold_skimage_h_maxima(seed):
    """Every h-maximum of scikit-image (8-connectivity) lies in one of the caps, and every
    cap holds at least one: the same maxima, each returned with the part of it above its
    saddle."""
    image = _blobs(seed)
    caps = ndi.label(h_maxima(image, 0.5), structure=np.ones((3, 3)))[0]
    tops = morphology.h_maxima(image, 0.5, footprint=np.ones((3, 3))) > 0
    assert caps.max() >= 3
    assert caps[tops].min() > 0
    np.testing.assert_array_equal(np.unique(caps[tops]), np.arange(1, caps.max() + 1))


@pytest.mark.parametrize("sparse", [False, True])
def test_reconstruct_by_dilation_equals_whole_image_dilations(sparse):
    """Tile by tile, with ridges longer than a tile, the reconstruction is bit for bit that
    of 3x3 geodesic dilations of the whole image repeated until nothing changes (and that
    of scikit-image)."""
    rng = np.random.default_rng(4)
    image = cv2.GaussianBlur(rng.random((600, 700)).astype(np.float32), (0, 0), 6)
    image[300, 20:680] += 0.5  # a ridge across three tiles
    if sparse:
        image[image < np.quantile(image, 0.8)] = image.min()
    marker = np.maximum(image - np.float32(0.05), image.min())
    expected = marker
    while True:
        before = expected
        expected = np.minimum(cv2.dilate(expected, np.ones((3, 3), np.uint8)), image)
        if np.array_equal(expected, before):
            break
    got = reconstruct_by_dilation(marker, image, image > image.min())
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, morphology.reconstruction(marker, image,
                                                              footprint=np.ones((3, 3))),
                               atol=1e-6)


def test_object_table_equals_skimage_regionprops():
    """Area and inertia-ellipse axes of every object: scikit-image's regionprops_table."""
    labels = measure.label(_blobs(2) > 0.8, connectivity=2)
    expected = measure.regionprops_table(
        labels, properties=("area", "axis_major_length", "axis_minor_length"))
    got = object_table(labels)
    assert len(got["area_px"]) >= 5
    np.testing.assert_array_equal(got["area_px"], expected["area"])
    np.testing.assert_allclose(got["major_px"], expected["axis_major_length"], rtol=1e-9)
    np.testing.assert_allclose(got["minor_px"], expected["axis_minor_length"], rtol=1e-9,
                               atol=1e-9)


def _hairy_image(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Noise with a few bright lines of random direction (a hair top-hat's kind of image)."""
    rng = np.random.default_rng(seed)
    image = (0.05 * rng.random(shape)).astype(np.float32)
    for _ in range(6):
        (x0, x1), (y0, y1) = rng.integers(0, shape[1], 2), rng.integers(0, shape[0], 2)
        cv2.line(image, (int(x0), int(y0)), (int(x1), int(y1)), float(rng.uniform(0.05, 0.6)),
                 thickness=int(rng.integers(1, 3)))
    return cv2.GaussianBlur(image, (0, 0), 0.7)


@pytest.mark.parametrize("seed", [0, 1])
def test_levels_above_keep_both_thresholds_and_commute_with_the_opening(seed):
    """A level is above 0 (above k) exactly where the value is above low (above high), also
    at and next to them; the levels rise with the value, so the opening of the levels is the
    levels of the float opening; each level's value is within half a level's ratio of the
    values it holds."""
    low, high = 0.03, 0.05
    image = _hairy_image((90, 120), seed)
    at = np.float32([low, high])
    image.flat[:6] = np.concatenate([at, np.nextafter(at, np.float32(0)),
                                     np.nextafter(at, np.float32(1))])
    levels, values, k = levels_above(image, low, high)
    assert levels.dtype == np.uint8 and levels.max() >= 250
    np.testing.assert_array_equal(levels > 0, image > low)
    np.testing.assert_array_equal(levels > k, image > high)
    by_value = levels.ravel()[np.argsort(image, axis=None, kind="stable")]
    assert (np.diff(by_value.astype(int)) >= 0).all()
    above = image > low
    level_ratio = math.log(high / low) / k
    assert np.abs(np.log(values[levels[above]] / image[above])).max() <= level_ratio / 2 + 1e-5
    assert level_ratio < math.log(image.max() / low) / 255 * (k + 1) / k  # all levels used
    expected = np.max([cv2.morphologyEx(image, cv2.MORPH_OPEN, _line_kernel(15.0, angle))
                       for angle in np.linspace(0, np.pi, 24, endpoint=False)], axis=0)
    inside = expected <= image.max()  # (see the next test)
    assert (expected[inside] > high).sum() > 100  # the lines are there
    # the levels of the float opening, by the same map (the same maximum)
    expected_levels = levels_above(np.stack([image, np.where(inside, expected, 0)]), low,
                                   high)[0][1]
    got = line_opening(levels, 15.0, n_angles=24)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[inside], expected_levels[inside])


def test_levels_above_of_an_image_below_high_or_not_finite():
    """Nothing above high (skin with no hair): every value at or below level k; NaN is at
    level 0 (not hair), an infinite value at the top, the finite values set the levels."""
    for image in (np.float32([[0.01, 0.04, 0.05]]), np.full((3, 3), 0.01, np.float32)):
        levels, _, k = levels_above(image, 0.03, 0.05)
        assert k < 255 and (levels <= k).all()
        np.testing.assert_array_equal(levels > 0, image > 0.03)
    levels, values, k = levels_above(np.float32([[np.nan, np.inf, 0.04, 0.06]]), 0.03, 0.05)
    assert levels.tolist() == [[0, 255, levels[0, 2], levels[0, 3]]]
    assert 0 < levels[0, 2] <= k < levels[0, 3] < 255
    assert values[levels[0, 3]] == pytest.approx(0.06, rel=0.01)
    image = np.float32([[0.01, 0.05, 0.2]])  # high at low: above both at level 1 and up
    levels, _, k = levels_above(image, 0.05, 0.05)
    assert k == 0
    np.testing.assert_array_equal(levels > 0, image > 0.05)


@pytest.mark.parametrize("seed", [0, 1])
def test_line_opening_equals_the_float_openings(seed):
    """The openings on 16-bit levels are OpenCV's float openings by the same segments (to
    the 16-bit step); a bool image gives the thresholded opening exactly."""
    image = _hairy_image((90, 120), seed)
    expected = np.max([cv2.morphologyEx(image, cv2.MORPH_OPEN, _line_kernel(15.0, angle))
                       for angle in np.linspace(0, np.pi, 24, endpoint=False)], axis=0)
    # a segment drawn off its kernel's centre (60 degrees) leaves two corner pixels without
    # one inside the frame: OpenCV's float opening gives them its largest float there, the
    # 16-bit one its largest level (the image's maximum); both are above any skin's value
    inside = expected <= image.max()
    assert (~inside).sum() <= 2
    got = line_opening(image, 15.0, n_angles=24)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[inside], expected[inside],
                               atol=(image.max() - image.min()) / 65535)
    assert (got[~inside] == image.max()).all()
    assert (expected > 0.1).sum() > 100  # the lines are there
    binary = line_opening(image > 0.1, 15.0, n_angles=24)
    assert binary.dtype == bool
    np.testing.assert_array_equal(binary, expected > 0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_small_dots_on_16_bit_levels_equal_the_float_ones(seed):
    """The small dots found on 16-bit levels are those of OpenCV's float top-hats by the
    same disks but where a pixel's top-hat lies within a step (1/65 535 of the image's
    range) of a threshold."""
    image = _hairy_image((90, 120), seed)
    step = (image.max() - image.min()) / 65535
    tophat = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, disk(3.0))
    wide = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, disk(6.0))
    core = (tophat > 0.05) & (tophat >= 0.8 * wide)
    expected = cv2.dilate(core.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    got = small_dots(image, 3.0, 0.05, 0.8)
    tied = (np.abs(tophat - 0.05) <= 2 * step) | (np.abs(tophat - 0.8 * wide) <= 2 * step)
    near_tie = cv2.dilate(tied.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert expected.sum() > 50
    np.testing.assert_array_equal(got[~near_tie], expected[~near_tie])


def test_distance_to_background_equals_scipy():
    """OpenCV's exact transform, squared, rounded and rooted: scipy's values exactly."""
    rng = np.random.default_rng(5)
    mask = np.zeros((150, 200), np.uint8)
    for _ in range(60):
        cv2.circle(mask, (int(rng.integers(200)), int(rng.integers(150))),
                   int(rng.integers(1, 25)), 1, -1)
    mask = mask.astype(bool)
    np.testing.assert_array_equal(distance_to_background(mask),
                                  ndi.distance_transform_edt(mask))


def test_renumbered_equals_relabel_sequential():
    """The kept objects numbered 1..N by a look-up table: skimage's relabelling."""
    rng = np.random.default_rng(7)
    labels = ndi.label(rng.random((120, 160)) > 0.8)[0]
    keep = rng.random(labels.max() + 1) > 0.4
    keep[0] = False
    expected = relabel_sequential(np.where(keep[labels], labels, 0))[0]
    got = renumbered(labels, keep)
    assert got.dtype == np.int32 and got.max() == keep.sum() > 10
    np.testing.assert_array_equal(got, expected)


def test_blob_objects_level_spread_keeps_noise_out():
    """25 Gaussian dark blobs (0.02 OD, SD 2.5 px) in normal noise (0.01 OD per pixel,
    blurred 0.7 px), 400 x 400 px: with the level at least one robust SD of each scale's
    response over the image, all 25 are found and 69 noise blobs stand out as well; with
    the local mean absolute response alone (0.8 SD on noise), 308 (measured 2026-12-05)."""
    rng = np.random.default_rng(0)
    density = cv2.GaussianBlur(rng.standard_normal((400, 400)).astype(np.float32), (0, 0),
                               0.7) * 0.01
    yy, xx = np.mgrid[0:400, 0:400]
    centres = np.array([(40 + 80 * i, 40 + 80 * j) for i in range(5) for j in range(5)])
    for cy, cx in centres:
        density += 0.02 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 2.5**2))
    roi, sigmas = np.ones(density.shape, bool), [1.77, 2.5, 3.54]
    labels = blob_objects(blob_responses(density, roi, sigmas), roi, sigmas, 75.0, 3.25,
                          level_spread=1.0)
    found = np.array(ndi.center_of_mass(labels > 0, labels, range(1, labels.max() + 1)))
    dist = np.hypot(*(found[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    assert np.all(dist.min(axis=0) <= 2)  # every blob found
    assert np.count_nonzero(dist.min(axis=1) > 2) <= 100


@pytest.mark.parametrize("shape", [(7, 5), (61, 83)])
def test_square_dilation_is_scipys_maximum_filter(shape):
    """blob_objects takes its peaks' neighbourhood maximum by OpenCV's dilation: the same as
    scipy's maximum_filter (mirrored border), frame included."""
    ratio = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(cv2.dilate(ratio, np.ones((9, 9), np.uint8)),
                                  ndi.maximum_filter(ratio, 9))


@pytest.mark.parametrize("connectivity", [8, 4])
def test_connected_parts_are_scipys(connectivity):
    """OpenCV's labelling groups the pixels as scipy's does (4-connected: same numbers too)."""
    mask = cv2.GaussianBlur(np.random.default_rng(6).random((120, 160)), (0, 0), 1.5) > 0.5
    structure = np.ones((3, 3)) if connectivity == 8 else None
    expected, n_expected = ndi.label(mask, structure=structure)
    got, n = connected_parts(mask, connectivity)
    assert got.dtype == np.int32 and n == n_expected > 20
    np.testing.assert_array_equal(got > 0, mask)
    pairs = np.unique(np.stack([got[mask], expected[mask]]), axis=1)
    assert pairs.shape[1] == n  # one scipy part for each OpenCV part, and the reverse
    if connectivity == 4:
        np.testing.assert_array_equal(got, expected)


def test_blob_responses_one_at_a_time_are_those_made_at_once():
    density = np.random.default_rng(7).random((60, 80)).astype(np.float32)
    roi = np.zeros((60, 80), bool)
    roi[5:55, 10:70] = True
    sigmas = [1.0, 1.4, 2.0]
    at_once = blob_responses(density, roi, sigmas)
    one_by_one = list(iter_blob_responses(density, roi, sigmas))
    assert len(one_by_one) == 3
    for a, b in zip(at_once, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(4))
def test_flood_from_markers_is_the_watershed(seed):
    """Parts of the mask with one marker, none or several (continuous values: no ties)."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.random((90, 120)).astype(np.float32), (0, 0), 2.0)
    mask = image > np.quantile(image, 0.45)
    mask[40:43, :] = False  # parts cut in two
    mask[:, 60] = False
    mask[:14, :14] = False
    mask[:6, :6] = mask[6:12, 6:12] = True  # two squares joined at a corner only,
    image[:6, :6] = 2.0  # a marker in one: the watershed does not reach the other
    peaks = (image == ndi.maximum_filter(image, 7)) & mask
    markers = ndi.label(peaks, structure=np.ones((3, 3)))[0]
    markers[rng.random(markers.shape) < 0.3] = 0  # some parts left without a marker
    expected = watershed(-image, markers, mask=mask)
    got = flood_from_markers(-image, markers, mask)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    assert got[2, 2] > 0 and got[8, 8] == 0
    parts = ndi.label(mask)[0]
    counts = [len(np.unique(markers[(parts == k) & (markers > 0)]))
              for k in range(1, parts.max() + 1)]
    assert {0, 1} <= set(counts) and max(counts) >= 2  # every kind of part was there


@pytest.mark.parametrize(("top", "kind"), [(0, np.uint8), (255, np.uint8),
                                           (256, np.uint16), (65535, np.uint16),
                                           (65536, np.int32)])
def test_compact_labels_keep_the_labels_in_the_smallest_type(top, kind):
    labels = np.zeros((4, 5), np.int32)
    labels[1, 2] = top
    labels[3, 4] = min(top, 7)
    got = compact_labels(labels)
    assert got.dtype == kind
    np.testing.assert_array_equal(got, labels)
    mask = labels > 0
    assert compact_labels(mask) is mask


def test_edge_step_of_a_step_and_of_a_ramp():
    """A disc 0.2 above flat ground steps by 0.2 at its outline; a region of a ramp rising
    0.01 a pixel (cut where the ramp passes a level) by the ramp over one band: 0.01 x
    (mean distance inside + mean distance outside) = 0.01 x 4 px for a 4 px band."""
    yy, xx = np.mgrid[0:100, 0:200].astype(np.float32)
    disc = np.hypot(yy - 50, xx - 50) < 20
    ramp = 0.01 * (xx - 100)
    values = np.where(xx < 100, 0.2 * disc, ramp).astype(np.float32)
    labels = (disc.astype(np.int32) + 2 * (ramp > 0.5)).astype(np.int32)
    step = edge_step(labels, values, np.ones(values.shape, bool), 4.0)
    assert step[0] == pytest.approx(0.2, abs=1e-6)
    assert step[1] == pytest.approx(0.04, abs=0.005)


@pytest.mark.parametrize(("size", "share", "n", "chunk"),
                         [(3_000_000, 0.7, 120, 1 << 20), (1000, 0.5, 3, 7), (0, 0.5, 1, 4),
                          (50, 0.0, 2, 8), (99, 1.0, 5, 10)])
def test_every_nth_true_element_found_a_chunk_at_a_time(size, share, n, chunk):
    flags = np.random.default_rng(size).random(size) < share
    np.testing.assert_array_equal(_every_nth(flags, n, chunk), np.flatnonzero(flags)[::n])


@pytest.mark.parametrize("sigma_px", [2.0, 12.0])
@pytest.mark.parametrize("reaches_all", [True, False])
def test_local_reference_in_a_scratch_array_gives_the_same(sigma_px, reaches_all):
    """LocalReference over a scratch array (overwrite: zeroed outside the weights in its
    place) gives the values of the copying path, at full and at subsampled resolution."""
    rng = np.random.default_rng(5)
    values = rng.random((240, 320)).astype(np.float32)
    weights = rng.random(values.shape) < 0.6
    if not reaches_all:
        weights[:, 200:] = False  # far from any weight: the fallback is used there
    surround = LocalReference(weights, sigma_px)
    copied = surround(values)
    scratch = values.copy()
    np.testing.assert_array_equal(surround(scratch, overwrite=True), copied)
    assert surround.reaches_all == reaches_all


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 11, 10_000, 10_001])
def test_median_is_numpys(dtype, n):
    rng = np.random.default_rng(n)
    for values in (rng.normal(100, 40, n).clip(0, 255).astype(dtype),
                   rng.integers(0, 3, n).astype(dtype)):  # many ties
        with warnings.catch_warnings():  # no values: NumPy warns, both give NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            expected, got = np.median(values), median(values)
        assert type(got) is type(expected)
        np.testing.assert_array_equal(got, expected)
    if n and np.dtype(dtype).kind == "f":  # a NaN anywhere: NaN
        values[n // 3] = np.nan
        assert np.isnan(median(values))
    table = rng.normal(size=(n, 3)).astype(np.float32)
    if n:
        np.testing.assert_array_equal(median(table, axis=0), np.median(table, axis=0))
