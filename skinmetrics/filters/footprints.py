"""Structuring elements (footprints) for OpenCV's morphology: a disk and a square."""

from __future__ import annotations

import math

import cv2
import numpy as np


def disk(radius_px: float) -> np.ndarray:
    """Elliptical (disk) structuring element of the given radius in pixels (uint8)."""
    r = max(1, int(math.ceil(radius_px)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def square(half_side_px: float) -> np.ndarray:
    """Square structuring element of half-side ``half_side_px`` (rounded) in pixels (uint8):
    separable, so OpenCV's dilation with it is fast at any size."""
    side = 2 * int(round(half_side_px)) + 1
    return np.ones((side, side), np.uint8)
