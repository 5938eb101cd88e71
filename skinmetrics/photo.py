"""Measure one photograph file and write its outputs (metrics.json, masks/, overlay.jpg).

Layout written for a photo ``<stem>.jpg`` into ``out_dir``::

    <out_dir>/<stem>/metrics.json
    <out_dir>/<stem>/masks/roi.png, erythema.png, microcrust.png, pore.png, pigment.png
    <out_dir>/<stem>/overlay.jpg

Masks are uint8, 0 outside and 255 inside, the size of the photo after EXIF orientation.
A layer that the pipeline does not run writes no mask and no metrics.

A whole-face photo is also measured per anatomical region (the pipeline's ``regions``:
forehead, cheeks, nose, chin from face landmarks, :mod:`skinmetrics.face`), written as
``masks/region_<name>.png`` and ``regions`` in metrics.json; a photo without a face (a
close-up) is the one region ``whole``.

The measuring itself is :func:`skinmetrics.core.measure` (in memory): before measuring,
a photo is calibrated with the colour chart in its frame, when there is one (colour
correction and physical scale; the chart's pixels are not skin), and a follow-up photo is
aligned to its patient's baseline (registration and, without charts, colour normalisation).
metrics.json records what was done.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .core import NoSkinError, PhotoMeasurement, measure
from .io import (
    ImageReadError,
    decode_image,
    read_file_bytes,
    reduction_to_fit,
    write_jpeg,
    write_json,
    write_png,
)
from .overlay import outline_overlay
from .pipeline import Pipeline

__all__ = ["measure_file", "measure_photo", "write_outputs"]


def measure_file(path: str | os.PathLike, pipeline: Pipeline, px_per_mm: float | None = None,
                 *, px_per_mm_source: str = "flag", chart: str = "auto",
                 baseline: PhotoMeasurement | None = None, register: bool = True,
                 view: str = "") -> tuple[PhotoMeasurement, dict]:
    """Read, decode and measure a photograph file (:func:`skinmetrics.core.measure`;
    the arguments are :func:`measure_photo`'s), writing nothing.

    Returns
    -------
    measurement : PhotoMeasurement
    photo : dict
        The file's entry in metrics.json: ``file`` (name), ``sha256``, ``width``,
        ``height``, ``bit_depth``; and ``decoded_at`` (``1/2``, ``1/4`` or ``1/8``) for a
        JPEG over the pipeline's ``max_megapixels``, decoded at reduced size (a warning
        says so; a given ``px_per_mm`` is divided accordingly).

    Raises
    ------
    ImageReadError
        The file cannot be read or decoded, or holds no skin.
    """
    path = Path(path)
    data = read_file_bytes(path)
    limit = pipeline.params["scale"]["max_megapixels"]
    k = reduction_to_fit(data, path.name, limit)
    srgb, bit_depth = decode_image(data, path.name, limit, as_photo=True, reduction=k,
                                   as_codes=True)
    try:
        measurement = measure(srgb, pipeline, px_per_mm=px_per_mm / k if px_per_mm else None,
                              scale_source=px_per_mm_source, chart=chart, baseline=baseline,
                              register=register, view=view)
    except NoSkinError as exc:
        raise ImageReadError(f"{path.name}: {exc}") from None
    photo = {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
             "width": int(srgb.shape[1]), "height": int(srgb.shape[0]), "bit_depth": bit_depth}
    if k > 1:
        photo["decoded_at"] = f"1/{k}"
        measurement.warnings.insert(0, f"over the limit of {limit:g} MP: decoded at 1/{k} of "
                                       "its size (its scale and px areas are the reduced "
                                       "photo's)")
    return measurement, photo


def write_outputs(measurement: PhotoMeasurement, folder: str | os.PathLike,
                  pipeline: Pipeline, photo: dict) -> dict:
    """Write a measurement's masks, overlay and metrics.json into ``folder``.

    Parameters
    ----------
    measurement : PhotoMeasurement
    folder : path-like
        The photo's output folder (created).
    pipeline : Pipeline
        The pipeline it was measured with (recorded).
    photo : dict
        The ``photo`` entry of metrics.json (see :func:`measure_file`).

    Returns
    -------
    dict
        The content written to metrics.json.
    """
    folder = Path(folder)
    masks = measurement.masks
    for name, mask in masks.items():
        write_png(folder / "masks" / f"{name}.png", mask)
    write_jpeg(folder / "overlay.jpg", outline_overlay(measurement.srgb, masks))
    values = measurement.as_record(pipeline)
    record = {"skinmetrics_version": values.pop("skinmetrics_version"), "photo": photo, **values}
    write_json(folder / "metrics.json", record)
    return record


def measure_photo(path: str | os.PathLike, out_dir: str | os.PathLike, pipeline: Pipeline,
                  px_per_mm: float | None = None, stem: str | None = None, *,
                  px_per_mm_source: str = "flag", chart: str = "auto",
                  baseline: PhotoMeasurement | None = None, register: bool = True,
                  view: str = "") -> tuple[dict, PhotoMeasurement]:
    """Measure a photograph file and write its outputs under ``out_dir/<stem>/``.

    Parameters
    ----------
    path : path-like
        JPEG, PNG or TIFF photograph.
    out_dir : path-like
        Parent folder of the photo's output folder.
    pipeline : Pipeline
    px_per_mm : float, optional
        Scale (used when no chart gives one); without any, mm metrics are null.
    stem : str, optional
        Output folder name (default: the file's stem).
    px_per_mm_source : str
        Where ``px_per_mm`` came from (``flag`` or ``manifest``), for the record.
    chart : str
        ``auto`` (find a ColorChecker), ``none``, or a JSON file with the chart's corners.
    baseline : PhotoMeasurement, optional
        The patient's baseline (as returned for it): align this follow-up photo to it.
    register : bool
        With a baseline: register to it (else only the colour is left as it is).
    view : str
        The photo's view (``front``, ``left45`` ...), to tell whether a face is expected.

    Returns
    -------
    record : dict
        The content written to metrics.json. An aligned follow-up also holds
        ``baseline_metrics`` and ``baseline_regions``: the baseline measured over the part of
        it this follow-up shows (per region), the values its change from baseline is
        computed from. ``warnings`` lists what the reader should know (no face where one was
        expected, a failed registration), one line each.
    measurement : PhotoMeasurement
        The measurement in memory (the baseline of this patient's follow-ups).

    Raises
    ------
    ImageReadError
        The file cannot be read or decoded, or holds no skin (nothing is written).
    """
    measurement, photo = measure_file(path, pipeline, px_per_mm,
                                      px_per_mm_source=px_per_mm_source, chart=chart,
                                      baseline=baseline, register=register, view=view)
    folder = Path(out_dir) / (stem or Path(path).stem)
    return write_outputs(measurement, folder, pipeline, photo), measurement
