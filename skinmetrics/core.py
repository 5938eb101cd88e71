"""The in-memory core: measure a photograph (a numpy array) with its baseline, no files.

:func:`measure` does everything :mod:`skinmetrics.photo` does to a file, on an array: colour
calibration with the chart in the frame (:func:`skinmetrics.correction.calibrate`), anatomical
regions from the face (:mod:`skinmetrics.face`), alignment of a follow-up to its baseline
(:func:`skinmetrics.align.align_to_baseline`: registration and, without charts, colour
normalisation), the pipeline's layers (:func:`skinmetrics.pipeline.measure_image`) and the
baseline measured over the skin the follow-up shows. The baseline is the baseline's own
:class:`PhotoMeasurement`, so a batch measures each baseline once and hands it to its
follow-ups.

Example
-------
>>> import skinmetrics as sm
>>> pipe = sm.load_pipeline("laser_recovery")
>>> day0 = sm.measure(srgb_day0, pipe, px_per_mm=25.0, chart="none")    # doctest: +SKIP
>>> day28 = sm.measure(srgb_day28, pipe, px_per_mm=25.0, chart="none",
...                    baseline=day0)                                   # doctest: +SKIP
>>> day28.metrics["erythema_area_pct"], day28.baseline_metrics["erythema_area_pct"]
...                                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from . import __version__
from .align import Alignment, align_to_baseline
from .correction import Calibration, calibrate
from .face import Face, excluded_mask, face_outline_mask, find_face, region_masks
from .pipeline import (
    Clock,
    Detection,
    Measurement,
    Pipeline,
    detect_layers,
    measure_image,
    skin_region_and_fringe,
    summarise_layers,
)
from .register import warp_to_baseline, warp_to_followup
from .roi import clipped_mask, clipped_skin_fraction, skin_texture
from .stages.base import Scale

__all__ = ["FACE_IPD_MM", "FACE_IPD_RANGE_MM", "FACE_MIN_HEIGHT_MM", "FACE_VIEWS", "NoSkinError",
           "PhotoMeasurement", "face_expected", "find_plausible_face", "measure"]

#: Mean adult interpupillary distance, mm (Dodgson N.A. Variation and extrema of human
#: interpupillary distance. Proc SPIE 2004;5291:36-46: mean about 63 mm).
FACE_IPD_MM = 63.0
#: A face whose interocular distance at a known scale is outside this range (mm) is a false
#: detection (e.g. in a skin close-up) and is ignored. Adults measure about 50-75 mm, children
#: from about 40 mm (Dodgson 2004); the lower limit leaves room for a face turned away from
#: the camera (the distance seen is foreshortened).
FACE_IPD_RANGE_MM = (20.0, 90.0)
#: Shortest whole face, mm: nasion to chin (morphological face height) measures about 95-125
#: mm in adults (Farkas L.G., Katic M.J., Forrest C.R. International anthropometric study of
#: facial morphology in various ethnic groups/races. J Craniofac Surg 2005;16:615-646), less
#: a margin for children. Turning the head foreshortens a face's width, not its height: a
#: frame whose longer side at a known scale is shorter holds no face to find.
FACE_MIN_HEIGHT_MM = 80.0
#: Views in which the whole face is photographed (a face is expected; see
#: :func:`face_expected`). ``left`` / ``right`` may be a profile or a cheek close-up.
FACE_VIEWS = frozenset({"front", "left45", "right45"})


class NoSkinError(ValueError):
    """A photo holds less skin than the pipeline's ``[roi] min_skin_fraction``."""


def find_plausible_face(srgb: np.ndarray, px_per_mm: float | None,
                        expected: bool = True) -> Face | None:
    """:func:`skinmetrics.face.find_face`, ignoring a face whose interocular distance at a
    known scale is outside :data:`FACE_IPD_RANGE_MM`. A frame whose larger side at a known
    scale is under :data:`FACE_MIN_HEIGHT_MM` cannot hold one: it is not searched (a cheek
    close-up). Where a face is
    not ``expected`` (:func:`face_expected`) only the fast detector looks (no CNN
    fallback); at a known scale it looks for no face smaller than that range and
    :data:`FACE_MIN_HEIGHT_MM` allow."""
    if px_per_mm and max(srgb.shape[:2]) / px_per_mm < FACE_MIN_HEIGHT_MM:
        return None
    face = find_face(srgb, cnn_fallback=expected,
                     min_interocular_px=px_per_mm and FACE_IPD_RANGE_MM[0] * px_per_mm,
                     min_face_height_px=px_per_mm and FACE_MIN_HEIGHT_MM * px_per_mm)
    if face is None or not px_per_mm:
        return face
    low, high = FACE_IPD_RANGE_MM
    return face if low <= face.interocular / px_per_mm <= high else None


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


@dataclass
class PhotoMeasurement:
    """One photograph measured in memory (:func:`measure`).

    Attributes
    ----------
    srgb : (H, W, 3) float ndarray or SRGBCodes
        The photo as measured: colour-calibrated and, for a follow-up whose colour is
        normalised to its baseline's, with the baseline's colour (a photo given as
        :class:`skinmetrics.colour.SRGBCodes` and not calibrated stays codes, with the
        normalised colour's table).
    result : Measurement
        Masks (``roi`` and one per layer), metrics, units, per-region metrics, estimates
        and the layers' warnings (:func:`skinmetrics.pipeline.summarise_layers`).
    detection : Detection
        The lesions found on the whole skin region: a follow-up summarises its baseline's
        within the skin it shows (:func:`skinmetrics.pipeline.detect_layers`).
    px_per_mm : float or None
        The scale used (the chart's when it gave one).
    scale_source : str
        ``chart``, the caller's ``scale_source`` when ``px_per_mm`` was given, else ``none``.
    calibration : Calibration
    clipped : (H, W) bool ndarray
        Pixels clipped in the photo as taken (before any colour correction).
    face : Face or None
        The face found (None in a close-up, or when the pipeline has no regions).
    size_px_per_mm : float or None
        Without a scale: the scale the face's eye distance gives to the size limits.
    areas : dict of str -> (H, W) bool ndarray
        The anatomical regions measured (the baseline's, mapped, for a registered follow-up).
    excluded : (H, W) bool ndarray or None
        Eyes, brows, lips and nostrils (with a margin): never skin.
    face_area : (H, W) bool ndarray or None
        The face's outline (:func:`skinmetrics.face.face_outline_mask`), for the layers
        that search only the face (acne lesions); None without a face.
    regions_source : str or None
        ``landmarks`` or ``baseline landmarks, registered``; None without regions.
    alignment : Alignment or None
        How a follow-up was aligned to its baseline.
    baseline_result : Measurement or None
        The baseline measured over the skin this follow-up shows: its change from baseline
        is computed from these values.
    given_estimates : mapping or None
        The baseline's estimates this follow-up was measured with (same colours).
    warnings : list of str
        What the reader should know, one line each (the layers' too).
    registration_frames : dict
        As a baseline: its side of the registration with its follow-ups, made for the
        first and kept for the others (:func:`skinmetrics.align.align_to_baseline`).
    """

    srgb: np.ndarray
    result: Measurement
    detection: Detection
    px_per_mm: float | None
    scale_source: str
    calibration: Calibration
    clipped: np.ndarray
    face: Face | None = None
    size_px_per_mm: float | None = None
    areas: dict[str, np.ndarray] = field(default_factory=dict)
    excluded: np.ndarray | None = None
    regions_source: str | None = None
    alignment: Alignment | None = None
    baseline_result: Measurement | None = None
    given_estimates: Mapping[str, Mapping[str, float | None]] | None = None
    warnings: list[str] = field(default_factory=list)
    face_area: np.ndarray | None = None
    registration_frames: dict = field(default_factory=dict, repr=False)

    def as_baseline(self) -> PhotoMeasurement:
        """This measurement as its follow-ups read it (``measure(..., baseline=)``): the
        same, without the layers' masks, which a follow-up does not read (it reads the
        skin region and what the layers found), so that a batch holding a baseline while
        its follow-ups are measured does not hold them (at 12 MP, 11 MB a layer)."""
        return replace(self, result=replace(self.result,
                                            masks={"roi": self.result.masks["roi"]}))

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """``roi``, each layer's mask and ``region_<name>`` per anatomical region."""
        roi = self.result.masks["roi"]
        return {**self.result.masks, **{f"region_{n}": m & roi for n, m in self.areas.items()}}

    @property
    def metrics(self) -> dict:
        """Whole-skin metrics."""
        return self.result.metrics

    @property
    def units(self) -> dict[str, str]:
        return self.result.units

    @property
    def estimates(self) -> dict:
        return self.result.estimates

    @property
    def regions(self) -> dict | None:
        """Metrics per region (``whole`` first); None in a photo without regions."""
        return {"whole": self.result.metrics, **self.result.regions} if self.areas else None

    @property
    def baseline_metrics(self) -> dict | None:
        """The baseline over the skin this follow-up shows (None: not aligned)."""
        return None if self.baseline_result is None else self.baseline_result.metrics

    @property
    def baseline_regions(self) -> dict | None:
        paired = self.baseline_result
        if paired is None or not paired.regions:
            return None
        return {"whole": paired.metrics, **paired.regions}

    def as_record(self, pipeline: Pipeline) -> dict:
        """The measurement as JSON-ready values (metrics.json without the ``photo`` file
        entry; see :func:`skinmetrics.photo.measure_photo`)."""
        face = self.face
        given = self.given_estimates or {}
        return {
            "skinmetrics_version": __version__,
            "px_per_mm": self.px_per_mm,
            "scale_source": self.scale_source,
            "calibration": self.calibration.as_dict(),
            "alignment": None if self.alignment is None else self.alignment.as_dict(),
            "baseline_metrics": self.baseline_metrics,
            "baseline_regions": self.baseline_regions,
            "face": None if face is None else {
                "view": face.view, "detector": face.detector,
                "asymmetry": round(float(face.asymmetry), 3),
                "size_px_per_mm": (None if self.size_px_per_mm is None
                                   else round(self.size_px_per_mm, 3))},
            "regions_source": self.regions_source if self.areas else None,
            "regions": self.regions,
            "pipeline": pipeline.as_dict(),
            "layers": sorted(self.result.masks),
            "metrics": self.metrics,
            "units": self.units,
            "estimates": self.estimates,
            "estimates_source": {stage: {k: "baseline" if given.get(stage, {}).get(k)
                                         is not None else "photo" for k in values}
                                 for stage, values in self.estimates.items()},
            "warnings": self.warnings,
        }


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


def measure(srgb: np.ndarray, pipeline: Pipeline, *, px_per_mm: float | None = None,
            scale_source: str = "given", chart: object = "auto",
            baseline: PhotoMeasurement | None = None, register: bool = True,
            view: str = "", timings: dict[str, float] | None = None) -> PhotoMeasurement:
    """Measure a photograph held in memory, aligned to its baseline when one is given.

    Parameters
    ----------
    srgb : (H, W, 3) float ndarray or SRGBCodes
        sRGB code values in [0, 1], as taken (see :func:`skinmetrics.io.read_image`; as
        integer codes, :class:`skinmetrics.colour.SRGBCodes`, the photo and a baseline kept
        for its follow-ups take a quarter of the memory, with the same results).
    pipeline : Pipeline
    px_per_mm : float, optional
        Scale (used when no chart gives one); without any, mm metrics are None.
    scale_source : str
        Where ``px_per_mm`` came from, for the record (``flag``, ``manifest`` ...).
    chart : 'auto', 'none', path or (4, 2) corners
        The colour chart (see :func:`skinmetrics.correction.calibrate`).
    baseline : PhotoMeasurement, optional
        The patient's baseline photo, measured by this function (with the same chart
        option): this photo is a follow-up aligned to it.
    register : bool
        With a baseline: register to it (else only the colour is left as it is).
    view : str
        The photo's view (``front``, ``left45`` ...), to tell whether a face is expected
        (:func:`face_expected`).
    timings : dict, optional
        Filled with the seconds spent in each step: ``calibrate`` (chart search and
        correction), ``face``, ``align`` (a follow-up's skin region, registration and colour
        normalisation), the steps of :func:`skinmetrics.pipeline.measure_image` and
        ``baseline over the compared skin``.

    Returns
    -------
    PhotoMeasurement

    Raises
    ------
    NoSkinError
        Less than ``[roi] min_skin_fraction`` of a photo measured alone is skin, or its skin
        region is uniform (less lightness texture than ``[roi] min_texture_l_star``,
        :func:`skinmetrics.roi.skin_texture`).

    Notes
    -----
    In a face photo the eyes, brows, lips and nostrils (with a margin) are not skin, in the
    ``whole`` region too. A registered follow-up is measured in the baseline's regions mapped
    into it by the registration (the same skin at every visit); the follow-up's own landmarks
    give its regions when it is not registered or the baseline shows no face.

    A follow-up whose colour is the baseline's (both chart-calibrated, or normalised to it)
    is measured with the baseline's estimates (a stage's photo-specific values, e.g. the
    erythema layer's melanin crosstalk), and so is the baseline over its part; a value the
    baseline could not measure is the follow-up's own, for both.
    """
    clock = Clock(timings)
    # clipping is found on the photo as taken: a colour correction (or the gains that bring
    # a follow-up to its baseline) can move a clipped channel below the clip level while its
    # true value stays unknown
    clipped = clipped_mask(srgb, pipeline.params["roi"]["clip_level"])
    # the float photo (made once from codes) for the searches on resampled copies: chart,
    # face, a follow-up's first skin region; freed before the layers
    photo = np.asarray(srgb, dtype=np.float32)
    cal = calibrate(photo, chart, patch_pitch_mm=pipeline.params["scale"]["chart_patch_pitch_mm"])
    srgb = cal.apply(srgb)
    if cal.ccm is not None:
        photo = srgb
    clock.lap("calibrate")
    if cal.px_per_mm:
        px_per_mm, scale_source = cal.px_per_mm, "chart"
    elif not px_per_mm:
        scale_source = "none"
    warnings: list[str] = []
    expected = face_expected(view, srgb.shape, px_per_mm,
                             pipeline.params["scale"]["face_photo_min_mm"])
    # without a scale a face photo cannot be told from a close-up: search it fully
    face = (find_plausible_face(photo, px_per_mm, expected or not px_per_mm)
            if pipeline.regions else None)
    areas, excluded = _face_areas(face, srgb.shape, pipeline.regions)
    face_area = None if face is None else face_outline_mask(face, srgb.shape)
    regions_source = "landmarks" if face is not None else None
    clock.lap("face")
    region = alignment = given = None
    if baseline is not None:  # a first skin region, to register on
        first_skin, first_hair = skin_region_and_fringe(
            photo, pipeline, px_per_mm, not_skin=_union(clipped, cal.chart_mask, excluded),
            coarse=True)
        clock.lap("follow-up skin region")
    del photo
    if baseline is not None:
        base_cal = baseline.calibration
        both_charted = cal.ccm is not None and base_cal.ccm is not None
        alignment = align_to_baseline(baseline.srgb, baseline.result.masks["roi"], srgb,
                                      first_skin, register_photos=register,
                                      normalise_colour=not both_charted,
                                      frames=baseline.registration_frames,
                                      baseline_hair=baseline.detection.photo_fringe,
                                      followup_hair=first_hair)
        del first_skin, first_hair  # used only to align
        srgb = alignment.srgb
        if both_charted or alignment.gains is not None:  # the same colours: the same skin,
            given = baseline.estimates                   # unmixed the same way
        reg = alignment.registration
        if reg is not None and not reg.ok:
            warnings.append(f"not registered to its baseline ({reg.message}); measured "
                            "unregistered")
        if alignment.region is not None:
            region = alignment.region
            if baseline.face is not None:  # the baseline's regions, mapped into this photo
                mapped = {n: warp_to_followup(m, reg, srgb.shape)
                          for n, m in baseline.areas.items()}
                areas = {n: m for n, m in mapped.items() if m.any()}
                regions_source = "baseline landmarks, registered"
                if face is None:
                    excluded = warp_to_followup(baseline.excluded, reg, srgb.shape)
                    face_area = warp_to_followup(baseline.face_area, reg, srgb.shape)
        clock.lap("align")
    if not areas and pipeline.regions and expected:
        warnings.append("no face found in a whole-face photo; measured over the whole skin "
                        "region")
    # without a scale, a face gives the size limits one: adult interpupillary distance ~63 mm
    size_ppm = (face.frontal_interocular / FACE_IPD_MM if face is not None and not px_per_mm
                else None)
    detection = detect_layers(srgb, pipeline, px_per_mm,
                              not_skin=_union(cal.chart_mask, excluded, clipped),
                              size_px_per_mm=size_ppm, estimates=given, face_area=face_area,
                              timings=timings)
    # registered: pores and crusts counted where neither visit's hair hides them
    base_fringe = (None if region is None else
                   warp_to_followup(baseline.detection.photo_fringe, alignment.registration,
                                    srgb.shape))
    result = summarise_layers(detection, pipeline, region=region, regions=areas,
                              other_fringe=base_fringe, timings=timings)
    del base_fringe
    clock.restart()  # the layers recorded their own steps
    warnings.extend(result.warnings)
    skin_share = result.metrics["roi_area_px"] / (srgb.shape[0] * srgb.shape[1])
    if region is None and skin_share < pipeline.params["roi"]["min_skin_fraction"]:
        raise NoSkinError(f"no skin found (skin region {100 * skin_share:.1f} % of the photo, "
                          f"at least {100 * pipeline.params['roi']['min_skin_fraction']:g} % "
                          "needed)")
    texture = skin_texture(srgb, result.masks["roi"]) if region is None else float("nan")
    if texture < pipeline.params["roi"]["min_texture_l_star"]:
        raise NoSkinError(f"no skin found (the skin-coloured region is uniform: lightness "
                          f"texture {texture:.2f} L*, skin shows at least "
                          f"{pipeline.params['roi']['min_texture_l_star']:g}; a wall, paper or "
                          "backdrop)")
    lost = _clipped_share(srgb, result.masks["roi"], clipped, cal.chart_mask, region,
                          pipeline, px_per_mm or size_ppm)
    if lost > pipeline.params["roi"]["clipped_warning_fraction"]:
        whose, then = (("the skin", "measured") if region is None
                       else ("the baseline's skin", "compared"))
        warnings.append(f"over-exposed: {100 * lost:.0f} % of {whose} is clipped in this "
                        f"photo; {then} over the rest")
    detection.planes.release()  # kept for follow-ups: only what they need
    paired = None
    if region is not None:  # the baseline over the skin this follow-up measured
        base = baseline
        compared = warp_to_baseline(result.masks["roi"], alignment.registration,
                                    base.srgb.shape)
        fringe = warp_to_baseline(detection.photo_fringe, alignment.registration,
                                  base.srgb.shape)
        base_regions = base.areas if base.face is not None else None
        if result.estimates == base.detection.estimates:  # its lesions as found
            paired = summarise_layers(base.detection, pipeline, region=compared,
                                      regions=base_regions, other_fringe=fringe)
            base.detection.planes.release()  # as it was: kept for the other follow-ups
        else:  # found again with the estimates this follow-up was measured with
            paired = measure_image(
                base.srgb, pipeline, base.px_per_mm, region=compared,
                not_skin=_union(base.calibration.chart_mask, base.excluded, base.clipped),
                size_px_per_mm=base.size_px_per_mm, regions=base_regions,
                estimates=result.estimates, face_area=base.face_area, other_fringe=fringe)
        del compared, fringe
        clock.lap("baseline over the compared skin")
    return PhotoMeasurement(srgb, result, detection, px_per_mm, scale_source, cal, clipped,
                            face, size_ppm, areas, excluded, regions_source, alignment, paired,
                            given, warnings, face_area)
