"""Reading photographs and writing outputs.

Photographs are decoded with OpenCV (JPEG, PNG, TIFF; 8 or 16 bit), the EXIF
orientation is applied (read with Pillow), and the result is returned as sRGB
code values in [0, 1]. Output files are written atomically (temporary file in the
same folder, then rename) so that an interrupted run never leaves a half-written
file behind.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    from .colour import SRGBCodes

__all__ = [
    "ImageReadError",
    "decode_image",
    "reduction_to_fit",
    "read_file_bytes",
    "read_image",
    "real_path",
    "atomic_write_bytes",
    "write_json",
    "write_png",
    "write_jpeg",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
#: Photos a phone or camera writes that are not read (HEIF, camera raw): a folder's are
#: listed as not measured, with what to convert them to.
UNREAD_PHOTO_SUFFIXES = (".heic", ".heif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf",
                         ".rw2", ".raf", ".pef", ".srw")
#: A photo narrower or lower than this (px) is refused: too small to measure anything.
MIN_SIDE_PX = 64
#: Largest difference (code values / 255) between the colour channels of a photo that has
#: no colour (a grayscale photo stored as RGB).
GREY_TOLERANCE = 2.0 / 255.0

# EXIF orientation tag (0x0112) value -> (np.rot90 k, flip left-right before rotating)
_EXIF_TRANSFORMS = {
    2: (0, True),
    3: (2, False),
    4: (2, True),
    5: (1, True),
    6: (3, False),
    7: (3, True),
    8: (1, False),
}


class ImageReadError(ValueError):
    """A file could not be read or measured as a photograph (one-line message)."""


def _header(data: bytes, name: str) -> tuple[tuple[int, int] | None, int]:
    """Width and height from the file's header (None when Pillow cannot read it) and its
    EXIF orientation, without decoding the pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size, int(im.getexif().get(0x0112, 1))
    except Image.DecompressionBombError:
        raise ImageReadError(f"{name}: too large to decode safely") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, 1


#: JPEG decode reductions (libjpeg's DCT scaling: 1/2, 1/4 or 1/8 of each side) and the
#: OpenCV flags that ask for them.
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def reduction_to_fit(data: bytes, name: str, max_megapixels: float | None) -> int:
    """The side reduction a photo is decoded at to fit ``max_megapixels``: 1 when it fits
    (or its size cannot be read from the header), else the smallest of 2, 4 and 8 that
    brings a JPEG within the limit (decoded directly at that size, without the memory of
    the full one).

    Raises
    ------
    ImageReadError
        Over the limit and not a JPEG, or over it even at 1/8.
    """
    size, _ = _header(data, name)
    if size is None or not max_megapixels or size[0] * size[1] <= max_megapixels * 1e6:
        return 1
    over = (f"{name}: {size[0]} x {size[1]} px ({size[0] * size[1] / 1e6:.0f} MP) is over "
            f"the pipeline's limit of {max_megapixels:g} MP")
    if data[:2] != b"\xff\xd8":
        raise ImageReadError(f"{over} (only a JPEG can be decoded at reduced size)")
    for k in _REDUCED:
        if size[0] * size[1] / k**2 <= max_megapixels * 1e6:
            return k
    raise ImageReadError(f"{over}, even at 1/8 of its size")


def decode_image(data: bytes, name: str = "image", max_megapixels: float | None = None,
                 as_photo: bool = False, reduction: int = 1, as_codes: bool = False
                 ) -> tuple[np.ndarray | SRGBCodes, int]:
    """Decode encoded image bytes to sRGB values in [0, 1].

    Parameters
    ----------
    data : bytes
        The encoded file (JPEG, PNG or TIFF, 8 or 16 bit per channel).
    name : str
        Used in error messages.
    max_megapixels : float, optional
        Largest photo accepted (million pixels), judged from the file's header before any
        pixel is decoded.
    as_photo : bool
        Refuse what cannot be a skin photograph: smaller than :data:`MIN_SIDE_PX` a side,
        without colour, or with transparent pixels (refused rather than guessed onto a
        background). Otherwise a grey image is returned as RGB and alpha is dropped.
    reduction : int
        A JPEG decoded at 1/2, 1/4 or 1/8 of each side (see :func:`reduction_to_fit`);
        ``max_megapixels`` then applies to the reduced size.
    as_codes : bool
        Return the photo's integer codes (:class:`skinmetrics.colour.SRGBCodes`, which give
        the same float values on use) instead of float32: a quarter (8 bit) or half (16
        bit) of the memory.

    Returns
    -------
    rgb : (H, W, 3) float32 ndarray or SRGBCodes
        sRGB code values in [0, 1], EXIF orientation applied; a fully opaque alpha channel
        is dropped.
    bit_depth : int
        8 or 16.

    Raises
    ------
    ImageReadError
        When the bytes are empty, truncated or not an image, when the photo is larger than
        ``max_megapixels``, and (``as_photo``) as said there.
    """
    if len(data) == 0:
        raise ImageReadError(f"{name}: empty file (0 bytes)")
    size, orientation = _header(data, name)
    if reduction != 1 and (reduction not in _REDUCED or data[:2] != b"\xff\xd8"):
        raise ValueError(f"{name}: only a JPEG is decoded at 1/2, 1/4 or 1/8 size")
    if size is not None:
        size = (-(-size[0] // reduction), -(-size[1] // reduction))
    if size is not None and max_megapixels and size[0] * size[1] > max_megapixels * 1e6:
        raise ImageReadError(f"{name}: {size[0]} x {size[1]} px ({size[0] * size[1] / 1e6:.0f} "
                             f"MP) is over the pipeline's limit of {max_megapixels:g} MP")
    if as_photo and size is not None and min(size) < MIN_SIDE_PX:
        raise ImageReadError(f"{name}: {size[0]} x {size[1]} px is too small to measure "
                             f"(at least {MIN_SIDE_PX} px a side)")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]:
        raise ImageReadError(f"{name}: truncated JPEG (no end-of-image marker)")
    buf = np.frombuffer(data, dtype=np.uint8)
    flags = (_REDUCED[reduction] | cv2.IMREAD_IGNORE_ORIENTATION if reduction != 1
             else cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    img = cv2.imdecode(buf, flags)
    if img is None or img.size == 0:
        raise ImageReadError(f"{name}: not a readable JPEG/PNG/TIFF image")
    if as_photo and min(img.shape[:2]) < MIN_SIDE_PX:
        raise ImageReadError(f"{name}: {img.shape[1]} x {img.shape[0]} px is too small to "
                             f"measure (at least {MIN_SIDE_PX} px a side)")
    if img.dtype == np.uint8:
        bit_depth, scale = 8, 255.0
    elif img.dtype == np.uint16:
        bit_depth, scale = 16, 65535.0
    else:
        raise ImageReadError(f"{name}: unsupported sample type {img.dtype}")
    if img.ndim == 2 or img.shape[2] < 3:
        if as_photo:
            raise ImageReadError(f"{name}: a grayscale photo has no colour to measure")
        img = cv2.cvtColor(img if img.ndim == 2 else img[..., 0], cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        if as_photo and img[..., 3].min() < np.iinfo(img.dtype).max:
            raise ImageReadError(f"{name}: has transparent pixels (alpha channel); flatten it "
                                 "onto its background first")
        img = img[..., :3]
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    k, flip = _EXIF_TRANSFORMS.get(orientation, (0, False))
    if flip:
        img = img[:, ::-1]
    if k:
        img = np.rot90(img, k)
    if as_photo:
        sample = img[::4, ::4].astype(np.float32) * np.float32(1.0 / scale)  # enough pixels
        spread = max(float(np.abs(sample[..., 0] - sample[..., 1]).max()),
                     float(np.abs(sample[..., 1] - sample[..., 2]).max()))
        if spread <= GREY_TOLERANCE:
            raise ImageReadError(f"{name}: a grayscale photo has no colour to measure")
    if as_codes:  # colour-science, which skinmetrics.colour loads, only when needed
        from .colour import SRGBCodes

        return SRGBCodes(img), bit_depth
    rgb = np.ascontiguousarray(img, dtype=np.float32)
    rgb *= np.float32(1.0 / scale)
    return rgb, bit_depth


def real_path(path: str | os.PathLike) -> Path:
    """The absolute path with symbolic links followed; never raises (a symbolic-link loop
    is returned as it is, and reading it fails with its own message)."""
    return Path(os.path.realpath(path))


def read_file_bytes(path: str | os.PathLike) -> bytes:
    """Read a regular file, turning OS errors into a one-line :class:`ImageReadError`; a
    FIFO, device or folder is not opened (reading a FIFO would wait for ever)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "a device")
            raise ImageReadError(f"{path.name}: not a regular file ({kind}); not read")
        return path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path.name}: cannot read file ({exc.strerror or exc})") from exc


def read_image(path: str | os.PathLike, as_codes: bool = False) -> np.ndarray | SRGBCodes:
    """Read a photograph from disk; see :func:`decode_image` (``as_codes``: its integer
    codes, :class:`skinmetrics.colour.SRGBCodes`, a quarter of the memory of float32).

    Returns
    -------
    rgb : (H, W, 3) float32 ndarray or SRGBCodes
        sRGB code values in [0, 1], EXIF orientation applied.
    """
    return decode_image(read_file_bytes(path), Path(path).name, as_codes=as_codes)[0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of written files: those of an ordinary new file under the process's umask
#: (mkstemp's own 0600 would make results unreadable to the colleagues they are for).
_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON (NaN written as null)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _encode(ext: str, image: np.ndarray, params: list[int]) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise OSError(f"could not encode {ext} image")
    return buf.tobytes()


#: PNG encoding of a mask: zlib's run-length strategy on each row's difference from the row
#: above (the "up" filter; an OpenCV without ``IMWRITE_PNG_FILTER`` uses "sub"). Setting a
#: compression level would make libpng try every filter on every row: 3x the time.
MASK_PNG_PARAMS = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP] if hasattr(cv2, "IMWRITE_PNG_FILTER")
    else [])


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 grey or RGB image as PNG (a boolean mask is written 0 / 255 with
    :data:`MASK_PNG_PARAMS`: a 12 MP mask in about 25 ms)."""
    if image.dtype == bool:
        image, params = image.astype(np.uint8) * 255, MASK_PNG_PARAMS
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    atomic_write_bytes(path, _encode(".png", image, params))


def write_jpeg(path: str | os.PathLike, image: np.ndarray, quality: int = 90) -> None:
    """Write a uint8 RGB image as JPEG."""
    atomic_write_bytes(path, _encode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]))
