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

Before measuring, a photo is calibrated with the colour chart in its frame, when there is
one (:func:`skinmetrics.chart.calibrate`: colour correction and physical scale; the chart's
pixels are not skin), and a follow-up photo is aligned to its patient's baseline photo
(:func:`skinmetrics.align.align_to_baseline`: registration and, without charts, colour
normalisation). metrics.json records what was done.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .align import align_to_baseline
from .chart import Calibration, calibrate
from .face import Face, excluded_mask, find_face, region_masks
from .io import ImageReadError, decode_image, read_file_bytes, write_jpeg, write_json, write_png
from .overlay import outline_overlay
from .pipeline import Pipeline, measure_image, skin_region
from .register import warp_to_baseline, warp_to_followup
from .roi import clipped_mask, clipped_skin_fraction
from .stages.base import Scale

__all__ = ["BaselinePhoto", "FACE_VIEWS", "face_expected", "measure_photo"]


@dataclass(frozen=True)
class BaselinePhoto:
    """The baseline a follow-up is aligned to: its photo, its measured skin region and the
    values its stages estimated from it (metrics.json ``estimates``), which a follow-up
    whose colour is brought to the baseline's is measured with too."""

    path: str
    roi_mask: str  # masks/roi.png written when the baseline was measured
    px_per_mm: float | None = None
    estimates: Mapping[str, Mapping[str, float | None]] | None = None


def _load_calibrated(path: Path, chart: str, pipeline: Pipeline
                     ) -> tuple[bytes, np.ndarray, int, Calibration, np.ndarray]:
    """The photo's bytes, its calibrated sRGB, bit depth, calibration, and its clipped
    pixels: clipping is found on the photo as taken, since a colour correction (or the
    gains that bring a follow-up to its baseline) can move a clipped channel below the clip
    level while its true value stays unknown."""
    data = read_file_bytes(path)
    srgb, bit_depth = decode_image(data, path.name, pipeline.params["scale"]["max_megapixels"],
                                   as_photo=True)
    cal = calibrate(srgb, chart, patch_pitch_mm=pipeline.params["scale"]["chart_patch_pitch_mm"])
    clipped = clipped_mask(srgb, pipeline.params["roi"]["clip_level"])
    return data, cal.apply(srgb), bit_depth, cal, clipped


#: Mean adult interpupillary distance, mm (Dodgson N.A. Variation and extrema of human
#: interpupillary distance. Proc SPIE 2004;5291:36-46: mean about 63 mm).
FACE_IPD_MM = 63.0
#: A face whose interocular distance at a known scale is outside this range (mm) is a false
#: detection (e.g. in a skin close-up) and is ignored. Adults measure about 50-75 mm, children
#: from about 40 mm (Dodgson 2004); the lower limit leaves room for a face turned away from
#: the camera (the distance seen is foreshortened).
FACE_IPD_RANGE_MM = (20.0, 90.0)


def find_plausible_face(srgb: np.ndarray, px_per_mm: float | None) -> Face | None:
    """:func:`skinmetrics.face.find_face`, ignoring a face whose interocular distance at a
    known scale is outside :data:`FACE_IPD_RANGE_MM`."""
    face = find_face(srgb)
    if face is None or not px_per_mm:
        return face
    low, high = FACE_IPD_RANGE_MM
    return face if low <= face.interocular / px_per_mm <= high else None


#: Views in which the whole face is photographed (a face is expected; see
#: :func:`face_expected`). ``left`` / ``right`` may be a profile or a cheek close-up.
FACE_VIEWS = frozenset({"front", "left45", "right45"})


def face_expected(view: str, shape: tuple[int, ...], px_per_mm: float | None,
                  face_photo_min_mm: float) -> bool:
    """Whether a photo shows a whole face (so that not finding one is worth a warning).

    Parameters
    ----------
    view : str
        The photo's view (manifest or file name; empty when not given).
    shape : tuple
        Image shape; ``shape[:2]`` is used.
    px_per_mm : float or None
        Scale of the photo.
    face_photo_min_mm : float
        Shorter side of the field of view, mm, from which a photo is a face photo (a
        cheek close-up spans a few centimetres, an adult face about 14 x 20 cm).

    Returns
    -------
    bool
        True for the whole-face views (:data:`FACE_VIEWS`) and for photos whose known scale
        gives a field of view at least ``face_photo_min_mm`` on its shorter side.
    """
    if view in FACE_VIEWS:
        return True
    return bool(px_per_mm) and min(shape[:2]) / px_per_mm >= face_photo_min_mm


def _face_areas(face: Face | None, shape: tuple[int, ...], names: tuple[str, ...]
                ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The pipeline's regions that a face shows, and its eyes, brows, lips and nostrils."""
    if face is None:
        return {}, None
    masks = region_masks(face, shape)
    return ({n: masks[n] for n in names if n in masks and masks[n].any()},
            excluded_mask(face, shape))


def _union(*masks: np.ndarray | None) -> np.ndarray | None:
    given = [m for m in masks if m is not None]
    return np.logical_or.reduce(given) if given else None


def _clipped_share(srgb: np.ndarray, roi: np.ndarray, clipped: np.ndarray,
                   chart_mask: np.ndarray | None, region: np.ndarray | None,
                   pipeline: Pipeline, px_per_mm: float | None) -> float:
    """The share of the skin that clipped pixels hide: of the compared ``region`` (the
    baseline's skin mapped into a follow-up), else of the photo's own skin
    (:func:`skinmetrics.roi.clipped_skin_fraction`, not the chart's pixels)."""
    if region is not None:
        return np.count_nonzero(region & clipped) / max(np.count_nonzero(region), 1)
    if chart_mask is not None:
        clipped = clipped & ~chart_mask
    limit = pipeline.params["roi"]["clipped_warning_fraction"]
    if np.count_nonzero(clipped) * (1.0 - limit) <= limit * np.count_nonzero(roi):
        return 0.0  # too few clipped pixels to reach the warning, whatever they are
    scale = Scale(px_per_mm, px_per_mm or pipeline.params["scale"]["assumed_px_per_mm"])
    return clipped_skin_fraction(srgb, roi, clipped, pipeline.params["roi"], scale)


def measure_photo(path: str | os.PathLike, out_dir: str | os.PathLike, pipeline: Pipeline,
                  px_per_mm: float | None = None, stem: str | None = None, *,
                  px_per_mm_source: str = "flag", chart: str = "auto",
                  baseline: BaselinePhoto | None = None, register: bool = True,
                  view: str = "") -> dict:
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
    baseline : BaselinePhoto, optional
        Align this follow-up photo to that baseline.
    register : bool
        With a baseline: register to it (else only the colour is left as it is).
    view : str
        The photo's view (``front``, ``left45`` ...), to tell whether a face is expected
        (:func:`face_expected`).

    Returns
    -------
    dict
        The content written to metrics.json. An aligned follow-up also holds
        ``baseline_metrics`` and ``baseline_regions``: the baseline measured over the part of
        it this follow-up shows (per region), the values its change from baseline is
        computed from. ``warnings`` lists what the reader should know (no face where one was
        expected, a failed registration), one line each.

    Raises
    ------
    ImageReadError
        The file cannot be read or decoded (nothing is written).

    Notes
    -----
    In a face photo the eyes, brows, lips and nostrils (with a margin) are not skin, in the
    ``whole`` region too. A registered follow-up is measured in the baseline's regions mapped
    into it by the registration (the same skin at every visit); the follow-up's own landmarks
    give its regions when it is not registered or the baseline shows no face.

    A follow-up whose colour is the baseline's (both chart-calibrated, or normalised to it)
    is measured with the baseline's ``estimates`` (a stage's photo-specific values, e.g. the
    erythema layer's melanin crosstalk), and so is the baseline over its part; a value the
    baseline could not measure is the follow-up's own, for both. ``estimates_source`` says
    which (``baseline`` or ``photo``).
    """
    path = Path(path)
    warnings: list[str] = []
    data, srgb, bit_depth, cal, clipped = _load_calibrated(path, chart, pipeline)
    if cal.px_per_mm:
        px_per_mm, px_per_mm_source = cal.px_per_mm, "chart"
    elif not px_per_mm:
        px_per_mm_source = "none"
    face = find_plausible_face(srgb, px_per_mm) if pipeline.regions else None
    areas, excluded = _face_areas(face, srgb.shape, pipeline.regions)
    regions_source = "landmarks" if face is not None else None
    region = alignment = paired = measure_baseline = given = None
    if baseline is not None:
        _, base_srgb, _, base_cal, base_clipped = _load_calibrated(Path(baseline.path),
                                                                   chart, pipeline)
        base_roi = cv2.imread(str(baseline.roi_mask), cv2.IMREAD_GRAYSCALE)
        if base_roi is None or base_roi.shape != base_srgb.shape[:2]:
            raise ValueError(f"{path.name}: the baseline's skin mask {baseline.roi_mask} is "
                             "missing or does not match its photo")
        both_charted = cal.ccm is not None and base_cal.ccm is not None
        alignment = align_to_baseline(
            base_srgb, base_roi > 0, srgb,
            skin_region(srgb, pipeline, px_per_mm,
                        not_skin=_union(clipped, cal.chart_mask, excluded)),
            register_photos=register, normalise_colour=not both_charted)
        srgb = alignment.srgb
        if both_charted or alignment.gains is not None:  # the same colours: the same skin,
            given = baseline.estimates                  # unmixed the same way
        reg = alignment.registration
        if reg is not None and not reg.ok:
            warnings.append(f"not registered to its baseline ({reg.message}); measured "
                            "unregistered")
        if alignment.region is not None:
            region = alignment.region
            base_ppm = base_cal.px_per_mm or baseline.px_per_mm
            base_face = (find_plausible_face(base_srgb, base_ppm) if pipeline.regions
                         else None)
            base_areas, base_excluded = _face_areas(base_face, base_srgb.shape,
                                                    pipeline.regions)
            if base_face is not None:  # the baseline's regions, mapped into this photo
                mapped = {n: warp_to_followup(m, reg, srgb.shape) for n, m in base_areas.items()}
                areas = {n: m for n, m in mapped.items() if m.any()}
                regions_source = "baseline landmarks, registered"
                if face is None:
                    excluded = warp_to_followup(base_excluded, reg, srgb.shape)
            # measured once the follow-up's skin is known (below)
            measure_baseline = partial(
                measure_image, base_srgb, pipeline, base_ppm,
                not_skin=_union(base_cal.chart_mask, base_excluded, base_clipped),
                regions=base_areas if base_face is not None else None)
    if not areas and pipeline.regions and face_expected(
            view, srgb.shape, px_per_mm, pipeline.params["scale"]["face_photo_min_mm"]):
        warnings.append("no face found in a whole-face photo; measured over the whole skin "
                        "region")
    # without a scale, a face gives the size limits one: adult interpupillary distance ~63 mm
    size_ppm = face.interocular / FACE_IPD_MM if face is not None and not px_per_mm else None
    result = measure_image(srgb, pipeline, px_per_mm, region=region,
                           not_skin=_union(cal.chart_mask, excluded, clipped),
                           size_px_per_mm=size_ppm, regions=areas, estimates=given)
    warnings.extend(result.warnings)
    skin_share = result.metrics["roi_area_px"] / (srgb.shape[0] * srgb.shape[1])
    if region is None and skin_share < pipeline.params["roi"]["min_skin_fraction"]:
        raise ImageReadError(f"{path.name}: no skin found (skin region {100 * skin_share:.1f} % "
                             f"of the photo, at least "
                             f"{100 * pipeline.params['roi']['min_skin_fraction']:g} % needed)")
    lost = _clipped_share(srgb, result.masks["roi"], clipped, cal.chart_mask, region,
                          pipeline, px_per_mm or size_ppm)
    if lost > pipeline.params["roi"]["clipped_warning_fraction"]:
        whose, then = (("the skin", "measured") if region is None
                       else ("the baseline's skin", "compared"))
        warnings.append(f"over-exposed: {100 * lost:.0f} % of {whose} is clipped in this "
                        f"photo; {then} over the rest")
    if measure_baseline is not None:  # the baseline over the skin this follow-up measured
        paired = measure_baseline(region=warp_to_baseline(result.masks["roi"],
                                                          alignment.registration,
                                                          base_srgb.shape),
                                  estimates=result.estimates)
    regions = {"whole": result.metrics, **result.regions} if areas else None
    region_masks_out = {f"region_{n}": m & result.masks["roi"] for n, m in areas.items()}
    folder = Path(out_dir) / (stem or path.stem)
    for name, mask in {**result.masks, **region_masks_out}.items():
        write_png(folder / "masks" / f"{name}.png", mask)
    write_jpeg(folder / "overlay.jpg", outline_overlay(srgb, {**result.masks,
                                                              **region_masks_out}))
    record = {
        "skinmetrics_version": __version__,
        "photo": {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
                  "width": int(srgb.shape[1]), "height": int(srgb.shape[0]),
                  "bit_depth": bit_depth},
        "px_per_mm": px_per_mm,
        "scale_source": px_per_mm_source,
        "calibration": cal.as_dict(),
        "alignment": None if alignment is None else alignment.as_dict(),
        "baseline_metrics": None if paired is None else paired.metrics,
        "baseline_regions": (None if paired is None or not paired.regions
                             else {"whole": paired.metrics, **paired.regions}),
        "face": None if face is None else {
            "view": face.view, "detector": face.detector,
            "asymmetry": round(float(face.asymmetry), 3),
            "size_px_per_mm": None if size_ppm is None else round(size_ppm, 3)},
        "regions_source": regions_source if areas else None,
        "regions": regions,
        "pipeline": pipeline.as_dict(),
        "layers": sorted(result.masks),
        "metrics": result.metrics,
        "units": result.units,
        "estimates": result.estimates,
        "estimates_source": {stage: {k: "baseline" if (given or {}).get(stage, {}).get(k)
                                     is not None else "photo" for k in values}
                             for stage, values in result.estimates.items()},
        "warnings": warnings,
    }
    write_json(folder / "metrics.json", record)
    return record
