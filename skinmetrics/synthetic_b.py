"""A second phantom family, written to break the assumptions of :mod:`skinmetrics.synthetic`.

Where the first family adds fixed optical-density vectors per channel, this one renders
skin spectrally, as two layers (Jacques 2013): an epidermis whose melanin absorbs twice
(light goes in and out) over a dermis whose diffuse reflectance follows from its blood
absorption and its reduced scattering,

    R(lambda) = T_epi(lambda)^2 * R_derm(lambda),
    T_epi = exp(-f_mel * mu_a_mel * d_epi),
    R_derm = exp(-A / sqrt(3 (1 + mu_s' / mu_a)))          (Jacques 1999, A = 7),

with mu_a_mel = 519 (lambda/500)^-3.5 /cm, mu_s' = 46 (lambda/500)^-1.42 /cm and a
bloodless baseline 7.84e7 lambda^-3.255 /cm (Jacques 2013, Table 2 and eqs. 5, 10), and
oxy-/deoxy-haemoglobin absorption drawn as Gaussian bands at their Soret and Q peaks
(415/542/577 nm and 430/555 nm, heights after Prahl's tabulated molar extinction). The
spectrum is integrated against Gaussian camera sensitivities (R 600, G 540, B 460 nm)
balanced on a white reflector. Lesions (all in mm, at 15-30 px/mm):

* erythema: 1-2 large diffuse patches (20-40 mm across, edges soft over 3-8 mm) covering
  3-40 % of the skin, plus 2-5 papules 1-3 mm; truth = extra blood above
  :data:`ERYTHEMA_VISIBLE_BLOOD` (clearly visible);
* pigment: 1-2 big dark nevi or seborrhoeic keratoses 5-12 mm with textured inside and an
  irregular (high-harmonic) border, plus a few 1-2 mm lentigines;
* microcrusts: dark-brown to red-brown (not red) discs 0.10-0.35 mm in a jittered laser
  grid with about 15 % of sites empty;
* pores: faint 40-120 /cm2, 0.06-0.2 mm, 0.5-8 % darker; only those at least
  :data:`VISIBLE_PORE_CONTRAST` darker and :data:`VISIBLE_PORE_MM` wide count as truth.

Confounders: optional dense curved (forearm-like) hair, uneven lighting (oblique gradient,
vignette and a soft shadow band), a phone-like camera (unsharp mask, noise, 4:2:0 JPEG).
Truth: ``roi`` is skin not under hair and not clipped; every layer's mask lies within it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from .colour import linear_to_lab_reference
from .synthetic import Phantom, _camera_matrix, _object_labels, _smooth_field, _truth, _window

__all__ = ["PhantomB", "make_phantom_b", "visit_series_b", "VISIT_COURSE_B",
           "VISIBLE_PORE_CONTRAST", "VISIBLE_PORE_MM", "ERYTHEMA_VISIBLE_BLOOD"]

#: A pore counts as truth when its centre is at least this much darker (fraction of light).
VISIBLE_PORE_CONTRAST = 0.03
#: ... and at least this wide (mm).
VISIBLE_PORE_MM = 0.08
#: Erythema truth: dermal blood volume fraction raised by at least this much (a* up by
#: about 2 on dark skin, L* 32, and 3 on light skin, L* 75: clearly visible redness).
ERYTHEMA_VISIBLE_BLOOD = 0.015
#: Recovery course per visit day: erythema blood scale, fraction of crusts left, pore
#: scale (unchanged), pigment melanin and radius scale.
VISIT_COURSE_B = {
    0: dict(erythema=1.0, microcrust=1.0, pores=1.0, pigment=1.0),
    14: dict(erythema=0.7, microcrust=0.4, pores=1.0, pigment=0.96),
    28: dict(erythema=0.45, microcrust=0.1, pores=1.0, pigment=0.92),
}

_NM = np.arange(400.0, 701.0, 10.0)
_MU_MEL = 519.0 * (_NM / 500.0) ** -3.5  # /cm, melanosome interior (Jacques 2013)
_MU_SCAT = 46.0 * (_NM / 500.0) ** -1.42  # /cm, dermis reduced scattering
_MU_BASE = 7.84e7 * _NM ** -3.255  # /cm, bloodless tissue


def _bands(peaks):
    return sum(h * np.exp(-0.5 * ((_NM - c) / w) ** 2) for c, w, h in peaks)


# whole-blood absorption (/cm, 150 g/l haemoglobin), Gaussian-band approximation
_MU_OXY = _bands([(415, 14, 2400), (542, 10, 250), (577, 9, 270), (500, 60, 40)]) + 0.8
_MU_DEOXY = _bands([(430, 12, 2900), (555, 18, 240), (500, 60, 40)]) + 3.0
_CAMERA = np.stack([np.exp(-0.5 * ((_NM - c) / w) ** 2) for c, w in
                    ((600, 35), (540, 35), (460, 28))])  # R, G, B sensitivities
_CAMERA /= _CAMERA.sum(axis=1, keepdims=True)  # a white reflector reads (1, 1, 1)
_D_EPI = 0.006  # cm, epidermis thickness
_OXY = 0.75  # blood oxygen saturation
_BASE_BLOOD = 0.02  # dermal blood volume fraction of unaffected skin
_EXPOSURE = 1.25  # camera exposure: linear value of a white reflector under the mean light


def skin_rgb(melanin: np.ndarray, blood: np.ndarray) -> np.ndarray:
    """Linear camera RGB of two-layer skin (see the module docstring).

    Parameters
    ----------
    melanin : ndarray
        Epidermal melanosome volume fraction (0-0.5).
    blood : ndarray
        Dermal blood volume fraction (0-0.3).

    Returns
    -------
    (..., 3) ndarray
        Linear RGB reflectance.

    References
    ----------
    S. L. Jacques, "Optical properties of biological tissues: a review", Phys. Med. Biol.
    58 (2013) R37; S. L. Jacques, "Quick analysis of optical spectra", OMLC (1999).
    """
    m, b = np.asarray(melanin, float)[..., None], np.asarray(blood, float)[..., None]
    mu_a = b * (_OXY * _MU_OXY + (1 - _OXY) * _MU_DEOXY) + (1 - b) * _MU_BASE
    r = np.exp(-2 * m * _MU_MEL * _D_EPI) * np.exp(-7.0 / np.sqrt(3 * (1 + _MU_SCAT / mu_a)))
    return r @ _CAMERA.T


# look-up table over (melanin, blood): rendering interpolates it
_LUT_MEL, _LUT_BLOOD = np.linspace(0, 0.6, 61), np.linspace(0, 0.3, 61)
_LUT = skin_rgb(*np.meshgrid(_LUT_MEL, _LUT_BLOOD, indexing="ij")).astype(np.float32)


def _render(mel: np.ndarray, blood: np.ndarray) -> np.ndarray:
    im = np.clip(mel / _LUT_MEL[-1] * (len(_LUT_MEL) - 1), 0, len(_LUT_MEL) - 1)
    ib = np.clip(blood / _LUT_BLOOD[-1] * (len(_LUT_BLOOD) - 1), 0, len(_LUT_BLOOD) - 1)
    return np.stack([ndi.map_coordinates(_LUT[..., c], [im, ib], order=1)
                     for c in range(3)], axis=-1).astype(np.float32)


def _melanin_for_L(target_L: float) -> float:
    lo, hi = 0.0, 0.6
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        L = linear_to_lab_reference(skin_rgb(mid, _BASE_BLOOD)[None, None] * _EXPOSURE)[0, 0, 0]
        lo, hi = (mid, hi) if L > target_L else (lo, mid)
    return 0.5 * (lo + hi)


def _ragged(wy, wx, cy, cx, r, rng, harmonics=7, wobble=0.12):
    """Signed distance (px) to a blob whose border has many harmonics (irregular)."""
    rho, theta = np.hypot(wy - cy, wx - cx), np.arctan2(wy - cy, wx - cx)
    rt = 1 + sum(rng.uniform(-wobble, wobble) / np.sqrt(k) * np.cos(k * theta + rng.uniform(0, 6.3))
                 for k in range(2, harmonics + 2))
    return rho - r * rt


def _sigmoid(sd, width):
    return 1 / (1 + np.exp(np.clip(4 * sd / max(width, 1e-3), -30, 30)))


@dataclass
class PhantomB(Phantom):
    """A family-b phantom: the fields of :class:`skinmetrics.synthetic.Phantom` (image,
    jpeg, masks ``roi``/``erythema``/``pigment``/``microcrust``/``pore``, px_per_mm, truth
    counts and areas in px, mm2 and % of roi, params, scene_to_image, object_labels of
    ``microcrust`` and ``pore``)."""


def make_phantom_b(shape: tuple[int, int] = (600, 800), px_per_mm: float = 20.0,
                   skin_L: float = 60.0, seed: int = 0, *, hair: bool = False,
                   erythema: float = 1.0, microcrust: float = 1.0, pores: float = 1.0,
                   pigment: float = 1.0, capture_seed: int | None = None,
                   camera: tuple[float, float, float, float] = (0, 0, 0, 1),
                   exposure_ev: float = 0.0,
                   white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   jpeg_quality: int | None = 85) -> PhantomB:
    """Render a family-b skin close-up with exact ground truth.

    Parameters
    ----------
    shape : (int, int)
        Photo height and width (px).
    px_per_mm : float
        Scale (family b is meant for 15-30 px/mm).
    skin_L : float
        CIELAB L* of unaffected skin (30-75).
    seed : int
        The skin and its lesions; visits of one skin share it.
    hair : bool
        Dense curved forearm-like hair (about 15 hairs per cm2).
    erythema, microcrust, pores, pigment : float
        This visit: blood scale of erythema, fraction of crusts left, fraction of pores
        present, melanin and radius scale of pigmented lesions.
    capture_seed : int, optional
        Noise, lighting and hair placement of this capture (default: ``seed``).
    camera : (shift_x, shift_y, rotation_deg, zoom)
        Pose: the scene is rendered 8 % larger on every side and the photo cut from it
        (as :func:`skinmetrics.synthetic.make_phantom`); ``scene_to_image`` holds the matrix.
    exposure_ev, white_balance : float, (float, float, float)
        Exposure change (EV) and R, G, B gains of this capture.
    jpeg_quality : int or None
        JPEG quality (4:2:0 chroma); None leaves the photo uncompressed.

    Returns
    -------
    PhantomB
    """
    out_shape, ppm = tuple(shape), float(px_per_mm)
    margin = int(round(0.08 * max(shape)))
    H, W = shape[0] + 2 * margin, shape[1] + 2 * margin
    rng = np.random.default_rng(seed)
    cap = np.random.default_rng(10007 * seed + 17 if capture_seed is None else capture_seed + 7)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    skin_area = H * W

    mel = (_melanin_for_L(skin_L) * (1 + _smooth_field(rng, (H, W), 4 * ppm, 0.06))
           + _smooth_field(rng, (H, W), 0.3 * ppm, 0.004))
    extra_blood = np.zeros((H, W), np.float32)
    blood = _BASE_BLOOD + _smooth_field(rng, (H, W), 5 * ppm, 0.002)
    masks = {k: np.zeros((H, W), bool) for k in ("erythema", "pigment", "microcrust", "pore")}

    # erythema: large diffuse patches with long soft edges, centres possibly off-frame,
    # placed so that together they cover from 3 % (of a scene too wide for that, half
    # what one patch can) up to 5-40 % of the scene; then small papules
    target = rng.uniform(0.05, 0.40)
    coarse = np.zeros(yy[::8, ::8].shape, np.float32)
    for _ in range(rng.integers(1, 3)):
        r, amp, edge = rng.uniform(10, 20) * ppm, rng.uniform(0.025, 0.05), rng.uniform(3, 8) * ppm
        for _ in range(50):  # placement searched on a coarse grid
            cy, cx = rng.uniform(-0.3, 1.3) * H, rng.uniform(-0.3, 1.3) * W
            state = rng.bit_generator.state
            trial = coarse + amp * _sigmoid(_ragged(yy[::8, ::8], xx[::8, ::8], cy, cx, r, rng,
                                                    3, 0.2), edge)
            least = min(0.03, 0.5 * np.pi * r**2 / (H * W))
            if least <= (trial >= ERYTHEMA_VISIBLE_BLOOD).mean() <= target:
                coarse, rng.bit_generator.state = trial, state
                extra_blood += amp * _sigmoid(_ragged(yy, xx, cy, cx, r, rng, 3, 0.2), edge)
                break
    for _ in range(rng.integers(2, 6)):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0.5, 1.5) * ppm
        sl, (wy, wx) = _window((H, W), cy, cx, 2 * r + ppm)
        extra_blood[sl] += rng.uniform(0.03, 0.06) * _sigmoid(_ragged(wy, wx, cy, cx, r, rng, 3),
                                                              0.4 * r)
    extra_blood *= erythema
    masks["erythema"] = extra_blood >= ERYTHEMA_VISIBLE_BLOOD
    blood = blood + extra_blood

    # pigment: big textured nevi / seborrhoeic keratoses, then a few lentigines
    texture = _smooth_field(rng, (H, W), 0.25 * ppm, 1.0)
    lesions = [(rng.uniform(2.5, 6.0), rng.uniform(0.15, 0.35), 0.5)
               for _ in range(rng.integers(1, 3))]
    lesions += [(rng.uniform(0.5, 1.0), rng.uniform(0.06, 0.12), 0.1)
                for _ in range(rng.integers(0, 4))]
    for radius_mm, amp, tex in lesions:
        cy, cx = rng.uniform(0.15, 0.85) * H, rng.uniform(0.15, 0.85) * W
        r = radius_mm * ppm * pigment
        if r < 1:
            continue
        sl, (wy, wx) = _window((H, W), cy, cx, 1.8 * r + ppm)
        sd = _ragged(wy, wx, cy, cx, r, np.random.default_rng(rng.integers(1 << 31)))
        mel[sl] += amp * pigment * (1 + tex * texture[sl]).clip(0.3) * _sigmoid(sd, 0.3 * ppm)
        masks["pigment"][sl] |= sd < 0

    # microcrusts: brown discs (a brown material over the skin) on a jittered laser grid
    crust_alpha, sites = np.zeros((H, W), np.float32), np.zeros((H, W), bool)
    crust_col = np.array([[0.05, 0.025, 0.015], [0.08, 0.03, 0.02]])[rng.integers(2)]
    crust_col = crust_col * rng.uniform(0.6, 1.3)  # dark brown / red-brown, linear RGB
    objects: dict[str, list] = {"microcrust": [], "pore": []}
    pitch, ang = rng.uniform(0.8, 1.4) * ppm, rng.uniform(-0.4, 0.4)
    zy, zx, half = rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.5)
    for i in np.arange(-half * H, half * H, pitch):
        for j in np.arange(-half * W, half * W, pitch):
            cy = zy + i * np.cos(ang) - j * np.sin(ang) + rng.normal(0, 0.1 * ppm)
            cx = zx + i * np.sin(ang) + j * np.cos(ang) + rng.normal(0, 0.1 * ppm)
            r, present, keep = rng.uniform(0.05, 0.175) * ppm, rng.uniform() > 0.15, rng.uniform()
            if not (present and 2 <= cy < H - 2 and 2 <= cx < W - 2):
                continue
            sl, (wy, wx) = _window((H, W), cy, cx, r + 3)
            sd = np.hypot(wy - cy, wx - cx) - r
            sites[sl] |= sd < 0  # no pore under a crust site, shed or not
            if keep >= microcrust:
                continue
            crust_alpha[sl] = np.maximum(crust_alpha[sl], 0.9 * _sigmoid(sd, 1.0))
            masks["microcrust"][sl] |= sd < 0
            objects["microcrust"].append((sl, sd < 0))

    # faint pores: multiplicative darkening; only visible ones (stated rule) are truth
    shade = np.ones((H, W), np.float32)
    n = int(rng.uniform(40, 120) * skin_area / ppm ** 2 / 100)
    near_crust = ndi.distance_transform_edt(~sites) < 0.15 * ppm
    for cy, cx, d_mm, c, kp in zip(rng.uniform(0, H, n), rng.uniform(0, W, n),
                                   rng.uniform(0.06, 0.2, n), rng.uniform(0.005, 0.08, n),
                                   rng.uniform(size=n), strict=True):
        if kp >= pores or near_crust[int(cy), int(cx)]:
            continue
        r = max(d_mm * ppm / 2, 0.7)
        sl, (wy, wx) = _window((H, W), cy, cx, 2.5 * r + 2)
        rho2 = (wy - cy) ** 2 + (wx - cx) ** 2
        shade[sl] *= 1 - c * np.exp(-rho2 / (2 * (0.6 * r) ** 2))
        if c >= VISIBLE_PORE_CONTRAST and d_mm >= VISIBLE_PORE_MM:
            masks["pore"][sl] |= rho2 < r * r
            objects["pore"].append((sl, rho2 < r * r))

    lin = _render(mel, blood) * shade[..., None]
    lin = lin * (1 - crust_alpha[..., None]) + crust_alpha[..., None] * crust_col.astype(np.float32)

    # dense curved hair (capture: hairs lie differently each visit)
    hair_cov = np.zeros((H, W), np.float32)
    if hair:
        for _ in range(int(15 * skin_area / ppm ** 2 / 100)):
            p0 = cap.uniform(0, 1, 2) * [H, W]
            a, length = cap.uniform(0, np.pi) + 0.4 * cap.normal(), cap.uniform(4, 12) * ppm
            t = np.linspace(0, 1, 40)[:, None]
            bend = cap.normal(0, 0.15) * length
            d, nrm = np.array([np.sin(a), np.cos(a)]), np.array([np.cos(a), -np.sin(a)])
            pts = p0 + t * length * d + (4 * t * (1 - t)) * bend * nrm
            cv2.polylines(hair_cov, [np.round(pts[:, ::-1] * 4).astype(np.int32)], False, 1.0,
                          thickness=max(1, int(round(cap.uniform(0.04, 0.08) * ppm))),
                          lineType=cv2.LINE_AA, shift=2)
        hair_col = np.array([0.03, 0.02, 0.015]) * cap.uniform(0.7, 3.0)
        lin = lin * (1 - hair_cov[..., None]) + hair_cov[..., None] * hair_col.astype(np.float32)

    # uneven light: oblique gradient, vignette, a soft shadow band
    g = cap.normal(0, 1, 2)
    illum = (1 + cap.uniform(0.2, 0.4) * (g[0] * (yy / H - 0.5) + g[1] * (xx / W - 0.5))
             / np.hypot(*g)) * (1 - 0.25 * ((yy / H - 0.5) ** 2 + (xx / W - 0.5) ** 2))
    a = cap.uniform(0, 2 * np.pi)
    band = np.cos(a) * (xx - W / 2) + np.sin(a) * (yy - H / 2)
    illum *= 1 - cap.uniform(0.1, 0.25) * _sigmoid(band - cap.uniform(0.2, 0.5) * W, 0.3 * W)
    lin = lin * (illum * _EXPOSURE / illum.mean())[..., None]

    labels = {k: _object_labels((H, W), objs) for k, objs in objects.items()}
    m = _camera_matrix((H, W), out_shape, camera)

    def warp(a, flags=cv2.INTER_NEAREST):
        return cv2.warpAffine(a, m, out_shape[::-1], flags=flags, borderMode=cv2.BORDER_REFLECT)

    lin = warp(lin.astype(np.float32), cv2.INTER_LINEAR) * (2.0 ** exposure_ev)
    lin = lin * np.asarray(white_balance, np.float32)
    masks = {k: warp(v.view(np.uint8)) > 0 for k, v in masks.items()}
    labels = {k: warp(v) for k, v in labels.items()}
    roi = (warp(hair_cov, cv2.INTER_LINEAR) < 0.5) & ~(lin >= 1.0).any(axis=2)
    img, jpeg = _phone_camera(lin, cap, jpeg_quality)

    masks = {k: v & roi for k, v in masks.items()}
    masks["roi"] = roi
    counts = {}
    for name, objs in objects.items():  # an object counts when half of it is visible skin
        visible = np.bincount(labels[name][roi], minlength=len(objs) + 1)[1:]
        total = np.bincount(labels[name].ravel(), minlength=len(objs) + 1)[1:]
        counts[name] = int(np.sum((total > 0) & (2 * visible >= total)))
    params = dict(shape=list(out_shape), px_per_mm=ppm, skin_L=skin_L, seed=seed, hair=hair,
                  erythema=erythema, microcrust=microcrust, pores=pores, pigment=pigment,
                  capture_seed=capture_seed, camera=list(camera), exposure_ev=exposure_ev,
                  white_balance=list(white_balance), jpeg_quality=jpeg_quality)
    return PhantomB(img, jpeg, masks, ppm, _truth(masks, counts, ppm), params, m, labels)


def _phone_camera(lin: np.ndarray, rng: np.random.Generator, jpeg_quality: int | None
                  ) -> tuple[np.ndarray, bytes | None]:
    """Noise (shot 0.0003 x, read 0.003), sRGB gamma, unsharp mask (sigma 1 px, amount
    0.6) as phone pipelines do, 8 bits, JPEG with 4:2:0 chroma (OpenCV's default)."""
    lin = lin + rng.standard_normal(lin.shape).astype(np.float32) * np.sqrt(
        0.0003 * np.clip(lin, 0, 1) + 0.003 ** 2)
    s = np.clip(lin, 0, 1)
    s = np.where(s <= 0.0031308, 12.92 * s, 1.055 * np.power(s, 1 / 2.4) - 0.055)
    s = s + 0.6 * (s - cv2.GaussianBlur(s, (0, 0), 1.0))
    img = np.round(np.clip(s, 0, 1) * 255).astype(np.uint8)
    if jpeg_quality is None:
        return img, None
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                          [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), buf.tobytes()


def visit_series_b(shape: tuple[int, int] = (600, 800), px_per_mm: float = 20.0,
                   skin_L: float = 60.0, seed: int = 0, hair: bool = False,
                   drift_seed: int | None = None) -> dict[int, PhantomB]:
    """Baseline, day 14 and day 28 of one skin (:data:`VISIT_COURSE_B`) with capture drift.

    The baseline is taken with an identity pose; each follow-up is shifted by up to 3 % of
    the frame, rotated by up to 3 degrees, zoomed by 0.97-1.03, exposed +-0.4 EV and white
    balanced 0.92-1.08 per channel. Compare visits over the skin both show with
    :func:`skinmetrics.synthetic.common_truth`.

    Returns
    -------
    dict of int -> PhantomB
        Per visit day.
    """
    rng = np.random.default_rng(seed + 31 if drift_seed is None else drift_seed)
    out = {}
    for day, sev in VISIT_COURSE_B.items():
        pose = dict(camera=(0, 0, 0, 1))
        if day:
            pose = dict(camera=(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03),
                                rng.uniform(-3, 3), rng.uniform(0.97, 1.03)),
                        exposure_ev=rng.uniform(-0.4, 0.4),
                        white_balance=tuple(rng.uniform(0.92, 1.08, 3)))
        out[day] = make_phantom_b(shape, px_per_mm, skin_L, seed, hair=hair,
                                  capture_seed=1000 * seed + day, **pose, **sev)
    return out
