"""Same skin, same colour: a follow-up photo aligned to its patient's baseline photo.

Two corrections, both computed from the two photos alone:

* **Registration** (:func:`skinmetrics.register.register`; with hair on either photo, also
  on the skin off the hair of both, the registration whose photos correlate better there
  kept: hair lies differently at each visit, and its features match wrongly): the
  follow-up is measured only
  within the baseline's skin region mapped into the follow-up frame, and for the
  comparison the baseline is measured again within the skin the follow-up was measured
  over, mapped into the baseline (:func:`skinmetrics.core.measure`), so both sides
  of a change cover the same skin: what either photo
  cannot measure (outside its frame, under a hair, glare, a clipped highlight, shadow,
  the chart) is left out of both. A hair, a highlight or an over-exposed patch at one
  visit only would otherwise take skin (and the lesions on it) from that visit alone, and
  the change would count it as the skin's.
* **Colour normalisation without a chart**: exposure and white balance are per-channel gains
  on linear RGB (von Kries). The gains that bring the follow-up's skin to the baseline's
  are the per-channel medians of baseline / follow-up over registered skin
  (:func:`skinmetrics.colour.channel_gains`). The median makes lesions that changed between
  the visits (they cover a minority of the skin) count little; its limit is that a real
  change of the colour of *all* the skin (a tan fading) is normalised away too. With a
  colour chart in both photos the chart's calibration is used instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .colour import as_photo, channel_gains, srgb_to_linear, srgb_with_linear_gains
from .register import (
    ECC_SIDE_PX,
    Registration,
    RegistrationFrame,
    register,
    registration_quality,
    warp_to_followup,
)

__all__ = ["Alignment", "align_to_baseline"]


@dataclass
class Alignment:
    """How a follow-up photo was aligned to its baseline.

    Attributes
    ----------
    registration : Registration or None
        None when registration was turned off.
    region : (H, W) bool ndarray or None
        Follow-up pixels to measure (the baseline's skin region mapped into the
        follow-up); None when unregistered.
    gains : (3,) ndarray or None
        Linear-RGB gains applied to the follow-up (None when not normalised).
    srgb : (H, W, 3) ndarray
        The follow-up, colour-normalised when ``gains`` is set.
    """

    registration: Registration | None
    region: np.ndarray | None
    gains: np.ndarray | None
    srgb: np.ndarray

    def as_dict(self) -> dict:
        """JSON-ready summary for metrics.json and run.json."""
        reg = self.registration
        return {
            "registered": bool(reg is not None and reg.ok),
            "registration": None if reg is None else reg.as_dict(),
            "colour_gains": None if self.gains is None else [round(float(g), 5)
                                                             for g in self.gains],
        }


#: When hair covers at least this share of either photo's skin, the follow-up is also
#: registered on the skin off the hair (see :func:`align_to_baseline`); below it the two
#: would be the same registration.
HAIR_SHARE_REGISTERED_APART = 0.01

#: Working sizes (longer side, px; :func:`skinmetrics.register.register`'s
#: ``max_side_px``) tried in turn until a registration succeeds: on a wide field of smooth
#: skin the coarsest may see too few features.
REGISTRATION_SIDES_PX = (ECC_SIDE_PX, 1200, 1600)


def align_to_baseline(baseline_srgb: np.ndarray, baseline_skin: np.ndarray,
                      followup_srgb: np.ndarray, followup_skin: np.ndarray, *,
                      register_photos: bool = True, normalise_colour: bool = True,
                      frames: dict[str, RegistrationFrame] | None = None,
                      baseline_hair: np.ndarray | None = None,
                      followup_hair: np.ndarray | None = None) -> Alignment:
    """Register a follow-up to its baseline and normalise its colour to it.

    Parameters
    ----------
    baseline_srgb, followup_srgb : (H, W, 3) ndarray
        The two photos, sRGB in [0, 1] (after chart calibration, when there was one).
    baseline_skin : (Hb, Wb) bool ndarray
        The baseline's skin region (with the follow-up's, where the colour gains are taken
        and where the registration looks for features first; when that fails it looks over
        the whole frames).
    followup_skin : (Hf, Wf) bool ndarray
        A first skin region of the follow-up (without its clipped pixels and chart).
    register_photos : bool
        Register (else the follow-up is measured over its own skin region).
    normalise_colour : bool
        Apply the colour gains (turn off when both photos were chart-calibrated).
    frames : dict, optional
        Where the baseline's side of the registration (:class:`RegistrationFrame`, with
        its skin and whole) is kept between calls: the same dict for each follow-up of a
        baseline makes it once.
    baseline_hair, followup_hair : bool ndarray, optional
        Each photo's hair and its fringe (:func:`skinmetrics.roi.skin_and_fringe`; the
        follow-up's may come from its first skin region). Hair lies differently at each
        visit, so its features match wrongly: where it covers at least
        :data:`HAIR_SHARE_REGISTERED_APART` of either photo's skin, the follow-up is also
        registered on the skin off the hair of both, and of the two registrations the one
        whose photos correlate better there (:func:`skinmetrics.register.registration_quality`)
        is kept (off the hair too few features may remain on light skin; with it, the
        hairs may be what matches). Where every registration fails, all are tried again at
        the next working size of :data:`REGISTRATION_SIDES_PX`.

    Returns
    -------
    Alignment
        A failed registration gives ``region`` None (measured unregistered, flagged by
        ``registration.ok``) and no colour gains.
    """
    if not register_photos:
        return Alignment(None, None, None, followup_srgb)
    start = time.perf_counter()
    cv2.setRNGSeed(0)  # RANSAC samples at random: the same photos must give the same result
    frames = {} if frames is None else frames
    if "skin" not in frames:
        frames["skin"] = RegistrationFrame(baseline_srgb, baseline_skin)
        frames["whole"] = RegistrationFrame(baseline_srgb)
    (bare_b, hair_b), (bare_f, hair_f) = (_off_hair(baseline_skin, baseline_hair),
                                          _off_hair(followup_skin, followup_hair))
    hairy = max(hair_b, hair_f) >= HAIR_SHARE_REGISTERED_APART  # enough to mislead features
    if hairy and "bare" not in frames:
        frames["bare"] = RegistrationFrame(baseline_srgb, bare_b)
    for side in REGISTRATION_SIDES_PX:  # finer only where the coarser found too little
        reg = register(frames["skin"], followup_srgb, mask_followup=followup_skin,
                       max_side_px=side)
        if hairy:
            apart = register(frames["bare"], followup_srgb, mask_followup=bare_f,
                             max_side_px=side)
            if apart.ok and (not reg.ok or apart.quality > registration_quality(
                    frames["bare"], followup_srgb, reg.matrix, mask_followup=bare_f,
                    max_side_px=side)):
                reg = apart
        if not reg.ok:  # the skin alone may hold too few stable features: the whole frames
            whole = register(frames["whole"], followup_srgb, max_side_px=side)
            reg = whole if whole.ok else reg
        if reg.ok:
            break
    reg = replace(reg, seconds=time.perf_counter() - start)  # every registration tried
    if not reg.ok:
        return Alignment(reg, None, None, followup_srgb)
    shape = followup_srgb.shape
    region = warp_to_followup(baseline_skin, reg, shape)  # inside the baseline's frame too
    if not normalise_colour:
        return Alignment(reg, region, None, followup_srgb)
    gains = channel_gains(*_skin_samples(baseline_srgb, followup_srgb, followup_skin & region,
                                         reg))
    return Alignment(reg, region, gains, srgb_with_linear_gains(followup_srgb, gains))


def _off_hair(skin: np.ndarray, hair: np.ndarray | None) -> tuple[np.ndarray, float]:
    """``skin`` less ``hair`` and the share of ``skin`` the hair covers."""
    if hair is None:
        return skin, 0.0
    off = skin & ~hair
    total = np.count_nonzero(skin)
    return off, (1.0 - np.count_nonzero(off) / total) if total else 0.0


#: The colour gains are taken from at most about this many follow-up skin pixels (a regular
#: grid over the skin both photos show: the median of a million ratios is that of all).
GAIN_SAMPLES = 1_000_000


def _skin_samples(baseline_srgb: np.ndarray, followup_srgb: np.ndarray, skin: np.ndarray,
                  reg: Registration) -> tuple[np.ndarray, np.ndarray]:
    """Linear RGB of the baseline and of the follow-up at the same skin points: follow-up
    pixels of ``skin`` on a grid of at most :data:`GAIN_SAMPLES` points, and the baseline
    there (registered, bilinear)."""
    step = max(1, int(np.ceil(np.sqrt(np.count_nonzero(skin) / GAIN_SAMPLES))))
    ys, xs = np.nonzero(skin[::step, ::step])
    ys, xs = ys * step, xs * step
    m = reg.followup_to_baseline
    bx = np.clip(m[0, 0] * xs + m[0, 1] * ys + m[0, 2], 0, baseline_srgb.shape[1] - 1)
    by = np.clip(m[1, 0] * xs + m[1, 1] * ys + m[1, 2], 0, baseline_srgb.shape[0] - 1)
    width = baseline_srgb.shape[1]
    x0 = np.minimum(bx.astype(np.intp), width - 2)
    y0 = np.minimum(by.astype(np.intp), baseline_srgb.shape[0] - 2)
    fx, fy = (bx - x0)[:, None], (by - y0)[:, None]
    # only the samples are looked up from codes
    b, follow = as_photo(baseline_srgb, np.float32), as_photo(followup_srgb, np.float32)

    def along_row(y: np.ndarray) -> np.ndarray:  # b[x0] (1 - fx) + b[x0 + 1] fx
        row = b[y, x0] * (1 - fx)
        row += b[y, x0 + 1] * fx
        return row

    reference = along_row(y0)
    reference *= 1 - fy
    lower = along_row(y0 + 1)
    lower *= fy
    reference += lower
    return srgb_to_linear(reference.astype(np.float32)), srgb_to_linear(follow[ys, xs])
