"""Formulas against hand-computed values and colour-science's published definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skinmetrics import colour as c


def test_srgb_decoding_matches_iec_formula():
    v = np.array([0.0, 0.04045, 0.2, 0.5, 1.0], dtype=np.float32)
    by_hand = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(c.srgb_to_linear(v), by_hand, atol=2e-5)
    assert c.srgb_to_linear(np.float32(0.5)) == pytest.approx(0.214041, abs=1e-5)


def test_srgb_encoding_agrees_with_colour_science():
    import colour

    v = np.concatenate([np.linspace(0, 0.01, 200), np.linspace(0.01, 1, 2000)]).astype(np.float32)
    np.testing.assert_allclose(c.linear_to_srgb(v), colour.cctf_encoding(v.astype(np.float64),
                                                                          function="sRGB"),
                               atol=2e-6)
    np.testing.assert_allclose(c.srgb_to_linear(c.linear_to_srgb(v)), v, atol=2e-5)


def test_linear_gains_in_one_lookup_equal_decode_scale_encode():
    """A follow-up's colour gains applied through per-channel tables give exactly what
    decoding, scaling in linear light and encoding give (codes outside [0, 1] clipped)."""
    rgb = np.random.default_rng(1).uniform(-0.1, 1.1, (40, 50, 3)).astype(np.float32)
    rgb[0, :3] = [[0, 0, 0], [1, 1, 1], [200 / 255, 17 / 255, 1]]
    gains = np.array([1.08, 0.95, 1.21])
    expected = c.linear_to_srgb(c.srgb_to_linear(rgb) * gains.astype(np.float32))
    assert np.array_equal(c.srgb_with_linear_gains(rgb, gains), expected)
    assert c.srgb_with_linear_gains(rgb, gains)[0, 1, 2] == pytest.approx(1.0)  # clipped


def test_lab_fast_path_agrees_with_colour_science():
    rng = np.random.default_rng(0)
    lin = c.srgb_to_linear(rng.random((64, 64, 3)).astype(np.float32))
    np.testing.assert_allclose(c.linear_to_lab(lin), c.linear_to_lab_reference(lin), atol=0.5)


def test_lab_of_known_colours():
    white = c.linear_to_lab(np.ones((1, 1, 3), np.float32))[0, 0]
    np.testing.assert_allclose(white, [100.0, 0.0, 0.0], atol=0.05)
    # sRGB (0.8, 0.6, 0.5): L*a*b* by the CIE 15 formulas on the IEC sRGB matrix
    srgb = np.array([[[0.8, 0.6, 0.5]]], np.float32)
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)[0, 0]
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    by_hand = [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])]
    np.testing.assert_allclose(c.linear_to_lab(c.srgb_to_linear(srgb))[0, 0], by_hand, atol=0.1)


def test_lab_round_trip():
    lab = np.array([[60.0, 15.0, 18.0], [35.0, 12.0, 20.0]])
    back = c.linear_to_lab_reference(c.lab_to_linear(lab))
    np.testing.assert_allclose(back, lab, atol=0.01)


def test_erythema_and_melanin_index_by_hand():
    lin = np.array([[0.40, 0.20, 0.10]])
    assert c.erythema_index(lin)[0] == pytest.approx(100 * math.log10(2.0), rel=1e-5)
    assert c.melanin_index(lin)[0] == pytest.approx(100 * math.log10(1 / 0.4), rel=1e-5)
    # exposure invariance of EI: scaling all channels leaves R/G unchanged
    assert c.erythema_index(lin * 0.5)[0] == pytest.approx(c.erythema_index(lin)[0], rel=1e-5)


@pytest.mark.parametrize(("L", "b", "expected"), [
    (50.0, 10.0, 0.0),
    (60.0, 10.0, 45.0),
    (40.0, 10.0, -45.0),
    (70.0, 0.0, 90.0),          # b* = 0: atan2 keeps it defined
    (75.0, 15.0, math.degrees(math.atan(25 / 15))),
])
def test_ita_degrees(L, b, expected):
    assert c.ita_degrees(L, b) == pytest.approx(expected, abs=1e-9)


def test_optical_density():
    np.testing.assert_allclose(c.optical_density(np.array([[1.0, 0.1, 0.01]], np.float32)),
                               [[0.0, 1.0, 2.0]], atol=1e-5)


def test_unmixing_recovers_known_densities():
    m, h, s = 0.3, 0.15, 0.2
    od = m * c.OD_MELANIN + h * c.OD_HAEMOGLOBIN + s
    np.testing.assert_allclose(c.chromophore_densities(od[None]), [[m, h, s]], atol=1e-5)
    # weighted unmixing: exact without shading; the ridge moves at most 15 % of a grey
    # shading term into the pigments
    no_shade = m * c.OD_MELANIN + h * c.OD_HAEMOGLOBIN
    np.testing.assert_allclose(c.chromophore_densities(no_shade[None], np.ones(3))[0],
                               [m, h, 0.0], atol=1e-5)
    weighted = c.chromophore_densities(od[None], np.ones(3))[0]
    np.testing.assert_allclose(weighted[:2], [m, h], atol=0.15 * s)
    assert 0.8 * s < weighted[2] < s


def test_haemoglobin_density_ignores_exposure_and_shadow():
    od = 0.4 * c.OD_MELANIN + 0.1 * c.OD_HAEMOGLOBIN
    for shade in (0.0, 0.3):
        assert c.chromophore_densities((od + shade)[None])[0, 1] == pytest.approx(0.1, abs=1e-5)


def test_colour_planes_cache_and_luminance():
    rgb = np.full((4, 5, 3), 0.5, np.float32)
    p = c.ColourPlanes(rgb)
    assert p.lab is p.lab
    y = 0.214041  # sRGB 0.5 decoded; grey has Y equal to it
    np.testing.assert_allclose(p.luminance_density, -math.log10(y), atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sixteen_bit_codes_are_the_rounded_clipped_values(dtype):
    # every code, the half-way points between codes and a step either side of them (ties
    # to even), values outside [0, 1], and random values: OpenCV's conversion gives
    # np.rint(np.clip(v, 0, 1) * 65535) for each
    half = ((np.arange(65535) + 0.5) / 65535).astype(dtype)
    values = np.concatenate([
        (np.arange(65536) / 65535).astype(dtype), half, np.nextafter(half, dtype(2)),
        np.nextafter(half, dtype(-1)), np.random.default_rng(0).random(200_000).astype(dtype),
        np.array([-1.0, -0.0, 1.5, 2.0, -np.inf, 1.0], dtype)]).reshape(-1, 3)
    expected = np.rint(np.clip(values.astype(np.float64), 0, 1) * 65535).astype(np.uint16)
    if dtype == np.float32:  # the product rounded to float32 first, as numpy does
        expected = np.rint(np.clip(values, 0, 1) * np.float32(65535)).astype(np.uint16)
    np.testing.assert_array_equal(c._codes16(values), expected)
    assert c._codes16(np.float32(0.5)) == 32768  # a scalar (through numpy)


def test_a_forgotten_representation_is_made_again_the_same():
    planes = c.ColourPlanes(np.random.default_rng(1).random((8, 8, 3)).astype(np.float32))
    lab = planes.lab.copy()
    planes.forget("lab")
    assert "lab" not in planes._cache
    np.testing.assert_array_equal(planes.lab, lab)
    planes.forget("not made")  # nothing to forget: no error


def test_densities_made_in_bands_are_those_made_whole(monkeypatch):
    """A band of rows at a time (here 7 rows of 50 px, the last one shorter): the same
    values, bit for bit, as the optical density of the whole photo unmixed at once."""
    srgb = np.random.default_rng(2).random((40, 50, 3)).astype(np.float32)
    planes = c.ColourPlanes(srgb)
    whole = c.chromophore_densities(c.optical_density(planes.linear), planes.channel_weights)
    monkeypatch.setattr(c, "BAND_PIXELS", 7 * 50)
    np.testing.assert_array_equal(planes.densities.view(np.uint32), whole.view(np.uint32))


def test_lab_means_and_lightness_need_no_whole_cielab(monkeypatch):
    """Means of CIELAB over masks and the L* plane, made a band of rows at a time (7 rows
    of 50 px) when CIELAB is not held: L* bit for bit that of the whole CIELAB, the means
    those of it but for the order of the double-precision sums, NaN over an empty mask;
    with CIELAB held, its own means."""
    srgb = np.random.default_rng(7).random((40, 50, 3)).astype(np.float32)
    lab = c.ColourPlanes(srgb).lab
    rng = np.random.default_rng(8)
    masks = [rng.random((40, 50)) > 0.3, np.zeros((40, 50), bool), rng.random((40, 50)) > 0.9]
    expected = [lab[m].astype(np.float64).mean(axis=0) for m in masks[::2]]
    monkeypatch.setattr(c, "BAND_PIXELS", 7 * 50)
    planes = c.ColourPlanes(srgb)
    banded = planes.lab_means(*masks)
    assert "lab" not in planes.made  # no whole CIELAB made (a float photo keeps its linear RGB)
    np.testing.assert_allclose(banded[0], expected[0], rtol=1e-9)
    np.testing.assert_allclose(banded[2], expected[1], rtol=1e-9)
    assert np.isnan(banded[1]).all()
    np.testing.assert_array_equal(planes.lightness, lab[..., 0])
    assert "lab" not in planes.made and "lightness" in planes.made
    kept = c.ColourPlanes(srgb)  # L* kept from the means' own conversion
    np.testing.assert_array_equal(kept.lab_means(*masks, keep_lightness=True)[0], banded[0])
    assert "lightness" in kept.made
    np.testing.assert_array_equal(kept.lightness, lab[..., 0])
    held = c.ColourPlanes(srgb)
    np.testing.assert_array_equal(held.lab, lab)
    np.testing.assert_allclose(held.lab_means(masks[0])[0], expected[0], rtol=1e-9)
    assert np.shares_memory(held.lightness, held.lab)


def test_functions_of_cielab_made_a_band_at_a_time(monkeypatch):
    """Per-pixel functions of CIELAB (here L* and a test of a* and b*) made a band of rows
    at a time (7 rows of 50 px, the last one shorter) when CIELAB is not held: bit for bit
    those of the whole CIELAB, in each function's own dtype, with no whole CIELAB made."""
    srgb = np.random.default_rng(9).random((40, 50, 3)).astype(np.float32)
    lab = c.ColourPlanes(srgb).lab
    functions = (lambda v: v[..., 0], lambda v: v[..., 2] > v[..., 1])
    monkeypatch.setattr(c, "BAND_PIXELS", 7 * 50)
    planes = c.ColourPlanes(srgb)
    lightness, test = planes.of_lab(*functions)
    assert "lab" not in planes.made
    np.testing.assert_array_equal(lightness.view(np.uint32), lab[..., 0].view(np.uint32))
    assert test.dtype == bool and 0 < test.mean() < 1
    np.testing.assert_array_equal(test, lab[..., 2] > lab[..., 1])
    held = c.ColourPlanes(srgb)
    held.lab  # noqa: B018 (made and held)
    np.testing.assert_array_equal(held.of_lab(*functions)[1], test)


def test_densities_with_shading_use_up_the_kept_densities():
    """The shading taken out in the place of the densities (then no longer kept): the
    densities minus the grey's leak, channel by channel, as computed whole."""
    planes = c.ColourPlanes(np.random.default_rng(3).random((30, 20, 3)).astype(np.float32))
    shading = np.random.default_rng(4).random((30, 20)).astype(np.float32)
    leak = c.unmixing_matrix(planes.channel_weights) @ np.ones(3, np.float32)
    leak[2] -= 1.0
    before = planes.densities.copy()
    expected = shading[..., None] * -leak + before
    got = planes.densities_with_shading(shading)
    assert "densities" not in planes._cache
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(planes.densities, before)  # made again when next used


def test_melanin_index_of_masked_pixels_and_erythema_index_as_whole():
    lin = np.random.default_rng(5).random((30, 40, 3)).astype(np.float32)
    lin[0, 0] = 0.0  # below the floor
    where = np.random.default_rng(6).random((30, 40)) > 0.5
    whole = c.melanin_index(lin)
    np.testing.assert_array_equal(c.melanin_index(lin, where), whole[where])
    floored = np.maximum(lin, c._EPS)
    np.testing.assert_allclose(  # to float32 rounding (OpenCV's logarithm)
        c.erythema_index(lin), 100.0 * np.log10(floored[..., 0] / floored[..., 1]),
        rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_srgb_codes_give_the_float_values_and_their_functions(dtype):
    top = np.iinfo(dtype).max
    codes = np.random.default_rng(3).integers(0, top + 1, (40, 50, 3)).astype(dtype)
    codes[0, 0] = top  # a clipped pixel
    photo = c.SRGBCodes(codes)
    rgb = codes.astype(np.float32) * np.float32(1.0 / top)  # as decode_image makes it
    assert np.array_equal(np.asarray(photo), rgb) and photo.shape == rgb.shape
    assert np.array_equal(photo[5:9, 2:30], rgb[5:9, 2:30])
    picked = codes[..., 1] > top // 2
    assert np.array_equal(photo[picked], rgb[picked])
    assert np.array_equal(c.srgb_to_linear(photo), c.srgb_to_linear(rgb))
    gains = [1.12, 0.93, 1.04]
    normalised = c.srgb_with_linear_gains(photo, gains)
    assert isinstance(normalised, c.SRGBCodes) and normalised.codes is photo.codes
    assert np.array_equal(np.asarray(normalised), c.srgb_with_linear_gains(rgb, gains))
    assert np.array_equal(c.srgb_to_linear(normalised),
                          c.srgb_to_linear(c.srgb_with_linear_gains(rgb, gains)))
    assert np.array_equal(normalised.any_at_least(0.995),
                          (c.srgb_with_linear_gains(rgb, gains) >= 0.995).any(axis=2))
    assert np.array_equal(c.ColourPlanes(photo).lab, c.ColourPlanes(rgb).lab)
    with pytest.raises(IndexError, match="pixels"):
        photo[..., 0]
    with pytest.raises(ValueError, match="uint8 or uint16"):
        c.SRGBCodes(rgb)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_pixels_with_a_channel_at_a_level_from_any_table(dtype):
    """The pixels with a channel at or above a level: those of the float photo, whether
    the table rises with the code (found by each channel's first code at the level), has
    a channel all of whose codes are at it, or falls (each code looked up)."""
    rng = np.random.default_rng(12)
    n = np.iinfo(dtype).max + 1
    codes = rng.integers(0, n, (30, 40, 3)).astype(dtype)
    rising = np.repeat(np.linspace(0, 1, n, dtype=np.float32)[None], 3, axis=0)
    for table in (rising, rising * np.float32([[1.0], [1.3], [0.8]]),
                  rising[:, ::-1].copy(), rng.random((3, n)).astype(np.float32)):
        photo = c.SRGBCodes(codes, table)
        for level in (0.0, 0.4, 0.995, 1.2):
            assert np.array_equal(photo.any_at_least(level),
                                  (np.asarray(photo) >= level).any(axis=2)), level


@pytest.mark.parametrize("size", [(400, 300), (179, 134), (401, 300)])
def test_a_photo_resized_to_a_size_as_opencv_resizes_it(size):
    """Codes resized to a size (a band at a time where both sides scale alike): the values
    of OpenCV's area resampling of the float photo to that size, bit for bit."""
    import cv2

    photo = c.SRGBCodes(np.random.default_rng(5).integers(0, 256, (600, 800, 3)).astype(np.uint8))
    expected = cv2.resize(np.asarray(photo), size, interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(c.resized_photo(photo, size), expected)
    np.testing.assert_array_equal(c.resized_photo(np.asarray(photo), size), expected)


@pytest.mark.parametrize("shape", [(600, 800), (612, 816), (601, 800)])
def test_srgb_codes_resized_a_band_at_a_time_as_whole(shape):
    import cv2

    photo = c.SRGBCodes(np.random.default_rng(6).integers(0, 256, (*shape, 3)).astype(np.uint8))
    for f in (0.15, 0.2, 200 / 816):  # 601 rows: no band gives whole rows, made whole
        whole = cv2.resize(np.asarray(photo), (0, 0), fx=f, fy=f, interpolation=cv2.INTER_AREA)
        assert np.array_equal(photo.resized(f), whole)
