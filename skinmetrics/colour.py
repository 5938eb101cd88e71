"""Colour science: sRGB -> linear RGB -> CIE XYZ -> CIELAB (D65), and skin colour indices.

The sRGB transfer function and the sRGB -> XYZ matrix are those of IEC 61966-2-1:1999 as
implemented by colour-science; CIELAB is CIE 15:2004 with the D65 white of the
CIE 1931 2° observer. :func:`linear_to_lab` is the fast path (OpenCV, float32) and
:func:`linear_to_lab_reference` the colour-science reference it is tested against.

References
----------
.. [1] IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and
       management - Part 2-1: Default RGB colour space - sRGB.
.. [2] CIE 15:2004, Colorimetry, 3rd edition.
.. [3] Diffey B.L., Oliver R.J., Farr P.M. A portable instrument for quantifying erythema
       induced by ultraviolet radiation. Br J Dermatol 1984;111:663-672.
.. [4] Yamamoto T., Takiwaki H., Arase S., Ohshima H. Derivation and clinical application of
       special imaging by means of digital cameras and Image J freeware for quantification of
       erythema and pigmentation. Skin Res Technol 2008;14:26-34.
.. [5] Chardon A., Cretois I., Hourseau C. Skin colour typology and suntanning pathways.
       Int J Cosmet Sci 1991;13:191-208.
.. [6] Tsumura N., Haneishi H., Miyake Y. Independent-component analysis of skin color image.
       J Opt Soc Am A 1999;16:2169-2176.
.. [7] Jacques S.L. Skin optics. Oregon Medical Laser Center News, 1998 (melanin absorption
       ~ lambda^-3.48).
.. [8] Prahl S. Optical absorption of hemoglobin. Oregon Medical Laser Center, 1999
       (tabulated molar extinction coefficients of oxy- and deoxy-haemoglobin).
.. [9] Del Bino S., Bernerd F. Variations in skin colour and the biological consequences of
       ultraviolet radiation exposure. Br J Dermatol 2013;169 Suppl 3:33-40.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache

import colour
import cv2
import numpy as np

from .filters.measure import masked_mean
from .filters.reference import median
from .methods import Layer

__all__ = [
    "LAYER", "srgb_to_linear",
    "resized_photo",
    "linear_to_srgb",
    "srgb_with_linear_gains",
    "linear_to_lab",
    "linear_to_lab_reference",
    "lab_to_linear",
    "erythema_index",
    "melanin_index",
    "ita_degrees",
    "optical_density",
    "chromophore_densities",
    "unmixing_matrix",
    "OD_MELANIN",
    "OD_HAEMOGLOBIN",
    "ColourPlanes",
    "SRGBCodes",
    "as_photo",
    "channel_gains",
]

#: What this module measures (see :mod:`skinmetrics.methods`): the colour processing every
#: layer starts from.
LAYER = Layer(
    "colour", "Colour and chromophores",
    "Photos are decoded (JPEG/PNG/TIFF, 8 or 16 bit, EXIF orientation applied), "
    "calibrated from a colour chart when one is found, linearised with the sRGB "
    "transfer function and converted to CIE XYZ and CIELAB (D65). The optical density "
    "-log10(RGB) is split into melanin, haemoglobin and grey shading with fixed "
    "absorption directions (melanin ~ lambda^-3.48, haemoglobin tabulated), a weighted "
    "least-squares unmixing that trusts dark channels less. Every lesion is found "
    "relative to the person's own surrounding skin (a local reference), so the same "
    "thresholds hold from very light to dark skin.",
    ("IEC 1999", "CIE 2004", "Tsumura 1999", "Jacques 1998", "Prahl 1999"),
    citations={
        "IEC 1999": "IEC 61966-2-1:1999, Multimedia systems and equipment - Colour "
                    "measurement and management - Part 2-1: Default RGB colour space - sRGB.",
        "CIE 2004": "CIE 15:2004, Colorimetry, 3rd edition.",
        "Tsumura 1999": "Tsumura N., Haneishi H., Miyake Y. Independent-component analysis of "
                        "skin color image. J Opt Soc Am A 1999;16:2169-2176.",
        "Jacques 1998": "Jacques S.L. Skin optics. Oregon Medical Laser Center News, 1998 "
                        "(melanin absorption ~ lambda^-3.48).",
        "Prahl 1999": "Prahl S. Optical absorption of hemoglobin. Oregon Medical Laser Center, "
                      "1999 (tabulated molar extinction coefficients of oxy- and "
                      "deoxy-haemoglobin).",
    })

_EPS = 1.0 / 65535.0
_D65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
_SRGB = colour.RGB_COLOURSPACES["sRGB"]

#: Effective relative optical density (log10) of melanin in the R, G, B bands of an sRGB
#: camera, normalised to G. The lambda^-3.48 absorption law [7] integrated over broad camera
#: bands is flatter than at the band centres; these ratios make melanin alone trace the
#: CIELAB skin-tone locus (L* 80 -> 30 with b* 8 -> 20, ITA 75 -> -45 degrees) reported for
#: the ITA skin types [5, 9].
OD_MELANIN = np.array([0.74, 1.0, 1.28], dtype=np.float64)
#: Relative optical density of blood (70 % oxygenated haemoglobin) in the R, G, B camera
#: bands, normalised to G, from the tabulated extinction coefficients [8] averaged over
#: broad camera bands (red 580-680 nm, green 500-600 nm, blue 420-500 nm).
OD_HAEMOGLOBIN = np.array([0.10, 1.0, 0.65], dtype=np.float64)


@lru_cache(maxsize=1)
def _decoding_lut() -> np.ndarray:
    codes = np.linspace(0.0, 1.0, 65536)
    return colour.cctf_decoding(codes, function="sRGB").astype(np.float32)


#: Rows of an :class:`SRGBCodes` photo made float at a time when it is resized (at least).
RESIZE_BAND_ROWS = 256


class SRGBCodes:
    """An sRGB photograph held as its integer codes (8 or 16 bit, as decoded) and the sRGB
    value that each code stands for in each channel: a quarter (8 bit) or half (16 bit) of
    the memory of the float32 photo, whose values it gives exactly.

    ``np.asarray(photo, np.float32)`` gives the float32 sRGB (H, W, 3) in [0, 1], the
    values :func:`skinmetrics.io.decode_image` gives; ``photo[rows]`` (any selection of
    pixels) gives those of the pixels selected, (..., 3) float32. A function of each
    channel's value, such as the linear RGB (:func:`srgb_to_linear`) or a follow-up's
    colour brought to its baseline's (:func:`srgb_with_linear_gains`), is a table of the
    codes, looked up once per pixel.

    Parameters
    ----------
    codes : (H, W, 3) uint8 or uint16 ndarray
        RGB codes.
    table : (3, 256) or (3, 65536) float32 ndarray, optional
        The sRGB value of each code in each channel (default: the code over 255 or 65535).
    """

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, codes: np.ndarray, table: np.ndarray | None = None):
        codes = np.ascontiguousarray(codes)
        if codes.dtype not in (np.uint8, np.uint16) or codes.ndim != 3 or codes.shape[2] != 3:
            raise ValueError(f"SRGBCodes holds (H, W, 3) uint8 or uint16 codes, got "
                             f"{codes.dtype} {codes.shape}")
        n = 1 << (8 * codes.itemsize)
        if table is None:  # as decoded: the code times the reciprocal of its maximum
            table = np.repeat((np.arange(n, dtype=np.float32)
                               * np.float32(1.0 / (n - 1)))[None], 3, axis=0)
        table = np.ascontiguousarray(table, dtype=np.float32)
        if table.shape != (3, n):
            raise ValueError(f"the table of {codes.dtype} codes is (3, {n}), got {table.shape}")
        self.codes, self.table = codes, table
        self._linear_table: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.codes.shape

    def __len__(self) -> int:
        return len(self.codes)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self.lookup(self.table)
        return values if dtype is None else values.astype(dtype, copy=False)

    def __getitem__(self, key) -> np.ndarray:
        return self.lookup(self.table, key)

    def lookup(self, table: np.ndarray, key=Ellipsis) -> np.ndarray:
        """Each channel's ``table`` (3, number of codes) at the codes of the pixels
        ``key`` selects (all by default); (..., 3) float32."""
        codes = np.ascontiguousarray(self.codes[key])
        if codes.ndim < 2 or codes.shape[-1] != 3:
            raise IndexError("only pixels (all three channels) are selected from SRGBCodes")
        flat = codes.reshape(-1, 1, 3)
        table = np.asarray(table, np.float32)
        if codes.dtype == np.uint8:  # OpenCV: one table per channel
            out = cv2.LUT(flat, np.ascontiguousarray(table.T.reshape(256, 1, 3)))
        else:
            out = np.empty(flat.shape, np.float32)
            for channel in range(3):
                out[..., channel] = table[channel][flat[..., channel]]
        return out.reshape(codes.shape)

    def linear(self, key=Ellipsis) -> np.ndarray:
        """Linear RGB (:func:`srgb_to_linear`) of the pixels ``key`` selects (all by
        default), looked up from the codes; (..., 3) float32."""
        if self._linear_table is None:
            self._linear_table = _decoding_lut()[_codes16(self.table)]
        return self.lookup(self._linear_table, key)

    def resized(self, f: float) -> np.ndarray:
        """The float photo resized by ``f`` (< 1; area averaging): the values of
        ``cv2.resize(np.asarray(photo), (0, 0), fx=f, fy=f, interpolation=cv2.INTER_AREA)``.
        Where each band of rows gives whole rows of the result (the photo's height a
        multiple of the input rows per whole output rows of ``f``, as a 4:3 frame resized to
        a 4:3 size), made a band at a time with no photo-sized float copy; else whole."""
        per = Fraction(f).limit_denominator(max(self.shape[:2])).denominator
        if self.shape[0] % per:  # per input rows give whole output rows
            return cv2.resize(np.asarray(self), (0, 0), fx=f, fy=f,
                              interpolation=cv2.INTER_AREA)
        rows = per * max(1, RESIZE_BAND_ROWS // per)
        return np.concatenate([cv2.resize(self[top:top + rows], (0, 0), fx=f, fy=f,
                                          interpolation=cv2.INTER_AREA)
                               for top in range(0, self.shape[0], rows)])

    def any_at_least(self, level: float) -> np.ndarray:
        """(H, W) bool: pixels with a channel whose value is at least ``level``.

        Where, in each channel, the codes whose value is at least ``level`` are those from
        one code up (a table that rises with the code, as every table here does), the
        pixels with every code below those are found at once (OpenCV's ``inRange``);
        otherwise each channel's codes are looked up."""
        over = self.table >= level
        first = np.where(over.any(axis=1), over.argmax(axis=1), over.shape[1])
        if not np.array_equal(over, np.arange(over.shape[1]) >= first[:, None]):
            hit = over.view(np.uint8)
            out = hit[0][self.codes[..., 0]]
            for channel in (1, 2):
                out |= hit[channel][self.codes[..., channel]]
            return out.view(bool)
        if not first.all():  # every code of a channel is at least ``level``
            return np.ones(self.shape[:2], bool)
        below = cv2.inRange(self.codes, (0, 0, 0), tuple(int(k) - 1 for k in first))
        return np.equal(below, 0)


def as_photo(srgb, dtype=None) -> np.ndarray | SRGBCodes:
    """A photo as the functions here take it: :class:`SRGBCodes` as they are (their float
    values are looked up where used), anything else as an ndarray (of ``dtype`` when
    given)."""
    return srgb if isinstance(srgb, SRGBCodes) else np.asarray(srgb, dtype=dtype)


def resized_photo(srgb: np.ndarray | SRGBCodes, size: tuple[int, int]) -> np.ndarray:
    """A photo area-resampled to ``size`` (width, height; OpenCV's ``INTER_AREA``), float32
    sRGB code values. From :class:`SRGBCodes` scaled by one factor along both sides, a band
    of rows at a time where it can (:meth:`SRGBCodes.resized`, the same values): no
    photo-sized float copy."""
    height, width = srgb.shape[:2]
    if isinstance(srgb, SRGBCodes) and size[0] * height == size[1] * width:
        return srgb.resized(size[0] / width)
    return cv2.resize(np.asarray(srgb, np.float32), size, interpolation=cv2.INTER_AREA)


def srgb_to_linear(rgb: np.ndarray | SRGBCodes) -> np.ndarray:
    """Decode sRGB code values to linear RGB (IEC 61966-2-1 transfer function [1]).

    Parameters
    ----------
    rgb : ndarray or SRGBCodes
        sRGB code values in [0, 1] (any shape).

    Returns
    -------
    ndarray, float32
        Linear RGB in [0, 1]. Computed through a 16-bit look-up table built from
        colour-science's ``cctf_decoding``: exact for 8- and 16-bit photographs (an
        :class:`SRGBCodes` through that table of its own table: the same values).
    """
    if isinstance(rgb, SRGBCodes):
        return rgb.linear()
    return _decoding_lut()[_codes16(rgb)]


def _codes16(rgb: np.ndarray) -> np.ndarray:
    """sRGB code values in [0, 1] as 16-bit codes: scaled, rounded to nearest (ties to
    even, as ``np.rint``) and saturated to [0, 65535] (uint16); not-a-number and +inf
    give 0.

    Arrays of float32 or float64 go through OpenCV's saturating conversion in one pass
    (no float temporary; the codes of ``np.rint(np.clip(v, 0, 1) * 65535)`` for every
    finite value, tested); anything else through numpy.
    """
    values = np.asarray(rgb)
    if values.ndim and values.size and values.dtype in (np.float32, np.float64):
        flat = np.ascontiguousarray(values).reshape(-1, 1)
        return cv2.addWeighted(flat, 65535.0, flat, 0.0, 0.0,
                               dtype=cv2.CV_16U).reshape(values.shape)
    codes = np.array(values, dtype=np.result_type(values, np.float32))
    np.clip(codes, 0.0, 1.0, out=codes)
    codes *= 65535.0
    return np.rint(codes, out=codes).astype(np.uint16)


def linear_to_srgb(linear: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Encode linear RGB to sRGB code values in [0, 1] (IEC 61966-2-1 [1]).

    The piecewise transfer function of the standard (12.92 x below 0.0031308, else
    1.055 x^(1/2.4) - 0.055) evaluated in float32 for speed; it agrees with colour-science's
    ``cctf_encoding`` within 1e-6 (tested). Made a band of :data:`BAND_PIXELS` values at
    a time, into ``out`` when given (a C-contiguous float32 array of ``linear``'s shape,
    which may be ``linear`` itself: encoded in place).
    """
    x = np.asarray(linear, dtype=np.float32)
    if out is None:
        out = np.empty(x.shape, np.float32)
    flat, encoded = x.reshape(-1), out.reshape(-1)
    for start in range(0, flat.size, BAND_PIXELS):
        part = encoded[start:start + BAND_PIXELS]
        np.clip(flat[start:start + BAND_PIXELS], 0.0, 1.0, out=part)
        dark = np.flatnonzero(part <= np.float32(0.0031308))  # the linear segment
        dark_values = part[dark] * np.float32(12.92)
        cv2.pow(part, 1 / 2.4, dst=part)  # vectorised (SIMD) power
        part *= np.float32(1.055)
        part -= np.float32(0.055)
        part[dark] = dark_values
    return out


def srgb_with_linear_gains(rgb: np.ndarray | SRGBCodes, gains: np.ndarray
                           ) -> np.ndarray | SRGBCodes:
    """An sRGB photo whose linear channels are multiplied by ``gains`` (e.g. a follow-up's
    colour brought to its baseline's), in sRGB code values.

    The same values as ``linear_to_srgb(srgb_to_linear(rgb) * gains)`` (float32), in one
    look-up per pixel: each channel's mapping of the 16-bit codes of
    :func:`srgb_to_linear` through its gain and :func:`linear_to_srgb` is tabulated once.

    Parameters
    ----------
    rgb : (..., 3) ndarray or SRGBCodes
        sRGB code values in [0, 1].
    gains : (3,) array_like
        Linear gain of each channel.

    Returns
    -------
    (..., 3) float32 ndarray, or SRGBCodes (the same codes, a new table) for SRGBCodes
    """
    table = linear_to_srgb(_decoding_lut()[None, :]
                           * np.asarray(gains, np.float32).reshape(3, 1))  # (3, 65536)
    if isinstance(rgb, SRGBCodes):  # a new table of the same codes
        return SRGBCodes(rgb.codes, np.stack([table[c][_codes16(rgb.table[c])]
                                              for c in range(3)]))
    codes = _codes16(rgb)
    out = np.empty(codes.shape, np.float32)
    for channel in range(3):  # each channel through its own table
        out[..., channel] = table[channel][codes[..., channel]]
    return out


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB -> CIELAB (D65), fast path.

    Parameters
    ----------
    linear : (H, W, 3) ndarray
        Linear RGB in [0, 1].

    Returns
    -------
    (H, W, 3) float32 ndarray
        L* in [0, 100], a*, b*. OpenCV's float32 ``COLOR_RGB2Lab`` on linear input uses the
        sRGB primaries and D65 white [1, 2]; it agrees with :func:`linear_to_lab_reference`
        within 0.5 units (tested).
    """
    lin = np.ascontiguousarray(linear, dtype=np.float32)
    return cv2.cvtColor(lin, cv2.COLOR_LRGB2Lab)


def linear_to_lab_reference(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB -> XYZ -> CIELAB (D65) with colour-science's published definitions [1, 2]."""
    xyz = colour.RGB_to_XYZ(np.asarray(linear, dtype=np.float64), _SRGB,
                            apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, _D65)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65) -> linear sRGB with colour-science [1, 2] (used to build phantoms)."""
    xyz = colour.Lab_to_XYZ(np.asarray(lab, dtype=np.float64), _D65)
    return colour.XYZ_to_RGB(xyz, _SRGB, apply_cctf_encoding=False)


def erythema_index(linear: np.ndarray) -> np.ndarray:
    """Erythema index EI = 100 * log10(R / G) on linear RGB [3, 4].

    The two-band reflectance index of Diffey et al. [3] in the camera form of
    Yamamoto et al. [4]. Invariant to a uniform change of exposure.

    Parameters
    ----------
    linear : (..., 3) ndarray
        Linear RGB.

    Returns
    -------
    ndarray, float32
        EI per pixel (dimensionless index units).
    """
    ratio = np.maximum(linear[..., 0], _EPS)  # only R and G: no copy of all three
    ratio /= np.maximum(linear[..., 1], _EPS)
    return _scaled_log10(ratio.astype(np.float32, copy=False), 100.0)


def melanin_index(linear: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Melanin index MI = 100 * log10(1 / R) on linear RGB [3, 4]; with ``where`` (a mask of
    ``linear``'s shape without its channels) only of its pixels, in the image's order.

    Returns
    -------
    ndarray, float32
        MI per pixel (dimensionless index units); grows with pigmentation. (N,) with
        ``where``.
    """
    if where is None:
        index = np.maximum(linear[..., 0], _EPS)
    else:  # R of the pixels of where (a copy): the index made in it
        index = linear[..., 0][where]
        np.maximum(index, _EPS, out=index)
    return _scaled_log10(index.astype(np.float32, copy=False), -100.0)  # one array of R's size


def ita_degrees(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Individual typology angle ITA° = atan2(L* - 50, b*) * 180 / pi [5].

    ``atan2`` keeps the angle defined when b* is near 0. Bands [5]: > 55 very light,
    41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown, < -30 dark.

    Returns
    -------
    ndarray
        ITA in degrees.
    """
    return np.degrees(np.arctan2(np.asarray(L) - 50.0, np.asarray(b)))


def optical_density(linear: np.ndarray) -> np.ndarray:
    """Apparent optical density OD = -log10(linear RGB), per channel (float32)."""
    return _scaled_log10(np.maximum(np.asarray(linear, dtype=np.float32), np.float32(_EPS)),
                         -1.0)


def _scaled_log10(values: np.ndarray, factor: float) -> np.ndarray:
    """``factor`` x log10 of positive float32 ``values``, made in their place (OpenCV's
    vectorised natural logarithm, times factor / ln 10)."""
    flat = values.reshape(values.shape[0], -1) if values.ndim > 1 else values[None]
    cv2.log(flat, flat)
    flat *= np.float32(factor / np.log(10.0))
    return flat.reshape(np.shape(values))


#: Ridge weight on the shading term of :func:`unmixing_matrix` (relative to the largest
#: channel weight): small enough to leave well-exposed skin unchanged, large enough that a
#: channel near the noise floor (blue on dark skin) cannot push noise into the pigments.
SHADING_RIDGE = 0.02


def unmixing_matrix(channel_weights: np.ndarray | None = None) -> np.ndarray:
    """Matrix taking optical density (R, G, B) to (melanin, haemoglobin, shading) densities.

    Without weights it is the inverse of the basis [``OD_MELANIN``, ``OD_HAEMOGLOBIN``,
    (1, 1, 1)] (exact unmixing, Tsumura et al. [6]). With ``channel_weights`` it is the
    weighted least-squares solution with a ridge of :data:`SHADING_RIDGE` on the shading
    term: (A^T W A + R)^-1 A^T W. The weight of a channel should be its expected reflectance
    squared (the variance of an optical density is ~ (noise / reflectance)^2).

    Returns
    -------
    (3, 3) float32 ndarray
    """
    basis = np.stack([OD_MELANIN, OD_HAEMOGLOBIN, np.ones(3)], axis=1)
    if channel_weights is None:
        return np.linalg.inv(basis).astype(np.float32)
    w = np.asarray(channel_weights, dtype=np.float64)
    w = np.diag(w / w.max())
    ridge = np.diag([0.0, 0.0, SHADING_RIDGE])
    return np.linalg.solve(basis.T @ w @ basis + ridge, basis.T @ w).astype(np.float32)


def chromophore_densities(od: np.ndarray, channel_weights: np.ndarray | None = None
                          ) -> np.ndarray:
    """Split optical density into melanin, haemoglobin and shading components.

    Each pixel's OD is modelled, after Tsumura et al. [6], as a sum of a melanin density
    times :data:`OD_MELANIN`, a haemoglobin density times :data:`OD_HAEMOGLOBIN` and a
    grey shading term (equal in every channel: illumination and shadow), solved with
    :func:`unmixing_matrix`. The haemoglobin density is therefore insensitive to exposure
    and shading and, to first order, to melanin.

    Parameters
    ----------
    od : (..., 3) ndarray
        Optical density from :func:`optical_density`.
    channel_weights : (3,) array-like, optional
        Reliability of the R, G, B channels (see :func:`unmixing_matrix`).

    Returns
    -------
    (..., 3) float32 ndarray
        Densities (melanin, haemoglobin, shading) in OD units of the G channel.
    """
    return np.asarray(od, dtype=np.float32) @ unmixing_matrix(channel_weights).T


def channel_gains(reference_linear: np.ndarray, linear: np.ndarray,
                  mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel gains that bring ``linear`` to the colour of ``reference_linear``.

    The median over ``mask`` of the per-channel ratio reference / image, both in linear RGB.
    Used to normalise a follow-up photo to its baseline without a colour chart: ``mask``
    is skin that is unaffected in both visits, registered (same skin in both arrays). Exposure
    and white balance are per-channel gains on linear RGB (von Kries), so their drift
    cancels; a real change of the skin's colour over ``mask`` would cancel too, which is why
    only unaffected skin is used (see README, "Without a chart").

    Parameters
    ----------
    reference_linear, linear : (H, W, 3) or (N, 3) ndarray
        Registered linear RGB images, or samples of them taken at the same places.
    mask : (H, W) bool ndarray, optional
        Where to take the ratios (default: everywhere).

    Returns
    -------
    (3,) float64 ndarray
        Multiply ``linear`` by these to match the reference (ones when ``mask`` is empty).
    """
    ref, img = np.asarray(reference_linear), np.asarray(linear)
    if mask is not None:
        ref, img = ref[mask], img[mask]
    ref = ref.reshape(-1, 3).astype(np.float64)
    img = img.reshape(-1, 3).astype(np.float64)
    ok = (img > 1e-4).all(axis=1) & (ref > 1e-4).all(axis=1)
    if not ok.any():
        return np.ones(3)
    return np.median(ref[ok] / img[ok], axis=0)


#: Pixels per band of rows in which :attr:`ColourPlanes.densities` are made (each pixel's
#: are its own: the same values as made whole).
BAND_PIXELS = 1 << 20


class ColourPlanes:
    """The colour representations of one photograph, each computed once, on first use.

    Parameters
    ----------
    srgb : (H, W, 3) float32 ndarray or SRGBCodes
        sRGB code values in [0, 1] as returned by :func:`skinmetrics.io.read_image` (the
        linear RGB of :class:`SRGBCodes` is looked up from its codes).

    Attributes
    ----------
    srgb : (H, W, 3) float32 ndarray or SRGBCodes
        The photo as given.
    linear, lab, densities : ndarray
        Linear RGB, CIELAB (D65) and (melanin, haemoglobin, shading) densities, all
        (H, W, 3) float32. The densities are unmixed from the optical density with channel
        weights from the median reflectance of the central quarter of the image.
    luminance_density, erythema_index, melanin_index : ndarray
        -log10 Y, :func:`erythema_index` and :func:`melanin_index`, (H, W) float32.

    Every representation but ``linear`` is made a band of rows at a time from the linear
    RGB of the band (:meth:`linear_of`): from :class:`SRGBCodes` no whole linear RGB (144 MB
    at 12 MP) is made unless ``linear`` itself is asked for.
    """

    def __init__(self, srgb: np.ndarray):
        self.srgb = as_photo(srgb, np.float32)
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, name: str, make) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def shape(self) -> tuple[int, int]:
        return self.srgb.shape[:2]

    @property
    def made(self) -> tuple[str, ...]:
        """The names of the representations computed and held so far (e.g. ``"lab"``)."""
        return tuple(self._cache)

    def release(self, keep: tuple[str, ...] = ()) -> None:
        """Forget the representations computed so far but those named in ``keep`` (e.g.
        ``("linear", "lab")``; the others are computed again when needed): a photo kept in
        memory, e.g. a baseline for its follow-ups, then holds only its sRGB."""
        self._cache = {k: v for k, v in self._cache.items() if k in keep}

    def forget(self, name: str) -> None:
        """Forget the representation ``name`` (e.g. ``"lab"`` after its last use: a 12 MP
        photo's CIELAB is 144 MB); it is computed again when needed."""
        self._cache.pop(name, None)

    @property
    def linear(self) -> np.ndarray:
        return self._get("linear", lambda: srgb_to_linear(self.srgb))

    def linear_of(self, key) -> np.ndarray:
        """Linear RGB of the pixels ``key`` selects (rows, a box, a mask): looked up from
        :class:`SRGBCodes` (no whole linear RGB is made), else of the whole :attr:`linear`
        (made once and kept: a float photo is as large)."""
        if isinstance(self.srgb, SRGBCodes) and "linear" not in self._cache:
            return self.srgb.linear(key)
        return self.linear[key]

    def _bands(self) -> list[slice]:
        """The photo's rows in bands of about :data:`BAND_PIXELS` pixels (at least a row)."""
        height, width = self.shape
        step = max(1, BAND_PIXELS // width)
        return [slice(top, top + step) for top in range(0, height, step)]

    def _by_bands(self, function, channels: int) -> np.ndarray:
        """``function`` of the linear RGB, per pixel, made a band of :data:`BAND_PIXELS`
        pixels at a time (:meth:`linear_of`): the same values as made whole."""
        height, width = self.shape
        out = np.empty((height, width, channels) if channels > 1 else (height, width),
                       np.float32)
        for band in self._bands():
            out[band] = function(self.linear_of(band))
        return out

    @property
    def lab(self) -> np.ndarray:
        return self._get("lab", lambda: self._by_bands(linear_to_lab, 3))

    @property
    def lightness(self) -> np.ndarray:
        """CIELAB L* of every pixel, (H, W) float32: :attr:`lab`'s first channel when CIELAB
        is held, else made a band at a time without its a* and b* (a third of the memory)."""
        if "lab" in self._cache:
            return self._cache["lab"][..., 0]
        return self._get("lightness", lambda: self._by_bands(
            lambda linear: linear_to_lab(linear)[..., 0], 1))

    def of_lab(self, *functions: Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
        """Per-pixel ``functions`` of CIELAB (each maps an (h, w, 3) CIELAB band to an
        (h, w) array), over the whole photo: from :attr:`lab` when it is held, else a band
        of rows at a time, making no whole CIELAB (e.g. L* and a bool test of a* and b*:
        48 + 12 MB at 12 MP instead of 144)."""
        if "lab" in self._cache:
            return [function(self._cache["lab"]) for function in functions]
        out: list[np.ndarray] = []
        for band in self._bands():
            lab = linear_to_lab(self.linear_of(band))
            for k, function in enumerate(functions):
                values = function(lab)
                if len(out) <= k:
                    out.append(np.empty(self.shape, values.dtype))
                out[k][band] = values
        return out

    def lab_means(self, *masks: np.ndarray, keep_lightness: bool = False
                  ) -> list[np.ndarray]:
        """Mean CIELAB (L*, a*, b*) over each of ``masks``, (3,) float64 (NaN over an empty
        mask), summed in double precision (:func:`skinmetrics.filters.masked_mean`): over
        :attr:`lab` when it is held, else a band of rows at a time, making no whole CIELAB;
        with ``keep_lightness``, :attr:`lightness` is kept from the same conversion."""
        if "lab" in self._cache:
            return [masked_mean(self._cache["lab"], m) if m.any() else np.full(3, np.nan)
                    for m in masks]
        lightness = (np.empty(self.shape, np.float32)
                     if keep_lightness and "lightness" not in self._cache else None)
        sums, counts = np.zeros((len(masks), 3)), np.zeros(len(masks))
        for band in self._bands():
            parts = [m[band] for m in masks]
            n = [int(np.count_nonzero(part)) for part in parts]
            if any(n) or lightness is not None:
                lab = linear_to_lab(self.linear_of(band))
                if lightness is not None:
                    lightness[band] = lab[..., 0]
                for k, (part, count) in enumerate(zip(parts, n, strict=True)):
                    if count:
                        sums[k] += masked_mean(lab, part) * count
                        counts[k] += count
        if lightness is not None:
            self._cache["lightness"] = lightness
        return [total / count if count else np.full(3, np.nan)
                for total, count in zip(sums, counts, strict=True)]

    @property
    def luminance_density(self) -> np.ndarray:
        """-log10 of relative luminance Y (IEC 61966-2-1 weights); (H, W) float32."""
        luminance = _SRGB.matrix_RGB_to_XYZ[1].astype(np.float32)
        return self._get("luminance_density", lambda: self._by_bands(
            lambda linear: optical_density(linear @ luminance), 1))

    @property
    def erythema_index(self) -> np.ndarray:
        """:func:`erythema_index` of every pixel, (H, W) float32."""
        return self._get("erythema_index", lambda: self._by_bands(erythema_index, 1))

    @property
    def melanin_index(self) -> np.ndarray:
        """:func:`melanin_index` of every pixel, (H, W) float32."""
        return self._get("melanin_index", lambda: self._by_bands(melanin_index, 1))

    @property
    def densities(self) -> np.ndarray:
        weights = self.channel_weights  # from the optical density of a band at a time
        return self._get("densities", lambda: self._by_bands(
            lambda linear: chromophore_densities(optical_density(linear), weights), 3))

    @property
    def channel_weights(self) -> np.ndarray:
        """Reliability of the R, G, B channels for the unmixing: the median reflectance of
        the central quarter of the image, squared; (3,) float64."""
        def make():
            h, w = self.shape
            centre = self.linear_of((slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)))
            centre = centre.reshape(-1, 3)
            return np.maximum(median(centre, axis=0), 1e-4) ** 2
        return self._get("channel_weights", make)

    @property
    def exact_shading(self) -> np.ndarray:
        """Shading term of the exact (unweighted) unmixing, (H, W) float32 OD: made from
        :attr:`densities` (the weighted unmixing is invertible, so optical density is
        its inverse times the densities), not kept."""
        weighted = unmixing_matrix(self.channel_weights).astype(np.float64)
        row = unmixing_matrix().astype(np.float64)[2] @ np.linalg.inv(weighted)
        return self.densities @ row.astype(np.float32)

    def densities_with_shading(self, shading: np.ndarray) -> np.ndarray:
        """Densities (melanin, haemoglobin, shading) with a known ``shading`` (OD, (H, W))
        taken out as grey before the weighted unmixing and added back to its shading term
        (not cached). The unmixing is linear, so this is :attr:`densities` minus
        ``shading`` times what the weighted unmixing makes of a unit of grey, plus
        ``shading`` in the shading term. Made in the place of :attr:`densities`, which is
        then no longer kept (made again when next used): one (H, W, 3) array at a time."""
        leak = unmixing_matrix(self.channel_weights) @ np.ones(3, np.float32)
        leak[2] -= 1.0
        out = self.densities
        self.forget("densities")
        grey = np.asarray(shading, np.float32)
        for c in range(3):  # channel by channel: one (H, W) temporary
            out[..., c] += grey * -leak[c]
        return out
