"""Decoding photographs: formats, bit depths, EXIF orientation and clear errors."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from skinmetrics.io import ImageReadError, decode_image, read_image, write_json, write_png


def _gradient(h=80, w=96):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 2, y * 3, 255 - x * 2], axis=2).astype(np.uint8)


def _png(img):
    return cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()


def test_png_8_bit_exact():
    img = _gradient()
    rgb, depth = decode_image(_png(img))
    assert depth == 8 and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb * 255, img, atol=1e-3)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit(ext):
    img16 = (_gradient().astype(np.uint16) * 257 + 7)
    data = cv2.imencode(ext, cv2.cvtColor(img16, cv2.COLOR_RGB2BGR))[1].tobytes()
    rgb, depth = decode_image(data)
    assert depth == 16
    np.testing.assert_allclose(rgb * 65535, img16, atol=0.02)


def test_grey_and_transparent_images_become_rgb_but_are_no_photos():
    grey = _gradient()[..., 0]
    assert decode_image(_png(grey))[0].shape == (*grey.shape, 3)  # e.g. a label mask
    with pytest.raises(ImageReadError, match="grayscale"):
        decode_image(_png(grey), as_photo=True)
    rgba = np.dstack([_gradient(), np.full(grey.shape, 128, np.uint8)])
    data = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))[1].tobytes()
    np.testing.assert_allclose(decode_image(data)[0] * 255, _gradient(), atol=1e-3)
    with pytest.raises(ImageReadError, match="transparent"):
        decode_image(data, as_photo=True)


@pytest.mark.parametrize(("orientation", "shape"), [(1, (80, 96)), (3, (80, 96)), (6, (96, 80)),
                                                    (8, (96, 80))])
def test_exif_orientation_applied(orientation, shape):
    img = np.zeros((80, 96, 3), np.uint8)
    img[...] = (200, 120, 90)
    img[:10, :10] = 255  # marker in the stored top-left corner
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(img).save(buf, format="JPEG", quality=95, exif=exif)
    rgb, _ = decode_image(buf.getvalue())
    assert rgb.shape[:2] == shape
    # where the marker lands: 1 top-left, 3 bottom-right, 6 top-right, 8 bottom-left
    corner = {1: (0, 0), 3: (-1, -1), 6: (0, -1), 8: (-1, 0)}[orientation]
    assert rgb[corner[0] * 5, corner[1] * 5].mean() > 0.8


def test_errors_are_one_line(tmp_path):
    cases = {
        "empty.jpg": b"",
        "text.jpg": b"this is not an image at all",
        "truncated.jpg": cv2.imencode(".jpg", _gradient(200, 300))[1].tobytes()[:3000],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageReadError) as exc:
            read_image(tmp_path / name)
        assert "\n" not in str(exc.value) and name in str(exc.value)
    with pytest.raises(ImageReadError, match="cannot read"):
        read_image(tmp_path / "missing.jpg")


def test_write_json_is_strict(tmp_path):
    write_json(tmp_path / "a.json", {"x": np.float32(1.5), "n": np.int64(3), "none": None})
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1.5,\n  "n": 3,\n  "none": null\n}\n'
    with pytest.raises(ValueError):
        write_json(tmp_path / "b.json", {"x": float("nan")})
    assert not (tmp_path / "b.json").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "a.json"]  # no temp file left behind


def test_written_files_get_the_umask_permissions_not_0600(tmp_path):
    import os

    from skinmetrics.io import atomic_write_bytes

    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_bytes(tmp_path / "a.csv", b"x")
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "a.csv").read_bytes() == b"x"
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_over_large_jpeg_is_measured_decoded_at_reduced_size(tmp_path):
    """Over ``max_megapixels`` a JPEG is decoded at 1/2, 1/4 or 1/8 of its sides (no full-size
    copy in memory), its given scale divided alike: the skin area in mm2 stays that of the
    full-size photo; other formats are refused."""
    from skinmetrics.photo import measure_file
    from skinmetrics.pipeline import load_pipeline
    from skinmetrics.synthetic import make_phantom

    jpeg = tmp_path / "cheek.jpg"
    jpeg.write_bytes(make_phantom((480, 640), 25.0, 60.0, seed=2).jpeg)
    pipe = load_pipeline("laser_recovery")
    full, photo = measure_file(jpeg, pipe, 25.0, chart="none")
    assert "decoded_at" not in photo and full.warnings == []
    pipe.params["scale"]["max_megapixels"] = 0.1  # 0.31 MP: fits at half its sides
    half, photo = measure_file(jpeg, pipe, 25.0, chart="none")
    assert photo["decoded_at"] == "1/2" and (photo["height"], photo["width"]) == (240, 320)
    assert half.px_per_mm == 12.5
    assert half.warnings[0].startswith("over the limit of 0.1 MP: decoded at 1/2")
    assert half.metrics["roi_area_mm2"] == pytest.approx(full.metrics["roi_area_mm2"], rel=0.02)
    pipe.params["scale"]["max_megapixels"] = 0.001
    with pytest.raises(ImageReadError, match="even at 1/8 of its size"):
        measure_file(jpeg, pipe, 25.0, chart="none")
    png = tmp_path / "cheek.png"
    png.write_bytes(_png(cv2.imread(str(jpeg))[..., ::-1]))
    pipe.params["scale"]["max_megapixels"] = 0.1
    with pytest.raises(ImageReadError, match="only a JPEG can be decoded at reduced size"):
        measure_file(png, pipe, 25.0, chart="none")


def test_a_reduced_jpeg_keeps_its_exif_orientation():
    img = np.full((160, 200, 3), (200, 120, 90), np.uint8)
    img[:20, :20] = 255  # marker in the stored top-left corner
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(buf, format="JPEG", quality=95, exif=exif)
    rgb, _ = decode_image(buf.getvalue(), reduction=2)
    assert rgb.shape[:2] == (100, 80)
    assert rgb[3, -3].mean() > 0.8  # top-right, as at full size


@pytest.mark.parametrize(("ext", "dtype"), [(".png", np.uint8), (".tif", np.uint16)])
@pytest.mark.parametrize("orientation", [1, 6])
def test_codes_give_the_float_photo_exactly(ext, dtype, orientation):
    img = _gradient().astype(dtype) * (257 if dtype == np.uint16 else 1)
    data = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()
    if orientation != 1:  # a JPEG with the photo turned by EXIF
        buf, exif = io.BytesIO(), Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(_gradient()).save(buf, format="JPEG", quality=90, exif=exif)
        data = buf.getvalue()
    rgb, depth = decode_image(data)
    codes, depth_codes = decode_image(data, as_codes=True)
    assert depth_codes == depth and codes.codes.dtype == (np.uint8 if depth == 8 else np.uint16)
    assert codes.shape == rgb.shape and codes.codes.nbytes * 4 == rgb.nbytes * codes.codes.itemsize
    assert np.array_equal(np.asarray(codes, np.float32), rgb)


def test_a_mask_is_written_as_8_bit_0_and_255(tmp_path):
    """A boolean mask reads back as the same pixels, 0 and 255 in one 8-bit channel (the
    documented mask format), whatever the PNG filter and strategy."""
    rng = np.random.default_rng(0)
    mask = cv2.dilate((rng.random((120, 160)) > 0.995).astype(np.uint8), np.ones((3, 3))) > 0
    mask[40:90, 30:100] = True
    write_png(tmp_path / "m.png", mask)
    back = cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint8 and back.shape == mask.shape
    assert np.array_equal(back, mask.astype(np.uint8) * 255)


def test_the_overlay_of_codes_is_that_of_their_float_values():
    """8-bit codes are made 8-bit by their table's 256 values per channel: the same overlay
    as their float photo's, also through a table that takes values out of [0, 1]."""
    from skinmetrics.colour import SRGBCodes, srgb_with_linear_gains
    from skinmetrics.overlay import outline_overlay

    rng = np.random.default_rng(3)
    codes = SRGBCodes(rng.integers(0, 256, (150, 130, 3), dtype=np.uint8))
    mask = np.zeros((150, 130), bool)
    mask[40:90, 30:100] = True
    for photo in (codes, srgb_with_linear_gains(codes, np.array([1.4, 0.7, 1.0]))):
        drawn = outline_overlay(photo, {"erythema": mask})
        assert np.array_equal(drawn, outline_overlay(np.asarray(photo), {"erythema": mask}))
    assert np.array_equal(outline_overlay(codes, {})[..., 1], codes.codes[..., 1])
