"""Synthetic cheek close-ups (phantoms) with exact ground-truth masks.

A phantom is rendered in optical density, the way light is absorbed in skin: every
pixel's density is a base value plus melanin times a melanin spectrum plus haemoglobin
times a haemoglobin spectrum plus a grey shading term (the model of Tsumura et al. 1999,
see :mod:`skinmetrics.colour`). The spectra are perturbed per phantom so that a measurer
never knows them exactly. On top of the skin come the lesions, each drawn from a shape
whose inside is the ground truth:

* erythema patches: irregular blobs of extra haemoglobin (radius 1.5-5 mm, soft edge);
* pigmented spots: irregular blobs of extra melanin (diameter 0.6-4 mm);
* microcrusts: dark brown discs 0.1-0.4 mm across on a jittered grid (fractional CO2
  laser pattern, pitch 0.7-1.1 mm), a few of them touching a neighbour;
* pores: small grey (shadowed) openings 0.08-0.3 mm across.

Confounders: skin tone (CIELAB L* 30-75), low-frequency mottling of melanin and blood,
fine texture, an illumination gradient and fall-off, a specular highlight that clips,
background cloth beyond the cheek's edge, hair strands, optical blur, signal-dependent
sensor noise, 8-bit sRGB quantisation and JPEG compression.

Ground truth (``Phantom.masks``): ``roi`` is skin that is not hair, background or glare
(clipped, or specular light adding more than 58 % to the skin's own); each lesion mask is
its shapes' inside within ``roi``. ``Phantom.truth`` holds
the counts and areas derived from them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi

from .colour import (
    OD_HAEMOGLOBIN,
    OD_MELANIN,
    lab_to_linear,
    linear_to_lab_reference,
    linear_to_srgb,
    srgb_to_linear,
)
from .synthetic_chart import render_chart

__all__ = [
    "Phantom",
    "make_phantom",
    "VISIT_COURSE",
    "write_visit_set",
    "LAYERS",
    "capture",
    "common_truth",
    "followup_to_baseline",
    "paint_erythema",
]

LAYERS = ("erythema", "microcrust", "pore", "pigment")
#: Extra canvas around a photo taken with a ``camera`` pose, as a fraction of its larger side.
CAMERA_MARGIN = 0.08
#: Patch pitch of a rendered chart as a multiple of its patch size (render_chart's gap).
CHART_PITCH_FACTOR = 1.15

_BASE_OD = np.array([0.10, 0.17, 0.24])
_BLOOD_OD = 0.12  # haemoglobin density of unaffected skin

#: Laser-recovery course used by ``skinmetrics demo`` and sample_images: per visit day,
#: the erythema patch radius scale, the fraction of microcrusts left, the fraction of
#: pores visible and the pigmented-spot radius scale.
VISIT_COURSE = {
    0: dict(erythema=1.0, microcrust=1.0, pores=1.0, pigment=1.0),
    14: dict(erythema=0.75, microcrust=0.35, pores=0.93, pigment=0.92),
    28: dict(erythema=0.5, microcrust=0.08, pores=0.88, pigment=0.85),
}


@dataclass
class Phantom:
    """A rendered phantom and its ground truth.

    Attributes
    ----------
    image : (H, W, 3) uint8 ndarray
        sRGB image, as decoded after JPEG compression (or before it when jpeg_quality is None).
    jpeg : bytes or None
        The JPEG file itself.
    masks : dict of str -> (H, W) bool ndarray
        ``roi``, ``erythema``, ``microcrust``, ``pore``, ``pigment``.
    px_per_mm : float
        Scale of the image.
    truth : dict of str -> float
        Counts, areas (px, mm^2, % of roi) of every layer.
    params : dict
        The arguments the phantom was made with.
    scene_to_image : (2, 3) ndarray or None
        With a ``camera`` pose: the matrix from scene (canvas) pixels to photo pixels.
    object_labels : dict of str -> (H, W) int32 ndarray
        ``microcrust`` and ``pore`` label images (one label per drawn object, in the photo).
    """

    image: np.ndarray
    jpeg: bytes | None
    masks: dict[str, np.ndarray]
    px_per_mm: float
    truth: dict[str, float]
    params: dict = field(default_factory=dict)
    scene_to_image: np.ndarray | None = None
    object_labels: dict[str, np.ndarray] = field(default_factory=dict)


def _smooth_field(rng, shape, sigma_px, amplitude):
    """Gaussian random field with unit standard deviation times amplitude."""
    small = max(1.0, sigma_px / 4.0)
    sh = (max(4, int(shape[0] / small)), max(4, int(shape[1] / small)))
    f = ndi.gaussian_filter(rng.standard_normal(sh), sigma_px / small, mode="wrap")
    f = cv2.resize(f.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return amplitude * f / (f.std() + 1e-12)


def _blob(yy, xx, cy, cx, r, rng, wobble=0.15):
    """Signed distance (px, negative inside) to an irregular blob of mean radius r."""
    dy, dx = yy - cy, xx - cx
    rho = np.hypot(dy, dx)
    theta = np.arctan2(dy, dx)
    rt = np.ones_like(rho)
    for k in (2, 3, 4):
        rt += rng.uniform(-wobble, wobble) / (k - 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return rho - r * rt


def _window(shape, cy, cx, half):
    y0, y1 = max(0, int(cy - half)), min(shape[0], int(cy + half) + 2)
    x0, x1 = max(0, int(cx - half)), min(shape[1], int(cx + half) + 2)
    return (slice(y0, y1), slice(x0, x1)), np.mgrid[y0:y1, x0:x1].astype(np.float32)


def _soft_inside(sd, edge_px):
    """Smooth 1 -> 0 profile across the boundary (0.5 exactly on it)."""
    return 1.0 / (1.0 + np.exp(np.clip(sd / max(edge_px, 1e-3) * 4.0, -30, 30)))


def _skin_melanin_for_L(target_L, m_vec, h_vec):
    lo, hi = -0.3, 2.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        od = _BASE_OD + mid * m_vec + _BLOOD_OD * h_vec
        L = linear_to_lab_reference((10.0 ** -od)[None, None])[0, 0, 0]
        lo, hi = (mid, hi) if L > target_L else (lo, mid)
    return 0.5 * (lo + hi)


def make_phantom(
    shape: tuple[int, int] = (480, 640),
    px_per_mm: float = 25.0,
    skin_L: float = 60.0,
    seed: int = 0,
    *,
    erythema: float = 1.0,
    microcrust: float = 1.0,
    pores: float = 1.0,
    pigment: float = 1.0,
    capture_seed: int | None = None,
    jpeg_quality: int | None = 90,
    camera: tuple[float, float, float, float] | None = None,
    exposure_ev: float = 0.0,
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0),
    chart: tuple[float, float, float, float] | None = None,
) -> Phantom:
    """Render a cheek close-up with exact ground-truth masks.

    Parameters
    ----------
    shape : (int, int)
        Height and width in pixels.
    px_per_mm : float
        Image scale; lesion sizes are drawn in mm.
    skin_L : float
        CIELAB L* of unaffected skin (30 very dark - 75 very light).
    seed : int
        The "patient": skin, lesion positions and sizes. Visits of one patient share it.
    erythema, microcrust, pores, pigment : float
        Severity at this visit: erythema patch radius scale, fraction of the crust grid
        present, fraction of pores present, pigmented-spot radius scale (0 removes a layer).
    capture_seed : int, optional
        Noise, illumination and hair of this capture (defaults to ``seed``).
    jpeg_quality : int or None
        JPEG quality of the returned image; None leaves it uncompressed.
    camera : (shift_x, shift_y, rotation_deg, zoom), optional
        Capture pose: the scene is rendered on a canvas larger than the photo by
        :data:`CAMERA_MARGIN` on every side and the photo is cut from it, shifted by
        ``shift_x``, ``shift_y`` (fractions of the photo's width and height), rotated by
        ``rotation_deg`` and magnified by ``zoom`` about its centre. Visits of one patient
        given a camera (even ``(0, 0, 0, 1)``) share the same scene; ``Phantom.scene_to_image``
        holds the 2x3 matrix from canvas to photo pixels.
    exposure_ev, white_balance : float, (float, float, float)
        Exposure change in EV and per-channel (R, G, B) gains of this capture.
    chart : (x, y, patch_mm, angle_deg), optional
        A ColorChecker (24 patches, :func:`skinmetrics.synthetic_chart.render_chart`) in
        the field: its top-left corner at fractions ``x``, ``y`` of the scene, patches
        ``patch_mm`` wide (pitch ``CHART_PITCH_FACTOR * patch_mm``), rotated by
        ``angle_deg``. It lies in front of the skin and is lit like it; its pixels are not
        skin. ``Phantom.masks["chart"]`` holds them.

    Returns
    -------
    Phantom
    """
    out_shape = shape
    if camera is not None:
        margin = int(round(CAMERA_MARGIN * max(shape)))
        shape = (shape[0] + 2 * margin, shape[1] + 2 * margin)
    H, W = shape
    ppm = float(px_per_mm)
    rng = np.random.default_rng(seed)
    cap = np.random.default_rng(seed + 7919 if capture_seed is None else capture_seed + 104729)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)

    m_vec = OD_MELANIN * (1 + rng.normal(0, 0.04, 3))
    h_vec = OD_HAEMOGLOBIN * (1 + rng.normal(0, 0.06, 3))
    m0 = _skin_melanin_for_L(skin_L, m_vec, h_vec)

    # --- skin boundary: cheek edge on one side, background cloth beyond it ---------------
    side = rng.integers(4)
    t = (xx / W, yy / H, 1 - xx / W, 1 - yy / H)[side]
    s = (yy / H, xx / W, yy / H, xx / W)[side]
    edge = 0.12 + 0.06 * np.sin(2 * np.pi * (s * rng.uniform(0.4, 0.9) + rng.uniform()))
    skin = t > edge

    # --- chromophore maps ---------------------------------------------------------------
    mel = (m0 + _smooth_field(rng, shape, 2.5 * ppm, 0.03)
           + _smooth_field(rng, shape, 0.4 * ppm, 0.012))
    hb = _BLOOD_OD + _smooth_field(rng, shape, 3.0 * ppm, 0.02)  # mottling, SD well below patches
    grey = _smooth_field(rng, shape, 0.06 * ppm, 0.012)  # microrelief
    brown = np.zeros(shape, np.float32)  # crust material (melanin-like + blood + grey)

    masks = {k: np.zeros(shape, bool) for k in LAYERS}
    objects: dict[str, list] = {"microcrust": [], "pore": []}  # (window, inside) per object

    def random_centre():
        while True:
            cy, cx = rng.uniform(0.05, 0.95) * H, rng.uniform(0.05, 0.95) * W
            if skin[int(cy), int(cx)]:
                return cy, cx

    def add_blobs(target, mask, count, radius_mm, scale_factor, min_radius_mm, amp_range,
                  edge_mm, wobble):
        """Irregular soft-edged blobs added to a chromophore map; their inside is the truth."""
        for _ in range(count):
            cy, cx = random_centre()
            r = rng.uniform(*radius_mm) * ppm * scale_factor
            amp = rng.uniform(*amp_range)
            blob_rng = np.random.default_rng(rng.integers(1 << 31))
            if r < min_radius_mm * ppm:
                continue
            sl, (wy, wx) = _window(shape, cy, cx, 1.6 * r + ppm)
            sd = _blob(wy, wx, cy, cx, r, blob_rng, wobble)
            target[sl] += amp * _soft_inside(sd, edge_mm * ppm)
            mask[sl] |= sd < 0

    add_blobs(hb, masks["erythema"], rng.integers(2, 5), (1.5, 5.0), erythema, 0.3,
              (0.12, 0.25), 0.5, 0.25)
    add_blobs(mel, masks["pigment"], rng.integers(3, 7), (0.3, 2.0), pigment, 0.25,
              (0.18, 0.35), 0.15, 0.2)

    # microcrust grid over a rotated rectangular treatment zone
    pitch = rng.uniform(0.7, 1.1) * ppm
    ang = rng.uniform(-0.3, 0.3)
    zone_h, zone_w = rng.uniform(0.35, 0.6) * H, rng.uniform(0.35, 0.6) * W
    zy, zx = rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W
    ca, sa = np.cos(ang), np.sin(ang)
    crusts = []
    for i in np.arange(-zone_h / 2, zone_h / 2, pitch):
        for j in np.arange(-zone_w / 2, zone_w / 2, pitch):
            cy = zy + i * ca - j * sa + rng.normal(0, 0.08 * ppm)
            cx = zx + i * sa + j * ca + rng.normal(0, 0.08 * ppm)
            d = rng.uniform(0.1, 0.4) * ppm
            keep = rng.uniform()
            crusts.append((cy, cx, d / 2, keep))
            if rng.uniform() < 0.06:  # a touching neighbour
                d2 = rng.uniform(0.15, 0.35) * ppm
                a2 = rng.uniform(0, 2 * np.pi)
                dist = 0.9 * (d + d2) / 2
                crusts.append((cy + dist * np.sin(a2), cx + dist * np.cos(a2), d2 / 2, keep))
    crust_amp = rng.uniform(0.8, 1.2)
    for cy, cx, r, keep in crusts:
        if keep >= microcrust or not (0 <= cy < H and 0 <= cx < W) or not skin[int(cy), int(cx)]:
            continue
        sl, (wy, wx) = _window(shape, cy, cx, r + 4)
        sd = np.hypot(wy - cy, wx - cx) - r
        brown[sl] = np.maximum(brown[sl], crust_amp * _soft_inside(sd, 0.06 * ppm))
        masks["microcrust"][sl] |= sd < 0
        objects["microcrust"].append((sl, sd < 0))

    # pores: grey (shadowed) openings, kept apart by 0.5 mm; a crust covers the pores under
    # and right beside it (within 0.1 mm of its edge), which are then neither drawn nor counted
    crust_distance = ndi.distance_transform_edt(~masks["microcrust"])
    n_pores = int(rng.uniform(40, 90) * (H * W) / (ppm * ppm) / 100.0)
    pts = np.column_stack([rng.uniform(0, H, n_pores), rng.uniform(0, W, n_pores)])
    keep_p = rng.uniform(size=n_pores)
    sizes = rng.uniform(0.08, 0.3, n_pores) * ppm
    depth = rng.uniform(0.15, 0.35, n_pores)
    taken = np.zeros(shape, bool)
    for (cy, cx), kp, d, dep in zip(pts, keep_p, sizes, depth, strict=True):
        iy, ix = int(cy), int(cx)
        r = max(d / 2, 0.6)
        if (kp >= pores or not skin[iy, ix] or taken[iy, ix]
                or crust_distance[iy, ix] < r + 0.1 * ppm):
            continue
        sl, (wy, wx) = _window(shape, cy, cx, r + 0.5 * ppm)
        rho = np.hypot(wy - cy, wx - cx)
        taken[sl] |= rho < 0.25 * ppm + r
        grey[sl] += dep * _soft_inside(rho - r, 0.05 * ppm)
        masks["pore"][sl] |= rho < r
        objects["pore"].append((sl, rho < r))

    # --- render optical density -> linear reflectance -----------------------------------
    od = (_BASE_OD[None, None, :] + mel[..., None] * m_vec + hb[..., None] * h_vec
          + grey[..., None] + brown[..., None] * (0.35 * m_vec + 0.6 * h_vec + 0.25))
    refl = (10.0 ** -od).astype(np.float32)

    bg_lab = [(22, 3, -14), (30, -6, 4), (12, 0, 0)][rng.integers(3)]
    bg = lab_to_linear(np.array(bg_lab, float)).clip(1e-4, 1).astype(np.float32)
    bg_tex = 1 + _smooth_field(cap, shape, 0.5 * ppm, 0.08)
    refl = np.where(skin[..., None], refl, bg * bg_tex[..., None])

    # hair strands (part of this capture)
    hair = np.zeros(shape, np.float32)
    for _ in range(cap.integers(2, 6)):
        p = cap.uniform(0, 1, (4, 2)) * [H, W]
        tt = np.linspace(0, 1, 400)[:, None]
        curve = ((1 - tt) ** 3 * p[0] + 3 * (1 - tt) ** 2 * tt * p[1]
                 + 3 * (1 - tt) * tt ** 2 * p[2] + tt ** 3 * p[3])
        width = max(1, int(round(cap.uniform(0.05, 0.1) * ppm)))
        cv2.polylines(hair, [np.round(curve[:, ::-1] * 4).astype(np.int32)], False, 1.0,
                      thickness=width, lineType=cv2.LINE_AA, shift=2)
    hair_col = lab_to_linear(np.array([cap.uniform(12, 22), 3, 6], float)).clip(1e-4, 1)
    refl = refl * (1 - hair[..., None]) + hair[..., None] * hair_col.astype(np.float32)

    # a colour chart held in the field (in front of skin and hair)
    chart_mask = None
    if chart is not None:
        x_frac, y_frac, patch_mm, angle = chart
        refl, chart_truth = render_chart(refl, (x_frac * W, y_frac * H), patch_mm * ppm, angle)
        chart_mask = chart_truth.mask
        skin &= ~chart_mask
        hair[chart_mask] = 0

    # illumination: gradient, fall-off, specular highlight
    gy, gx = cap.normal(0, 1, 2)
    g = cap.uniform(0.2, 0.35) / np.hypot(gy, gx)
    illum = (1 + g * (gy * (yy / H - 0.5) + gx * (xx / W - 0.5))) * (
        1 - 0.15 * ((yy / H - 0.5) ** 2 + (xx / W - 0.5) ** 2))
    exposure = min(1.0, 0.85 / float(np.percentile(refl.max(axis=2)[skin] * illum[skin], 99.5)))
    lin = refl * (illum * exposure)[..., None]
    hy, hx = random_centre()
    spec = cap.uniform(0.5, 0.9) * np.exp(-((yy - hy) ** 2 + (xx - hx) ** 2)
                                          / (2 * (cap.uniform(0.4, 0.8) * ppm) ** 2))
    diffuse_y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    lin = lin + spec[..., None]
    # glare: where surface reflection adds more than 58 % (0.2 in log10) to the skin's own
    # light, its colour cannot be measured; such pixels (and clipped ones) are not roi
    glare = spec > 0.585 * diffuse_y

    # capture pose, exposure and white balance
    labels = {name: _object_labels(shape, objs) for name, objs in objects.items()}
    scene_to_image = None
    if camera is not None:
        scene_to_image = _camera_matrix(shape, out_shape, camera)

        def warp(a, flags=cv2.INTER_NEAREST):
            return cv2.warpAffine(a, scene_to_image, out_shape[::-1], flags=flags,
                                  borderMode=cv2.BORDER_REFLECT)

        # the light is sampled at the photo's pixels by Lanczos interpolation: bilinear
        # interpolation would blur every posed capture (by a quarter of the amplitude of
        # pixel-scale detail), an identity pose not at all, and bias the comparison of
        # visits towards fewer small objects in the posed one
        lin = warp(lin, cv2.INTER_LANCZOS4)
        skin, glare = warp(skin.view(np.uint8)) > 0, warp(glare.view(np.uint8)) > 0
        if chart_mask is not None:
            chart_mask = warp(chart_mask.view(np.uint8)) > 0
        hair = warp(hair, cv2.INTER_LINEAR)
        masks = {k: warp(v.view(np.uint8)) > 0 for k, v in masks.items()}
        labels = {k: warp(v) for k, v in labels.items()}
    lin = lin * (2.0 ** exposure_ev) * np.asarray(white_balance, np.float32)
    glare |= (lin >= 1.0).any(axis=2)

    img, jpeg = capture(lin, cap, jpeg_quality)

    roi = skin & (hair < 0.5) & ~glare
    masks = {k: v & roi for k, v in masks.items()}
    masks["roi"] = roi
    if chart_mask is not None:
        masks["chart"] = chart_mask
    params = dict(shape=list(out_shape), px_per_mm=ppm, skin_L=skin_L, seed=seed,
                  erythema=erythema, microcrust=microcrust, pores=pores, pigment=pigment,
                  capture_seed=capture_seed, jpeg_quality=jpeg_quality,
                  camera=None if camera is None else list(camera), exposure_ev=exposure_ev,
                  white_balance=list(white_balance), chart=None if chart is None else list(chart))
    # a crust or pore counts when at least half of it is visible skin (not under hair/glare)
    zoom2 = 1.0 if camera is None else camera[3] ** 2
    counts = {}
    for name, objs in objects.items():
        visible = np.bincount(labels[name][roi], minlength=len(objs) + 1)[1:]
        sizes = np.array([inside.sum() for _, inside in objs]) * zoom2
        counts[name] = int(np.sum(2 * visible >= np.maximum(sizes, 1)))
    return Phantom(img, jpeg, masks, ppm, _truth(masks, counts, ppm), params, scene_to_image,
                   labels)


def paint_erythema(srgb: np.ndarray, centres_px: list[tuple[float, float]],
                   radii_px: list[float], density: float = 0.2, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Add erythema patches to a photograph (e.g. a real face): a phantom on real skin.

    Each patch is an irregular soft-edged blob of extra haemoglobin optical density, added
    in linear RGB as a transmittance ``10 ** -(d * OD_HAEMOGLOBIN)`` (the model the phantoms
    are rendered in); its inside is the truth.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        sRGB photo, float in [0, 1].
    centres_px : list of (row, col)
        Patch centres, pixels.
    radii_px : list of float
        Mean patch radii, pixels (a radius below 1 px adds no patch).
    density : float
        Extra haemoglobin density inside a patch (the phantoms use 0.12-0.25).
    seed : int
        Seed of the patch outlines (the same seed gives the same shapes, scaled by radius).

    Returns
    -------
    srgb : (H, W, 3) float32 ndarray
    mask : (H, W) bool ndarray
        Inside of the patches.
    """
    linear = srgb_to_linear(srgb)
    hb = np.zeros(linear.shape[:2], np.float32)
    mask = np.zeros(linear.shape[:2], bool)
    rng = np.random.default_rng(seed)
    for (cy, cx), r in zip(centres_px, radii_px, strict=True):
        blob_rng = np.random.default_rng(rng.integers(1 << 31))
        if r < 1:
            continue
        sl, (wy, wx) = _window(hb.shape, cy, cx, 1.6 * r + 4)
        sd = _blob(wy, wx, cy, cx, r, blob_rng, 0.25)
        hb[sl] += density * _soft_inside(sd, 0.1 * r)
        mask[sl] |= sd < 0
    absorb = 10.0 ** (-hb[..., None] * np.asarray(OD_HAEMOGLOBIN, np.float32))
    return linear_to_srgb(linear * absorb), mask


def capture(linear: np.ndarray, rng: np.random.Generator, jpeg_quality: int | None = 90
            ) -> tuple[np.ndarray, bytes | None]:
    """The camera: optical blur (Gaussian, sigma 0.6 px), signal-dependent sensor noise
    (variance 0.00015 x + 0.002^2), the sRGB transfer function (IEC 61966-2-1), 8 bits and
    JPEG.

    Parameters
    ----------
    linear : (H, W, 3) float32 ndarray
        Light reaching the sensor, linear RGB (1 = white).
    rng : numpy Generator
        Noise of this capture.
    jpeg_quality : int or None
        None leaves the image uncompressed.

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
        sRGB, as decoded from the JPEG.
    jpeg : bytes or None
    """
    lin = cv2.GaussianBlur(linear, (0, 0), 0.6)
    lin = lin + rng.standard_normal(lin.shape).astype(np.float32) * np.sqrt(
        0.00015 * np.clip(lin, 0, 1) + 0.002 ** 2)
    srgb = np.clip(lin, 0, 1)
    srgb = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * np.power(srgb, 1 / 2.4) - 0.055)
    img = np.round(srgb * 255).astype(np.uint8)
    if jpeg_quality is None:
        return img, None
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                          [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), buf.tobytes()


def _object_labels(shape, objects) -> np.ndarray:
    """Label image of drawn objects (1..N in drawing order; a later object wins overlaps)."""
    labels = np.zeros(shape, np.int32)
    for i, (sl, inside) in enumerate(objects, start=1):
        labels[sl][inside] = i
    return labels


def _camera_matrix(scene_shape, out_shape, camera) -> np.ndarray:
    """2x3 matrix taking scene (canvas) pixels to photo pixels for a capture pose."""
    shift_x, shift_y, rotation_deg, zoom = camera
    (sh, sw), (oh, ow) = scene_shape, out_shape
    centre = ((sw - 1) / 2 + shift_x * ow, (sh - 1) / 2 + shift_y * oh)
    m = cv2.getRotationMatrix2D(centre, rotation_deg, zoom)
    m[0, 2] += (ow - 1) / 2 - centre[0]
    m[1, 2] += (oh - 1) / 2 - centre[1]
    return m


def _truth(masks: dict[str, np.ndarray], counts: dict[str, int], ppm: float) -> dict[str, float]:
    """Counts and areas of every layer; blob layers are counted as connected regions."""
    roi_px = int(masks["roi"].sum())
    out: dict[str, float] = {"roi_area_px": roi_px, "roi_area_mm2": roi_px / ppm**2}
    for name in LAYERS:
        m = masks[name]
        area = int(m.sum())
        out[f"{name}_count"] = counts[name] if name in counts else int(ndi.label(m)[1])
        out[f"{name}_area_px"] = area
        out[f"{name}_area_mm2"] = area / ppm**2
        out[f"{name}_area_pct"] = 100.0 * area / max(roi_px, 1)
    return out


def followup_to_baseline(base: Phantom, follow: Phantom) -> np.ndarray:
    """The true map (2x3 affine) from the follow-up's pixel coordinates to the
    baseline's, of two captures of one scene rendered with a ``camera`` pose: what a
    registration should find."""
    to_scene = np.vstack([cv2.invertAffineTransform(follow.scene_to_image), [0, 0, 1]])
    return base.scene_to_image @ to_scene


def common_truth(base: Phantom, follow: Phantom, layer: str, kind: str,
                 compared: np.ndarray | None = None) -> tuple[float, float]:
    """A layer's true value in two captures of one scene, over the skin both show.

    The follow-up's truth is mapped into the baseline's frame with the two capture poses;
    the skin both show is ``roi`` (not hair, background, glare or clipped) in both, and
    within ``compared`` when it is given.

    Parameters
    ----------
    base, follow : Phantom
        Two captures of the same scene: the same ``seed``, both rendered with a ``camera``
        pose (``(0, 0, 0, 1)`` for none), which sets their ``scene_to_image``.
    layer : str
        One of :data:`LAYERS`.
    kind : str
        ``count`` (objects at least half inside that skin, as ``truth`` counts them),
        ``area`` (px, in the baseline's frame) or ``pct`` (% of that skin).
    compared : (H, W) bool ndarray, optional
        Skin in the follow-up's frame to which the comparison is restricted (e.g. the skin
        a measurement compared, ``masks/roi.png`` of an aligned follow-up).

    Returns
    -------
    baseline, follow_up : float
    """
    to_base = followup_to_baseline(base, follow)

    def warp(x: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(x, to_base, base.masks["roi"].shape[::-1],
                              flags=cv2.INTER_NEAREST)

    skin = follow.masks["roi"] if compared is None else follow.masks["roi"] & compared
    roi = base.masks["roi"] & (warp(skin.view(np.uint8)) > 0)
    values = []
    for ph, to_b in ((base, None), (follow, warp)):
        if kind == "count":
            labels = ph.object_labels[layer]
            labels = labels if to_b is None else to_b(labels)
            inside = np.bincount(labels[roi], minlength=labels.max() + 1)[1:]
            total = np.bincount(labels.ravel(), minlength=labels.max() + 1)[1:]
            values.append(float(np.sum((total > 0) & (2 * inside >= total))))
            continue
        mask = ph.masks[layer] if to_b is None else to_b(ph.masks[layer].view(np.uint8)) > 0
        area = float((mask & roi).sum())
        values.append(100 * area / roi.sum() if kind == "pct" else area)
    return values[0], values[1]


def write_visit_set(
    out_dir: str | Path,
    patients: int = 3,
    shape: tuple[int, int] = (900, 1200),
    px_per_mm: float = 30.0,
    course: dict[int, dict[str, float]] | None = None,
    jpeg_quality: int = 88,
    manifest: bool = False,
) -> list[dict]:
    """Write a laser-recovery visit set ``<patient>_day<NN>.jpg`` with its ground truth.

    Patients cover light, medium and dark skin. Writes ``ground_truth.csv`` (one row per
    photo, every truth value as a column) next to the photos and, with ``manifest``, a
    ``manifest.csv`` giving each photo's patient, visit, day and scale.

    Returns
    -------
    list of dict
        One row per photo: patient, day, file, and the truth values.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    course = course or VISIT_COURSE
    tones = np.linspace(72, 35, max(patients, 1))
    rows = []
    for p in range(patients):
        pid = f"P{p + 1:02d}"
        for day, sev in course.items():
            ph = make_phantom(shape, px_per_mm, float(tones[p]), seed=1000 + p,
                              capture_seed=day, jpeg_quality=jpeg_quality, **sev)
            name = f"{pid}_day{day:02d}.jpg"
            (out / name).write_bytes(ph.jpeg)
            rows.append(dict(patient=pid, day=day, file=name, px_per_mm=px_per_mm,
                             skin_L=round(float(tones[p]), 1), **ph.truth))
    with open(out / "ground_truth.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    if manifest:
        with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "patient", "visit", "day", "px_per_mm"])
            for r in rows:
                w.writerow([r["file"], r["patient"], f"day{r['day']:02d}", r["day"], px_per_mm])
    return rows
