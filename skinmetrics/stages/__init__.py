"""Measurement stages: one module per skin layer, each a set of pure functions over arrays.

Every module here but :mod:`~skinmetrics.stages.base` is a stage and declares

* ``LAYER``: what it measures (:class:`skinmetrics.methods.Layer`: name, method, metrics
  with units, definitions, formulas and references, mask name, overlay colour);
* ``PARAMS``: its pipeline parameters (:class:`skinmetrics.stages.base.Param`);
* ``detect(planes, roi, params, scale, fringe, **estimates)``: the lesions on the whole
  skin region and the values it estimated from the photo; a stage whose ``detect`` also
  takes a ``face_area`` argument is given the face's outline in a face photo (None
  otherwise; :func:`skinmetrics.face.face_outline_mask`, from
  :func:`skinmetrics.core.measure`); one whose ``detect`` takes ``found`` is given the
  lesions (masks) of the layers its ``LAYER.uses`` names, found before it;
* ``summarise(planes, roi, found, params, scale, region)``: their mask and metrics within a
  region (:class:`skinmetrics.stages.base.StageResult`); one that also takes ``fringe`` is
  given the hair's fringe (:func:`skinmetrics.roi.skin_and_fringe`), one that takes ``hair``
  the distance to hair (:func:`skinmetrics.stages.base.hair_distance`, None without hair).

:data:`STAGES` finds them: a new layer is a new module here and its section in a
pipeline's TOML file.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from types import ModuleType

__all__ = ["STAGES"]


def _stages() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        module = import_module(f"{__name__}.{info.name}")
        found[module.LAYER.name] = module
    return found


#: Stage name -> module, in name order.
STAGES: dict[str, ModuleType] = _stages()
