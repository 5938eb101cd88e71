"""Overlay of layer outlines on the photograph, for a human to check the masks."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["LAYER_COLOURS", "outline_overlay"]

#: Outline colour (RGB) per mask, from the Okabe-Ito colour-blind-safe palette.
LAYER_COLOURS: dict[str, tuple[int, int, int]] = {
    "roi": (240, 228, 66),        # yellow
    "erythema": (86, 180, 233),   # sky blue
    "microcrust": (0, 158, 115),  # bluish green
    "pore": (204, 121, 167),      # reddish purple
    "pigment": (230, 159, 0),     # orange
}  # anatomical regions (region_*) are outlined in white


def outline_overlay(srgb: np.ndarray, masks: dict[str, np.ndarray],
                    colours: dict[str, tuple[int, int, int]] | None = None) -> np.ndarray:
    """Draw the outline of each mask on the photograph in its own colour.

    Parameters
    ----------
    srgb : (H, W, 3) ndarray
        Photograph, float in [0, 1] or uint8.
    masks : dict of str -> (H, W) bool ndarray
    colours : dict, optional
        RGB colour per mask name (default :data:`LAYER_COLOURS`).

    Returns
    -------
    (H, W, 3) uint8 ndarray
        Outlines are about 1/600 of the image's larger side thick (at least 1 px).
    """
    colours = colours or LAYER_COLOURS
    img = srgb if srgb.dtype == np.uint8 else np.round(np.clip(srgb, 0, 1) * 255).astype(np.uint8)
    out = img.copy()
    width = max(1, round(max(img.shape[:2]) / 600))
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    for name, mask in masks.items():
        m = mask.astype(np.uint8)
        edge = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, kernel).astype(bool)
        out[edge] = colours.get(name, (255, 255, 255) if name.startswith("region_") else
                                (255, 255, 255))
    return out
