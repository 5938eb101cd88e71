"""Overlay of layer outlines on the photograph, for a human to check the masks."""

from __future__ import annotations

import cv2
import numpy as np

from . import roi
from .colour import SRGBCodes
from .stages import STAGES

__all__ = ["layer_colours", "outline_overlay"]

def layer_colours() -> dict[str, tuple[int, int, int]]:
    """Outline colour (RGB) per mask, as each layer declares it (:mod:`skinmetrics.methods`:
    the Okabe-Ito colour-blind-safe palette). Anatomical regions (region_*) and masks
    without a colour are outlined in white."""
    return {layer.mask: layer.colour for layer in (roi.LAYER, *(m.LAYER for m in STAGES.values()))
            if layer.mask and layer.colour}


def outline_overlay(srgb: np.ndarray, masks: dict[str, np.ndarray],
                    colours: dict[str, tuple[int, int, int]] | None = None) -> np.ndarray:
    """Draw the outline of each mask on the photograph in its own colour.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray or SRGBCodes
        Photograph, float in [0, 1] or uint8.
    masks : dict of str -> (H, W) bool ndarray
    colours : dict, optional
        RGB colour per mask name (default :func:`layer_colours`).

    Returns
    -------
    (H, W, 3) uint8 ndarray
        Outlines are about 1/600 of the image's larger side thick (at least 1 px).
    """
    colours = colours or layer_colours()
    out = srgb.copy() if srgb.dtype == np.uint8 else _to_uint8(srgb)
    width = max(1, round(max(out.shape[:2]) / 600))
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    for name, mask in masks.items():
        edge = cv2.morphologyEx(np.asarray(mask, bool).view(np.uint8), cv2.MORPH_GRADIENT,
                                kernel).view(bool)
        # by index: a mask's outline is a small share of the photo
        out.reshape(-1, 3)[np.flatnonzero(edge)] = colours.get(name, (255, 255, 255))
    return out


def _to_uint8(srgb: np.ndarray | SRGBCodes, band_rows: int = 128) -> np.ndarray:
    """``round(clip(srgb, 0, 1) x 255)`` as uint8, in bands of rows (no temporary the size
    of the photo): OpenCV's scaled conversion saturates to 0..255 and rounds half to even
    as numpy does, and takes the absolute value of what is already at least 0. 8-bit
    :class:`~skinmetrics.colour.SRGBCodes` have each channel's 256 values converted once,
    then looked up."""
    if isinstance(srgb, SRGBCodes) and srgb.codes.dtype == np.uint8:
        table = np.asarray(srgb.table, np.float32).T.reshape(256, 1, 3)
        return cv2.LUT(srgb.codes, _to_uint8(table))
    out = np.empty(srgb.shape, np.uint8)
    for top in range(0, len(srgb), band_rows):
        rows = slice(top, top + band_rows)
        out[rows] = cv2.convertScaleAbs(np.maximum(srgb[rows], np.float32(0)), alpha=255)
    return out
