"""Declarative pipelines: which layers to measure and with which parameters.

A pipeline is a TOML file (``pipelines/*.toml``)::

    name = "laser_recovery"
    description = "..."
    stages = ["erythema", "microcrust", "pigmentation"]

    [scale]
    assumed_px_per_mm = 25.0   # converts mm size limits to px when the scale is unknown

    [roi]
    ...                        # every key of skinmetrics.roi.PARAMS

    [erythema]
    ...                        # every key of the stage's PARAMS

Every parameter must be given (the code holds no hidden defaults); an unknown key, a
missing key or section, an unknown stage or a value of the wrong type or range is a
:class:`PipelineError` whose one-line message names the file, section and key.
"""

from __future__ import annotations

import inspect
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from . import roi as roi_module
from .colour import ColourPlanes, resized_photo
from .face import REGIONS
from .filters import compact_labels, renumbered
from .stages import STAGES
from .stages.base import Param, Scale, coarser_copy, hair_distance

__all__ = ["STAGES", "Pipeline", "PipelineError", "Measurement", "Detection", "load_pipeline",
           "builtin_pipelines", "measure_image", "detect_layers", "summarise_layers",
           "skin_region", "skin_region_and_fringe"]

_SCALE_PARAMS = {
    "assumed_px_per_mm": Param(float, 1e-3, 1e5, "scale for mm size limits when unknown"),
    "max_px_per_mm": Param(float, 1.0, 1e5, "finer photos are measured resampled to this"),
    "coarse_px_per_mm": Param(float, 1.0, 1e5, "scale of a follow-up's first skin region"),
    "chart_patch_pitch_mm": Param(float, 0.1, 1000, "colour chart patch pitch, for px_per_mm"),
    "face_photo_min_mm": Param(float, 1.0, 1e4, "field of view from which a face is expected"),
    "max_megapixels": Param(float, 0.1, 1e4, "larger JPEGs are decoded reduced, others refused"),
}
_TOP_KEYS = {"name", "description", "stages", "regions", "scale", "roi"}



class PipelineError(ValueError):
    """A pipeline file is invalid (one-line message naming the file and key)."""


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline.

    Attributes
    ----------
    name, description : str
    stages : tuple of str
        Stage names, in order.
    regions : tuple of str
        Anatomical regions measured in whole-face photos (:data:`REGIONS`); close-ups and
        photos without a face are measured as the one region ``whole``.
    params : dict
        Section name (``scale``, ``roi`` and each stage) -> {key: value}.
    source : str
        Where it was loaded from.
    """

    name: str
    description: str
    stages: tuple[str, ...]
    params: dict[str, dict]
    source: str = ""
    regions: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Plain-data form, for metrics.json and run.json."""
        return {"name": self.name, "description": self.description,
                "stages": list(self.stages), "regions": list(self.regions),
                "params": self.params, "source": self.source}


@dataclass
class Measurement:
    """Result of measuring one photograph.

    Attributes
    ----------
    masks : dict of str -> (H, W) bool ndarray
        ``roi`` and the mask of every stage that ran (``erythema``, ``microcrust``,
        ``pore``, ``pigment``).
    metrics : dict of str -> float, int or None
        None where a value cannot be measured (e.g. mm without scale).
    units : dict of str -> str
    regions : dict of str -> dict
        Metrics per requested region (see :func:`measure_image`'s ``regions``).
    estimates : dict of str -> dict
        Per stage, the values it estimated from the photo or was given (e.g. ``erythema``:
        ``melanin_crosstalk``, haemoglobin OD read per OD of melanin, None: not
        measurable, nothing taken out; ``reference_levels``, the haemoglobin excess, OD,
        above which each pass of its unaffected-skin reference left skin out).
    warnings : list of str
        What the reader should know, e.g. a layer the photo's resolution cannot resolve.
    """

    masks: dict[str, np.ndarray]
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    regions: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    estimates: dict[str, dict[str, float | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def builtin_pipelines() -> list[str]:
    """Names of the pipelines shipped with skinmetrics."""
    files = resources.files("skinmetrics.pipelines")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def _check_section(where: str, values: object, spec: Mapping[str, Param]) -> dict:
    if not isinstance(values, dict):
        raise PipelineError(f"{where}: must be a table of parameters")
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise PipelineError(f"{where}: unknown key '{unknown[0]}' "
                            f"(known: {', '.join(sorted(spec))})")
    missing = [k for k in spec if k not in values]
    if missing:
        raise PipelineError(f"{where}: missing key '{missing[0]}' ({spec[missing[0]].doc})")
    out = {}
    for key, param in spec.items():
        err = param.check(values[key])
        if err:
            raise PipelineError(f"{where}.{key} {err}")
        out[key] = param.kind(values[key])
    return out


def parse_pipeline(data: Mapping, source: str) -> Pipeline:
    """Validate a pipeline given as a parsed TOML mapping; see the module text."""
    unknown = sorted(set(data) - _TOP_KEYS - set(STAGES))
    if unknown:
        raise PipelineError(f"{source}: unknown key '{unknown[0]}'")
    for key in ("name", "stages", "scale", "roi"):
        if key not in data:
            raise PipelineError(f"{source}: missing key '{key}'")
    if not isinstance(data["name"], str) or not data["name"]:
        raise PipelineError(f"{source}: 'name' must be a non-empty string")
    stages = data["stages"]
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise PipelineError(f"{source}: 'stages' must be a non-empty list of stage names")
    for s in stages:
        if s not in STAGES:
            raise PipelineError(f"{source}: unknown stage '{s}' (known: {', '.join(STAGES)})")
        if s not in data:
            raise PipelineError(f"{source}: stage '{s}' is listed but has no [{s}] section")
    if len(set(stages)) != len(stages):
        raise PipelineError(f"{source}: a stage is listed twice in 'stages'")
    extra = [s for s in STAGES if s in data and s not in stages]
    if extra:
        raise PipelineError(f"{source}: section [{extra[0]}] is not in 'stages'")
    params = {"scale": _check_section(f"{source}: [scale]", data["scale"], _SCALE_PARAMS),
              "roi": _check_section(f"{source}: [roi]", data["roi"], roi_module.PARAMS)}
    for s in stages:
        params[s] = _check_section(f"{source}: [{s}]", data[s], STAGES[s].PARAMS)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PipelineError(f"{source}: 'description' must be a string")
    regions = data.get("regions", [])
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise PipelineError(f"{source}: 'regions' must be a list of region names")
    for r in regions:
        if r not in REGIONS:
            raise PipelineError(f"{source}: unknown region '{r}' (known: {', '.join(REGIONS)})")
    return Pipeline(data["name"], description, tuple(stages), params, source, tuple(regions))


def load_pipeline(name_or_path: str | Path) -> Pipeline:
    """Load a built-in pipeline by name or a pipeline file by path.

    Raises
    ------
    PipelineError
        Unknown name, unreadable file, TOML syntax error or invalid content.
    """
    text_name = str(name_or_path)
    path = Path(text_name)
    if path.suffix.lower() == ".toml" or path.exists():
        if not path.is_file():
            raise PipelineError(f"{text_name}: pipeline file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{text_name}: cannot read pipeline file ({exc})") from exc
        source = str(path)
    else:
        names = builtin_pipelines()
        if text_name not in names:
            raise PipelineError(f"unknown pipeline '{text_name}' (built in: {', '.join(names)};"
                                " or give a path to a .toml file)")
        text = resources.files("skinmetrics.pipelines").joinpath(f"{text_name}.toml").read_text(
            encoding="utf-8")
        source = f"builtin:{text_name}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{source}: invalid TOML ({exc})") from exc
    return parse_pipeline(data, source)


@dataclass
class Detection:
    """The lesions of every layer found on a photo's whole skin region
    (:func:`detect_layers`), to be summarised within any region (:func:`summarise_layers`).

    Attributes
    ----------
    shape : tuple of int
        The photo's (H, W).
    planes : ColourPlanes
        The photo as measured (resampled when finer than ``max_px_per_mm``).
    scale : Scale
        Of the measured copy (its known scale, else the size limits' estimate).
    roi, fringe : (h, w) bool ndarray
        Skin region and the skin blurred by hair, at the measured copy's size.
    found : dict of str -> ndarray
        Per stage, what its ``detect`` found (a mask, or a label image in the smallest
        unsigned type that holds its labels, :func:`skinmetrics.filters.compact_labels`).
    resolved : dict of str -> bool
        Per stage, whether the photo's resolution allows it (else it found nothing and its
        metrics are None).
    estimates : dict of str -> dict
        Per stage, the values it estimated from the photo or was given.
    warnings : list of str
    """

    shape: tuple[int, int]
    planes: ColourPlanes
    scale: Scale
    roi: np.ndarray
    fringe: np.ndarray
    found: dict[str, np.ndarray] = field(default_factory=dict)
    resolved: dict[str, bool] = field(default_factory=dict)
    estimates: dict[str, dict[str, float | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def resampled(self) -> bool:
        return self.planes.srgb.shape[:2] != self.shape

    @property
    def photo_fringe(self) -> np.ndarray:
        """:attr:`fringe` at the photo's own size."""
        return _resized(self.fringe, self.shape) if self.resampled else self.fringe


def measure_image(srgb: np.ndarray, pipeline: Pipeline, px_per_mm: float | None = None,
                  timings: dict[str, float] | None = None,
                  region: np.ndarray | None = None,
                  not_skin: np.ndarray | None = None,
                  size_px_per_mm: float | None = None,
                  regions: Mapping[str, np.ndarray] | None = None,
                  estimates: Mapping[str, Mapping[str, float | None]] | None = None,
                  face_area: np.ndarray | None = None,
                  other_fringe: np.ndarray | None = None) -> Measurement:
    """Measure one photograph with a pipeline: :func:`detect_layers`, then
    :func:`summarise_layers`.

    Parameters
    ----------
    srgb : (H, W, 3) float ndarray
        sRGB code values in [0, 1] (see :func:`skinmetrics.io.read_image`).
    pipeline : Pipeline
    px_per_mm : float, optional
        Image scale; without it mm-based metrics are None. A photo finer than the
        pipeline's ``[scale] max_px_per_mm`` is measured on a copy resampled to that scale
        (area averaging): the smallest structures measured (0.05 mm) still span 1.5 px at
        30 px/mm, and the work falls with the square of the scale. Masks are returned at
        the photo's size (nearest neighbour) and px areas in the photo's own pixels.
        A layer with a ``work_px_per_mm`` (erythema: its patches are a millimetre or
        more) finds its lesions on a copy resampled further, to that scale, and draws
        them back on the photo (a bilinear outline); a stage whose ``detect`` takes a
        ``finer`` argument is given the photo too (its planes, roi, fringe and scale) and
        returns its lesions on the photo's pixels (refined there, e.g. pigmented spots).
    region : (H, W) bool ndarray, optional
        Where to measure (e.g. the part of a follow-up photo its baseline also shows,
        without a colour chart's pixels): lesions are found on the whole skin region, then
        masks and metrics are limited to the skin inside ``region``.
    not_skin : (H, W) bool ndarray, optional
        Pixels that are never skin (a colour chart, pixels clipped in the photo as taken
        before a colour correction): left out of the skin region as clipped pixels are
        (:func:`skinmetrics.roi.skin_and_fringe`).
    size_px_per_mm : float, optional
        Without ``px_per_mm``: an estimated scale used only to turn the pipeline's mm size
        limits into pixels (e.g. from the face's eye distance); mm metrics stay None.
    regions : mapping of str -> (H, W) bool ndarray, optional
        Areas (anatomical regions) to report metrics for as well, in ``Measurement.regions``:
        lesions are found once on the whole skin and summarised within each area (and
        within ``region``).
    estimates : mapping of str -> mapping, optional
        Per stage, values to use instead of estimating them from this photo (a
        :attr:`Measurement.estimates` of the patient's baseline: the same skin measured
        the same way at every visit); a None value is estimated.
    face_area : (H, W) bool ndarray, optional
        In a face photo, the face's outline (:func:`skinmetrics.face.face_outline_mask`):
        handed to the stages whose ``detect`` takes a ``face_area`` argument (the acne
        lesions: skin-coloured neck, ears, hair or backdrop outside it is not searched).
        The skin region and the other layers do not use it.
    other_fringe : (H, W) bool ndarray, optional
        The hair fringe of the photo this one is compared with, mapped into it (see
        :func:`summarise_layers`).
    timings : dict, optional
        Filled with the seconds spent in each step (``resample``, ``roi`` including the
        colour conversions, each stage, ``summarise``, ``upsample``).

    A stage with a ``min_px_per_mm`` parameter (pores, crusts: structures a few tenths of
    a mm across) is not measured on a photo coarser than that, by its known or estimated
    scale: its mask is empty, its metrics None, and :attr:`Measurement.warnings` says so.

    Returns
    -------
    Measurement
    """
    detection = detect_layers(srgb, pipeline, px_per_mm, not_skin=not_skin,
                              size_px_per_mm=size_px_per_mm, estimates=estimates,
                              face_area=face_area, timings=timings)
    return summarise_layers(detection, pipeline, region=region, regions=regions,
                            other_fringe=other_fringe, timings=timings)


def detection_order(stages: Sequence[str]) -> list[str]:
    """The order in which ``stages`` find their lesions: as listed, but each after the
    layers it uses (:attr:`skinmetrics.methods.Layer.uses`) that are among them."""
    order: list[str] = []
    pending = list(stages)
    while pending:
        ready = next(s for s in pending
                     if all(u in order or u not in stages for u in STAGES[s].LAYER.uses))
        order.append(ready)
        pending.remove(ready)
    return order


def detect_layers(srgb: np.ndarray, pipeline: Pipeline, px_per_mm: float | None = None, *,
                  not_skin: np.ndarray | None = None, size_px_per_mm: float | None = None,
                  estimates: Mapping[str, Mapping[str, float | None]] | None = None,
                  face_area: np.ndarray | None = None,
                  timings: dict[str, float] | None = None) -> Detection:
    """The skin region and every stage's lesions on the whole of it (the arguments are
    :func:`measure_image`'s; ``face_area`` goes, at the measured copy's size, to the
    stages whose ``detect`` has a ``face_area`` argument)."""
    if px_per_mm is not None and not px_per_mm > 0:
        raise ValueError(f"px_per_mm must be positive (got {px_per_mm})")
    clock = Clock(timings)
    shape = srgb.shape[:2]
    for name, mask in (("not_skin", not_skin), ("face_area", face_area)):
        if mask is not None and mask.shape != shape:
            raise ValueError(f"{name} is {mask.shape}, the photo {shape}")
    work, work_ppm = _working_copy(srgb, pipeline, px_per_mm)
    if work is not srgb:
        clock.lap("resample")
        not_skin = _resized(not_skin, work.shape)
        face_area = _resized(face_area, work.shape)
    planes = ColourPlanes(work)  # colour conversions happen (once) where first needed
    scale = Scale(work_ppm, work_ppm or size_px_per_mm
                  or pipeline.params["scale"]["assumed_px_per_mm"])
    roi, fringe = roi_module.skin_and_fringe(planes, pipeline.params["roi"], scale, not_skin)
    detection = Detection(shape, planes, scale, roi, fringe)
    # each layer makes the planes it needs and frees them (a 12 MP plane is 48 MB, CIELAB
    # 144 MB); a float photo's linear RGB, as large as the photo, is kept
    planes.release(keep=("linear",))
    clock.lap("roi")
    known_ppm = work_ppm or size_px_per_mm
    coarser: dict[float, tuple] = {}  # the copies at each layer's working scale
    order = detection_order(pipeline.stages)
    limits = [pipeline.params[name].get("work_px_per_mm", 0.0) for name in order]
    for i, name in enumerate(order):
        module = STAGES[name]
        params = pipeline.params[name]
        need = params.get("min_px_per_mm", 0.0)
        detection.resolved[name] = not (known_ppm and known_ppm < need)
        if detection.resolved[name]:
            given = dict((estimates or {}).get(name, {}))
            takes = inspect.signature(module.detect).parameters
            wants_face = "face_area" in takes
            if "found" in takes:  # the lesions of the layers it uses, found before it
                given["found"] = {u: detection.found[u].astype(bool, copy=False)
                                  for u in module.LAYER.uses if u in detection.found}
            limit = params.get("work_px_per_mm", 0.0)
            if limit and scale.size_px_per_mm > limit:  # found on a coarser copy
                if limit not in coarser:
                    coarser[limit] = coarser_copy(planes, roi, fringe, scale, limit)
                at_planes, at_roi, at_fringe, at_scale = coarser[limit]
                if wants_face:
                    given["face_area"] = _resized(face_area, at_roi.shape)
                if "found" in given:
                    given["found"] = {u: _resized(m, at_roi.shape)
                                      for u, m in given["found"].items()}
                if "finer" in takes:  # the stage refines its lesions on the photo itself
                    given["finer"] = (planes, roi, fringe, scale)
                found, used = module.detect(at_planes, at_roi, params, at_scale, at_fringe,
                                            **given)
                del at_planes, at_roi, at_fringe
                if limit not in limits[i + 1:]:  # no later layer works at this scale
                    del coarser[limit]
                if "finer" not in takes:
                    found = _drawn_back(found, roi)
            else:
                if wants_face:
                    given["face_area"] = face_area
                found, used = module.detect(planes, roi, params, scale, fringe, **given)
            if used:
                detection.estimates[name] = used
        else:
            found = np.zeros(roi.shape, np.int32)
            detection.warnings.append(f"{name} not measured: it needs {need:g} px/mm, this "
                                      f"photo has {known_ppm:.1f} px/mm")
        detection.found[name] = compact_labels(found)  # kept with the measurement
        del found  # e.g. int32 labels: not held while the next layer is found
        # nor the planes it made (the last layer's CIELAB serves the summaries)
        planes.release(keep=("linear", "lab") if name == order[-1] else ("linear",))
        clock.lap(name)
    return detection


def summarise_layers(detection: Detection, pipeline: Pipeline, *,
                     region: np.ndarray | None = None,
                     regions: Mapping[str, np.ndarray] | None = None,
                     other_fringe: np.ndarray | None = None,
                     timings: dict[str, float] | None = None) -> Measurement:
    """Masks and metrics of what :func:`detect_layers` found, within ``region`` and each
    of ``regions`` (see :func:`measure_image`), at the photo's own size.

    The layers not sought in a hair's fringe (pores, crusts) are told it
    (:mod:`skinmetrics.stages`); with ``other_fringe``, the fringe of the photo this one is
    compared with (a baseline and its follow-up, registered), mapped into this photo, their
    fringe is that of either photo: both count the same skin, whichever visit's hair hides
    it. ``roi_hair_fringe_pct`` is the share of the skin region in that fringe."""
    clock = Clock(timings)
    for name, mask in (("region", region), ("other_fringe", other_fringe),
                       *(regions or {}).items()):
        if mask is not None and mask.shape != detection.shape:
            raise ValueError(f"{name} is {mask.shape}, the photo {detection.shape}")

    def to_work(mask: np.ndarray | None) -> np.ndarray | None:
        return _resized(mask, detection.roi.shape) if detection.resampled else mask

    planes, roi, scale = detection.planes, detection.roi, detection.scale
    work_ppm = scale.px_per_mm
    region = to_work(region)

    other = to_work(other_fringe)

    def either_fringe() -> np.ndarray:  # made when needed: a plane as large as the photo
        return detection.fringe if other is None else detection.fringe | other

    def roi_metrics(where: np.ndarray, fringe: np.ndarray) -> dict:
        px = int(np.count_nonzero(where))
        return {"roi_area_px": px, "roi_area_mm2": px / work_ppm**2 if work_ppm else None,
                "roi_hair_fringe_pct": (100.0 * np.count_nonzero(fringe & where) / px
                                        if px else None)}

    here = roi if region is None else roi & region
    result = Measurement(masks={"roi": here}, estimates=dict(detection.estimates),
                         warnings=list(detection.warnings))
    fringe = either_fringe()
    result.metrics.update(roi_metrics(here, fringe))
    result.units.update(roi_area_px="px", roi_area_mm2="mm2",
                        roi_hair_fringe_pct="% of skin region")
    areas = {name: to_work(mask) if region is None else to_work(mask) & region
             for name, mask in (regions or {}).items()}
    result.regions = {name: roi_metrics(roi & area, fringe) for name, area in areas.items()}
    del fringe
    held = planes.made
    for name in pipeline.stages:
        module = STAGES[name]
        given = {}  # freed before the next layer's summaries
        takes = inspect.signature(module.summarise).parameters
        if "fringe" in takes or "hair" in takes:
            fringe = either_fringe()
            if "fringe" in takes:
                given["fringe"] = fringe
            if "hair" in takes:
                given["hair"] = hair_distance(fringe)
            del fringe
        for area_name, where in (("", region), *areas.items()):
            out = module.summarise(planes, roi, detection.found[name], pipeline.params[name],
                                   scale, where, **given)
            if not detection.resolved[name]:
                out.metrics = dict.fromkeys(out.metrics)
            if area_name:
                result.regions[area_name].update(out.metrics)
            else:
                result.masks[module.LAYER.mask] = out.mask
                result.metrics.update(out.metrics)
                result.units.update(out.units)
        planes.release(keep=held)  # what this layer's summaries made: not held by the next
    clock.lap("summarise")
    if detection.resampled:  # back to the photo's own pixels
        height, width = detection.shape
        area_factor = (width * height) / (roi.shape[0] * roi.shape[1])
        for metrics in (result.metrics, *result.regions.values()):
            for key, unit in result.units.items():
                if unit == "px" and metrics.get(key) is not None:
                    metrics[key] = round(metrics[key] * area_factor)
        result.masks = {k: _resized(m, detection.shape) for k, m in result.masks.items()}
        clock.lap("upsample")
    return result


def _working_copy(srgb: np.ndarray, pipeline: Pipeline, px_per_mm: float | None,
                  limit: float | None = None) -> tuple[np.ndarray, float | None]:
    """The photo at no finer than ``limit`` px/mm (default: the pipeline's
    ``max_px_per_mm``; area resampling)."""
    height, width = srgb.shape[:2]
    limit = limit or pipeline.params["scale"]["max_px_per_mm"]
    if not px_per_mm or px_per_mm <= limit:
        return srgb, px_per_mm
    size = (max(1, round(width * limit / px_per_mm)), max(1, round(height * limit / px_per_mm)))
    return resized_photo(srgb, size), px_per_mm * size[0] / width


def skin_region(srgb: np.ndarray, pipeline: Pipeline, px_per_mm: float | None = None,
                not_skin: np.ndarray | None = None, coarse: bool = False) -> np.ndarray:
    """The skin region (roi) of a photo alone, at the photo's size (see :func:`measure_image`
    for the resampling of fine photos and ``not_skin``); ``coarse``: found on a copy at the
    pipeline's ``coarse_px_per_mm`` (a first region, e.g. to register a follow-up, where
    thin hairs need not be told from skin)."""
    return skin_region_and_fringe(srgb, pipeline, px_per_mm, not_skin, coarse)[0]


def skin_region_and_fringe(srgb: np.ndarray, pipeline: Pipeline,
                           px_per_mm: float | None = None,
                           not_skin: np.ndarray | None = None,
                           coarse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`skin_region` and the hair's fringe in it
    (:func:`skinmetrics.roi.skin_and_fringe`), both at the photo's size."""
    limit = pipeline.params["scale"]["coarse_px_per_mm"] if coarse else None
    work, work_ppm = _working_copy(srgb, pipeline, px_per_mm, limit)
    scale = Scale(work_ppm, work_ppm or pipeline.params["scale"]["assumed_px_per_mm"])
    same = work is srgb
    roi, fringe = roi_module.skin_and_fringe(ColourPlanes(work), pipeline.params["roi"], scale,
                                             not_skin if same else _resized(not_skin,
                                                                            work.shape))
    return (roi, fringe) if same else (_resized(roi, srgb.shape), _resized(fringe, srgb.shape))


def _drawn_back(found: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """Lesions found on a coarser copy, drawn on the photo's pixels (``roi``'s): a mask
    with a bilinear outline; a label image's labels by nearest neighbour within that
    outline, relabelled 1..N."""
    height, width = roi.shape
    inside = roi & (cv2.resize((found > 0).astype(np.float32), (width, height),
                               interpolation=cv2.INTER_LINEAR) >= 0.5)
    if found.dtype == bool:
        return inside
    rows = (np.arange(height) * found.shape[0]) // height
    cols = (np.arange(width) * found.shape[1]) // width
    labels = np.where(inside, found[np.ix_(rows, cols)], 0)
    keep = np.zeros(int(labels.max()) + 1, bool)
    keep[labels[inside]] = True
    keep[0] = False
    return renumbered(labels, keep)


def _resized(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A mask resampled (nearest neighbour) to ``shape`` (H, W, ...); None stays None."""
    if mask is None:
        return None
    return cv2.resize(mask.view(np.uint8), shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0


class Clock:
    """Records the seconds between laps into a dict (or does nothing without one): the
    ``timings`` of :func:`measure_image` and :func:`skinmetrics.core.measure`."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings
        self.last = time.perf_counter()

    def restart(self) -> None:
        """The next lap starts now (the time since the last one was recorded elsewhere)."""
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now
