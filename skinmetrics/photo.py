"""Measure one photograph file and write its outputs (metrics.json, masks/, overlay.jpg).

Layout written for a photo ``<stem>.jpg`` into ``out_dir``::

    <out_dir>/<stem>/metrics.json
    <out_dir>/<stem>/masks/roi.png, erythema.png, microcrust.png, pore.png, pigment.png
    <out_dir>/<stem>/overlay.jpg

Masks are uint8, 0 outside and 255 inside, the size of the photo after EXIF orientation.
A layer that the pipeline does not run writes no mask and no metrics.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import __version__
from .io import decode_image, read_file_bytes, write_jpeg, write_json, write_png
from .overlay import outline_overlay
from .pipeline import Pipeline, measure_image

__all__ = ["measure_photo"]


def measure_photo(path: str | os.PathLike, out_dir: str | os.PathLike, pipeline: Pipeline,
                  px_per_mm: float | None = None, stem: str | None = None) -> dict:
    """Measure a photograph file and write its outputs under ``out_dir/<stem>/``.

    Parameters
    ----------
    path : path-like
        JPEG, PNG or TIFF photograph.
    out_dir : path-like
        Parent folder of the photo's output folder.
    pipeline : Pipeline
    px_per_mm : float, optional
        Scale; without it mm metrics are null.
    stem : str, optional
        Output folder name (default: the file's stem).

    Returns
    -------
    dict
        The content written to metrics.json.

    Raises
    ------
    ImageReadError
        The file cannot be read or decoded (nothing is written).
    """
    path = Path(path)
    data = read_file_bytes(path)
    srgb, bit_depth = decode_image(data, path.name)
    result = measure_image(srgb, pipeline, px_per_mm)
    folder = Path(out_dir) / (stem or path.stem)
    for name, mask in result.masks.items():
        write_png(folder / "masks" / f"{name}.png", mask)
    write_jpeg(folder / "overlay.jpg", outline_overlay(srgb, result.masks))
    record = {
        "skinmetrics_version": __version__,
        "photo": {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
                  "width": int(srgb.shape[1]), "height": int(srgb.shape[0]),
                  "bit_depth": bit_depth},
        "px_per_mm": px_per_mm,
        "pipeline": pipeline.as_dict(),
        "layers": sorted(result.masks),
        "metrics": result.metrics,
        "units": result.units,
    }
    write_json(folder / "metrics.json", record)
    return record
